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
from ._probe import STREAM_KINDS, _check_streams, probe

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
    modalities : sequence of {"video", "audio"}, default=("video", "audio")
        The modalities the segment has: ``("audio",)`` for a piece of a
        song, ``("video",)`` for silent footage; a str names one. Stored as
        a tuple in the order video, audio. The featurizers do not decode a
        modality a segment lacks: they give its row NaN (``missing="nan"``)
        or raise (``missing="error"``).

    Raises
    ------
    ValueError
        If ``modalities`` is empty, repeats a modality or names another.

    Examples
    --------
    >>> from skmv.io import Segment
    >>> Segment("mv.mp4", 6.0, 6.0)
    Segment(path='mv.mp4', start=6.0, duration=6.0, clip='mv.mp4',
            modalities=('video', 'audio'))
    >>> Segment("mv.mp4", 6.0, 6.0).end
    12.0
    >>> Segment("song.mp3", 0.0, 6.0, modalities=["audio"]).modalities
    ('audio',)
    """

    path: str
    start: float
    duration: float
    clip: str = None
    modalities: tuple = STREAM_KINDS

    def __post_init__(self):
        object.__setattr__(self, "path", os.fspath(self.path))
        if self.clip is None:
            object.__setattr__(self, "clip", self.path)
        object.__setattr__(self, "modalities", _check_modalities(self.modalities))

    @property
    def end(self):
        """End, in seconds from the file's origin."""
        return self.start + self.duration


def _check_modalities(modalities):
    """``modalities`` as a tuple in the order video, audio, after checking it."""
    items = (modalities,) if isinstance(modalities, str) else modalities
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    if (
        not items
        or any(not isinstance(kind, str) or kind not in STREAM_KINDS for kind in items)
        or len(set(items)) != len(items)
    ):
        raise ValueError(
            "a Segment's modalities must be a non-empty sequence of distinct "
            f"'video' and 'audio'; got {modalities!r}."
        )
    return tuple(kind for kind in STREAM_KINDS if kind in items)


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
    """``(modalities, seconds)``: the streams a file's segments have, and the
    span they all cover."""
    if isolate:
        info = call_isolated(probe, path, path=path, timeout=_PROBE_TIMEOUT)
    else:
        info = probe(path)
    if streams is None:
        # A stream that is there but cannot be decoded is damage, not a
        # missing modality: an MV whose picture is broken is no song.
        for _, problem in info.stream_errors:
            raise MediaError(path, problem)
        streams = info.streams
    return tuple(dict.fromkeys(streams)), info.span(streams)


@validate_params(
    {
        "paths": [str, os.PathLike, Iterable],
        "seconds": [Interval(Real, 0, None, closed="neither")],
        "keep_last": ["boolean"],
        "streams": [str, Iterable, None],
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
    streams=None,
    recursive=True,
    extensions=None,
    on_error="raise",
    isolate=True,
):
    """Cut media files into back-to-back segments of ``seconds``.

    Each file is probed once (its streams and their durations, nothing
    decoded) and cut from its time origin into segments without overlap or
    gap, over the span that all of its streams cover, so that the audio and
    the video of a segment cover the same time. These segments are the
    samples (rows) of skmv's featurizers. Music videos, songs (audio only)
    and silent footage (video only) may be mixed: each segment's
    ``modalities`` says which it has.

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
    streams : sequence of {"video", "audio"} or None, default=None
        None takes whatever streams each file has, video, audio or both:
        the segments cover the shortest of them, and their ``modalities``
        are those streams. A sequence names the streams every file must
        have (a file without one of them is an error); the segments cover
        the shortest of those, and their ``modalities`` are exactly
        ``streams``. A str names one stream.
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
        ``clip`` is the file's path and ``modalities`` the streams the
        segment has. Its ``skipped`` attribute lists ``(path, reason)`` for
        the files skipped.

    Raises
    ------
    MediaError
        With ``on_error="raise"``, for the first file that is missing,
        empty, truncated or corrupt (a video or audio stream that cannot be
        decoded included), not media, without one of ``streams`` (a
        :class:`~skmv.exceptions.MissingStreamError`), or shorter than one
        segment (and for a directory without media).

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
    >>> song = write_media(folder + "/song.ogg", audio=tone(330.0, 3.0), sr=44100)
    >>> import os
    >>> segments = segment_media(folder, seconds=2.0)
    >>> [(os.path.basename(s.path), s.start, s.modalities) for s in segments]
    [('mv.mp4', 0.0, ('video', 'audio')), ('mv.mp4', 2.0, ('video', 'audio')),
     ('song.ogg', 0.0, ('audio',))]
    >>> segment_media(song, seconds=2.0, streams=("video", "audio"))
    Traceback (most recent call last):
    ...
    skmv.exceptions.MissingStreamError: .../song.ogg: no video stream
    >>> open(folder + "/empty.mp4", "wb").close()
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     segments = segment_media(folder, seconds=2.0, on_error="skip")
    >>> print(caught[0].message)
    skipped 1 of 3 files: .../empty.mp4 (empty file (0 bytes))
    >>> len(segments), segments.skipped
    (3, [('.../empty.mp4', 'empty file (0 bytes)')])
    """
    if streams is not None:
        streams = _check_streams(streams)
    extensions = _normalize_extensions(extensions)
    segments = SegmentList()
    n_files = 0
    for path, error in _find_files(paths, recursive, extensions):
        n_files += 1
        try:
            if error is not None:
                raise error
            modalities, span = _probe_span(path, streams, isolate)
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
        segments.extend(
            Segment(path, start, duration, modalities=modalities)
            for start, duration in times
        )
    if segments.skipped:
        listing = "; ".join(f"{path} ({reason})" for path, reason in segments.skipped)
        warnings.warn(
            f"skipped {len(segments.skipped)} of {n_files} files: {listing}",
            MediaWarning,
            stacklevel=3,  # the caller of validate_params' wrapper
        )
    return segments
