"""Real encoded media files, and synthetic content to fill them, for tests,
examples and generated music-video corpora.

:func:`write_media` encodes arrays with PyAV (FFmpeg) into any container and
codec pair FFmpeg writes (H.264/AAC in mp4, VP9/Opus in webm, MPEG-4 part
2/MP3 in avi, ...). The generators make content whose decoding can be
checked: frames that carry their own index (:func:`counter_frames`), white
flashes and clicks at known times (:func:`flash_frames`, :func:`clicks`),
moving bars, colour ramps and tones.
"""

from __future__ import annotations

import os
from fractions import Fraction
from numbers import Integral

import av
import numpy as np
from sklearn.utils import check_random_state

from ..io._units import frames_to_time, time_to_frames, time_to_samples

__all__ = [
    "clicks",
    "colour_ramp",
    "counter_frames",
    "flash_frames",
    "moving_bars",
    "read_counter",
    "tone",
    "write_media",
]

# Codecs chosen by container when none is named.
_DEFAULT_CODECS = {
    ".mp4": ("h264", "aac"),
    ".m4v": ("h264", "aac"),
    ".mov": ("h264", "aac"),
    ".mkv": ("h264", "aac"),
    ".webm": ("libvpx-vp9", "libopus"),
    ".avi": ("mpeg4", "mp3"),
    ".m4a": (None, "aac"),
    ".mp3": (None, "mp3"),
    ".ogg": (None, "vorbis"),
    ".oga": (None, "vorbis"),
    ".opus": (None, "libopus"),
    ".wav": (None, "pcm_s16le"),
    ".flac": (None, "flac"),
}
# Encoder settings that favour speed and keep enough quality for the
# content above to decode as it was made.
_VIDEO_OPTIONS = {
    "h264": {"preset": "veryfast", "crf": "18"},
    "libx264": {"preset": "veryfast", "crf": "18"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"},
    "libvpx": {"deadline": "realtime", "cpu-used": "8", "crf": "10", "b": "2M"},
    "mpeg4": {"qscale": "2"},
}
_AUDIO_OPTIONS = {"vorbis": {"strict": "experimental"}}
# AVI cannot store the negative timestamps of an encoder delay (MP3's); by
# default FFmpeg shifts the video to make room and drops frames doing so.
# Disabled, the audio carries its delay as in real AVI files (25 ms for MP3
# at 44.1 kHz).
_CONTAINER_OPTIONS = {".avi": {"avoid_negative_ts": "disabled"}}
# Samples per audio frame handed to the encoder.
_AUDIO_CHUNK = 4096


def _as_rate(fps):
    """An exact frame rate: 29.97 means 30000/1001, as in NTSC video."""
    if isinstance(fps, Fraction):
        return fps
    if isinstance(fps, Integral):
        return Fraction(int(fps))
    ntsc = round(fps * 1.001)
    if abs(fps - ntsc / 1.001) < 5e-3 and abs(fps - round(fps)) > 1e-6:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def _layout(channels):
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def write_media(
    path,
    *,
    video=None,
    fps=25,
    audio=None,
    sr=44100,
    video_codec=None,
    audio_codec=None,
    format=None,
    keyframe_interval=2.0,
    video_options=None,
    audio_options=None,
    container_options=None,
):
    """Encode frames and samples into a media file with PyAV (FFmpeg).

    Video and audio packets are interleaved by time, as in a real file.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; its extension picks the container unless
        ``format`` does.
    video : array-like of shape (n_frames, height, width, 3), dtype uint8, \
            or iterable of (height, width, 3) arrays, default=None
        RGB frames, or None for no video stream. An iterable (a generator)
        keeps long videos out of memory. Height and width should be even:
        the codecs store chroma at half resolution.
    fps : float or Fraction, default=25
        Frame rate, in frames per second; 29.97 and 59.94 mean the NTSC
        rates 30000/1001 and 60000/1001.
    audio : array-like of shape (n_samples,) or (n_channels, n_samples), \
            default=None
        Samples in [-1, 1] (float), or None for no audio stream.
    sr : int, default=44100
        Audio sampling rate, in Hz (Opus takes only 8, 12, 16, 24 and
        48 kHz).
    video_codec, audio_codec : str or None, default=None
        FFmpeg encoder names: ``"h264"``, ``"mpeg4"``, ``"libvpx-vp9"``,
        ``"mjpeg"``; ``"aac"``, ``"mp3"``, ``"libopus"``, ``"vorbis"``,
        ``"flac"``, ``"pcm_s16le"``. None picks the usual one for the
        container (mp4, mov, mkv: H.264 and AAC; webm: VP9 and Opus; avi:
        MPEG-4 part 2 and MP3; wav: 16-bit PCM; ...).
    format : str or None, default=None
        FFmpeg muxer name, when the extension does not say.
    keyframe_interval : float, default=2.0
        Seconds between keyframes (the GOP length).
    video_options, audio_options, container_options : dict or None
        FFmpeg options of the encoders and the muxer, added to skmv's
        defaults (fast presets, high quality); e.g.
        ``container_options={"movflags": "faststart"}``.

    Returns
    -------
    path : str
        ``path``, as a string.

    Examples
    --------
    >>> import tempfile
    >>> from skmv.datasets import moving_bars, tone, write_media
    >>> from skmv.io import probe
    >>> folder = tempfile.mkdtemp()
    >>> path = write_media(folder + "/mv.webm", video=moving_bars(48, size=(64, 48)),
    ...                    fps=24, audio=tone(440.0, 2.0, sr=48000), sr=48000)
    >>> info = probe(path)
    >>> info.video_codec, info.audio_codec, info.fps, info.sample_rate
    ('vp9', 'opus', 24.0, 48000)
    """
    path = os.fspath(path)
    if video is None and audio is None:
        raise ValueError("write_media needs video, audio or both.")
    ext = os.path.splitext(path)[1].lower()
    default_video, default_audio = _DEFAULT_CODECS.get(ext, ("h264", "aac"))
    video_codec = video_codec or default_video
    audio_codec = audio_codec or default_audio
    rate = _as_rate(fps)

    frames = None
    if video is not None:
        frames = iter(video)
        first = next(frames, None)
        if first is None:
            raise ValueError("video has no frames.")
        first = np.asarray(first)
        if first.ndim != 3 or first.shape[2] != 3 or first.dtype != np.uint8:
            raise ValueError(
                f"video frames must be uint8 arrays of shape (height, width, 3); "
                f"got {first.dtype} {first.shape}."
            )
    samples = None
    if audio is not None:
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[np.newaxis]
        if samples.ndim != 2 or samples.shape[1] == 0:
            raise ValueError(
                f"audio must have shape (n_samples,) or (n_channels, n_samples); "
                f"got {np.shape(audio)}."
            )
        samples = np.clip(samples, -1.0, 1.0)
        if audio_codec == "vorbis" and len(samples) == 1:
            # FFmpeg's own Vorbis encoder writes stereo only.
            samples = np.repeat(samples, 2, axis=0)

    options = {**_CONTAINER_OPTIONS.get(ext, {}), **(container_options or {})}
    container = av.open(path, "w", format=format, options=options)
    try:
        vstream = astream = None
        if frames is not None:
            options = {**_VIDEO_OPTIONS.get(video_codec, {}), **(video_options or {})}
            vstream = container.add_stream(video_codec, rate=rate, options=options)
            vstream.height, vstream.width = first.shape[:2]
            vstream.pix_fmt = "yuvj420p" if video_codec == "mjpeg" else "yuv420p"
            gop = time_to_frames(keyframe_interval, fps=rate)
            vstream.codec_context.gop_size = max(1, gop)
            frames_time_base = 1 / rate
        if samples is not None:
            options = {**_AUDIO_OPTIONS.get(audio_codec, {}), **(audio_options or {})}
            astream = container.add_stream(audio_codec, rate=sr, options=options)
            astream.layout = _layout(len(samples))
            audio_time_base = Fraction(1, sr)

        def encode_audio(until):
            # Audio up to sample ``until``, from where the last call stopped.
            nonlocal audio_done
            while audio_done < min(until, samples.shape[1]):
                stop = min(audio_done + _AUDIO_CHUNK, samples.shape[1])
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(samples[:, audio_done:stop]),
                    format="fltp",
                    layout=astream.layout.name,
                )
                frame.sample_rate = sr
                frame.pts = audio_done
                frame.time_base = audio_time_base
                container.mux(astream.encode(frame))
                audio_done = stop

        audio_done = 0
        if frames is not None:
            for index, image in enumerate(_chain_first(first, frames)):
                frame = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(image, dtype=np.uint8), format="rgb24"
                )
                frame.pts = index
                frame.time_base = frames_time_base
                container.mux(vstream.encode(frame))
                if samples is not None:
                    encode_audio(
                        time_to_samples(frames_to_time(index + 1, fps=rate), sr=sr)
                    )
            container.mux(vstream.encode())
        if samples is not None:
            encode_audio(samples.shape[1])
            container.mux(astream.encode())
    finally:
        container.close()
    return path


def _chain_first(first, rest):
    yield first
    for image in rest:
        image = np.asarray(image)
        if image.shape != first.shape or image.dtype != np.uint8:
            raise ValueError(
                f"every video frame must be uint8 of shape {first.shape}; got "
                f"{image.dtype} {image.shape}."
            )
        yield image


def _check_size(size):
    width, height = size
    if not (isinstance(width, Integral) and isinstance(height, Integral)):
        raise ValueError(f"size must be (width, height) in pixels; got {size!r}.")
    return int(width), int(height)


def moving_bars(n_frames, *, size=(64, 48), n_bars=4, speed=1.0, random_state=None):
    """Vertical bars of random colours that slide sideways.

    Parameters
    ----------
    n_frames : int
        Number of frames.
    size : (int, int), default=(64, 48)
        ``(width, height)``, in pixels.
    n_bars : int, default=4
        Number of bars across the frame.
    speed : float, default=1.0
        Pixels the bars move per frame.
    random_state : int, RandomState instance or None, default=None
        Seeds the colours.

    Returns
    -------
    frames : ndarray of shape (n_frames, height, width, 3), dtype uint8

    Examples
    --------
    >>> from skmv.datasets import moving_bars
    >>> moving_bars(10, size=(32, 24)).shape
    (10, 24, 32, 3)
    """
    width, height = _check_size(size)
    colours = check_random_state(random_state).randint(0, 256, size=(n_bars, 3))
    columns = np.arange(width)
    shift = np.arange(n_frames)[:, np.newaxis] * speed
    bar = ((columns + shift) * n_bars // width).astype(np.intp) % n_bars
    rows = colours.astype(np.uint8)[bar]  # (n_frames, width, 3)
    return np.ascontiguousarray(
        np.broadcast_to(rows[:, np.newaxis], (n_frames, height, width, 3))
    )


def colour_ramp(n_frames, *, size=(64, 48), period=50):
    """A horizontal ramp of hues that turns around the colour wheel in
    ``period`` frames.

    Parameters
    ----------
    n_frames : int
        Number of frames.
    size : (int, int), default=(64, 48)
        ``(width, height)``, in pixels.
    period : float, default=50
        Frames per turn of the colour wheel.

    Returns
    -------
    frames : ndarray of shape (n_frames, height, width, 3), dtype uint8

    Examples
    --------
    >>> from skmv.datasets import colour_ramp
    >>> colour_ramp(4, size=(32, 24)).shape
    (4, 24, 32, 3)
    """
    width, height = _check_size(size)
    hue = (
        np.arange(width)[np.newaxis] / width
        + np.arange(n_frames)[:, np.newaxis] / period
    )  # (n_frames, width), in turns
    phases = np.array([0.0, 1.0 / 3.0, 2.0 / 3.0])
    rgb = 127.5 * (1 + np.cos(2 * np.pi * (hue[..., np.newaxis] - phases)))
    rows = np.rint(rgb).astype(np.uint8)
    return np.ascontiguousarray(
        np.broadcast_to(rows[:, np.newaxis], (n_frames, height, width, 3))
    )


def counter_frames(n_frames, *, size=(64, 48), n_bits=10):
    """Frames that show their own index as a barcode, for checking which
    frame a decoder returns.

    Frame ``i`` is ``n_bits`` vertical stripes, white where bit ``b`` of
    ``i`` is set (most significant first), black elsewhere; the code
    survives lossy codecs and rescaling. :func:`read_counter` reads it back.

    Parameters
    ----------
    n_frames : int
        Number of frames, at most ``2 ** n_bits``.
    size : (int, int), default=(64, 48)
        ``(width, height)``, in pixels.
    n_bits : int, default=10
        Number of stripes.

    Returns
    -------
    frames : ndarray of shape (n_frames, height, width, 3), dtype uint8

    Examples
    --------
    >>> from skmv.datasets import counter_frames, read_counter
    >>> read_counter(counter_frames(5, size=(40, 8)))
    array([0, 1, 2, 3, 4])
    """
    width, height = _check_size(size)
    if n_frames > 2**n_bits:
        raise ValueError(f"{n_bits} bits count at most {2**n_bits} frames.")
    bits = (np.arange(n_frames)[:, np.newaxis] >> np.arange(n_bits)[::-1]) & 1
    stripe = np.arange(width) * n_bits // width
    rows = (bits[:, stripe] * 255).astype(np.uint8)  # (n_frames, width)
    return np.ascontiguousarray(
        np.broadcast_to(
            rows[:, np.newaxis, :, np.newaxis], (n_frames, height, width, 3)
        )
    )


def read_counter(frames, *, n_bits=10):
    """Read the indices that :func:`counter_frames` drew, from decoded
    (possibly rescaled) frames.

    Parameters
    ----------
    frames : ndarray of shape (n_frames, height, width, 3)
    n_bits : int, default=10

    Returns
    -------
    indices : ndarray of shape (n_frames,), dtype int
    """
    frames = np.asarray(frames)
    width = frames.shape[2]
    # The middle of each stripe, away from edges blurred by scaling.
    centres = ((np.arange(n_bits) + 0.5) * width / n_bits).astype(np.intp)
    levels = frames[:, :, centres].mean(axis=(1, 3))  # (n_frames, n_bits)
    bits = (levels > 127.5).astype(np.int64)
    return bits @ (1 << np.arange(n_bits)[::-1])


def flash_frames(times, *, n_frames, fps, size=(64, 48)):
    """Black frames, white at the frames shown at ``times``.

    Parameters
    ----------
    times : array-like of float
        Seconds; frame ``floor(t * fps)`` is white for each ``t``.
    n_frames : int
        Number of frames.
    fps : float
        Frame rate, in frames per second.
    size : (int, int), default=(64, 48)
        ``(width, height)``, in pixels.

    Returns
    -------
    frames : ndarray of shape (n_frames, height, width, 3), dtype uint8

    Examples
    --------
    >>> from skmv.datasets import flash_frames
    >>> frames = flash_frames([0.5], n_frames=25, fps=25, size=(8, 8))
    >>> frames.reshape(25, -1).max(axis=1).nonzero()[0]
    array([12])
    """
    width, height = _check_size(size)
    frames = np.zeros((n_frames, height, width, 3), dtype=np.uint8)
    index = np.floor(np.asarray(times, dtype=float) * float(fps) + 1e-9).astype(np.intp)
    frames[index[(index >= 0) & (index < n_frames)]] = 255
    return frames


def tone(frequency, duration, *, sr=44100, channels=1, amplitude=0.5):
    """A sine tone.

    Parameters
    ----------
    frequency : float
        In Hz.
    duration : float
        In seconds.
    sr : int, default=44100
        Sampling rate, in Hz.
    channels : int, default=1
        1 gives shape (n_samples,); more give (channels, n_samples), the
        same in every channel.
    amplitude : float, default=0.5

    Returns
    -------
    y : ndarray of float32

    Examples
    --------
    >>> from skmv.datasets import tone
    >>> tone(440.0, 1.0, sr=8000).shape, tone(440.0, 1.0, sr=8000, channels=2).shape
    ((8000,), (2, 8000))
    """
    n_samples = time_to_samples(duration, sr=sr)
    y = amplitude * np.sin(2 * np.pi * frequency * np.arange(n_samples) / sr)
    y = y.astype(np.float32)
    return y if channels == 1 else np.tile(y, (channels, 1))


def clicks(times, duration, *, sr=44100, channels=1, amplitude=0.9, length=0.002):
    """Silence with short bursts (clicks) starting at ``times``.

    Parameters
    ----------
    times : array-like of float
        Onsets, in seconds.
    duration : float
        In seconds.
    sr : int, default=44100
        Sampling rate, in Hz.
    channels : int, default=1
        As in :func:`tone`.
    amplitude : float, default=0.9
    length : float, default=0.002
        Seconds each click lasts: a half-period of a sine, so that lossy
        codecs keep its onset.

    Returns
    -------
    y : ndarray of float32

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.datasets import clicks
    >>> y = clicks([0.25], 1.0, sr=8000)
    >>> int(np.argmax(y > 0))
    2000
    """
    n_samples = time_to_samples(duration, sr=sr)
    y = np.zeros(n_samples, dtype=np.float32)
    width = max(1, time_to_samples(length, sr=sr))
    burst = (amplitude * np.sin(np.pi * (np.arange(width) + 0.5) / width)).astype(
        np.float32
    )
    onsets = np.floor(np.asarray(times, dtype=float) * sr + 0.5).astype(np.intp)
    for onset in onsets[(onsets >= 0) & (onsets < n_samples)]:  # a few clicks
        stop = min(onset + width, n_samples)
        y[onset:stop] = burst[: stop - onset]
    return y if channels == 1 else np.tile(y, (channels, 1))
