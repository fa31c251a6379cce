"""Benchmark of approximate nearest neighbours (FaissNeighbors) against the
exact scan, on a million embeddings of a fitted skmv model.

Run it directly::

    .venv/bin/python benchmarks/bench_neighbors.py            # 10^6 rows
    .venv/bin/python benchmarks/bench_neighbors.py --quick    # 10^5 rows
    .venv/bin/python benchmarks/bench_neighbors.py --help

What is measured
----------------
The embeddings are those a :class:`~skmv.retrieval.CrossModalRetriever` with
``space="shared"`` indexes: one call of
:func:`skmv.datasets.make_paired_modalities` (16 latent dimensions, 50
classes, noise 0.5, 200 "music" and 150 "video" features, fixed seed) draws
every row; the first ``--train`` rows, standardised, fit a
:class:`~skmv.shared.SharedRBM` (a 256-unit ``GaussianBernoulliRBM`` encoder
per modality, 256 shared units, 10 epochs); the next ``--database`` rows are
the database and the last ``--queries`` rows the queries, each embedded as
``transform(X, given=["video"])``: 256 float32 dimensions, the shared
representation inferred from the video alone, compared with the retriever's
default cosine distance (not standardised, as ``standardize="auto"`` leaves
the shared space). Queries are distinct from the database rows and drawn from
the same distribution. ``--cache DIR`` keeps the embeddings in a ``.npy``
file for later runs (embedding 10^6 rows takes minutes: the mean-field
inference of the missing modality).

Each method answers the same queries, k = 10:

``exact scan``
    skmv's blocked exact scan, the one ``CrossModalRetriever.kneighbors``
    runs with ``neighbors=None`` (``chunk_size=4096``): its answers are the
    ground truth of recall@10.
``FAISS Flat``, ``HNSW32``, ``IVF<nlist>,Flat``, ``IVF<nlist>,PQ32``
    :class:`~skmv.neighbors.FaissNeighbors` with that ``index_factory``
    (``metric="cosine"``), searched at several ``ef_search`` or ``nprobe``
    values without rebuilding.

``build s`` is one ``fit`` (training included: IVF and PQ on a seeded sample
of at most ``n_train=262144`` rows); ``MiB / 10^6 rows`` the index's size
(``faiss.serialize_index``), or the database array's for the exact scan,
per million rows; ``queries/s`` the queries over the median of ``--repeats``
timed searches of all of them in one call (after one untimed warm-up);
``recall@10`` the mean fraction of the exact top 10 found. Everything runs
on ``--threads`` threads (BLAS and FAISS's OpenMP), one by default: a
machine's other cores multiply both sides alike.

Targets (skmv issue 13): an approximate index at recall@10 >= 0.95 and at
least 20 times the exact scan's queries per second.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time

import numpy as np
from _common import machine_lines, verdict
from sklearn.preprocessing import StandardScaler

SEED = 0
K = 10
N_FEATURES = (200, 150)  # music, video
FULL = dict(database=1_000_000, queries=1000, nlist=4096)
QUICK = dict(database=100_000, queries=1000, nlist=1024)
TARGET_RECALL = 0.95
TARGET_SPEEDUP = 20.0


def embeddings(args):
    """(database, queries): 256-d shared representations of a fitted model."""
    from skmv.datasets import make_paired_modalities
    from skmv.rbm import GaussianBernoulliRBM
    from skmv.shared import SharedRBM

    key = f"{args.train}-{args.database}-{args.queries}-{SEED}"
    path = None
    if args.cache:
        name = hashlib.sha1(key.encode()).hexdigest()[:12]
        path = os.path.join(args.cache, f"bench_neighbors-{name}.npz")
        if os.path.exists(path):
            with np.load(path) as f:
                print(f"  embeddings read from {path}")
                return f["database"], f["queries"]
    start = time.perf_counter()
    n = args.train + args.database + args.queries
    X, _ = make_paired_modalities(
        n,
        n_features=N_FEATURES,
        n_latent=16,
        n_classes=50,
        noise=0.5,
        random_state=SEED,
    )
    X_train = X[: args.train]
    scaler = StandardScaler().fit(X_train)

    def encoder():
        return GaussianBernoulliRBM(
            256, n_iter=10, learning_rate=0.01, batch_size=20, random_state=SEED
        )

    n_music = N_FEATURES[0]
    model = SharedRBM(
        [
            ("music", encoder(), slice(0, n_music)),
            ("video", encoder(), slice(n_music, None)),
        ],
        n_components=256,
        n_iter=10,
        batch_size=20,
        random_state=SEED,
    ).fit(scaler.transform(X_train).astype(np.float32))

    def embed(rows):
        out = np.empty((rows.stop - rows.start, 256), dtype=np.float32)
        for s in range(rows.start, rows.stop, 50_000):
            e = min(s + 50_000, rows.stop)
            block = scaler.transform(X[s:e]).astype(np.float32)
            out[s - rows.start : e - rows.start] = model.transform(
                block, given=["video"]
            )
        return out

    first = args.train
    database = embed(range(first, first + args.database))
    queries = embed(range(first + args.database, n))
    print(
        f"  embeddings made in {time.perf_counter() - start:.0f} s (generation, "
        "model fit, inference of the shared representations)"
    )
    if path:
        os.makedirs(args.cache, exist_ok=True)
        np.savez(path, database=database, queries=queries)
        print(f"  embeddings saved to {path}")
    return database, queries


def describe(database, exact_dist):
    """A line on the embeddings' spread, so that other data can be compared."""
    saturated = np.mean((database < 0.01) | (database > 0.99))
    norms = np.linalg.norm(database[:100_000], axis=1)
    return (
        f"  embeddings: values in [{database.min():.2f}, {database.max():.2f}], "
        f"{saturated:.0%} below 0.01 or above 0.99; row norm median "
        f"{np.median(norms):.1f}; cosine distance to the 1st / 10th exact "
        f"neighbour, median {np.median(exact_dist[:, 0]):.3f} / "
        f"{np.median(exact_dist[:, K - 1]):.3f}"
    )


def timed(fn, repeats):
    """(median seconds, spread, result of the last call), after a warm-up."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    spread = (max(times) - min(times)) / median if repeats > 1 else None
    return median, spread, result


def recall_at_k(found, exact):
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, exact)]))


def run_index(name, factory, settings, database, queries, exact, args):
    """Rows of one FaissNeighbors index at each search setting."""
    import faiss

    from skmv.neighbors import FaissNeighbors

    nn = FaissNeighbors(K, metric="cosine", index_factory=factory, random_state=SEED)
    start = time.perf_counter()
    nn.fit(database)
    build_s = time.perf_counter() - start
    mib = faiss.serialize_index(nn.index_).nbytes / 2**20 * 1e6 / len(database)
    rows = []
    for param, value in settings:
        if param:
            nn.set_params(**{param: value})
        query_s, spread, ind = timed(
            lambda: nn.kneighbors(queries, return_distance=False), args.repeats
        )
        rows.append(
            dict(
                method=name,
                setting=f"{param}={value}" if param else "-",
                build_s=build_s,
                mib=mib,
                qps=len(queries) / query_s,
                spread=spread,
                recall=recall_at_k(ind, exact),
                approximate=factory != "Flat",
            )
        )
        print(f"  {name} {rows[-1]['setting']}: done", file=sys.stderr)
    return rows


def print_table(rows, exact_qps):
    header = (
        f"  {'method':<16} {'setting':<14} {'build s':>8} {'MiB/10^6':>9} "
        f"{'queries/s':>10} {'spread':>6} {'x exact':>8} {'recall@10':>9}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for r in rows:
        spread = "-" if r["spread"] is None else f"{r['spread']:.0%}"
        build = "-" if r["build_s"] is None else f"{r['build_s']:.1f}"
        print(
            f"  {r['method']:<16} {r['setting']:<14} {build:>8} {r['mib']:9.0f} "
            f"{r['qps']:10,.0f} {spread:>6} {r['qps'] / exact_qps:8.1f} "
            f"{r['recall']:9.4f}"
        )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=(
            "Recall@10 and queries per second of FaissNeighbors indexes (Flat, "
            "HNSW32, IVF, IVF-PQ) against skmv's exact scan, on 256-d shared "
            "representations of a fitted SharedRBM."
        ),
        epilog=(
            "Full size: about half an hour on one core (embedding the rows, the "
            "HNSW graph and two IVF trainings take most of it); --quick a few "
            "minutes."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            f"{QUICK['database']:,} database rows, IVF{QUICK['nlist']} "
            f"(default: {FULL['database']:,}, IVF{FULL['nlist']})"
        ),
    )
    parser.add_argument("--database", type=int, help="database rows")
    parser.add_argument("--queries", type=int, help="queries (default: 1000)")
    parser.add_argument("--nlist", type=int, help="inverted lists of the IVF indexes")
    parser.add_argument(
        "--train", type=int, default=5000, help="model training rows (default: 5000)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed searches per setting; the median is shown (default: 3)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS and FAISS threads (default: 1)"
    )
    parser.add_argument(
        "--no-pq", action="store_true", help="leave out the IVF-PQ index"
    )
    parser.add_argument("--cache", help="folder to keep the embeddings in")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    for name in ("database", "queries", "nlist"):
        if getattr(args, name) is None:
            setattr(args, name, sizes[name])
    for name in ("database", "queries", "nlist", "train", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        import faiss
    except ImportError:
        print("FAISS is not installed: pip install 'skmv[ann]'", file=sys.stderr)
        return 1
    from threadpoolctl import threadpool_info, threadpool_limits

    from skmv.retrieval import _kneighbors_blocks

    threadpool_limits(args.threads)
    faiss.omp_set_num_threads(args.threads)
    print("skmv approximate nearest neighbours benchmark")
    for line in machine_lines(versions=[f"faiss {faiss.__version__}"], blas=True):
        print("  " + line)
    generic = [
        os.path.basename(p.get("filepath", "?"))
        for p in threadpool_info()
        if p.get("architecture") == "Prescott"
    ]
    if generic:
        # An OpenBLAS older than the CPU (faiss-cpu's, on some virtual CPUs)
        # falls back to kernels without AVX: FAISS's matrix products (Flat
        # search, k-means) then run several times slower than they could.
        print(
            f"  WARNING: {', '.join(generic)} runs OpenBLAS's generic Prescott "
            "kernels here; OPENBLAS_CORETYPE=SkylakeX (or Haswell, the CPU's "
            "own) lets it use the vector units"
        )
    print(
        f"  threads: {args.threads} (BLAS and FAISS); k = {K}; "
        f"{args.database:,} database rows, {args.queries} queries; repeats: "
        f"{args.repeats}"
    )
    database, queries = embeddings(args)

    def exact_scan():
        return _kneighbors_blocks(queries, database, K, "cosine", 4096, np)

    exact_s, exact_spread, (exact_dist, exact) = timed(exact_scan, args.repeats)
    exact_qps = len(queries) / exact_s
    print(describe(database, exact_dist))
    rows = [
        dict(
            method="exact scan",
            setting="chunk=4096",
            build_s=None,
            mib=database.nbytes / 2**20 * 1e6 / len(database),
            qps=exact_qps,
            spread=exact_spread,
            recall=1.0,
            approximate=False,
        )
    ]
    nlist = args.nlist
    indexes = [
        ("FAISS Flat", "Flat", [(None, None)]),
        ("HNSW32", "HNSW32", [("ef_search", v) for v in (16, 32, 64, 128)]),
        (f"IVF{nlist},Flat", f"IVF{nlist},Flat", [("nprobe", v) for v in (4, 16, 64)]),
    ]
    if not args.no_pq:
        indexes.append(
            (f"IVF{nlist},PQ32", f"IVF{nlist},PQ32", [("nprobe", v) for v in (16, 64)])
        )
    for name, factory, settings in indexes:
        rows += run_index(name, factory, settings, database, queries, exact, args)

    print()
    print(
        f"{args.queries} queries, k = {K}, cosine distance, {args.database:,} rows "
        f"of 256 float32, CPU, {args.threads} thread(s). build s: one fit;\n"
        "MiB/10^6: index size per million rows (the database array for the exact "
        "scan);\nqueries/s: queries / median search time of all of them; spread: "
        "(slowest - fastest) / median;\nx exact: queries/s over the exact scan's; "
        "recall@10: share of the exact top 10 found."
    )
    print()
    print_table(rows, exact_qps)
    print()
    flat = next(r for r in rows if r["method"] == "FAISS Flat")
    good = [r for r in rows if r["approximate"] and r["recall"] >= TARGET_RECALL]
    best = max(good, key=lambda r: r["qps"]) if good else None
    passed = best is not None and best["qps"] >= TARGET_SPEEDUP * exact_qps
    print(
        f"exact scan {exact_qps:,.0f} queries/s; FAISS Flat {flat['qps']:,.0f} "
        f"queries/s ({flat['qps'] / exact_qps:.1f}x, recall {flat['recall']:.4f})"
    )
    if best is None:
        print(f"no approximate index reached recall@10 >= {TARGET_RECALL}")
    else:
        print(
            f"fastest approximate index at recall@10 >= {TARGET_RECALL}: "
            f"{best['method']} {best['setting']}, recall {best['recall']:.4f}, "
            f"{best['qps']:,.0f} queries/s = {best['qps'] / exact_qps:.1f}x the "
            f"exact scan ({best['qps'] / flat['qps']:.1f}x FAISS Flat)"
        )
    print(
        f"TARGET recall@10 >= {TARGET_RECALL} at >= {TARGET_SPEEDUP:.0f}x the "
        f"exact scan's queries/s: {verdict(passed)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
