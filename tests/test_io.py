"""Tests of skmv.io on media files the tests encode: frame identity and
timing, audio length and timing, seeking, errors, batches, isolation."""

import os
import signal
import sys
import time
import tracemalloc
import warnings
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skmv.datasets import (
    clicks,
    counter_frames,
    flash_frames,
    moving_bars,
    read_counter,
    tone,
    write_media,
)
from skmv.exceptions import MediaError, MissingStreamError
from skmv.io import (
    MediaInfo,
    MediaWarning,
    Segment,
    SegmentList,
    call_isolated,
    frames_to_time,
    iter_audio,
    iter_video,
    probe,
    read_audio,
    read_video,
    samples_to_time,
    segment_media,
    time_to_frames,
    time_to_samples,
)

N_BITS = 8  # counter stripes: up to 256 source frames per test file
OUT_SIZE = (48, 32)  # decoded (width, height): 6 pixels per stripe
CLICK_TIMES = [0.25, 1.4, 2.55]


def _expected_indices(start, n_frames, fps_out, fps_src):
    """Source frame shown at each output time: floor(t * fps_src)."""
    t = start + frames_to_time(np.arange(n_frames), fps=fps_out)
    return np.floor(t * float(fps_src) + 1e-9).astype(int)


def _onsets(y, sr, threshold=0.3):
    """Times (seconds) where |y| first rises above threshold, per click."""
    above = np.flatnonzero(np.abs(y) > threshold)
    if not len(above):
        return np.array([])
    firsts = above[np.r_[True, np.diff(above) > sr // 20]]
    return samples_to_time(firsts, sr=sr)


# %% units and the segment descriptor


def test_units_round_half_up():
    assert time_to_frames(6.0, fps=12) == 72
    assert time_to_frames(1.0, fps=Fraction(30000, 1001)) == 30
    assert time_to_frames(0.125, fps=12) == 2  # 1.5 rounds up, not to even
    assert time_to_samples(6.0, sr=44100) == 264600
    assert time_to_samples(0.5 / 22050 * 5, sr=22050) == 3  # 2.5 -> 3
    assert frames_to_time(72, fps=12) == 6.0
    assert samples_to_time(22050, sr=44100) == 0.5


def test_segment():
    segment = Segment("mv.mp4", 6.0, 6.0)
    assert segment.clip == "mv.mp4"
    assert segment.end == 12.0
    assert Segment("mv.mp4", 0.0, 6.0, clip="mv-1").clip == "mv-1"
    with pytest.raises(AttributeError):
        segment.start = 1.0
    assert SegmentList([segment]).clips == ["mv.mp4"]


def test_segment_modalities():
    assert Segment("mv.mp4", 0.0, 6.0).modalities == ("video", "audio")
    # Stored as a tuple in the order video, audio, whatever was given.
    assert Segment("mv.mp4", 0.0, 6.0, modalities=["audio", "video"]).modalities == (
        "video",
        "audio",
    )
    song = Segment("song.mp3", 0.0, 6.0, modalities="audio")
    assert song.modalities == ("audio",) and song.clip == "song.mp3"
    assert Segment("f.mp4", 0.0, 6.0, "f", ("video",)).modalities == ("video",)
    assert song == Segment("song.mp3", 0.0, 6.0, modalities=("audio",))
    assert song != Segment("song.mp3", 0.0, 6.0)
    for bad in [(), [], "subtitles", ("audio", "audio"), ("video", "text"), 3, None]:
        with pytest.raises(ValueError, match="modalities must be a non-empty") as e:
            Segment("mv.mp4", 0.0, 6.0, modalities=bad)
        assert repr(bad) in str(e.value)


# %% codecs, rates, sizes: frames, lengths and timing


CODEC_CASES = [
    # ext, video codec, audio codec, fps, sr, channels, (width, height)
    ("mp4", "h264", "aac", 25, 44100, 2, (64, 48)),
    ("mp4", "h264", "aac", Fraction(30000, 1001), 48000, 1, (96, 64)),
    ("mkv", "mpeg4", "mp3", 24, 22050, 1, (80, 48)),
    ("webm", "libvpx-vp9", "libopus", 30, 48000, 2, (64, 64)),
    ("avi", "mpeg4", "pcm_s16le", 60, 8000, 1, (48, 32)),
    ("mkv", "h264", "vorbis", 25, 44100, 2, (112, 80)),
]


@pytest.fixture(scope="module")
def codec_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("codecs")
    files = {}
    for ext, vcodec, acodec, fps, sr, channels, size in CODEC_CASES:
        n_frames = time_to_frames(3.0, fps=fps)
        path = folder / f"{vcodec}_{acodec}_{float(fps):.2f}_{sr}.{ext}"
        files[(ext, vcodec, acodec, fps)] = write_media(
            path,
            video=counter_frames(n_frames, size=size, n_bits=N_BITS),
            fps=fps,
            audio=clicks(CLICK_TIMES, 3.0, sr=sr, channels=channels),
            sr=sr,
            video_codec=vcodec,
            audio_codec=acodec,
        )
    return files


@pytest.mark.parametrize(
    "ext, vcodec, acodec, fps, sr, channels, size",
    CODEC_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}-{float(c[3]):.2f}fps-{c[4]}Hz" for c in CODEC_CASES],
)
def test_codecs_rates_sizes(codec_files, ext, vcodec, acodec, fps, sr, channels, size):
    path = codec_files[(ext, vcodec, acodec, fps)]
    info = probe(path)
    assert info.has_video and info.has_audio
    assert (info.width, info.height) == size
    assert info.fps == pytest.approx(float(fps))
    assert info.sample_rate == sr
    assert info.channels == channels
    assert info.start_time == 0.0
    assert info.video_duration == pytest.approx(3.0, abs=0.05)

    segments = segment_media(path, seconds=1.0, isolate=False)
    assert [(s.start, s.duration) for s in segments] == [(0, 1), (1, 1), (2, 1)]
    assert {s.clip for s in segments} == {path}

    for segment, frames in iter_video(path, segments, fps=12, size=OUT_SIZE):
        assert frames.shape == (12, 32, 48, 3)
        assert frames.dtype == np.uint8
        assert_array_equal(
            read_counter(frames, n_bits=N_BITS),
            _expected_indices(segment.start, 12, 12, fps),
        )

    found = []
    for segment, y in iter_audio(path, segments, sr=22050):
        assert y.shape == (22050,)
        assert y.dtype == np.float32
        found.extend(segment.start + _onsets(y, 22050))
    # Within 2 ms of the written clicks, far less than a frame.
    assert_allclose(found, CLICK_TIMES, atol=0.002)


@pytest.mark.parametrize("fps_out", [5, 12, 24, 30, 60])
def test_frame_rate_conversion_by_presentation_time(codec_files, fps_out):
    fps = Fraction(30000, 1001)
    path = codec_files[("mp4", "h264", "aac", fps)]
    frames = read_video(path, 0.5, 2.0, fps=fps_out, size=OUT_SIZE)
    assert len(frames) == time_to_frames(2.0, fps=fps_out)
    assert_array_equal(
        read_counter(frames, n_bits=N_BITS),
        _expected_indices(0.5, len(frames), fps_out, fps),
    )


def test_native_size_and_read_to_end(codec_files):
    path = codec_files[("mkv", "mpeg4", "mp3", 24)]
    frames = read_video(path, 1.0, fps=24, size=None)
    assert frames.shape == (48, 48, 80, 3)
    assert_array_equal(read_counter(frames, n_bits=N_BITS), np.arange(24, 72))
    y = read_audio(path, 1.0, sr=8000)
    assert len(y) == time_to_samples(probe(path).audio_duration - 1.0, sr=8000)


@pytest.mark.parametrize("start, duration", [(0.37, 1.13), (1.0, 0.9), (0.0, 2.5)])
@pytest.mark.parametrize("fps, sr", [(12, 22050), (7.5, 44100), (25, 16000)])
def test_exact_lengths(codec_files, start, duration, fps, sr):
    path = codec_files[("mp4", "h264", "aac", 25)]
    segment = Segment(path, start, duration)
    ((_, frames),) = iter_video(path, [segment], fps=fps, size=(16, 16))
    ((_, y),) = iter_audio(path, [segment], sr=sr)
    assert len(frames) == int(np.floor(duration * fps + 0.5))
    assert len(y) == int(np.floor(duration * sr + 0.5))


def test_threads_do_not_change_frames(codec_files):
    path = codec_files[("mp4", "h264", "aac", 25)]
    one = read_video(path, 0.0, 3.0, fps=25, size=OUT_SIZE, threads=1)
    auto = read_video(path, 0.0, 3.0, fps=25, size=OUT_SIZE)
    assert_array_equal(one, auto)


# %% audio and video of a segment line up


@pytest.mark.parametrize(
    "ext, fps, sr", [("mp4", 25, 44100), ("webm", 30, 48000), ("mkv", 24, 22050)]
)
def test_audio_and_video_line_up(tmp_path, ext, fps, sr):
    times = [0.3, 1.1, 2.45, 3.6]
    path = write_media(
        tmp_path / f"sync.{ext}",
        video=flash_frames(times, n_frames=4 * fps, fps=fps, size=(32, 32)),
        fps=fps,
        audio=clicks(times, 4.0, sr=sr, channels=2),
        sr=sr,
    )
    segments = segment_media(path, seconds=1.5, keep_last=True, isolate=False)
    fps_out = 12
    flashes, beeps = [], []
    for (segment, frames), (_, y) in zip(
        iter_video(path, segments, fps=fps_out, size=(16, 16)),
        iter_audio(path, segments, sr=sr),
    ):
        lit = frames.reshape(len(frames), -1).mean(axis=1) > 128
        # Each flash lasts one source frame; at 12 fps some are not sampled.
        flashes.extend(segment.start + frames_to_time(np.flatnonzero(lit), fps=fps_out))
        beeps.extend(segment.start + _onsets(y, sr))
    assert len(beeps) == len(times)
    for flash in flashes:
        assert np.min(np.abs(np.array(beeps) - flash)) <= 1 / fps_out


# %% seeking


@pytest.fixture(scope="module")
def long_file(tmp_path_factory):
    """16 s, 25 fps, keyframes every 4 s, two tones (exactly reproducible
    after a seek, unlike noise, which AAC codes with random substitution)."""
    sr, fps, seconds = 44100, 25, 16
    t = np.arange(seconds * sr) / sr
    y = 0.2 * np.sin(2 * np.pi * (200 * t + 20 * t**2)) + 0.2 * np.sin(
        2 * np.pi * 1234.5 * t
    )
    path = write_media(
        tmp_path_factory.mktemp("long") / "long.mp4",
        video=counter_frames(seconds * fps, size=(64, 48), n_bits=9),
        fps=fps,
        audio=y.astype(np.float32),
        sr=sr,
        keyframe_interval=4.0,
    )
    return path, fps, sr


def test_seeking_is_exact(long_file):
    path, fps, sr = long_file
    full = read_audio(path, sr=sr)
    assert len(full) == 16 * sr
    # Out of order, overlapping, back-to-back, and far apart (seeks).
    starts = [13.0, 2.0, 2.5, 3.5, 9.3, 0.0, 12.9]
    segments = [Segment(path, start, 1.0) for start in starts]
    video = list(iter_video(path, segments, fps=10, size=OUT_SIZE))
    audio = list(iter_audio(path, segments, sr=sr))
    assert [s.start for s, _ in video] == sorted(starts)
    assert [s.start for s, _ in audio] == sorted(starts)
    for segment, frames in video:
        assert_array_equal(
            read_counter(frames, n_bits=9),
            _expected_indices(segment.start, 10, 10, fps),
        )
    for segment, y in audio:
        first = time_to_samples(segment.start, sr=sr)
        assert_allclose(y, full[first : first + len(y)], atol=1e-4)
    # A single read far into the file seeks and agrees too.
    y = read_audio(path, 11.0, 0.5, sr=sr)
    assert_allclose(y, full[11 * sr : 11 * sr + len(y)], atol=1e-4)


def test_memory_stays_at_about_one_segment(long_file):
    path, fps, sr = long_file
    segments = [Segment(path, start, 2.0) for start in range(0, 16, 2)]
    frames_size = time_to_frames(2.0, fps=12) * 96 * 128 * 3
    samples_size = time_to_samples(2.0, sr=sr) * 4
    for reader, one_segment in [
        (lambda s: iter_video(path, s, fps=12, size=(128, 96)), frames_size),
        (lambda s: iter_audio(path, s, sr=sr), samples_size),
    ]:
        list(reader(segments[:1]))  # first-use allocations (caches) out of the way
        tracemalloc.start()
        try:
            for _, decoded in reader(segments):
                del decoded
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # The segment being filled, and a frame or two; the file is 8 segments.
        assert peak < 1.25 * one_segment + 100_000, (peak, one_segment)


# %% audio-only files (soundfile) and channel mixing


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_audio_files_and_backends_agree(tmp_path, ext):
    sr = 22050
    left = tone(440.0, 2.0, sr=sr, amplitude=0.6)
    right = tone(660.0, 2.0, sr=sr, amplitude=0.2)
    path = write_media(tmp_path / f"a.{ext}", audio=np.stack([left, right]), sr=sr)
    info = probe(path)
    assert not info.has_video and info.channels == 2
    y = read_audio(path, 0.5, 1.0, sr=sr)
    assert y.shape == (sr,)
    # Channels are averaged (as librosa.to_mono), not downmixed at -3 dB.
    expected = (left + right)[sr // 2 : sr // 2 + sr] / 2
    if ext == "ogg":  # FFmpeg's own Vorbis encoder is crude
        assert np.corrcoef(y, expected)[0, 1] > 0.95
        assert np.std(y) == pytest.approx(np.std(expected), rel=0.1)
        return
    assert_allclose(y, expected, atol=1e-3)
    # The same samples through PyAV (FLAC in Matroska), at another rate.
    other = write_media(
        tmp_path / "a.mkv", audio=np.stack([left, right]), sr=sr, audio_codec="flac"
    )
    assert_allclose(
        read_audio(path, 0.5, 1.0, sr=16000),
        read_audio(other, 0.5, 1.0, sr=16000),
        atol=1e-4,
    )


@pytest.mark.parametrize("ext, codec", [("wav", "pcm_s16le"), ("mkv", "flac")])
def test_surround_goes_to_stereo_then_mono(tmp_path, ext, codec):
    # One channel at a time of 5.1 (FL, FR, C, LFE, SL, SR): FFmpeg's stereo
    # downmix (centre and surrounds at -3 dB, no LFE), then the average.
    sr = 16000
    expected = [0.25, 0.25, 0.5 * np.sqrt(0.5), 0.0, 0.25 * np.sqrt(0.5)] + [
        0.25 * np.sqrt(0.5)
    ]
    for channel, amplitude in enumerate(expected):
        audio = np.zeros((6, sr // 2), np.float32)
        audio[channel] = tone(400.0, 0.5, sr=sr, amplitude=0.5)
        path = write_media(
            tmp_path / f"s{channel}.{ext}", audio=audio, sr=sr, audio_codec=codec
        )
        y = read_audio(path, sr=sr)
        assert np.abs(y[800:-800]).max() == pytest.approx(amplitude, abs=0.01)


# %% errors


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    import av

    folder = tmp_path_factory.mktemp("bad")
    good = write_media(
        folder / "good.mp4",
        video=moving_bars(50, size=(32, 32)),
        fps=25,
        audio=tone(440.0, 2.0),
    )
    data = open(good, "rb").read()
    files = {}

    def put(name, content):
        path = str(folder / name)
        with open(path, "wb") as f:
            f.write(content)
        files[name] = path

    put("empty.mp4", b"")
    put("text.mp4", b"this is not a video\n" * 20)
    # The index (moov) comes last: cut in half, the file cannot be opened.
    put("truncated.mp4", data[: len(data) // 2])
    fast = write_media(
        folder / "faststart.mp4",
        video=moving_bars(100, size=(32, 32)),
        fps=25,
        audio=tone(440.0, 4.0),
        container_options={"movflags": "faststart"},
    )
    data = open(fast, "rb").read()
    # The index comes first: opens, but the media stop early.
    put("truncated_faststart.mp4", data[: len(data) // 2])
    mkv = write_media(
        folder / "m.mkv", video=moving_bars(100, size=(32, 32)), fps=25, audio=None
    )
    data = open(mkv, "rb").read()
    put("truncated.mkv", data[: len(data) // 2])
    put("header_only.mkv", data[:1000])
    # A stream FFmpeg has no decoder for has no codec context: decoding it
    # used to segfault (PyAV issue 2344).
    path = str(folder / "no_decoder.mp4")
    container = av.open(path, "w")
    stream = container.add_mux_stream("evc", rate=25, width=32, height=32)
    stream.time_base = Fraction(1, 25)
    for i in range(50):
        packet = av.Packet(bytes(range(200)))
        packet.stream = stream
        packet.pts = packet.dts = i
        packet.time_base = Fraction(1, 25)
        container.mux(packet)
    container.close()
    files["no_decoder.mp4"] = path
    files["no_audio.mp4"] = write_media(
        folder / "no_audio.mp4", video=moving_bars(50, size=(32, 32)), fps=25
    )
    files["no_video.m4a"] = write_media(folder / "no_video.m4a", audio=tone(440, 2.0))
    files["short.mp4"] = write_media(
        folder / "short.mp4",
        video=moving_bars(10, size=(32, 32)),
        fps=25,
        audio=tone(440.0, 0.4),
    )
    files["missing.mp4"] = str(folder / "missing.mp4")
    files["good.mp4"] = good
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "fifo.mp4")
        files["fifo.mp4"] = str(folder / "fifo.mp4")
    return files


# (file, what is read, the cause the message gives)
ERROR_CASES = [
    ("missing.mp4", "probe", "no such file"),
    ("empty.mp4", "probe", r"empty file \(0 bytes\)"),
    ("fifo.mp4", "probe", "not a regular file"),
    ("text.mp4", "probe", "not a media file"),
    ("truncated.mp4", "probe", "truncated or corrupt"),
    ("header_only.mkv", "video", "no video frame could be decoded"),
    ("truncated.mkv", "video", "the video stream ends at"),
    # Cut mid-packet or between packets (x264's output varies with threads).
    ("truncated_faststart.mp4", "audio", "truncated or corrupt"),
    ("no_decoder.mp4", "probe", "video stream cannot be decoded"),
    ("no_audio.mp4", "audio", "no audio stream"),
    ("no_video.m4a", "video", "no video stream"),
    ("short.mp4", "segment", r"shorter than one segment \(0.40 s < 1 s\)"),
    ("short.mp4", "video", "reaches past the end of the video stream"),
]


def _read(kind, path):
    if kind == "probe":
        return probe(path)
    if kind == "video":
        return read_video(path, 0.0, 3.9, fps=5, size=(16, 16))
    if kind == "audio":
        return read_audio(path, 0.0, 3.9, sr=8000)
    return segment_media(path, seconds=1.0, isolate=False)


@pytest.mark.parametrize("name, kind, cause", ERROR_CASES)
def test_errors_name_the_file_and_the_cause(bad_files, name, kind, cause):
    if name not in bad_files:
        pytest.skip("no named pipes on this platform")
    path = bad_files[name]
    with pytest.raises(MediaError, match=cause) as info:
        _read(kind, path)
    assert info.value.path == path
    assert str(info.value).startswith(path + ": ")
    assert isinstance(info.value, ValueError)
    # Whatever fails to probe fails to read as well, with the same error.
    if kind == "probe":
        for other in ["video", "audio", "segment"]:
            with pytest.raises(MediaError, match=cause):
                _read(other, path)


def test_directory_is_not_media(tmp_path):
    with pytest.raises(MediaError, match="is a directory"):
        probe(tmp_path)
    with pytest.raises(MediaError, match="no media files under this directory"):
        segment_media(tmp_path)


def test_bad_arguments(bad_files):
    path = bad_files["good.mp4"]
    with pytest.raises(ValueError, match="size"):
        read_video(path, 0.0, 1.0, size=(32,))
    with pytest.raises(ValueError, match="fps"):
        read_video(path, 0.0, 1.0, fps=0)
    with pytest.raises(ValueError, match="start"):
        read_audio(path, -1.0, 1.0)
    with pytest.raises(ValueError, match="duration"):
        list(iter_audio(path, [Segment(path, 0.0, 0.0)]))
    with pytest.raises(ValueError, match="streams"):
        segment_media(path, streams=("subtitles",))
    with pytest.raises(ValueError, match="on_error"):
        segment_media(path, on_error="ignore")


# %% batches


def test_segment_media_directories_and_options(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    bars = moving_bars(125, size=(32, 32))
    a = write_media(tmp_path / "b.mp4", video=bars, fps=25, audio=tone(440, 5.0))
    b = write_media(sub / "a.MKV", video=bars, fps=25, audio=tone(440, 5.0))
    c = write_media(tmp_path / "c.webm", video=bars, fps=25)  # no audio
    (tmp_path / "notes.txt").write_text("not media, not searched for")

    segments = segment_media(tmp_path, seconds=2.0, streams=["video"], isolate=False)
    assert [s.path for s in segments] == [a, a, c, c, b, b]
    assert segments.skipped == []
    segments = segment_media(
        [c, tmp_path], seconds=2.0, keep_last=True, recursive=False, streams="video"
    )
    assert [(s.path, s.start, s.duration) for s in segments] == [
        (c, 0.0, 2.0),
        (c, 2.0, 2.0),
        (c, 4.0, pytest.approx(1.0)),
        (a, 0.0, 2.0),
        (a, 2.0, 2.0),
        (a, 4.0, pytest.approx(1.0)),
        (c, 0.0, 2.0),
        (c, 2.0, 2.0),
        (c, 4.0, pytest.approx(1.0)),
    ]
    segments = segment_media(tmp_path, seconds=2.0, extensions=["mkv"])
    assert [s.path for s in segments] == [b, b]
    assert segments.clips == [b, b]


@pytest.mark.parametrize("isolate", [False, True])
def test_skip_names_every_bad_file(bad_files, isolate):
    good = bad_files["good.mp4"]
    bad = [bad_files[n] for n in ["empty.mp4", "text.mp4", "no_audio.mp4", "short.mp4"]]
    with pytest.warns(MediaWarning) as record:
        segments = segment_media(
            [bad[0], good, *bad[1:], good],
            seconds=1.0,
            streams=("video", "audio"),  # no_audio.mp4 lacks one
            on_error="skip",
            isolate=isolate,
        )
    assert [s.path for s in segments] == [good] * 4
    assert [path for path, _ in segments.skipped] == bad
    assert [reason for _, reason in segments.skipped] == [
        "empty file (0 bytes)",
        "not a media file, or truncated or corrupt "
        "(Invalid data found when processing input)",
        "no audio stream",
        "shorter than one segment (0.40 s < 1 s)",
    ]
    (warning,) = record
    message = str(warning.message)
    assert message.startswith("skipped 4 of 6 files: ")
    assert all(path in message for path in bad)
    with pytest.raises(MediaError, match="empty file"):
        segment_media([good, bad[0]], seconds=1.0, isolate=isolate)


# %% single-modality files: songs and silent footage

# (name, streams the file has, encoder options for write_media)
SINGLE_CASES = [
    ("song.mp3", ("audio",), {}),
    ("song.ogg", ("audio",), {}),  # Vorbis
    ("song.opus", ("audio",), {}),
    ("song.flac", ("audio",), {}),
    ("song.wav", ("audio",), {}),
    ("song.m4a", ("audio",), {}),  # AAC
    ("footage.mp4", ("video",), {}),  # H.264
    ("footage.mkv", ("video",), {"video_codec": "mpeg4"}),
    ("footage.webm", ("video",), {}),  # VP9
]


def _single(folder, name, streams, options, seconds=3.5):
    """A song (a tone) or silent footage (moving bars) of ``seconds``."""
    if streams == ("audio",):
        return write_media(
            folder / name, audio=tone(440.0, seconds, sr=8000), sr=8000, **options
        )
    frames = moving_bars(int(seconds * 12), size=(32, 32))
    return write_media(folder / name, video=frames, fps=12, **options)


@pytest.fixture(scope="module")
def single_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("single")
    return {
        name: _single(folder, name, streams, options)
        for name, streams, options in SINGLE_CASES
    }


@pytest.mark.parametrize(
    "name, streams",
    [case[:2] for case in SINGLE_CASES],
    ids=[c[0] for c in SINGLE_CASES],
)
def test_single_modality_files_are_segmented(single_files, name, streams):
    path = single_files[name]
    info = probe(path)
    assert info.streams == streams
    segments = segment_media(path, seconds=1.0, isolate=False)
    assert [(s.start, s.duration) for s in segments] == [(0, 1), (1, 1), (2, 1)]
    assert [s.modalities for s in segments] == [streams] * 3
    assert segments.clips == [path] * 3
    # The segments decode, one pass for the file.
    if streams == ("audio",):
        lengths = [len(y) for _, y in iter_audio(path, segments, sr=8000)]
        assert lengths == [8000] * 3
    else:
        shapes = [f.shape for _, f in iter_video(path, segments, fps=6, size=(8, 8))]
        assert shapes == [(6, 8, 8, 3)] * 3
    # The stream it has, named: the same segments.
    same = segment_media(path, seconds=1.0, streams=streams, isolate=False)
    assert list(same) == list(segments)
    # Both streams named: an error naming the file and the stream it lacks.
    lacking = "video" if streams == ("audio",) else "audio"
    with pytest.raises(MissingStreamError, match=f"no {lacking} stream") as error:
        segment_media(path, seconds=1.0, streams=("video", "audio"), isolate=False)
    assert error.value.path == path and error.value.kind == lacking
    assert str(error.value).startswith(path + ": ")
    # ... and, for the decoders too, one that says which stream is missing.
    with pytest.raises(MissingStreamError, match=f"no {lacking} stream"):
        (read_video if lacking == "video" else read_audio)(path, 0.0, 1.0)


def test_segment_media_mixes_songs_footage_and_music_videos(tmp_path):
    bars = moving_bars(60, size=(32, 32))
    mv = write_media(
        tmp_path / "a_mv.mp4",
        video=bars,
        fps=12,
        audio=tone(440.0, 3.0, sr=8000),
        sr=8000,
    )
    # The audio ends a second before the video: the MV's span is the shorter.
    short_audio = write_media(
        tmp_path / "b_mv.mkv",
        video=bars,
        fps=12,
        audio=tone(440.0, 4.0, sr=8000),
        sr=8000,
    )
    song = write_media(
        tmp_path / "c_song.mp3", audio=tone(330.0, 2.5, sr=8000), sr=8000
    )
    footage = write_media(tmp_path / "d_footage.webm", video=bars[:30], fps=12)
    segments = segment_media(tmp_path, seconds=1.0, isolate=False)
    both, audio, video = ("video", "audio"), ("audio",), ("video",)
    assert [(s.path, s.start, s.modalities) for s in segments] == [
        (mv, 0.0, both),
        (mv, 1.0, both),
        (mv, 2.0, both),
        (short_audio, 0.0, both),
        (short_audio, 1.0, both),
        (short_audio, 2.0, both),
        (short_audio, 3.0, both),
        (song, 0.0, audio),
        (song, 1.0, audio),
        (footage, 0.0, video),
        (footage, 1.0, video),
    ]
    # Explicit streams: every file must have them, the segments have them
    # only, over the span of those streams alone.
    with pytest.warns(MediaWarning, match="d_footage.webm \\(no audio stream\\)"):
        segments = segment_media(
            tmp_path, seconds=1.0, streams="audio", on_error="skip", isolate=False
        )
    assert {s.modalities for s in segments} == {audio}
    assert [s.path for s in segments].count(short_audio) == 4
    assert segments.skipped == [(footage, "no audio stream")]
    segments = segment_media([short_audio, footage], seconds=1.0, streams=["video"])
    assert [(s.path, s.modalities) for s in segments] == [(short_audio, video)] * 5 + [
        (footage, video)
    ] * 2


def test_a_stream_that_cannot_be_decoded_is_damage_not_a_missing_modality(
    tmp_path, monkeypatch
):
    """An MV whose audio stream is there but cannot be decoded is not silent
    footage: segment_media names the file and the cause."""
    from skmv.io import _segments

    reason = "the audio stream cannot be decoded (no codec parameters)"
    info = MediaInfo(
        path="mv.mp4",
        format="mp4",
        duration=4.0,
        has_video=True,
        video_duration=4.0,
        stream_errors=(("audio", reason),),
    )
    monkeypatch.setattr(_segments, "probe", lambda path: info)
    with pytest.raises(MediaError, match="audio stream cannot be decoded") as error:
        segment_media("mv.mp4", seconds=1.0, isolate=False)
    assert not isinstance(error.value, MissingStreamError)
    # Asked for its video alone, it is usable.
    segments = segment_media("mv.mp4", seconds=1.0, streams="video", isolate=False)
    assert len(segments) == 4 and segments[0].modalities == ("video",)


def test_skip_without_bad_files_warns_nothing(bad_files):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        segments = segment_media(bad_files["good.mp4"], seconds=1.0, on_error="skip")
    assert len(segments) == 2 and segments.skipped == []


# %% isolation


def _crash():
    os.kill(os.getpid(), signal.SIGSEGV)


def _sleep(seconds):
    time.sleep(seconds)


def _raise_media_error(path):
    raise MediaError(path, "bad in the worker")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_call_isolated_turns_a_crash_into_a_media_error():
    assert call_isolated(divmod, 7, 2, path="clip.mp4") == (3, 1)
    with pytest.raises(MediaError, match=r"decoder crashed \(signal 11, SIGSEGV\)"):
        call_isolated(_crash, path="clip.mp4")
    # The next call gets a new worker.
    assert call_isolated(divmod, 9, 2, path="clip.mp4") == (4, 1)


def test_a_worker_whose_caller_hung_up_exits_quietly():
    """A caller interrupted while its worker starts closes the socket first:
    the worker's "ready" finds no reader, and it must exit without printing a
    traceback into the caller's terminal."""
    import socket
    import subprocess

    from skmv.io import _isolate

    ours, theirs = socket.socketpair()
    ours.close()
    env = dict(os.environ, PYTHONPATH=_isolate._SKMV_ROOT)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _isolate._BOOT, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        theirs.close()
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_call_isolated_timeout():
    start = time.perf_counter()
    with pytest.raises(MediaError, match=r"clip.mp4: timed out after 0.3 s"):
        call_isolated(_sleep, 30, path="clip.mp4", timeout=0.3)
    assert time.perf_counter() - start < 10
    assert call_isolated(sum, [1, 2], path="clip.mp4", timeout=60) == 3


def test_call_isolated_exceptions_come_back_as_themselves(bad_files):
    with pytest.raises(MediaError, match="bad in the worker") as info:
        call_isolated(_raise_media_error, "x.mp4", path="x.mp4")
    assert info.value.path == "x.mp4"
    assert "bad in the worker" in str(info.value.__cause__)
    with pytest.raises(ZeroDivisionError):
        call_isolated(lambda: 1 / 0, path="x.mp4")
    path = bad_files["text.mp4"]
    with pytest.raises(MediaError, match="not a media file"):
        call_isolated(probe, path, path=path)
    # Results with arrays come back whole.
    frames = call_isolated(
        read_video, bad_files["good.mp4"], 0.0, 1.0, fps=5, size=(8, 8), path=path
    )
    assert frames.shape == (5, 8, 8, 3)


def test_isolated_calls_resolve_relative_paths_where_the_caller_is(
    tmp_path, monkeypatch
):
    """The worker process outlives a call; a later call from another current
    directory must see relative paths as its caller does."""
    from skmv.io import call_isolated

    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (second / "here.txt").write_text("b")
    monkeypatch.chdir(first)
    assert call_isolated(os.path.exists, "here.txt", path="here.txt") is False
    monkeypatch.chdir(second)
    assert call_isolated(os.path.exists, "here.txt", path="here.txt") is True


def test_a_script_without_main_guard_runs_once(tmp_path):
    """The worker never imports the caller's __main__: a plain script that
    featurizes (no ``if __name__ == "__main__":``) runs its top level once."""
    import subprocess

    log = tmp_path / "runs.txt"
    script = tmp_path / "script.py"
    script.write_text(
        "from skmv.io import call_isolated\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write('run\\n')\n"
        "print(call_isolated(divmod, 7, 2, path='x'))\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(3, 1)"
    assert log.read_text() == "run\n"


def _isolated_divmod(a):
    from skmv.io import call_isolated

    return call_isolated(divmod, a, 2, path="x")


def test_call_isolated_from_a_multiprocessing_pool_worker():
    # Pool workers are daemonic processes; skmv's worker is not their child
    # in multiprocessing's sense, so they can use it.
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.map(_isolated_divmod, [7, 9]) == [(3, 1), (4, 1)]
