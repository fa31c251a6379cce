"""Featurizers on Segment lists: decode each file once, in workers, with a cache
that survives an interrupted run and a skip that names every bad file."""

import os
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skmv.datasets import moving_bars, tone, write_media
from skmv.exceptions import MediaError, MissingStreamError
from skmv.features import AudioFeaturizer, SkippedFile, VideoFeaturizer, _batch
from skmv.features._batch import MediaSkipWarning
from skmv.io import Segment, iter_audio, iter_video, segment_media

RND_SEED = 0
SIZE = (64, 48)
VIDEO = dict(fps=6, size=SIZE, scale=1.0, hog_cell=16, flow_grid=(1, 1))
AUDIO = dict(sr=8000, n_fft=512, hop_length=256)


def _clip(path, seconds, seed, frequency):
    fps, sr = 12, 8000
    frames = moving_bars(int(seconds * fps), size=SIZE, random_state=seed)
    audio = tone(frequency, seconds, sr=sr)
    return write_media(path, video=frames, fps=fps, audio=audio, sr=sr)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return [
        _clip(str(folder / f"clip{i}.mp4"), 4.0 + i, RND_SEED + i, 300.0 + 100 * i)
        for i in range(3)
    ]


@pytest.fixture(scope="module")
def segments(clips):
    return segment_media(clips, seconds=2.0)


def _content_rows(featurizer, segments, kind):
    """The same rows the slow way: decode each segment, featurize it."""
    rows = []
    for seg in segments:
        if kind == "video":
            ((_, x),) = iter_video(seg.path, [seg], fps=featurizer.fps, size=SIZE)
        else:
            ((_, x),) = iter_audio(seg.path, [seg], sr=featurizer.sr)
        rows.append(featurizer._featurize(x))
    return np.stack(rows)


@pytest.mark.parametrize(
    "featurizer, kind",
    [(VideoFeaturizer(**VIDEO), "video"), (AudioFeaturizer(**AUDIO), "audio")],
    ids=["video", "audio"],
)
def test_segments_give_one_row_each_in_order(featurizer, kind, segments):
    assert len(segments) == 2 + 2 + 3
    shuffled = [segments[i] for i in np.random.default_rng(0).permutation(7)]
    rows = featurizer.transform(shuffled)
    assert rows.shape == (7, featurizer._n_features_out)
    assert rows.dtype == np.float32 and np.isfinite(rows).all()
    assert_allclose(
        rows, _content_rows(featurizer, shuffled, kind), rtol=1e-5, atol=1e-6
    )
    assert featurizer.skipped_ == []
    # Same input, same features; two workers change nothing.
    parallel = featurizer.set_params(n_jobs=2).transform(shuffled)
    assert_array_equal(parallel, rows)


def test_each_file_is_decoded_once(segments, monkeypatch):
    calls = []
    real = _batch._file_rows

    def counting(kind, featurizer, path, spans, threads=None):
        calls.append(path)
        return real(kind, featurizer, path, spans, threads)

    monkeypatch.setattr(_batch, "_file_rows", counting)
    monkeypatch.setattr(_batch, "_isolated", lambda func, *a, path: func(*a))
    AudioFeaturizer(**AUDIO).transform(segments)
    assert sorted(calls) == sorted({seg.path for seg in segments})


def test_bad_file_raises_or_is_skipped_by_name(segments, tmp_path):
    bad = tmp_path / "broken.mp4"
    good = segments[0].path
    bad.write_bytes(open(good, "rb").read()[:3000])  # cut inside the stream
    from skmv.io import Segment

    batch = list(segments[:2]) + [Segment(str(bad), 0.0, 2.0, str(bad))]
    with pytest.raises(MediaError, match="broken.mp4"):
        AudioFeaturizer(**AUDIO).transform(batch)
    featurizer = AudioFeaturizer(**AUDIO, on_error="skip")
    with pytest.warns(MediaSkipWarning, match="broken.mp4"):
        rows = featurizer.transform(batch)
    assert np.isfinite(rows[:2]).all() and np.isnan(rows[2]).all()
    assert [s.path for s in featurizer.skipped_] == [str(bad)]
    assert isinstance(featurizer.skipped_[0], SkippedFile)
    assert featurizer.skipped_[0].reason


def test_a_hanging_decoder_becomes_that_files_error(segments, monkeypatch):
    """A worker that runs far past real time (a decoder stuck on a broken
    file) is stopped: the file is named, the others are featurized."""
    import time

    # The stuck file comes last, and the decoder process has featurized the
    # others once already: under the short time limit set below, only the
    # stuck file may time out, never a process starting up on a busy machine.
    hanging = segments[-1].path
    AudioFeaturizer(**AUDIO).transform([s for s in segments if s.path != hanging])
    real = _batch._file_rows

    def stuck_on_one_file(kind, featurizer, path, spans, threads=None):
        if path == hanging:
            time.sleep(60)
        return real(kind, featurizer, path, spans, threads)

    monkeypatch.setattr(_batch, "_file_rows", stuck_on_one_file)
    monkeypatch.setattr(_batch, "_TIMEOUT_ALLOWANCE", 3.0)
    monkeypatch.setattr(_batch, "_TIMEOUT_PER_MEDIA_SECOND", 0.0)
    assert _batch._decode_timeout([(0.0, 2.0), (2.0, 2.0)]) == 3.0
    featurizer = AudioFeaturizer(**AUDIO, on_error="skip")
    begin = time.perf_counter()
    with pytest.warns(MediaSkipWarning, match="timed out"):
        rows = featurizer.transform(segments)
    assert time.perf_counter() - begin < 30
    assert [s.path for s in featurizer.skipped_] == [hanging]
    on_hanging = np.array([seg.path == hanging for seg in segments])
    assert np.isnan(rows[on_hanging]).all() and np.isfinite(rows[~on_hanging]).all()


def test_decode_timeout_grows_with_the_media_time():
    short = _batch._decode_timeout([(0.0, 6.0)])
    long = _batch._decode_timeout([(6.0 * i, 6.0) for i in range(600)])  # 1 hour
    assert short >= 60  # start-up and a slow machine
    assert long >= 10 * 3600  # ten times slower than real time


def test_interrupted_run_resumes_from_the_cache(segments, tmp_path, monkeypatch):
    memory = joblib.Memory(str(tmp_path / "cache"), verbose=0)
    reference = VideoFeaturizer(**VIDEO).transform(segments)
    files = sorted({seg.path for seg in segments})
    done = []
    real = _batch._file_rows

    def dies_on_the_last_file(kind, featurizer, path, spans, threads=None):
        if path == files[-1]:
            raise KeyboardInterrupt  # the run is stopped half-way
        done.append(path)
        return real(kind, featurizer, path, spans, threads)

    monkeypatch.setattr(_batch, "_isolated", lambda func, *a, path: func(*a))
    monkeypatch.setattr(_batch, "_file_rows", dies_on_the_last_file)
    ordered = sorted(segments, key=lambda s: s.path)
    with pytest.raises(KeyboardInterrupt):
        VideoFeaturizer(**VIDEO, memory=memory).transform(ordered)
    assert done == files[:-1]

    done.clear()

    def counts(kind, featurizer, path, spans, threads=None):
        done.append(path)
        return real(kind, featurizer, path, spans, threads)

    monkeypatch.setattr(_batch, "_file_rows", counts)
    rows = VideoFeaturizer(**VIDEO, memory=memory).transform(segments)
    assert done == files[-1:], "only the unfinished file is computed again"
    assert_array_equal(rows, reference)

    # Options that do not change the features do not change the cache key:
    # a run with another error policy and verbosity (and a cache given by
    # its path) computes nothing.
    done.clear()
    rows = VideoFeaturizer(
        **VIDEO, memory=str(tmp_path / "cache"), on_error="skip", verbose=0
    ).transform(segments)
    assert done == []
    assert_array_equal(rows, reference)


def test_a_killed_worker_fails_the_run_and_the_rerun_resumes(
    segments, tmp_path, monkeypatch
):
    """The decoding worker of the last file is killed (SIGKILL) half-way: the
    run stops with a MediaError naming that file; run again with the same
    cache, only that file is computed, and the features are the same."""
    import signal

    memory = joblib.Memory(str(tmp_path / "cache"), verbose=0)
    reference = AudioFeaturizer(**AUDIO).transform(segments)
    files = sorted({seg.path for seg in segments})
    log = tmp_path / "computed.txt"  # written by the worker processes
    real = _batch._file_rows

    def killed_on(victim):
        def file_rows(kind, featurizer, path, spans, threads=None):
            if path == victim:
                os.kill(os.getpid(), signal.SIGKILL)
            with open(log, "a") as f:
                f.write(path + "\n")
            return real(kind, featurizer, path, spans, threads)

        return file_rows

    ordered = sorted(segments, key=lambda s: s.path)
    monkeypatch.setattr(_batch, "_file_rows", killed_on(files[-1]))
    with pytest.raises(MediaError, match="SIGKILL") as error:
        AudioFeaturizer(**AUDIO, memory=memory).transform(ordered)
    assert os.path.basename(files[-1]) in str(error.value)
    assert log.read_text().split() == files[:-1]

    log.write_text("")
    monkeypatch.setattr(_batch, "_file_rows", killed_on(None))
    rows = AudioFeaturizer(**AUDIO, memory=memory).transform(segments)
    assert log.read_text().split() == files[-1:]
    assert_array_equal(rows, reference)


def test_a_changed_file_is_featurized_again(tmp_path):
    memory = joblib.Memory(str(tmp_path / "cache"), verbose=0)
    path = _clip(str(tmp_path / "c.mp4"), 2.0, 1, 440.0)
    segs = segment_media([path], seconds=2.0)
    first = AudioFeaturizer(**AUDIO, memory=memory).transform(segs)
    _clip(path, 2.0, 1, 880.0)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = AudioFeaturizer(**AUDIO, memory=memory).transform(segs)
    assert not np.allclose(first, second)


def test_a_library_upgrade_recomputes_the_cache(segments, tmp_path, monkeypatch):
    """Rows cached under one release of a library that computes them are not
    reused under another: the versions are part of the cache key."""
    memory = joblib.Memory(str(tmp_path / "cache"), verbose=0)
    files = sorted({seg.path for seg in segments})
    done = []
    real = _batch._file_rows

    def counts(kind, featurizer, path, spans, threads=None):
        done.append(path)
        return real(kind, featurizer, path, spans, threads)

    monkeypatch.setattr(_batch, "_isolated", lambda func, *a, path: func(*a))
    monkeypatch.setattr(_batch, "_file_rows", counts)
    first = AudioFeaturizer(**AUDIO, memory=memory).transform(segments)
    assert sorted(done) == files
    versions = dict(_batch.library_versions())
    assert set(versions) == {"skmv", "numpy", "librosa", "av", "opencv", "scikit-learn"}

    done.clear()
    AudioFeaturizer(**AUDIO, memory=memory).transform(segments)
    assert done == [], "the same releases reuse the cache"

    upgraded = tuple({**versions, "librosa": versions["librosa"] + ".post1"}.items())
    monkeypatch.setattr(_batch, "library_versions", lambda: upgraded)
    second = AudioFeaturizer(**AUDIO, memory=memory).transform(segments)
    assert sorted(done) == files, "another release computes every file again"
    assert_array_equal(second, first)


def test_decoder_crash_costs_one_file(segments, monkeypatch):
    """A decoder crash, which skmv.io.call_isolated turns into a MediaError
    (tested in test_io.py), costs its file only."""
    victim = segments[0].path

    def isolated(func, *args, path):
        if path == victim:
            raise MediaError(path, "decoder crashed (signal 11)")
        return func(*args)

    monkeypatch.setattr(_batch, "_isolated", isolated)
    featurizer = AudioFeaturizer(**AUDIO, on_error="skip")
    with pytest.warns(MediaSkipWarning, match="crashed"):
        rows = featurizer.transform(segments)
    assert featurizer.skipped_ == [SkippedFile(victim, "decoder crashed (signal 11)")]
    victim_rows = [i for i, s in enumerate(segments) if s.path == victim]
    assert np.isnan(rows[victim_rows]).all()
    others = [i for i, s in enumerate(segments) if s.path != victim]
    assert np.isfinite(rows[others]).all()


def test_segment_input_is_checked():
    with pytest.raises(TypeError, match="Segment"):
        AudioFeaturizer(**AUDIO).transform([np.zeros(8000, np.float32)])


def test_killed_run_resumes_from_the_cache(clips, tmp_path, monkeypatch):
    """A run whose process is killed (SIGKILL) half-way, started again with the
    same memory, recomputes only the files it had not finished."""
    import signal
    import subprocess
    import sys
    import time

    cache = tmp_path / "cache"
    script = (
        "import joblib, sys\n"
        "from skmv.features import VideoFeaturizer\n"
        "from skmv.io import segment_media\n"
        f"segments = segment_media({list(clips)!r}, seconds=2.0)\n"
        f"memory = joblib.Memory({str(cache)!r}, verbose=0)\n"
        f"VideoFeaturizer(**{VIDEO!r}, memory=memory).transform(segments)\n"
        "print('finished')\n"
    )
    run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)

    def finished_files():
        return sorted(cache.rglob("output.pkl"))

    deadline = time.monotonic() + 120
    while not finished_files() and run.poll() is None:
        assert time.monotonic() < deadline, "the run never finished a file"
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait()
    cached = len(finished_files())
    assert cached >= 1

    computed = []
    real = _batch._file_rows

    def counts(kind, featurizer, path, spans, threads=None):
        computed.append(path)
        return real(kind, featurizer, path, spans, threads)

    monkeypatch.setattr(_batch, "_isolated", lambda func, *a, path: func(*a))
    monkeypatch.setattr(_batch, "_file_rows", counts)
    segments = segment_media(clips, seconds=2.0)
    memory = joblib.Memory(str(cache), verbose=0)
    rows = VideoFeaturizer(**VIDEO, memory=memory).transform(segments)
    assert len(computed) == len(clips) - cached
    assert_array_equal(rows, VideoFeaturizer(**VIDEO).transform(segments))


def test_relative_paths_from_any_directory(clips, tmp_path, monkeypatch):
    """Worker processes keep the directory they started in; relative paths are
    the caller's."""
    folder = os.path.dirname(clips[0])
    name = os.path.basename(clips[0])
    reference = AudioFeaturizer(**AUDIO).transform(
        segment_media([clips[0]], seconds=2.0)
    )
    monkeypatch.chdir(tmp_path)  # workers may already run from elsewhere
    AudioFeaturizer(**AUDIO, n_jobs=2).transform(segment_media(clips[1:], seconds=2.0))
    monkeypatch.chdir(folder)
    segments = segment_media([name], seconds=2.0)
    assert segments[0].path == name
    rows = AudioFeaturizer(**AUDIO, n_jobs=2).transform(segments)
    assert_array_equal(rows, reference)


# %% segments without one modality: songs and silent footage


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """A 4 s song (audio only) and 4 s of silent footage (video only)."""
    folder = tmp_path_factory.mktemp("single")
    song = write_media(
        str(folder / "song.mp3"), audio=tone(523.0, 4.0, sr=8000), sr=8000
    )
    footage = write_media(
        str(folder / "footage.mp4"),
        video=moving_bars(48, size=SIZE, random_state=RND_SEED + 7),
        fps=12,
    )
    return song, footage


def _counting(monkeypatch):
    """Record (kind, path) of each file decoded, decoding in this process."""
    calls = []

    def isolated(func, kind, *args, path):
        calls.append((kind, path))
        return func(kind, *args)

    monkeypatch.setattr(_batch, "_isolated", isolated)
    return calls


@pytest.mark.parametrize(
    "Featurizer, params, kind",
    [(VideoFeaturizer, VIDEO, "video"), (AudioFeaturizer, AUDIO, "audio")],
    ids=["video", "audio"],
)
def test_missing_nan_gives_nan_rows_without_decoding(
    Featurizer, params, kind, clips, single, monkeypatch
):
    song, footage = single
    segments = segment_media([clips[0], song, footage], seconds=2.0)
    assert [s.modalities for s in segments] == (
        [("video", "audio")] * 2 + [("audio",)] * 2 + [("video",)] * 2
    )
    lacking = song if kind == "video" else footage
    having = footage if kind == "video" else song
    calls = _counting(monkeypatch)
    featurizer = Featurizer(**params, missing="nan")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no skip warning
        rows = featurizer.transform(segments)
    absent = np.array([s.path == lacking for s in segments])
    assert rows.shape == (6, featurizer._n_features_out)
    assert np.isnan(rows[absent]).all()
    assert np.isfinite(rows[~absent]).all()
    assert featurizer.skipped_ == []
    # The file without the modality was not even opened.
    assert calls == [(kind, clips[0]), (kind, having)]
    # The rows that have it are the featurizer's own.
    assert_array_equal(
        rows[~absent],
        Featurizer(**params).transform([s for s in segments if s.path != lacking]),
    )

    # A hand-made segment claims both modalities: its file is decoded, has
    # no such stream, and the row is NaN all the same, not a skipped file.
    calls.clear()
    claims_both = Segment(lacking, 0.0, 2.0)
    rows = featurizer.transform([segments[0], claims_both])
    assert calls == [(kind, clips[0]), (kind, lacking)]
    assert np.isfinite(rows[0]).all() and np.isnan(rows[1]).all()
    assert featurizer.skipped_ == []


@pytest.mark.parametrize(
    "Featurizer, params, kind",
    [(VideoFeaturizer, VIDEO, "video"), (AudioFeaturizer, AUDIO, "audio")],
    ids=["video", "audio"],
)
def test_missing_error_names_the_file(Featurizer, params, kind, clips, single):
    song, footage = single
    lacking = song if kind == "video" else footage
    segments = segment_media([clips[0], lacking], seconds=2.0)
    with pytest.raises(MissingStreamError, match="missing='nan'") as error:
        Featurizer(**params).transform(segments)
    assert error.value.path == lacking and error.value.kind == kind
    assert str(error.value).startswith(f"{lacking}: its segments have no {kind}")
    # A segment that claims the modality: the decoder finds none (in its
    # worker process; the error comes back as itself).
    with pytest.raises(MissingStreamError, match=f"no {kind} stream") as error:
        Featurizer(**params).transform([Segment(lacking, 0.0, 2.0)])
    assert error.value.path == lacking
    # With on_error="skip" the file is skipped, by name, like a broken one.
    featurizer = Featurizer(**params, on_error="skip")
    with pytest.warns(MediaSkipWarning, match=os.path.basename(lacking)):
        rows = featurizer.transform(segments)
    assert [s.path for s in featurizer.skipped_] == [lacking]
    assert np.isfinite(rows[:2]).all() and np.isnan(rows[2:]).all()


def test_missing_is_not_part_of_the_cache_key(clips, single, tmp_path, monkeypatch):
    """Rows computed under missing="error" are found under missing="nan":
    the parameter changes which rows are NaN, not the features."""
    memory = joblib.Memory(str(tmp_path / "cache"), verbose=0)
    mv = segment_media([clips[0]], seconds=2.0)
    first = AudioFeaturizer(**AUDIO, memory=memory).transform(mv)
    calls = _counting(monkeypatch)
    footage = segment_media([single[1]], seconds=2.0)
    rows = AudioFeaturizer(**AUDIO, memory=memory, missing="nan").transform(
        list(mv) + list(footage)
    )
    assert calls == []  # the MV from the cache, the footage not decoded
    assert_array_equal(rows[:2], first)
    assert np.isnan(rows[2:]).all()
