"""Benchmark of cross-modal retrieval: queries per second and peak memory.

Run it directly::

    .venv/bin/python benchmarks/bench_retrieval.py            # 100,000 rows
    .venv/bin/python benchmarks/bench_retrieval.py --quick    # 10,000 rows
    .venv/bin/python benchmarks/bench_retrieval.py --help

What is measured
----------------
One data set of paired "music" and "video" blocks is drawn in a single call
of :func:`skmv.datasets.make_paired_modalities` (fixed seed), so that every
row shares the generator's modality maps: the first ``--train`` rows fit a
:class:`~skmv.shared.SharedRBM` (a ``GaussianBernoulliRBM`` encoder per
modality), the next ``--database`` rows are the database. All rows are
standardised with a ``StandardScaler`` fitted on the training rows. The
queries are the music blocks of the first ``--queries`` database rows, so
that query ``i``'s true partner is database row ``i``.

For each space (``"input"``: the video reconstructed from the music, compared
with the database's video features; ``"shared"``: shared representations
inferred from each modality alone) and each ``--chunk-size``, a
``CrossModalRetriever(model, query="music", target="video", prefit=True)``
is built and timed:

``index``
    ``fit(X_database)``, once per space: the model is not refitted; the
    database is copied (``"input"``) or transformed into the shared space
    (``"shared"``).
``kneighbors``
    ``kneighbors(X_queries, n_neighbors=10)`` after one untimed warm-up
    call; queries per second = queries / median time. The time includes the
    queries' own inference (reconstruction or transform).
``precision@10``
    Fraction of the queries whose true partner is among the 10 returned;
    random retrieval gets 10 / database rows.
``peak memory``
    Two different numbers. ``tracemalloc peak``: the peak of Python-heap
    allocations (NumPy arrays included, as NumPy reports its buffers to
    tracemalloc) during one separate ``kneighbors`` call, above what was
    allocated before it; it is what the chunking bounds. ``max RSS``: the
    process's resident-set high-water mark (``resource.getrusage``), for the
    whole process so far (data, model, database): it only ever grows, so it
    bounds rather than isolates the retrieval's own memory.

Timed calls run without tracemalloc (it slows allocation down); times are
medians of ``--repeats`` calls, and the ``spread`` column, (slowest -
fastest) / median of the query times, shows how much load from elsewhere on
the machine there was: numbers with a large spread are not to be trusted.

GPU: not measured. Where CuPy sees a CUDA device the benchmark says so and
stops there; ``device="cuda"`` retrieval has no timing here yet.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import tracemalloc

import numpy as np
from _common import machine_lines
from sklearn.preprocessing import StandardScaler

from skmv import _backend
from skmv.datasets import make_paired_modalities
from skmv.rbm import GaussianBernoulliRBM
from skmv.retrieval import CrossModalRetriever
from skmv.shared import SharedRBM

SEED = 0
N_FEATURES = (200, 150)  # music, video
N_NEIGHBORS = 10
FULL = dict(database=100_000, queries=500)
QUICK = dict(database=10_000, queries=100)


def max_rss_mib():
    """The process's resident-set high-water mark, in MiB (Linux: KiB units)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 2**20


def make_data(n_train, n_database):
    """Standardised (X_train, X_database) from one generator call."""
    X, _ = make_paired_modalities(
        n_train + n_database, n_features=N_FEATURES, noise=0.5, random_state=SEED
    )
    scaler = StandardScaler().fit(X[:n_train])
    X = scaler.transform(X).astype(np.float32, copy=False)
    return X[:n_train], X[n_train:]


def make_model(args):
    n_music, n_video = N_FEATURES

    def encoder():
        return GaussianBernoulliRBM(
            args.encoder_components,
            n_iter=args.n_iter,
            learning_rate=0.01,
            batch_size=20,
            random_state=SEED,
        )

    return SharedRBM(
        [
            ("music", encoder(), slice(0, n_music)),
            ("video", encoder(), slice(n_music, n_music + n_video)),
        ],
        n_components=args.shared_components,
        n_iter=args.n_iter,
        batch_size=20,
        random_state=SEED,
    )


def timed(fn, repeats):
    """(median seconds, spread, last result) of ``repeats`` calls; spread is
    (slowest - fastest) / median, None for a single call."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    spread = (max(times) - min(times)) / median if repeats > 1 else None
    return median, spread, result


def traced_peak_mib(fn):
    """Peak of traced allocations during ``fn()``, above those before it, MiB."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - before) / 2**20


def measure(model, X_database, X_queries, *, space, chunk_sizes, repeats):
    """One row per chunk size; the database is indexed once per space (the
    chunk size only shapes the distance blocks of ``kneighbors``)."""
    retriever = CrossModalRetriever(
        model,
        query="music",
        target="video",
        space=space,
        n_neighbors=N_NEIGHBORS,
        prefit=True,
    )
    index_s, _, _ = timed(lambda: retriever.fit(X_database), repeats)
    truth = np.arange(X_queries.shape[0])[:, None]

    def query():
        return retriever.kneighbors(X_queries, n_neighbors=N_NEIGHBORS)

    rows = []
    for chunk_size in chunk_sizes:
        retriever.set_params(chunk_size=chunk_size)
        query()  # warm-up
        query_s, spread, (_, indices) = timed(query, repeats)
        hits = np.any(np.asarray(indices) == truth, axis=1)
        peak = traced_peak_mib(query)
        rows.append(
            dict(
                space=space,
                chunk=chunk_size,
                index_s=index_s,
                query_s=query_s,
                spread=spread,
                qps=X_queries.shape[0] / query_s,
                precision=float(np.mean(hits)),
                traced_mib=peak,
                rss_mib=max_rss_mib(),
                db_mib=retriever.database_.nbytes / 2**20,
            )
        )
    return rows


def print_table(rows):
    header = (
        f"  {'space':<7} {'chunk':>6} {'index s':>8} {'query s':>8} "
        f"{'spread':>6} {'queries/s':>10} {'P@10':>6} {'db MiB':>7} {'traced MiB':>10} "
        f"{'max RSS MiB':>11}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for r in rows:
        spread = "-" if r["spread"] is None else f"{r['spread']:.0%}"
        print(
            f"  {r['space']:<7} {r['chunk']:>6} {r['index_s']:8.3f} "
            f"{r['query_s']:8.4f} {spread:>6} {r['qps']:10.0f} {r['precision']:6.3f} "
            f"{r['db_mib']:7.1f} {r['traced_mib']:10.1f} {r['rss_mib']:11.0f}"
        )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=(
            "Time CrossModalRetriever.kneighbors (music queries, video "
            "database) in the input and the shared space, on generated paired "
            "data: queries per second, index time, precision at 10 and peak "
            "memory."
        ),
        epilog=(
            "Full size takes two to three minutes on two cores, most of it "
            "indexing the shared space; --quick seconds."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            f"{QUICK['database']:,} database rows and {QUICK['queries']} "
            f"queries (default: {FULL['database']:,} and {FULL['queries']})"
        ),
    )
    parser.add_argument("--database", type=int, help="database rows")
    parser.add_argument("--queries", type=int, help="query rows (at most --database)")
    parser.add_argument(
        "--train", type=int, default=2000, help="training pairs (default: 2000)"
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        nargs="+",
        default=[4096, 1024],
        help="retriever chunk sizes to compare (default: 4096 1024)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed calls per measurement; the median is shown (default: 3)",
    )
    parser.add_argument(
        "--encoder-components",
        type=int,
        default=256,
        help="hidden units per modality encoder (default: 256)",
    )
    parser.add_argument(
        "--shared-components",
        type=int,
        default=128,
        help="shared hidden units (default: 128)",
    )
    parser.add_argument(
        "--n-iter", type=int, default=20, help="training epochs (default: 20)"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    for name in ("database", "queries"):
        if getattr(args, name) is None:
            setattr(args, name, sizes[name])
    for name in (
        "database",
        "queries",
        "train",
        "repeats",
        "encoder_components",
        "shared_components",
        "n_iter",
    ):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if min(args.chunk_size) < 1:
        parser.error("--chunk-size must be at least 1")
    if args.queries > args.database:
        parser.error("--queries must be at most --database")
    return args


def main(argv=None):
    args = parse_args(argv)
    print("skmv cross-modal retrieval benchmark")
    for line in machine_lines(blas=True):
        print("  " + line)
    print(
        f"  data: make_paired_modalities(n_features={N_FEATURES}, noise=0.5, "
        f"random_state={SEED}), standardised; {args.train} training pairs, "
        f"{args.database:,} database rows, {args.queries} queries (database rows "
        f"0..{args.queries - 1}); repeats: {args.repeats}"
    )

    start = time.perf_counter()
    X_train, X_database = make_data(args.train, args.database)
    X_queries = X_database[: args.queries]
    data_s = time.perf_counter() - start
    start = time.perf_counter()
    model = make_model(args).fit(X_train)
    fit_s = time.perf_counter() - start
    print(
        f"  data generated in {data_s:.1f} s; SharedRBM (encoders "
        f"{args.encoder_components}, shared {args.shared_components}, "
        f"{args.n_iter} epochs) fitted in {fit_s:.1f} s; "
        f"max RSS so far {max_rss_mib():.0f} MiB"
    )

    rows = []
    for space in ("input", "shared"):
        rows += measure(
            model,
            X_database,
            X_queries,
            space=space,
            chunk_sizes=args.chunk_size,
            repeats=args.repeats,
        )
    print()
    print(
        f"Music queries -> video database, k={N_NEIGHBORS}, CPU. index s: median "
        "fit(X_database) with\nprefit=True (once per space); query s: median "
        "kneighbors of all queries (their\ninference included); spread: (slowest - "
        "fastest) / median of the query times,\nlarge when the machine was "
        "busy; P@10: fraction of queries\nwith their true partner in the top 10 "
        f"(random: {N_NEIGHBORS}/"
        f"{args.database:,} = {N_NEIGHBORS / args.database:.5f});\ndb MiB: "
        "database_ size; traced MiB: tracemalloc peak during one kneighbors "
        "call\n(NumPy allocations on the Python heap); max RSS MiB: the "
        "process's resident-set\nhigh-water mark so far (getrusage; whole "
        "process, never decreases)."
    )
    print()
    print_table(rows)

    print()
    best = {
        space: max(r["qps"] for r in rows if r["space"] == space)
        for space in ("input", "shared")
    }
    print(
        f"SUMMARY: {args.queries} queries against {args.database:,} rows: "
        + ", ".join(
            f"{space} {qps:,.0f} queries/s (P@10 "
            f"{max(r['precision'] for r in rows if r['space'] == space):.3f})"
            for space, qps in best.items()
        )
        + f"; random P@10 {N_NEIGHBORS / args.database:.5f}"
    )
    if _backend.cupy_available():
        print("GPU: CuPy sees a CUDA device, but this benchmark does not time it.")
    else:
        print("GPU: not measured (no CuPy or no CUDA device).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
