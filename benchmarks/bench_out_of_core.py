"""Peak memory and time of fitting a SharedRBM on a large memmap, in memory
(``chunk_size=None``) against streaming (``chunk_size=N``).

The model is the README's: per modality ``make_pipeline(StandardScaler(),
DBNTransformer(...))``, a shared RBM over them, contrastive fine-tuning. Each
fit runs in a child process of its own, so that what one leaves behind does
not count in the next; two figures are taken:

* peak anonymous memory (``RssAnon`` of ``/proc/self/status``, sampled
  every 10 ms, minus its value before the fit): the process's own memory,
  not the memmap's file pages, which the kernel reclaims at will;
* peak of NumPy's and Python's allocations (``tracemalloc``), in a second
  child, since tracing slows the fit a little.

Run by hand (it writes a file of ``--gib`` GiB under ``--dir``)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
        python benchmarks/bench_out_of_core.py --dir /tmp --chunk-size 10000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

MIB = 2**20


def _rss_anon():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


def _make(path, n, n_video, n_audio, seed=0):
    d = n_video + n_audio
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 3.0, d).astype(np.float32)
    shift = rng.normal(0.0, 2.0, d).astype(np.float32)
    for start in range(0, n, 20_000):
        stop = min(start + 20_000, n)
        X[start:stop] = rng.standard_normal((stop - start, d), np.float32)
        X[start:stop] *= scale
        X[start:stop] += shift
    X.flush()


def _model(n_video, n_audio, chunk_size):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skmv.dbn import DBNTransformer
    from skmv.shared import SharedRBM

    def encoder():
        return make_pipeline(
            StandardScaler(), DBNTransformer((64, 32), n_iter=2, batch_size=100)
        )

    return SharedRBM(
        [
            ("video", encoder(), slice(0, n_video)),
            ("audio", encoder(), slice(n_video, n_video + n_audio)),
        ],
        n_components=32,
        n_iter=2,
        fine_tune="contrastive",
        fine_tune_n_iter=1,
        random_state=0,
        chunk_size=chunk_size,
    )


def _child(args):
    """Fit once in this process and print the figures as JSON."""
    X = np.load(args.path, mmap_mode="r")
    chunk_size = args.chunk_size or None
    model = _model(args.n_video, X.shape[1] - args.n_video, chunk_size)
    result = {"chunk_size": chunk_size}
    if args.trace:
        import tracemalloc

        tracemalloc.start()
        model.fit(X)
        result["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / MIB
    else:
        base, peak, done = _rss_anon(), [0], threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], _rss_anon())
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        begin = time.perf_counter()
        model.fit(X)
        result["seconds"] = time.perf_counter() - begin
        done.set()
        sampler.join()
        result["rss_anon_peak_mib"] = (max(peak[0], _rss_anon()) - base) / MIB
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="/tmp", help="where the memmap goes")
    parser.add_argument("--gib", type=float, default=1.6, help="size of X in GiB")
    parser.add_argument("--n-video", type=int, default=1500)
    parser.add_argument("--n-audio", type=int, default=500)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the memmap")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args)

    d = args.n_video + args.n_audio
    n = int(args.gib * 2**30 / (4 * d))
    path = os.path.join(args.dir, f"skmv-bench-{n}x{d}.npy")
    if not os.path.exists(path):
        print(f"writing {path}: {n} rows x {d} float32 ...", flush=True)
        _make(path, n, args.n_video, args.n_audio)
    print(f"X: {n} x {d} float32, {n * d * 4 / MIB:.0f} MiB on disk", flush=True)
    try:
        rows = []
        for chunk_size in (0, args.chunk_size):
            row = {}
            for trace in (False, True):
                argv = [
                    sys.executable, __file__, "--child", "--path", path,
                    "--n-video", str(args.n_video), "--chunk-size", str(chunk_size),
                ] + (["--trace"] if trace else [])  # fmt: skip
                out = subprocess.run(argv, check=True, capture_output=True, text=True)
                row.update(json.loads(out.stdout.strip().splitlines()[-1]))
            rows.append(row)
            print(json.dumps(row), flush=True)
        memory, stream = rows
        print(
            f"\nin memory: {memory['rss_anon_peak_mib']:.0f} MiB anonymous, "
            f"{memory['tracemalloc_peak_mib']:.0f} MiB allocated, "
            f"{memory['seconds']:.1f} s\n"
            f"chunk_size={args.chunk_size}: {stream['rss_anon_peak_mib']:.0f} MiB "
            f"anonymous, {stream['tracemalloc_peak_mib']:.0f} MiB allocated, "
            f"{stream['seconds']:.1f} s "
            f"({stream['seconds'] / memory['seconds']:.2f} x the time)"
        )
    finally:
        if not args.keep:
            os.remove(path)


if __name__ == "__main__":
    main()
