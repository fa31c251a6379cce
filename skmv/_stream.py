"""Training from data that do not fit in memory: chunks, batches, lazy rows.

The estimators of skmv that take ``chunk_size`` read their training data
through this module when it is set: ``X`` is any 2-D array read by row slices
(a NumPy memmap, a Zarr array, :attr:`skmv.store.FeatureStore.X`, an
in-memory array), ``chunk_size`` rows at a time, so that memory holds a few
chunks and never the whole data or a copy of it.

* :func:`iter_chunks` reads the chunks in order, each cast to the compute
  dtype and moved to where the estimator computes.
* :func:`iter_batches` cuts mini-batches from the chunks, in a shuffled order
  of chunks with the rows shuffled within each chunk, or in the order of the
  rows. The rows left at the end of a chunk are carried over to the next
  one, so that without shuffling the mini-batches are exactly those of an
  in-memory pass over the same rows, whatever ``chunk_size`` is.
* :class:`Rows` is an array-like whose rows are computed from the rows of
  another one (a layer's transform of its input, a modality's columns, a
  scaler's output): what one stage streams to the next without ever holding
  the whole of it.
* :func:`fit_stream` fits an estimator on such an array: skmv's own stream
  through ``chunk_size``, a Pipeline step by step (each transformer fitted
  by one streaming pass of ``partial_fit`` before its output streams on), any
  other estimator by one pass of ``partial_fit`` over the chunks.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import _backend as B

__all__ = [
    "Rows",
    "batch_bounds",
    "fit_stream",
    "iter_batches",
    "iter_chunks",
    "map_rows",
    "read_rows",
    "sample",
    "scan",
    "set_chunk_size",
    "streamable",
    "to_compute",
]


def streamable(X):
    """Whether ``X`` can be read by row slices as it is, without a conversion
    of the whole: a 2-D array of numbers (NumPy, memmap, CuPy, array API),
    a Zarr array, a :class:`Rows`, or any such array-like.

    Lists, data frames and sparse matrices are not: scikit-learn's validation
    converts them first (they are in memory anyway).
    """
    if isinstance(X, Rows):
        return True
    if sp.issparse(X) or type(X).__module__.split(".")[0] in ("pandas", "polars"):
        return False
    if not (isinstance(X, np.ndarray) or B.is_array(X)):
        if not all(hasattr(X, name) for name in ("shape", "dtype", "__getitem__")):
            return False
    try:
        shape, kind = tuple(X.shape), B._np_dtype(X.dtype).kind
    except (TypeError, AttributeError):
        return False
    return len(shape) == 2 and kind in "biuf"


class Rows:
    """A read-only 2-D array-like whose rows are computed from another's.

    ``Rows(base, func, n_columns, dtype)[a:b]`` is ``func(base[a:b])``: the
    rows are computed when read, one slice at a time, and never held whole.
    Only row slices are read (``rows[a:b]``, ``rows[a:b, :]``,
    ``rows[a:b, ...]``), and the base is read by ``base[a:b, ...]``.

    Parameters
    ----------
    base : 2-D array-like
        Read by row slices (a memmap, a Zarr array, another ``Rows``...).
    func : callable
        Maps rows of ``base`` to as many rows of ``n_columns`` columns.
    n_columns : int
        Columns of the output of ``func``.
    dtype : dtype
        Type of the output of ``func``.
    """

    ndim = 2

    def __init__(self, base, func, n_columns, dtype):
        self.base = base
        self.func = func
        self.shape = (int(base.shape[0]), int(n_columns))
        self.dtype = dtype

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        rows = key[0] if isinstance(key, tuple) and len(key) == 2 else key
        whole = not isinstance(key, tuple) or key[1] in (slice(None), Ellipsis)
        if not (isinstance(rows, slice) and rows.step in (None, 1) and whole):
            raise TypeError(
                f"{type(self).__name__} reads row slices, X[a:b]; got {key!r}."
            )
        return self.func(self.base[rows, ...])

    def __repr__(self):
        return f"Rows(shape={self.shape}, of {type(self.base).__name__})"


def sample(X):
    """The first row of X as an array (NumPy for array-likes that are not
    arrays): where X's rows live, for the checks that compare places."""
    A = X[0:1, ...]
    return A if isinstance(A, np.ndarray) or B.is_array(A) else np.asarray(A)


def to_compute(A, ctx, dtype):
    """Rows ``A`` (an array or array-like) where ``ctx`` computes, in
    ``dtype`` (the estimator's: None keeps float64 as float64). NumPy rows
    come back C-contiguous, a memmap's as a plain array view."""
    if isinstance(A, np.ndarray):
        if type(A) is not np.ndarray:
            A = A.view(np.ndarray)  # a memmap's rows: no copy, no subclass
    elif not B.is_array(A):
        A = np.asarray(A)
    A = ctx.put(A)
    xp = ctx.xp
    target = B.resolve_dtype(dtype, A.dtype, xp)
    if A.dtype != target:
        A = xp.astype(A, target)
    if isinstance(A, np.ndarray) and not A.flags.c_contiguous:
        A = np.ascontiguousarray(A)
    return A


def read_rows(X, start, stop, ctx, dtype):
    """Rows ``[start, stop)`` of ``X`` where ``ctx`` computes, in ``dtype``
    (see :func:`to_compute`)."""
    # Two indices: array API arrays refuse a bare row slice of a 2-D array.
    return to_compute(X[start:stop, ...], ctx, dtype)


def iter_chunks(X, chunk_size, ctx, dtype):
    """``(start, rows)`` of each chunk of ``chunk_size`` rows of X, in order."""
    n = X.shape[0]
    for start in range(0, n, chunk_size):
        yield start, read_rows(X, start, min(start + chunk_size, n), ctx, dtype)


def batch_bounds(n, batch_size, n_batches=None):
    """Bounds of consecutive mini-batches of ``batch_size`` over ``n`` rows:
    every row, the last batch shorter, or the first ``n_batches`` whole ones."""
    if n_batches is None:
        return np.append(np.arange(0, n, batch_size), n)
    return np.arange(n_batches + 1) * batch_size


def iter_batches(
    X, bounds, *, chunk_size, ctx, dtype, rng=None, shuffle=False, rows=None
):
    """Mini-batches of X read chunk by chunk: ``bounds[i]:bounds[i + 1]`` of
    the sequence of rows.

    The sequence is the rows of X (or only ``rows``, sorted indices) in
    order; with ``shuffle``, the chunks in an order drawn from ``rng`` and the
    rows of each chunk permuted. Rows left at the end of a chunk start the
    next batch, so that without shuffling the batches are those of the rows
    in memory, whatever ``chunk_size`` is. Memory holds one chunk and one
    batch.
    """
    xp = ctx.xp
    sizes = iter(np.diff(np.asarray(bounds)).tolist())
    need = next(sizes, None)
    if need is None:
        return
    n = X.shape[0]
    n_chunks = -(-n // chunk_size)
    order = rng.permutation(n_chunks) if shuffle else range(n_chunks)
    pending, have = [], 0
    for k in order:
        start = int(k) * chunk_size
        stop = min(start + chunk_size, n)
        local = None
        if rows is not None:
            lo, hi = np.searchsorted(rows, [start, stop])
            local = rows[lo:hi] - start
            if local.size == 0:
                continue
        A = read_rows(X, start, stop, ctx, dtype)
        if local is not None and local.size < stop - start:
            A = B.take(A, local, xp)
        if shuffle:
            A = B.take(A, rng.permutation(A.shape[0]), xp)
        pos, m = 0, A.shape[0]
        while pos < m:
            step = min(need - have, m - pos)
            pending.append(A[pos : pos + step, :])
            have += step
            pos += step
            if have == need:
                yield pending[0] if len(pending) == 1 else xp.concat(pending, axis=0)
                pending, have = [], 0
                need = next(sizes, None)
                if need is None:
                    return
    if pending:
        raise ValueError(
            f"The batch bounds ask for {int(np.asarray(bounds)[-1])} rows, more "
            "than the data hold."
        )


def _first_bad_row(A, xp):
    bad = B.to_numpy(~xp.all(xp.isfinite(A), axis=1))
    return int(np.flatnonzero(np.asarray(bad))[0])


def scan(
    X, *, chunk_size, ctx, dtype, estimator, gather=None, mean_square=False, finite=True
):
    """One pass over X: the mean of each column, a finite check, some rows.

    Parameters
    ----------
    X : 2-D array-like
    chunk_size : int
    ctx : ComputeContext
    dtype : str or None
        The estimator's ``dtype``.
    estimator : estimator instance
        Named in the error on NaN or infinity.
    gather : ndarray of int or None
        Sorted indices of rows to return (as they are read, no second pass).
    mean_square : bool
        Also return the mean of the squares of all entries.
    finite : bool
        Refuse NaN and infinity, naming the first row that has one.

    Returns
    -------
    mean : array of shape (n_features,)
    rows : array of shape (len(gather), n_features) or None
    square : float or None
    """
    xp = ctx.xp
    total, square, parts = None, 0.0, []
    for start, A in iter_chunks(X, chunk_size, ctx, dtype):
        if finite and not B.all_finite(A, xp):
            row = start + _first_bad_row(A, xp)
            raise ValueError(
                f"Input X contains NaN or infinity (first in row {row}); "
                f"{type(estimator).__name__} needs finite values."
            )
        s = xp.sum(A, axis=0, dtype=xp.float64)
        total = s if total is None else total + s
        if mean_square:
            square += B.scalar(xp.sum(A * A, dtype=xp.float64))
        if gather is not None:
            lo, hi = np.searchsorted(gather, [start, start + A.shape[0]])
            if hi > lo:
                parts.append(B.take(A, gather[lo:hi] - start, xp))
    n, d = X.shape
    mean = xp.astype(total / n, A.dtype)
    rows = None if gather is None else xp.concat(parts, axis=0)
    return mean, rows, (square / (n * d) if mean_square else None)


def map_rows(X, func, n_columns, *, chunk_size, ctx, dtype, estimator, finite=True):
    """``func(rows, start)`` of each chunk of X, gathered into one array of
    ``n_columns`` columns where ``ctx`` computes: a transform whose memory is
    its output and a chunk. ``finite`` refuses NaN and infinity, naming the
    first row that has one."""
    xp = ctx.xp
    out = None
    for start, A in iter_chunks(X, chunk_size, ctx, dtype):
        if finite and not B.all_finite(A, xp):
            row = start + _first_bad_row(A, xp)
            raise ValueError(
                f"Input X contains NaN or infinity (first in row {row}); "
                f"{type(estimator).__name__} needs finite values."
            )
        H = func(A, start)
        if out is None:
            out = xp.empty(
                (X.shape[0], n_columns), dtype=H.dtype, device=B.device_of(H)
            )
        out[start : start + A.shape[0], :] = H
    return out


# --------------------------------------------------------------------------
# Fitting any estimator from chunks
# --------------------------------------------------------------------------


def _params(estimator):
    return estimator.get_params(deep=True) if hasattr(estimator, "get_params") else {}


def set_chunk_size(estimator, chunk_size):
    """Set every ``chunk_size`` parameter of ``estimator`` (nested ones
    included) that is None to ``chunk_size``, so that skmv estimators inside
    it stream as their container does; set ones are kept."""
    unset = {
        key: chunk_size
        for key, value in _params(estimator).items()
        if (key == "chunk_size" or key.endswith("__chunk_size")) and value is None
    }
    if unset:
        estimator.set_params(**unset)
    return estimator


def _is_skip(step):
    return step is None or (isinstance(step, str) and step == "passthrough")


def _output(estimator, X, dtype):
    """``Rows`` of ``estimator.transform`` over X; its width from one row."""
    sample = estimator.transform(X[0:1, ...])
    return Rows(
        X, estimator.transform, sample.shape[1], getattr(sample, "dtype", dtype)
    )


def fit_stream(estimator, X, chunk_size, *, who):
    """Fit ``estimator`` on the rows of X without holding X whole.

    * an estimator with a ``chunk_size`` parameter (skmv's) streams through
      it, set to ``chunk_size`` if it is None;
    * a :class:`~sklearn.pipeline.Pipeline` is fitted step by step: each step
      on the output of the ones before, computed chunk by chunk;
    * any other estimator is fitted by one pass of ``partial_fit`` over the
      chunks (for StandardScaler, the statistics ``fit`` computes).

    ``who`` names the estimator in the error raised for one that has neither.
    Returns the fitted estimator.
    """
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        Xt = X
        steps = estimator.steps
        for i, (name, step) in enumerate(steps):
            if _is_skip(step):
                continue
            fit_stream(step, Xt, chunk_size, who=f"step {name!r} of {who}")
            if i + 1 < len(steps):
                Xt = _output(step, Xt, X.dtype)
        return estimator
    if "chunk_size" in _params(estimator):
        set_chunk_size(estimator, chunk_size)
        return estimator.fit(X)
    if hasattr(estimator, "partial_fit"):
        n = X.shape[0]
        for start in range(0, n, chunk_size):
            estimator.partial_fit(X[start : min(start + chunk_size, n), ...])
        return estimator
    raise TypeError(
        f"{who}, {type(estimator).__name__}, cannot be fitted chunk by chunk: "
        "it has neither a chunk_size parameter nor partial_fit. Use an "
        "estimator that has one (StandardScaler, IncrementalPCA, skmv's RBMs "
        "and DBNTransformer), or fit with chunk_size=None on data in memory."
    )
