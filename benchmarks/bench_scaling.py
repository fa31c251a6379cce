"""Benchmark of how featurization and training time grow with the corpus, and
what a corpus the size of the paper's costs.

Run it directly::

    .venv/bin/python benchmarks/bench_scaling.py                  # 10, 20, 40 clips
    .venv/bin/python benchmarks/bench_scaling.py --sizes 4 8 16   # a smoke test
    .venv/bin/python benchmarks/bench_scaling.py --workdir DIR    # keep the corpus
    .venv/bin/python benchmarks/bench_scaling.py --help

What is measured
----------------
Corpus. ``skmv.datasets.make_music_videos(max(--sizes), clip_seconds=60,
random_state=0)``: one-minute H.264/AAC clips at its defaults (160x120, 12
fps, 22.05 kHz), ten 6 s segments each. The corpus of size ``n`` is its first
``n`` clips, so that every size shares its files with the larger ones. With
``--workdir`` the files are kept there and reused by later runs; encoding them
is not timed.

For each size, ``--repeats`` times, in turn:

``featurize, N jobs``
    ``segment_media(paths)``, then ``VideoFeaturizer(n_jobs=N)`` and
    ``AudioFeaturizer(n_jobs=N)`` (default settings: 3044 + 816 columns)
    ``.transform(segments)``, without a cache: the real batch loop, one
    joblib task per file, each file decoded in an isolated child process; the
    video and the audio are decoded separately, as a user running both would.
    For N = 1 and 2 (``--jobs``). An untimed warm-up on the first segment of
    two files first starts the worker and decoder processes and pays for the
    imports (a few seconds once per run, not per corpus); the timed runs check
    that every setting gives the same rows.
``train``
    ``fit`` of the shared model of the examples on the corpus's rows: per
    modality ``make_pipeline(StandardScaler(), DBNTransformer(widths,
    n_iter=30))`` with widths (256, 64) for the video and (128, 64) for the
    audio, then ``SharedRBM(n_components=256, learning_rate=0.01, n_iter=30,
    random_state=0)`` over both, with ``--blas-threads`` BLAS threads
    (default: the BLAS's own choice, printed). On a machine shared with
    other work, pass 1: OpenBLAS's threads wait for each other, and with more
    runnable threads than cores a fit with two threads can take ten times as
    long as with one.
``train, rows x K``
    The same fit on the rows of the largest corpus repeated ``K`` times
    (``--train-tiles``, 5 and 20 by default): training has no early stopping
    and its cost per epoch does not depend on the values of the rows, so
    this measures training at 2,000 and 8,000 rows (with the default sizes),
    nearer the paper's scale, without featurizing that many segments.

Times are medians over the repeats; per size the table shows them with
segments per second and seconds per segment. A least-squares line ``seconds
= a + b * segments`` per column is then extrapolated to ``--target-mvs``
music videos of ``--target-segments`` segments each (by default the paper's
2,000 MVs of about four minutes: 80,000 segments) on one machine of this
kind; the training line is fitted on every training point, the repeated
rows included. The line assumes that each segment adds the same cost: true
of featurization (one independent task per file) and of training with a
fixed number of epochs (each epoch is a pass over the rows; its fixed costs
go into ``a``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time

import av
import cv2
import joblib
import librosa
import numpy as np
from _common import machine_lines
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skmv.datasets import make_music_videos
from skmv.dbn import DBNTransformer
from skmv.features import AudioFeaturizer, VideoFeaturizer
from skmv.io import segment_media
from skmv.shared import SharedRBM

SEED = 0
CLIP_SECONDS = 60
SEGMENT_SECONDS = 6
SIZES = (10, 20, 40)
JOBS = (1, 2)
# The paper's corpus: 2,000 MVs of about four minutes, 40 segments of 6 s.
TARGET_MVS = 2000
TARGET_SEGMENTS = 40
TRAIN_TILES = (5, 20)


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------


def featurize(paths, n_jobs):
    """(seconds, rows): segment ``paths``, then both featurizers on them."""
    start = time.perf_counter()
    segments = segment_media(paths, seconds=SEGMENT_SECONDS)
    video = VideoFeaturizer(n_jobs=n_jobs).transform(segments)
    audio = AudioFeaturizer(n_jobs=n_jobs).transform(segments)
    seconds = time.perf_counter() - start
    return seconds, np.hstack([video, audio])


def warm_up(paths, n_jobs):
    """Start the worker and decoder processes of ``n_jobs`` (untimed)."""
    # Two files, so that both of two workers get one.
    segments = [segment_media([path], seconds=SEGMENT_SECONDS)[0] for path in paths]
    VideoFeaturizer(n_jobs=n_jobs).transform(segments)
    AudioFeaturizer(n_jobs=n_jobs).transform(segments)


def shared_model(n_video, n_features):
    """The shared model of the examples (examples/plot_retrieval.py)."""

    def deep(widths):
        return make_pipeline(StandardScaler(), DBNTransformer(widths, n_iter=30))

    return SharedRBM(
        [
            ("video", deep((256, 64)), slice(0, n_video)),
            ("audio", deep((128, 64)), slice(n_video, n_features)),
        ],
        n_components=256,
        learning_rate=0.01,
        n_iter=30,
        random_state=SEED,
    )


def train(X, n_video, blas_threads=None):
    """Seconds to fit the shared model on ``X``."""
    model = shared_model(n_video, X.shape[1])
    with threadpool_limits(blas_threads, user_api="blas"):
        start = time.perf_counter()
        model.fit(X)
        return time.perf_counter() - start


def measure(paths, sizes, jobs, repeats, tiles, blas_threads):
    """{column: {size: [seconds, ...]}}, the number of segments per size, and
    {K: [seconds, ...]} of training on the largest corpus's rows repeated K
    times."""
    columns = [f"featurize, {n} job{'s' * (n > 1)}" for n in jobs] + ["train"]
    times = {c: {n: [] for n in sizes} for c in columns}
    n_segments = {}
    n_video = VideoFeaturizer()._n_features_out
    for n_jobs in jobs:
        warm_up(paths[:2], n_jobs)
    # Pays for the first BLAS call and the estimators' imports (untimed).
    rng = np.random.default_rng(SEED)
    shared_model(n_video, n_video + 8).set_params(n_iter=1).fit(
        rng.standard_normal((50, n_video + 8), dtype=np.float32)
    )
    for size in sizes:
        for repeat in range(repeats):
            reference = None
            for n_jobs, column in zip(jobs, columns):
                seconds, X = featurize(paths[:size], n_jobs)
                times[column][size].append(seconds)
                if reference is None:
                    reference = X
                elif not np.array_equal(X, reference, equal_nan=True):
                    raise AssertionError(f"n_jobs={n_jobs} changed the features")
            if not np.isfinite(reference).all():
                raise AssertionError("a file was not featurized")
            n_segments[size] = len(reference)
            times["train"][size].append(train(reference, n_video, blas_threads))
            print(
                f"  {size} clips, run {repeat + 1}: "
                + ", ".join(f"{c} {times[c][size][-1]:.1f} s" for c in columns),
                flush=True,
            )
    tiled = {k: [] for k in tiles}
    for repeat in range(repeats):
        for k in tiles:
            X = np.tile(reference, (k, 1))
            tiled[k].append(train(X, n_video, blas_threads))
            print(
                f"  train on {k * len(reference)} rows ({len(reference)} x {k}), "
                f"run {repeat + 1}: {tiled[k][-1]:.1f} s",
                flush=True,
            )
    return times, n_segments, tiled


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
        ),
        blas=True,
    )


def _row(label, column, n, runs):
    med = statistics.median(runs)
    # One run has no spread to show.
    spread = f"{(max(runs) - min(runs)) / med:.0%}" if len(runs) > 1 else "-"
    print(
        f"  {label:>5} {n:>8}  {column:<20} {med:8.1f} {n / med:10.1f} "
        f"{med / n:9.4f} {spread:>6}"
    )


def print_table(times, n_segments, tiled):
    sizes = list(n_segments)
    print(
        f"  {'clips':>5} {'segments':>8}  {'column':<20} {'s':>8} "
        f"{'segments/s':>10} {'s/segment':>9} {'spread':>6}"
    )
    print("  " + "-" * 74)
    for size in sizes:
        for column, per_size in times.items():
            _row(size, column, n_segments[size], per_size[size])
    largest = sizes[-1]
    for k, runs in tiled.items():
        _row(largest, f"train, rows x {k}", k * n_segments[largest], runs)


def print_extrapolation(times, n_segments, tiled, target_mvs, target_segments):
    target = target_mvs * target_segments
    largest = n_segments[max(n_segments)]
    print(
        "  seconds = a + b * segments (least squares over the sizes; for "
        "training, the repeated rows too), "
        f"extrapolated to {target_mvs:,} MVs x {target_segments} segments = "
        f"{target:,} segments, one machine of this kind:"
    )
    print(f"  {'column':<20} {'a (s)':>8} {'b (ms/seg)':>10} {'total':>10}")
    print("  " + "-" * 51)
    totals = {}
    for column, per_size in times.items():
        points = [(n_segments[n], statistics.median(per_size[n])) for n in n_segments]
        if column == "train":
            points += [(k * largest, statistics.median(r)) for k, r in tiled.items()]
        x, y = np.array(points, float).T
        b, a = np.polyfit(x, y, 1)
        totals[column] = a + b * target
        print(f"  {column:<20} {a:8.1f} {1e3 * b:10.1f} {totals[column] / 3600:9.2f} h")
    return totals


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=(
            "Time corpus featurization (segment_media + VideoFeaturizer + "
            "AudioFeaturizer, 1 and 2 jobs) and the training of the examples' "
            "shared model at several corpus sizes of generated one-minute "
            "music videos, and extrapolate to the paper's 2,000 MVs."
        ),
        epilog=(
            "Default: 10, 20 and 40 clips, one run each: about 5 minutes on "
            "two cores once the corpus exists (encoding 40 clips takes about "
            "a minute more; keep them with --workdir)."
        ),
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(SIZES),
        metavar="N",
        help=f"corpus sizes, in clips of {CLIP_SECONDS} s (default: "
        f"{' '.join(map(str, SIZES))}); at least two, for the line",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        nargs="+",
        default=list(JOBS),
        metavar="N",
        help=f"n_jobs settings of the featurizers (default: "
        f"{' '.join(map(str, JOBS))})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="timed runs per size; medians are shown (default: 1)",
    )
    parser.add_argument(
        "--train-tiles",
        type=int,
        nargs="*",
        default=list(TRAIN_TILES),
        metavar="K",
        help="also train on the largest corpus's rows repeated K times "
        f"(default: {' '.join(map(str, TRAIN_TILES))}; none to skip)",
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        metavar="N",
        help="BLAS threads for training (default: the BLAS's own choice)",
    )
    parser.add_argument(
        "--workdir",
        help="where to write the corpus, and keep it: clips already there "
        "are reused (default: a temporary directory, removed at the end)",
    )
    parser.add_argument(
        "--target-mvs",
        type=int,
        default=TARGET_MVS,
        help=f"music videos to extrapolate to (default: {TARGET_MVS:,})",
    )
    parser.add_argument(
        "--target-segments",
        type=int,
        default=TARGET_SEGMENTS,
        help=f"6 s segments per extrapolated MV (default: {TARGET_SEGMENTS}, "
        "about four minutes)",
    )
    args = parser.parse_args(argv)
    args.sizes = sorted(set(args.sizes))
    if len(args.sizes) < 2 or args.sizes[0] < 2:
        parser.error("--sizes needs at least two sizes of at least 2 clips")
    for name in ("repeats", "target_mvs", "target_segments"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if min(args.jobs) < 1:
        parser.error("--jobs must be at least 1")
    if args.blas_threads is not None and args.blas_threads < 1:
        parser.error("--blas-threads must be at least 1")
    if args.train_tiles and min(args.train_tiles) < 2:
        parser.error("--train-tiles must be at least 2")
    return args


def main(argv=None):
    args = parse_args(argv)
    print("skmv corpus scaling benchmark")
    for line in machine_report():
        print("  " + line)
    print(
        f"  corpus: make_music_videos(clip_seconds={CLIP_SECONDS}, "
        f"random_state={SEED}), sizes {args.sizes} clips; repeats: {args.repeats}"
    )
    threads = args.blas_threads or "the BLAS's default"
    print(f"  training: {threads} BLAS thread(s); tiles {args.train_tiles}")
    with contextlib.ExitStack() as stack:
        if args.workdir:
            workdir = args.workdir
        else:
            workdir = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="skmv-bench-")
            )
        directory = os.path.join(workdir, f"music_videos_{max(args.sizes)}")
        start = time.perf_counter()
        corpus = make_music_videos(
            max(args.sizes),
            clip_seconds=CLIP_SECONDS,
            directory=directory,
            random_state=SEED,
            n_jobs=max(args.jobs),
        )
        print(
            f"  {len(corpus.paths)} clips in {directory} "
            f"({time.perf_counter() - start:.0f} s to make or reuse)"
        )
        print()
        times, n_segments, tiled = measure(
            corpus.paths,
            args.sizes,
            args.jobs,
            args.repeats,
            args.train_tiles,
            args.blas_threads,
        )
    print()
    print("Time per corpus size (median of the runs):")
    print_table(times, n_segments, tiled)
    print()
    print_extrapolation(times, n_segments, tiled, args.target_mvs, args.target_segments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
