"""Exceptions and warnings raised by skmv."""

__all__ = ["DeviceError", "DivergenceError"]


class DeviceError(RuntimeError):
    """A computation was asked for on a device that is not there.

    Raised when ``device="cuda"`` is requested without CuPy or a CUDA device.
    """


class DivergenceError(ArithmeticError):
    """Training diverged: parameters or the reconstruction error blew up.

    The message names the epoch; a lower ``learning_rate`` is the usual cure.
    """
