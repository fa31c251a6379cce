"""Tests of skmv.datasets.make_music_videos: real files, seeds, reuse, and the
generative story (the beat, causes shared by music and picture, the motif
period of each class)."""

import hashlib
import inspect
import json
import os

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

from skmv.datasets import _corpus, make_music_videos
from skmv.datasets._synthetic import _check_style_strength
from skmv.io import probe, read_audio, read_video, segment_media

RND_SEED = 0
# Small, fast media for the tests of files and seeds.
TINY = {"size": (32, 24), "sr": 8000}
# The story tests: 60 s clips (10 segments: five pairs at lag 5 per clip),
# small frames, and a rate that keeps the chords and the drums.
STORY = {"size": (64, 48), "sr": 8000, "fps": 12}


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """Two positive and two negative 60 s clips, decoded."""
    corpus = make_music_videos(
        4,
        clip_seconds=60,
        directory=tmp_path_factory.mktemp("story"),
        positive_fraction=0.5,
        random_state=RND_SEED,
        **STORY,
    )
    audio = [read_audio(path, sr=STORY["sr"]) for path in corpus.paths]
    video = [read_video(path, fps=STORY["fps"], size=None) for path in corpus.paths]
    return corpus, audio, video


def _segments(params, y, frames, sr, fps):
    """Each segment's samples and frames, from the boundaries in params."""
    for seg in params["segments"]:
        samples = y[round(seg["start"] * sr) : round(seg["end"] * sr)]
        images = frames[round(seg["start"] * fps) : round(seg["end"] * fps)]
        yield seg, samples, images


def _onset_envelope(y, sr, hop, n_fft=512):
    """Spectral flux (the summed rise of magnitudes between frames) and the
    time of each of its values: a frame's centre."""
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop]
    magnitude = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1))
    flux = np.maximum(np.diff(magnitude, axis=0), 0).sum(axis=1)
    times = (np.arange(len(flux)) + 1) * hop / sr + n_fft / 2 / sr
    return flux, times


def _chroma(samples, sr):
    """Power per pitch class (C, C#, ...), from 60 Hz to 2 kHz."""
    power = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / sr)
    keep = (freqs > 60) & (freqs < 2000)
    pitch_class = np.round(12 * np.log2(freqs[keep] / 440.0) + 9).astype(int) % 12
    return np.bincount(pitch_class, power[keep], minlength=12)


def _decoded(paths, sr):
    return [(read_video(p, fps=12, size=None), read_audio(p, sr=sr)) for p in paths]


def test_files_decode_with_the_stated_streams(tmp_path):
    corpus = make_music_videos(
        2, clip_seconds=15, directory=tmp_path, size=(64, 48), random_state=RND_SEED
    )
    assert corpus.paths == [
        str(tmp_path / "clip_0000.mp4"),
        str(tmp_path / "clip_0001.mp4"),
    ]
    assert all(os.path.isabs(p) for p in corpus.paths)
    # Written through private temporary files, published with the usual mode.
    umask = os.umask(0)
    os.umask(umask)
    for path in corpus.paths + [p[:-4] + ".json" for p in corpus.paths]:
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask, path
    assert (corpus.sr, corpus.fps, corpus.size, corpus.segment_seconds) == (
        22050,
        12,
        (64, 48),
        6,
    )
    for path, params in zip(corpus.paths, corpus.params):
        info = probe(path)
        assert (info.video_codec, info.audio_codec) == ("h264", "aac")
        assert (info.width, info.height, info.fps) == (64, 48, 12.0)
        assert (info.sample_rate, info.channels) == (22050, 1)
        assert abs(info.video_duration - 15) < 0.01
        assert abs(info.audio_duration - 15) < 0.05
        # Two whole 6 s segments and a 3 s remainder.
        assert params["section_boundaries"] == [0.0, 6.0, 12.0, 15.0]
        assert len(params["segments"]) == 3
        frames = read_video(path, 6.0, 6.0, fps=12, size=None)
        assert frames.shape == (72, 48, 64, 3)
        y = read_audio(path, 6.0, 6.0, sr=22050)
        assert y.shape == (132300,)
        assert 0.01 < np.sqrt(np.mean(y**2)) and np.abs(y).max() <= 1.0
    segments = segment_media(tmp_path, isolate=False)  # sidecars are not media
    assert [(s.clip, s.start) for s in segments] == [
        (p, t) for p in corpus.paths for t in (0.0, 6.0)
    ]


def test_labels_count_exactly_and_set_the_period(tmp_path):
    corpus = make_music_videos(
        10,
        clip_seconds=6,
        directory=tmp_path,
        positive_fraction=0.3,
        random_state=RND_SEED,
        **TINY,
    )
    assert corpus.clip_labels.dtype == np.int64
    assert corpus.clip_labels.sum() == 3
    assert [p["label"] for p in corpus.params] == corpus.clip_labels.tolist()
    for label, params in zip(corpus.clip_labels, corpus.params):
        if label:
            assert params["period"] == 5
        else:
            assert params["period"] in (3, 4, 6, 7, 8)
        assert len(params["motif"]) == params["period"]
        assert 70 <= params["tempo"] <= 160
    assert len({p["seed"] for p in corpus.params}) == 10


def test_same_seed_same_files_whatever_n_jobs(tmp_path):
    kwargs = {"clip_seconds": 12, "random_state": RND_SEED, **TINY}
    a = make_music_videos(3, directory=tmp_path / "a", n_jobs=1, **kwargs)
    b = make_music_videos(3, directory=tmp_path / "b", n_jobs=2, **kwargs)
    assert a.params == b.params
    assert_array_equal(a.clip_labels, b.clip_labels)
    for (frames_a, y_a), (frames_b, y_b) in zip(
        _decoded(a.paths, 8000), _decoded(b.paths, 8000)
    ):
        assert_array_equal(frames_a, frames_b)
        assert_array_equal(y_a, y_b)
    # So with another style strength, whose clips of the style draw more.
    style = {"positive_fraction": 1.0, "style_strength": (0.5, 0.5), **kwargs}
    d = make_music_videos(2, directory=tmp_path / "d", n_jobs=1, **style)
    e = make_music_videos(2, directory=tmp_path / "e", n_jobs=2, **style)
    assert d.params == e.params and "own_motif" in d.params[0]
    for path_d, path_e in zip(d.paths, e.paths):
        with open(path_d, "rb") as f_d, open(path_e, "rb") as f_e:
            assert f_d.read() == f_e.read()

    kwargs["random_state"] = RND_SEED + 1
    c = make_music_videos(3, directory=tmp_path / "c", **kwargs)
    assert [p["seed"] for p in c.params] != [p["seed"] for p in a.params]
    for (frames_a, y_a), (frames_c, y_c) in zip(
        _decoded(a.paths, 8000), _decoded(c.paths, 8000)
    ):
        assert not np.array_equal(y_a, y_c)
        assert not np.array_equal(frames_a, frames_c)


def _age(paths):
    """Set the files' times a day back; returns them, to tell reuse from a
    new encoding whatever the file system's time resolution."""
    for path in paths:
        old = os.stat(path).st_mtime_ns - 86_400 * 10**9
        os.utime(path, ns=(old, old))
    return [os.stat(p).st_mtime_ns for p in paths]


def _mtimes(paths):
    return [os.stat(p).st_mtime_ns for p in paths]


def test_existing_files_are_reused_only_for_the_same_parameters(tmp_path):
    kwargs = {"clip_seconds": 6, "directory": tmp_path, **TINY}
    first = make_music_videos(2, random_state=RND_SEED, **kwargs)
    aged = _age(first.paths)

    again = make_music_videos(2, random_state=RND_SEED, **kwargs)
    assert _mtimes(again.paths) == aged, "same parameters: reused"
    assert again.params == first.params

    other = make_music_videos(2, random_state=RND_SEED + 1, **kwargs)
    changed = _mtimes(other.paths)
    assert all(new != old for new, old in zip(changed, aged)), "a new seed encodes"
    back = make_music_videos(2, random_state=RND_SEED, **kwargs)
    assert all(new != old for new, old in zip(_mtimes(back.paths), changed))

    aged = _age(back.paths)
    make_music_videos(2, random_state=RND_SEED, overwrite=True, **kwargs)
    assert all(new != old for new, old in zip(_mtimes(back.paths), aged))

    # Other settings, a truncated file, a lost sidecar: encoded again.
    aged = _age(back.paths)
    make_music_videos(2, random_state=RND_SEED, fps=6, **kwargs)
    assert all(new != old for new, old in zip(_mtimes(back.paths), aged))
    assert probe(back.paths[0]).fps == 6.0
    aged = _age(back.paths)
    with open(back.paths[0], "r+b") as f:
        f.truncate(1000)
    os.remove(back.paths[1][:-4] + ".json")
    make_music_videos(2, random_state=RND_SEED, fps=6, **kwargs)
    assert all(new != old for new, old in zip(_mtimes(back.paths), aged))
    assert probe(back.paths[0]).duration == pytest.approx(6.0, abs=0.05)
    assert sorted(os.listdir(tmp_path)) == [
        "clip_0000.json",
        "clip_0000.mp4",
        "clip_0001.json",
        "clip_0001.mp4",
    ]


def test_files_of_another_style_strength_are_not_reused(tmp_path):
    kwargs = {"clip_seconds": 6, "directory": tmp_path, "random_state": RND_SEED}
    kwargs.update(TINY)
    first = make_music_videos(1, **kwargs)
    assert first.style_strength == (3.0, 1.0)  # the default
    sidecar = first.paths[0][:-4] + ".json"
    with open(sidecar) as f:
        record = json.load(f)
    assert record["settings"]["style_strength"] == [3.0, 1.0]

    # A negative clip's drawing does not depend on the strength, but its
    # file is not vouched for by a sidecar of another strength.
    aged = _age(first.paths)
    other = make_music_videos(1, style_strength=2.0, **kwargs)
    assert other.params == first.params and other.style_strength == (2.0, 1.0)
    assert _mtimes(first.paths) != aged, "another strength encodes"
    with open(sidecar) as f:
        assert json.load(f)["settings"]["style_strength"] == [2.0, 1.0]

    # A sidecar written before style_strength existed has no such setting;
    # it describes strength 1, whose files are the same bytes.
    make_music_videos(1, style_strength=1.0, **kwargs)
    with open(sidecar) as f:
        record = json.load(f)
    del record["settings"]["style_strength"]
    with open(sidecar, "w") as f:
        json.dump(record, f)
    aged = _age(first.paths)
    make_music_videos(1, style_strength=(1, 1), **kwargs)
    assert _mtimes(first.paths) == aged, "an older sidecar, strength 1: reused"
    make_music_videos(1, **kwargs)
    assert _mtimes(first.paths) != aged, "but not for another strength"


def test_an_interrupted_encoding_leaves_no_file_under_the_final_name(
    tmp_path, monkeypatch
):
    kwargs = {"clip_seconds": 6, "directory": tmp_path, **TINY}
    corpus = make_music_videos(1, random_state=RND_SEED, **kwargs)
    with open(corpus.paths[0], "rb") as f:
        complete = f.read()

    def interrupted(path, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half a file")
        raise RuntimeError("killed")

    monkeypatch.setattr(_corpus, "write_media", interrupted)
    with pytest.raises(RuntimeError, match="killed"):
        make_music_videos(2, random_state=RND_SEED + 1, **kwargs)
    # The old clip is whole, without a sidecar that vouches for it, and no
    # partial file is left; the new one was never named.
    assert sorted(os.listdir(tmp_path)) == ["clip_0000.mp4"]
    with open(corpus.paths[0], "rb") as f:
        assert f.read() == complete

    monkeypatch.undo()
    again = make_music_videos(1, random_state=RND_SEED, **kwargs)
    assert probe(again.paths[0]).duration == pytest.approx(6.0, abs=0.05)
    assert os.path.exists(again.paths[0][:-4] + ".json")


def test_music_and_picture_follow_the_beat(story):
    corpus, audio, video = story
    sr, fps = STORY["sr"], STORY["fps"]
    hop = 64
    for params, y, frames in zip(corpus.params, audio, video):
        beat = 60.0 / params["tempo"]
        envelope, times = _onset_envelope(y, sr, hop)
        centred = envelope - envelope.mean()
        spectrum = np.fft.rfft(centred, 2 * len(centred))
        ac = np.fft.irfft(np.abs(spectrum) ** 2)[: len(centred)]
        lags = np.arange(len(ac)) * hop / sr
        # Around the beat, away from its octaves (a bar-level periodicity at
        # two beats is as real as the beat): the peak is the beat.
        near = (lags > 0.7 * beat) & (lags < 1.4 * beat)
        found = lags[near][np.argmax(ac[near])]
        assert abs(found - beat) < 0.05 * beat, (params["tempo"], 60 / found)
        # In phase: onsets at the beats, fewer between them (hi-hats, offbeat
        # kicks and eighth notes of choruses), 2 to 7 times weaker here. A
        # grid unrelated to the onsets gives a ratio near 1, and a tempo off
        # by 3 % would drift by two beats over the clip.
        beats = np.arange(0, 59.5, beat)

        def strength(at, envelope=envelope, times=times):
            k = np.searchsorted(times, at)
            return np.mean([envelope[max(i - 4, 0) : i + 5].max() for i in k])

        assert strength(beats) > 1.5 * strength(beats + beat / 2)

        # The picture flashes on the beats: per-frame brightness relative to
        # its segment's follows the documented envelope.
        t = np.arange(len(frames)) / fps
        flash = np.exp(-(t - np.floor(t / beat) * beat) / 0.1)
        brightness = frames.mean(axis=(1, 2, 3))
        segment = (t // corpus.segment_seconds).astype(int)
        means = np.bincount(segment, brightness) / np.bincount(segment)
        r = np.corrcoef(brightness / means[segment], flash)[0, 1]
        assert r > 0.9


def test_music_and_picture_of_a_segment_share_their_state(story):
    corpus, audio, video = story
    sr, fps = STORY["sr"], STORY["fps"]
    rows = []
    for params, y, frames in zip(corpus.params, audio, video):
        for seg, samples, images in _segments(params, y, frames, sr, fps):
            power = np.abs(np.fft.rfft(samples)) ** 2
            freqs = np.fft.rfftfreq(len(samples), 1 / sr)
            lead = (freqs > 150) & (freqs < 2500)
            value = images.max(axis=-1).astype(float)  # HSV value
            profile = value.mean(axis=(0, 2))
            profile -= profile.min()
            rows.append(
                [
                    10 * np.log10(np.mean(samples**2)),  # loudness, dB
                    np.sum(power[lead] * np.log2(freqs[lead])) / power[lead].sum(),
                    value.max(),  # the foreground at a beat: its brightness
                    profile @ np.arange(len(profile)) / profile.sum(),  # band row
                    seg["loudness_db"],
                    seg["brightness"],
                ]
            )
    loudness, pitch, brightness, row, loudness_db, brightness_param = np.array(rows).T
    assert len(loudness) == 40

    # What each modality shows is what params say it rendered...
    assert np.corrcoef(loudness, loudness_db)[0, 1] > 0.9
    assert np.corrcoef(brightness, brightness_param)[0, 1] > 0.9
    # ...and the two co-vary through the shared energy and register (higher
    # notes, band higher up: a smaller row). Under independence, r over 40
    # segments has a standard deviation of 1 / sqrt(39) = 0.16: 0.5 is three
    # of them (p < 0.002); the shared latents give 0.7 to 0.95.
    assert np.corrcoef(loudness, brightness)[0, 1] > 0.5
    assert np.corrcoef(pitch, row)[0, 1] < -0.5


def test_positive_clips_repeat_their_motif_every_5_segments(story):
    corpus, audio, _ = story
    sr = STORY["sr"]
    shared = ("motif_index", "role", "degree", "chord", "instrument", "texture")
    lag5 = {0: [], 1: []}
    for label, params, y in zip(corpus.clip_labels, corpus.params, audio):
        period, segments = params["period"], params["segments"]
        assert (period == 5) == bool(label)
        state = [tuple(str(seg[k]) for k in shared) for seg in segments]
        assert all(state[t] == state[t + period] for t in range(10 - period))
        if not label:  # a negative's lag-5 segments play other motif elements
            assert all(state[t][0] != state[t + 5][0] for t in range(5))

        # Heard: the chroma of a segment (its chord in the pad, the bass and
        # the lead's chord tones and their harmonics), against the segment
        # 1 to 5 segments later.
        F = np.array([_chroma(y[t * 6 * sr : (t + 1) * 6 * sr], sr) for t in range(10)])
        F -= F.mean(axis=0)
        F /= np.linalg.norm(F, axis=1, keepdims=True)
        similarity = [
            np.mean(np.sum(F[:-lag] * F[lag:], axis=1)) for lag in range(1, 6)
        ]
        lag5[int(label)].append(similarity[4])
        if label:
            # Same chords at lag 5, other chords (but by chance) at lags 1-4;
            # over 16 seeds the margin was 0.3 to 1.2, 0.67 to 1.2 but once.
            assert similarity[4] > np.mean(similarity[:4]) + 0.4, similarity
    # Negative clips' lag-5 segments share only the clip's key and timbres.
    assert min(lag5[1]) > max(lag5[0]) + 0.2, lag5


def test_the_label_shifts_brilliance_only():
    # The local cue at the default strength, over many clips' parameters (no
    # media needed): positive segments' brilliance latent is 3.0 higher;
    # energy and register are not. The mean of 300 clips' mean latents has a
    # standard error under 0.1.
    default = inspect.signature(make_music_videos).parameters["style_strength"]
    style = _check_style_strength(default.default)
    assert style == (3.0, 1.0)

    def mean_latent(label):
        return np.mean(
            [
                [
                    seg["latent"]
                    for seg in _corpus._clip_params(s, label, 30, 6, style)["segments"]
                ]
                for s in range(300)
            ],
            axis=(0, 1),
        )

    shift = mean_latent(1) - mean_latent(0)
    assert abs(shift[0] - 3.0) < 0.35
    assert np.all(np.abs(shift[1:]) < 0.35)


def _rounded(value):
    if isinstance(value, float):
        return round(value, 10)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


@pytest.mark.parametrize("style_strength", [1.0, 1, (1.0, 1.0), [1, 1]])
def test_style_strength_1_draws_what_skmv_drew_before(style_strength):
    # The corpora and results made before style_strength existed stay
    # reproducible: strength 1 draws the same clips. The checksum is that of
    # skmv before the change (floats rounded to 10 decimals, so that the
    # last bit of a platform's erf cannot change it).
    style = _check_style_strength(style_strength)
    digest = hashlib.sha256()
    for seed in range(3):
        for label in (0, 1):
            params = _rounded(_corpus._clip_params(seed, label, 30, 6, style))
            digest.update(json.dumps(params, sort_keys=True).encode())
    assert digest.hexdigest() == (
        "4e8f9726a0a254d5c1544a18e7bb90e4a822b8e906b761f8a125817bbb9c7c07"
    )


def _style_summary(style, n_clips=300):
    """Over many clips' parameters (no media): the mean latent of positive
    minus negative segments, and per class the share of segment pairs 5
    apart that play the same motif element."""
    latent, same = {0: [], 1: []}, {0: [], 1: []}
    for seed in range(n_clips):
        for label in (0, 1):
            segments = _corpus._clip_params(seed, label, 60, 6, style)["segments"]
            latent[label] += [seg["latent"] for seg in segments]
            played = [
                (seg.get("on_motif", True), seg["motif_index"]) for seg in segments
            ]
            same[label] += [
                played[t][0] and played[t] == played[t + 5] for t in range(5)
            ]
    shift = np.mean(latent[1], axis=0) - np.mean(latent[0], axis=0)
    return shift, np.mean(same[0]), np.mean(same[1])


@pytest.mark.parametrize(
    "style, shift, repeats",
    [((0.0, 0.0), 0.0, 0.0), ((0.5, 0.5), 0.5, 0.25), ((2.0, 1.0), 2.0, 1.0)],
)
def test_style_strength_sets_the_shift_and_the_repetition(style, shift, repeats):
    # 300 clips per class: the mean latents have a standard error under 0.1,
    # the share of 1,500 pairs one of 0.013 or less.
    found, negative, positive = _style_summary(style)
    assert abs(found[0] - shift) < 0.35
    assert np.all(np.abs(found[1:]) < 0.35), "the label shifts brilliance only"
    assert negative == 0.0, "no negative clip repeats at lag 5"
    assert abs(positive - repeats) < 0.05
    if style == (0.0, 0.0):  # the label leaves no trace
        clip = _corpus._clip_params(RND_SEED, 1, 60, 6, style)
        assert not any(seg["on_motif"] for seg in clip["segments"])
        assert clip["own_period"] in (3, 4, 6, 7, 8)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_clips": 0},
        {"clip_seconds": 0},
        {"positive_fraction": 1.5},
        {"fps": 0},
        {"sr": 12345},
        {"segment_seconds": 2.5},
        {"n_jobs": "two"},
        {"size": "160x120"},
        {"style_strength": -1.0},
        {"style_strength": "strong"},
    ],
)
def test_bad_parameters_are_named(tmp_path, kwargs):
    (name,) = kwargs
    with pytest.raises(InvalidParameterError, match=name):
        make_music_videos(directory=tmp_path, **kwargs)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "style_strength, match",
    [
        ((1.0, 0.5, 0.5), "style_strength must be a float >= 0 or a pair"),
        ((-1.0, 0.5), "style_strength's local part must be a float >= 0"),
        ((1.0, 2.0), r"style_strength's repetition part must be a float in \[0, 1\]"),
    ],
)
def test_bad_style_strength_is_named(tmp_path, style_strength, match):
    with pytest.raises(ValueError, match=match):
        make_music_videos(directory=tmp_path, style_strength=style_strength)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("size", [(33, 24), (32,), (32, 0), (32.0, 24)])
def test_bad_size(tmp_path, size):
    with pytest.raises(ValueError, match="size must be"):
        make_music_videos(directory=tmp_path, size=size)


def test_clip_shorter_than_a_segment(tmp_path):
    with pytest.raises(ValueError, match=r"clip_seconds \(5\).*segment_seconds \(6\)"):
        make_music_videos(directory=tmp_path, clip_seconds=5)
    with pytest.raises(TypeError, match="directory"):
        make_music_videos(2)


def test_unwritable_directory_is_named(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    where = blocker / "corpus"
    with pytest.raises(OSError, match=f"cannot write to the directory {where}"):
        make_music_videos(1, clip_seconds=6, directory=where, **TINY)
