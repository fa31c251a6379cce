"""The one place in skmv that knows NumPy from CuPy.

Everything else in skmv computes with an array namespace ``xp`` that this
module hands out (the Python array API standard, through array-api-compat), so
the same code runs on NumPy arrays, on CuPy arrays on a GPU, and on any other
array-API library (the test suite uses array-api-strict to prove it).

Rules kept here:

* the output follows the input: NumPy in, NumPy out; CuPy in, CuPy out;
* ``device="auto"`` computes where the input lives, ``"cuda"`` moves NumPy
  input to the GPU and the result back, ``"cpu"`` does the reverse;
* float32 is the default floating dtype;
* CuPy is imported lazily, only when a GPU is asked for or a CuPy array is
  seen, so that importing skmv never needs a GPU;
* a few hot operations (in-place sigmoid, fused GEMM updates) have a fast path
  for NumPy and CuPy and a plain array-API fallback for everything else.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import array_api_compat
import numpy as np
from sklearn.utils import check_random_state

from .exceptions import DeviceError

__all__ = [
    "ComputeContext",
    "compute_context",
    "cupy_available",
    "device_of",
    "get_namespace",
    "is_array",
    "is_numpy_namespace",
    "make_rng",
    "resolve_dtype",
    "same_place",
    "take",
    "to_numpy",
    "to_namespace",
]

_NUMPY = array_api_compat.array_namespace(np.zeros(1))


# --------------------------------------------------------------------------
# Namespaces and devices
# --------------------------------------------------------------------------


def _import_cupy():
    """Return the cupy module, or None when CuPy or a CUDA device is missing."""
    try:
        import cupy
    except ImportError:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # CUDA driver missing or broken: no usable GPU
        return None
    return cupy


def cupy_available():
    """Whether CuPy is installed and sees at least one CUDA device."""
    return _import_cupy() is not None


def is_array(x):
    """Whether ``x`` is an array of a library that follows the array API."""
    return array_api_compat.is_array_api_obj(x) and not isinstance(x, np.generic)


def get_namespace(*arrays):
    """Array-API namespace of ``arrays``.

    Anything that is not an array-API array (lists, pandas frames, SciPy
    sparse matrices) counts as NumPy input: scikit-learn's own validation then
    converts it or refuses it with its usual message.
    """
    arrays = [a for a in arrays if is_array(a)]
    if not arrays:
        return _NUMPY
    return array_api_compat.array_namespace(*arrays)


def is_numpy_namespace(xp):
    return array_api_compat.is_numpy_namespace(xp)


def is_cupy_namespace(xp):
    return array_api_compat.is_cupy_namespace(xp)


def to_numpy(x):
    """A NumPy copy (or view) of any array-API array; NumPy input as it is."""
    if isinstance(x, np.ndarray) or not is_array(x):
        return x
    if array_api_compat.is_cupy_array(x):
        return x.get()
    # array-api-strict and other libraries: go through DLPack where they can,
    # else through the buffer protocol.
    try:
        return np.from_dlpack(x)
    except Exception:
        return np.asarray(x)


def device_of(x):
    """The device of an array-API array; None for anything else."""
    return array_api_compat.device(x) if is_array(x) else None


def describe(x):
    """Namespace and device of an array, for error messages."""
    xp = get_namespace(x)
    return f"{xp.__name__.replace('array_api_compat.', '')} arrays on {device_of(x)}"


def same_place(a, b):
    """Whether arrays ``a`` and ``b`` share a namespace and a device."""
    return get_namespace(a) is get_namespace(b) and device_of(a) == device_of(b)


def to_namespace(x, xp, device=None):
    """``x`` as an array of namespace ``xp`` on ``device`` (None: the default).

    Arrays already there are returned as they are, without a copy.
    """
    if x is None or not (is_array(x) or isinstance(x, np.ndarray)):
        return x
    if get_namespace(x) is xp and (device is None or device_of(x) == device):
        return x
    if device is None or is_cupy_namespace(xp):
        return xp.asarray(to_numpy(x))
    return xp.asarray(to_numpy(x), device=device)


def take(X, idx, xp, axis=0):
    """Rows (or columns, ``axis=1``) ``idx`` of X, in X's namespace and device.

    ``idx`` is a slice (a view, no copy), integer indices of X's namespace
    and device, or NumPy integer indices, which are moved there first.
    """
    if isinstance(idx, slice):
        return X[idx, :] if axis == 0 else X[:, idx]
    if not is_numpy_namespace(xp):
        idx = idx if is_array(idx) else np.asarray(idx)
        idx = to_namespace(idx, xp, device_of(X))
    return xp.take(X, idx, axis=axis)


def resolve_dtype(dtype, X_dtype, xp):
    """The floating dtype to compute in, as a dtype of namespace ``xp``.

    ``dtype=None`` keeps the input's floating dtype (float32 for anything that
    is not float64); a NumPy dtype or its name picks it explicitly.
    """
    if dtype is None:
        name = "float64" if _np_dtype(X_dtype) == np.float64 else "float32"
    else:
        name = np.dtype(dtype).name
    return getattr(xp, name)


@dataclass(frozen=True)
class ComputeContext:
    """Where one call computes, and how to hand its results back.

    ``xp`` and ``device`` say where the maths runs; ``input_xp`` and
    ``input_device`` where the caller's array came from, which results are
    converted back to. ``explicit`` is False for ``device="auto"``, where
    nothing may be moved behind the caller's back.
    """

    xp: object
    device: object
    input_xp: object
    input_device: object
    explicit: bool

    def put(self, x):
        """Move an array into the compute namespace and device."""
        return to_namespace(x, self.xp, self.device)

    def give(self, x):
        """Move a result back to the caller's namespace and device."""
        return to_namespace(x, self.input_xp, self.input_device)

    @property
    def on_gpu(self):
        return is_cupy_namespace(self.xp)


def compute_context(X, device="auto"):
    """Decide where a call on ``X`` computes, following ``device``.

    Parameters
    ----------
    X : array-like
        The caller's input.
    device : {"auto", "cpu", "cuda"}
        ``"auto"`` computes where ``X`` lives; ``"cpu"`` computes with NumPy;
        ``"cuda"`` computes with CuPy on the current CUDA device.

    Raises
    ------
    DeviceError
        If ``device="cuda"`` and CuPy or a CUDA device is missing.
    """
    input_xp, input_device = get_namespace(X), device_of(X)
    if device == "auto":
        return ComputeContext(input_xp, input_device, input_xp, input_device, False)
    if device == "cpu":
        return ComputeContext(_NUMPY, None, input_xp, input_device, True)
    if device == "cuda":
        cupy = _import_cupy()
        if cupy is None:
            raise DeviceError(
                "device='cuda' needs CuPy and a CUDA device, and none was found. "
                "Install the GPU extra (pip install 'skmv[gpu]') on a machine "
                "with an NVIDIA GPU, or use device='cpu'."
            )
        xp = array_api_compat.array_namespace(cupy.empty(0))
        return ComputeContext(xp, None, input_xp, input_device, True)
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}.")


# --------------------------------------------------------------------------
# Random numbers
# --------------------------------------------------------------------------


class _Random:
    """Uniform and normal draws in namespace ``xp`` from one seed.

    NumPy and CuPy draw natively with their ``Generator``; other namespaces
    draw with NumPy and convert, which is what a namespace without a random
    module needs. Permutations and integers, used to index, always come from a
    NumPy generator on the host.
    """

    def __init__(self, seed, xp, device=None):
        self.xp = xp
        self.device = device
        self._host = np.random.default_rng(seed)
        if is_cupy_namespace(xp):
            import cupy

            self._gen = cupy.random.default_rng(seed)
            self._native = True
        else:
            self._gen = self._host
            self._native = is_numpy_namespace(xp)

    def _out(self, a):
        if self._native:
            return a
        return to_namespace(a, self.xp, self.device)

    def random(self, shape, dtype):
        return self._out(self._gen.random(shape, dtype=_np_dtype(dtype)))

    def normal(self, shape, dtype, scale=1.0):
        a = self._gen.standard_normal(shape, dtype=_np_dtype(dtype))
        if scale != 1.0:
            a *= scale
        return self._out(a)

    def permutation(self, n):
        """Indices 0..n-1 in random order, as a NumPy array."""
        return self._host.permutation(n)

    def integers(self, high):
        return int(self._host.integers(high))


def _np_dtype(dtype):
    """The NumPy dtype of the same name as a dtype of any namespace."""
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(str(dtype).rsplit(".", 1)[-1])


def make_rng(random_state, xp, device=None):
    """One random generator for namespace ``xp``, seeded from ``random_state``.

    ``random_state`` follows scikit-learn: None, an int, or a
    ``numpy.random.RandomState`` (which is advanced, so that successive calls
    with the same instance differ, as scikit-learn estimators expect).
    """
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return _Random(int(seed), xp, device)


# --------------------------------------------------------------------------
# Hot operations with native fast paths
# --------------------------------------------------------------------------


def sigmoid_(x, xp):
    """Logistic sigmoid of ``x``, in place where the namespace allows.

    Written as 0.5 * tanh(0.5 x) + 0.5: NumPy's tanh is vectorised and about
    six times faster than ``scipy.special.expit``, and it cannot overflow.
    """
    if is_numpy_namespace(xp) or is_cupy_namespace(xp):
        x *= 0.5
        _native(xp).tanh(x, out=x)
        x *= 0.5
        x += 0.5
        return x
    return 0.5 * xp.tanh(0.5 * x) + 0.5


def softplus(x, xp):
    """log(1 + exp(x)), stable for large |x|."""
    if is_numpy_namespace(xp) or is_cupy_namespace(xp):
        return _native(xp).logaddexp(x.dtype.type(0), x)
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


def bernoulli_(p, rng, xp):
    """Binary samples with success probabilities ``p``, as floats of p's dtype.

    On NumPy and CuPy the uniform draws are compared in place, so sampling
    allocates a single array.
    """
    u = rng.random(p.shape, p.dtype)
    if is_numpy_namespace(xp) or is_cupy_namespace(xp):
        return _native(xp).less(u, p, out=u)
    return xp.astype(u < p, p.dtype)


def matmul(A, B, xp):
    """``A @ B`` without false floating-point warnings.

    NumPy reads the processor's floating-point status flags after every
    product, and some OpenBLAS kernels set the "invalid" flag on finite inputs
    (it depends on the CPU and the shapes), so ``A @ B`` can warn "invalid
    value encountered in matmul" about a result that is finite. skmv does not
    rely on that warning: inputs are validated finite, and training checks
    that its parameters stay finite (:class:`~skmv.exceptions.DivergenceError`).
    """
    return matmul_(A, B, None, xp)


def matmul_(A, B, out, xp):
    """``A @ B``, written into ``out`` where the namespace allows.

    Training reuses one buffer the size of the weight matrix for its gradient;
    a fresh allocation of that size per mini-batch costs page faults. Like
    :func:`matmul`, it ignores the processor's floating-point flags.
    """
    if is_numpy_namespace(xp):
        with np.errstate(invalid="ignore", over="ignore"):
            return np.matmul(A, B, out=out)
    if out is not None and is_cupy_namespace(xp):
        return _native(xp).matmul(A, B, out=out)
    return A @ B


def momentum_(velocity, momentum, step, xp):
    """``velocity = momentum * velocity + step``, in place where allowed."""
    if is_numpy_namespace(xp) or is_cupy_namespace(xp):
        velocity *= momentum
        velocity += step
        return velocity
    return momentum * velocity + step


def add_(x, y, xp):
    """``x + y``, in place in ``x`` where the namespace allows."""
    if is_numpy_namespace(xp) or is_cupy_namespace(xp):
        x += y
        return x
    return x + y


def scale_(x, a, xp):
    """``a * x``, in place where the namespace allows."""
    if is_numpy_namespace(xp) or is_cupy_namespace(xp):
        x *= a
        return x
    return a * x


def _native(xp):
    """The library module behind a namespace (numpy or cupy itself)."""
    if is_cupy_namespace(xp):
        import cupy

        return cupy
    return np


def all_finite(x, xp):
    """Whether every entry of ``x`` is finite, as a Python bool."""
    if is_numpy_namespace(xp):
        # np.isfinite(x.sum()) is a cheap first check: one pass, no temporary.
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(x.sum()):
                return True
        return bool(np.isfinite(x).all())
    return bool(xp.all(xp.isfinite(x)))


def scalar(x):
    """A Python float from a 0-d array of any namespace."""
    if isinstance(x, numbers.Number):
        return float(x)
    return float(to_numpy(x))
