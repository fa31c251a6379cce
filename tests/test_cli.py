"""Tests of the ``skmv`` command: featurize, fit, retrieve, classify, resume
after an interruption, and one clear line for each user mistake."""

import contextlib
import io
import os
import re
import subprocess
import sys

import av
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import skmv
import skmv.io
from skmv import cli, load_model, save_model
from skmv.datasets import make_music_videos
from skmv.store import FeatureStore

# The fixtures build on each other: keep the file on one xdist worker.
pytestmark = pytest.mark.xdist_group("cli")

# 24 s clips cut into 2 s segments: 12 segments a clip, enough for one
# 10-segment window of the classifier, and sections that change with every
# segment (segment_seconds=2), so that each segment's music and picture share
# causes that its neighbours do not.
SECONDS = "2"
N_SEGMENTS = 12
CORPUS = dict(
    clip_seconds=24,
    segment_seconds=2,
    positive_fraction=0.5,
    size=(64, 48),
    sr=8000,
    random_state=0,
)
# Small models that still learn which music goes with which picture: over 5
# seeds, at least half of every clip's segments find their own in the top 3
# of the 72 (random: 3 in 72).
FIT_OPTIONS = [
    "--hidden-layers",
    "64",
    "--n-components",
    "64",
    "--n-iter",
    "40",
    "--batch-size",
    "10",
    "--random-state",
    "0",
]
MATCH = re.compile(
    r"^  (?P<path>.+)  (?P<start>[\d.]+)-(?P<end>[\d.]+) s  (?P<d>[\d.]+)$"
)


def run(*argv):
    """``skmv argv`` in this process: (exit code, stdout, stderr).

    BLAS runs on one thread: the small models' GEMMs (10-row mini-batches)
    ran 20 to 30 times slower on two threads than on one when another
    process held the second core of the 2-core test machine.
    """
    out, err = io.StringIO(), io.StringIO()
    with (
        threadpool_limits(1),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = cli.main([str(arg) for arg in argv])
    return code, out.getvalue(), err.getvalue()


def assert_one_error_line(code, err, *words):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("skmv: error: "), err
    for word in words:
        assert word in lines[0], (word, lines[0])


def truncated_mkv(source, path):
    """A Matroska copy of ``source`` cut short: its header still promises the
    whole duration, so it passes the probe and fails while decoding."""
    whole = str(path) + ".whole.mkv"
    with av.open(source) as src, av.open(whole, "w") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            dst.mux(packet)
    with open(whole, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) * 2 // 5])
    os.remove(whole)
    return str(path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    data = make_music_videos(6, directory=root / "clips", **CORPUS)
    bad = root / "bad.mp4"
    bad.write_text("not a video\n")
    data.bad = str(bad)
    data.cut = truncated_mkv(data.paths[1], root / "cut.mkv")
    data.root = root
    return data


@pytest.fixture(scope="module")
def features(corpus):
    path = corpus.root / "features.npz"
    code, out, err = run(
        "featurize", *corpus.paths, corpus.bad, corpus.cut, "-o", path, "--seconds",
        SECONDS, "-q",
    )  # fmt: skip
    return path, code, out, err


@pytest.fixture(scope="module")
def model(corpus, features):
    labels = corpus.root / "labels.csv"
    rows = ["clip,label"]
    for i, (clip, label) in enumerate(zip(corpus.paths, corpus.clip_labels)):
        # Clip ids as in the features file, or their file names.
        rows.append(f"{clip if i % 2 else os.path.basename(clip)},{label}")
    labels.write_text("\n".join(rows) + "\n")
    path = corpus.root / "model.skops"
    code, out, err = run(
        "fit", features[0], "-o", path, "--labels", labels, *FIT_OPTIONS
    )
    assert code == 0, err
    assert "wrote" in out
    return path


# ----------------------------------------------------------------------------
# Entry points and help
# ----------------------------------------------------------------------------


def test_python_m_skmv_help():
    result = subprocess.run(
        [sys.executable, "-m", "skmv", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for command in ("featurize", "fit", "retrieve", "classify", "demo"):
        assert command in result.stdout
    assert "exit codes" in result.stdout and "130" in result.stdout


def test_the_command_starts_without_the_heavy_imports():
    """``skmv --help`` (and a Ctrl-C right after starting) need no
    scikit-learn, SciPy or media library: ``import skmv`` is lazy."""
    code = (
        "import sys\n"
        "from skmv import cli\n"
        "try:\n"
        "    cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('sklearn', 'scipy', 'av', 'cv2', 'librosa', 'joblib')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == "[]", done.stdout
    # The public names still import as usual, on first use.
    assert skmv.SharedRBM is skmv.shared.SharedRBM
    assert set(skmv.__all__) <= set(dir(skmv))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        skmv.nope  # noqa: B018


@pytest.mark.parametrize(
    "command, option",
    [
        ("featurize", "--cache"),
        ("fit", "--labels"),
        ("retrieve", "--database"),
        ("classify", "--n-jobs"),
    ],
)
def test_command_help(capsys, command, option):
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: skmv {command}")
    assert option in out


def test_demo_is_forwarded(monkeypatch):
    from skmv import demo

    calls = []
    monkeypatch.setattr(demo, "run", lambda *a, **k: calls.append((a, k)))
    assert cli.main(["demo", "--n-clips", "40", "--random-state", "3"]) == 0
    assert calls == [
        (
            (40,),
            {
                "quick": False,
                "cache": None,
                "out": None,
                "n_jobs": 2,
                "random_state": 3,
                "device": "auto",
            },
        )
    ]


# ----------------------------------------------------------------------------
# featurize
# ----------------------------------------------------------------------------


def test_featurize_skips_bad_files_and_writes_the_rest(corpus, features):
    path, code, out, err = features
    assert code == 3
    assert f"wrote {path}: 72 segments of 6 clip(s): 6 with video and audio; " in out
    # Both bad files are named with their reasons: one fails the probe, the
    # other (it probes fine) the decoding.
    assert f"{corpus.bad}: not a media file" in err
    assert f"{corpus.cut}: " in err and "truncated" in err
    assert "skipped 2 of 8 file(s)" in err

    with np.load(path, allow_pickle=False) as npz:
        data = {key: npz[key] for key in npz.files}
    n_rows = 6 * N_SEGMENTS
    n_video, n_audio = int(data["n_video"]), int(data["n_audio"])
    assert (n_video, n_audio) == (3044, 816)
    assert data["X"].shape == (n_rows, n_video + n_audio)
    assert data["X"].dtype == np.float32 and np.isfinite(data["X"]).all()
    assert data["feature_names"].shape == (n_video + n_audio,)
    assert data["feature_names"][0] == "hog_mean_0"
    audio_names = skmv.AudioFeaturizer().get_feature_names_out()
    assert list(data["feature_names"][n_video:]) == list(audio_names)
    # No row of a skipped file: each good clip has its 12 segments, in order.
    assert sorted(set(data["clips"].tolist())) == sorted(corpus.paths)
    assert list(data["paths"]) == list(data["clips"])
    for clip in corpus.paths:
        starts = data["start"][data["clips"] == clip]
        np.testing.assert_allclose(starts, np.arange(N_SEGMENTS) * 2.0)
    np.testing.assert_allclose(data["duration"], 2.0)
    assert float(data["seconds"]) == 2.0
    versions = dict(data["versions"].tolist())
    assert set(versions) == {"skmv", "numpy", "librosa", "av", "opencv", "scikit-learn"}
    assert versions["skmv"] == skmv.__version__
    assert versions["numpy"] == np.__version__
    assert sorted(data["skipped"][:, 0].tolist()) == sorted([corpus.bad, corpus.cut])
    # The features are the featurizers' own.
    segments = skmv.segment_media(corpus.paths[:1], seconds=2.0)
    video = skmv.VideoFeaturizer().transform(segments)
    np.testing.assert_array_equal(data["X"][:N_SEGMENTS, :n_video], video)
    # The write went through a temporary file that is gone.
    assert not [name for name in os.listdir(path.parent) if name.endswith(".tmp")]


def _counting_isolated(monkeypatch, fail_at=None):
    """Count the featurizers' per-file computations (each runs through
    skmv.io.call_isolated); with ``fail_at``, interrupt that call as Ctrl-C
    would."""
    calls = []
    real = skmv.io.call_isolated

    def isolated(*args, **kwargs):
        calls.append(kwargs.get("path"))
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(skmv.io, "call_isolated", isolated)
    return calls


def _X(path):
    with np.load(path, allow_pickle=False) as npz:
        return npz["X"], npz["clips"]


def test_interrupted_featurize_resumes_from_the_cache(
    corpus, features, tmp_path, monkeypatch
):
    files, cache = corpus.paths[:3], tmp_path / "cache"
    out_path = tmp_path / "f.npz"
    out_path.write_bytes(b"the previous output")
    argv = ["featurize", *files, "-o", out_path, "--seconds", SECONDS, "--cache", cache]

    # Interrupted in the second file (video, then audio, file by file).
    with monkeypatch.context() as patch:
        calls = _counting_isolated(patch, fail_at=3)
        code, _, err = run(*argv, "-q")
    assert code == 130
    assert "interrupted" in err and "resume" in err
    assert calls == [files[0], files[0], files[1]]
    assert out_path.read_bytes() == b"the previous output"  # untouched

    # Started again: the first file comes from the cache, the others are
    # computed, and the result is the uninterrupted run's.
    with monkeypatch.context() as patch:
        calls = _counting_isolated(patch)
        code, out, err = run(*argv)
    assert code == 0, err
    assert calls == [files[1], files[1], files[2], files[2]]
    assert "featurizing" in err  # the progress bar
    X, clips = _X(out_path)
    X_full, clips_full = _X(features[0])
    rows = np.isin(clips_full, files)
    assert X.tobytes() == X_full[rows].tobytes()
    assert list(clips) == list(clips_full[rows])

    # Once more: nothing is computed, the same bytes come out.
    with monkeypatch.context() as patch:
        calls = _counting_isolated(patch)
        code, _, _ = run(*argv, "-q")
    assert code == 0 and calls == []
    assert _X(out_path)[0].tobytes() == X.tobytes()


def test_output_is_replaced_only_when_complete(corpus, tmp_path, monkeypatch):
    out_path = tmp_path / "f.npz"
    out_path.write_bytes(b"the previous output")
    real = np.savez

    def savez_then_crash(file, **arrays):
        real(file, **arrays)  # the whole file, then the power goes
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", savez_then_crash)
    code, _, _ = run(
        "featurize", corpus.paths[0], "-o", out_path, "-q", "--seconds", 12
    )
    assert code == 130
    assert out_path.read_bytes() == b"the previous output"
    assert os.listdir(tmp_path) == ["f.npz"]  # no temporary file left behind

    monkeypatch.setattr(np, "savez", real)
    code, _, _ = run(
        "featurize", corpus.paths[0], "-o", out_path, "-q", "--seconds", 12
    )
    assert code == 0
    assert _X(out_path)[0].shape == (2, 3044 + 816)
    umask = os.umask(0)
    os.umask(umask)
    assert out_path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


# ----------------------------------------------------------------------------
# fit, retrieve, classify
# ----------------------------------------------------------------------------


def test_fit_writes_a_safe_bundle(model, features):
    bundle = load_model(model)
    assert isinstance(bundle, dict) and bundle["format"] == "skmv-model"
    assert isinstance(bundle["shared"], skmv.SharedRBM)
    assert isinstance(bundle["classifier"], skmv.MultiTimescaleFusionClassifier)
    assert list(bundle["classifier"].classes_) == [0, 1]
    fingerprint = bundle["fingerprint"]
    assert (fingerprint["n_video"], fingerprint["n_audio"]) == (3044, 816)
    assert fingerprint["seconds"] == 2.0 and fingerprint["skmv"] == skmv.__version__
    shared = bundle["shared"].transform(_X(features[0])[0])
    assert shared.shape == (6 * N_SEGMENTS, 64)


def test_fit_fine_tunes_the_shared_model_for_retrieval(
    corpus, features, model, tmp_path
):
    path = tmp_path / "tuned.skops"
    code, out, err = run(
        "fit", features[0], "-o", path, *FIT_OPTIONS, "--fine-tune", "contrastive",
        "--fine-tune-n-iter", 3, "-v",
    )  # fmt: skip
    assert code == 0, err
    assert "Fine-tuning epoch 3/3" in out
    shared = load_model(path)["shared"]
    assert shared.fine_tune == "contrastive"
    assert len(shared.fine_tune_loss_curve_) == 3
    code, out, err = run(
        "retrieve", path, corpus.paths[0], "--database", features[0], "-k", 2, "-q"
    )
    assert code == 0, err
    assert len(_parse_retrieval(out, query=corpus.paths[0])) == N_SEGMENTS
    with pytest.raises(SystemExit) as exit_:
        cli.main(["fit", str(features[0]), "-o", str(path), "--fine-tune", "yes"])
    assert exit_.value.code == 2
    # Contrastive fine-tuning is the default; "none" keeps the paper's model.
    assert load_model(model)["shared"].fine_tune == "contrastive"
    code, _, err = run(
        "fit", features[0], "-o", path, *FIT_OPTIONS, "--fine-tune", "none"
    )
    assert code == 0, err
    assert load_model(path)["shared"].fine_tune is None


def _parse_retrieval(out, query=None, direction="audio -> video"):
    """[(query start, [(path, start, end, distance), ...]), ...]"""
    blocks = []
    for line in out.splitlines():
        match = MATCH.match(line)
        if match:
            blocks[-1][1].append(
                (
                    match["path"],
                    float(match["start"]),
                    float(match["end"]),
                    float(match["d"]),
                )
            )
        else:
            assert line.endswith(f"  ({direction})"), line
            assert query is None or line.startswith(f"{query}  "), line
            start = float(line.rsplit("  ", 2)[1].split("-")[0])
            blocks.append((start, []))
    return blocks


def test_retrieve_finds_the_query_segments_own_video(corpus, features, model):
    query = corpus.paths[0]
    code, out, err = run(
        "retrieve", model, query, "--database", features[0], "-k", 3, "-q"
    )
    assert code == 0, err
    blocks = _parse_retrieval(out, query=query)
    assert [start for start, _ in blocks] == [2.0 * i for i in range(N_SEGMENTS)]
    hits = 0
    for start, matches in blocks:
        assert len(matches) == 3
        distances = [d for *_, d in matches]
        assert distances == sorted(distances)
        hits += any(p == query and s == start for p, s, _, _ in matches)
    # Random ranking puts the own segment in the top 3 of 72 for 0.5 of 12.
    assert hits >= N_SEGMENTS // 2, out

    # --start: one segment, the same answer as in the full listing.
    code, one, err = run(
        "retrieve", model, query, "--database", features[0], "-k", 3, "-q",
        "--start", 6,
    )  # fmt: skip
    assert code == 0, err
    assert _parse_retrieval(one) == [blocks[3]]


def test_retrieve_with_a_song_alone(corpus, features, model, tmp_path):
    """A query file needs only the query's modality: video for a song."""
    import soundfile

    song = str(tmp_path / "song.wav")
    soundfile.write(song, skmv.io.read_audio(corpus.paths[0], sr=8000), 8000)
    code, out, err = run(
        "retrieve", model, song, "--database", features[0], "-k", 3, "-q"
    )
    assert code == 0, err
    blocks = _parse_retrieval(out, query=song)
    assert len(blocks) == N_SEGMENTS
    hits = sum(
        any(p == corpus.paths[0] and s == start for p, s, _, _ in matches)
        for start, matches in blocks
    )
    assert hits >= N_SEGMENTS // 2, out
    # It has no video to query with.
    code, _, err = run(
        "retrieve", model, song, "--database", features[0], "--query", "video"
    )
    assert_one_error_line(code, err, song, "no video stream")


# ----------------------------------------------------------------------------
# Songs and silent footage: one modality
# ----------------------------------------------------------------------------


def video_only(source, path):
    """A copy of ``source``'s video stream alone (the same frames)."""
    with av.open(source) as src, av.open(str(path), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            dst.mux(packet)
    return str(path)


def audio_only(source, path):
    """``source``'s audio alone, as a song file (mono, 8 kHz)."""
    import soundfile

    soundfile.write(str(path), skmv.io.read_audio(source, sr=8000), 8000)
    return str(path)


@pytest.fixture(scope="module")
def mixed(corpus):
    """A folder of one short music video, two songs and silent footage,
    featurized: ``(features path, exit code, stdout, stderr, files)``."""
    from skmv.datasets import moving_bars, tone, write_media

    folder = corpus.root / "mixed"
    folder.mkdir()
    bars = moving_bars(48, size=(64, 48))
    files = {
        "footage": write_media(folder / "footage.mp4", video=bars, fps=12),
        "mv": write_media(
            folder / "mv.mp4",
            video=bars,
            fps=12,
            audio=tone(440.0, 4.0, sr=8000),
            sr=8000,
        ),
        "song1": write_media(
            folder / "song1.mp3", audio=tone(330.0, 4.0, sr=8000), sr=8000
        ),
        "song2": write_media(
            folder / "song2.ogg", audio=tone(550.0, 4.0, sr=8000), sr=8000
        ),
    }
    path = corpus.root / "mixed.npz"
    code, out, err = run("featurize", folder, "-o", path, "--seconds", SECONDS, "-q")
    return path, code, out, err, files


def test_featurize_mixes_music_videos_songs_and_footage(mixed):
    path, code, out, err, files = mixed
    assert code == 0, err
    assert out.strip() == (
        f"wrote {path}: 8 segments of 4 clip(s): 1 with video and audio, "
        "2 audio only, 1 video only; 3044 video + 816 audio features"
    )
    with np.load(path, allow_pickle=False) as npz:
        data = {key: npz[key] for key in npz.files}
    order = ["footage", "mv", "song1", "song2"]  # sorted file names
    assert list(data["clips"]) == [files[name] for name in order for _ in range(2)]
    assert list(data["modalities"]) == (
        ["video"] * 2 + ["video,audio"] * 2 + ["audio"] * 4
    )
    X, n_video = data["X"], int(data["n_video"])
    video, audio = X[:, :n_video], X[:, n_video:]
    has_video = np.array([True] * 4 + [False] * 4)
    has_audio = np.array([False] * 2 + [True] * 6)
    assert np.isnan(video[~has_video]).all() and np.isfinite(video[has_video]).all()
    assert np.isnan(audio[~has_audio]).all() and np.isfinite(audio[has_audio]).all()
    assert data["skipped"].shape == (0, 2)
    # An older file, without the modalities, reads the same.
    del data["modalities"]
    old = path.parent / "mixed_old.npz"
    with open(old, "wb") as f:
        np.savez(f, **data)
    assert list(cli._load_features(str(old)).modalities) == list(
        cli._load_features(str(path)).modalities
    )
    # Modalities that are not one per row, or not modalities: damage.
    for bad in (np.array(["audio"] * 3), np.array(["sound"] * 8)):
        damaged = _rewrite_features(path, path.parent / "bad.npz", modalities=bad)
        code, _, err = run("fit", damaged, "-o", path.parent / "m.skops")
        assert_one_error_line(code, err, str(damaged), "damaged features file")


def test_fit_refuses_rows_without_both_modalities(mixed, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_shared_rbm", lambda *a: pytest.fail("it trained"))
    output = tmp_path / "m.skops"
    code, _, err = run("fit", mixed[0], "-o", output, *FIT_OPTIONS)
    assert_one_error_line(
        code, err, str(mixed[0]), "training needs pairs of video and audio",
        "6 of 8 rows lack one", "4 have no video (audio only)",
        "2 have no audio (video only)", mixed[4]["footage"],
    )  # fmt: skip
    assert not output.exists()


@pytest.fixture(scope="module")
def library(corpus):
    """The music of the first three clips alone, as a library of songs."""
    folder = corpus.root / "library"
    folder.mkdir()
    songs = [
        audio_only(clip, folder / f"song{i}.wav")
        for i, clip in enumerate(corpus.paths[:3])
    ]
    path = corpus.root / "library.npz"
    code, out, err = run("featurize", folder, "-o", path, "--seconds", SECONDS, "-q")
    assert code == 0, err
    assert "36 segments of 3 clip(s): 3 audio only;" in out
    return path, songs


@pytest.fixture(scope="module")
def footage(corpus):
    """The pictures of the first three clips alone, as silent footage."""
    folder = corpus.root / "footage"
    folder.mkdir()
    clips = [
        video_only(clip, folder / f"footage{i}.mp4")
        for i, clip in enumerate(corpus.paths[:3])
    ]
    path = corpus.root / "footage.npz"
    code, out, err = run("featurize", folder, "-o", path, "--seconds", SECONDS, "-q")
    assert code == 0, err
    assert "36 segments of 3 clip(s): 3 video only;" in out
    return path, clips


def _own_hits(blocks, own):
    """Query segments whose own segment (of the file ``own``) is listed."""
    return sum(
        any(p == own and s == start for p, s, _, _ in matches)
        for start, matches in blocks
    )


def test_retrieve_music_for_footage_from_a_library_of_songs(
    corpus, library, footage, model
):
    """A video query (silent footage) against songs alone: the songs are
    ranked, and a clip's own music is found."""
    database, songs = library
    query = footage[1][0]
    code, out, err = run(
        "retrieve", model, query, "--database", database, "--query", "video",
        "-k", 3, "-q",
    )  # fmt: skip
    assert code == 0, err
    blocks = _parse_retrieval(out, query=query, direction="video -> audio")
    assert [start for start, _ in blocks] == [2.0 * i for i in range(N_SEGMENTS)]
    assert {p for _, matches in blocks for p, *_ in matches} <= set(songs)
    assert all(len(matches) == 3 for _, matches in blocks)
    # Random ranking puts the own segment in the top 3 of 36 for 1 of 12.
    assert _own_hits(blocks, songs[0]) >= N_SEGMENTS // 2, out
    # One segment of the footage: the same answer as in the full listing.
    code, one, err = run(
        "retrieve", model, query, "--database", database, "--query", "video",
        "-k", 3, "-q", "--start", 4,
    )  # fmt: skip
    assert code == 0, err
    assert _parse_retrieval(one, direction="video -> audio") == [blocks[2]]


def test_retrieve_footage_for_a_song(corpus, library, footage, model):
    """A song (the default audio query) against silent footage alone."""
    database, clips = footage
    song = library[1][0]
    code, out, err = run("retrieve", model, song, "--database", database, "-k", 3, "-q")
    assert code == 0, err
    blocks = _parse_retrieval(out, query=song)
    assert len(blocks) == N_SEGMENTS
    assert {p for _, matches in blocks for p, *_ in matches} <= set(clips)
    assert _own_hits(blocks, clips[0]) >= N_SEGMENTS // 2, out


def test_retrieve_leaves_out_database_rows_without_the_target(
    corpus, features, model, tmp_path
):
    """A database whose first two clips lost their video: they are not
    ranked, and the others' rows are listed under their own names."""
    with np.load(features[0], allow_pickle=False) as npz:
        X, clips = npz["X"].copy(), npz["clips"]
        modalities = npz["modalities"].copy()
    songs = np.isin(clips, corpus.paths[:2])
    X[songs, :3044] = np.nan
    modalities[songs] = "audio"
    mixed = _rewrite_features(
        features[0], tmp_path / "mixed.npz", X=X, modalities=modalities
    )
    query = corpus.paths[2]  # rows 24-35 of the file, 0-11 of its video rows
    code, out, err = run("retrieve", model, query, "--database", mixed, "-k", 3, "-q")
    assert code == 0, err
    blocks = _parse_retrieval(out, query=query)
    listed = {p for _, matches in blocks for p, *_ in matches}
    assert listed and not listed & set(corpus.paths[:2])
    assert _own_hits(blocks, query) >= N_SEGMENTS // 2, out
    # The same from a file written before features files said which rows
    # have which modality: read from the NaN blocks.
    with np.load(mixed, allow_pickle=False) as npz:
        data = {key: npz[key] for key in npz.files if key != "modalities"}
    with open(tmp_path / "old.npz", "wb") as f:
        np.savez(f, **data)
    code, again, err = run(
        "retrieve", model, query, "--database", tmp_path / "old.npz", "-k", 3, "-q"
    )
    assert code == 0, err
    assert again == out


def test_retrieve_from_a_database_without_the_target(library, footage, model):
    database, songs = library
    code, out, err = run("retrieve", model, songs[0], "--database", database)
    assert_one_error_line(
        code, err, str(database), "no segment with video to retrieve",
        "36 segment(s), 36 audio only",
    )  # fmt: skip
    assert out == ""
    code, _, err = run(
        "retrieve", model, footage[1][0], "--database", footage[0], "--query", "video"
    )
    assert_one_error_line(
        code, err, str(footage[0]), "no segment with audio", "36 video only"
    )


def _parse_clips(out, query, header):
    """(query range, [(path, start, end, score), ...]) of ``--by clip``."""
    first, *rest = out.splitlines()
    assert first.startswith(f"{query}  ") and first.endswith(f"  ({header})"), first
    matches = []
    for line in rest:
        match = MATCH.match(line)
        assert match, line
        matches.append(
            (
                match["path"],
                float(match["start"]),
                float(match["end"]),
                float(match["d"]),
            )
        )
    return first.split("  ")[1], matches


def test_retrieve_by_clip_music_for_footage(library, footage, model):
    """Which of my songs fits this footage? Each song once, best first."""
    database, songs = library
    for i, query in enumerate(footage[1]):
        code, out, err = run(
            "retrieve", model, query, "--database", database, "--query", "video",
            "--by", "clip", "-k", 10, "-q",
        )  # fmt: skip
        assert code == 0, err
        whole, matches = _parse_clips(out, query, "video -> audio, whole clips")
        assert whole == f"0-{2 * N_SEGMENTS} s"
        assert sorted(p for p, *_ in matches) == sorted(songs)  # -k 10: all 3
        scores = [d for *_, d in matches]
        assert scores == sorted(scores)
        assert matches[0][0] == songs[i], out  # its own music first
        assert matches[0][1:3] == (0.0, 2.0 * N_SEGMENTS)  # aligned at 0
    # An excerpt: 6 s from 8 s of the first clip's footage; the own song is
    # found at the same place.
    code, out, err = run(
        "retrieve", model, footage[1][0], "--database", database, "--query",
        "video", "--by", "clip", "--excerpt", 6, "--start", 8, "-k", 1, "-q",
    )  # fmt: skip
    assert code == 0, err
    whole, matches = _parse_clips(out, footage[1][0], "video -> audio, whole clips")
    assert whole == "8-14 s"
    assert [(p, s, e) for p, s, e, _ in matches] == [(songs[0], 8.0, 14.0)]


def test_retrieve_by_clip_footage_for_a_song(library, footage, model):
    database, clips = footage
    song = library[1][2]
    code, out, err = run(
        "retrieve", model, song, "--database", database, "--by", "clip", "-k", 2,
        "--excerpt", 10, "-q",
    )  # fmt: skip
    assert code == 0, err
    whole, matches = _parse_clips(out, song, "audio -> video, whole clips")
    assert whole == "0-10 s"
    assert len(matches) == 2 and matches[0][0] == clips[2], out
    assert matches[0][1:3] == (0.0, 10.0)


def test_retrieve_from_a_store_as_from_the_same_features_file(
    corpus, library, footage, model, tmp_path
):
    """--database DIR: a features store of songs and music videos answers
    as the features file of the same files, by segment and by clip, for
    video (the store's rows with video only) and for music (all of them)."""
    files = [*library[1][:2], *corpus.paths[3:5]]
    store, npz, cache = tmp_path / "store", tmp_path / "same.npz", tmp_path / "c"
    for output in (["--store", store], ["-o", npz]):
        code, _, err = run(
            "featurize", *files, *output, "--cache", cache, "--seconds", SECONDS,
            "-q",
        )  # fmt: skip
        assert code == 0, err
    assert FeatureStore(store).n_rows == 4 * N_SEGMENTS
    for query, options in [
        (library[1][0], ["-k", 3]),
        (library[1][0], ["--by", "clip", "-k", 2]),
        (footage[1][0], ["--query", "video", "-k", 3]),
    ]:
        answers = []
        for database in (store, npz):
            code, out, err = run(
                "retrieve", model, query, "--database", database, *options, "-q"
            )
            assert code == 0, err
            answers.append(out)
        assert answers[0] == answers[1]
        listed = {line.split("  ")[1] for line in out.splitlines() if line[:2] == "  "}
        if "--query" in options:
            assert listed & set(library[1][:2])  # songs answer for footage
        else:
            assert listed <= set(corpus.paths[3:5])  # only clips with video


def test_retrieve_excerpt_outside_the_query_file(library, footage, model):
    code, out, err = run(
        "retrieve", model, library[1][0], "--database", footage[0], "--by",
        "clip", "--excerpt", 10, "--start", 20,
    )  # fmt: skip
    assert_one_error_line(
        code, err, "--start 20", f"lasts {2.0 * N_SEGMENTS:.2f} s", "10 s excerpt"
    )
    assert out == ""
    code, _, err = run(
        "retrieve", model, library[1][0], "--database", footage[0], "--excerpt", 0
    )
    assert_one_error_line(code, err, "--excerpt must be positive")


def test_published_files_follow_the_umask_of_the_moment(tmp_path):
    """Files written through a private temporary file end with the mode that
    ``open`` would give them now: a umask tightened mid-run is obeyed."""
    import tempfile

    from skmv._files import publish

    before = os.umask(0o022)
    try:
        for umask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
            os.umask(umask)
            fd, partial = tempfile.mkstemp(dir=tmp_path)
            os.close(fd)
            publish(partial, tmp_path / f"out{umask:o}")
            assert (tmp_path / f"out{umask:o}").stat().st_mode & 0o777 == mode
    finally:
        os.umask(before)


def test_keep_last_uses_a_file_shorter_than_a_segment(tmp_path, features, model):
    """Without --keep-last a file shorter than one segment is an error that
    says what to do; with it, the file is one shorter segment."""
    from skmv.datasets import moving_bars, tone, write_media

    short = str(tmp_path / "short.mp4")
    seconds = 0.75 * float(SECONDS)
    write_media(
        short,
        video=moving_bars(int(12 * seconds), size=(64, 48)),
        fps=12,
        audio=tone(440.0, seconds, sr=22050),
        sr=22050,
    )
    out_path = tmp_path / "short.npz"
    code, _, err = run("featurize", short, "-o", out_path, "--seconds", SECONDS, "-q")
    assert_one_error_line(code, err, short, "shorter than one segment", "--keep-last")
    code, _, err = run(
        "featurize", short, "-o", out_path, "--seconds", SECONDS, "-q", "--keep-last"
    )
    assert code == 0, err
    with np.load(out_path) as npz:
        assert npz["X"].shape[0] == 1
        assert npz["duration"][0] == pytest.approx(seconds, abs=0.1)
    code, _, err = run("retrieve", model, short, "--database", features[0], "-q")
    assert_one_error_line(code, err, short, "--keep-last")
    code, out, err = run(
        "retrieve", model, short, "--database", features[0], "-q", "--keep-last"
    )
    assert code == 0, err
    assert len(_parse_retrieval(out, query=short)) == 1
    # An empty folder: one line naming it.
    (tmp_path / "empty").mkdir()
    code, _, err = run("featurize", tmp_path / "empty", "-o", out_path)
    assert_one_error_line(code, err, str(tmp_path / "empty"), "no media files")


def test_classify_prints_a_label_and_a_score_per_clip(corpus, model):
    files = corpus.paths[:3]
    code, out, err = run("classify", model, *files, corpus.bad, "-q")
    assert code == 3  # bad.mp4 skipped
    assert corpus.bad in err
    lines = out.splitlines()
    assert [line.split("  ")[0] for line in lines] == files
    for line in lines:
        _, label, score = line.split("  ")
        assert label in {"0", "1"}
        assert 0.0 <= float(score) <= 1.0
    # The score is the probability the classifier gives the printed label.
    classifier = load_model(model)["classifier"]
    segments = skmv.segment_media(files[:1], seconds=2.0)
    X = np.hstack(
        [
            skmv.VideoFeaturizer().transform(segments),
            skmv.AudioFeaturizer().transform(segments),
        ]
    )
    _, proba = classifier.predict_proba_clips(X, segments.clips)
    _, label, score = lines[0].split("  ")
    assert int(label) == classifier.classes_[np.argmax(proba[0])]
    assert float(score) == pytest.approx(proba[0].max(), abs=1e-4)


# ----------------------------------------------------------------------------
# User mistakes: one line, exit code 2
# ----------------------------------------------------------------------------


def _rewrite_features(source, target, **changes):
    with np.load(source, allow_pickle=False) as npz:
        data = {key: npz[key] for key in npz.files}
    data.update(changes)
    with open(target, "wb") as f:
        np.savez(f, **data)
    return target


def test_missing_files(tmp_path, features, model):
    missing = tmp_path / "nope.mp4"
    code, _, err = run("featurize", missing, "-o", tmp_path / "f.npz")
    assert_one_error_line(code, err, str(missing), "no such file")
    assert not (tmp_path / "f.npz").exists()
    code, _, err = run("fit", tmp_path / "nope.npz", "-o", tmp_path / "m.skops")
    assert_one_error_line(code, err, "nope.npz", "no such features file")
    code, _, err = run("classify", tmp_path / "nope.skops", missing)
    assert_one_error_line(code, err, "nope.skops", "no such model file")
    code, _, err = run("retrieve", model, missing, "--database", features[0])
    assert_one_error_line(code, err, str(missing), "no such query file")
    code, _, err = run("featurize", missing, "-o", tmp_path / "no" / "f.npz")
    assert_one_error_line(code, err, "no such directory")


def test_not_a_features_file(tmp_path, corpus, features):
    text = tmp_path / "notes.npz"
    text.write_text("hello\n")
    for path in (text, corpus.paths[0]):
        code, _, err = run("fit", path, "-o", tmp_path / "m.skops")
        assert_one_error_line(code, err, str(path), "not a skmv features file")
    other = tmp_path / "other.npz"
    np.savez(other, X=np.zeros((3, 2)))
    code, _, err = run("fit", other, "-o", tmp_path / "m.skops")
    assert_one_error_line(code, err, "not a skmv features file")


def test_not_a_model_file(tmp_path, corpus, features):
    """A features file, a text file or a video where a model belongs: the
    mirror of the features-file check, without skops' internals."""
    text = tmp_path / "notes.skops"
    text.write_text("hello\n")
    for path in (features[0], text, corpus.paths[0]):
        code, _, err = run("classify", path, corpus.paths[0])
        assert_one_error_line(code, err, str(path), "not a skmv model file", "skmv fit")
        assert "schema" not in err and "zip" not in err
        code, _, err = run("retrieve", path, corpus.paths[0], "--database", features[0])
        assert_one_error_line(code, err, str(path), "not a skmv model file")


def test_features_from_another_skmv_version(tmp_path, features):
    with np.load(features[0], allow_pickle=False) as npz:
        versions = npz["versions"].copy()
    versions[versions[:, 0] == "skmv", 1] = "0.0.1"
    old = _rewrite_features(features[0], tmp_path / "old.npz", versions=versions)
    code, _, err = run("fit", old, "-o", tmp_path / "m.skops")
    assert_one_error_line(code, err, "skmv 0.0.1", "featurize again")
    assert not (tmp_path / "m.skops").exists()


def test_model_for_other_features(tmp_path, corpus, features, model):
    with np.load(features[0], allow_pickle=False) as npz:
        names = npz["feature_names"].copy()
    names[0] = "something_else"
    other = _rewrite_features(features[0], tmp_path / "o.npz", feature_names=names)
    code, _, err = run("retrieve", model, corpus.paths[0], "--database", other)
    assert_one_error_line(code, err, "fitted on other features", "feature names")
    other = _rewrite_features(features[0], tmp_path / "s.npz", seconds=np.array(6.0))
    code, _, err = run("retrieve", model, corpus.paths[0], "--database", other)
    assert_one_error_line(code, err, "segment seconds")
    # A model whose fingerprint is not what this skmv computes.
    bundle = load_model(model)
    bundle["fingerprint"] = dict(bundle["fingerprint"], n_video=10)
    save_model(bundle, tmp_path / "other.skops")
    code, _, err = run("classify", tmp_path / "other.skops", corpus.paths[0])
    assert_one_error_line(code, err, "other features", "video columns")


def test_labels_for_unknown_clips(tmp_path, features):
    labels = tmp_path / "labels.csv"
    labels.write_text("clip,label\nnot_in_there.mp4,1\n")
    code, _, err = run(
        "fit", features[0], "-o", tmp_path / "m.skops", "--labels", labels
    )
    assert_one_error_line(code, err, "not_in_there.mp4", "not in")


def test_labels_by_a_file_name_that_two_folders_share():
    """The same file name in two folders: a label by name alone is refused
    as ambiguous, naming both clips; a label by path is taken."""
    clips = np.array(["pop/a.mp4", "rock/a.mp4", "rock/b.mp4"])
    with pytest.raises(cli.UsageError) as error:
        cli._match_clips({"a.mp4": "1", "b.mp4": "0"}, clips, "l.csv", "f.npz")
    message = str(error.value)
    assert "1 clip name(s) match several clips" in message
    assert "pop/a.mp4 and rock/a.mp4" in message and "as in the features" in message
    matched = cli._match_clips(
        {"pop/a.mp4": "1", "rock/a.mp4": "0", "b.mp4": "0"}, clips, "l.csv", "f.npz"
    )
    assert matched == {"pop/a.mp4": "1", "rock/a.mp4": "0", "rock/b.mp4": "0"}


def test_labels_of_one_class(tmp_path, corpus, features):
    labels = tmp_path / "labels.csv"
    labels.write_text("".join(f"{path},1\n" for path in corpus.paths))
    code, _, err = run(
        "fit", features[0], "-o", tmp_path / "m.skops", "--labels", labels
    )
    assert_one_error_line(
        code, err, "at least 2 clips of each of 2 labels", "6 of label 1"
    )


def test_short_and_unlabelled_clips_are_left_out_of_the_classifier(
    tmp_path, corpus, features, monkeypatch
):
    with np.load(features[0], allow_pickle=False) as npz:
        data = {key: npz[key] for key in npz.files}
    # The last clip keeps 4 of its 12 segments: too short for a window.
    keep = (data["clips"] != corpus.paths[5]) | (data["start"] < 8)
    for key in ("X", "clips", "paths", "start", "duration", "modalities"):
        data[key] = data[key][keep]
    short = tmp_path / "short.npz"
    with open(short, "wb") as f:
        np.savez(f, **data)
    labels = tmp_path / "labels.csv"  # the first clip has none
    labels.write_text(
        "".join(f"{p},{y}\n" for p, y in zip(corpus.paths[1:], corpus.clip_labels[1:]))
    )
    fitted = []
    monkeypatch.setattr(cli, "_fit_classifier", lambda args, d, w: fitted.append(w))
    code, _, err = run(
        "fit", short, "-o", tmp_path / "m.skops", "--labels", labels,
        "--hidden-layers", "8", "--n-components", "4", "--n-iter", "1",
    )  # fmt: skip
    assert code == 0, err
    assert "1 clip(s) without a label left out" in err
    assert "1 clip(s) shorter than 10 segments (20 s) left out" in err
    assert corpus.paths[5] in err
    [(X_windows, y, clips, cv)] = fitted
    assert list(clips) == corpus.paths[1:5]
    assert list(y) == list(corpus.clip_labels[1:5])
    assert X_windows.shape == (4, 10 * (3044 + 816))
    assert cv == 2  # two clips of each label


def test_model_without_classifier(tmp_path, corpus, model):
    bundle = load_model(model)
    bundle["classifier"] = None
    save_model(bundle, tmp_path / "plain.skops")
    code, _, err = run("classify", tmp_path / "plain.skops", corpus.paths[0])
    assert_one_error_line(code, err, "has no classifier", "--labels")


def test_start_outside_the_query_file(corpus, features, model):
    code, _, err = run(
        "retrieve", model, corpus.paths[0], "--database", features[0], "--start", 23
    )
    assert_one_error_line(code, err, "--start 23", "lasts 24.00 s")


def test_real_bugs_still_raise(monkeypatch, corpus, tmp_path):
    def broken(self, X):
        raise RuntimeError("a bug")

    monkeypatch.setattr(skmv.VideoFeaturizer, "transform", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["featurize", corpus.paths[0], "-o", str(tmp_path / "f.npz"), "-q"])


# ----------------------------------------------------------------------------
# retrieve --report: the results as a page to look at and listen to
# ----------------------------------------------------------------------------


def _report_queries(path):
    """[(query, [match, ...]), ...] of a report, each span as (path, time
    range, number of key frames or strips, number of players)."""
    import html

    text = open(path, encoding="utf-8").read()
    queries = []
    for section in text.split('<section class="query"')[1:]:
        spans = []
        items = re.split(r'<div class="item query-item"|<li class="item match', section)
        for item in items[1:]:
            file = re.search(r'<span class="file" title="([^"]*)"', item)
            times = re.search(r"(\d[\d.]*)–(\d[\d.]*) s ·", item)
            spans.append(
                (
                    html.unescape(file[1]),
                    (float(times[1]), float(times[2])),
                    item.count("<img "),
                    item.count("<audio "),
                )
            )
        queries.append((spans[0], spans[1:]))
    return queries


def test_retrieve_report_by_segment(corpus, features, model, tmp_path):
    """One query per query segment with its k matches, as printed: the
    query's music as a strip and a player, each match's key frames and
    player (the database holds music videos)."""
    query = corpus.paths[1]
    report = tmp_path / "report.html"
    argv = ["retrieve", model, query, "--database", features[0], "-k", 2, "-q"]
    code, printed, err = run(*argv)
    assert code == 0, err
    code, out, err = run(*argv, "--report", report)
    assert code == 0, err
    assert out == printed  # the listing is the same
    assert (
        err == f"skmv: wrote {report}: 12 queries, 24 matches (open it in a browser)\n"
    )
    blocks = _parse_retrieval(out, query=query)
    queries = _report_queries(report)
    assert len(queries) == len(blocks) == N_SEGMENTS
    for (start, matches), (shown, shown_matches) in zip(blocks, queries):
        assert shown == (query, (start, start + 2.0), 1, 1)
        assert [(p, (s, e)) for p, s, e, _ in matches] == [
            (p, times) for p, times, _, _ in shown_matches
        ]
        # Key frames and a player for each (music videos).
        assert all(span[2:] == (4, 1) for span in shown_matches)
    page = report.read_text(encoding="utf-8")
    assert "audio → video: the 2 nearest of 72 segments with video" in page
    assert page.count('class="missing"') == 0


def test_retrieve_report_single_modality_databases(library, footage, model, tmp_path):
    """Songs found for footage (--by clip): the footage's key frames, each
    song's strip and player over the excerpt printed; footage found for a
    song: the song's strip and player, the footage's key frames alone."""
    database, songs = library
    report = tmp_path / "clips.html"
    code, out, err = run(
        "retrieve", model, footage[1][0], "--database", database, "--query",
        "video", "--by", "clip", "--excerpt", 6, "--start", 8, "-k", 3, "-q",
        "--report", report,
    )  # fmt: skip
    assert code == 0, err
    assert "1 query, 3 matches" in err
    _, matches = _parse_clips(out, footage[1][0], "video -> audio, whole clips")
    [(shown, shown_matches)] = _report_queries(report)
    assert shown == (footage[1][0], (8.0, 14.0), 4, 0)
    assert shown_matches == [(p, (s, e), 1, 1) for p, s, e, _ in matches]
    assert {p for p, *_ in matches} == set(songs)
    page = report.read_text(encoding="utf-8")
    assert 'class="strip"' in page and "3 clips with audio" in page

    database, clips = footage
    report = tmp_path / "segments.html"
    code, out, err = run(
        "retrieve", model, songs[2], "--database", database, "--start", 4, "-k", 2,
        "-q", "--report", report,
    )  # fmt: skip
    assert code == 0, err
    [(start, matches)] = _parse_retrieval(out, query=songs[2])
    [(shown, shown_matches)] = _report_queries(report)
    assert shown == (songs[2], (4.0, 6.0), 1, 1)
    assert shown_matches == [(p, (s, e), 4, 0) for p, s, e, _ in matches]


def test_retrieve_report_shows_what_it_cannot_read(corpus, features, model, tmp_path):
    """Database files moved since featurize: the listing is complete, the
    page shows a placeholder for each, and stderr says which."""
    with np.load(features[0], allow_pickle=False) as npz:
        paths = npz["paths"]
    gone = str(tmp_path / "moved.mp4")
    paths = np.where(paths == corpus.paths[0], gone, paths)
    moved = _rewrite_features(features[0], tmp_path / "moved.npz", paths=paths)
    report = tmp_path / "report.html"
    code, out, err = run(
        "retrieve", model, corpus.paths[0], "--database", moved, "--start", 2,
        "-k", 72, "-q", "--report", report,
    )  # fmt: skip
    assert code == 0, err
    lines = err.splitlines()
    assert lines == [
        f"skmv: wrote {report}: 1 query, 72 matches (open it in a browser)",
        f"skmv: warning: the report cannot show {gone}: no such file or directory",
    ]
    [(_, shown)] = _report_queries(report)
    page = report.read_text(encoding="utf-8")
    assert page.count("moved.mp4: cannot be shown: no such file or directory") == 12
    assert sum(n_images == 0 for _, _, n_images, _ in shown) == 12
    assert sum(n_images == 4 for _, _, n_images, _ in shown) == 60


def test_retrieve_report_output_is_checked_first(
    features, model, tmp_path, monkeypatch
):
    monkeypatch.setattr(cli, "_load_bundle", lambda path: pytest.fail("it worked"))
    nowhere = tmp_path / "no" / "report.html"
    code, out, err = run(
        "retrieve", model, "query.mp4", "--database", features[0], "--report", nowhere
    )
    assert_one_error_line(code, err, str(nowhere), "no such directory")
    code, out, err = run(
        "retrieve", model, "query.mp4", "--database", features[0], "--report", tmp_path
    )
    assert_one_error_line(code, err, str(tmp_path), "is a directory")
    assert out == ""


# ----------------------------------------------------------------------------
# Features stores: featurize --store DIR, fit DIR
# ----------------------------------------------------------------------------


def test_featurize_into_a_store_resumes_and_appends(
    corpus, features, tmp_path, monkeypatch
):
    files, store = corpus.paths[:3], tmp_path / "store"

    # Interrupted in the second file: the first is in the store already.
    with monkeypatch.context() as patch:
        calls = _counting_isolated(patch, fail_at=3)
        code, _, err = run(
            "featurize", *files[:2], "--store", store, "--seconds", SECONDS, "-q"
        )
    assert code == 130
    assert f"the files already in {store} are kept" in err
    assert calls == [files[0], files[0], files[1]]
    assert FeatureStore(store).sources == {os.path.abspath(files[0])}

    # Started again with one more file: the first is not computed again, the
    # others are appended, and the rows are those of the features file.
    with monkeypatch.context() as patch:
        calls = _counting_isolated(patch)
        code, out, err = run(
            "featurize", *files, "--store", store, "--seconds", SECONDS, "-q"
        )
    assert code == 0, err
    assert calls == [files[1], files[1], files[2], files[2]]
    assert (
        f"{store}: added 24 segments of 2 clip(s) (1 file(s) already there); it "
        "holds 36 segments of 3 clip(s): 3 with video and audio; 3044 video + "
        "816 audio features"
    ) in out
    data = cli._load_features(str(store), store=True)
    X_full, clips_full = _X(features[0])
    rows = np.isin(clips_full, files)
    assert np.asarray(data.X).tobytes() == X_full[rows].tobytes()
    assert list(data.clips) == list(clips_full[rows])
    with np.load(features[0], allow_pickle=False) as npz:
        np.testing.assert_array_equal(data.start, npz["start"][rows])
        assert list(data.modalities) == list(npz["modalities"][rows])
        assert data.fingerprint == cli._load_features(str(features[0])).fingerprint

    # Once more: nothing to compute, nothing added.
    with monkeypatch.context() as patch:
        calls = _counting_isolated(patch)
        code, out, _ = run(
            "featurize", *files, "--store", store, "--seconds", SECONDS, "-q"
        )
    assert code == 0 and calls == []
    assert "added 0 segments of 0 clip(s) (3 file(s) already there)" in out
    assert FeatureStore(store).n_rows == 36


def test_fit_streams_from_a_store_as_from_the_same_features_file(
    corpus, features, tmp_path
):
    """fit DIR reads the store chunk by chunk; with the same --chunk-size, the
    features file of the same rows gives the same model."""
    files, store = corpus.paths[:2], tmp_path / "store"
    code, _, err = run(
        "featurize", *files, "--store", store, "--seconds", SECONDS, "-q"
    )
    assert code == 0, err
    with np.load(features[0], allow_pickle=False) as npz:
        rows = np.isin(npz["clips"], files)
        data = {
            key: npz[key][rows] if npz[key].shape[:1] == rows.shape else npz[key]
            for key in npz.files
        }
    same = tmp_path / "same.npz"
    with open(same, "wb") as f:
        np.savez(f, **data)
    options = [*FIT_OPTIONS, "--n-iter", 3, "--fine-tune-n-iter", 2]
    models = {}
    for name, source in (("store", store), ("file", same)):
        path = tmp_path / f"{name}.skops"
        code, out, err = run("fit", source, "-o", path, *options, "--chunk-size", 7)
        assert code == 0, err
        assert f"wrote {path}: shared model" in out
        models[name] = load_model(path)
    shared = models["store"]["shared"]
    assert shared.chunk_size == 7
    assert shared.named_modalities_["video"][-1].chunk_size == 7
    np.testing.assert_array_equal(
        shared.rbm_.components_, models["file"]["shared"].rbm_.components_
    )
    assert models["store"]["fingerprint"] == models["file"]["fingerprint"]
    # Without --chunk-size a store still streams; a features file does not.
    path = tmp_path / "default.skops"
    code, _, err = run("fit", store, "-o", path, *options, "--fine-tune", "none")
    assert code == 0, err
    assert load_model(path)["shared"].chunk_size == cli.DEFAULT_CHUNK_SIZE
    code, _, err = run("fit", same, "-o", path, *options, "--fine-tune", "none")
    assert code == 0, err
    assert load_model(path)["shared"].chunk_size is None


def test_store_mistakes_are_one_line(corpus, tmp_path):
    store = tmp_path / "store"
    code, _, err = run(
        "featurize", corpus.paths[0], "--store", store, "--seconds", 12, "-q"
    )
    assert code == 0, err
    code, _, err = run(
        "featurize", corpus.paths[1], "--store", store, "--seconds", 6, "-q"
    )
    assert_one_error_line(code, err, str(store), "12 s, not 6 s", "--seconds 12")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine\n")
    code, _, err = run("featurize", corpus.paths[0], "--store", notes, "-q")
    assert_one_error_line(code, err, str(notes), "not a skmv features store")
    assert os.listdir(notes) == ["todo.txt"]
    code, _, err = run("fit", notes, "-o", tmp_path / "m.skops")
    assert_one_error_line(code, err, str(notes), "not a skmv features store")
    code, _, err = run(
        "featurize", corpus.paths[0], "--store", tmp_path / "no" / "store"
    )
    assert_one_error_line(code, err, "no such directory")
    for argv in (["-o", tmp_path / "f.npz", "--store", store], []):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["featurize", str(corpus.paths[0]), *map(str, argv)])
        assert exit_.value.code == 2


def _store_of(features_path, store_path):
    """A features store of the rows of a features file, one chunk per clip,
    as featurize --store writes it (without featurizing again)."""
    with np.load(features_path, allow_pickle=False) as npz:
        data = {key: npz[key] for key in npz.files}
    store = FeatureStore.create(
        store_path,
        feature_names=data["feature_names"].tolist(),
        row_fields=cli._STORE_FIELDS,
        attrs={
            "format": cli.FEATURES_FORMAT,
            "format_version": cli.FORMAT_VERSION,
            "n_video": int(data["n_video"]),
            "n_audio": int(data["n_audio"]),
            "seconds": float(data["seconds"]),
            "versions": data["versions"].tolist(),
        },
    )
    for clip in dict.fromkeys(data["clips"].tolist()):
        rows = data["clips"] == clip
        store.append(
            data["X"][rows],
            sources=[os.path.abspath(clip)],
            **{name: data[name][rows] for name in cli._STORE_FIELDS},
        )
    return store


def test_fit_a_store_with_labels(corpus, features, tmp_path):
    """--labels reads the labelled clips' windows from the store: the
    classifier is the one the features file gives."""
    store = _store_of(features[0], tmp_path / "store")
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "".join(f"{c},{y}\n" for c, y in zip(corpus.paths, corpus.clip_labels))
    )
    options = [*FIT_OPTIONS, "--n-iter", 2, "--fine-tune", "none"]
    classifiers = []
    for source in (store.path, features[0]):
        path = tmp_path / "m.skops"
        code, out, err = run("fit", source, "-o", path, "--labels", labels, *options)
        assert code == 0, err
        assert "shared model and classifier" in out
        classifiers.append(load_model(path)["classifier"])
    X, _ = _X(features[0])
    windows = X[: 10 * (len(X) // 10)].reshape(-1, 10 * X.shape[1])
    np.testing.assert_array_equal(
        classifiers[0].predict_proba(windows), classifiers[1].predict_proba(windows)
    )
