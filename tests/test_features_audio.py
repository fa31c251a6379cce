"""Tests of skmv.features.audio: what each feature means, agreement with
librosa, the mirstat statistics, and the AudioFeaturizer contract.

All signals are synthesised here (44.1 kHz, as the paper's audio).
"""

import librosa
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

from skmv.features import audio as A
from skmv.features.audio import AudioFeaturizer

RND_SEED = 0
SR = 44100
N_FFT, HOP = 2048, 1024


def _time(seconds, sr=SR):
    return np.arange(int(seconds * sr)) / sr


def _tones(*freqs, seconds=2.0, sr=SR):
    t = _time(seconds, sr)
    y = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    return y.astype(np.float32)


def _clicks(bpm, seconds=6.0, sr=SR):
    times = np.arange(0.0, seconds, 60.0 / bpm)
    return librosa.clicks(times=times, sr=sr, length=int(seconds * sr)).astype(
        np.float32
    )


def _noise(seconds=2.0, scale=0.3, seed=RND_SEED):
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal(int(seconds * SR))).astype(np.float32)


def _magnitude(y):
    return np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=False))


@pytest.fixture(scope="module")
def music():
    """Six seconds of a synthetic song: a kick and hi-hat pattern at 120 BPM
    over an A-major then D-major chord with a melody, plus a little noise."""
    t = _time(6.0)
    rng = np.random.default_rng(RND_SEED)
    y = 0.6 * _clicks(120) + 0.2 * _clicks(240)
    chord = np.where(t < 3.0, 1.0, 0.0)
    for f, g in ((220.0, 146.83), (277.18, 185.0), (329.63, 220.0)):
        y += 0.1 * np.sin(2 * np.pi * np.where(chord > 0, f, g) * t)
    y += 0.1 * np.sin(2 * np.pi * (880.0 + 220.0 * (t % 1.0 > 0.5)) * t)
    y += 0.01 * rng.standard_normal(t.size)
    return y.astype(np.float32)


# --------------------------------------------------------------------------
# What the features mean
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bpm", [120, 90])
def test_tempo_of_a_click_track(bpm):
    y = _clicks(bpm)
    other = 90 if bpm == 120 else 120
    segment = A.tempo(y=y, sr=SR, aggregate=np.mean)
    assert segment.shape == (1, 1)
    assert abs(segment.item() - bpm) / bpm < 0.03
    assert abs(segment.item() - other) / other > 0.2
    curve = A.tempo(y=y, sr=SR)
    assert curve.shape == (1, 1 + (y.size - N_FFT) // HOP)
    assert abs(np.median(curve) - bpm) / bpm < 0.03


def test_a_major_triad_chroma_peaks_and_key_clarity():
    triad = _tones(440.0, 554.37, 659.26)
    c = A.chroma(y=triad, sr=SR)
    assert c.shape[-2] == 12
    top = {A.PITCH_CLASSES[i] for i in np.argsort(c.mean(axis=-1))[-3:]}
    assert top == {"A", "C#", "E"}
    clear = A.key_clarity(chroma=c).mean()
    noisy = A.key_clarity(y=_noise(), sr=SR).mean()
    assert clear > noisy + 0.1
    assert clear > 0.6


def test_high_tone_is_brighter_than_low_tone():
    high = A.brightness(y=_tones(3000.0), sr=SR)
    low = A.brightness(y=_tones(500.0), sr=SR)
    assert np.all((0 <= low) & (high <= 1))
    assert high.mean() > 0.9 > 0.1 > low.mean()


def test_beating_tones_are_rougher_than_an_octave():
    beating = A.roughness(y=_tones(440.0, 460.0), sr=SR)
    octave = A.roughness(y=_tones(440.0, 880.0), sr=SR)
    single = A.roughness(y=_tones(440.0), sr=SR)
    assert beating.mean() > 100 * octave.mean()
    assert_array_equal(single, 0)


def test_roughness_follows_the_plomp_levelt_curve():
    # Two resolved partials: dissonance peaks near a quarter of a critical
    # band (tens of Hz here), then falls with the distance.
    r = [A.roughness(y=_tones(1000.0, 1000.0 + d), sr=SR).mean() for d in (60, 300)]
    assert r[0] > 5 * r[1] > 0


def test_attack_of_a_slow_swell_is_longer_and_gentler_than_a_fast_one():
    t = _time(2.0)
    tone = np.sin(2 * np.pi * 440 * t)
    fast, slow = (
        A.mid_level_features((np.clip((t - 0.5) / d, 0, 1) * tone).astype(np.float32))
        for d in (0.02, 0.3)
    )
    time_row = A.curve_names().index("attack_time")
    slope_row = A.curve_names().index("attack_slope")
    assert slow[time_row].max() > 3 * fast[time_row].max()
    assert fast[slope_row].max() > 3 * slow[slope_row].max()
    assert 0.2 < slow[time_row].max() < 0.5


def test_zero_crossing_rate_of_a_tone():
    zcr = A.zero_crossing_rate(y=_tones(441.0))
    assert_allclose(np.median(zcr) * SR / 2, 441.0, rtol=0.01)


# --------------------------------------------------------------------------
# mirstat and pooling
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "freq, frame_rate", [(0.6, 8.6), (1.3, 8.6), (2.0, 43.07), (5.5, 43.07)]
)
def test_mirstat_period_frequency_of_a_modulated_curve(freq, frame_rate):
    t = np.arange(int(6.0 * frame_rate)) / frame_rate
    curve = 10.0 + np.sin(2 * np.pi * freq * t)  # an offset mirstat must see past
    stats = A.mirstat(curve, frame_rate=frame_rate)
    period_freq, period_amp = stats[3], stats[4]
    assert_allclose(period_freq, freq, rtol=0.03)
    assert 0.3 < period_amp <= 1.0
    assert_allclose(stats[:2], [curve.mean(), curve.std(ddof=1)])


def test_mirstat_is_vectorised_across_curves():
    rng = np.random.default_rng(RND_SEED)
    curves = rng.standard_normal((3, 4, 30)).cumsum(axis=-1)
    stats = A.mirstat(curves, frame_rate=10.0)
    assert stats.shape == (3, 4, 6)
    for index in np.ndindex(3, 4):
        assert_allclose(stats[index], A.mirstat(curves[index], frame_rate=10.0))


def test_mirstat_slope_and_entropy():
    up = A.mirstat(np.linspace(0.0, 1.0, 20), frame_rate=1.0)
    down = A.mirstat(np.linspace(1.0, 0.0, 20), frame_rate=1.0)
    # MIRtoolbox's slope: the standardised curve regressed through the origin
    # on linspace(0, 1, n).
    t = np.linspace(0.0, 1.0, 20)
    z = (t - t.mean()) / t.std(ddof=1)
    assert_allclose(up[2], z @ t / (t @ t))
    assert_allclose(down[2], -up[2])
    assert 0.0 <= up[5] <= 1.0


@pytest.mark.parametrize(
    "curve", [np.full(25, 3.0), np.full(25, 1e-30), np.zeros(25), np.array([2.0])]
)
def test_mirstat_conventions_for_flat_and_single_frame_curves(curve):
    stats = A.mirstat(curve, frame_rate=10.0)
    assert_allclose(stats, [curve[0], 0.0, 0.0, 0.0, 0.0, 0.0], atol=1e-12)


def test_mirstat_center_false_is_mirtoolbox_autocorrelation():
    # xcorr without mean removal: a large offset leaves a monotone triangle,
    # in which mirstat.m finds no periodicity.
    t = np.arange(60) / 10.0
    curve = 100.0 + np.sin(2 * np.pi * 1.0 * t)
    assert A.mirstat(curve, frame_rate=10.0, center=False)[3] == 0.0
    assert_allclose(A.mirstat(curve - 100.0, frame_rate=10.0, center=False)[3], 1.0)


def test_pool_windows_values_and_shapes():
    x = np.array([[0.0, 1, 2, 3, 10, 5], [1, 1, 1, 1, 1, 1]])
    pooled = A.pool_windows(x, window=3, hop=2)
    assert pooled.shape == (2, 4, 2)
    assert_allclose(pooled[0], [[1, 5], [1, 3], [2, 10], [0, 2]])
    assert_allclose(pooled[1], 1.0)
    # A curve shorter than one window is pooled as one window.
    assert_allclose(A.pool_windows(x[0], window=50, hop=10)[:, 0], [3.5, 2.5, 10, 0])
    assert A.pool_windows(x.astype(np.float32), window=3, hop=2).dtype == np.float32


# --------------------------------------------------------------------------
# y= and S= agree; agreement with librosa
# --------------------------------------------------------------------------

SPECTRAL = [
    A.brightness,
    A.spectral_spread,
    A.roughness,
    A.spectral_flux,
    A.chroma,
    A.key_clarity,
    A.log_mel,
    A.mfcc,
    A.onset_envelope,
    A.tempo,
    A.attack_time,
    A.attack_slope,
]


@pytest.mark.parametrize("feature", SPECTRAL, ids=lambda f: f.__name__)
def test_y_and_S_agree(feature, music):
    y = music[: 3 * SR]
    from_y = feature(y=y, sr=SR)
    from_S = feature(S=_magnitude(y), sr=SR)
    assert from_y.shape == from_S.shape
    assert from_y.shape[-1] == 1 + (y.size - N_FFT) // HOP
    assert from_y.dtype == np.float32
    scale = np.abs(from_S).max() + 1e-12
    assert_allclose(from_y / scale, from_S / scale, atol=1e-4)


def test_intermediates_give_the_same_features(music):
    y = music[: 3 * SR]
    lm = A.log_mel(y=y, sr=SR)
    onset = A.onset_envelope(log_mel=lm)
    assert_allclose(A.mfcc(log_mel=lm), A.mfcc(y=y, sr=SR))
    assert_allclose(A.tempo(onset_envelope=onset, sr=SR), A.tempo(y=y, sr=SR))
    assert_allclose(
        A.attack_time(log_mel=lm, onset_envelope=onset), A.attack_time(y=y, sr=SR)
    )
    c = A.chroma(y=y, sr=SR)
    assert_allclose(A.key_clarity(chroma=c), A.key_clarity(y=y, sr=SR))


def test_stft_and_library_equivalents_match_librosa(music):
    y = music[: 2 * SR]
    S = _magnitude(y)
    assert_allclose(A._magnitude(y=y)[0], S, atol=1e-3 * S.max())
    assert_array_equal(
        A.zero_crossing_rate(y=y),
        librosa.feature.zero_crossing_rate(
            y, frame_length=N_FFT, hop_length=HOP, center=False
        ),
    )
    assert_allclose(
        A.spectral_spread(S=S, sr=SR),
        librosa.feature.spectral_bandwidth(S=S, sr=SR),
        rtol=1e-4,
    )
    assert_allclose(
        A.chroma(S=S, sr=SR),
        librosa.feature.chroma_stft(S=S**2, sr=SR, tuning=0.0),
        atol=1e-5,
    )
    mel = librosa.feature.melspectrogram(S=S**2, sr=SR, n_mels=A.N_MELS)
    ref = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=13)
    assert_allclose(A.mfcc(S=S, sr=SR), ref, atol=1e-3)


def test_channels_are_independent(music):
    stereo = np.stack([music[: 2 * SR], 0.01 * music[SR : 3 * SR]])
    both = A.mid_level_features(stereo, sr=SR)
    for channel in range(2):
        alone = A.mid_level_features(stereo[channel], sr=SR)
        assert_allclose(both[channel], alone, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------
# segment_features and AudioFeaturizer
# --------------------------------------------------------------------------


def test_featurizer_shapes_dtypes_and_names(music):
    X = [music, music[: 4 * SR], 0.5 * music[SR:]]
    featurizer = AudioFeaturizer(input="content").fit(X)
    Xt = featurizer.transform(X)
    assert Xt.shape == (3, 816) and Xt.dtype == np.float32
    assert featurizer.n_features_out_ == 816
    assert np.isfinite(Xt).all()
    names = featurizer.get_feature_names_out()
    assert names.shape == (816,) and len(set(names)) == 816
    for name in ("brightness_mean_mean", "chroma_A_max_slope", "tempo_mean_periodfreq"):
        assert name in names
    assert names[0] == "tempo_mean_mean"
    assert list(names) == A.feature_names(n_mfcc=13)
    # Columns are named: the mean over pooled means is the curve's mean.
    column = list(names).index("brightness_mean_mean")
    b = A.brightness(y=music, sr=SR)
    assert_allclose(Xt[0, column], b.mean(), rtol=0.05)


def test_featurizer_composition_and_n_mfcc():
    featurizer = AudioFeaturizer(input="content", n_mfcc=0).fit([_noise()])
    assert featurizer.n_features_out_ == 504 == 24 * 21
    assert len(A.curve_names(n_mfcc=0)) == 21
    assert featurizer.transform([_noise()]).shape == (1, 504)


def test_featurizer_accepts_a_2d_array_and_matches_the_list(music):
    X = np.stack([music[: 2 * SR], music[SR : 3 * SR]])
    featurizer = AudioFeaturizer(input="content").fit(X)
    assert_array_equal(featurizer.transform(X), featurizer.transform(list(X)))


def test_featurizer_rows_are_per_segment_and_deterministic(music):
    X = [music[: 3 * SR], music[3 * SR :]]
    featurizer = AudioFeaturizer(input="content").fit(X)
    first = featurizer.transform(X)
    assert_array_equal(first, featurizer.transform(X))
    assert_array_equal(first, AudioFeaturizer(input="content").fit_transform(X))
    assert_array_equal(first[1], featurizer.transform([X[1]])[0])
    # The hook the segment-decoding machinery calls gives the same row.
    assert_array_equal(first[0], featurizer._featurize(X[0]))
    assert_array_equal(first[0], A.segment_features(X[0]))
    with pytest.raises(ValueError, match="1-D mono"):
        featurizer._featurize(np.stack([X[0], X[0]]))


def test_featurizer_memory_and_parallel_give_the_same_rows(music, tmp_path):
    from joblib import parallel_config

    X = [music[: 2 * SR], music[2 * SR : 4 * SR], music[4 * SR :]]
    plain = AudioFeaturizer(input="content").fit_transform(X)
    cached = AudioFeaturizer(input="content", memory=str(tmp_path)).fit(X)
    assert_array_equal(cached.transform(X), plain)
    assert_array_equal(cached.transform(X), plain)  # from the cache
    with parallel_config(backend="threading"):
        parallel = AudioFeaturizer(input="content", n_jobs=2).fit(X)
        parallel._chunk = 1
        assert_array_equal(parallel.transform(X), plain)


@pytest.mark.parametrize(
    "signal",
    [
        np.zeros(6 * SR, np.float32),
        np.zeros(N_FFT, np.float32),
        np.full(SR, 0.25, np.float32),
        np.float32(1e-30) * _noise(1.0),
        _noise(seconds=N_FFT / SR),
    ],
    ids=["silence", "one-frame-silence", "dc", "denormal-noise", "one-frame-noise"],
)
def test_silence_and_short_signals_give_finite_features(signal):
    row = AudioFeaturizer(input="content").fit_transform([signal])
    assert row.shape == (1, 816)
    assert np.isfinite(row).all()


def test_sample_rate_and_frames_are_parameters():
    sr = 22050
    y = _clicks(120, sr=sr)
    featurizer = AudioFeaturizer(input="content", sr=sr, n_fft=1024, hop_length=512)
    row = featurizer.fit_transform([y])[0]
    names = list(featurizer.get_feature_names_out())
    # The tempo curve's pooled median stays at 120 BPM.
    assert_allclose(row[names.index("tempo_median_mean")], 120.0, rtol=0.03)


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((2, SR), np.float32), r"segment 2 must be a 1-D"),
        (np.full(SR, np.nan, np.float32), r"segment 2 has non-finite"),
        (np.zeros(100, np.float32), r"segment 2 has 100 samples, fewer than n_fft"),
        (np.zeros(SR, np.complex64), r"segment 2 must be a 1-D real"),
        (object(), r"segment 2 .*input='segments'"),
    ],
    ids=["stereo", "nan", "short", "complex", "not-audio"],
)
def test_bad_segments_raise_naming_the_segment(bad, match):
    X = [_noise(1.0), _noise(1.0), bad]
    with pytest.raises(ValueError, match=match):
        AudioFeaturizer(input="content").fit(X)
    good = AudioFeaturizer(input="content").fit(X[:2])
    with pytest.raises(ValueError, match=match):
        good.transform(X)


def test_a_missing_segment_is_a_nan_row_or_an_error():
    """None stands for a segment without audio: a NaN row under
    missing="nan" (the others unchanged), an error naming it otherwise."""
    X = [_noise(1.0, seed=1), None, _noise(1.0, seed=2), None]
    rows = AudioFeaturizer(input="content", missing="nan").fit_transform(X)
    assert rows.shape == (4, 816) and rows.dtype == np.float32
    assert np.isnan(rows[[1, 3]]).all()
    assert_array_equal(
        rows[[0, 2]], AudioFeaturizer(input="content").fit_transform(X[::2])
    )
    only = AudioFeaturizer(input="content", missing="nan").fit_transform([None])
    assert only.shape == (1, 816) and np.isnan(only).all()
    with pytest.raises(ValueError, match="segment 1 is None.*missing='nan'"):
        AudioFeaturizer(input="content").fit(X)
    with pytest.raises(ValueError, match="segment 1 is None"):
        AudioFeaturizer(input="content").fit(X[:1]).transform(X)
    with pytest.raises(ValueError, match="missing"):
        AudioFeaturizer(input="content", missing="drop").fit(X[:1])


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros(SR, np.float32), ValueError, "Wrap a single signal in a list"),
        ([], ValueError, "no segment"),
        ("song.wav", TypeError, "list of 1-D signals"),
    ],
)
def test_bad_containers_raise(X, error, match):
    with pytest.raises(error, match=match):
        AudioFeaturizer(input="content").fit(X)


def test_bad_parameters_and_stateless_use():
    with pytest.raises(InvalidParameterError, match="n_mfcc"):
        AudioFeaturizer(input="content", n_mfcc=41).fit([_noise()])
    with pytest.raises(InvalidParameterError, match="input"):
        AudioFeaturizer(input="filename").fit([_noise()])
    with pytest.raises(InvalidParameterError, match="n_mfcc"):
        AudioFeaturizer(input="content", n_mfcc=41).transform([_noise()])
    # Nothing is learned: transform and the names need no fit.
    featurizer = AudioFeaturizer(input="content")
    unfitted = featurizer.transform([_noise()])
    assert_array_equal(unfitted, featurizer.fit([_noise()]).transform([_noise()]))
    assert len(AudioFeaturizer().get_feature_names_out()) == unfitted.shape[1]


def test_pure_functions_check_their_input():
    with pytest.raises(ValueError, match="too short"):
        A.brightness(y=np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="non-negative"):
        A.brightness(S=-np.ones((1025, 4), np.float32))
    with pytest.raises(ValueError, match="finite"):
        A.roughness(y=np.full(4096, np.inf, np.float32))
    with pytest.raises(ValueError, match="either audio y or"):
        A.chroma()
    with pytest.raises(ValueError, match="floating point"):
        A.zero_crossing_rate(y=np.zeros(4096, np.int16))


def test_tags_say_the_input_is_not_a_feature_matrix():
    tags = AudioFeaturizer().__sklearn_tags__()
    assert tags.input_tags.two_d_array is False
