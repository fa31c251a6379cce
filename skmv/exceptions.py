"""Exceptions and warnings raised by skmv."""

__all__ = ["DeviceError", "DivergenceError", "MediaError"]


class DeviceError(RuntimeError):
    """A computation was asked for on a device that is not there.

    Raised when ``device="cuda"`` is requested without CuPy or a CUDA device.
    """


class DivergenceError(ArithmeticError):
    """Training diverged: parameters or the reconstruction error blew up.

    The message names the epoch; a lower ``learning_rate`` is the usual cure.
    """


class MediaError(ValueError):
    """A media file cannot be used: missing, empty, corrupt, not media, without
    the needed stream, or too short.

    The message names the file and the cause; both are also attributes.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    reason : str
        What is wrong with it, in words.
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):
        # Keep (path, reason) across processes: batch decoding runs in workers.
        return type(self), (self.path, self.reason)
