"""Opening media files and reading what they hold, with errors that name the
file and the cause."""

from __future__ import annotations

import os
import re
import stat
from contextlib import contextmanager
from dataclasses import dataclass

import av

from ..exceptions import MediaError, MissingStreamError

__all__ = ["MediaInfo", "probe"]

STREAM_KINDS = ("video", "audio")


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds, as read from its headers by :func:`probe`.

    Times are in seconds on the file's own timeline, counted from its time
    origin ``start_time``: the start of the video stream when there is one,
    else that of the audio stream. Segment times (``Segment.start``) and the
    decoders of :mod:`skmv.io` count from the same origin, so the audio and
    the video of a segment cover the same span.

    Attributes
    ----------
    path : str
        The file.
    format : str
        Container format, as FFmpeg names it (e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"``).
    duration : float
        Seconds from the origin to the end of the longest usable stream.
    start_time : float
        The origin, in seconds on the file's clock (0 for most files).
    has_video, has_audio : bool
        Whether the file has a decodable stream of that kind (cover art
        attached to an audio file does not count as video).
    video_duration, audio_duration : float or None
        Seconds from the origin to the end of that stream; None without one.
        From the stream's header, or its ``DURATION`` tag (Matroska), else
        the container's duration.
    fps : float or None
        Average frame rate, in frames per second.
    n_frames : int or None
        Number of video frames according to the header, when it says.
    width, height : int or None
        Frame size, in pixels.
    video_codec, audio_codec : str or None
        Decoder names (e.g. ``"h264"``, ``"aac"``).
    sample_rate : int or None
        Audio sampling rate, in Hz.
    channels : int or None
        Number of audio channels.
    stream_errors : tuple of (str, str)
        ``(kind, reason)`` for each stream that is present but cannot be
        decoded; :meth:`span` raises with that reason when it is needed.

    See Also
    --------
    probe : Make one.
    """

    path: str
    format: str
    duration: float
    start_time: float = 0.0
    has_video: bool = False
    has_audio: bool = False
    video_duration: float | None = None
    audio_duration: float | None = None
    fps: float | None = None
    n_frames: int | None = None
    width: int | None = None
    height: int | None = None
    video_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    audio_codec: str | None = None
    stream_errors: tuple = ()

    def span(self, streams=STREAM_KINDS):
        """Seconds that all of ``streams`` cover, from the origin.

        Parameters
        ----------
        streams : sequence of {"video", "audio"}, default=("video", "audio")
            The streams needed.

        Returns
        -------
        seconds : float
            The shortest of their durations.

        Raises
        ------
        MissingStreamError
            If the file has no stream of one of ``streams`` (a
            :class:`~skmv.exceptions.MediaError`).
        MediaError
            If one of ``streams`` is there but cannot be decoded.
        """
        durations = []
        for kind in _check_streams(streams):
            if not getattr(self, f"has_{kind}"):
                problem = dict(self.stream_errors).get(kind)
                if problem is None:
                    raise MissingStreamError(self.path, kind)
                raise MediaError(self.path, problem)
            durations.append(getattr(self, f"{kind}_duration"))
        return min(durations)

    @property
    def streams(self):
        """The kinds of usable stream the file has, in the order video,
        audio: ``("video", "audio")``, ``("audio",)`` or ``("video",)``.

        Examples
        --------
        >>> import tempfile
        >>> from skmv.datasets import tone, write_media
        >>> from skmv.io import probe
        >>> song = write_media(tempfile.mkdtemp() + "/song.ogg", audio=tone(440.0, 1.0))
        >>> probe(song).streams
        ('audio',)
        """
        return tuple(kind for kind in STREAM_KINDS if getattr(self, f"has_{kind}"))


def _check_streams(streams):
    if isinstance(streams, str):
        streams = (streams,)
    streams = tuple(streams)
    if not streams or any(kind not in STREAM_KINDS for kind in streams):
        raise ValueError(
            f"streams must be a non-empty sequence of 'video' and 'audio'; "
            f"got {streams!r}."
        )
    return streams


def probe(path):
    """Read the duration and the streams of a media file.

    The file is opened once with PyAV (FFmpeg) and nothing is decoded beyond
    what FFmpeg needs to identify the streams.

    Parameters
    ----------
    path : str or os.PathLike
        A media file: any container and codec FFmpeg reads (mp4, mkv, webm,
        avi, mov, ogg, wav, flac, mp3, ...).

    Returns
    -------
    info : MediaInfo
        Durations in seconds, frame rate in frames per second, sampling rate
        in Hz.

    Raises
    ------
    MediaError
        If the path is missing, a directory or not a regular file, the file
        is empty, not media, or so damaged that FFmpeg cannot open it, or it
        has neither a decodable video nor a decodable audio stream. The
        message names the file and the cause.

    See Also
    --------
    segment_media : Cut files into segments, probing each one.

    Examples
    --------
    >>> import tempfile
    >>> from skmv.datasets import moving_bars, tone, write_media
    >>> from skmv.io import probe
    >>> path = write_media(tempfile.mkdtemp() + "/clip.mp4",
    ...                    video=moving_bars(50, size=(64, 48)), fps=25,
    ...                    audio=tone(440.0, 2.0, channels=2), sr=44100)
    >>> info = probe(path)
    >>> info.has_video, info.has_audio, info.fps, (info.width, info.height)
    (True, True, 25.0, (64, 48))
    >>> info.video_codec, info.audio_codec, info.sample_rate, info.channels
    ('h264', 'aac', 44100, 2)
    >>> round(info.video_duration, 3)
    2.0
    """
    with open_media(path) as container:
        return inspect_container(container, os.fspath(path))


def check_file(path):
    """Raise a MediaError unless ``path`` is a non-empty regular file.

    Special files (pipes, devices) are refused: FFmpeg would block on them.
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MediaError(path, "no such file or directory") from None
    except OSError as exc:
        raise MediaError(path, f"cannot access the file ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError(path, "is a directory, not a media file")
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(path, "not a regular file (a pipe, socket or device)")
    if st.st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise MediaError(path, "cannot read the file (permission denied)")


def ffmpeg_message(exc):
    """The cause in an FFmpeg error, without the errno and the file name."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


@contextmanager
def open_media(path):
    """Open ``path`` with PyAV for reading, mapping every failure to a
    MediaError; the container is closed on exit."""
    check_file(path)
    path = os.fspath(path)
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise MediaError(
            path, f"not a media file, or truncated or corrupt ({ffmpeg_message(exc)})"
        ) from None
    except OSError as exc:
        raise MediaError(path, f"cannot open the file ({exc})") from None
    try:
        yield container
    finally:
        container.close()


def video_stream(container):
    """The first video stream that is not cover art, or None."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def audio_stream(container):
    """The first audio stream, or None."""
    streams = container.streams.audio
    return streams[0] if streams else None


def _seconds(value, time_base):
    return float(value * time_base)


def _stream_problem(stream, kind):
    # PyAV issue 2344: a stream without a codec context (a bitstream cut
    # inside its first frame, or an unknown codec) segfaults on decode.
    if stream.codec_context is None:
        return (
            f"the {kind} stream cannot be decoded (no codec parameters: "
            "truncated or corrupt file, or unknown codec)"
        )
    if kind == "video" and not (stream.codec_context.width and stream.width):
        return "the video stream has no frame size (truncated or corrupt file)"
    if kind == "audio" and not stream.codec_context.sample_rate:
        return "the audio stream has no sampling rate (truncated or corrupt file)"
    return None


# Matroska muxers (FFmpeg's, mkvmerge) tag each stream with its duration.
_DURATION_TAG = re.compile(r"^(\d+):(\d{2}):(\d{2}(?:\.\d*)?)$")


def _tagged_duration(stream):
    """Seconds in a stream's ``DURATION`` tag ("HH:MM:SS.nnnnnnnnn"), or None."""
    match = _DURATION_TAG.match(stream.metadata.get("DURATION", "").strip())
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return 3600 * int(hours) + 60 * int(minutes) + float(seconds)


def inspect_container(container, path):
    """Build the MediaInfo of an open container (see :func:`probe`)."""
    video = video_stream(container)
    audio = audio_stream(container)
    problems = {}
    for kind, stream in (("video", video), ("audio", audio)):
        if stream is not None:
            problem = _stream_problem(stream, kind)
            if problem is not None:
                problems[kind] = problem
    usable = {
        kind: stream
        for kind, stream in (("video", video), ("audio", audio))
        if stream is not None and kind not in problems
    }
    if not usable:
        raise MediaError(
            path,
            "; ".join(problems.values()) or "no video or audio stream (not media)",
        )

    container_start = (
        container.start_time / av.time_base if container.start_time is not None else 0.0
    )
    container_end = (
        container_start + container.duration / av.time_base
        if container.duration is not None
        else None
    )

    def start_of(stream):
        if stream.start_time is not None and stream.time_base:
            return _seconds(stream.start_time, stream.time_base)
        return container_start

    def end_of(stream):
        if stream.duration and stream.time_base:
            return start_of(stream) + _seconds(stream.duration, stream.time_base)
        duration = _tagged_duration(stream)
        if duration is not None:
            return start_of(stream) + duration
        return container_end

    origin = start_of(usable.get("video", usable.get("audio")))
    durations = {}
    for kind, stream in usable.items():
        end = end_of(stream)
        if end is None or end - origin <= 0:
            raise MediaError(path, f"the {kind} stream has an unknown or zero duration")
        durations[kind] = end - origin

    fields = {}
    if "video" in usable:
        rate = video.average_rate or video.guessed_rate or video.base_rate
        fields.update(
            video_duration=durations["video"],
            fps=float(rate) if rate else None,
            n_frames=video.frames or None,
            width=video.codec_context.width,
            height=video.codec_context.height,
            video_codec=video.codec_context.name,
        )
    if "audio" in usable:
        fields.update(
            audio_duration=durations["audio"],
            sample_rate=audio.codec_context.sample_rate,
            channels=audio.codec_context.layout.nb_channels,
            audio_codec=audio.codec_context.name,
        )
    return MediaInfo(
        path=path,
        format=container.format.name,
        duration=max(durations.values()),
        start_time=origin,
        has_video="video" in usable,
        has_audio="audio" in usable,
        stream_errors=tuple(problems.items()),
        **fields,
    )
