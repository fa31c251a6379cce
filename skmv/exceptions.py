"""Exceptions and warnings raised by skmv."""

__all__ = ["DeviceError", "DivergenceError", "MediaError", "MissingStreamError"]


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


class MissingStreamError(MediaError):
    """A media file has no stream of the kind needed: no video in a song, no
    audio in silent footage.

    A :class:`MediaError` (so ``except MediaError`` still catches it) that
    tells a missing modality, which the featurizers may turn into NaN rows
    (``missing="nan"``), from a damaged file, which they may not.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    kind : {"video", "audio"}
        The stream it lacks.
    reason : str, default=None
        What is wrong, in words; None means ``"no {kind} stream"``.

    Examples
    --------
    >>> from skmv.exceptions import MediaError, MissingStreamError
    >>> error = MissingStreamError("song.mp3", "video")
    >>> print(error)
    song.mp3: no video stream
    >>> isinstance(error, MediaError), error.kind
    (True, 'video')
    """

    def __init__(self, path, kind, reason=None):
        self.kind = kind
        super().__init__(path, f"no {kind} stream" if reason is None else reason)

    def __reduce__(self):
        return type(self), (self.path, self.kind, self.reason)
