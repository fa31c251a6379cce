"""Corpus featurization on a Dask cluster: ``joblib.parallel_config(backend=
"dask")`` sends one task per file to the cluster's workers, each of which
decodes its file in its own isolated child process, and the rows are those of
``n_jobs=1``."""

import json
import os
import re
import signal
import time

import joblib
import numpy as np
import psutil
import pytest
from distributed import Client, LocalCluster, WorkerPlugin, get_task_stream
from numpy.testing import assert_array_equal

from skmv import cli
from skmv.datasets import make_music_videos
from skmv.exceptions import MediaError
from skmv.features import AudioFeaturizer, VideoFeaturizer, _batch
from skmv.features._batch import MediaSkipWarning
from skmv.io import Segment, segment_media
from skmv.store import FeatureStore

# Under --dist loadgroup (make test), one xdist worker for the module, so that
# its tests share one corpus and one cluster.
pytestmark = pytest.mark.xdist_group("dask")

RND_SEED = 0
N_CLIPS = 4
SIZE = (64, 48)
SR = 8000
# Small, fast settings (as in test_features_segments.py): the point is where
# the work runs, not the features.
VIDEO = dict(fps=6, size=SIZE, scale=1.0, hog_cell=16, flow_grid=(1, 1))
AUDIO = dict(sr=SR, n_fft=512, hop_length=256)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("corpus")
    return make_music_videos(
        N_CLIPS,
        clip_seconds=12,
        directory=directory,
        size=SIZE,
        sr=SR,
        random_state=RND_SEED,
    )


@pytest.fixture(scope="module")
def segments(corpus):
    return segment_media(corpus.paths, seconds=6.0)


@pytest.fixture(scope="module")
def client():
    # Worker processes, as on a real cluster: a task that only worked in the
    # client's process (an unpicklable featurizer, a decoder child that
    # cannot start from a daemonic worker) fails here.
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            # Its HTTP server (which the scheduler starts even without a
            # dashboard) on a free port: runs side by side do not collide.
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _decoder_children(pid):
    """skmv.io decoder processes (see skmv.io.call_isolated) started by ``pid``."""
    return [
        child
        for child in psutil.Process(pid).children()
        if "skmv.io._isolate" in " ".join(child.cmdline())
    ]


def _calls(stream):
    """Files featurized by the tasks of a task stream (joblib's dask backend
    names a task ``batch_of_<function>_<number of calls>_calls-<id>``)."""
    found = [re.search(r"_guarded_(\d+)_calls", str(t["key"])) for t in stream]
    return sum(int(m.group(1)) for m in found if m)


def test_cluster_gives_the_features_of_one_process(
    corpus, segments, client, tmp_path, monkeypatch
):
    assert len(segments) == 2 * N_CLIPS
    reference = (
        VideoFeaturizer(**VIDEO, n_jobs=1).transform(segments),
        AudioFeaturizer(**AUDIO, n_jobs=1).transform(segments),
    )
    cache = str(tmp_path / "cache")
    with joblib.parallel_config(backend="dask"), get_task_stream(client) as stream:
        video = VideoFeaturizer(**VIDEO, n_jobs=-1, memory=cache)
        audio = AudioFeaturizer(**AUDIO, n_jobs=-1, memory=cache)
        on_cluster = (video.transform(segments), audio.transform(segments))

    # Same decoders, same float32 arithmetic, one file per task: the rows are
    # bit for bit those of one process.
    assert_array_equal(on_cluster[0], reference[0])
    assert_array_equal(on_cluster[1], reference[1])
    assert np.isfinite(reference[0]).all() and np.isfinite(reference[1]).all()
    assert video.skipped_ == [] and audio.skipped_ == []

    # It ran on the cluster: one task per file and featurizer, on its workers
    # (a backend that silently ran here would leave the stream empty) ...
    tasks = [t for t in stream.data if "_guarded" in str(t["key"])]
    assert _calls(stream.data) == 2 * N_CLIPS
    assert {t["worker"] for t in tasks} <= set(client.scheduler_info()["workers"])
    # ... each worker decoding in an isolated child process of its own. The
    # cluster is on this machine, so its processes can be looked at from here
    # (os.getpid travels by reference, unlike a function of this module).
    pids = client.run(os.getpid)
    for worker in {t["worker"] for t in tasks}:
        assert len(_decoder_children(pids[worker])) >= 1

    # The workers' cache is the caller's (a shared directory): run here, the
    # same featurizers read every file back and decode nothing.
    def no_decoding(func, *args, path):
        raise AssertionError(f"{path} decoded again despite the cache")

    monkeypatch.setattr(_batch, "_isolated", no_decoding)
    assert_array_equal(video.set_params(n_jobs=1).transform(segments), reference[0])
    assert_array_equal(audio.set_params(n_jobs=1).transform(segments), reference[1])


def test_bad_file_is_skipped_on_the_cluster_as_here(segments, client, tmp_path):
    bad = tmp_path / "broken.mp4"
    with open(segments[0].path, "rb") as f:
        bad.write_bytes(f.read()[:3000])  # cut inside the stream
    batch = list(segments[:2]) + [Segment(str(bad), 0.0, 6.0, str(bad))]

    here = AudioFeaturizer(**AUDIO, on_error="skip")
    with pytest.warns(MediaSkipWarning, match="broken.mp4"):
        rows_here = here.transform(batch)
    with joblib.parallel_config(backend="dask"):
        there = AudioFeaturizer(**AUDIO, n_jobs=2, on_error="skip")
        with (
            get_task_stream(client) as stream,
            pytest.warns(MediaSkipWarning, match="broken.mp4"),
        ):
            rows_there = there.transform(batch)
        # The MediaError travels back from the worker with its file and reason.
        with pytest.raises(MediaError, match="broken.mp4") as raised:
            AudioFeaturizer(**AUDIO, n_jobs=2).transform(batch)

    assert _calls(stream.data) == 2, "one task per file, on the cluster"
    assert there.skipped_ == here.skipped_
    assert [s.path for s in there.skipped_] == [os.path.abspath(bad)]
    assert there.skipped_[0].reason == raised.value.reason != ""
    assert np.isnan(rows_there[2]).all() and np.isfinite(rows_there[:2]).all()
    assert_array_equal(rows_there, rows_here)


def _counting(original, directory, victim=None):
    """``_batch._isolated`` (where a file's rows are computed; a cached file
    never gets there) leaving a file in ``directory`` for each computation,
    and killing its own process (SIGKILL, as a crash or the OOM killer would)
    the first time it starts on ``victim``, a (path, kind), after writing the
    pids of its decoder processes into ``directory/killed``."""

    def computed(func, kind, featurizer, where, spans, threads, *, path):
        name = f"{kind}-{os.path.basename(path)}-{os.getpid()}-{time.time_ns()}"
        open(os.path.join(directory, name), "w").close()
        killed = os.path.join(directory, "killed")
        if (path, kind) == victim and not os.path.exists(killed):
            with open(killed, "w") as f:
                f.write(" ".join(str(p.pid) for p in _decoder_children(os.getpid())))
            os.kill(os.getpid(), signal.SIGKILL)
        return original(func, kind, featurizer, where, spans, threads, path=path)

    computed.__wrapped__ = original
    return computed


class _KillOnce(WorkerPlugin):
    """``_counting`` on every worker, those that replace a dead one included."""

    name = "skmv-test-kill-once"

    def __init__(self, directory, victim):
        self.directory, self.victim = directory, victim

    def setup(self, worker):
        original = getattr(_batch._isolated, "__wrapped__", _batch._isolated)
        _batch._isolated = _counting(original, self.directory, self.victim)

    def teardown(self, worker):
        _batch._isolated = getattr(_batch._isolated, "__wrapped__", _batch._isolated)


def _gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_worker_killed_mid_file_costs_that_file_once_and_loses_nothing(
    corpus, tmp_path, monkeypatch
):
    """``skmv featurize --store`` on the cluster while a worker dies in the
    middle of a file: Dask runs that file's task again on a live worker, the
    store holds every file's rows once, the same rows as one process writes,
    no other file is computed twice, and the dead worker's decoder process
    ends with it (what benchmarks/bench_corpus.py's kill run relies on)."""
    paths = [os.path.abspath(path) for path in corpus.paths]
    victim = (paths[2], "video")
    reference, store = tmp_path / "reference", tmp_path / "store"
    log = tmp_path / "computations"
    log.mkdir()
    argv = ["featurize", *paths, "--seconds", "6", "-q"]
    assert cli.main([*argv, "--store", str(reference)]) == cli.EXIT_OK

    # Counted here too: while the nanny restarts the dead worker, the cluster
    # has one thread, and joblib runs a call of n_jobs=-1 with one worker
    # thread in the calling process.
    monkeypatch.setattr(_batch, "_isolated", _counting(_batch._isolated, str(log)))
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(_KillOnce(str(log), victim))
        with joblib.parallel_config(backend="dask", client=client):
            code = cli.main(
                [*argv, "--store", str(store), "--cache", str(tmp_path / "cache")]
                + ["--n-jobs", "-1"]
            )
    assert code == cli.EXIT_OK

    # A worker died in the victim's video, and its decoder went with it.
    decoders = [int(pid) for pid in (log / "killed").read_text().split()]
    deadline = time.monotonic() + 30
    while not all(_gone(pid) for pid in decoders) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(pid) for pid in decoders), decoders

    # That computation, and no other, was done twice.
    counts = {}
    for name in os.listdir(log):
        if name != "killed":
            kind, base = name.split("-")[:2]
            counts[kind, base] = counts.get((kind, base), 0) + 1
    expected = {(k, os.path.basename(p)): 1 for k in ("video", "audio") for p in paths}
    expected["video", os.path.basename(victim[0])] = 2
    assert counts == expected

    # Every file's rows once, bit for bit those of one process.
    here, there = FeatureStore(reference), FeatureStore(store)
    assert there.sources == frozenset(paths)
    index = [json.loads(line) for line in open(store / "index.jsonl")]
    assert sorted(s for entry in index for s in entry["sources"]) == sorted(paths)
    for field in ("paths", "start"):
        assert_array_equal(there.rows(field), here.rows(field))
    assert_array_equal(np.asarray(there.X), np.asarray(here.X))
