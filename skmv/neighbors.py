"""Nearest neighbours behind scikit-learn's interface, backed by FAISS:
:class:`FaissNeighbors`.

A database of a million embeddings is too large to scan for every query of
an interactive search: an exact scan of 10^6 rows of 256 dimensions is half a
gigaflop per query. FAISS (Douze et al. 2024) builds approximate indexes
(graphs, inverted lists, compressed codes) that answer in a fraction of that
time for a small loss of recall. :class:`FaissNeighbors` puts them behind the
interface of :class:`sklearn.neighbors.NearestNeighbors` and
:class:`sklearn.neighbors.KNeighborsTransformer`, so that a pipeline, a
:class:`~skmv.retrieval.CrossModalRetriever` (its ``neighbors`` parameter) or
any scikit-learn estimator that takes a precomputed neighbour graph can use
one.

FAISS is an optional dependency (``pip install 'skmv[ann]'``), imported only
when an index is built or loaded: this module imports without it.
"""

from __future__ import annotations

import re
import warnings
from numbers import Integral

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _backend as B

__all__ = ["FaissNeighbors"]

# Query rows per FAISS call where skmv feeds the index itself (kneighbors
# with X=None reconstructs the fitted rows): bounds the copy to 16,384 rows.
_BATCH = 16384


def _import_faiss():
    """The faiss module, or an ImportError that says how to install it."""
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "FaissNeighbors needs FAISS, which is not installed. Install skmv's "
            "extra for approximate neighbours: pip install 'skmv[ann]' (or "
            "pip install faiss-cpu)."
        ) from exc
    return faiss


def _faiss_message(exc):
    """The useful end of a FAISS error ("Error in <signature> at <file>: ...")."""
    text = str(exc).strip()
    for pattern in (r"failed: (.*)$", r"at \S+:\d+: (.*)$"):
        match = re.search(pattern, text, flags=re.DOTALL)
        if match:
            return match.group(1).strip()
    return text


def _min_train_rows(faiss, index):
    """Fewest training rows ``index`` accepts: one per inverted list (IVF),
    one per centroid of a product quantizer (PQ); 0 without training."""
    if index.is_trained:
        return 0
    need = 1
    ivf = faiss.try_extract_index_ivf(index)
    for part in (faiss.downcast_index(index), ivf):
        pq = getattr(part, "pq", None)
        if pq is not None:
            need = max(need, int(pq.ksub))
    if ivf is not None:
        need = max(need, int(ivf.nlist))
    return need


class FaissNeighbors(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Exact or approximate nearest neighbours with a FAISS index.

    The interface of :class:`sklearn.neighbors.NearestNeighbors`
    (:meth:`fit`, :meth:`kneighbors`, :meth:`kneighbors_graph`) and of
    :class:`sklearn.neighbors.KNeighborsTransformer` with
    ``mode="distance"`` (:meth:`transform` gives the sparse graph of
    distances to the ``n_neighbors + 1`` nearest fitted rows), over an index
    built by ``faiss.index_factory``: an exact scan (``"Flat"``), a graph
    (``"HNSW32"``), inverted lists (``"IVF4096,Flat"``), compressed codes
    (``"IVF4096,PQ32"``), and any other factory string.

    Parameters
    ----------
    n_neighbors : int, default=5
        Neighbours per query of :meth:`kneighbors` and
        :meth:`kneighbors_graph` by default; :meth:`transform` returns
        ``n_neighbors + 1`` (each fitted row being its own nearest, as in
        :class:`~sklearn.neighbors.KNeighborsTransformer`).
    metric : {"euclidean", "cosine"}, default="euclidean"
        ``"euclidean"``: an L2 index; FAISS's squared distances are returned
        as their square roots. ``"cosine"``: rows are scaled to unit length
        (zero rows stay zero) and compared by inner product in an
        inner-product index; the distance returned is ``1 - cos``.
    index_factory : str, default="Flat"
        A ``faiss.index_factory`` string. ``"Flat"`` is exact; ``"HNSW32"``
        (a graph of 32 links per node) and ``"IVF<nlist>,Flat"`` (``nlist``
        inverted lists) are approximate; ``",PQ<m>"`` codes (``m`` bytes per
        row; ``m`` must divide the number of features) also approximate the
        distances. Appending ``",RFlat"`` re-ranks the candidates by their
        exact distance (and stores the rows uncompressed).
    nprobe : int, default=1
        Inverted lists visited per query by an IVF index (FAISS's default is
        1): more is slower and finds more of the true neighbours. Ignored by
        indexes without inverted lists. Read at every search, so
        ``set_params(nprobe=...)`` needs no refit.
    ef_search : int, default=16
        Size of the candidate list of an HNSW search (FAISS's default is 16;
        at least ``n_neighbors`` is used): more is slower and finds more.
        Ignored by indexes without a graph; read at every search.
    n_train : int, default=262144
        Most rows an index that needs training (IVF, PQ) is trained on: a
        random sample of ``X`` of this size, all of it when it is smaller.
        FAISS advises 39 to 256 rows per inverted list; the default covers
        ``IVF4096`` at 64 per list.
    random_state : int, RandomState instance or None, default=None
        Draws the training sample when ``X`` has more than ``n_train`` rows.
        FAISS's own k-means seeds itself (a fixed seed), so a given sample
        gives the same index.

    Attributes
    ----------
    index_ : faiss.Index
        The trained index holding the fitted rows (and those of :meth:`add`).
        Pickled as ``faiss.serialize_index`` bytes (a NumPy ``uint8`` array).
    n_samples_fit_ : int
        Rows in the index: those of :meth:`fit` and of every :meth:`add`.
    effective_metric_ : str
        The metric distances are returned in (``metric``).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    sklearn.neighbors.NearestNeighbors : The exact interface, on any metric.
    sklearn.neighbors.KNeighborsTransformer : The same :meth:`transform`.
    skmv.retrieval.CrossModalRetriever : Takes one as ``neighbors``.

    Notes
    -----
    Computed in float32 (FAISS's only number type): distances are float32,
    indices int64. FAISS runs on OpenMP threads: ``OMP_NUM_THREADS`` or
    ``faiss.omp_set_num_threads`` sets how many.

    Approximate indexes may return fewer than ``n_neighbors`` rows for a
    query (an IVF search whose ``nprobe`` lists hold fewer rows): the missing
    ones are index -1 at distance ``inf``, with a warning, and are left out
    of the graphs. Codes (PQ, SQ) also make the distances approximate.
    ``kneighbors(X=None)`` queries with the fitted rows as the index gives
    them back (``reconstruct``): exactly for ``Flat``, ``HNSW`` and
    ``IVF...,Flat``, decoded for codes (an IVF index then keeps a map from
    row to list, 8 bytes a row); an index that cannot give them back asks
    for ``X``.

    Only NumPy input: FAISS's CPU indexes read host memory, and CuPy input is
    refused rather than copied to the host behind the caller's back. FAISS's
    GPU indexes (``faiss.index_cpu_to_gpu``, in ``faiss-gpu`` builds) could
    search CuPy arrays where they are; skmv does not use them yet (see the
    performance page).

    References
    ----------
    M. Douze, A. Guzhva, C. Deng, J. Johnson, G. Szilvasy, P.-E. Mazare,
    M. Lomeli, L. Hosseini, H. Jegou, "The Faiss library", arXiv:2401.08281,
    2024. Y. A. Malkov, D. A. Yashunin, "Efficient and robust approximate
    nearest neighbor search using Hierarchical Navigable Small World graphs",
    IEEE TPAMI 42(4), 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.neighbors import FaissNeighbors
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 16)).astype(np.float32)
    >>> nn = FaissNeighbors(n_neighbors=3, index_factory="HNSW32").fit(X)
    >>> distances, indices = nn.kneighbors(X[:2])
    >>> indices[:, 0]  # each row is its own nearest neighbour
    array([0, 1])
    >>> nn.kneighbors(n_neighbors=2)[1].shape  # X=None: each row but itself
    (1000, 2)
    >>> nn.transform(X[:5]).shape  # the sparse graph of KNeighborsTransformer
    (5, 1000)
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "index_factory": [str],
        "nprobe": [Interval(Integral, 1, None, closed="left")],
        "ef_search": [Interval(Integral, 1, None, closed="left")],
        "n_train": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_neighbors=5,
        *,
        metric="euclidean",
        index_factory="Flat",
        nprobe=1,
        ef_search=16,
        n_train=262144,
        random_state=None,
    ):
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.index_factory = index_factory
        self.nprobe = nprobe
        self.ef_search = ef_search
        self.n_train = n_train
        self.random_state = random_state

    # ------------------------------------------------------------------
    # Input
    # ------------------------------------------------------------------

    def _validate(self, X, *, reset):
        """``X`` as C-ordered float32 NumPy rows, ready for the index."""
        if not B.is_numpy_namespace(B.get_namespace(X)):
            raise TypeError(
                f"{type(self).__name__} takes NumPy arrays (FAISS's CPU indexes "
                f"read host memory); X is {B.describe(X)}. Convert it with "
                "skmv._backend.to_numpy(X) (for CuPy, X.get())."
            )
        X = validate_data(self, X, reset=reset, dtype=np.float32, order="C")
        return self._prepare(X)

    def _prepare(self, X):
        """Rows as the index stores them: unit rows for the cosine."""
        if self.metric != "cosine":
            return X
        norms = np.sqrt(np.einsum("ij,ij->i", X, X))
        return X / np.maximum(norms, np.finfo(np.float32).tiny)[:, None]

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build the index: train it (IVF, PQ) and add the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to search, indexed 0 to ``n_samples - 1``.
        y : None
            Ignored.

        Returns
        -------
        self : FaissNeighbors
            The fitted estimator.
        """
        faiss = _import_faiss()
        X = self._validate(X, reset=True)
        n_samples, n_features = X.shape
        metric = (
            faiss.METRIC_INNER_PRODUCT if self.metric == "cosine" else faiss.METRIC_L2
        )
        try:
            index = faiss.index_factory(n_features, self.index_factory, metric)
        except RuntimeError as exc:
            raise ValueError(
                f"index_factory={self.index_factory!r} does not make a FAISS "
                f"index for {n_features} features: {_faiss_message(exc)}"
            ) from exc
        need = _min_train_rows(faiss, index)
        if need:
            n_train = min(n_samples, self.n_train)
            if n_train < need:
                raise ValueError(
                    f"index_factory={self.index_factory!r} needs at least {need} "
                    f"training rows (one per inverted list or code centroid), "
                    f"got n_samples = {n_samples} with n_train={self.n_train}. "
                    "Fit on more rows, raise n_train, or choose a smaller index."
                )
            sample = X
            if n_samples > n_train:
                rng = check_random_state(self.random_state)
                rows = np.sort(rng.choice(n_samples, size=n_train, replace=False))
                sample = X[rows]
            try:
                index.train(sample)
            except RuntimeError as exc:
                raise ValueError(
                    f"index_factory={self.index_factory!r} could not be trained "
                    f"on {sample.shape[0]} rows (n_train={self.n_train}): "
                    f"{_faiss_message(exc)}"
                ) from exc
        index.add(X)
        self.index_ = index
        self.n_samples_fit_ = int(index.ntotal)
        self.effective_metric_ = self.metric
        self._n_features_out = self.n_samples_fit_
        return self

    def add(self, X):
        """Append the rows of ``X`` to the index, without retraining it.

        They get the indices ``n_samples_fit_`` onwards, in order. A trained
        index (IVF, PQ) keeps the centroids it learnt in :meth:`fit`, so rows
        from another distribution fill its lists unevenly.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows with the features seen in :meth:`fit`.

        Returns
        -------
        self : FaissNeighbors
            The estimator, with ``n_samples_fit_`` grown by ``n_samples``.
        """
        check_is_fitted(self, "index_")
        X = self._validate(X, reset=False)
        self.index_.add(X)
        self.n_samples_fit_ = int(self.index_.ntotal)
        self._n_features_out = self.n_samples_fit_
        return self

    # ------------------------------------------------------------------
    # Searching
    # ------------------------------------------------------------------

    def _set_search_parameters(self, faiss):
        """Apply ``nprobe`` and ``ef_search`` where the index has them."""
        space = faiss.ParameterSpace()
        for name, value in (("nprobe", self.nprobe), ("efSearch", self.ef_search)):
            try:
                space.set_index_parameter(self.index_, name, value)
            except RuntimeError:
                pass  # the index has no such parameter: documented as ignored

    def _search(self, Q, k):
        """FAISS's k nearest of the prepared rows ``Q``: (distances, indices)."""
        faiss = _import_faiss()
        self._set_search_parameters(faiss)
        S, ind = self.index_.search(Q, k)
        missing = ind < 0
        if self.metric == "cosine":
            dist = 1.0 - S
        else:
            dist = np.sqrt(np.maximum(S, 0.0, out=S), out=S)
        dist[missing] = np.inf
        if missing.any():
            warnings.warn(
                f"The index found fewer than {k} neighbours for "
                f"{int(missing.any(axis=1).sum())} of {Q.shape[0]} queries "
                "(index -1, distance inf): raise nprobe (IVF) or ef_search "
                "(HNSW).",
                UserWarning,
                stacklevel=3,
            )
        return dist.astype(np.float32, copy=False), ind.astype(np.intp, copy=False)

    def _fitted_rows(self, start, stop):
        """The fitted rows start:stop as the index gives them back."""
        faiss = _import_faiss()
        ivf = faiss.try_extract_index_ivf(self.index_)
        if ivf is not None and ivf.direct_map.type == faiss.DirectMap.NoMap:
            ivf.make_direct_map()
        try:
            return self.index_.reconstruct_n(start, stop - start)
        except RuntimeError as exc:
            raise ValueError(
                f"kneighbors(X=None) queries with the fitted rows, which "
                f"index_factory={self.index_factory!r} cannot give back "
                f"({_faiss_message(exc)}); pass them as X."
            ) from exc

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """The ``n_neighbors`` fitted rows nearest to each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features) or None, default=None
            The queries. None: each fitted row, which is then not counted as
            its own neighbour (as in scikit-learn).
        n_neighbors : int, default=None
            Neighbours per query; None uses ``n_neighbors``.
        return_distance : bool, default=True
            Return the distances too.

        Returns
        -------
        distances : ndarray of float32 of shape (n_queries, n_neighbors)
            Euclidean distances, or ``1 - cos``, ascending; only with
            ``return_distance=True``.
        indices : ndarray of int of shape (n_queries, n_neighbors)
            Rows of the index, nearest first.
        """
        check_is_fitted(self, "index_")
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        elif not isinstance(n_neighbors, Integral) or isinstance(n_neighbors, bool):
            raise TypeError(
                f"n_neighbors does not take {type(n_neighbors)} value, enter "
                "integer value"
            )
        elif n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        n_neighbors = int(n_neighbors)
        query_is_train = X is None
        n_fit = self.n_samples_fit_
        if query_is_train:
            n_queries = n_fit
            if n_neighbors >= n_fit:
                raise ValueError(
                    f"Expected n_neighbors < n_samples_fit, but n_neighbors = "
                    f"{n_neighbors}, n_samples_fit = {n_fit}, n_samples = {n_fit}"
                )
            k = n_neighbors + 1
            parts = [
                self._search(
                    self._prepare(self._fitted_rows(s, min(s + _BATCH, n_fit))), k
                )
                for s in range(0, n_fit, _BATCH)
            ]
            dist = np.concatenate([p[0] for p in parts])
            ind = np.concatenate([p[1] for p in parts])
            # scikit-learn's rule: drop each row itself; where it is not
            # among the k found (duplicates, or an approximate index that
            # missed it), drop the first column instead.
            mask = ind != np.arange(n_queries)[:, None]
            mask[:, 0][np.all(mask, axis=1)] = False
            ind = ind[mask].reshape(n_queries, n_neighbors)
            dist = dist[mask].reshape(n_queries, n_neighbors)
        else:
            Q = self._validate(X, reset=False)
            if n_neighbors > n_fit:
                raise ValueError(
                    f"Expected n_neighbors <= n_samples_fit, but n_neighbors = "
                    f"{n_neighbors}, n_samples_fit = {n_fit}, n_samples = "
                    f"{Q.shape[0]}"
                )
            dist, ind = self._search(Q, n_neighbors)
        return (dist, ind) if return_distance else ind

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Sparse graph of each query's ``n_neighbors`` nearest fitted rows.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features) or None, default=None
            The queries; None: each fitted row, not its own neighbour.
        n_neighbors : int, default=None
            Neighbours per query; None uses ``n_neighbors``.
        mode : {"connectivity", "distance"}, default="connectivity"
            Entries of 1 or the distances.

        Returns
        -------
        A : sparse matrix of shape (n_queries, n_samples_fit_)
            CSR, float32; ``A[i, j]`` is set when fitted row ``j`` is among
            query ``i``'s neighbours (rows an approximate index did not find
            are left out).
        """
        if mode not in ("connectivity", "distance"):
            raise ValueError(
                'Unsupported mode, must be one of "connectivity", or "distance" '
                f'but got "{mode}" instead'
            )
        dist, ind = self.kneighbors(X, n_neighbors, return_distance=True)
        found = ind >= 0
        data = dist[found] if mode == "distance" else np.ones(int(found.sum()))
        indptr = np.concatenate([[0], np.cumsum(found.sum(axis=1))])
        return csr_matrix(
            (data.astype(np.float32), ind[found], indptr),
            shape=(ind.shape[0], self.n_samples_fit_),
        )

    def transform(self, X):
        """Sparse graph of distances to the ``n_neighbors + 1`` nearest rows.

        As :class:`~sklearn.neighbors.KNeighborsTransformer` with
        ``mode="distance"``: a fitted row finds itself at distance 0 plus its
        ``n_neighbors`` neighbours, the graph that estimators taking
        ``metric="precomputed"`` expect.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            The queries.

        Returns
        -------
        Xt : sparse matrix of shape (n_queries, n_samples_fit_)
            CSR, float32 distances.
        """
        check_is_fitted(self, "index_")
        return self.kneighbors_graph(X, self.n_neighbors + 1, mode="distance")

    def fit_transform(self, X, y=None):
        """Fit on ``X``, then :meth:`transform` it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to index and query.
        y : None
            Ignored.

        Returns
        -------
        Xt : sparse matrix of shape (n_samples, n_samples)
            CSR, float32 distances; each row holds itself at 0 and its
            ``n_neighbors`` neighbours.
        """
        return self.fit(X).transform(X)

    # ------------------------------------------------------------------
    # Pickling, tags
    # ------------------------------------------------------------------

    def __getstate__(self):
        state = dict(super().__getstate__())
        if "index_" in state:
            # Plain bytes (uint8), which pickle and skops store as they are.
            state["index_"] = _import_faiss().serialize_index(state["index_"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        if isinstance(state.get("index_"), np.ndarray):
            state["index_"] = _import_faiss().deserialize_index(state["index_"])
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = [np.float32]
        return tags
