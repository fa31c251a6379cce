"""Cutting media files into back-to-back segments: the samples of skmv."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ..exceptions import MediaError
from ._isolate import call_isolated
from ._probe import _check_streams, probe

__all__ = [
    "MEDIA_EXTENSIONS",
    "MediaWarning",
    "Segment",
    "SegmentList",
    "segment_media",
]

# What a directory is searched for (lower case; matched case-insensitively).
MEDIA_EXTENSIONS = frozenset(
    {
        # video containers
        ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".flv", ".wmv",
        ".mpg", ".mpeg", ".ts", ".m2ts", ".mts", ".3gp", ".ogv", ".vob",
        # audio
        ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac",
        ".aif", ".aiff", ".wma",
    }
)  # fmt: skip
# A trailing piece shorter than this (seconds) is rounding, not media.
_MIN_PIECE = 1e-3
# Seconds a probe may take in its worker before the file counts as hanging.
_PROBE_TIMEOUT = 60.0


class MediaWarning(UserWarning):
    """Media files were skipped; the message names each one and the cause."""


@dataclass(frozen=True)
class Segment:
    """A span of one media file: the sample of skmv's featurizers.

    Parameters
    ----------
    path : str
        The file.
    start : float
        Start, in seconds from the file's time origin (see
        :class:`MediaInfo`); the audio and the video of a segment cover the
        same span.
    duration : float
        Length, in seconds.
    clip : str, default=None
        Identifier of the clip (music video) the segment belongs to, used
        as ``groups`` so that no clip is split across training and test
        sets; None means ``path``.

    Examples
    --------
    >>> from skmv.io import Segment
    >>> Segment("mv.mp4", 6.0, 6.0)
    Segment(path='mv.mp4', start=6.0, duration=6.0, clip='mv.mp4')
    >>> Segment("mv.mp4", 6.0, 6.0).end
    12.0
    """

    path: str
    start: float
    duration: float
    clip: str = None

    def __post_init__(self):
        object.__setattr__(self, "path", os.fspath(self.path))
        if self.clip is None:
            object.__setattr__(self, "clip", self.path)

    @property
    def end(self):
        """End, in seconds from the file's origin."""
        return self.start + self.duration


class SegmentList(list):
    """A list of :class:`Segment` that also records the files left out.

    Attributes
    ----------
    skipped : list of (str, str)
        ``(path, reason)`` for each file that :func:`segment_media` skipped
        with ``on_error="skip"``, in the order met; empty otherwise.
    """

    def __init__(self, segments=(), skipped=()):
        super().__init__(segments)
        self.skipped = list(skipped)

    @property
    def clips(self):
        """The ``clip`` of each segment, in order: ``groups`` for
        scikit-learn's group-aware splitters."""
        return [segment.clip for segment in self]


def _segment_times(span, seconds, keep_last):
    """Starts and durations of back-to-back segments of a ``span``."""
    # The tolerance keeps a span of 12.000000001 s from making a third,
    # empty segment, and one of 11.999999999 s from losing its second.
    n_full = math.floor(span / seconds + 1e-9)
    times = [(k * seconds, seconds) for k in range(n_full)]
    rest = span - n_full * seconds
    if keep_last and rest >= _MIN_PIECE:
        times.append((n_full * seconds, rest))
    return times


def _normalize_extensions(extensions):
    if extensions is None:
        return MEDIA_EXTENSIONS
    if isinstance(extensions, str):
        extensions = [extensions]
    return frozenset(
        ext.lower() if ext.startswith(".") else "." + ext.lower() for ext in extensions
    )


def _find_files(paths, recursive, extensions):
    """Yield ``(path, error)``: each file of ``paths``, with directories
    expanded (sorted, to be reproducible), or a MediaError for a directory
    without media."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for path in paths:
        path = os.fspath(path)
        if not os.path.isdir(path):
            yield path, None
            continue
        found = False
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                if os.path.splitext(name)[1].lower() in extensions:
                    found = True
                    yield os.path.join(root, name), None
            if not recursive:
                break
        if not found:
            where = "under" if recursive else "in"
            yield (
                path,
                MediaError(
                    path,
                    f"no media files {where} this directory (extensions: "
                    f"{', '.join(sorted(extensions))})",
                ),
            )


def _probe_span(path, streams, isolate):
    if isolate:
        info = call_isolated(probe, path, path=path, timeout=_PROBE_TIMEOUT)
    else:
        info = probe(path)
    return info.span(streams)


@validate_params(
    {
        "paths": [str, os.PathLike, Iterable],
        "seconds": [Interval(Real, 0, None, closed="neither")],
        "keep_last": ["boolean"],
        "streams": [str, Iterable],
        "recursive": ["boolean"],
        "extensions": [str, Iterable, None],
        "on_error": [StrOptions({"raise", "skip"})],
        "isolate": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def segment_media(
    paths,
    seconds=6.0,
    *,
    keep_last=False,
    streams=("video", "audio"),
    recursive=True,
    extensions=None,
    on_error="raise",
    isolate=True,
):
    """Cut media files into back-to-back segments of ``seconds``.

    Each file is probed once (its streams and their durations, nothing
    decoded) and cut from its time origin into segments without overlap or
    gap, over the span that all of ``streams`` cover, so that the audio and
    the video of a segment cover the same time. These segments are the
    samples (rows) of skmv's featurizers.

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        Media files and directories, mixed. Directories are searched for
        files with one of ``extensions``, in sorted order.
    seconds : float > 0, default=6.0
        Length of a segment, in seconds (the paper's 6 s).
    keep_last : bool, default=False
        Keep the trailing piece of each file shorter than ``seconds`` (as a
        shorter segment) rather than drop it. A file shorter than one
        segment is an error unless this is True.
    streams : sequence of {"video", "audio"}, default=("video", "audio")
        The streams every file must have; the segments cover the shortest.
    recursive : bool, default=True
        Search directories' subdirectories too.
    extensions : iterable of str or None, default=None
        File extensions searched for in directories (``".mp4"`` or
        ``"mp4"``, any case); None means :data:`MEDIA_EXTENSIONS`. Files
        named in ``paths`` are taken whatever their extension.
    on_error : {"raise", "skip"}, default="raise"
        On a file that cannot be used: raise its
        :class:`~skmv.exceptions.MediaError`, or skip it, record it in the
        result's ``skipped`` and say so in one :class:`MediaWarning` at the
        end.
    isolate : bool, default=True
        Probe each file in a worker process (see :func:`call_isolated`), so
        that a file that crashes FFmpeg or hangs is one file's error;
        costs about a second once, then a fraction of a millisecond a file.

    Returns
    -------
    segments : SegmentList of Segment
        A list, file after file in the order of ``paths``, then by time;
        ``clip`` is the file's path. Its ``skipped`` attribute lists
        ``(path, reason)`` for the files skipped.

    Raises
    ------
    MediaError
        With ``on_error="raise"``, for the first file that is missing,
        empty, truncated or corrupt, not media, without one of ``streams``,
        or shorter than one segment (and for a directory without media).

    Warns
    -----
    MediaWarning
        With ``on_error="skip"``, once, naming every file skipped and why.

    See Also
    --------
    iter_video, iter_audio : Decode the segments of a file in one pass.
    probe : The streams and durations of one file.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from skmv.datasets import moving_bars, tone, write_media
    >>> from skmv.io import segment_media
    >>> folder = tempfile.mkdtemp()
    >>> path = write_media(folder + "/mv.mp4", video=moving_bars(125, size=(64, 48)),
    ...                    fps=25, audio=tone(440.0, 5.0), sr=44100)
    >>> segments = segment_media(folder, seconds=2.0)
    >>> [(s.start, s.duration) for s in segments]
    [(0.0, 2.0), (2.0, 2.0)]
    >>> open(folder + "/empty.mp4", "wb").close()
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     segments = segment_media(folder, seconds=2.0, on_error="skip")
    >>> print(caught[0].message)
    skipped 1 of 2 files: .../empty.mp4 (empty file (0 bytes))
    >>> len(segments), segments.skipped
    (2, [('.../empty.mp4', 'empty file (0 bytes)')])
    """
    streams = _check_streams(streams)
    extensions = _normalize_extensions(extensions)
    segments = SegmentList()
    n_files = 0
    for path, error in _find_files(paths, recursive, extensions):
        n_files += 1
        try:
            if error is not None:
                raise error
            span = _probe_span(path, streams, isolate)
            times = _segment_times(span, seconds, keep_last)
            if not times:
                raise MediaError(
                    path,
                    f"shorter than one segment ({span:.2f} s < {seconds:g} s)",
                )
        except MediaError as exc:
            if on_error == "raise":
                raise
            segments.skipped.append((exc.path, exc.reason))
            continue
        segments.extend(Segment(path, start, duration) for start, duration in times)
    if segments.skipped:
        listing = "; ".join(f"{path} ({reason})" for path, reason in segments.skipped)
        warnings.warn(
            f"skipped {len(segments.skipped)} of {n_files} files: {listing}",
            MediaWarning,
            stacklevel=3,  # the caller of validate_params' wrapper
        )
    return segments
