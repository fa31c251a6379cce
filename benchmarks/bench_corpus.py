"""Benchmark of a whole corpus on a Dask cluster: generate one-minute music
videos, featurize them into a features store through joblib's Dask backend,
fit the fine-tuned shared model from the store, index the database; then
featurize them again while one worker is killed, and check that nothing was
lost or stored twice.

Run it directly::

    .venv/bin/python benchmarks/bench_corpus.py --quick           # 40 clips, 2 minutes
    .venv/bin/python benchmarks/bench_corpus.py --clips 2000      # 2.2 hours on 2 cores
    .venv/bin/python benchmarks/bench_corpus.py --scheduler tcp://host:8786 \\
        --data /shared/skmv-bench                                 # a real cluster
    .venv/bin/python benchmarks/bench_corpus.py --help

What is measured
----------------
The cluster is a ``dask.distributed.LocalCluster`` of ``--workers`` worker
processes of ``--threads`` threads each (2 and 1 by default), or the cluster
whose scheduler ``--scheduler`` names. Every stage that runs on it goes
through ``joblib.parallel_config(backend="dask")``. In turn (``--stages``):

``generate``
    ``make_music_videos(--clips, clip_seconds=60, random_state=0,
    n_jobs=-1)`` into ``DATA/media``: H.264/AAC at the generator's defaults
    (160x120, 12 fps, 22.05 kHz), one task per clip on the cluster. Clips
    already there from an earlier run are reused, and the time then covers
    only the missing ones (the table says how many were made).
``featurize``
    ``skmv featurize PATHS --store DATA/store --cache DATA/cache --n-jobs -1``
    (the command's own code, :func:`skmv.cli.main`, called in this process
    under the Dask backend): segmenting on the client, then one task per file
    and featurizer (default settings, 3044 + 816 columns), each file decoded
    in an isolated child process of the worker, each batch of files appended
    to the store as it finishes. Fresh store and cache. Afterwards each
    worker reports its peak resident memory (``VmHWM``, the kernel's own
    high-water mark) and that of its decoder processes, through
    ``client.run``: a LocalCluster's workers are restarted after
    ``generate``, so that this is featurization's peak; a real cluster's
    workers report their peak over their whole life.
``fit``
    ``skmv fit DATA/store -o DATA/model.skops`` in a child process, at the
    command's defaults (DBNs of 256 and 128 units, 256 shared units, 10
    epochs per RBM, then 100 epochs of contrastive fine-tuning, streaming
    ``--chunk-size`` 10,000 rows at a time); its peak resident memory is the
    child's ``ru_maxrss``.
``index``
    In a child process: ``CrossModalRetriever(shared, query="audio",
    target="video", space="shared", prefit=True).index(store.X)`` (``skmv
    retrieve``'s defaults), the store's rows embedded ``chunk_size`` (4,096)
    at a time, never read whole,
    then 1,000 queries (audio segments spread over the corpus) with their 10
    nearest videos, and how often a query's own video is among them.
``kill``
    ``featurize`` again into a second, fresh store and cache
    (``DATA/kill-store``, ``DATA/kill-cache``) of the first ``--kill-clips``
    clips (default: all). When ``--kill-at-fraction`` of the files are in the
    store (or after ``--kill-after`` seconds), one worker that is running a
    task is killed (SIGKILL, sent by ``client.run`` on that worker, so that
    it works on any cluster); Dask runs its task again elsewhere and, on a
    LocalCluster, the nanny starts a new worker. Then the benchmark checks
    that every file's rows are in the store exactly once and equal, bit for
    bit, the rows of the ``featurize`` stage, and counts the files computed
    twice: a worker plugin logs the start and the end of every file's
    computation (in ``DATA/tasks``), and a file started twice must be one
    that the killed worker had started and not finished. Should the run fail
    instead, it is resumed by running the same command again into the same
    store and cache (the table says so).

``DATA`` is ``--data``, by default ``skmv.datasets.get_data_home() /
"bench_corpus_<clips>"``. On a real cluster, ``DATA`` must be on storage
that every worker and the client see at the same path (the tasks carry
absolute paths to the media, the cache and the task logs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import av
import cv2
import dask
import distributed
import joblib
import librosa
import numpy as np
from _common import machine_lines
from distributed import Client, LocalCluster, WorkerPlugin

from skmv import cli
from skmv.datasets import get_data_home, make_music_videos
from skmv.store import FeatureStore

SEED = 0
CLIP_SECONDS = 60
SEGMENT_SECONDS = 6
STAGES = ("generate", "featurize", "fit", "index", "kill")
QUICK_CLIPS = 40
MIB = 2**20


# --------------------------------------------------------------------------
# On the workers (these functions travel by value: this script is __main__)
# --------------------------------------------------------------------------


def _high_water_mark(pid):
    """Peak resident memory of process ``pid`` in bytes (Linux ``VmHWM``),
    or None where the kernel does not say."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def worker_memory():
    """This worker's pid, its current and peak resident memory, and the peak
    of each of its skmv decoder processes (bytes)."""
    import resource

    import psutil

    me = psutil.Process()
    peak = _high_water_mark(me.pid)
    if peak is None:  # not Linux: the same figure from getrusage
        scale = 1 if sys.platform == "darwin" else 1024
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    decoders = []
    for child in me.children(recursive=True):
        try:
            if "skmv.io._isolate" in " ".join(child.cmdline()):
                hwm = _high_water_mark(child.pid)
                decoders.append(hwm if hwm is not None else child.memory_info().rss)
        except psutil.Error:
            continue
    return {
        "pid": me.pid,
        "rss": me.memory_info().rss,
        "peak": peak,
        "decoders": decoders,
    }


def decoder_pids():
    """Pids of this worker's skmv decoder processes."""
    import psutil

    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "skmv.io._isolate" in " ".join(child.cmdline()):
                found.append(child.pid)
        except psutil.Error:
            continue
    return found


async def die():
    """Kill this worker process at once, as a crash or the OOM killer would
    (a coroutine: ``client.run(..., wait=False)`` takes only those)."""
    os.kill(os.getpid(), signal.SIGKILL)


def log_computations(directory, prefix=""):
    """Log the start and the end of every file's computation in this process.

    ``skmv.features._batch._isolated`` is where a file's task decodes and
    featurizes it (a cached file never gets there); it is wrapped so that
    each call appends ``start`` and ``end`` lines (event, time, modality,
    path) to ``DIRECTORY/<prefix><host>-<pid>.log``.
    """
    from skmv.features import _batch

    original = getattr(_batch._isolated, "__wrapped__", _batch._isolated)
    log = os.path.join(directory, f"{prefix}{socket.gethostname()}-{os.getpid()}.log")
    lock = threading.Lock()

    def write(event, kind, path):
        with lock, open(log, "a", encoding="utf-8") as f:
            f.write(f"{event}\t{time.time():.3f}\t{kind}\t{path}\n")

    def logged(func, kind, featurizer, where, spans, threads, *, path):
        write("start", kind, path)
        rows = original(func, kind, featurizer, where, spans, threads, path=path)
        write("end", kind, path)
        return rows

    logged.__wrapped__ = original
    _batch._isolated = logged


def stop_logging():
    from skmv.features import _batch

    _batch._isolated = getattr(_batch._isolated, "__wrapped__", _batch._isolated)


class TaskLog(WorkerPlugin):
    """:func:`log_computations` on every worker. Dask applies plugins to the
    workers that join later too, so a worker started to replace a killed one
    logs as well."""

    name = "skmv-bench-task-log"

    def __init__(self, directory):
        self.directory = directory

    def setup(self, worker):
        log_computations(self.directory)

    def teardown(self, worker):
        stop_logging()


def start_logging(client, directory):
    """Log every file's computation into ``directory``: on the workers, and
    in this process, where joblib runs a call itself while the cluster has a
    single worker thread (one of two workers killed and not yet replaced)."""
    client.register_plugin(TaskLog(directory))
    log_computations(directory, prefix="client-")


def read_task_logs(directory):
    """{log name: [(event, time, kind, path), ...]} of a TaskLog directory."""
    logs = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            entries = [line.rstrip("\n").split("\t") for line in f]
        logs[name] = [(e, float(t), k, p) for e, t, k, p in entries]
    return logs


def computations(logs):
    """{(kind, path): number of starts} over every log."""
    counts = {}
    for entries in logs.values():
        for event, _, kind, path in entries:
            if event == "start":
                counts[kind, path] = counts.get((kind, path), 0) + 1
    return counts


def in_client(logs):
    """Computations started in this process (see :func:`start_logging`)."""
    return sum(
        event == "start"
        for name, entries in logs.items()
        if name.startswith("client-")
        for event, *_ in entries
    )


def unfinished(entries):
    """(kind, path) started and never ended in one log."""
    open_ = {}
    for event, _, kind, path in entries:
        open_[kind, path] = open_.get((kind, path), 0) + (1 if event == "start" else -1)
    return {key for key, n in open_.items() if n > 0}


# --------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------


def generate(client, directory, n_clips):
    """(seconds, clips made, paths): the corpus, made on the cluster."""
    paths = [os.path.join(directory, f"clip_{i:04d}.mp4") for i in range(n_clips)]
    before = sum(os.path.exists(path) for path in paths)
    start = time.perf_counter()
    with joblib.parallel_config(backend="dask", client=client):
        corpus = make_music_videos(
            n_clips,
            clip_seconds=CLIP_SECONDS,
            directory=directory,
            random_state=SEED,
            n_jobs=-1,
        )
    seconds = time.perf_counter() - start
    # make_music_videos keeps a file only if its sidecar says the same
    # parameters; an existing file may still have been written again.
    return seconds, n_clips - before, corpus.paths


def fresh(*paths):
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)


def featurize(client, paths, store, cache, tasks):
    """Seconds of ``skmv featurize PATHS --store STORE --cache CACHE`` on the
    cluster, with a fresh store, cache and task log."""
    fresh(store, cache, tasks)
    start_logging(client, tasks)
    start = time.perf_counter()
    try:
        code = _featurize_command(client, paths, store, cache)
    finally:
        stop_logging()
    seconds = time.perf_counter() - start
    if code != cli.EXIT_OK:
        raise SystemExit(f"skmv featurize exited with code {code}")
    return seconds


def _featurize_command(client, paths, store, cache):
    argv = ["featurize", *paths, "--store", store, "--cache", cache]
    with joblib.parallel_config(backend="dask", client=client):
        return cli.main([*argv, "--n-jobs", "-1", "-q"])


def run_child(argv):
    """(seconds, peak resident bytes, stdout) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} ... exited with {proc.returncode}")
    scale = 1 if sys.platform == "darwin" else 1024
    return seconds, usage.ru_maxrss * scale, out


def fit(store, model, args):
    argv = [sys.executable, "-m", "skmv", "fit", store, "-o", model]
    argv += ["--n-iter", str(args.n_iter)]
    argv += ["--fine-tune-n-iter", str(args.fine_tune_n_iter)]
    argv += ["--chunk-size", str(args.chunk_size)]
    return run_child(argv)


# The index stage, run as ``python -c INDEX model store n_queries``.
INDEX = """
import json, sys, time
import numpy as np
from skmv import load_model
from skmv.retrieval import CrossModalRetriever
from skmv.store import FeatureStore

model, path, n_queries = sys.argv[1], sys.argv[2], int(sys.argv[3])
shared = load_model(model)["shared"]
X = FeatureStore(path).X  # read on demand: index() embeds chunk_size rows at a time
start = time.perf_counter()
retriever = CrossModalRetriever(
    shared, "audio", "video", space="shared", prefit=True
).index(X)
index = time.perf_counter() - start
queries = np.unique(np.linspace(0, len(X) - 1, n_queries).astype(int))
start = time.perf_counter()
_, nearest = retriever.kneighbors(X[queries], n_neighbors=10)
query = time.perf_counter() - start
top10 = float(np.mean([q in row for q, row in zip(queries, nearest)]))
print(json.dumps({"index": index, "query": query,
                  "n_queries": len(queries), "top10": top10,
                  "n_database": retriever.n_database_}))
"""


def index(store, model, n_queries=1000):
    seconds, peak, out = run_child(
        [sys.executable, "-c", INDEX, model, store, str(n_queries)]
    )
    return seconds, peak, json.loads(out.strip().splitlines()[-1])


def sorted_rows(path):
    """(X, keys) of a store, its rows ordered by (path, start)."""
    store = FeatureStore(path)
    paths, start = store.rows("paths"), store.rows("start")
    order = np.lexsort((start, paths))
    return np.asarray(store.X)[order], list(zip(paths[order], start[order]))


def kill_run(client, paths, args, reference):
    """Featurize ``paths`` into a fresh store while one worker is killed;
    verify the store against ``reference`` (sorted_rows of the first run)."""
    store, cache = args.data_kill_store, args.data_kill_cache
    tasks = os.path.join(args.data, "tasks", "kill")
    fresh(store, cache, tasks)
    start_logging(client, tasks)
    n_files = len(paths)
    outcome = {}

    def work():
        try:
            outcome["code"] = _featurize_command(client, paths, store, cache)
        except BaseException as exc:  # reported, then resumed
            outcome["error"] = exc

    start = time.perf_counter()
    thread = threading.Thread(target=work, name="featurize")
    thread.start()
    victim = None
    while thread.is_alive() and victim is None:
        time.sleep(0.2)
        elapsed = time.perf_counter() - start
        if args.kill_after is not None:
            due = elapsed >= args.kill_after
        else:
            due = _files_in(store) >= args.kill_at_fraction * n_files
        if due:
            victim = _kill_a_busy_worker(client, args.scheduler is None)
    if victim is None:
        raise SystemExit("the run ended before a worker could be killed")
    killed_at = time.perf_counter() - start
    files_then = _files_in(store)
    print(
        f"  killed worker {victim['address']} (pid {victim['pid']}) at "
        f"{killed_at:.1f} s, {files_then} of {n_files} files in the store",
        flush=True,
    )
    thread.join()
    resumed = False
    if "error" in outcome:
        print(f"  the run failed: {outcome['error']!r}; resuming it", flush=True)
        resumed = True
        outcome["code"] = _featurize_command(client, paths, store, cache)
    seconds = time.perf_counter() - start
    stop_logging()
    if outcome.get("code") not in (cli.EXIT_OK,):
        raise SystemExit(f"skmv featurize exited with code {outcome.get('code')}")

    # The killed worker's decoder processes: they have lost their parent and
    # must end on their own (end of file on their socket).
    deadline = time.time() + 30
    left = list(victim["decoders"])
    while left and time.time() < deadline:
        left = [pid for pid in left if _alive(pid)]
        time.sleep(0.5)

    return {
        "seconds": seconds,
        "killed_at": killed_at,
        "files_then": files_then,
        "resumed": resumed,
        "victim": victim,
        "orphans": left,
        **verify(store, tasks, paths, victim, reference),
    }


def _alive(pid):
    try:
        import psutil

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except Exception:
        return False


def _files_in(store):
    """Files in a store being written (0 before it exists)."""
    try:
        return len(FeatureStore(store).sources)
    except (OSError, ValueError):
        return 0


def _kill_a_busy_worker(client, local):
    """Kill a worker that is running a task; its address, pid and (on this
    machine, ``local``) the pids of its decoder processes."""
    processing = client.processing()
    busy = [address for address, keys in processing.items() if keys]
    if not busy:
        return None
    address = sorted(busy)[0]
    pid = client.run(os.getpid, workers=[address])[address]
    decoders = []
    if local:
        decoders = client.run(decoder_pids, workers=[address])[address]
    client.run(die, workers=[address], wait=False)
    return {"address": address, "pid": pid, "decoders": decoders}


def verify(store, tasks, paths, victim, reference):
    """What the kill run left: rows per file, equality, files computed twice."""
    st = FeatureStore(store)
    wanted = {os.path.abspath(path) for path in paths}
    index = [
        json.loads(line)
        for line in open(os.path.join(store, "index.jsonl"), encoding="utf-8")
    ]
    per_source = {}
    for entry in index:
        for source in entry["sources"]:
            per_source[source] = per_source.get(source, 0) + 1
    X, keys = sorted_rows(store)
    ref_X, ref_keys = reference
    chosen = [
        i for i, (path, _) in enumerate(ref_keys) if os.path.abspath(path) in wanted
    ]
    same = keys == [ref_keys[i] for i in chosen] and np.array_equal(
        X, ref_X[chosen], equal_nan=True
    )
    logs = read_task_logs(tasks)
    counts = computations(logs)
    twice = {key: n for key, n in counts.items() if n > 1}
    killed_log = next(
        (
            entries
            for name, entries in logs.items()
            if name.endswith(f"-{victim['pid']}.log")
        ),
        [],
    )
    in_flight = unfinished(killed_log)
    return {
        "n_rows": st.n_rows,
        "files": len(per_source),
        "missing": sorted(wanted - set(per_source)),
        "stored_twice": sorted(s for s, n in per_source.items() if n > 1),
        "duplicate_rows": len(keys) - len(set(keys)),
        "equal": bool(same),
        "computed": sum(counts.values()),
        "in_client": in_client(logs),
        "computed_twice": twice,
        "in_flight": in_flight,
        "twice_beyond_killed": sorted(set(twice) - in_flight),
    }


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def machine_report():
    libav = ".".join(map(str, av.library_versions.get("libavcodec", ())))
    return machine_lines(
        versions=(
            f"dask {dask.__version__}, distributed {distributed.__version__}, "
            f"joblib {joblib.__version__}",
            f"av {av.__version__} (libavcodec {libav}), opencv {cv2.__version__}, "
            f"librosa {librosa.__version__}",
        ),
    )


def _mib(n):
    return f"{n / MIB:,.0f}"


def print_table(rows):
    print(f"  {'stage':<46} {'wall':>9}  {'rate':<26} peak resident memory")
    print("  " + "-" * 120)
    for stage, seconds, rate, memory in rows:
        wall = "-" if seconds is None else _duration(seconds)
        print(f"  {stage:<46} {wall:>9}  {rate:<26} {memory}")


def _duration(seconds):
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _workers_memory(report):
    workers = ", ".join(_mib(r["peak"]) for r in report.values())
    decoders = [d for r in report.values() for d in r["decoders"]]
    text = f"workers {workers} MiB"
    if decoders:
        text += f"; decoders {', '.join(_mib(d) for d in decoders)} MiB"
    return text


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=(
            "Generate one-minute music videos, featurize them on a Dask "
            "cluster into a features store, fit the fine-tuned shared model "
            "from the store, index the database; then featurize them again "
            "with one worker killed mid-run, and check that nothing was lost "
            "or computed twice beyond the killed task."
        ),
        epilog=(
            "--clips 2000 on two cores, measured: 23 minutes of generation, "
            "47 of featurization, 12 of fitting, and the kill run's 47 more "
            "(--kill-clips 400: 10); --quick: 2 minutes."
        ),
    )
    parser.add_argument(
        "--clips",
        type=int,
        default=2000,
        help="music videos of 60 s, 10 segments each (default: 2000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a check: {QUICK_CLIPS} clips, 2 epochs per RBM and 5 of "
        "fine-tuning (unless given)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="worker processes of the LocalCluster (default: 2)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per worker of the LocalCluster (default: 1)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the cluster of this scheduler (tcp://host:8786) instead "
        "of a LocalCluster; --data must then be on storage that every worker "
        "sees at the same path",
    )
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="where the media, stores, caches, model and task logs go "
        "(default: skmv.datasets.get_data_home() / bench_corpus_<clips>); "
        "media already there are reused",
    )
    parser.add_argument(
        "--stages",
        nargs="+",
        choices=STAGES,
        default=list(STAGES),
        help="stages to run (default: all); a stage not run uses what an "
        "earlier run left in --data",
    )
    kill = parser.add_mutually_exclusive_group()
    kill.add_argument(
        "--kill-at-fraction",
        type=float,
        default=0.5,
        metavar="F",
        help="kill a worker once this fraction of the files is in the "
        "store (default: 0.5)",
    )
    kill.add_argument(
        "--kill-after",
        type=float,
        metavar="SECONDS",
        help="kill a worker this long after the kill run starts",
    )
    parser.add_argument(
        "--kill-clips",
        type=int,
        metavar="N",
        help="the kill run featurizes the first N clips (default: all)",
    )
    parser.add_argument(
        "--n-iter", type=int, help="epochs of every RBM (default: 10; --quick 2)"
    )
    parser.add_argument(
        "--fine-tune-n-iter",
        type=int,
        help="epochs of contrastive fine-tuning (default: 100; --quick 5)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=cli.DEFAULT_CHUNK_SIZE,
        help=f"rows per chunk of the streamed fit (default: {cli.DEFAULT_CHUNK_SIZE})",
    )
    args = parser.parse_args(argv)
    if args.quick and "--clips" not in (argv if argv is not None else sys.argv):
        args.clips = QUICK_CLIPS
    if args.n_iter is None:
        args.n_iter = 2 if args.quick else 10
    if args.fine_tune_n_iter is None:
        args.fine_tune_n_iter = 5 if args.quick else 100
    if args.data is None:
        args.data = str(get_data_home() / f"bench_corpus_{args.clips}")
    args.data = os.path.abspath(args.data)
    args.data_kill_store = os.path.join(args.data, "kill-store")
    args.data_kill_cache = os.path.join(args.data, "kill-cache")
    return args


def main(argv=None):
    args = parse_args(argv)
    for line in machine_report():
        print(line)
    media = os.path.join(args.data, "media")
    store = os.path.join(args.data, "store")
    cache = os.path.join(args.data, "cache")
    model = os.path.join(args.data, "model.skops")
    os.makedirs(media, exist_ok=True)

    if args.scheduler:
        cluster = None
        client = Client(args.scheduler)
        where = f"the cluster of {args.scheduler}"
    else:
        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=args.threads,
            processes=True,
            dashboard_address=":0",
        )
        client = Client(cluster)
        where = (
            f"a LocalCluster of {args.workers} worker processes x "
            f"{args.threads} thread(s)"
        )
    workers = client.scheduler_info()["workers"]
    threads = sum(w["nthreads"] for w in workers.values())
    print(f"cluster: {where}: {len(workers)} workers, {threads} threads")
    print(f"data: {args.data}")
    print(f"clips: {args.clips} of {CLIP_SECONDS} s ({SEGMENT_SECONDS} s segments)")
    print(flush=True)

    rows = []
    try:
        paths = [os.path.join(media, f"clip_{i:04d}.mp4") for i in range(args.clips)]
        if "generate" in args.stages:
            seconds, made, paths = generate(client, media, args.clips)
            rate = f"{made / seconds:.2f} clips/s" if made else "reused"
            label = f"generate {args.clips} clips ({made} made)"
            rows.append((label, seconds, rate, "-"))
            print(f"  {label}: {seconds:.1f} s", flush=True)
            if cluster is not None:
                # Fresh workers: their peak memory is then featurization's.
                client.restart()
        missing = [path for path in paths if not os.path.exists(path)]
        if missing:
            raise SystemExit(f"{len(missing)} clips missing: run --stages generate")

        n_segments = None
        if "featurize" in args.stages:
            seconds = featurize(
                client, paths, store, cache, os.path.join(args.data, "tasks", "run")
            )
            memory = client.run(worker_memory)
            n_segments = FeatureStore(store).n_rows
            logs = read_task_logs(os.path.join(args.data, "tasks", "run"))
            counts = computations(logs)
            label = f"featurize into the store ({n_segments} segments)"
            rows.append(
                (
                    label,
                    seconds,
                    f"{n_segments / seconds:.1f} segments/s",
                    _workers_memory(memory),
                )
            )
            print(
                f"  {label}: {seconds:.1f} s; {sum(counts.values())} file "
                f"computations for {len(paths)} files x 2 modalities, "
                f"{sum(n > 1 for n in counts.values())} computed twice, "
                f"{in_client(logs)} in this process",
                flush=True,
            )
            for address, r in memory.items():
                print(
                    f"    {address}: pid {r['pid']}, peak {_mib(r['peak'])} MiB, now "
                    f"{_mib(r['rss'])} MiB; decoder peaks "
                    f"{[_mib(d) for d in r['decoders']]} MiB",
                    flush=True,
                )
        if n_segments is None and os.path.exists(store):
            n_segments = FeatureStore(store).n_rows

        if "fit" in args.stages:
            seconds, peak, out = fit(store, model, args)
            label = (
                f"fit, fine-tuned, from the store ({args.n_iter}+"
                f"{args.fine_tune_n_iter} epochs)"
            )
            rows.append(
                (
                    label,
                    seconds,
                    f"{n_segments / seconds:.1f} segments/s",
                    f"{_mib(peak)} MiB",
                )
            )
            print(f"  {label}: {seconds:.1f} s, peak {_mib(peak)} MiB", flush=True)

        if "index" in args.stages:
            seconds, peak, result = index(store, model)
            label = f"index the database ({result['n_database']} videos)"
            rate = f"{result['n_database'] / result['index']:.0f} segments/s"
            rows.append(
                (label, result["index"], rate, f"{_mib(peak)} MiB (X read by chunks)")
            )
            rows.append(
                (
                    f"  {result['n_queries']} queries, 10 nearest",
                    result["query"],
                    f"own video in top 10: {result['top10']:.3f}",
                    "",
                )
            )
            print(
                f"  {label}: index "
                f"{result['index']:.1f} s, {result['n_queries']} queries "
                f"{result['query']:.2f} s, own video in the top 10: "
                f"{result['top10']:.3f}; process peak {_mib(peak)} MiB",
                flush=True,
            )

        kill = None
        if "kill" in args.stages:
            kill_paths = paths[: args.kill_clips] if args.kill_clips else paths
            reference = sorted_rows(store)
            kill = kill_run(client, kill_paths, args, reference)
            memory = client.run(worker_memory)
            label = f"featurize, a worker killed ({kill['n_rows']} segments)"
            rows.append(
                (
                    label,
                    kill["seconds"],
                    f"{kill['n_rows'] / kill['seconds']:.1f} segments/s",
                    _workers_memory(memory),
                )
            )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

    print()
    print_table(rows)
    if kill is not None:
        print_kill(kill)
    return 0 if kill is None or kill_ok(kill) else 1


def kill_ok(kill):
    return (
        not kill["missing"]
        and not kill["stored_twice"]
        and not kill["duplicate_rows"]
        and kill["equal"]
        and not kill["twice_beyond_killed"]
    )


def print_kill(kill):
    victim = kill["victim"]
    print()
    print(
        f"  kill run: worker pid {victim['pid']} killed at {kill['killed_at']:.1f} s "
        f"with {kill['files_then']} files in the store; "
        + ("the run failed and was resumed" if kill["resumed"] else "the run went on")
    )
    print(
        f"  store: {kill['files']} files, {kill['n_rows']} rows; files missing: "
        f"{len(kill['missing'])}; files stored twice: {len(kill['stored_twice'])}; "
        f"duplicate (path, start) rows: {kill['duplicate_rows']}"
    )
    print(
        "  rows equal, bit for bit, to those of the undisturbed run: "
        f"{'yes' if kill['equal'] else 'NO'}"
    )
    twice = ", ".join(
        f"{kind} {os.path.basename(path)} x{n}"
        for (kind, path), n in sorted(kill["computed_twice"].items())
    )
    flight = ", ".join(
        f"{kind} {os.path.basename(path)}" for kind, path in sorted(kill["in_flight"])
    )
    print(
        f"  file computations: {kill['computed']}; computed twice: "
        f"{len(kill['computed_twice'])} ({twice or 'none'}); in this process "
        f"(the cluster down to one thread): {kill['in_client']}; running on the "
        f"killed worker when it died: {flight or 'none'}; computed twice "
        f"beyond those: {len(kill['twice_beyond_killed'])}"
    )
    if victim["decoders"]:
        print(
            f"  the killed worker's decoder processes {victim['decoders']}: "
            + (
                f"still running 30 s later: {kill['orphans']}"
                if kill["orphans"]
                else "ended on their own"
            )
        )
    print(f"  verdict: {'PASS' if kill_ok(kill) else 'FAIL'}")


if __name__ == "__main__":
    sys.exit(main())
