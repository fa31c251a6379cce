"""The self-contained HTML report: see and hear what a retrieval found.

A :class:`Report` collects sections (paragraphs, tables, plots and query
results) and :meth:`Report.write` saves them as one HTML file that opens in
any browser, offline: the key frames are JPEG images, the audio players play
Opus in WebM, and the plots are PNG images, all embedded as ``data:`` URIs;
the page loads nothing from a server, the network or the disk beside it.

A query result shows the query span and its matches in rank order: for each
span, ``n_frames`` key frames of its video (evenly spaced over the span,
about 160 pixels wide) or, for a span without video, a strip of its music
(a log-frequency spectrogram over the waveform's envelope); an audio player
of exactly the span (its first ``max_audio_seconds`` at most) when it has
audio; its file name and time range; and, for a match, its distance and a
mark when it is known to be right or wrong.

Spans are decoded with :mod:`skmv.io` in a separate process
(:func:`skmv.io.call_isolated`), once for every ``(path, start, end)``
however often they appear. A file that cannot be read (missing, damaged, a
decoder that crashes) is shown as a placeholder naming the file and the
reason, and the report goes on.

The module knows nothing of the command line: it makes the pages of ``skmv
retrieve --report`` (:mod:`skmv.cli`) and of the demo (:mod:`skmv.demo`).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import math
import os
import struct
from fractions import Fraction
from numbers import Integral, Real

import numpy as np

from ._files import write_atomic
from .exceptions import MediaError

__all__ = ["Match", "MediaSpan", "Report"]

_MODALITIES = ("video", "audio")
# Audio players: Opus (in PyAV's wheels, unlike Vorbis) at the rate Opus
# works at, in WebM rather than Ogg, the container that more browsers play.
_AUDIO_SR = 48000
_AUDIO_MIME = "audio/webm"
# JPEG quantiser scale of the key frames and strips (2 best .. 31 worst):
# 5 is visually clean at 160 pixels: about 1.5 kB a generated frame, 3.5-4.5
# kB a photograph.
_JPEG_QUALITY = 5
# The music strip of a span without video: spectrogram rows over envelope
# rows, in pixels; the spectrogram's frequency range in Hz, log-spaced, and
# its dynamic range in dB.
_STRIP_HEIGHTS = (64, 24)
_STRIP_HZ = (40.0, 16000.0)
_STRIP_DB = 70.0
_STRIP_FFT = 2048
# A perceptually ordered colour map for the spectrogram (magma, sampled),
# from silence to the loudest bin.
_COLOURS = np.array(
    [
        [0, 0, 4],
        [28, 16, 68],
        [79, 18, 123],
        [129, 37, 129],
        [181, 54, 122],
        [229, 80, 100],
        [251, 135, 97],
        [254, 194, 135],
        [252, 253, 191],
    ],
    dtype=np.float64,
)
# Seconds a stream may end before a span does, as the decoders allow.
_END_TOLERANCE = 0.5
# Seconds a worker may take for one span before it counts as hung.
_DECODE_TIMEOUT = 120.0
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


# ----------------------------------------------------------------------------
# What is shown
# ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MediaSpan:
    """A span of a media file, in seconds, and the modalities to show of it.

    Parameters
    ----------
    path : str or os.PathLike
        The media file (stored as a string).
    start, end : float
        The span, in seconds from the file's origin (as
        :class:`skmv.io.Segment` counts them), ``0 <= start < end``.
    modalities : tuple of {"video", "audio"} or str, default=("video", "audio")
        What the span has, or what to show of it: ``("audio",)`` for a song,
        ``("video",)`` for silent footage. A string such as ``"video,audio"``
        (as features files record a row's modalities) is split at commas.
        Stored in the order ``("video", "audio")``.
    label : str or None, default=None
        A short text shown with the span (a class, a clip's name).

    Attributes
    ----------
    duration : float
        ``end - start``, in seconds.

    Examples
    --------
    >>> from skmv.report import MediaSpan
    >>> span = MediaSpan("song.mp3", 12.0, 18.0, modalities="audio")
    >>> span.modalities, span.duration
    (('audio',), 6.0)
    """

    path: str
    start: float
    end: float
    modalities: tuple = _MODALITIES
    label: str | None = None

    def __post_init__(self):
        try:
            path = os.fspath(self.path)
        except TypeError:
            raise TypeError(
                f"MediaSpan: path must be a str or os.PathLike; got {self.path!r}."
            ) from None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        start, end = self.start, self.end
        for name, value in (("start", start), ("end", end)):
            if (
                not isinstance(value, Real)
                or isinstance(value, bool)
                or not math.isfinite(value)
            ):
                raise ValueError(
                    f"MediaSpan of {path}: {name} must be a finite number of "
                    f"seconds; got {value!r}."
                )
        if not 0 <= start < end:
            raise ValueError(
                f"MediaSpan of {path}: needs 0 <= start < end; got start={start!r}, "
                f"end={end!r}."
            )
        modalities = self.modalities
        if isinstance(modalities, str):
            modalities = modalities.split(",")
        modalities = tuple(str(m).strip() for m in modalities)
        if (
            not modalities
            or not set(modalities) <= set(_MODALITIES)
            or len(set(modalities)) != len(modalities)
        ):
            raise ValueError(
                f"MediaSpan of {path}: modalities must be 'video', 'audio' or "
                f"both, each once; got {self.modalities!r}."
            )
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "start", float(start))
        object.__setattr__(self, "end", float(end))
        object.__setattr__(
            self, "modalities", tuple(m for m in _MODALITIES if m in modalities)
        )
        if self.label is not None:
            object.__setattr__(self, "label", str(self.label))

    @property
    def duration(self):
        return self.end - self.start


@dataclasses.dataclass(frozen=True)
class Match:
    """An item a query retrieved: a span, its distance, and whether it is
    right.

    Parameters
    ----------
    span : MediaSpan
        The retrieved span.
    distance : float
        Its distance (or score) to the query, as the retriever gave it.
    correct : bool or None, default=None
        Whether it is a true match (shown as a tick or a cross); None when
        unknown (no mark).

    Examples
    --------
    >>> from skmv.report import Match, MediaSpan
    >>> Match(MediaSpan("clip.mp4", 0.0, 6.0), 0.25, correct=True).correct
    True
    """

    span: MediaSpan
    distance: float
    correct: bool | None = None

    def __post_init__(self):
        if not isinstance(self.span, MediaSpan):
            raise TypeError(
                f"Match: span must be a MediaSpan; got {type(self.span).__name__} "
                f"{self.span!r}."
            )
        distance = self.distance
        if not isinstance(distance, Real) or isinstance(distance, bool):
            raise TypeError(
                f"Match of {self.span.path}: distance must be a number; got "
                f"{distance!r}."
            )
        object.__setattr__(self, "distance", float(distance))
        if self.correct is not None:
            if not isinstance(self.correct, (bool, np.bool_)):
                raise TypeError(
                    f"Match of {self.span.path}: correct must be True, False or "
                    f"None; got {self.correct!r}."
                )
            object.__setattr__(self, "correct", bool(self.correct))


# ----------------------------------------------------------------------------
# Decoding and encoding (run in a worker process)
# ----------------------------------------------------------------------------


def _encode_jpeg(rgb, width):
    """JPEG bytes of an RGB image scaled to ``width`` pixels (height in
    proportion, both even for the 4:2:0 chroma), and its (width, height)."""
    import av

    h, w = rgb.shape[:2]
    width = max(2, int(width) // 2 * 2)
    height = max(2, round(width * h / w / 2) * 2)
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    frame = frame.reformat(
        width=width, height=height, format="yuvj420p", interpolation="AREA"
    )
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    codec.time_base = Fraction(1, 1)
    codec.qmin = codec.qmax = _JPEG_QUALITY
    data = b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)])
    return data, (width, height)


def _encode_opus(y, bitrate):
    """Mono float samples at 48 kHz as Opus in WebM bytes."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as container:
        # Constrained VBR keeps the size near the bitrate (plain VBR ran 40 %
        # over on music).
        stream = container.add_stream(
            "libopus", rate=_AUDIO_SR, options={"vbr": "constrained"}
        )
        stream.layout = "mono"
        stream.bit_rate = int(bitrate)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(y[np.newaxis], dtype=np.float32),
            format="flt",
            layout="mono",
        )
        frame.sample_rate = _AUDIO_SR
        frame.pts = 0
        frame.time_base = Fraction(1, _AUDIO_SR)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buffer.getvalue()


def _colour(values):
    """RGB uint8 of ``values`` in [0, 1] through the colour map."""
    x = np.clip(values, 0.0, 1.0) * (len(_COLOURS) - 1)
    i = np.minimum(x.astype(int), len(_COLOURS) - 2)
    t = (x - i)[..., np.newaxis]
    return np.rint(_COLOURS[i] * (1 - t) + _COLOURS[i + 1] * t).astype(np.uint8)


def _music_strip(y, sr, width):
    """An RGB image of ``y``: a log-frequency spectrogram (time left to right,
    pitch upwards) over the envelope of the waveform, ``width`` columns."""
    spec_height, wave_height = _STRIP_HEIGHTS
    n = len(y)
    y = np.pad(y, (0, max(0, _STRIP_FFT - n)))
    # One analysis window centred on each column's share of the span.
    centres = (np.arange(width) + 0.5) * (n / width)
    starts = np.clip(centres.astype(np.int64) - _STRIP_FFT // 2, 0, len(y) - _STRIP_FFT)
    windows = y[starts[:, np.newaxis] + np.arange(_STRIP_FFT)] * np.hanning(_STRIP_FFT)
    magnitude = np.abs(np.fft.rfft(windows, axis=1))  # (width, bins)
    # Rows on a log-frequency axis: each the loudest bin of its band (a
    # band narrower than a bin takes the bin it falls in).
    hz_per_bin = sr / _STRIP_FFT
    top = min(_STRIP_HZ[1], sr / 2)
    edges = np.geomspace(_STRIP_HZ[0], top, spec_height + 1) / hz_per_bin
    lo = np.floor(edges[:-1]).astype(int)
    hi = np.maximum(lo + 1, np.ceil(edges[1:]).astype(int))
    bands = np.stack(
        [magnitude[:, a:b].max(axis=1) for a, b in zip(lo, hi)], axis=1
    )  # (width, spec_height), low to high
    loudest = bands.max()
    if loudest > 0:
        db = 20 * np.log10(np.maximum(bands / loudest, 1e-12))
        level = 1 + np.maximum(db, -_STRIP_DB) / _STRIP_DB
    else:
        level = np.zeros_like(bands)
    spectrogram = _colour(level.T[::-1])  # high frequencies on top
    # The envelope: each column's peak amplitude, drawn about the middle.
    edges = np.linspace(0, n, width + 1).astype(np.int64)
    peak = np.array(
        [np.abs(y[a:b]).max() if b > a else 0.0 for a, b in zip(edges, edges[1:])]
    )
    peak = np.clip(peak / max(peak.max(), 1e-9), 0, 1)
    rows = np.abs(np.arange(wave_height) - (wave_height - 1) / 2)[:, np.newaxis]
    lit = rows <= peak[np.newaxis] * (wave_height / 2)
    wave = np.where(lit[..., np.newaxis], _COLOURS[5], _COLOURS[1])
    return np.concatenate([spectrogram, wave.astype(np.uint8)], axis=0)


def _render_media(
    path, start, end, parts, *, n_frames, frame_width, max_audio, bitrate
):
    """The encoded pieces of one span, run in a worker process.

    ``parts`` names what to make: ``"frames"`` (key frames of the video),
    ``"strip"`` (the music strip) and ``"audio"`` (the player's Opus). Each
    comes back as its encoded form, or as the MediaError that stopped it, so
    that a file without video still gets its audio.
    """
    from .io import Segment, iter_video, probe, read_audio

    try:
        info = probe(path)
    except MediaError as exc:
        return {part: exc for part in parts}

    def check(kind):
        # The whole span, in the user's terms (the decoders would name the
        # pieces they were asked for).
        length = info.span((kind,))
        if end > length + _END_TOLERANCE:
            raise MediaError(
                path,
                f"the span {start:.2f}-{end:.2f} s reaches past the end of the "
                f"{kind} ({length:.2f} s)",
            )

    duration = end - start
    out = {}
    if "frames" in parts:
        # One frame in the middle of each n_frames-th of the span, each the
        # single frame of a 10 ms segment, all in one pass over the file.
        times = [start + (k + 0.5) * duration / n_frames for k in range(n_frames)]
        spans = [Segment(path, t, 0.01, modalities=("video",)) for t in times]
        try:
            check("video")
            decoded = [f for _, f in iter_video(path, spans, fps=100, size=None)]
        except MediaError as exc:
            out["frames"] = exc
        else:
            out["frames"] = [
                (t, *_encode_jpeg(frames[0], frame_width))
                for t, frames in zip(times, decoded)
            ]
    if "strip" in parts or "audio" in parts:
        heard = min(duration, max_audio)
        try:
            check("audio")
            y = read_audio(
                path, start, duration if "strip" in parts else heard, sr=_AUDIO_SR
            )
        except MediaError as exc:
            out.update({part: exc for part in ("strip", "audio") if part in parts})
        else:
            if "strip" in parts:
                width = n_frames * frame_width
                out["strip"] = _encode_jpeg(_music_strip(y, _AUDIO_SR, width), width)
            if "audio" in parts:
                n = min(len(y), int(round(heard * _AUDIO_SR)))
                out["audio"] = (_encode_opus(y[:n], bitrate), n / _AUDIO_SR)
    return out


def _render_isolated(path, start, end, parts, **options):
    """:func:`_render_media` in a worker process: a decoder that crashes or
    hangs costs the one span, as a MediaError for each of its parts."""
    from .io import call_isolated

    try:
        return call_isolated(
            _render_media,
            path,
            start,
            end,
            parts,
            path=path,
            timeout=_DECODE_TIMEOUT,
            **options,
        )
    except MediaError as exc:
        return {part: exc for part in parts}


# ----------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------

_CSS = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --card: #fff;
  --page: #f3f4f7; --good: #1a7f37; --bad: #c62828; --accent: #3b4a9c; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--page); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { background: var(--ink); color: #fff; padding: 18px 28px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
header p { margin: 4px 0 0; color: #c9cfdb; }
main { max-width: 1180px; margin: 0 auto; padding: 18px 28px 40px; }
section { background: var(--card); border: 1px solid var(--line);
  border-radius: 8px; padding: 14px 18px; margin: 0 0 18px; }
h2 { margin: 0 0 10px; font-size: 17px; font-weight: 600; }
h2 .direction { color: var(--muted); font-weight: 400; font-size: 14px; }
p { margin: 0 0 8px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 12px; border-bottom: 1px solid var(--line);
  text-align: left; }
th { font-weight: 600; } td.number { text-align: right; }
figure { margin: 0; } figure img { max-width: 100%; height: auto; }
.item { display: flex; flex-wrap: wrap; gap: 14px; align-items: center;
  padding: 8px 0; }
.query-item { border-bottom: 2px solid var(--line); padding-bottom: 12px; }
.matches { list-style: none; margin: 0; padding: 0; }
.matches .item { border-bottom: 1px solid var(--line); }
.matches .item:last-child { border-bottom: 0; }
.rank { width: 40px; text-align: right; color: var(--muted);
  font-weight: 600; flex: none; }
.query-item .rank { font-size: 12px; text-transform: uppercase;
  letter-spacing: 0.04em; color: var(--accent); }
.visual { display: flex; gap: 2px; flex: none; }
.visual img { display: block; border-radius: 3px; }
.info { display: flex; flex-direction: column; gap: 4px; flex: 1 1 180px;
  min-width: 0; }
.file { font-weight: 600; overflow-wrap: anywhere; }
.details { color: var(--muted); font-size: 14px; }
.label { color: var(--accent); }
.mark { font-weight: 700; margin-right: 4px; }
.correct .mark { color: var(--good); } .incorrect .mark { color: var(--bad); }
.correct { box-shadow: inset 4px 0 0 var(--good); }
.incorrect { box-shadow: inset 4px 0 0 var(--bad); }
audio { width: 100%; max-width: 320px; height: 36px; }
.missing { display: flex; align-items: center; padding: 10px 14px;
  background: #fff4e5; border: 1px dashed #e0a040; border-radius: 4px;
  color: #7a4b00; font-size: 14px; }
footer { color: var(--muted); font-size: 13px; text-align: center;
  padding: 0 0 24px; }
"""


def _escape(text):
    return html.escape(str(text), quote=True)


def _data_uri(mime, data):
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _seconds(value):
    """``12``, ``12.5``, ``1.25``: seconds with at most 2 decimals."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _time_range(span):
    return f"{_seconds(span.start)}\u2013{_seconds(span.end)} s"


def _format_cell(value):
    """A table cell: numbers formatted (4 significant digits), text as is."""
    if value is None:
        return "", False
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)), False
    if isinstance(value, Integral):
        return f"{int(value):d}", True
    if isinstance(value, Real):
        value = float(value)
        if math.isfinite(value) and 1e4 <= abs(value) < 1e15:
            return f"{value:.0f}", True
        return f"{value:.4g}", True
    return str(value), False


def _png_size(data):
    """(width, height) of PNG bytes, from the IHDR chunk."""
    return struct.unpack(">II", data[16:24])


class Report:
    """A self-contained HTML page of retrieval results: key frames, audio
    players, tables and plots.

    Sections appear in the order they are added. Media are decoded and
    encoded when a query is added (each ``(path, start, end)`` once), so
    :meth:`write` only assembles the page.

    Parameters
    ----------
    title : str
        The page's title and heading.
    subtitle : str or None, default=None
        A line under the title (the model and the database, say).
    n_frames : int >= 1, default=4
        Key frames shown per span with video, evenly spaced over the span.
    max_audio_seconds : float > 0, default=30.0
        The longest audio a player holds: a longer span plays its first
        ``max_audio_seconds``.
    frame_width : int >= 16, default=160
        Width of the key frames, in pixels (the height keeps the picture's
        proportions); the music strip of a span without video is
        ``n_frames * frame_width`` wide.
    audio_bitrate : int >= 6000, default=24000
        Opus bitrate of the players, in bits per second: about 18 kB (24 kB
        embedded) per 6 seconds at the default.

    Attributes
    ----------
    media_errors : list of MediaError
        The spans that could not be shown, once per file and reason, in the
        order met; each is a placeholder on the page.

    See Also
    --------
    skmv.cli : ``skmv retrieve --report`` writes one of these.

    Notes
    -----
    A page of 10 queries with 10 matches each, 6-second spans with video and
    audio, weighs 4.1 MB with the defaults (measured in skmv's tests on
    generated music videos): about 36 kB a span, four fifths of it audio.
    Photographs make key frames of about 4 kB rather than 1.5 kB, which
    brings the same page nearer 6 MB.

    Examples
    --------
    >>> import tempfile
    >>> from skmv.datasets import moving_bars, tone, write_media
    >>> from skmv.report import Match, MediaSpan, Report
    >>> folder = tempfile.mkdtemp()
    >>> clip = write_media(folder + "/clip.mp4", video=moving_bars(48),
    ...                    fps=12, audio=tone(440.0, 4.0), sr=44100)
    >>> report = Report("Which video goes with this music?", n_frames=2)
    >>> report.add_query(MediaSpan(clip, 0.0, 2.0, modalities="audio"),
    ...                  [Match(MediaSpan(clip, 0.0, 2.0), 0.12, correct=True),
    ...                   Match(MediaSpan(clip, 2.0, 4.0), 0.56, correct=False)])
    >>> report.add_table("Precision", ["N", "P@N"], [[1, 0.5], [10, 1.0]])
    >>> report.write(folder + "/report.html")  # doctest: +ELLIPSIS
    '.../report.html'
    >>> report.media_errors
    []
    """

    def __init__(
        self,
        title,
        *,
        subtitle=None,
        n_frames=4,
        max_audio_seconds=30.0,
        frame_width=160,
        audio_bitrate=24000,
    ):
        for name, value, low in (
            ("n_frames", n_frames, 1),
            ("frame_width", frame_width, 16),
            ("audio_bitrate", audio_bitrate, 6000),
        ):
            if (
                not isinstance(value, Integral)
                or isinstance(value, bool)
                or value < low
            ):
                raise ValueError(
                    f"Report: {name} must be an int >= {low}; got {value!r}."
                )
        if (
            not isinstance(max_audio_seconds, Real)
            or isinstance(max_audio_seconds, bool)
            or not max_audio_seconds > 0
            or not math.isfinite(max_audio_seconds)
        ):
            raise ValueError(
                f"Report: max_audio_seconds must be a number of seconds > 0; "
                f"got {max_audio_seconds!r}."
            )
        self.title = str(title)
        self.subtitle = None if subtitle is None else str(subtitle)
        self.n_frames = int(n_frames)
        self.max_audio_seconds = float(max_audio_seconds)
        self.frame_width = int(frame_width)
        self.audio_bitrate = int(audio_bitrate)
        self.media_errors = []
        self._sections = []
        self._n_queries = 0
        # (absolute path, start, end) -> {part: encoded piece or MediaError}
        self._media = {}

    # ------------------------------------------------------------------
    # Sections
    # ------------------------------------------------------------------

    def add_text(self, heading, text):
        """Add a section of text.

        Parameters
        ----------
        heading : str or None
            The section's heading; None for none.
        text : str
            Plain text (not HTML: it is escaped); a blank line starts a new
            paragraph.
        """
        paragraphs = [p.strip() for p in str(text).split("\n\n") if p.strip()]
        body = "".join(f"<p>{_escape(' '.join(p.split()))}</p>" for p in paragraphs)
        self._sections.append(
            f'<section class="text">{self._heading(heading)}{body}</section>'
        )

    def add_table(self, title, header, rows):
        """Add a table.

        Parameters
        ----------
        title : str or None
            The table's heading; None for none.
        header : list of str
            Column names.
        rows : list of list
            One list per row, as long as ``header``. Text is shown as it is
            (escaped); numbers are right-aligned, ints in full and floats to
            4 significant digits (format them beforehand for another
            precision); None is an empty cell.
        """
        header = [str(name) for name in header]
        lines = []
        for i, row in enumerate(rows):
            row = list(row)
            if len(row) != len(header):
                raise ValueError(
                    f"add_table {title!r}: rows[{i}] has {len(row)} cell(s), the "
                    f"header {len(header)}."
                )
            cells = []
            for value in row:
                text, number = _format_cell(value)
                css = ' class="number"' if number else ""
                cells.append(f"<td{css}>{_escape(text)}</td>")
            lines.append(f"<tr>{''.join(cells)}</tr>")
        head = "".join(f"<th>{_escape(name)}</th>" for name in header)
        self._sections.append(
            f'<section class="table">{self._heading(title)}<table><thead><tr>'
            f"{head}</tr></thead><tbody>{''.join(lines)}</tbody></table></section>"
        )

    def add_image(self, title, image):
        """Add an image: a plot, say.

        Parameters
        ----------
        title : str or None
            The image's heading (and its alternative text); None for none.
        image : matplotlib.figure.Figure or bytes
            A figure, saved as PNG (at its own dpi, cropped to what it
            draws), or the bytes of a PNG or JPEG image.
        """
        if hasattr(image, "savefig"):
            buffer = io.BytesIO()
            image.savefig(buffer, format="png", bbox_inches="tight")
            image = buffer.getvalue()
        if not isinstance(image, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"add_image {title!r}: image must be a matplotlib Figure or the "
                f"bytes of a PNG or JPEG image; got {type(image).__name__}."
            )
        image = bytes(image)
        if image.startswith(_PNG_MAGIC):
            mime, size = "image/png", _png_size(image)
        elif image.startswith(_JPEG_MAGIC):
            mime, size = "image/jpeg", None
        else:
            raise ValueError(
                f"add_image {title!r}: image bytes are neither PNG nor JPEG "
                f"(they start with {image[:8]!r})."
            )
        dims = "" if size is None else f' width="{size[0]}" height="{size[1]}"'
        alt = _escape(title or "image")
        self._sections.append(
            f'<section class="image">{self._heading(title)}<figure>'
            f'<img src="{_data_uri(mime, image)}" alt="{alt}"{dims}></figure>'
            "</section>"
        )

    def add_query(self, query, matches, *, title=None):
        """Add a query and its matches, in rank order.

        The query's span and each match's are shown with key frames (or the
        music strip), an audio player when they have audio, their file name
        and time range; matches add their distance and, when known, a mark.

        Parameters
        ----------
        query : MediaSpan
            What was queried with: a span of the query modality, say
            ``MediaSpan(path, start, end, modalities=("audio",))``.
        matches : list of Match
            What it retrieved, best first.
        title : str or None, default=None
            The section's heading; None for ``"Query <n>: <file> <start>-<end>
            s"``.
        """
        if not isinstance(query, MediaSpan):
            raise TypeError(
                f"add_query: query must be a MediaSpan; got {type(query).__name__} "
                f"{query!r}."
            )
        matches = list(matches)
        for i, match in enumerate(matches):
            if not isinstance(match, Match):
                raise TypeError(
                    f"add_query: matches[{i}] must be a Match; got "
                    f"{type(match).__name__} {match!r}."
                )
        self._n_queries += 1
        n = self._n_queries
        if title is None:
            title = f"Query {n}: {os.path.basename(query.path)} {_time_range(query)}"
        items = [
            '<div class="item query-item"><div class="rank">query</div>'
            f"{self._span_html(query)}</div>"
        ]
        rows = []
        for rank, match in enumerate(matches, start=1):
            if match.correct is None:
                css, mark = "", ""
            elif match.correct:
                css, mark = " correct", '<span class="mark" title="correct">✓</span>'
            else:
                css = " incorrect"
                mark = '<span class="mark" title="incorrect">✗</span>'
            extra = f"{mark}distance {match.distance:.6g}"
            rows.append(
                f'<li class="item match{css}" data-rank="{rank}">'
                f'<div class="rank">{rank}</div>'
                f"{self._span_html(match.span, extra)}</li>"
            )
        items.append(f'<ol class="matches">{"".join(rows)}</ol>')
        self._sections.append(
            f'<section class="query" id="query-{n}" data-matches="{len(matches)}">'
            f"{self._heading(title)}{''.join(items)}</section>"
        )

    # ------------------------------------------------------------------
    # Output
    # ------------------------------------------------------------------

    def to_html(self):
        """The page, as a string (what :meth:`write` saves).

        Returns
        -------
        html : str
        """
        from . import __version__

        subtitle = "" if self.subtitle is None else f"<p>{_escape(self.subtitle)}</p>"
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="generator" content="skmv {_escape(__version__)}">\n'
            f"<title>{_escape(self.title)}</title>\n<style>{_CSS}</style>\n"
            f"</head>\n<body>\n<header><h1>{_escape(self.title)}</h1>{subtitle}"
            "</header>\n<main>\n"
            + "\n".join(self._sections)
            + f"\n</main>\n<footer>Made with skmv {_escape(__version__)}: every "
            "picture and sound is in this file.</footer>\n</body>\n</html>\n"
        )

    def write(self, path):
        """Save the page as one HTML file.

        The file is written under a temporary name in the same folder, then
        renamed over ``path``: readers see the old file or the new one, and
        an interrupted run leaves no truncated page.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (``report.html``); its folder must exist.

        Returns
        -------
        path : str
            ``path``, as a string.
        """
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise FileNotFoundError(
                f"{path}: cannot write the report there, no such directory {directory}"
            )
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path}: is a directory; give a file name")
        page = self.to_html().encode("utf-8")

        def write(partial):
            with open(partial, "wb") as f:
                f.write(page)

        write_atomic(path, write)
        return path

    # ------------------------------------------------------------------
    # Pieces
    # ------------------------------------------------------------------

    @staticmethod
    def _heading(text):
        return "" if text is None else f"<h2>{_escape(text)}</h2>"

    def _render(self, span):
        """The encoded pieces of ``span`` (decoded once per path and times)."""
        key = (os.path.abspath(span.path), span.start, span.end)
        pieces = self._media.setdefault(key, {})
        # In the order of the page: the picture (or the strip), the player.
        wanted = ["frames" if "video" in span.modalities else "strip"]
        if "audio" in span.modalities:
            wanted.append("audio")
        missing = tuple(part for part in wanted if part not in pieces)
        if missing:
            pieces.update(
                _render_isolated(
                    span.path,
                    span.start,
                    span.end,
                    missing,
                    n_frames=self.n_frames,
                    frame_width=self.frame_width,
                    max_audio=self.max_audio_seconds,
                    bitrate=self.audio_bitrate,
                )
            )
            for part in missing:
                error = pieces[part]
                if isinstance(error, MediaError) and not any(
                    (e.path, e.reason) == (error.path, error.reason)
                    for e in self.media_errors
                ):
                    self.media_errors.append(error)
        return {part: pieces[part] for part in wanted}

    def _placeholder(self, span, what, *errors, wide=True):
        """A box that names the file and says why ``what`` (or the whole
        span, for ``""``) cannot be shown; ``wide``: as wide as the key
        frames it stands for."""
        name = os.path.basename(span.path) or span.path
        reasons = "; ".join(dict.fromkeys(error.reason for error in errors))
        width = self.n_frames * self.frame_width
        style = f' style="width: {width}px"' if wide else ""
        return (
            f'<div class="missing" role="note" title="{_escape(span.path)}"{style}>'
            f"⚠ {_escape(name)}: {what}{' ' if what else ''}cannot be shown: "
            f"{_escape(reasons)}</div>"
        )

    def _span_html(self, span, extra=""):
        """The visual (frames or strip), the text and the player of a span."""
        pieces = self._render(span)
        name = os.path.basename(span.path) or span.path
        kind = "frames" if "frames" in pieces else "strip"
        shown, audio = pieces[kind], pieces.get("audio")
        failed = [p for p in pieces.values() if isinstance(p, MediaError)]
        if len(failed) == len(pieces):
            # Nothing of it can be shown: one placeholder says why.
            visual = self._placeholder(span, "", *failed)
            audio = None
        elif isinstance(shown, MediaError):
            what = "its video" if kind == "frames" else "its music"
            visual = self._placeholder(span, what, shown)
        elif kind == "frames":
            visual = "".join(
                f'<img src="{_data_uri("image/jpeg", data)}" width="{w}" '
                f'height="{h}" alt="{_escape(name)} at {_seconds(t)} s">'
                for t, data, (w, h) in shown
            )
        else:
            data, (w, h) = shown
            visual = (
                f'<img class="strip" src="{_data_uri("image/jpeg", data)}" '
                f'width="{w}" height="{h}" alt="spectrogram and waveform of '
                f'{_escape(name)} {_time_range(span)}">'
            )
        player = ""
        if isinstance(audio, MediaError):
            player = self._placeholder(span, "its audio", audio, wide=False)
        elif audio is not None:
            data, seconds = audio
            player = (
                f'<audio controls preload="auto" data-seconds="{seconds:.6f}" '
                f'src="{_data_uri(_AUDIO_MIME, data)}"></audio>'
            )
            if seconds < span.duration - 1e-6:
                player += (
                    f'<span class="details">plays the first {_seconds(seconds)} '
                    "s</span>"
                )
        label = ""
        if span.label is not None:
            label = f' <span class="label">{_escape(span.label)}</span>'
        details = f"{_time_range(span)} · {' + '.join(span.modalities)}"
        if extra:
            details = f"{extra} · {details}"
        return (
            f'<div class="visual">{visual}</div><div class="info">'
            f'<div><span class="file" title="{_escape(span.path)}">{_escape(name)}'
            f"</span>{label}</div>"
            f'<div class="details">{details}</div>{player}</div>'
        )
