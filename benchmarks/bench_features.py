"""Benchmark of media featurization: decoding, video and audio features, and
the whole Segment-list pipeline, against real time.

Run it directly::

    .venv/bin/python benchmarks/bench_features.py            # 60 s clip, minutes
    .venv/bin/python benchmarks/bench_features.py --quick    # 12 s clip, < 1 minute
    .venv/bin/python benchmarks/bench_features.py --long     # + a 1-hour clip
    .venv/bin/python benchmarks/bench_features.py --help

What is measured
----------------
Sources. A clip generated here (60 s, 12 s with ``--quick``), 640x272 at
25 fps, H.264 (x264 veryfast, CRF 23, x264's default quality; 2 s GOP) with
AAC stereo at 44.1 kHz in mp4, written with ``skmv.datasets.write_media``.
Its pictures are shots of 4 s, each a scrolling texture (coarse colour blobs
plus fine detail) under sliding colour bars, with colour gains that drift, an
inverted box that moves across the frame and film grain: content that moves
and does not compress to nothing (about 1 Mbit/s). Its sound is music-like:
a I-V-vi-IV progression of plucked three-note chords with harmonics, a bass,
a kick drum on every beat at 120 BPM, hi-hats on the eighths and a little
noise. Where ``../shared/media/bigbuckbunny.mp4`` (5.3 s of 1280x720 H.264,
AAC 5.1 at 48 kHz) is present, next to the repository, it is measured too:
it is too short for a 6 s segment, so it is cut into one 5 s segment and
its times are scaled by 6/5 (decoding and every feature cost in proportion
to the frames and samples of a segment).

Stages, in this process, one thread: ``threadpool_limits(1)`` for the BLAS,
``cv2.setNumThreads(1)``, ``threads=1`` for the video decoder. Per 6 s
segment:

``decode video``
    ``skmv.io.iter_video(fps=12, size=(320, 240))``: demuxing, decoding every
    frame of the source, and converting and scaling the 72 frames kept.
``decode audio``
    ``skmv.io.iter_audio(sr=44100)``: decoding, resampling, down-mixing to
    mono.
``video features``
    ``VideoFeaturizer()._featurize(frames)`` on the decoded segment (3044
    columns).
``audio features``
    ``AudioFeaturizer()._featurize(y)`` on the decoded segment (816 columns).

Each is timed per segment; the table shows the median over ``--repeats``
passes over every segment of the source (one untimed pass first pays for
imports, JIT compilation, filter banks and the page cache), the fastest and
slowest segment, and times faster than real time (6000 ms / median).

Pipeline. ``segment_media`` on ``--files`` hard links to the clip (joblib
hands out one file per job), then ``VideoFeaturizer().transform(segments)``
and ``AudioFeaturizer().transform(segments)``: the real batch loop, which
decodes each file in an isolated child process (``skmv.io.call_isolated``)
with ``threadpool_limits(1)`` and one OpenCV thread. The two featurizers each
decode the files, so the video and the audio are decoded separately, as a
user running both would. Seconds of media per second of wall time, for:

* 1 worker on one core: ``n_jobs=1``, its decoding child pinned to one CPU
  (``sched_setaffinity``), so that FFmpeg's decoder threads, which the batch
  loop leaves at FFmpeg's choice, share that core. The one-core target is
  checked on this row.
* 1 worker, any core: the same, not pinned; FFmpeg may use a second core.
* 2 workers: ``n_jobs=2``, two joblib (loky) processes, each with its own
  decoding child.

An untimed warm-up run of the first segment of each file, per setting,
starts the processes first; the timed runs go round the settings in turn.

Memory. The peak resident memory (``VmHWM``) of the decoding child that
featurizes the files in the one-worker runs, reset (``/proc/self/clear_refs``)
before each featurizer, so that each peak is one featurizer's over the whole
file (the child stays up between calls, so a peak includes what earlier calls
left resident: the video's includes the Numba that librosa loads on the
audio's first segment). For scale, the child's resident memory once its
imports are done and after the warm-up. With ``--long``, the same for a clip
of one hour (at 320x240, generated frame by frame, so that this process never
holds its video; ``--long-size``): the decoders hold about one segment, so
its peak should be that of the 60 s clip plus the container's index (an mp4
demuxer holds its sample tables, about 20 MB for an hour), and at most 500 MB.

Targets, one core, printed as PASS/FAIL: video features <= 150 ms per 6 s
segment (40x real time), audio features <= 25 ms (240x), the whole pipeline
from the 640x272 clip >= 20x real time, and at most 500 MB peak resident
memory per worker on the 1-hour clip (shown for the 60 s clip without
``--long``). For comparison, the fastest honest stack put together by hand
before skmv had these: video features 297 ms, audio 50 ms, pipeline 11.5x.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import joblib
import librosa
import numpy as np
from _common import machine_lines, verdict
from threadpoolctl import threadpool_limits

from skmv.datasets import write_media
from skmv.features import AudioFeaturizer, VideoFeaturizer
from skmv.io import call_isolated, iter_audio, iter_video, probe, segment_media

SEED = 0
SEGMENT_SECONDS = 6.0
# The featurizers' decoding settings (their defaults).
DECODE_FPS = 12
DECODE_SIZE = (320, 240)
SR = 44100

CLIP_SIZE = (640, 272)
CLIP_FPS = 25
CLIP_SECONDS = 60
QUICK_SECONDS = 12
LONG_MINUTES = 60
LONG_SIZE = (320, 240)
# x264's own default quality; write_media's default (18) is for tests, whose
# content must survive the codec exactly.
CLIP_VIDEO_OPTIONS = {"crf": "23"}
# Content: shots of this many seconds; grain frames added and subtracted.
SHOT_SECONDS = 4.0
GRAIN_CYCLES = (7, 5)
# Music: 120 BPM, one chord per bar of four beats.
BEAT_SECONDS = 0.5
BAR_SECONDS = 4 * BEAT_SECONDS
CHORDS = ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12))  # semitones over A3
MUSIC_BLOCK_SECONDS = 10.0

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared/media/bigbuckbunny.mp4"
SAMPLE_SEGMENT_SECONDS = 5.0

TARGET_VIDEO_MS = 150.0
TARGET_AUDIO_MS = 25.0
TARGET_PIPELINE_X = 20.0
TARGET_PEAK_MB = 500.0
HAND_BUILT = {"video": "297 ms", "audio": "50 ms", "pipeline": "11.5x"}

STAGES = ("decode video", "decode audio", "video features", "audio features")


# --------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------


def video_frames(n_frames, *, size, fps, seed=SEED):
    """RGB frames of a synthetic music video, one at a time (a generator).

    Shots of ``SHOT_SECONDS``: a texture of coarse colour blobs and fine
    detail scrolling in a random direction, blended with colour bars sliding
    sideways; colour gains drifting over a 3 s period, a box of inverted
    colours moving across the frame, and film grain.
    """
    width, height = size
    rng = np.random.default_rng(seed)
    # Two cycles of coprime lengths: the grain repeats every 35 frames.
    grain_up, grain_down = (
        [rng.integers(0, 7, (height, width, 3), np.uint8) for _ in range(n)]
        for n in GRAIN_CYCLES
    )
    shot_frames = max(1, round(SHOT_SECONDS * fps))
    box_w, box_h = width // 8, height // 5
    for i in range(n_frames):
        shot, j = divmod(i, shot_frames)
        if j == 0:
            r = np.random.default_rng([seed, shot])
            coarse = r.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), np.uint8)
            texture = cv2.resize(
                coarse, (2 * width, 2 * height), interpolation=cv2.INTER_CUBIC
            )
            fine = r.integers(0, 64, (2 * height, 2 * width, 3), np.uint8)
            texture = cv2.addWeighted(texture, 0.6, fine, 1.0, 0)
            n_bars = int(r.integers(3, 7))
            palette = r.integers(0, 256, (n_bars, 3)).astype(np.uint8)
            columns = np.arange(2 * width) * n_bars // width % n_bars
            bars = np.ascontiguousarray(
                np.broadcast_to(palette[columns], (height, 2 * width, 3))
            )
            vx, vy = r.uniform(-4, 4, 2)
            bar_speed = r.uniform(2, 6)
            phases = r.uniform(0, 2 * np.pi, 3)
        ox, oy = round(vx * j) % width, round(vy * j) % height
        bx = round(bar_speed * j) % width
        image = cv2.addWeighted(
            texture[oy : oy + height, ox : ox + width],
            0.6,
            bars[:, bx : bx + width],
            0.4,
            0,
        )
        gains = 1 + 0.25 * np.sin(2 * np.pi * i / (3 * fps) + phases)
        image = cv2.transform(image, np.diag(gains).astype(np.float32))
        cx = round((width - box_w) * (0.5 + 0.5 * np.sin(2 * np.pi * i / (2.4 * fps))))
        cy = round((height - box_h) * (0.5 + 0.5 * np.cos(2 * np.pi * i / (1.8 * fps))))
        box = image[cy : cy + box_h, cx : cx + box_w]
        box[...] = 255 - box
        image = cv2.add(image, grain_up[i % len(grain_up)])
        yield cv2.subtract(image, grain_down[i % len(grain_down)])


def music(seconds, *, sr=SR, seed=SEED):
    """Stereo float32 music-like audio, shape (2, n_samples), in [-1, 1].

    Plucked chords (three notes, three harmonics each) changing every bar, a
    bass on the root, a kick drum on every beat (120 BPM), hi-hats (high-passed
    noise) on the eighths, a quiet tone in the right channel and a noise floor.
    Built in blocks, so that the temporaries stay small however long it is.
    """
    n_samples = round(seconds * sr)
    out = np.empty((2, n_samples), np.float32)
    rng = np.random.default_rng(seed)
    chords = np.array(CHORDS)
    block = round(MUSIC_BLOCK_SECONDS * sr)
    for s0 in range(0, n_samples, block):
        s1 = min(n_samples, s0 + block)
        t = np.arange(s0, s1) / sr  # float64: phases stay exact for an hour
        chord = chords[(t // BAR_SECONDS).astype(np.intp) % len(chords)]
        since_beat = (t % BEAT_SECONDS).astype(np.float32)
        x = np.zeros(s1 - s0, np.float32)
        for voice in range(chords.shape[1]):
            phase = (2 * np.pi * 220.0 * 2 ** (chord[:, voice] / 12) * t) % (2 * np.pi)
            phase = phase.astype(np.float32)
            for harmonic, amplitude in ((1, 0.2), (2, 0.08), (3, 0.04)):
                x += amplitude * np.sin(harmonic * phase)
        x *= np.exp(-3 * since_beat)
        bass = (2 * np.pi * 55.0 * 2 ** (chord[:, 0] / 12) * t) % (2 * np.pi)
        x += 0.25 * np.sin(bass.astype(np.float32)) * np.exp(-4 * since_beat)
        kick = 50 * since_beat + 7.5 * (1 - np.exp(-20 * since_beat))
        x += 0.5 * np.sin(2 * np.pi * kick) * np.exp(-25 * since_beat)
        noise = rng.standard_normal((2, s1 - s0), dtype=np.float32)
        hats = np.exp(-120 * (t % (BEAT_SECONDS / 2))).astype(np.float32)
        out[:, s0:s1] = x + 0.06 * hats * np.diff(noise, prepend=0, axis=1)
        out[:, s0:s1] += 0.005 * noise
        tone = (2 * np.pi * 880.0 * t) % (2 * np.pi)
        out[1, s0:s1] += 0.02 * np.sin(tone.astype(np.float32))
    out *= 0.8
    return np.clip(out, -1.0, 1.0, out=out)


@dataclass
class Clip:
    path: str
    seconds: float
    size: tuple
    encode_seconds: float | None  # None: reused from --workdir
    mbit_s: float


def make_clip(workdir, seconds, size, *, fps=CLIP_FPS):
    """The generated clip in ``workdir``: reused if a complete one is there."""
    width, height = size
    path = os.path.join(workdir, f"bench_{seconds:g}s_{width}x{height}_{fps}fps.mp4")
    encode_seconds = None
    if not _complete(path, seconds, size):
        start = time.perf_counter()
        write_media(
            path + ".part.mp4",
            video=video_frames(round(seconds * fps), size=size, fps=fps),
            fps=fps,
            audio=music(seconds),
            sr=SR,
            video_options=CLIP_VIDEO_OPTIONS,
        )
        os.replace(path + ".part.mp4", path)
        encode_seconds = time.perf_counter() - start
    mbit_s = os.path.getsize(path) * 8 / seconds / 1e6
    return Clip(path, seconds, size, encode_seconds, mbit_s)


def _complete(path, seconds, size):
    try:
        info = probe(path)
    except Exception:
        return False
    return (
        (info.width, info.height) == tuple(size)
        and info.video_duration is not None
        and info.video_duration >= seconds - 0.1
        and info.has_audio
    )


def link_copies(path, n):
    """``n`` names for the clip (hard links where the file system allows)."""
    stem, ext = os.path.splitext(path)
    paths = []
    for k in range(n):
        copy = f"{stem}_file{k}{ext}"
        with contextlib.suppress(FileNotFoundError):
            os.remove(copy)
        try:
            os.link(path, copy)
        except OSError:
            shutil.copyfile(path, copy)
        paths.append(copy)
    return paths


# --------------------------------------------------------------------------
# Stages, in this process
# --------------------------------------------------------------------------


@dataclass
class Stages:
    """Per-segment milliseconds of each stage, scaled to a 6 s segment."""

    ms: dict = field(default_factory=lambda: {s: [] for s in STAGES})

    def median(self, stage):
        return statistics.median(self.ms[stage]) if self.ms[stage] else None

    def total(self):
        return sum(self.median(s) for s in STAGES)


def _timed_iter(iterator, times, scale):
    """Items of ``iterator``; the time each took to make goes into ``times``."""
    while True:
        start = time.perf_counter()
        item = next(iterator, None)
        elapsed = time.perf_counter() - start
        if item is None:
            return
        times.append(1e3 * elapsed * scale)
        yield item


@contextlib.contextmanager
def one_thread():
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        cv2.setNumThreads(previous)


def measure_stages(path, segments, *, repeats, scale=1.0):
    """Stages of ``path`` over ``segments``, one thread, in this process.

    Round 0 is the warm-up and is not recorded; each round decodes every
    segment, then featurizes the decoded segments.
    """
    video_featurizer, audio_featurizer = VideoFeaturizer(), AudioFeaturizer()
    result = Stages()
    with one_thread():
        for round_ in range(repeats + 1):
            ms = {s: [] for s in STAGES} if round_ == 0 else result.ms
            frames = [
                f
                for _, f in _timed_iter(
                    iter_video(
                        path, segments, fps=DECODE_FPS, size=DECODE_SIZE, threads=1
                    ),
                    ms["decode video"],
                    scale,
                )
            ]
            audio = [
                y
                for _, y in _timed_iter(
                    iter_audio(path, segments, sr=SR), ms["decode audio"], scale
                )
            ]
            for stage, featurizer, contents in (
                ("video features", video_featurizer, frames),
                ("audio features", audio_featurizer, audio),
            ):
                for content in contents:
                    start = time.perf_counter()
                    featurizer._featurize(content)
                    ms[stage].append(1e3 * (time.perf_counter() - start) * scale)
            del frames, audio
    return result


# --------------------------------------------------------------------------
# Pipeline, through the batch loop's worker processes
# --------------------------------------------------------------------------

# Functions run in the decoding child of this process's main thread (the one
# the batch loop uses with n_jobs=1) with call_isolated; defined here, they
# travel by value.


def _child_pin(cpus):
    """Pin the child (and the threads it starts from now on) to ``cpus``."""
    os.sched_setaffinity(0, cpus)
    return os.getpid()


def _child_reset_peak():
    """Reset the child's peak resident memory; False where Linux does not let."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _child_memory():
    """(pid, resident MB, peak resident MB) of the child."""
    rss = hwm = None
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024
    except OSError:
        pass
    if hwm is None:  # ru_maxrss: kB on Linux, bytes on macOS
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        hwm = maxrss / (2**20 if sys.platform == "darwin" else 1024)
    return os.getpid(), rss, hwm


def in_child(func, *args):
    return call_isolated(func, *args, path="(benchmark)")


@dataclass
class PipelineRuns:
    """Wall seconds of the featurizers, per timed run, and memory peaks."""

    media_seconds: float
    n_segments: int
    video: list = field(default_factory=list)
    audio: list = field(default_factory=list)
    peaks: dict = field(default_factory=lambda: {"video": [], "audio": []})
    peak_method: str = ""
    baseline_mb: float | None = None  # the child after its imports
    warm_mb: float | None = None  # after a warm-up run of both featurizers

    def x_real_time(self, which="both"):
        if not self.video:
            return None
        both = [v + a for v, a in zip(self.video, self.audio)]
        seconds = {"video": self.video, "audio": self.audio, "both": both}[which]
        return self.media_seconds / statistics.median(seconds)

    def ms_per_segment(self):
        both = [v + a for v, a in zip(self.video, self.audio)]
        return 1e3 * statistics.median(both) / self.n_segments

    def peak(self, which):
        return max(self.peaks[which]) if self.peaks[which] else None


def run_pipeline(paths, *, n_jobs, runs, memory=False):
    """One timed run: segment_media, then both featurizers."""
    start = time.perf_counter()
    segments = segment_media(paths, seconds=SEGMENT_SECONDS)
    setup = time.perf_counter() - start
    featurize(segments, n_jobs=n_jobs, runs=runs, memory=memory, setup=setup)
    return segments


def featurize(segments, *, n_jobs, runs=None, memory=False, setup=0.0):
    """Both featurizers over ``segments``; their wall times (the video's
    plus ``setup``, the time segment_media took) go into ``runs``, and with
    ``memory`` the peak resident memory of this thread's decoding child
    during each (read and reset between the timed calls)."""
    times, peaks = {}, {}
    for which, cls in (("video", VideoFeaturizer), ("audio", AudioFeaturizer)):
        if memory:
            pid = in_child(os.getpid)
            reset = in_child(_child_reset_peak)
        start = time.perf_counter()
        X = cls(n_jobs=n_jobs).transform(segments)
        times[which] = time.perf_counter() - start
        if X.shape[0] != len(segments) or not np.isfinite(X).all():
            raise RuntimeError(f"{cls.__name__} gave unexpected output {X.shape}")
        if memory:
            child_pid, _, peak = in_child(_child_memory)
            # A different child would not have featurized anything.
            peaks[which] = peak if child_pid == pid else None
            if runs is not None:
                runs.peak_method = (
                    "VmHWM, reset before each featurizer"
                    if reset
                    else "ru_maxrss since the child started"
                )
    times["video"] += setup
    if runs is not None:
        runs.video.append(times["video"])
        runs.audio.append(times["audio"])
        for which, peak in peaks.items():
            if peak is not None:
                runs.peaks[which].append(peak)
    return times


def measure_pipelines(paths, *, repeats):
    """{setting: PipelineRuns} for the three settings, timed in turn."""
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    settings = {
        "1 worker, one core": dict(n_jobs=1, pin={usable[0]} if usable else None),
        "1 worker, any core": dict(n_jobs=1, pin=set(usable) or None),
        "2 workers": dict(n_jobs=2, pin=None),
    }
    segments = segment_media(paths, seconds=SEGMENT_SECONDS)
    media = len(segments) * SEGMENT_SECONDS
    per_file = len(segments) // len(paths)
    runs = {name: PipelineRuns(media, len(segments)) for name in settings}
    # This thread's decoding child has probed the files: its imports are done.
    baseline = in_child(_child_memory)[1]
    # Warm-up: the first segment of each file, per setting (starts joblib's
    # workers and their decoding children, and pays their imports).
    firsts = segments[::per_file]
    for setting in settings.values():
        featurize(firsts, n_jobs=setting["n_jobs"])
    warm = in_child(_child_memory)[1]
    for _ in range(repeats):
        for name, setting in settings.items():
            if setting["pin"] is not None:
                in_child(_child_pin, setting["pin"])
            n_jobs = setting["n_jobs"]
            run_pipeline(paths, n_jobs=n_jobs, runs=runs[name], memory=n_jobs == 1)
    if usable:
        in_child(_child_pin, set(usable))
    for r in runs.values():
        r.baseline_mb, r.warm_mb = baseline, warm
    return runs


def measure_long(args, workdir, short):
    """Generate the long clip and featurize it with one worker; ``short``:
    the PipelineRuns of the short clip, for comparison."""
    seconds = 60 * args.long_minutes
    print()
    print(
        f"== Long clip: {args.long_minutes:g} min at {args.long_size[0]}x"
        f"{args.long_size[1]}, {CLIP_FPS} fps =="
    )
    sys.stdout.flush()
    clip = make_clip(workdir, seconds, args.long_size)
    print(
        f"  {os.path.basename(clip.path)}: {clip.mbit_s:.2f} Mbit/s; "
        + (
            "reused from --workdir"
            if clip.encode_seconds is None
            else f"generated and encoded in {clip.encode_seconds:.0f} s "
            f"({seconds / clip.encode_seconds:.1f}x real time)"
        )
    )
    sys.stdout.flush()
    n_segments = len(segment_media([clip.path], seconds=SEGMENT_SECONDS))
    runs = PipelineRuns(n_segments * SEGMENT_SECONDS, n_segments)
    run_pipeline([clip.path], n_jobs=1, runs=runs, memory=True)
    print(
        f"  1 worker, any core, {runs.n_segments} segments: video "
        f"{runs.video[0]:.0f} s ({runs.x_real_time('video'):.1f}x real time), "
        f"audio {runs.audio[0]:.0f} s ({runs.x_real_time('audio'):.1f}x), "
        f"both {runs.x_real_time():.1f}x"
    )
    print(
        f"  decoding child's peak resident memory: {fmt_mb(runs.peak('video'))} "
        f"with VideoFeaturizer, {fmt_mb(runs.peak('audio'))} with AudioFeaturizer "
        f"({runs.peak_method}); on the short clip: {fmt_mb(short.peak('video'))} "
        f"and {fmt_mb(short.peak('audio'))}"
    )
    return runs


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def machine_report():
    libav = ".".join(map(str, av.library_versions.get("libavcodec", ())))
    return machine_lines(
        versions=(
            f"joblib {joblib.__version__}",
            f"av {av.__version__} (libavcodec {libav})",
            f"opencv {cv2.__version__}",
            f"librosa {librosa.__version__}",
        )
    )


def fmt_mb(mb):
    return "n/a" if mb is None else f"{mb:.0f} MB"


def print_stages(stages):
    header = (
        f"  {'stage':<16} {'ms/segment':>10} {'fastest':>8} {'slowest':>8} "
        f"{'x real time':>11}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for stage in STAGES:
        ms = stages.ms[stage]
        med = statistics.median(ms)
        print(
            f"  {stage:<16} {med:10.1f} {min(ms):8.1f} {max(ms):8.1f} "
            f"{6000 / med:10.1f}x"
        )
    total = stages.total()
    print(
        f"  {'sum of medians':<16} {total:10.1f} {'':>8} {'':>8} {6000 / total:10.1f}x"
    )


def print_pipelines(runs):
    header = (
        f"  {'setting':<20} {'video x':>8} {'audio x':>8} {'both x':>8} "
        f"{'ms/segment':>10} {'spread':>6}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for name, r in runs.items():
        both = [v + a for v, a in zip(r.video, r.audio)]
        spread = (max(both) - min(both)) / statistics.median(both)
        print(
            f"  {name:<20} {r.x_real_time('video'):7.1f}x "
            f"{r.x_real_time('audio'):7.1f}x {r.x_real_time():7.1f}x "
            f"{r.ms_per_segment():10.1f} {spread:6.0%}"
        )


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def parse_size(text):
    try:
        width, height = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT, e.g. 320x240, got {text!r}"
        ) from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(
            f"sizes must be even and at least 16, got {text!r}"
        )
    return width, height


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=(
            "Time skmv's media featurization: decoding, VideoFeaturizer and "
            "AudioFeaturizer per 6 s segment on one thread, and the whole "
            "Segment-list pipeline with one and two worker processes, on a "
            "generated 640x272 H.264/AAC clip (and ../shared/media/"
            "bigbuckbunny.mp4 when present); peak memory of a worker."
        ),
        epilog=(
            "Default: a 60 s clip, a few minutes on two cores; --quick: a 12 s "
            "clip, under a minute; --long adds a 1-hour clip (generating it "
            "takes minutes; reuse it with --workdir)."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a {QUICK_SECONDS} s clip instead of {CLIP_SECONDS} s, for a smoke test",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        help=f"length of the generated clip (default: {CLIP_SECONDS}, "
        f"{QUICK_SECONDS} with --quick; a multiple of 6)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed passes over the segments, and timed pipeline runs per "
        "setting; medians are shown (default: 3)",
    )
    parser.add_argument(
        "--files",
        type=int,
        default=4,
        help="links to the clip the pipeline runs over, so that two workers "
        "both have files (default: 4)",
    )
    parser.add_argument(
        "--workdir",
        help="where to write the clips, and keep them: a clip already there "
        "is reused (default: a temporary directory, removed at the end)",
    )
    parser.add_argument(
        "--sample",
        default=str(SAMPLE),
        help="a real clip to time the stages on too, skipped when missing "
        "(default: ../shared/media/bigbuckbunny.mp4 next to the repository)",
    )
    parser.add_argument(
        "--no-sample", action="store_true", help="do not time the real clip"
    )
    parser.add_argument(
        "--long",
        action="store_true",
        help="also generate a long clip and report the peak memory of the "
        "worker that featurizes it, against the 500 MB target",
    )
    parser.add_argument(
        "--long-minutes",
        type=float,
        default=LONG_MINUTES,
        help=f"length of the --long clip (default: {LONG_MINUTES})",
    )
    parser.add_argument(
        "--long-size",
        type=parse_size,
        default=LONG_SIZE,
        metavar="WIDTHxHEIGHT",
        help=f"frame size of the --long clip (default: {LONG_SIZE[0]}x"
        f"{LONG_SIZE[1]}; larger sizes take longer to generate)",
    )
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = QUICK_SECONDS if args.quick else CLIP_SECONDS
    if args.seconds < SEGMENT_SECONDS:
        parser.error(f"--seconds must be at least {SEGMENT_SECONDS:g}")
    for name in ("repeats", "files"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.long_minutes <= 0:
        parser.error("--long-minutes must be positive")
    return args


def main(argv=None):
    args = parse_args(argv)
    print("skmv media featurization benchmark")
    for line in machine_report():
        print("  " + line)
    print(f"  repeats: {args.repeats}; segments of {SEGMENT_SECONDS:g} s")
    with contextlib.ExitStack() as stack:
        if args.workdir:
            workdir = args.workdir
            os.makedirs(workdir, exist_ok=True)
        else:
            workdir = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="skmv-bench-")
            )
        run(args, workdir)
    return 0


def run(args, workdir):
    clip = make_clip(workdir, args.seconds, CLIP_SIZE)
    print()
    print(
        f"== Generated clip: {clip.seconds:g} s, {CLIP_SIZE[0]}x{CLIP_SIZE[1]} "
        f"{CLIP_FPS} fps H.264 (CRF 23) + AAC stereo 44.1 kHz, "
        f"{clip.mbit_s:.2f} Mbit/s =="
    )
    if clip.encode_seconds is None:
        print(f"  {clip.path} (reused from --workdir)")
    else:
        print(
            f"  generated and encoded in {clip.encode_seconds:.1f} s "
            f"({clip.seconds / clip.encode_seconds:.1f}x real time)"
        )
    segments = segment_media([clip.path], seconds=SEGMENT_SECONDS)
    print()
    print(
        f"Stages, one thread, {len(segments)} segments x {args.repeats} passes "
        f"(decoded at {DECODE_FPS} fps, {DECODE_SIZE[0]}x{DECODE_SIZE[1]}; "
        f"{SR} Hz mono):"
    )
    stages = {"generated": measure_stages(clip.path, segments, repeats=args.repeats)}
    print_stages(stages["generated"])

    sample = None if args.no_sample else args.sample
    if sample and os.path.isfile(sample):
        info = probe(sample)
        seg = segment_media([sample], seconds=SAMPLE_SEGMENT_SECONDS)[:1]
        print()
        print(
            f"== {os.path.basename(sample)}: {info.duration:.1f} s, {info.width}x"
            f"{info.height} {info.fps:g} fps {info.video_codec} + {info.audio_codec} "
            f"{info.channels} ch {info.sample_rate} Hz =="
        )
        passes = 5 * args.repeats
        print(
            f"Stages, one thread, its first {SAMPLE_SEGMENT_SECONDS:g} s x {passes} "
            f"passes, times scaled by 6/{SAMPLE_SEGMENT_SECONDS:g} to a 6 s segment:"
        )
        scale = SEGMENT_SECONDS / SAMPLE_SEGMENT_SECONDS
        stages["sample"] = measure_stages(sample, seg, repeats=passes, scale=scale)
        print_stages(stages["sample"])
    elif sample:
        print()
        print(f"(no {sample}: the real clip is not measured)")

    paths = link_copies(clip.path, args.files)
    print()
    print(
        f"Pipeline: segment_media + VideoFeaturizer + AudioFeaturizer over "
        f"{args.files} links to the generated clip ({args.files * clip.seconds:g} s "
        f"of media), median of {args.repeats} runs; x: seconds of media per "
        "second of wall time; ms/segment: both featurizers' wall time per 6 s "
        "segment; spread: (slowest - fastest) / median:"
    )
    sys.stdout.flush()
    runs = measure_pipelines(paths, repeats=args.repeats)
    print_pipelines(runs)
    one_core = runs["1 worker, one core"]
    print(
        f"  decoding child (1 worker): resident {fmt_mb(one_core.baseline_mb)} "
        f"after its imports, {fmt_mb(one_core.warm_mb)} after the warm-up (librosa "
        f"loads Numba on its first segment); peak {fmt_mb(one_core.peak('video'))} "
        f"with VideoFeaturizer, {fmt_mb(one_core.peak('audio'))} with "
        f"AudioFeaturizer ({one_core.peak_method}; max over runs)"
    )

    long_runs = measure_long(args, workdir, one_core) if args.long else None
    print_summary(args, clip, stages, one_core, long_runs)


def print_summary(args, clip, stages, one_core, long_runs):
    print()
    print(
        f"Targets, one core: video features <= {TARGET_VIDEO_MS:g} ms per 6 s "
        f"segment, audio features <= {TARGET_AUDIO_MS:g} ms, whole pipeline from "
        f"the {CLIP_SIZE[0]}x{CLIP_SIZE[1]} clip >= {TARGET_PIPELINE_X:g}x real "
        f"time, <= {TARGET_PEAK_MB:g} MB peak resident memory per worker on a "
        f"1-hour clip (hand-built stack: video {HAND_BUILT['video']}, audio "
        f"{HAND_BUILT['audio']}, pipeline {HAND_BUILT['pipeline']})"
    )
    checks = []
    for source, s in stages.items():
        name = "generated clip" if source == "generated" else "sample clip"
        video, audio = s.median("video features"), s.median("audio features")
        checks.append(
            (f"video features ({name})", f"{video:.1f} ms", video <= TARGET_VIDEO_MS)
        )
        checks.append(
            (f"audio features ({name})", f"{audio:.1f} ms", audio <= TARGET_AUDIO_MS)
        )
    x = one_core.x_real_time()
    checks.append(("pipeline, 1 worker, one core", f"{x:.1f}x", x >= TARGET_PIPELINE_X))
    if long_runs is not None:
        peak = max(long_runs.peak("video") or 0, long_runs.peak("audio") or 0)
        what = f"peak memory ({args.long_minutes:g} min clip)"
        passed = peak <= TARGET_PEAK_MB if peak else None
        if args.long_minutes < LONG_MINUTES and passed:
            passed = None  # not the clip the target is about
    else:
        peak = max(one_core.peak("video") or 0, one_core.peak("audio") or 0)
        what = f"peak memory ({clip.seconds:g} s clip; --long for 1 h)"
        passed = None
    checks.append((what, fmt_mb(peak or None), passed))
    for name, value, passed in checks:
        print(f"  {name:<44} {value:>9}  {verdict(passed)}")
    if hasattr(os, "getloadavg"):
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"  (load average at the end: {load}; the machine may be shared)")
    print(
        "SUMMARY: "
        + ", ".join(f"{name} {verdict(passed)}" for name, passed in _overall(checks))
    )
    if args.quick or args.seconds < CLIP_SECONDS:
        print(
            f"(a {clip.seconds:g} s clip: per-file costs, the probe and the worker "
            "round trips, weigh more in the pipeline; the targets are meant for "
            "60 s and more)"
        )


def _overall(checks):
    """One verdict per target, over the sources."""
    overall = {}
    for name, _, passed in checks:
        key = name.split(" (")[0]
        if passed is None:
            overall.setdefault(key, None)
        elif overall.get(key) is None:
            overall[key] = passed
        else:
            overall[key] = overall[key] and passed
    return overall.items()


if __name__ == "__main__":
    sys.exit(main())
