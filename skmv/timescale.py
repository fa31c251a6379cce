"""Several timescales of one music video: :func:`make_windows` and
:class:`TimescaleConcatenator`.

Xu, Wang and Tang (2014), section 3.3. Deep and shared representations are
computed once per base-1 segment (6 s). ``n_segments`` consecutive segments
of one clip (10, a 60-second window, in the paper) make a window; inside a
window, ``k`` adjacent segments are concatenated into one base-``k`` segment
(``k = 1, 2, 5, 10``: 6, 12, 30 and 60 seconds), and each scale gets its own
shared RBM and classifier.

Two kinds of rows flow through these functions (DESIGN.md, section 1):

* a segment row is one 6-second piece, columns ``[video | audio]``, ``d`` of
  them;
* a window row is ``n_segments`` segment rows of one clip side by side,
  segment-major: ``[seg 1 | seg 2 | ... | seg n_segments]``, ``n_segments *
  d`` columns.

Time is counted in segments throughout: ``n_segments`` and ``scale`` are
numbers of segments, never seconds.
"""

from __future__ import annotations

import time
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, check_cv
from sklearn.neural_network import MLPClassifier
from sklearn.utils import Bunch, check_array, check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from . import _backend as B
from .base import DeviceMixin, check_same_place, validate_array
from .shared import SharedRBM, _is_passthrough

__all__ = ["MultiTimescaleFusionClassifier", "TimescaleConcatenator", "make_windows"]


# --------------------------------------------------------------------------
# Segment rows -> window rows
# --------------------------------------------------------------------------


@validate_params(
    {
        "X": ["array-like"],
        "groups": ["array-like"],
        "n_segments": [Interval(Integral, 1, None, closed="left")],
        "drop_last": ["boolean"],
        "return_index": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_windows(X, groups, n_segments=10, *, drop_last=True, return_index=False):
    """Group the segment rows of each clip into windows of ``n_segments``.

    The rows of one clip must be in time order; the clips themselves may be
    interleaved in ``X``. Each clip is cut into consecutive windows of
    ``n_segments`` segments (the paper's 60-second windows of ten 6-second
    segments, section 3.3); a window never mixes two clips.

    Parameters
    ----------
    X : array-like of shape (n_segment_rows, d)
        Segment rows, in time order within each clip.
    groups : array-like of shape (n_segment_rows,)
        The clip of each row (ints, strings, any hashable and sortable
        value). Clips come out in the order of their first row in ``X``.
    n_segments : int, default=10
        Segments per window, in segments (10 segments of 6 s = 60 s).
    drop_last : bool, default=True
        Drop the trailing segments of a clip that do not fill a whole window.
        With False, a clip whose length is not a multiple of ``n_segments``
        is an error (padding would invent data).
    return_index : bool, default=False
        Also return the rows of ``X`` that make each window.

    Returns
    -------
    X_windows : ndarray of shape (n_windows, n_segments * d)
        Window rows, segment-major: ``[seg 1 | seg 2 | ... ]``. Same namespace
        and dtype as ``X``.
    window_groups : ndarray of shape (n_windows,)
        The clip of each window.
    index : ndarray of shape (n_windows, n_segments)
        Only with ``return_index=True``: ``index[w, s]`` is the row of ``X``
        that is segment ``s`` of window ``w``.

    Raises
    ------
    ValueError
        If ``groups`` does not have one entry per row of ``X``, or, with
        ``drop_last=False``, if a clip does not fill whole windows.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.timescale import make_windows
    >>> X = np.arange(7).reshape(-1, 1)  # one column per segment row
    >>> groups = ["a", "b", "a", "b", "a", "b", "a"]
    >>> Xw, gw = make_windows(X, groups, n_segments=2)
    >>> Xw
    array([[0, 2],
           [4, 6],
           [1, 3]])
    >>> gw
    array(['a', 'a', 'b'], dtype='<U1')
    """
    xp = B.get_namespace(X)
    if not B.is_numpy_namespace(xp):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, got {X.ndim} dimension(s).")
    else:
        X = check_array(X, dtype=None, ensure_all_finite=False, ensure_min_samples=0)
    groups = np.asarray(B.to_numpy(groups))
    if groups.ndim != 1:
        raise ValueError(f"groups must be 1-D, got shape {groups.shape}.")
    n_rows, d = X.shape
    if groups.shape[0] != n_rows:
        raise ValueError(
            f"groups has {groups.shape[0]} entries but X has {n_rows} rows; "
            "give the clip of every segment row."
        )

    # Number the clips in order of first appearance: np.unique sorts its
    # values, return_index says where each first appears.
    try:
        uniques, first, inverse = np.unique(
            groups, return_index=True, return_inverse=True
        )
    except TypeError as exc:
        raise ValueError(
            "groups must hold values of one sortable type (ints or strings)."
        ) from exc
    rank = np.empty(len(uniques), dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniques))
    clip = rank[inverse.reshape(-1)]
    # A stable sort by clip keeps each clip's rows in time order and puts
    # them together; each row's position within its clip follows.
    order = np.argsort(clip, kind="stable")
    clip_sorted = clip[order]
    counts = np.bincount(clip, minlength=len(uniques))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.arange(n_rows) - starts[clip_sorted]
    n_full = counts // n_segments
    if not drop_last and np.any(counts % n_segments):
        bad = np.flatnonzero(counts % n_segments)[0]
        raise ValueError(
            f"Clip {uniques[np.argsort(first, kind='stable')].tolist()[bad]!r} has "
            f"{counts[bad]} segments, not a multiple of n_segments="
            f"{n_segments}; use drop_last=True to drop its trailing segments."
        )
    keep = position < n_full[clip_sorted] * n_segments
    index = order[keep].reshape(-1, n_segments)

    # One gather and one C-order reshape (no copy beyond the gather): window
    # w is rows index[w] side by side, segment-major.
    X_windows = B.take(X, index.reshape(-1), xp, axis=0)
    X_windows = xp.reshape(X_windows, (index.shape[0], n_segments * d))
    window_groups = groups[index[:, 0]]
    if return_index:
        return X_windows, window_groups, index
    return X_windows, window_groups


# --------------------------------------------------------------------------
# Window rows -> base-k rows
# --------------------------------------------------------------------------


def _resolve_blocks(modalities, d, *, with_encoder=False):
    """(name, encoder or None, column indices of a segment row) per modality.

    Takes ``(name, columns)`` and ``(name, encoder, columns)`` tuples; with
    ``with_encoder=True`` only the latter.
    """
    resolved, names = [], set()
    for item in modalities:
        sizes = (3,) if with_encoder else (2, 3)
        if not (isinstance(item, tuple | list) and len(item) in sizes):
            form = "(name, encoder, columns)" if with_encoder else "(name, columns)"
            raise ValueError(
                f"modalities must be a list of {form} tuples; got {item!r}."
            )
        name, encoder, columns = item[0], item[1] if len(item) == 3 else None, item[-1]
        if not isinstance(name, str) or name in names:
            raise ValueError(
                f"Modality names must be unique strings; got {name!r} again "
                "or a non-string."
            )
        names.add(name)
        if not isinstance(columns, slice):
            columns = np.asarray(columns)
            if columns.size == 0:
                raise ValueError(
                    f"Modality {name!r} selects no columns of a segment row of "
                    f"{d} feature(s)."
                )
        try:
            cols = np.arange(d)[columns]
        except IndexError as exc:
            raise ValueError(
                f"Modality {name!r} selects columns {columns!r} that are not "
                f"columns of a segment row of {d} columns (n_features_in_ / "
                "n_segments): give a slice, int indices or a boolean mask."
            ) from exc
        cols = np.atleast_1d(cols)
        if cols.size == 0:
            raise ValueError(
                f"Modality {name!r} selects no columns of a segment row of "
                f"{d} feature(s)."
            )
        resolved.append((name, encoder, cols.astype(np.intp)))
    if not resolved:
        raise ValueError("modalities is empty: declare at least one block.")
    every = np.concatenate([cols for _, _, cols in resolved])
    if np.unique(every).size != every.size:
        raise ValueError("Modalities must not overlap (or repeat a column).")
    return resolved


class TimescaleConcatenator(DeviceMixin, TransformerMixin, BaseEstimator):
    """Cut window rows into base-``scale`` rows, regrouped by modality.

    A window row holds ``n_segments`` segment rows side by side. This
    transformer cuts it into ``n_segments / scale`` rows, each the
    concatenation of ``scale`` adjacent segments: the paper's base-k
    segments (Xu, Wang and Tang 2014, section 3.3; ``k = scale``, with
    ``k = 1, 2, 5, 10`` of a 60-second window of ten 6-second segments).
    Within an output row the columns are regrouped by modality,
    ``[video of seg 1..k | audio of seg 1..k]``, so that a
    :class:`~skmv.shared.SharedRBM` on top sees one block per modality
    (:meth:`get_output_modalities` gives the blocks).

    ``transform`` returns the rows alone; ``fit_resample(X, y)`` also returns
    their labels, each window's label repeated for its rows, as
    imbalanced-learn's samplers do, and records the window of each row in
    ``window_index_``.

    Parameters
    ----------
    scale : int, default=1
        Segments per output row, ``k``. Must divide ``n_segments``.
    n_segments : int, default=10
        Segments per input window row. ``X`` must have ``n_segments * d``
        columns, ``d`` the width of a segment row.
    modalities : list of (str, columns) tuples or None, default=None
        Column blocks of a segment row (not of a window row), in output
        order, e.g. ``[("video", slice(0, dv)), ("audio", slice(dv, d))]``.
        ``columns`` is a slice, an array-like of int or a boolean mask of
        length ``d``. Names are unique; blocks must not overlap and not be
        empty; columns no block selects are dropped. None is one block named
        ``"x"`` holding every column. The ``(name, encoder, columns)`` tuples
        of :class:`~skmv.shared.SharedRBM` are accepted as well (the encoders
        are ignored).
    dtype : {"float32", "float64"} or None, default="float32"
        Floating type of the output; None keeps float input's.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during fit (``n_segments * d``).
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.
    n_features_segment_ : int
        Width ``d`` of a segment row.
    modalities_ : list of (str, ndarray of int)
        The blocks of ``modalities`` resolved to column indices of a
        segment row.
    column_index_ : array of int of shape (n_output,)
        Column of a base-``scale`` slice of a window row (``scale * d``
        columns) that each output column takes, in the input's namespace.
    window_index_ : ndarray of shape (n_output_rows,)
        Set by :meth:`fit_resample`: the window (input row) of each output
        row.

    See Also
    --------
    make_windows : Segment rows -> the window rows this transformer takes.
    skmv.shared.SharedRBM : Declares the same modalities with encoders.

    Notes
    -----
    With ``scale == n_segments`` an output row is the whole window,
    regrouped; with ``scale == 1`` the output rows are the segment rows again
    (restricted to, and ordered by, the modalities). The regrouping is one
    reshape and one column gather, so it runs in the input's array
    namespace (NumPy, CuPy, ...).

    ``TimescaleConcatenator`` has both ``transform`` and ``fit_resample``;
    imbalanced-learn's ``Pipeline`` accepts steps with only one of them, so
    use scikit-learn's ``Pipeline`` (rows) or call ``fit_resample`` directly
    (rows and labels).

    References
    ----------
    B. Xu, X. Wang, X. Tang, "Fusing music and video modalities using
    multi-timescale shared representations", ACM Multimedia 2014.

    Examples
    --------
    Two windows of 4 segments, each segment ``[v, a]``; base-2 rows hold
    ``[v of 2 segments | a of 2 segments]``:

    >>> import numpy as np
    >>> from skmv.timescale import TimescaleConcatenator
    >>> X = np.arange(16).reshape(2, 8)
    >>> tc = TimescaleConcatenator(
    ...     2, n_segments=4, modalities=[("v", [0]), ("a", [1])], dtype=None
    ... )
    >>> tc.fit_transform(X)
    array([[ 0.,  2.,  1.,  3.],
           [ 4.,  6.,  5.,  7.],
           [ 8., 10.,  9., 11.],
           [12., 14., 13., 15.]]...)
    >>> tc.get_output_modalities()
    [('v', slice(0, 2, None)), ('a', slice(2, 4, None))]
    >>> Xr, yr = tc.fit_resample(X, [0, 1])
    >>> yr, tc.window_index_
    (array([0, 0, 1, 1]), array([0, 0, 1, 1]))
    """

    _parameter_constraints: dict = {
        "scale": [Interval(Integral, 1, None, closed="left")],
        "n_segments": [Interval(Integral, 1, None, closed="left")],
        "modalities": [list, tuple, None],
        "dtype": [StrOptions({"float32", "float64"}), None],
    }

    def __init__(self, scale=1, *, n_segments=10, modalities=None, dtype="float32"):
        self.scale = scale
        self.n_segments = n_segments
        self.modalities = modalities
        self.dtype = dtype

    # ------------------------------------------------------------------

    def _check_scale(self):
        if self.n_segments % self.scale:
            raise ValueError(
                f"scale={self.scale} does not divide n_segments="
                f"{self.n_segments}: a window of {self.n_segments} segments "
                f"cannot be cut into base-{self.scale} rows."
            )

    def _resolve_modalities(self, d):
        """(name, column indices of a segment row) per modality."""
        if self.modalities is None:
            return [("x", np.arange(d))]
        return [(name, cols) for name, _, cols in _resolve_blocks(self.modalities, d)]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X`` and the modalities against the width of a window row.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_segments * d)
            Window rows (see :func:`make_windows`).
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self._check_scale()
        ctx = B.compute_context(X, "auto")
        X = validate_array(
            self, X, ctx, reset=True, dtype=self.dtype, ensure_all_finite=False
        )
        n_features = X.shape[1]
        if n_features % self.n_segments:
            raise ValueError(
                f"X has n_features={n_features} columns, not a multiple of n_segments="
                f"{self.n_segments}: a window row is n_segments segment rows "
                "side by side."
            )
        d = n_features // self.n_segments
        self.n_features_segment_ = d
        self.modalities_ = self._resolve_modalities(d)
        # Column j of an output row (reshaped to scale segments of d) comes
        # from segment s, column c: offset s * d + c, block by block.
        k = self.scale
        columns = np.concatenate(
            [
                (np.arange(k)[:, None] * d + cols[None, :]).ravel()
                for _, cols in self.modalities_
            ]
        )
        # Kept where X lives, so that transform gathers without a transfer
        # and, as every skmv estimator, refuses input from elsewhere.
        self.column_index_ = ctx.put(columns)
        self._identity = np.array_equal(columns, np.arange(k * d))
        return self

    def transform(self, X):
        """Cut window rows into base-``scale`` rows, regrouped by modality.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_segments * d)
            Window rows.

        Returns
        -------
        X_out : array of shape (n_windows * n_segments / scale, n_output)
            Rows of window 0 first, in time order, then window 1, ...;
            ``n_output = scale * (columns selected by the modalities)``.
        """
        check_is_fitted(self)
        ctx = B.compute_context(X, "auto")
        X = validate_array(
            self, X, ctx, reset=False, dtype=self.dtype, ensure_all_finite=False
        )
        check_same_place(self, X, ctx, attribute="column_index_", method="transform")
        xp = ctx.xp
        n_rows = X.shape[0] * (self.n_segments // self.scale)
        # Window rows are segment-major, so a base-k row is a run of
        # k * d contiguous columns: a C-order reshape, then one gather.
        X = xp.reshape(X, (n_rows, self.scale * self.n_features_segment_))
        if not self._identity:
            X = xp.take(X, self.column_index_, axis=1)
        return ctx.give(X)

    def fit_resample(self, X, y):
        """Fit, then return the base-``scale`` rows and their labels.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_segments * d)
            Window rows.
        y : array-like of shape (n_windows,) or (n_windows, n_outputs)
            One label per window.

        Returns
        -------
        X_resampled : array of shape (n_windows * n_segments / scale, n_output)
            As :meth:`transform`.
        y_resampled : array of shape (n_windows * n_segments / scale, ...)
            Each window's label, repeated for each of its rows.
        """
        X_out = self.fit(X).transform(X)
        n_windows = X_out.shape[0] // (self.n_segments // self.scale)
        if B.is_array(y) and not B.is_numpy_namespace(B.get_namespace(y)):
            y_xp = B.get_namespace(y)
        else:
            y, y_xp = np.asarray(y), B.get_namespace(np.zeros(1))
        if y.ndim not in (1, 2) or y.shape[0] != n_windows:
            raise ValueError(
                f"y has shape {tuple(y.shape)} but X has {n_windows} windows: "
                "give one label (row) per window."
            )
        self.window_index_ = self.window_of(n_windows)
        return X_out, B.take(y, self.window_index_, y_xp, axis=0)

    def window_of(self, n_windows):
        """The window (input row) of each output row, for ``n_windows`` windows.

        Parameters
        ----------
        n_windows : int
            Number of window rows given to :meth:`transform`.

        Returns
        -------
        window : ndarray of shape (n_windows * n_segments / scale,)
            ``window[i]`` is the input row output row ``i`` came from.
        """
        self._check_scale()
        return np.repeat(np.arange(n_windows), self.n_segments // self.scale)

    def get_output_modalities(self):
        """Column blocks of the output rows, one per modality.

        Returns
        -------
        modalities : list of (str, slice)
            Ready for ``SharedRBM(modalities=[(name, encoder, columns)])``.
        """
        check_is_fitted(self)
        out, start = [], 0
        for name, cols in self.modalities_:
            stop = start + self.scale * cols.size
            out.append((name, slice(start, stop)))
            start = stop
        return out

    def get_feature_names_out(self, input_features=None):
        """Output feature names: ``{modality}_s{segment}_{column}``.

        ``segment`` counts from 1 within the base-``scale`` row; ``column``
        is ``x{c}``, ``c`` the column of a segment row, or, when the input
        had feature names, the name of column ``c`` of the window's first
        segment.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; checked against ``feature_names_in_``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        names_in = _check_feature_names_in(self, input_features)
        generated = hasattr(self, "feature_names_in_") or input_features is not None
        names = []
        for name, cols in self.modalities_:
            for s in range(1, self.scale + 1):
                for c in cols:
                    col = names_in[c] if generated else f"x{c}"
                    names.append(f"{name}_s{s}_{col}")
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = (
            ["float64", "float32"] if self.dtype is None else [self.dtype]
        )
        return tags


# --------------------------------------------------------------------------
# Window rows -> one decision, fused over time scales
# --------------------------------------------------------------------------


def _seed_unset(estimator, rng):
    """Give every ``random_state`` of ``estimator`` (nested ones too) that is
    None a seed from ``rng``; those a user set are kept."""
    if rng is None or not hasattr(estimator, "get_params"):
        return estimator
    seeds = {
        key: int(rng.randint(np.iinfo(np.int32).max))
        for key, value in sorted(estimator.get_params(deep=True).items())
        if (key == "random_state" or key.endswith("__random_state")) and value is None
    }
    return estimator.set_params(**seeds) if seeds else estimator


def _fit_level_fold(estimator, H, y, train, test, method):
    fitted = clone(estimator).fit(H[train], y[train])
    return test, _level_output(fitted, H[test], method)


def _level_output(estimator, H, method):
    """A level's predictions as (n_rows, n_outputs): the positive class's
    probability or score for two classes, one column per class otherwise."""
    out = np.asarray(getattr(estimator, method)(H), dtype=np.float64)
    if out.ndim == 1:
        return out[:, None]
    if method == "predict_proba" and out.shape[1] == 2:
        return out[:, 1:]
    return out


def _level_has(attr):
    """available_if condition: the level estimator (fitted or given) has
    ``attr``."""

    def check(self):
        if hasattr(self, "levels_"):
            return hasattr(self.levels_[0].estimator, attr)
        return hasattr(self._level_template(), attr)

    return check


def _fused_has(attr):
    """available_if condition for the fused decision's methods."""

    def check(self):
        if self.fusion == "mean":
            return _level_has(attr)(self)
        final = getattr(self, "final_estimator_", None) or self._final_template()
        return hasattr(final, attr)

    return check


class MultiTimescaleFusionClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Classify windows of segments by fusing decisions made at several scales.

    Xu, Wang and Tang (2014), section 3.3. A window row holds ``n_segments``
    consecutive segment rows of one clip (:func:`make_windows`). The
    classifier

    1. fits each modality's encoder (a :class:`~skmv.dbn.DBNTransformer`,
       say) once, on every base-1 segment of the training windows, and
       encodes each segment once; every scale reuses these encodings;
    2. for each scale ``k`` in ``scales``, cuts the encoded windows into
       base-``k`` rows (:class:`TimescaleConcatenator`: ``k`` adjacent
       segments, blocks regrouped per modality), fits a clone of ``shared``
       (a :class:`~skmv.shared.SharedRBM` over the encodings) and, on its
       shared representation, a clone of ``level_estimator`` with each row
       labelled by its window;
    3. collects, per window, every level's predictions on the window's rows:
       ``n_segments / k`` of them per scale, 10 + 5 + 2 + 1 = 18 for the
       paper's scales, and fits ``final_estimator`` (a feed-forward network)
       on that prediction vector (``fusion="network"``); or averages the
       base-1 predictions of the window (``fusion="mean"``, the paper's
       baseline).

    The fusion network learns from out-of-fold predictions, as
    :class:`~sklearn.ensemble.StackingClassifier` does: each window's
    prediction vector comes from level estimators fitted on the other
    folds, never on the rows it is made of. Only the level estimators see
    labels, so only they are refitted per fold; the encoders and the shared
    RBMs, unsupervised, are fitted once on all training windows.

    Parameters
    ----------
    modalities : list of (str, estimator or "passthrough", columns) tuples
        The modalities of a segment row, as in
        :class:`~skmv.shared.SharedRBM`: a name, an encoder (a transformer,
        cloned and fitted on the modality's columns of all base-1 segments,
        e.g. ``make_pipeline(StandardScaler(), DBNTransformer(...))``) or
        ``"passthrough"``, and the columns of a segment row (a slice, int
        indices or a boolean mask).
    scales : sequence of int, default=(1, 2, 5, 10)
        The scales ``k``, in segments; each divides ``n_segments``. Their
        order is the order of the prediction vector.
    n_segments : int, default=10
        Segments per window (10 segments of 6 s: the paper's 60 s).
    shared : estimator, "passthrough" or None, default=None
        Template of the per-scale model over the encodings, cloned for each
        scale with its ``modalities`` set to the encoded blocks (as
        ``"passthrough"``); its other parameters (``n_components``,
        ``n_iter``, ...) are kept. None is ``SharedRBM`` with its defaults;
        ``"passthrough"`` gives the level estimators the concatenated
        encodings themselves (for baselines without a shared
        representation).
    level_estimator : classifier or None, default=None
        Cloned for each scale (and each fold); it must have
        ``predict_proba`` or ``decision_function``, used in that order of
        preference. None is ``LogisticRegression(max_iter=1000)``.
    final_estimator : classifier or None, default=None
        The fusion network (``fusion="network"``), fitted on the prediction
        vectors. None is ``MLPClassifier(hidden_layer_sizes=(16,),
        solver="lbfgs", alpha=1e-2, max_iter=2000)``.
    cv : int, cross-validation generator or iterable, default=5
        Folds of windows for the out-of-fold predictions; every window must
        be in exactly one test fold. An int is a ``StratifiedKFold``, or a
        ``StratifiedGroupKFold`` when ``fit`` gets ``groups`` (windows of
        one clip then stay in one fold).
    fusion : {"network", "mean"}, default="network"
        ``"network"`` fuses every level's predictions with
        ``final_estimator``; ``"mean"`` averages the base-1 level's
        predictions over the window's segments (``1`` must be in
        ``scales``; the other scales are not fitted).
    n_jobs : int or None, default=None
        Parallel fits of the level estimators across folds (joblib).
    random_state : int, RandomState instance or None, default=None
        Seeds the clones whose ``random_state`` is None (encoders, shared
        models, level and final estimators); set ones are kept.
    verbose : int, default=0
        Print the progress of each stage.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Width of a window row, ``n_segments * d``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.
    n_features_segment_ : int
        Width ``d`` of a segment row.
    encoders_ : list of (str, estimator or "passthrough", ndarray of int)
        Each modality's fitted encoder and its columns of a segment row.
    levels_ : list of :class:`~sklearn.utils.Bunch`
        One per fitted scale, in the order of ``scales``, with the fields
        ``scale``, ``concatenator`` (the fitted
        :class:`TimescaleConcatenator` of the encoded windows), ``shared``
        (the fitted shared model or ``"passthrough"``) and ``estimator``
        (the level estimator fitted on all training rows).
    stack_method_ : str
        ``"predict_proba"`` or ``"decision_function"``: the level
        estimators' method that makes the prediction vector.
    final_estimator_ : estimator or None
        The fitted fusion network; None with ``fusion="mean"``.
    oof_predictions_ : ndarray of shape (n_windows, n_predictions)
        The out-of-fold prediction vectors the fusion network learnt from
        (``fusion="network"`` only: averaging needs none).

    See Also
    --------
    make_windows : Segment rows -> window rows.
    TimescaleConcatenator : Window rows -> base-``k`` rows.
    skmv.shared.SharedRBM : The shared representation of each scale.
    sklearn.ensemble.StackingClassifier : Stacking with out-of-fold
        predictions, which this classifier does across time scales.

    Notes
    -----
    A clip longer than one window is classified from its windows:
    :meth:`predict_proba_clips` and :meth:`predict_clips` cut a clip's
    segment rows into consecutive windows (trailing segments that do not fill
    one are dropped) and average the windows' probabilities (or scores).

    The prediction vector of a window has ``sum(n_segments / k) *
    n_outputs`` entries, ``n_outputs`` 1 for two classes (the positive
    class's probability or score) and ``n_classes`` otherwise;
    :meth:`transform` returns it.

    References
    ----------
    B. Xu, X. Wang, X. Tang, "Fusing music and video modalities using
    multi-timescale shared representations", ACM Multimedia 2014.

    Examples
    --------
    >>> from skmv.datasets import make_music_video_features
    >>> from skmv.shared import SharedRBM
    >>> from skmv.timescale import MultiTimescaleFusionClassifier, make_windows
    >>> data = make_music_video_features(40, n_segments=10, random_state=0)
    >>> Xw, clips = make_windows(data.X, data.groups, n_segments=10)
    >>> yw = data.clip_labels[clips]
    >>> clf = MultiTimescaleFusionClassifier(
    ...     [(name, "passthrough", cols) for name, cols in data.modalities],
    ...     scales=(1, 2, 5, 10),
    ...     shared=SharedRBM([], n_components=16, n_iter=5),
    ...     cv=3,
    ...     random_state=0,
    ... ).fit(Xw, yw)
    >>> clf.transform(Xw).shape  # 10 + 5 + 2 + 1 predictions per window
    (40, 18)
    >>> clf.predict_proba(Xw).shape
    (40, 2)
    """

    _parameter_constraints: dict = {
        "modalities": [list, tuple],
        "scales": ["array-like"],
        "n_segments": [Interval(Integral, 1, None, closed="left")],
        "shared": [
            HasMethods(["fit", "transform"]),
            StrOptions({"passthrough"}),
            None,
        ],
        "level_estimator": [HasMethods(["fit"]), None],
        "final_estimator": [HasMethods(["fit", "predict"]), None],
        "cv": ["cv_object"],
        "fusion": [StrOptions({"network", "mean"})],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        modalities,
        *,
        scales=(1, 2, 5, 10),
        n_segments=10,
        shared=None,
        level_estimator=None,
        final_estimator=None,
        cv=5,
        fusion="network",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.modalities = modalities
        self.scales = scales
        self.n_segments = n_segments
        self.shared = shared
        self.level_estimator = level_estimator
        self.final_estimator = final_estimator
        self.cv = cv
        self.fusion = fusion
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------
    # Templates and checks
    # ------------------------------------------------------------------

    def _level_template(self):
        if self.level_estimator is None:
            return LogisticRegression(max_iter=1000)
        return self.level_estimator

    def _final_template(self):
        if self.final_estimator is None:
            return MLPClassifier(
                hidden_layer_sizes=(16,), solver="lbfgs", alpha=1e-2, max_iter=2000
            )
        return self.final_estimator

    def _check_scales(self):
        scales = np.asarray(self.scales).reshape(-1) if self.scales is not None else []
        if (
            len(scales) == 0
            or not np.issubdtype(np.asarray(scales).dtype, np.integer)
            or np.any(scales < 1)
            or np.unique(scales).size != len(scales)
        ):
            raise ValueError(
                f"scales must be distinct positive ints, got {self.scales!r}."
            )
        bad = [int(k) for k in scales if self.n_segments % k]
        if bad:
            raise ValueError(
                f"scales {bad} do not divide n_segments={self.n_segments}: a "
                f"window of {self.n_segments} segments cannot be cut into "
                f"base-{bad[0]} rows."
            )
        if self.fusion == "mean":
            if 1 not in scales:
                raise ValueError(
                    "fusion='mean' averages the base-1 predictions: 1 must be in "
                    f"scales, got {self.scales!r}."
                )
            return (1,)
        return tuple(int(k) for k in scales)

    def _log(self, message):
        if self.verbose:
            print(f"[MultiTimescaleFusionClassifier] {message}", flush=True)

    def _splits(self, X, y, groups):
        """(train, test) window indices, checked to be a partition."""
        if groups is not None and (self.cv is None or isinstance(self.cv, Integral)):
            cv = StratifiedGroupKFold(5 if self.cv is None else self.cv)
        else:
            cv = check_cv(self.cv, y, classifier=True)
        splits = list(cv.split(X, y, groups))
        tested = np.sort(np.concatenate([test for _, test in splits]))
        if not np.array_equal(tested, np.arange(len(y))):
            raise ValueError(
                "cv must put every window in exactly one test fold (a partition, "
                f"as KFold makes); {type(cv).__name__} does not."
            )
        return splits

    # ------------------------------------------------------------------
    # Fit
    # ------------------------------------------------------------------

    @_fit_context(
        # The encoders, shared models and estimators are validated by their
        # own fit.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, groups=None):
        """Fit the encoders, one shared model and level per scale, and the
        fusion.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_segments * d)
            Window rows (:func:`make_windows`).
        y : array-like of shape (n_windows,)
            The label of each window.
        groups : array-like of shape (n_windows,) or None, default=None
            The clip of each window: with an int ``cv``, windows of one clip
            stay in one fold, so no level is scored on a clip it saw.

        Returns
        -------
        self : object
        """
        scales = self._check_scales()
        X, y = validate_data(
            self, X, y, dtype=(np.float32, np.float64), ensure_min_samples=2
        )
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                "MultiTimescaleFusionClassifier needs samples of at least 2 "
                f"classes; y holds one class only: {self.classes_[0]!r}."
            )
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (X.shape[0],):
                raise ValueError(
                    f"groups has shape {groups.shape}; give one clip per window "
                    f"({X.shape[0]})."
                )
        n_windows, n_features = X.shape
        if n_features % self.n_segments:
            raise ValueError(
                f"X has n_features={n_features} columns, not a multiple of "
                f"n_segments={self.n_segments}: a window row is n_segments "
                "segment rows side by side."
            )
        d = n_features // self.n_segments
        self.n_features_segment_ = d
        rng = (
            None if self.random_state is None else check_random_state(self.random_state)
        )
        # Folds for the out-of-fold predictions, which only the network needs.
        splits = self._splits(X, y_enc, groups) if self.fusion == "network" else None
        level_template = self._level_template()
        self.stack_method_ = (
            "predict_proba"
            if hasattr(level_template, "predict_proba")
            else "decision_function"
        )
        if not hasattr(level_template, self.stack_method_):
            raise ValueError(
                "level_estimator must have predict_proba or decision_function; "
                f"{type(level_template).__name__} has neither."
            )

        # 1. Encoders, once, on every base-1 segment.
        blocks = _resolve_blocks(self.modalities, d, with_encoder=True)
        segments = X.reshape(n_windows * self.n_segments, d)
        self.encoders_, encoded = [], []
        for name, encoder, cols in blocks:
            start = time.perf_counter()
            if _is_passthrough(encoder):
                fitted, E = "passthrough", segments[:, cols]
            else:
                fitted = _seed_unset(clone(encoder), rng)
                E = B.to_numpy(fitted.fit_transform(segments[:, cols]))
            self.encoders_.append((name, fitted, cols))
            encoded.append(np.asarray(E))
            self._log(
                f"encoder {name!r}: {len(cols)} -> {encoded[-1].shape[1]} columns "
                f"({time.perf_counter() - start:.1f} s)"
            )
        windows = self._encoded_windows(encoded, n_windows)
        # The encoded blocks, for the concatenators and the shared models.
        self._encoded_blocks, start = [], 0
        for (name, _, _), block in zip(self.encoders_, encoded):
            self._encoded_blocks.append((name, slice(start, start + block.shape[1])))
            start += block.shape[1]

        # 2. One shared model and one level estimator per scale; the levels'
        # out-of-fold predictions make the fusion's training set.
        self.levels_, oof = [], []
        parallel = Parallel(n_jobs=self.n_jobs)
        for k in scales:
            start = time.perf_counter()
            concat, shared, H = self._fit_shared(k, windows, rng)
            per_window = self.n_segments // k
            y_rows = np.repeat(y_enc, per_window)
            estimator = _seed_unset(clone(level_template), rng)
            if self.fusion == "network":
                oof.append(self._out_of_fold(estimator, H, y_rows, splits, parallel))
            estimator.fit(H, y_rows)
            self.levels_.append(
                Bunch(scale=k, concatenator=concat, shared=shared, estimator=estimator)
            )
            self._log(
                f"base-{k}: {H.shape[0]} rows of {H.shape[1]} columns, "
                f"{len(splits or ())} folds ({time.perf_counter() - start:.1f} s)"
            )

        # 3. The fusion.
        if self.fusion == "network":
            self.oof_predictions_ = np.concatenate(oof, axis=1)
            final = _seed_unset(clone(self._final_template()), rng)
            self.final_estimator_ = final.fit(self.oof_predictions_, y_enc)
        else:
            self.final_estimator_ = None
        return self

    def _out_of_fold(self, estimator, H, y_rows, splits, parallel):
        """A level's predictions on each window's rows by clones fitted on
        the other folds, as (n_windows, rows per window * outputs)."""
        n_windows = sum(len(test) for _, test in splits)
        per_window = H.shape[0] // n_windows
        rows = np.arange(n_windows * per_window).reshape(n_windows, per_window)
        folds = parallel(
            delayed(_fit_level_fold)(
                estimator,
                H,
                y_rows,
                rows[train].ravel(),
                rows[test].ravel(),
                self.stack_method_,
            )
            for train, test in splits
        )
        n_out = folds[0][1].shape[1]
        predictions = np.empty((H.shape[0], n_out))
        for test, out in folds:
            predictions[test] = out
        return predictions.reshape(n_windows, per_window * n_out)

    def _encoded_windows(self, encoded, n_windows):
        """Encoded segment blocks -> encoded window rows."""
        E = np.concatenate(encoded, axis=1) if len(encoded) > 1 else encoded[0]
        return E.reshape(n_windows, self.n_segments * E.shape[1])

    def _fit_shared(self, k, windows, rng):
        concat = TimescaleConcatenator(
            k, n_segments=self.n_segments, modalities=self._encoded_blocks, dtype=None
        ).fit(windows)
        R = concat.transform(windows)
        if _is_passthrough(self.shared):
            return concat, "passthrough", R
        template = SharedRBM([]) if self.shared is None else self.shared
        shared = _seed_unset(clone(template), rng).set_params(
            modalities=[
                (name, "passthrough", cols)
                for name, cols in concat.get_output_modalities()
            ]
        )
        H = B.to_numpy(shared.fit_transform(R))
        return concat, shared, np.asarray(H)

    # ------------------------------------------------------------------
    # Predict
    # ------------------------------------------------------------------

    def transform(self, X):
        """The prediction vector of each window: every level's predictions.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_segments * d)
            Window rows.

        Returns
        -------
        predictions : ndarray of shape (n_windows, n_predictions)
            Scale by scale (in the order of ``scales``), row by row of the
            window, then output by output; see :meth:`get_feature_names_out`.
        """
        return self._prediction_vector(X)

    def _encode(self, X):
        """Validated window rows -> encoded window rows (and their count)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float32, np.float64))
        n_windows = X.shape[0]
        segments = X.reshape(n_windows * self.n_segments, self.n_features_segment_)
        encoded = [
            segments[:, cols]
            if _is_passthrough(encoder)
            else np.asarray(B.to_numpy(encoder.transform(segments[:, cols])))
            for _, encoder, cols in self.encoders_
        ]
        return self._encoded_windows(encoded, n_windows), n_windows

    @staticmethod
    def _level_rows(level, windows):
        """What a level's estimator sees: the encoded windows cut into its
        base-k rows, through its shared model."""
        R = level.concatenator.transform(windows)
        H = R if _is_passthrough(level.shared) else level.shared.transform(R)
        return np.asarray(B.to_numpy(H))

    def _prediction_vector(self, X):
        windows, n_windows = self._encode(X)
        out = []
        for level in self.levels_:
            P = _level_output(
                level.estimator, self._level_rows(level, windows), self.stack_method_
            )
            out.append(P.reshape(n_windows, -1))
        return np.concatenate(out, axis=1)

    def _mean_output(self, X, method):
        """fusion="mean": the base-1 level's ``method`` averaged per window."""
        windows, n_windows = self._encode(X)
        level = self.levels_[0]
        out = getattr(level.estimator, method)(self._level_rows(level, windows))
        out = np.asarray(out)
        return out.reshape(n_windows, self.n_segments, *out.shape[1:]).mean(axis=1)

    @available_if(_fused_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of each window.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_segments * d)
            Window rows.

        Returns
        -------
        proba : ndarray of shape (n_windows, n_classes)
        """
        check_is_fitted(self)
        if self.fusion == "mean":
            return self._mean_output(X, "predict_proba")
        return self.final_estimator_.predict_proba(self._prediction_vector(X))

    @available_if(_fused_has("decision_function"))
    def decision_function(self, X):
        """Decision scores of each window.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_segments * d)
            Window rows.

        Returns
        -------
        scores : ndarray of shape (n_windows,) or (n_windows, n_classes)
            For two classes, larger is more ``classes_[1]``.
        """
        check_is_fitted(self)
        if self.fusion == "mean":
            return self._mean_output(X, "decision_function")
        return self.final_estimator_.decision_function(self._prediction_vector(X))

    def predict(self, X):
        """The class of each window.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_segments * d)
            Window rows.

        Returns
        -------
        y_pred : ndarray of shape (n_windows,)
        """
        if self.fusion == "network":
            check_is_fitted(self)
            vector = self._prediction_vector(X)
            return self.classes_[self.final_estimator_.predict(vector)]
        return self.classes_[self._scores_to_index(self._window_scores(X))]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of :meth:`predict` on windows ``X`` against ``y``.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_segments * d)
            Window rows.
        y : array-like of shape (n_windows,)
            The true class of each window.
        sample_weight : array-like of shape (n_windows,), default=None
            Weights of the windows.

        Returns
        -------
        score : float
            The fraction of windows classified correctly (weighted).
        """
        return super().score(X, y, sample_weight=sample_weight)

    def _window_scores(self, X):
        """Probabilities of each window where there are any, else scores."""
        if hasattr(self, "predict_proba"):
            return self.predict_proba(X)
        return self.decision_function(X)

    def _scores_to_index(self, scores):
        if scores.ndim == 1:
            return (scores > 0).astype(np.intp)
        return np.argmax(scores, axis=1)

    # ------------------------------------------------------------------
    # Whole clips
    # ------------------------------------------------------------------

    def _clip_average(self, X, groups, scores_of):
        check_is_fitted(self)
        groups = np.asarray(B.to_numpy(groups))
        X_windows, window_clips = make_windows(X, groups, n_segments=self.n_segments)
        clips = groups[np.sort(np.unique(groups, return_index=True)[1])]
        short = np.setdiff1d(clips, window_clips)
        if short.size:
            raise ValueError(
                f"Clip(s) {short[:5].tolist()} have fewer than n_segments="
                f"{self.n_segments} segments: too short to fill one window."
            )
        scores = scores_of(X_windows)
        index = {clip: i for i, clip in enumerate(clips.tolist())}
        which = np.array([index[c] for c in window_clips.tolist()], dtype=np.intp)
        sums = np.zeros((clips.size,) + scores.shape[1:])
        np.add.at(sums, which, scores)
        counts = np.bincount(which, minlength=clips.size)
        return clips, sums / counts.reshape((-1,) + (1,) * (scores.ndim - 1))

    @available_if(_fused_has("predict_proba"))
    def predict_proba_clips(self, X, groups):
        """Class probabilities of whole clips, averaged over their windows.

        Parameters
        ----------
        X : array-like of shape (n_segment_rows, d)
            Segment rows (not windows), in time order within each clip; a
            clip may have any number of segments, at least ``n_segments``.
        groups : array-like of shape (n_segment_rows,)
            The clip of each row.

        Returns
        -------
        clips : ndarray of shape (n_clips,)
            The clips, in the order of their first row in ``X``.
        proba : ndarray of shape (n_clips, n_classes)
            The mean of the probabilities of each clip's windows (its
            consecutive, non-overlapping windows; trailing segments that do
            not fill one are not used).
        """
        return self._clip_average(X, groups, self.predict_proba)

    def predict_clips(self, X, groups):
        """The class of whole clips, from their windows' mean probabilities
        (or mean scores, for level estimators without probabilities).

        Parameters
        ----------
        X : array-like of shape (n_segment_rows, d)
            Segment rows, in time order within each clip.
        groups : array-like of shape (n_segment_rows,)
            The clip of each row.

        Returns
        -------
        clips : ndarray of shape (n_clips,)
            The clips, in the order of their first row in ``X``.
        y_pred : ndarray of shape (n_clips,)
        """
        clips, scores = self._clip_average(X, groups, self._window_scores)
        return clips, self.classes_[self._scores_to_index(scores)]

    def get_feature_names_out(self, input_features=None):
        """Names of the prediction vector's entries: ``base{k}_row{j}``, with
        ``_{class}`` appended when there is one entry per class.

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        # One entry per row for two classes, one per class and row otherwise.
        n_out = 1 if self.classes_.size == 2 else self.classes_.size
        names = []
        for level in self.levels_:
            for j in range(self.n_segments // level.scale):
                if n_out == 1:
                    names.append(f"base{level.scale}_row{j}")
                else:
                    names.extend(f"base{level.scale}_row{j}_{c}" for c in self.classes_)
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
