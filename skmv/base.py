"""Small pieces every skmv estimator shares: input validation across array
namespaces, and fitted arrays that move between devices and pickle as NumPy."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _backend as B

__all__ = [
    "DeviceMixin",
    "check_same_place",
    "validate_array",
    "validate_code",
    "validate_stream",
]


def validate_array(
    estimator, X, ctx, *, reset, dtype, ensure_all_finite=True, ensure_min_samples=1
):
    """Validate ``X`` and return it in the compute namespace of ``ctx``.

    NumPy-like input (NumPy arrays, lists, frames) goes through scikit-learn's
    ``validate_data``, so that error messages and ``n_features_in_`` /
    ``feature_names_in_`` are scikit-learn's own. Arrays of other namespaces
    (CuPy, array-api-strict) get the same checks written in the array API,
    without a round trip through host memory.

    Parameters
    ----------
    estimator : estimator instance
    X : array-like of shape (n_samples, n_features)
    ctx : ComputeContext
        Where the call computes (see ``skmv._backend.compute_context``).
    reset : bool
        Whether to record ``n_features_in_`` (fit) or check it (otherwise).
    dtype : str, numpy dtype or None
        Floating dtype to compute in; None keeps float64 input as float64.
    ensure_all_finite : bool
        Refuse NaN and infinity (the default) or let them through.
    """
    if B.is_numpy_namespace(ctx.input_xp):
        X = validate_data(
            estimator,
            X,
            reset=reset,
            dtype=_numpy_dtypes(dtype),
            ensure_all_finite=ensure_all_finite,
            ensure_min_samples=ensure_min_samples,
            order="C",
        )
        return ctx.put(_floating(X, dtype))
    X = _check_array_api(
        estimator, X, dtype, ensure_all_finite, ensure_min_samples, "X"
    )
    n_features = X.shape[1]
    if reset:
        estimator.n_features_in_ = n_features
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    return ctx.put(X)


def validate_stream(
    estimator, X, device, *, reset, dtype, ensure_all_finite=True, ensure_min_samples=1
):
    """Validate ``X`` for a call that reads it chunk by chunk (``chunk_size``).

    An array read by row slices (a memmap, a Zarr array, a
    :class:`skmv._stream.Rows`, an in-memory array) is checked without being
    read: its shape, its number type, ``n_features_in_``. Anything else (a
    list, a data frame) goes through :func:`validate_array`, which converts
    it; it is in memory anyway. Values are checked finite as the chunks are
    read (:func:`skmv._stream.scan`).

    Returns
    -------
    X : 2-D array-like
        Read by row slices with :func:`skmv._stream.read_rows`.
    ctx : ComputeContext
        Where the call computes: where ``X``'s rows live, or ``device``.
    """
    from . import _stream

    if not _stream.streamable(X):
        ctx = B.compute_context(X, device)
        X = validate_array(
            estimator,
            X,
            ctx,
            reset=reset,
            dtype=dtype,
            ensure_all_finite=ensure_all_finite,
            ensure_min_samples=ensure_min_samples,
        )
        return X, ctx
    name = type(estimator).__name__
    n_samples, n_features = (int(n) for n in X.shape)
    if n_samples < ensure_min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={tuple(X.shape)}) "
            f"while a minimum of {ensure_min_samples} is required by {name}."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={tuple(X.shape)}) while a "
            f"minimum of 1 is required by {name}."
        )
    ctx = B.compute_context(_stream.sample(X), device)
    if reset:
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {name} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return X, ctx


def validate_code(estimator, H, ctx, *, n_columns, what, dtype, method):
    """Validate the input of ``inverse_transform``: a code of ``n_columns``.

    The same checks as ``validate_array`` without ``n_features_in_``, which
    describes the other side of the transformer.
    """
    name = type(estimator).__name__
    if B.is_numpy_namespace(ctx.input_xp):
        H = _floating(
            check_array(H, dtype=_numpy_dtypes(dtype), order="C", input_name="X"),
            dtype,
        )
    else:
        H = _check_array_api(estimator, H, dtype, True, 1, f"{name}.{method}")
    if H.shape[1] != n_columns:
        raise ValueError(
            f"{name}.{method} expects arrays with {n_columns} columns ({what}), "
            f"got shape {tuple(H.shape)}."
        )
    return ctx.put(H)


def _numpy_dtypes(dtype):
    return [np.float64, np.float32] if dtype is None else np.dtype(dtype).type


def _floating(X, dtype):
    if dtype is None and X.dtype not in (np.float32, np.float64):
        return X.astype(np.float32)
    return X


def _check_array_api(estimator, X, dtype, ensure_all_finite, ensure_min_samples, who):
    """scikit-learn's ``check_array`` checks, for arrays of any namespace."""
    xp = B.get_namespace(X)
    name = type(estimator).__name__
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D array, got a {X.ndim}D array instead; {name} takes "
            "one row per sample."
        )
    n_samples, n_features = X.shape
    if n_samples < ensure_min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={tuple(X.shape)}) "
            f"while a minimum of {ensure_min_samples} is required by {name}."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={tuple(X.shape)}) while a "
            f"minimum of 1 is required by {name}."
        )
    target = B.resolve_dtype(dtype, X.dtype, xp)
    if X.dtype != target:
        X = xp.astype(X, target)
    if ensure_all_finite and not B.all_finite(X, xp):
        raise ValueError(
            f"Input {who} contains NaN or infinity; {name} needs finite values."
        )
    return X


def check_same_place(estimator, X, ctx, *, attribute, method):
    """Refuse input that lives elsewhere than the fitted arrays (device="auto").

    With ``device="auto"`` skmv never moves arrays behind the caller's back: a
    model fitted on a GPU wants GPU input, until ``to_device`` moves it. An
    explicit ``device="cpu"`` or ``"cuda"`` moves what it needs.
    """
    if ctx.explicit:
        return
    fitted = getattr(estimator, attribute)
    if not B.same_place(fitted, X):
        name = type(estimator).__name__
        raise ValueError(
            f"{name}.{method}() must use the same namespace and device as the "
            f"fitted model: it holds {B.describe(fitted)}, X is {B.describe(X)}. "
            f"Move the model with {name}.to_device('cpu' or 'cuda'), or set "
            "device='cpu' or device='cuda' to convert on each call."
        )


class DeviceMixin:
    """Fitted arrays that pickle as NumPy and move with ``to_device``.

    A model fitted on a GPU holds CuPy arrays; pickling converts them to NumPy,
    so that the file loads and predicts on a machine without a GPU. Arrays are
    found by looking at the fitted attributes (names ending in ``_``) and the
    private state listed in ``_device_state``.
    """

    _device_state: tuple = ()

    def _array_attributes(self):
        for key, value in vars(self).items():
            if key.endswith("_") or key in self._device_state:
                yield key, value

    def __getstate__(self):
        state = super().__getstate__()
        state = dict(state)
        for key, value in list(state.items()):
            if key.endswith("_") or key in self._device_state:
                state[key] = _map_arrays(value, B.to_numpy)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        # A model fitted with device="cuda" and loaded where there is no GPU
        # would refuse every call; its arrays are NumPy already, so it
        # computes where its input lives instead, and says so.
        if getattr(self, "device", None) == "cuda" and not B.cupy_available():
            warnings.warn(
                f"This {type(self).__name__} was saved with device='cuda', and "
                "no CUDA device is available here: it computes on the CPU "
                "(device='auto').",
                UserWarning,
                stacklevel=2,
            )
            self.device = "auto"

    def to_device(self, device):
        """Move the fitted arrays to ``device`` and return self.

        Parameters
        ----------
        device : {"cpu", "cuda"}
            ``"cpu"`` converts to NumPy; ``"cuda"`` to CuPy (needs a GPU).

        Returns
        -------
        self : object
        """
        check_is_fitted(self)
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}.")
        xp = B.compute_context(np.zeros(1), device).xp
        for key, value in list(self._array_attributes()):
            setattr(self, key, _map_arrays(value, lambda a: B.to_namespace(a, xp)))
        for child in self._device_children():
            child.to_device(device)
        return self

    def _device_children(self):
        """Fitted sub-estimators that hold arrays of their own."""
        return ()


def _map_arrays(value, func):
    if isinstance(value, np.ndarray) and value.dtype == object:
        return value  # feature names and other non-numeric arrays stay on the host
    if isinstance(value, np.ndarray) or B.is_array(value):
        return func(value)
    if isinstance(value, list):
        return [_map_arrays(v, func) for v in value]
    if isinstance(value, tuple):
        return tuple(_map_arrays(v, func) for v in value)
    return value
