"""Decoding segments of video (as RGB frames) and audio (as mono samples).

One reader per stream walks the file once, in time order, and hands out
segment after segment; it holds the current decoded frame, the next one and
about one segment of output, whatever the length of the file. Seeks land on
the keyframe before the target (or earlier), and frames before the target are
decoded and dropped, so every segment starts exactly where it says.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Iterable
from fractions import Fraction
from itertools import chain
from numbers import Integral, Real

import av
import numpy as np
import soundfile as sf
from av.video.reformatter import VideoReformatter
from sklearn.utils._param_validation import Interval, validate_params

from ..exceptions import MediaError
from ._probe import (
    audio_stream,
    ffmpeg_message,
    inspect_container,
    open_media,
    video_stream,
)
from ._units import frames_to_time, samples_to_time, time_to_frames, time_to_samples

__all__ = ["iter_audio", "iter_video", "read_audio", "read_video"]

# Timestamps closer than this (seconds) are the same instant: frame times
# such as 1/3 s come out of different time bases with rounding errors.
_TIME_EPS = 1e-6
# A stream may end this many seconds before a segment does (headers and
# streams often disagree by a frame or two); the gap is filled by holding the
# last frame, or with silence. A larger gap is an error: the file is cut short.
_END_TOLERANCE = 0.5
# Seek, rather than decode and drop, to reach a segment further ahead than
# this many seconds.
_SEEK_AHEAD = 5.0
# Audio is decoded from this many seconds before a seek target and dropped up
# to it: transform codecs (AAC, Vorbis, Opus) and the resampler need history.
_AUDIO_PREROLL = 0.2
# Seeks that land after the target are retried this many times, further back,
# before decoding from the start.
_SEEK_TRIES = 3
# Files read with soundfile rather than PyAV (when they have no video), and
# the block size, in frames, read from them at a time.
_SOUNDFILE_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc"}
)
_SOUNDFILE_BLOCK = 1 << 16
# Seconds by which audio timestamps may stray from contiguity before they
# count as a gap (or an overlap) in the stream.
_AUDIO_SLACK = 0.01

_SIZE_CONSTRAINT = [tuple, list, None]


def _check_size(size):
    if size is None:
        return None
    if len(size) != 2 or not all(
        isinstance(n, Integral) and not isinstance(n, bool) and n > 0 for n in size
    ):
        raise ValueError(
            f"size must be None or (width, height) in pixels, two positive "
            f"integers; got {size!r}."
        )
    return int(size[0]), int(size[1])


def _sorted_segments(segments):
    """The segments in time order, after checking their times."""
    segments = list(segments)
    for segment in segments:
        start, duration = segment.start, segment.duration
        if not (math.isfinite(start) and start >= 0):
            raise ValueError(
                f"a segment's start must be a finite number of seconds >= 0; "
                f"got {segment!r}."
            )
        if duration is not None and not (math.isfinite(duration) and duration > 0):
            raise ValueError(
                f"a segment's duration must be a finite number of seconds > 0; "
                f"got {segment!r}."
            )
    return sorted(segments, key=lambda segment: segment.start)


class _Span:
    """A (start, duration) pair for read_video and read_audio."""

    __slots__ = ("start", "duration")

    def __init__(self, start, duration):
        self.start = float(start)
        self.duration = None if duration is None else float(duration)

    def __repr__(self):
        return f"(start={self.start}, duration={self.duration})"


def _check_within(segment, duration, kind, path):
    """Raise if ``segment`` reaches past the end of a stream of ``duration``."""
    end = segment.start + segment.duration
    if end > duration + _END_TOLERANCE:
        raise MediaError(
            path,
            f"the segment {segment.start:.2f}-{end:.2f} s reaches past the end "
            f"of the {kind} stream ({duration:.2f} s)",
        )


class _StreamFrames:
    """Decoded frames of one stream of one file, from any time on.

    ``frames_from(t)`` returns an iterator of ``(time, frame)`` (time in
    seconds from the file's origin) whose first frame starts at or before
    ``t``, unless ``t`` precedes the stream, and whether it decodes from the
    stream's start.
    """

    def __init__(self, path, kind, info, threads=None, preroll=0.0):
        self.path = path
        self.kind = kind
        self.origin = info.start_time
        self._threads = threads
        self._preroll = preroll
        self._container = None
        self._stream = None
        self._pristine = False  # the container sits at the start, unread

    def open(self, container):
        self._container = container
        self._stream = self._select(container)
        self._pristine = True
        self.tick = float(self._stream.time_base or 0)  # timestamp precision

    def close(self):
        if self._container is not None:
            self._container.close()

    def _select(self, container):
        select = video_stream if self.kind == "video" else audio_stream
        stream = select(container)
        if self.kind == "video":
            # Threads help only video decoders; the caller may limit them.
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = self._threads or 0
        return stream

    def _reopen(self):
        # Back to the start: reopening is the one way that works in every
        # container, seekable or not.
        self._container.close()
        self._container = av.open(self.path, metadata_errors="ignore")
        self._stream = self._select(self._container)

    def _decode(self):
        stream, origin = self._stream, self.origin
        rate = snap = None
        if self.kind == "video":
            rate = stream.average_rate or stream.guessed_rate
            rate = float(rate) if rate else None
            # Containers that round timestamps to coarse ticks (Matroska:
            # 1 ms) store a frame due at 1/6 s as 0.167 s; a timestamp within
            # half a tick of the frame-rate grid is put back on it.
            snap = _TIME_EPS + float(stream.time_base or 0) / 2
        t = step = None
        try:
            for packet in self._container.demux(stream):
                for frame in packet.decode():
                    if frame.time is not None:
                        t = frame.time - origin
                    else:  # no timestamp: it follows the previous frame
                        t = 0.0 if t is None else t + step
                    if self.kind == "video":
                        if rate:
                            k = time_to_frames(t, fps=rate)
                            on_grid = frames_to_time(k, fps=rate)
                            if abs(t - on_grid) <= snap:
                                t = on_grid
                        step = frames_to_time(1, fps=rate) if rate else 0.0
                    else:
                        step = samples_to_time(frame.samples, sr=frame.sample_rate)
                    yield t, frame
        except av.FFmpegError as exc:
            where = "" if t is None else f" after {t:.2f} s"
            raise MediaError(
                self.path,
                f"truncated or corrupt {self.kind} stream{where} "
                f"({ffmpeg_message(exc)})",
            ) from None

    def frames_from(self, t):
        if self._pristine and t <= _SEEK_AHEAD:
            self._pristine = False
            return self._decode(), True
        self._pristine = False
        time_base = self._stream.time_base
        target = t - self._preroll
        for _ in range(_SEEK_TRIES):
            if target <= 0:
                break
            try:
                self._container.seek(
                    math.floor((target + self.origin) / time_base),
                    stream=self._stream,
                    backward=True,
                )
            except av.FFmpegError:
                break  # not seekable: decode from the start
            frames = self._decode()
            first = next(frames, None)
            if first is not None and first[0] <= t + _TIME_EPS:
                return chain([first], frames), False
            # Landed after the target (seek by decoding timestamps, or an
            # index that is off): try further back.
            target -= max(1.0, 2 * (t - target))
        self._reopen()
        return self._decode(), True


class _VideoReader:
    """Frames by presentation time: the frame shown at ``t`` is the last one
    whose timestamp is at or before ``t`` (the first one before it)."""

    def __init__(self, frames, info, size):
        self._frames = frames
        self._path = frames.path
        self._size = size or (info.width, info.height)
        self._frame_duration = frames_to_time(1, fps=info.fps) if info.fps else 0.0
        # One scaler for all frames: making one per frame costs 5 times the
        # scaling itself.
        self._reformatter = VideoReformatter()
        self._iter = None
        self._cur = None  # [time, frame, rgb array or None]
        self._cur_is_first = False
        self._nxt = None  # (time, frame), None at the end

    def _restart(self, t):
        self._iter, from_start = self._frames.frames_from(t)
        self._nxt = next(self._iter, None)
        if self._nxt is None:
            raise MediaError(
                self._path,
                "no video frame could be decoded (truncated or corrupt file)",
            )
        self._cur = None
        if from_start or self._nxt[0] > t + _TIME_EPS:
            self._advance()
            self._cur_is_first = from_start

    def _advance(self):
        self._cur = [*self._nxt, None]
        self._nxt = next(self._iter, None)
        self._cur_is_first = False

    def frame_at(self, t):
        """The RGB frame shown at ``t`` seconds, shape (height, width, 3)."""
        cur, nxt = self._cur, self._nxt
        if (
            self._iter is None
            or (t < cur[0] - _TIME_EPS and not self._cur_is_first)
            or (nxt is not None and t - nxt[0] > _SEEK_AHEAD)
        ):
            self._restart(t)
        while self._nxt is not None and self._nxt[0] <= t + _TIME_EPS:
            self._advance()
        cur = self._cur
        if self._nxt is None:
            end = cur[0] + self._frame_duration
            if t > end + _END_TOLERANCE:
                raise MediaError(
                    self._path,
                    f"the video stream ends at {end:.2f} s, before {t:.2f} s "
                    "(truncated or corrupt file)",
                )
        if cur[2] is None:
            width, height = self._size
            rgb = self._reformatter.reformat(
                cur[1], width=width, height=height, format="rgb24", interpolation="AREA"
            )
            cur[2] = rgb.to_ndarray()
        return cur[2]

    def read(self, start, n_frames, fps):
        height_width = self._size[::-1]
        out = np.empty((n_frames, *height_width, 3), dtype=np.uint8)
        for k in range(n_frames):
            out[k] = self.frame_at(start + frames_to_time(k, fps=fps))
        return out


class _SoundfileFrames:
    """Audio frames read with soundfile, in blocks, as PyAV frames (so that
    one resampler serves both backends); time 0 is the first sample."""

    origin = 0.0

    def __init__(self, path, sound_file):
        self.path = path
        self._file = sound_file
        self.tick = samples_to_time(1, sr=sound_file.samplerate)
        self._layout = {1: "mono", 2: "stereo"}.get(
            sound_file.channels, f"{sound_file.channels}c"
        )

    def close(self):
        self._file.close()

    def _blocks(self, first):
        sound_file, rate = self._file, self._file.samplerate
        time_base = Fraction(1, rate)
        try:
            sound_file.seek(first)
            position = first
            while True:
                block = sound_file.read(
                    _SOUNDFILE_BLOCK, dtype="float32", always_2d=True
                )
                if not len(block):
                    return
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(block.T), format="fltp", layout=self._layout
                )
                frame.sample_rate = rate
                frame.pts = position
                frame.time_base = time_base
                yield samples_to_time(position, sr=rate), frame
                position += len(block)
        except (RuntimeError, sf.SoundFileError) as exc:
            raise MediaError(self.path, f"truncated or corrupt audio ({exc})") from None

    def frames_from(self, t):
        first = max(0, time_to_samples(t - _AUDIO_PREROLL, sr=self._file.samplerate))
        first = min(first, self._file.frames)
        return self._blocks(first), first == 0


class _AudioReader:
    """Mono float32 samples at ``sr`` Hz; sample ``i`` is at ``i / sr``
    seconds from the file's origin, silence where the stream has none."""

    def __init__(self, frames, sr):
        self._frames = frames
        self._path = frames.path
        self._sr = sr
        self._iter = None
        self._resampler = None
        self._chunks = deque()  # (first sample index, float32 array)
        self._end = None  # index just past the last decoded sample
        self._avail_from = -math.inf  # earliest index still obtainable
        self._eof = False
        self._slack = max(
            time_to_samples(_AUDIO_SLACK, sr=sr),
            time_to_samples(2 * frames.tick, sr=sr) + 1,
        )

    def _restart(self, first):
        t = samples_to_time(first, sr=self._sr)
        self._iter, from_start = self._frames.frames_from(t)
        self._resampler = None
        self._chunks.clear()
        self._end = None
        self._eof = False
        self._avail_from = -math.inf if from_start else first

    def _pull(self):
        item = next(self._iter, None)
        if item is None:
            self._eof = True
            if self._resampler is None:
                return
            resampled = self._resampler.resample(None)
        else:
            frame = item[1]
            if self._resampler is None:
                # Mono and stereo stay as they are and their channels are
                # averaged below, as librosa.to_mono does (FFmpeg's mono
                # downmix would weigh each stereo channel 1/sqrt(2), not 1/2);
                # surround goes to stereo first with FFmpeg's standard matrix
                # (centre and surrounds at -3 dB, LFE left out).
                layout = (
                    frame.layout.name if frame.layout.nb_channels <= 2 else "stereo"
                )
                self._resampler = av.AudioResampler(
                    format="fltp", layout=layout, rate=self._sr
                )
            resampled = self._resampler.resample(frame)
        for out in resampled:
            samples = out.to_ndarray()
            samples = (
                samples[0]
                if len(samples) == 1
                else samples.mean(axis=0, dtype=np.float32)
            )
            position = self._end
            if out.time is not None:
                at = time_to_samples(out.time - self._frames.origin, sr=self._sr)
                # Timestamps carry the rounding of the container's ticks
                # (Matroska: 1 ms) into the resampler's: keep frames
                # contiguous, and move to a timestamp only on a real gap or
                # overlap.
                if position is None or abs(at - position) > self._slack:
                    position = at
            if position is None:
                position = 0
            self._chunks.append((position, samples))
            self._end = position + len(samples)

    def read(self, first, n_samples):
        """Samples ``first`` to ``first + n_samples``, as float32."""
        if (
            self._iter is None
            or first < self._avail_from
            or (
                self._end is not None
                and first - self._end > time_to_samples(_SEEK_AHEAD, sr=self._sr)
            )
        ):
            self._restart(first)
        stop = first + n_samples
        out = np.zeros(n_samples, dtype=np.float32)
        # Copy samples out as they are decoded, and drop them: memory holds
        # this segment and a frame or two, whatever the length of the file.
        self._drain(out, first, stop)
        while not self._eof and (self._end is None or self._end < stop):
            self._pull()
            self._drain(out, first, stop)
        if self._end is None:
            raise MediaError(
                self._path, "no audio could be decoded (truncated or corrupt file)"
            )
        tolerance = time_to_samples(_END_TOLERANCE, sr=self._sr)
        if self._eof and stop - self._end > tolerance:
            end = samples_to_time(self._end, sr=self._sr)
            wanted = samples_to_time(stop, sr=self._sr)
            raise MediaError(
                self._path,
                f"the audio stream ends at {end:.2f} s, before {wanted:.2f} s "
                "(truncated or corrupt file)",
            )
        return out

    def _drain(self, out, first, stop):
        """Copy decoded samples into ``out`` (samples ``first`` to ``stop``)
        and drop those wholly before ``stop``."""
        for position, samples in self._chunks:
            lo, hi = max(position, first), min(position + len(samples), stop)
            if lo < hi:
                out[lo - first : hi - first] = samples[lo - position : hi - position]
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= stop:
            position, samples = self._chunks.popleft()
            self._avail_from = max(self._avail_from, position + len(samples))


def _iter_video(path, segments, fps, size, threads):
    with open_media(path) as container:
        info = inspect_container(container, path)
        duration = info.span(("video",))
        frames = _StreamFrames(path, "video", info, threads=threads)
        frames.open(container)
        try:
            reader = _VideoReader(frames, info, size)
            for segment in segments:
                span = segment
                if segment.duration is None:
                    span = _Span(segment.start, duration - segment.start)
                _check_within(span, duration, "video", path)
                n_frames = time_to_frames(span.duration, fps=fps)
                yield segment, reader.read(span.start, n_frames, fps)
        finally:
            frames.close()


def _open_soundfile(path):
    try:
        return sf.SoundFile(path)
    except (RuntimeError, sf.SoundFileError):
        return None


def _iter_audio(path, segments, sr):
    with open_media(path) as container:
        info = inspect_container(container, path)
        duration = info.span(("audio",))
        sound_file = None
        if not info.has_video and os.path.splitext(path)[1].lower() in (
            _SOUNDFILE_EXTENSIONS
        ):
            sound_file = _open_soundfile(path)
        if sound_file is not None:
            container.close()
            frames = _SoundfileFrames(path, sound_file)
        else:
            frames = _StreamFrames(path, "audio", info, preroll=_AUDIO_PREROLL)
            frames.open(container)
        try:
            reader = _AudioReader(frames, sr)
            for segment in segments:
                span = segment
                if segment.duration is None:
                    span = _Span(segment.start, duration - segment.start)
                _check_within(span, duration, "audio", path)
                first = time_to_samples(span.start, sr=sr)
                n_samples = time_to_samples(span.duration, sr=sr)
                yield segment, reader.read(first, n_samples)
        finally:
            frames.close()


_VIDEO_CONSTRAINTS = {
    "fps": [Interval(Real, 0, None, closed="neither")],
    "size": _SIZE_CONSTRAINT,
    "threads": [Interval(Integral, 1, None, closed="left"), None],
}
_AUDIO_CONSTRAINTS = {"sr": [Interval(Integral, 1, None, closed="left")]}
_SPAN_CONSTRAINTS = {
    "start": [Interval(Real, 0, None, closed="left")],
    "duration": [Interval(Real, 0, None, closed="neither"), None],
}


@validate_params(
    {"path": [str, os.PathLike], "segments": [Iterable], **_VIDEO_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def iter_video(path, segments, *, fps=12, size=(320, 240), threads=None):
    """Decode the video of segments of one file, in one pass.

    The file is opened when iteration starts and decoded once, in time
    order; each segment's frames are yielded as soon as they are complete,
    so memory holds about one segment whatever the length of the file.

    Frames are taken by presentation time: the frame of the output at time
    ``t`` is the last decoded frame whose timestamp is at or before ``t``,
    with ``t = segment.start + k / fps`` for ``k = 0 .. n_frames - 1``
    (frames are dropped or repeated to reach ``fps``), then scaled to
    ``size`` with FFmpeg's area-averaging scaler.

    Parameters
    ----------
    path : str or os.PathLike
        A media file with a video stream.
    segments : iterable of Segment
        Spans of this file (any objects with ``start`` and ``duration``, in
        seconds from the file's origin, see :class:`MediaInfo`). They are
        decoded in order of ``start``, whatever their order here.
    fps : float > 0, default=12
        Output frame rate, in frames per second.
    size : (int, int) or None, default=(320, 240)
        Output ``(width, height)``, in pixels; the aspect ratio is not kept.
        None keeps the file's frame size.
    threads : int >= 1 or None, default=None
        Decoder threads; None lets FFmpeg choose (about one per core). Pass 1
        where files are decoded in parallel processes.

    Yields
    ------
    segment : Segment
        The segment, as given.
    frames : ndarray of shape (n_frames, height, width, 3), dtype uint8
        RGB frames, ``n_frames = time_to_frames(segment.duration, fps=fps)``;
        ``frames[k]`` is shown at ``segment.start + k / fps`` seconds.

    Raises
    ------
    MediaError
        If the file cannot be opened, has no decodable video stream, a
        segment reaches past its end, or the stream turns out truncated or
        corrupt while decoding. A file without any video stream raises
        the subclass :class:`~skmv.exceptions.MissingStreamError`.

    See Also
    --------
    read_video : One span.
    iter_audio : The same for audio.
    segment_media : Make the segments.

    Examples
    --------
    >>> import tempfile
    >>> from skmv.datasets import moving_bars, write_media
    >>> from skmv.io import iter_video, segment_media
    >>> path = write_media(tempfile.mkdtemp() + "/bars.mp4",
    ...                    video=moving_bars(100, size=(64, 48)), fps=25)
    >>> segments = segment_media(path, seconds=2.0, streams=["video"])
    >>> for segment, frames in iter_video(path, segments, fps=12, size=(32, 24)):
    ...     print(segment.start, frames.shape)
    0.0 (24, 24, 32, 3)
    2.0 (24, 24, 32, 3)
    """
    size = _check_size(size)
    return _iter_video(os.fspath(path), _sorted_segments(segments), fps, size, threads)


@validate_params(
    {"path": [str, os.PathLike], "segments": [Iterable], **_AUDIO_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def iter_audio(path, segments, *, sr=44100):
    """Decode the audio of segments of one file, in one pass, as mono.

    The file is opened when iteration starts and decoded once, in time
    order; each segment's samples are yielded as soon as they are complete,
    so memory holds about one segment whatever the length of the file.
    Audio-only ``.wav``, ``.flac``, ``.ogg`` and ``.aiff`` files are read
    with soundfile, everything else with PyAV. Samples are resampled to
    ``sr`` with FFmpeg's resampler, then channels are averaged (as
    ``librosa.to_mono`` does); surround is first mixed down to stereo with
    FFmpeg's standard matrix (centre and surrounds at -3 dB, LFE left out).

    Parameters
    ----------
    path : str or os.PathLike
        A media file with an audio stream.
    segments : iterable of Segment
        Spans of this file (any objects with ``start`` and ``duration``, in
        seconds from the file's origin, see :class:`MediaInfo`). They are
        decoded in order of ``start``, whatever their order here.
    sr : int > 0, default=44100
        Output sampling rate, in Hz.

    Yields
    ------
    segment : Segment
        The segment, as given.
    y : ndarray of shape (n_samples,), dtype float32
        Mono samples, ``n_samples = time_to_samples(segment.duration, sr=sr)``;
        ``y[i]`` is at ``segment.start + i / sr`` seconds. Where the audio
        stream starts late or ends a little early, the gap is silence.

    Raises
    ------
    MediaError
        If the file cannot be opened, has no decodable audio stream, a
        segment reaches past its end, or the stream turns out truncated or
        corrupt while decoding. A file without any audio stream raises
        the subclass :class:`~skmv.exceptions.MissingStreamError`.

    See Also
    --------
    read_audio : One span.
    iter_video : The same for video.

    Examples
    --------
    >>> import tempfile
    >>> from skmv.datasets import tone, write_media
    >>> from skmv.io import Segment, iter_audio
    >>> path = write_media(tempfile.mkdtemp() + "/a4.flac",
    ...                    audio=tone(440.0, 3.0, sr=22050), sr=22050)
    >>> segments = [Segment(path, 0.0, 1.5), Segment(path, 1.5, 1.5)]
    >>> [y.shape for _, y in iter_audio(path, segments, sr=8000)]
    [(12000,), (12000,)]
    """
    return _iter_audio(os.fspath(path), _sorted_segments(segments), sr)


@validate_params(
    {"path": [str, os.PathLike], **_SPAN_CONSTRAINTS, **_VIDEO_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def read_video(
    path, start=0.0, duration=None, *, fps=12, size=(320, 240), threads=None
):
    """Decode the video of one span of a file.

    Parameters
    ----------
    path : str or os.PathLike
        A media file with a video stream.
    start : float >= 0, default=0.0
        Start, in seconds from the file's origin.
    duration : float > 0 or None, default=None
        Length, in seconds; None reads to the end of the video stream
        (mind the memory: a 4-minute video at 12 fps and 320x240 is 660 MB).
    fps : float > 0, default=12
        Output frame rate, in frames per second.
    size : (int, int) or None, default=(320, 240)
        Output ``(width, height)``, in pixels; None keeps the file's size.
    threads : int >= 1 or None, default=None
        Decoder threads; None lets FFmpeg choose.

    Returns
    -------
    frames : ndarray of shape (n_frames, height, width, 3), dtype uint8
        RGB frames; ``frames[k]`` is the frame shown at ``start + k / fps``
        seconds, and ``n_frames = time_to_frames(duration, fps=fps)``.

    Raises
    ------
    MediaError
        As :func:`iter_video`.

    See Also
    --------
    iter_video : Many spans of one file in one pass.

    Examples
    --------
    >>> import tempfile
    >>> from skmv.datasets import moving_bars, write_media
    >>> from skmv.io import read_video
    >>> path = write_media(tempfile.mkdtemp() + "/bars.mkv",
    ...                    video=moving_bars(75, size=(64, 48)), fps=25,
    ...                    video_codec="mpeg4")
    >>> read_video(path, 0.5, 2.0, fps=10, size=None).shape
    (20, 48, 64, 3)
    """
    size = _check_size(size)
    segments = [_Span(start, duration)]
    ((_, frames),) = _iter_video(os.fspath(path), segments, fps, size, threads)
    return frames


@validate_params(
    {"path": [str, os.PathLike], **_SPAN_CONSTRAINTS, **_AUDIO_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def read_audio(path, start=0.0, duration=None, *, sr=44100):
    """Decode the audio of one span of a file, as mono.

    Parameters
    ----------
    path : str or os.PathLike
        A media file with an audio stream.
    start : float >= 0, default=0.0
        Start, in seconds from the file's origin.
    duration : float > 0 or None, default=None
        Length, in seconds; None reads to the end of the audio stream.
    sr : int > 0, default=44100
        Output sampling rate, in Hz.

    Returns
    -------
    y : ndarray of shape (n_samples,), dtype float32
        Mono samples (channels averaged, surround mixed to stereo first, as
        in :func:`iter_audio`); ``y[i]`` is at ``start + i / sr`` seconds,
        and ``n_samples = time_to_samples(duration, sr=sr)``.

    Raises
    ------
    MediaError
        As :func:`iter_audio`.

    See Also
    --------
    iter_audio : Many spans of one file in one pass.

    Examples
    --------
    >>> import tempfile
    >>> from skmv.datasets import tone, write_media
    >>> from skmv.io import read_audio
    >>> path = write_media(tempfile.mkdtemp() + "/a4.wav",
    ...                    audio=tone(440.0, 2.0, sr=44100, channels=2))
    >>> y = read_audio(path, 0.5, 1.0, sr=22050)
    >>> y.shape, y.dtype
    ((22050,), dtype('float32'))
    """
    segments = [_Span(start, duration)]
    ((_, y),) = _iter_audio(os.fspath(path), segments, sr)
    return y
