"""Conversions between seconds, video frames and audio samples.

Every count of frames or samples that skmv derives from a time goes through
these helpers, so that a segment's video and audio agree on how long it is.
Counts are rounded half up (``floor(x + 0.5)``), not half to even as Python's
``round`` does, so that the count of a time never depends on the parity of
its neighbour.
"""

import math

__all__ = ["frames_to_time", "samples_to_time", "time_to_frames", "time_to_samples"]


def _round_half_up(x):
    return int(math.floor(x + 0.5))


def time_to_frames(seconds, *, fps):
    """Number of frames at ``fps`` in a span of ``seconds``, or the index of
    the frame shown at time ``seconds`` when counting from 0.

    Parameters
    ----------
    seconds : float
        Time or duration, in seconds.
    fps : float > 0
        Frame rate, in frames per second.

    Returns
    -------
    n_frames : int
        ``floor(seconds * fps + 0.5)``.

    Examples
    --------
    >>> from skmv.io import time_to_frames
    >>> time_to_frames(6.0, fps=12)
    72
    >>> time_to_frames(1.0, fps=29.97)
    30
    """
    return _round_half_up(seconds * fps)


def frames_to_time(n_frames, *, fps):
    """Time, in seconds, of frame ``n_frames`` at ``fps`` (or the duration of
    that many frames).

    Parameters
    ----------
    n_frames : int or float
        Frame index or count.
    fps : float > 0
        Frame rate, in frames per second.

    Returns
    -------
    seconds : float

    Examples
    --------
    >>> from skmv.io import frames_to_time
    >>> frames_to_time(72, fps=12)
    6.0
    """
    return n_frames / fps


def time_to_samples(seconds, *, sr):
    """Number of audio samples at ``sr`` in a span of ``seconds``, or the
    index of the sample at time ``seconds``.

    Parameters
    ----------
    seconds : float
        Time or duration, in seconds.
    sr : int > 0
        Sampling rate, in Hz.

    Returns
    -------
    n_samples : int
        ``floor(seconds * sr + 0.5)``.

    Examples
    --------
    >>> from skmv.io import time_to_samples
    >>> time_to_samples(6.0, sr=44100)
    264600
    """
    return _round_half_up(seconds * sr)


def samples_to_time(n_samples, *, sr):
    """Time, in seconds, of sample ``n_samples`` at ``sr`` (or the duration of
    that many samples).

    Parameters
    ----------
    n_samples : int or float
        Sample index or count.
    sr : int > 0
        Sampling rate, in Hz.

    Returns
    -------
    seconds : float

    Examples
    --------
    >>> from skmv.io import samples_to_time
    >>> samples_to_time(22050, sr=44100)
    0.5
    """
    return n_samples / sr
