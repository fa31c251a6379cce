"""Baselines against which skmv's shared representations are measured.

:class:`CCA` is closed-form regularised canonical correlation analysis
(Hotelling 1936; regularised as in Hardoon, Szedmak and Shawe-Taylor 2004):
whiten each view, then one SVD of the whitened cross-covariance. Unlike
scikit-learn's iterative NIPALS ``CCA`` it costs two covariance products and
three small dense decompositions, whatever the number of components.

Notation: the two views are ``X`` (n x p) and ``Y`` (n x q), centred (and
scaled); ``Cxx``, ``Cyy`` and ``Cxy`` their covariances, ``r`` the ridge
``reg``; ``Wx = (Cxx + r I)^{-1/2}`` and ``Wy = (Cyy + r I)^{-1/2}`` the
whitening matrices; ``M = Wx Cxy Wy = U S V^T`` the SVD. The canonical
directions are ``A = Wx U`` (``x_rotations_``) and ``B = Wy V``
(``y_rotations_``), and the canonical correlations the singular values ``S``.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _backend as B
from .base import (
    DeviceMixin,
    _check_array_api,
    _numpy_dtypes,
    check_same_place,
    validate_array,
)
from .metrics import precision_at_n
from .retrieval import _check_n_neighbors, _kneighbors_blocks, _ranks_blocks
from .shared import (
    _column_indices,
    _compact,
    _is_passthrough,
    _ModalityComposition,
)

__all__ = ["CCA", "CCARetriever"]

# Eigenvalues of a (regularised) covariance below this fraction of the largest
# make it singular for whitening: its inverse square root would amplify
# rounding noise by more than 1e5.
_SINGULAR_RTOL = 1e-10


class CCA(
    DeviceMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Regularised canonical correlation analysis, in closed form.

    Finds directions ``a_i`` of one view and ``b_i`` of the other whose
    projections are maximally correlated, each pair uncorrelated with the
    previous ones. Computed exactly by whitening both views and taking one
    SVD, so it is deterministic and fast (NumPy or CuPy), where
    :class:`sklearn.cross_decomposition.CCA` iterates NIPALS per component.

    The two views are given in one of two forms:

    * **one X** (skmv's data model): ``modalities`` names two column blocks of
      ``X``, and ``fit(X)`` reads both; ``y`` is ignored;
    * **two views** (scikit-learn's form): ``modalities=None`` and
      ``fit(X, Y)``; the views are then named ``"x"`` and ``"y"``.

    Parameters
    ----------
    n_components : int, default=2
        Number of canonical pairs; at most ``min(p, q)`` (the views' widths)
        and, without regularisation, ``n_samples - 1``.

    modalities : list of two (str, columns) tuples, default=None
        The two views as column blocks of ``X``, e.g.
        ``[("video", slice(0, 200)), ("audio", slice(200, 500))]``. Columns
        are a slice, an array-like of int or a boolean mask, and the blocks
        must not overlap. None: the two-view form ``fit(X, Y)``.

    reg : float, default=0.0
        Ridge ``r`` added to the diagonal of each view's covariance (of the
        standardised data when ``scale=True``), as in Hardoon et al. (2004).
        ``reg=0`` is classical CCA and needs non-singular covariances
        (``n_samples > p`` and ``> q``, no collinear columns); ``reg > 0``
        makes any problem well-posed, including ``n_samples < p``, and
        shrinks the canonical correlations.

    scale : bool, default=True
        Scale each column to unit variance before the analysis, as
        scikit-learn's ``CCA`` does.

    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to compute: ``"auto"`` where ``X`` lives, ``"cpu"`` with
        NumPy, ``"cuda"`` with CuPy.

    dtype : {"float32", "float64"} or None, default="float32"
        Dtype of the fitted arrays and of the scores; None keeps float64
        input as float64. The covariances and decompositions are always
        computed in float64.

    copy : bool, default=True
        Kept for compatibility with scikit-learn's ``CCA``; the input is
        never modified in place either way.

    Attributes
    ----------
    x_rotations_ : array of shape (p, n_components)
        Canonical directions ``A`` of the first view, applied to the centred
        (and scaled) data. Scores have unit variance (``reg=0``).

    y_rotations_ : array of shape (q, n_components)
        Canonical directions ``B`` of the second view.

    canonical_correlations_ : array of shape (n_components,)
        The singular values ``S``, in decreasing order, in [0, 1]: the
        correlations of the training scores when ``reg=0``, and the
        regularised (smaller) ones when ``reg > 0``.

    x_mean_, y_mean_, x_std_, y_std_ : arrays of shape (p,) and (q,)
        Centring and scaling of each view (the std is 1 when ``scale=False``
        and for constant columns).

    modality_names_ : tuple of two str
        The views' names: those of ``modalities``, or ``("x", "y")``.

    n_features_in_ : int
        Columns of ``X`` seen in ``fit``.

    See Also
    --------
    sklearn.cross_decomposition.CCA : The iterative NIPALS version.
    skmv.SharedRBM : skmv's non-linear shared representation.

    Notes
    -----
    Signs are fixed so that the largest-magnitude entry of each column of
    ``x_rotations_`` is positive (as scikit-learn's ``svd_flip``), with
    ``y_rotations_`` flipped alongside, so results are deterministic.

    With ``reg=0``, a covariance whose smallest eigenvalue is below 1e-10
    times its largest raises a ``ValueError`` that suggests ``reg``: its
    inverse square root would mostly amplify rounding noise.

    References
    ----------
    H. Hotelling, "Relations between two sets of variates", Biometrika 28,
    321-377, 1936.

    D. R. Hardoon, S. Szedmak, J. Shawe-Taylor, "Canonical correlation
    analysis: an overview with application to learning methods", Neural
    Computation 16(12), 2639-2664, 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.baselines import CCA
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(500, 1))
    >>> X = np.hstack([z + 0.1 * rng.normal(size=(500, 3)),
    ...                -z + 0.1 * rng.normal(size=(500, 2))])
    >>> cca = CCA(1, modalities=[("video", slice(0, 3)), ("audio", slice(3, 5))])
    >>> cca.fit(X).canonical_correlations_.round(2)
    array([1.], dtype=float32)
    >>> cca.transform(X).shape  # [video scores | audio scores]
    (500, 2)
    >>> cca.transform_modality(X[:, 3:], "audio").shape
    (500, 1)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "modalities": [list, tuple, None],
        "reg": [Interval(Real, 0, None, closed="left")],
        "scale": ["boolean"],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "dtype": [StrOptions({"float32", "float64"}), None],
        "copy": ["boolean"],
    }

    def __init__(
        self,
        n_components=2,
        *,
        modalities=None,
        reg=0.0,
        scale=True,
        device="auto",
        dtype="float32",
        copy=True,
    ):
        self.n_components = n_components
        self.modalities = modalities
        self.reg = reg
        self.scale = scale
        self.device = device
        self.dtype = dtype
        self.copy = copy

    # ------------------------------------------------------------------
    # The two views
    # ------------------------------------------------------------------

    def _validate_modalities(self, n_features):
        """Resolve ``modalities`` against X's width: (names, columns)."""
        mods = self.modalities
        if len(mods) != 2:
            raise ValueError(
                "CCA needs exactly two modalities, (name, columns) tuples; got "
                f"{len(mods)}."
            )
        names, columns = [], []
        owner = np.full(n_features, -1)
        for i, item in enumerate(mods):
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise ValueError(
                    f"modalities[{i}] must be a (name, columns) tuple, got {item!r}."
                )
            name, cols = item
            if not isinstance(name, str):
                raise TypeError(
                    f"modalities[{i}]: a modality's name must be a str, got {name!r}."
                )
            idx = _column_indices(cols, n_features, name)
            if idx.size == 0:
                raise ValueError(
                    f"Modality {name!r} selects no column of X with {n_features} "
                    f"feature(s); CCA needs at least one column per modality."
                )
            if np.any(owner[idx] >= 0):
                raise ValueError(
                    f"Modalities {mods[0][0]!r} and {name!r} overlap; their "
                    "column blocks must be disjoint."
                )
            owner[idx] = i
            names.append(name)
            columns.append(_compact(idx))
        if names[0] == names[1]:
            raise ValueError(f"The two modalities share the name {names[0]!r}.")
        return tuple(names), columns

    def _view_index(self, modality):
        names = self.modality_names_
        if modality in (0, 1) and not isinstance(modality, bool):
            return int(modality)
        if modality in names:
            return names.index(modality)
        raise ValueError(f"Unknown modality {modality!r}; expected one of {names}.")

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the canonical directions of the two views.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Both views as column blocks (``modalities`` set) or the first
            view (``modalities=None``); NumPy, CuPy or any array-API array.
        y : array-like of shape (n_samples, q), default=None
            The second view when ``modalities=None`` (required then);
            ignored when ``modalities`` is set.

        Returns
        -------
        self : object
        """
        ctx = B.compute_context(X, self.device)
        X = validate_array(
            self, X, ctx, reset=True, dtype=self.dtype, ensure_min_samples=2
        )
        xp = ctx.xp
        if self.modalities is not None:
            if X.shape[1] < 2:
                raise ValueError(
                    f"CCA needs at least 2 features (one per modality), got X "
                    f"with {X.shape[1]} feature(s)."
                )
            names, columns = self._validate_modalities(X.shape[1])
            Xa = B.take(X, columns[0], xp, axis=1)
            Xb = B.take(X, columns[1], xp, axis=1)
        else:
            if y is None:
                raise ValueError(
                    "CCA needs two views: set modalities=[(name, columns), "
                    "(name, columns)] to read both from X, or call fit(X, Y)."
                )
            names, columns = ("x", "y"), None
            Xa, Xb = X, self._validate_y(y, ctx)
            if Xb.shape[0] != Xa.shape[0]:
                raise ValueError(
                    f"X and Y have different numbers of samples: {Xa.shape[0]} "
                    f"and {Xb.shape[0]}."
                )
        n = Xa.shape[0]
        p, q = Xa.shape[1], Xb.shape[1]
        k = self.n_components
        bound = min(p, q) if self.reg > 0 else min(p, q, n - 1)
        if k > bound:
            raise ValueError(
                f"n_components={k} must be at most min(p, q"
                f"{'' if self.reg > 0 else ', n_samples - 1'}) = {bound} "
                f"(p={p}, q={q}, n_samples={n})."
            )

        f64, out_dtype = xp.float64, Xa.dtype
        # Centre and scale each view in float64 (scikit-learn's CCA does the
        # same, with the sample std and 1 for constant columns).
        Xa, mean_a, std_a = _center_scale(xp.astype(Xa, f64), self.scale, xp)
        Xb, mean_b, std_b = _center_scale(xp.astype(Xb, f64), self.scale, xp)
        # Covariances Cxx, Cyy, Cxy (unbiased; the scale cancels in S).
        Cxx = B.matmul(Xa.T, Xa, xp) / (n - 1)
        Cyy = B.matmul(Xb.T, Xb, xp) / (n - 1)
        Cxy = B.matmul(Xa.T, Xb, xp) / (n - 1)
        # Whitening Wx = (Cxx + r I)^{-1/2}, Wy = (Cyy + r I)^{-1/2}.
        Wx = self._inv_sqrt(Cxx, names[0], n, xp)
        Wy = self._inv_sqrt(Cyy, names[1], n, xp)
        # M = Wx Cxy Wy = U S V^T: the whitened cross-covariance.
        U, S, Vt = xp.linalg.svd(
            B.matmul(B.matmul(Wx, Cxy, xp), Wy, xp), full_matrices=False
        )
        A = B.matmul(Wx, U[:, :k], xp)  # x rotations
        Bm = B.matmul(Wy, Vt[:k, :].T, xp)  # y rotations
        A, Bm = _flip_signs(A, Bm, xp)

        def cast(a):
            return xp.astype(a, out_dtype)

        self.x_rotations_, self.y_rotations_ = cast(A), cast(Bm)
        self.canonical_correlations_ = cast(xp.clip(S[:k], 0.0, 1.0))
        self.x_mean_, self.y_mean_ = cast(mean_a), cast(mean_b)
        self.x_std_, self.y_std_ = cast(std_a), cast(std_b)
        self.modality_names_ = names
        self._columns = columns
        return self

    def _validate_y(self, y, ctx):
        if B.is_numpy_namespace(B.get_namespace(y)):
            Y = check_array(
                y,
                dtype=_numpy_dtypes(self.dtype),
                ensure_2d=False,
                input_name="Y",
            )
            if Y.ndim == 1:
                Y = Y.reshape(-1, 1)
            if self.dtype is None and Y.dtype not in (np.float32, np.float64):
                Y = Y.astype(np.float32)
            return ctx.put(Y)
        xp = B.get_namespace(y)
        if y.ndim == 1:
            y = xp.reshape(y, (-1, 1))
        return ctx.put(_check_array_api(self, y, self.dtype, True, 1, "Y"))

    def _inv_sqrt(self, C, name, n, xp):
        """(C + r I)^{-1/2} through the eigendecomposition C + r I = V diag(w) V^T."""
        if self.reg > 0:
            C = C + self.reg * xp.eye(C.shape[0], dtype=C.dtype, device=B.device_of(C))
        w, V = xp.linalg.eigh(C)
        w_max = max(B.scalar(w[-1]), 0.0)
        if B.scalar(w[0]) <= _SINGULAR_RTOL * w_max or w_max == 0.0:
            raise ValueError(
                f"The covariance of modality {name!r} is singular (rank deficient "
                f"with {C.shape[0]} feature(s) and {n} sample(s), or collinear or "
                "constant columns); set reg > 0 (e.g. reg=1e-3) to regularise it."
            )
        return B.matmul(V / xp.sqrt(w), V.T, xp)

    # ------------------------------------------------------------------
    # Projections
    # ------------------------------------------------------------------

    def _project(self, Xv, i, xp, ctx):
        """Canonical scores of view ``i`` from its (validated) columns.

        Computed in float64 and cast back: in float32 the GEMM's blocking
        would make a row's scores depend on the other rows of the batch.
        """
        mean, std, R = (
            (self.x_mean_, self.x_std_, self.x_rotations_)
            if i == 0
            else (self.y_mean_, self.y_std_, self.y_rotations_)
        )
        f64 = xp.float64
        mean, std, R = (xp.astype(ctx.put(a), f64) for a in (mean, std, R))
        scores = B.matmul((xp.astype(Xv, f64) - mean) / std, R, xp)
        return xp.astype(scores, Xv.dtype)

    def transform(self, X, y=None):
        """Canonical scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            As in ``fit``: both blocks (``modalities`` set) or the first view.
        y : array-like of shape (n_samples, q), default=None
            The second view, in the two-view form only.

        Returns
        -------
        scores : array of shape (n_samples, 2 * n_components) or (n_samples, k)
            With ``k = n_components``. One X: ``[first modality's scores |
            second's]``. Two views: the first view's scores, or
            ``(x_scores, y_scores)`` when ``y`` is given, as scikit-learn's
            ``CCA``.
        """
        check_is_fitted(self)
        ctx = B.compute_context(X, self.device)
        X = validate_array(self, X, ctx, reset=False, dtype=self.dtype)
        check_same_place(self, X, ctx, attribute="x_rotations_", method="transform")
        xp = ctx.xp
        if self._columns is not None:
            scores = [
                self._project(B.take(X, cols, xp, axis=1), i, xp, ctx)
                for i, cols in enumerate(self._columns)
            ]
            return ctx.give(xp.concat(scores, axis=1))
        x_scores = ctx.give(self._project(X, 0, xp, ctx))
        if y is None:
            return x_scores
        Y = self._validate_y(y, ctx)
        self._check_width(Y, 1)
        return x_scores, ctx.give(self._project(Y, 1, xp, ctx))

    def transform_modality(self, X, modality):
        """Canonical scores of one view from its columns alone.

        What a cross-modal retriever needs: project queries of one modality
        and targets of the other into the shared canonical space separately.

        Parameters
        ----------
        X : array-like of shape (n_samples, p) or (n_samples, q)
            The columns of one view only.
        modality : str or {0, 1}
            The view's name (in ``modality_names_``) or position.

        Returns
        -------
        scores : array of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        i = self._view_index(modality)
        ctx = B.compute_context(X, self.device)
        if B.is_numpy_namespace(ctx.input_xp):
            Xv = check_array(X, dtype=_numpy_dtypes(self.dtype), input_name="X")
            if self.dtype is None and Xv.dtype not in (np.float32, np.float64):
                Xv = Xv.astype(np.float32)
            Xv = ctx.put(Xv)
        else:
            Xv = ctx.put(_check_array_api(self, X, self.dtype, True, 1, "X"))
        check_same_place(
            self, Xv, ctx, attribute="x_rotations_", method="transform_modality"
        )
        self._check_width(Xv, i)
        return ctx.give(self._project(Xv, i, ctx.xp, ctx))

    def _check_width(self, Xv, i):
        width = (self.x_rotations_ if i == 0 else self.y_rotations_).shape[0]
        if Xv.shape[1] != width:
            raise ValueError(
                f"Modality {self.modality_names_[i]!r} has {width} feature(s), "
                f"got an array with {Xv.shape[1]}."
            )

    @property
    def _n_features_out(self):
        k = self.x_rotations_.shape[1]
        return 2 * k if self._columns is not None else k

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        tags.transformer_tags.preserves_dtype = (
            ["float64", "float32"] if self.dtype is None else [self.dtype]
        )
        return tags


def _center_scale(X, scale, xp):
    """(X - mean) / std per column; std 1 for constant columns or scale=False."""
    mean = xp.mean(X, axis=0)
    X = X - mean
    if scale:
        std = xp.std(X, axis=0, correction=1)
        std = xp.where(std == 0.0, xp.ones_like(std), std)
        X = X / std
    else:
        std = xp.ones_like(mean)
    return X, mean, std


def _flip_signs(A, Bm, xp):
    """Make the largest-|.| entry of each column of A positive; flip B alike."""
    A_host = B.to_numpy(A)
    rows = np.argmax(np.abs(A_host), axis=0)
    signs = np.sign(A_host[rows, np.arange(A_host.shape[1])])
    signs[signs == 0] = 1.0
    signs = B.to_namespace(signs, xp, B.device_of(A))
    return A * signs, Bm * signs


class CCARetriever(_ModalityComposition):
    """Cross-modal retrieval in the canonical space of a :class:`CCA`.

    The baseline of Xu, Wang and Tang (2014), section 4: each modality is
    encoded on its own (by an encoder fitted on its block, or not at all), a
    :class:`CCA` is fitted on the two encodings, and a query of one modality
    ranks database items of the other by the distance between their
    canonical projections. With encoders (e.g. a
    :class:`~skmv.dbn.DBNTransformer` per modality) it is the paper's "CCA of
    deep representations"; with ``"passthrough"`` it is "CCA of initial
    features".

    The interface is :class:`~skmv.retrieval.CrossModalRetriever`'s:
    ``fit(X)`` fits on the paired rows of ``X`` and indexes their ``target``
    blocks; :meth:`kneighbors` ranks the database for each row's ``query``
    block; :meth:`score` is the precision at ``n_neighbors`` of ``X``'s pairs
    among ``X``.

    Parameters
    ----------
    query : str
        Name of the modality of the queries.
    target : str
        Name of the modality retrieved; not ``query``.
    modalities : list of (str, encoder or "passthrough", columns) tuples
        The modalities as :class:`~skmv.shared.SharedRBM` declares them.
        Only ``query`` and ``target`` are used; their encoders are cloned and
        fitted on their blocks. Encoders are tunable as ``name__param``.
    n_components : int, default=10
        Canonical pairs kept; at most the narrower encoding's width.
    reg : float, default=1e-3
        Ridge of the :class:`CCA`.
    n_neighbors : int, default=10
        Items returned by :meth:`kneighbors` by default, and the ``N`` of
        the precision at ``N`` that :meth:`score` returns.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between canonical projections.
    chunk_size : int, default=4096
        Rows per block of queries and of database items.

    Attributes
    ----------
    modalities_ : list of (str, encoder or "passthrough", columns) tuples
        The modalities, with the query's and target's encoders fitted.
    cca_ : CCA
        The fitted CCA; view 0 is the query's encoding, view 1 the target's.
    database_ : ndarray of shape (n_database, n_components)
        Canonical projections of the indexed target encodings.
    n_database_ : int
        Number of indexed items.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    skmv.retrieval.CrossModalRetriever : Retrieval with a shared RBM.
    CCA : The closed-form CCA used here.

    Notes
    -----
    :meth:`kneighbors` reads only the ``query`` columns of its ``X``; the
    other columns may hold anything, NaN included. Ties follow
    :class:`~skmv.retrieval.CrossModalRetriever`.

    Examples
    --------
    >>> from skmv.baselines import CCARetriever
    >>> from skmv.datasets import make_paired_modalities
    >>> X, _ = make_paired_modalities(1100, noise=0.3, random_state=0)
    >>> retriever = CCARetriever(
    ...     "music", "video", n_components=10,
    ...     modalities=[("music", "passthrough", slice(0, 40)),
    ...                 ("video", "passthrough", slice(40, 70))])
    >>> retriever = retriever.fit(X[:1000])
    >>> retriever.kneighbors(X[1000:], n_neighbors=3)[1].shape
    (100, 3)
    """

    _parameter_constraints: dict = {
        "query": [str],
        "target": [str],
        "modalities": [list, tuple],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "reg": [Interval(Real, 0, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        query,
        target,
        *,
        modalities,
        n_components=10,
        reg=1e-3,
        n_neighbors=10,
        metric="euclidean",
        chunk_size=4096,
    ):
        self.query = query
        self.target = target
        self.modalities = modalities
        self.n_components = n_components
        self.reg = reg
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.chunk_size = chunk_size

    # ------------------------------------------------------------------
    # Fitting and indexing
    # ------------------------------------------------------------------

    def _check_names(self):
        names = [item[0] for item in self.modalities]
        for role in ("query", "target"):
            name = getattr(self, role)
            if name not in names:
                raise ValueError(
                    f"Unknown {role} modality {name!r}; the modalities are {names}."
                )
        if self.query == self.target:
            raise ValueError(
                f"query and target are both {self.query!r}; a cross-modal "
                "retriever needs two different modalities."
            )

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the encoders and the CCA on the pairs of ``X``; index them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Paired segments, one modality block per group of columns.
        y : None
            Ignored.

        Returns
        -------
        self : CCARetriever
            The fitted retriever.
        """
        self._validate_modalities()
        self._check_names()
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite=False)
        self._columns = dict(
            zip((m[0] for m in self.modalities), self._resolve_columns(X))
        )
        fitted = []
        for name, encoder, columns in self.modalities:
            if name in (self.query, self.target) and not _is_passthrough(encoder):
                encoder = clone(encoder)
            fitted.append((name, encoder, columns))
        self.modalities_ = fitted
        Hq = self._encode(X, self.query, fit=True)
        Ht = self._encode(X, self.target, fit=True)
        self.cca_ = CCA(self.n_components, reg=self.reg, dtype="float64").fit(Hq, Ht)
        self.database_ = self.cca_.transform_modality(Ht, 1)
        self.n_database_ = int(self.database_.shape[0])
        return self

    def index(self, X):
        """Make the target blocks of ``X`` the database (nothing is refitted).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Only the ``target`` columns are read.

        Returns
        -------
        self : CCARetriever
            The retriever, with a new ``database_``.
        """
        check_is_fitted(self, "cca_")
        X = self._validate(X)
        self.database_ = self._project(X, self.target)
        self.n_database_ = int(self.database_.shape[0])
        return self

    def _validate(self, X):
        return validate_data(
            self, X, reset=False, dtype=np.float64, ensure_all_finite=False
        )

    def _encode(self, X, name, *, fit=False):
        """Encoding of modality ``name``'s block of (validated) ``X``."""
        block = X[:, self._columns[name]]
        if not np.all(np.isfinite(block)):
            row = int(np.flatnonzero(~np.all(np.isfinite(block), axis=1))[0])
            raise ValueError(
                f"Input X contains NaN or infinity in the columns of modality "
                f"{name!r} (first in row {row}); {type(self).__name__} needs "
                "finite values in the modalities it reads."
            )
        encoder = next(enc for n, enc, _ in self.modalities_ if n == name)
        if _is_passthrough(encoder):
            return block
        if fit and hasattr(encoder, "fit_transform"):
            H = encoder.fit_transform(block)
        else:
            if fit:
                encoder.fit(block)
            H = encoder.transform(block)
        H = np.asarray(B.to_numpy(H), dtype=np.float64)
        if H.ndim != 2 or H.shape[0] != block.shape[0]:
            raise ValueError(
                f"The encoder of modality {name!r} must return a 2-D array with "
                f"one row per sample ({block.shape[0]}), got shape {H.shape}."
            )
        return H

    def _project(self, X, name):
        view = 0 if name == self.query else 1
        return self.cca_.transform_modality(self._encode(X, name), view)

    def embed_queries(self, X):
        """Canonical projections of each row's query block.

        What :meth:`kneighbors` compares with the database; used by
        :class:`~skmv.retrieval.ClipRetriever` to compare many segments at
        once.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Only the ``query`` columns are read; the others may hold NaN.

        Returns
        -------
        Q : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self, "cca_")
        return self._project(self._validate(X), self.query)

    def embed_database(self, X):
        """Canonical projections of each row's target block (as ``database_``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Only the ``target`` columns are read; the others may hold NaN.

        Returns
        -------
        D : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self, "cca_")
        return self._project(self._validate(X), self.target)

    # ------------------------------------------------------------------
    # Retrieval
    # ------------------------------------------------------------------

    def kneighbors(self, X, n_neighbors=None, return_distance=True):
        """Database items nearest to each row's query block.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Only the ``query`` columns are read; the others may hold NaN.
        n_neighbors : int, default=None
            Items per query; None uses ``n_neighbors``. At most
            ``n_database_``.
        return_distance : bool, default=True
            Return the distances too.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            Sorted ascending; only with ``return_distance=True``.
        indices : ndarray of int of shape (n_queries, n_neighbors)
            Database rows, nearest first.
        """
        check_is_fitted(self, "database_")
        k = _check_n_neighbors(n_neighbors, self.n_neighbors, self.n_database_)
        Q = self._project(self._validate(X), self.query)
        dist, ind = _kneighbors_blocks(
            Q, self.database_, k, self.metric, self.chunk_size, np
        )
        return (dist, ind) if return_distance else ind

    def retrieval_ranks(self, X):
        """Rank of each row's own target among the target blocks of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Paired segments; the ``query`` and ``target`` columns are read.

        Returns
        -------
        ranks : ndarray of int of shape (n_samples,)
            0-based, pessimistic for ties, as
            :func:`skmv.metrics.retrieval_ranks` returns them.
        """
        check_is_fitted(self, "cca_")
        X = self._validate(X)
        D = self._project(X, self.target)
        Q = self._project(X, self.query)
        return _ranks_blocks(Q, D, self.metric, self.chunk_size, np)

    def score(self, X, y=None):
        """Precision at ``n_neighbors`` of the pairs of ``X``, among ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Paired segments.
        y : None
            Ignored.

        Returns
        -------
        score : float
            The precision at ``n_neighbors``, in [0, 1].
        """
        return precision_at_n(self.retrieval_ranks(X), self.n_neighbors)
