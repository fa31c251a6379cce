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

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
)

from . import _backend as B
from .base import DeviceMixin, check_same_place, validate_array

__all__ = ["TimescaleConcatenator", "make_windows"]


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
        resolved, names = [], set()
        for item in self.modalities:
            # (name, encoder, columns), SharedRBM's form, is accepted too, so
            # that one list declares both; the encoder is not used here.
            if not (isinstance(item, tuple | list) and len(item) in (2, 3)):
                raise ValueError(
                    "modalities must be a list of (name, columns) tuples; got "
                    f"{item!r}."
                )
            name, columns = item[0], item[-1]
            if not isinstance(name, str) or name in names:
                raise ValueError(
                    f"Modality names must be unique strings; got {name!r} again "
                    "or a non-string."
                )
            names.add(name)
            if not isinstance(columns, slice):
                columns = np.asarray(columns)
                if columns.size == 0:
                    raise ValueError(f"Modality {name!r} selects no columns.")
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
                raise ValueError(f"Modality {name!r} selects no columns.")
            resolved.append((name, cols.astype(np.intp)))
        every = np.concatenate([cols for _, cols in resolved])
        if np.unique(every).size != every.size:
            raise ValueError("Modalities must not overlap (or repeat a column).")
        return resolved

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
