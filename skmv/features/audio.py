"""Audio features of music-video segments: MIRtoolbox's mid-level set.

The music descriptors of Xu, Wang and Tang (2014, section 2.2): the
mid-level features of MIRtoolbox (Lartillot and Toiviainen 2007), pooled in
sliding windows and summarised per segment by ``mirstat``'s statistics. Pure
functions on arrays come first; :class:`AudioFeaturizer` is the estimator
that applies them to a list of segments.

Conventions, as in librosa:

* Functions are keyword-only and take audio ``y`` or a precomputed magnitude
  spectrogram ``S``; ``S`` is what ``np.abs(librosa.stft(y, n_fft=n_fft,
  hop_length=hop_length, center=False))`` returns (Hann window, frames
  inside the signal), and ``n_fft`` is inferred from its shape when it is
  given. Frames are not centred: a segment cut from a longer recording
  would otherwise begin and end with half-empty frames, whose abrupt edges
  read as onsets and bursts of brightness and flux.
* ``y`` has shape ``(..., n_samples)``; outputs have shape
  ``(..., n_features, n_frames)``: leading dimensions (channels) are kept,
  features come next and time is last. Frame ``t`` covers samples
  ``t * hop_length`` to ``t * hop_length + n_fft - 1``, and
  ``n_frames = 1 + (n_samples - n_fft) // hop_length``: audio needs at
  least ``n_fft`` samples.
* Intermediate results are accepted where several features share them
  (``log_mel=``, ``onset_envelope=``, ``chroma=``), so that one magnitude
  spectrogram, one mel spectrogram and one onset envelope serve all features.
* Filter banks are built once per ``(sr, n_fft)`` and cached.

References
----------
O. Lartillot and P. Toiviainen, "A Matlab toolbox for musical feature
extraction from audio", DAFx 2007.

W. A. Sethares, "Local consonance and the relationship between timbre and
scale", J. Acoust. Soc. Am. 94(3), 1993.

R. Plomp and W. J. M. Levelt, "Tonal consonance and critical bandwidth",
J. Acoust. Soc. Am. 38(4), 1965.

C. L. Krumhansl, "Cognitive foundations of musical pitch", Oxford University
Press, 1990 (the Krumhansl-Kessler key profiles).

B. Xu, X. Wang, X. Tang, "Fusing music and video modalities using
multi-timescale shared representations", ACM Multimedia 2014.
"""

from __future__ import annotations

import functools
from numbers import Integral, Real

import joblib
import librosa
import numpy as np
import scipy.fft
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_memory

from ._batch import featurize_segments
from ._mirstat import POOLINGS, STATISTICS, mirstat, pool_windows

__all__ = [
    "AudioFeaturizer",
    "attack_slope",
    "attack_time",
    "brightness",
    "chroma",
    "curve_names",
    "feature_names",
    "key_clarity",
    "log_mel",
    "mfcc",
    "mid_level_features",
    "mirstat",
    "onset_envelope",
    "pool_windows",
    "roughness",
    "segment_features",
    "spectral_flux",
    "spectral_spread",
    "tempo",
    "zero_crossing_rate",
]

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# Mel bands of the log-mel spectrogram behind MFCCs, the onset envelope and
# the attack envelope: MIRtoolbox's mirmfcc uses 40 bands.
N_MELS = 40
# mirbrightness's default cut-off frequency, in Hz.
BRIGHTNESS_CUTOFF = 1500.0
# Spectral peaks per frame that enter the roughness sum, and the level below
# the frame's strongest peak (as a fraction of its magnitude) under which a
# peak is ignored: -30 dB leaves out the side lobes of the Hann window
# (-31.5 dB), which would otherwise beat against their own main lobe.
ROUGHNESS_PEAKS = 24
ROUGHNESS_FLOOR = 10 ** (-30 / 20)
# Sethares's fit of the Plomp-Levelt curve (the constants of mirroughness).
_B1, _B2, _XSTAR, _S1, _S2 = 3.51, 5.75, 0.24, 0.0207, 18.96
# Krumhansl-Kessler probe-tone profiles, tonic first.
_KK_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
_KK_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
# Tempo estimation: autocorrelation windows of 3 s (mirtempo's frames) and
# librosa's log-normal prior over tempo.
TEMPO_WINDOW = 3.0
# Magnitudes below this count as zero (float32's smallest normal number).
_TINY = np.finfo(np.float32).tiny


# ----------------------------------------------------------------------
# Spectrogram, filter banks and input checks
# ----------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _hann(n_fft):
    """Periodic Hann window (``scipy.signal.get_window("hann", n_fft)``)."""
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    return _frozen(w.astype(np.float32))


@functools.lru_cache(maxsize=8)
def _mel_basis(sr, n_fft, n_mels):
    return _frozen(librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels))


@functools.lru_cache(maxsize=8)
def _chroma_basis(sr, n_fft):
    return _frozen(librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=0.0))


@functools.lru_cache(maxsize=1)
def _key_profiles():
    """(24, 12): the 12 rotations of the major, then of the minor profile,
    each centred and scaled to unit norm, so that a dot product with a
    centred unit chroma vector is Pearson's correlation."""
    rows = [np.roll(p, k) for p in (_KK_MAJOR, _KK_MINOR) for k in range(12)]
    z = np.array(rows) - np.mean(rows, axis=1, keepdims=True)
    return _frozen((z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32))


def _frozen(a):
    a.flags.writeable = False
    return a


def _check_audio(y):
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.floating):
        raise ValueError(f"Audio must be floating point, got dtype {y.dtype}.")
    if y.ndim < 1 or y.shape[-1] < 1:
        raise ValueError(f"Audio must have at least one sample, got shape {y.shape}.")
    if not np.isfinite(y).all():
        raise ValueError("Audio must be finite (no NaN or infinity).")
    return y


def _check_frames(n_fft, hop_length):
    if not (isinstance(n_fft, Integral) and n_fft >= 4):
        raise ValueError(f"n_fft must be an integer >= 4, got {n_fft!r}.")
    if not (isinstance(hop_length, Integral) and hop_length >= 1):
        raise ValueError(f"hop_length must be a positive integer, got {hop_length!r}.")


def _stft_magnitude(y, n_fft, hop_length):
    """``np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length, center=False))``.

    The same frames and window, transformed by real FFTs over strided frames
    in blocks of about 128 KiB, as librosa does: each block's windowed frames
    and spectrum stay in cache, and no spectrogram-sized temporary is made
    (whose allocation and release, on every call, would cost more than the
    FFTs). Over twice as fast as ``librosa.stft``. The result is a
    transposed view, contiguous along frequency.
    """
    if y.shape[-1] < n_fft:
        raise ValueError(
            f"Audio is too short (n={y.shape[-1]}) for one frame of n_fft={n_fft}."
        )
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft, axis=-1)
    frames = frames[..., ::hop_length, :]
    window = _hann(n_fft)
    dtype = np.result_type(y.dtype, np.float32)
    out = np.empty(frames.shape[:-1] + (1 + n_fft // 2,), dtype=dtype)
    block = max(1, (1 << 17) // n_fft)
    for start in range(0, frames.shape[-2], block):
        part = slice(start, start + block)
        spectrum = scipy.fft.rfft(frames[..., part, :] * window, axis=-1)
        np.abs(spectrum, out=out[..., part, :])
    return out.swapaxes(-1, -2)


def _magnitude(*, y=None, S=None, n_fft=2048, hop_length=1024):
    """(S, n_fft): ``S`` checked (``n_fft`` inferred from its shape), or the
    magnitude STFT of ``y``."""
    if S is not None:
        S = np.asarray(S)
        if not np.isrealobj(S) or S.ndim < 2 or S.shape[-2] < 3:
            raise ValueError(
                "S must be a real magnitude spectrogram of shape "
                f"(..., 1 + n_fft // 2, n_frames) with n_fft >= 4, got {S.dtype} "
                f"array of shape {S.shape}; pass np.abs(librosa.stft(y))."
            )
        if np.any(S < 0):
            raise ValueError("S must hold non-negative magnitudes; pass np.abs(...).")
        if not np.issubdtype(S.dtype, np.floating):
            S = S.astype(np.float32)
        return S, 2 * (S.shape[-2] - 1)
    if y is None:
        raise ValueError("Give either audio y or a magnitude spectrogram S.")
    _check_frames(n_fft, hop_length)
    return _stft_magnitude(_check_audio(y), n_fft, hop_length), n_fft


def _fft_frequencies(sr, n_fft):
    return np.arange(1 + n_fft // 2) * (float(sr) / n_fft)


def _power_to_db(power, *, amin=1e-10, top_db=80.0):
    """``librosa.power_to_db(power, top_db=top_db)`` with the floor taken per
    signal (over the last two axes), so that channels stay independent."""
    db = 10.0 * np.log10(np.maximum(power, amin))
    return np.maximum(db, db.max(axis=(-2, -1), keepdims=True) - top_db)


# ----------------------------------------------------------------------
# Spectral features
# ----------------------------------------------------------------------


def brightness(
    *, y=None, sr=44100, S=None, n_fft=2048, hop_length=1024, cutoff=BRIGHTNESS_CUTOFF
):
    """Spectral brightness: the share of the magnitude above a cut-off frequency.

    MIRtoolbox's ``mirbrightness``::

        brightness[t] = sum_{f_k >= cutoff} S[k, t] / sum_k S[k, t]

    in [0, 1]; 0 for a silent frame.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)] or None
        Audio, floating point.
    sr : number > 0 [scalar]
        Sampling rate of ``y``, in Hz.
    S : np.ndarray [shape=(..., 1 + n_fft // 2, t)] or None
        Magnitude spectrogram; used instead of ``y`` when given.
    n_fft : int > 0 [scalar]
        FFT size (samples per frame) when ``S`` is computed from ``y``.
    hop_length : int > 0 [scalar]
        Samples between frames when ``S`` is computed from ``y``.
    cutoff : float > 0 [scalar]
        Cut-off frequency in Hz (MIRtoolbox's default, 1500 Hz).

    Returns
    -------
    brightness : np.ndarray [shape=(..., 1, t)]

    Examples
    --------
    >>> import numpy as np, librosa
    >>> from skmv.features.audio import brightness
    >>> sr = 44100
    >>> y = np.sin(2 * np.pi * 3000 * np.arange(sr) / sr).astype(np.float32)
    >>> b = brightness(y=y, sr=sr)
    >>> b.shape
    (1, 42)
    >>> S = np.abs(librosa.stft(y, n_fft=2048, hop_length=1024, center=False))
    >>> np.allclose(b, brightness(S=S, sr=sr), atol=1e-5)
    True
    """
    S, n_fft = _magnitude(y=y, S=S, n_fft=n_fft, hop_length=hop_length)
    return _brightness(S, sr, n_fft, cutoff)


def _brightness(S, sr, n_fft, cutoff):
    f = _fft_frequencies(sr, n_fft)
    weights = np.stack([np.ones_like(f), f >= cutoff]).astype(S.dtype)
    total, above = np.split(np.matmul(weights, S), 2, axis=-2)
    out = np.divide(above, total, out=np.zeros_like(total), where=total > 0)
    return out.astype(np.result_type(S.dtype, np.float32), copy=False)


def spectral_spread(*, y=None, sr=44100, S=None, n_fft=2048, hop_length=1024):
    """Spectral spread: the standard deviation of the magnitude spectrum.

    MIRtoolbox's ``mirspread``, the second central moment of the spectrum
    taken as a distribution over frequency::

        p[k, t] = S[k, t] / sum_j S[j, t]
        centroid[t] = sum_k p[k, t] f_k
        spread[t] = sqrt(sum_k p[k, t] (f_k - centroid[t])^2)

    in Hz; 0 for a silent frame. It equals
    ``librosa.feature.spectral_bandwidth(S=S, sr=sr)``, computed from raw
    moments in one matrix product (in float64) instead of several passes.

    Parameters
    ----------
    y, sr, S, n_fft, hop_length
        As in :func:`brightness`.

    Returns
    -------
    spread : np.ndarray [shape=(..., 1, t)]

    Examples
    --------
    >>> import numpy as np, librosa
    >>> from skmv.features.audio import spectral_spread
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> s = spectral_spread(y=y, sr=22050)
    >>> S = np.abs(librosa.stft(y, n_fft=2048, hop_length=1024, center=False))
    >>> np.allclose(s, spectral_spread(S=S, sr=22050), rtol=1e-4)
    True
    """
    S, n_fft = _magnitude(y=y, S=S, n_fft=n_fft, hop_length=hop_length)
    return _spread(S, sr, n_fft)


def _spread(S, sr, n_fft):
    f = _fft_frequencies(sr, n_fft)
    m = np.matmul(np.stack([np.ones_like(f), f, f * f]), S.astype(np.float64))
    total = np.maximum(m[..., :1, :], _TINY)
    mean = m[..., 1:2, :] / total
    var = np.maximum(m[..., 2:3, :] / total - mean * mean, 0.0)
    out = np.where(m[..., :1, :] > 0, np.sqrt(var), 0.0)
    return out.astype(np.result_type(S.dtype, np.float32))


def roughness(
    *, y=None, sr=44100, S=None, n_fft=2048, hop_length=1024, n_peaks=ROUGHNESS_PEAKS
):
    """Roughness (sensory dissonance) from the beating of spectral peaks.

    MIRtoolbox's ``mirroughness`` (method "Sethares"): the spectral peaks of
    each frame, taken as pure tones, are summed pairwise over Sethares's
    (1993) parametrisation of the Plomp and Levelt (1965) dissonance curve::

        R[t] = sum_{i < j} a_i a_j (exp(-3.51 s d) - exp(-5.75 s d))
        d = |f_j - f_i|,  s = 0.24 / (0.0207 min(f_i, f_j) + 18.96)

    with ``f`` in Hz and ``a`` the peak magnitudes, so that ``R`` is in
    units of ``S`` squared and grows with the square of the level. Peaks
    are the local maxima of each frame along frequency, located between bins
    by a parabola through the log magnitudes; only the ``n_peaks`` strongest
    enter, and none more than 30 dB below the frame's largest magnitude
    (this leaves out the side lobes of the Hann window, at -31.5 dB; those
    of MIRtoolbox's Hamming window fall below its peak picker's 0.01
    contrast). 0 for a silent frame or a single tone.

    Parameters
    ----------
    y, sr, S, n_fft, hop_length
        As in :func:`brightness`.
    n_peaks : int > 0 [scalar]
        Strongest peaks per frame that enter the pairwise sum.

    Returns
    -------
    roughness : np.ndarray [shape=(..., 1, t)]

    Examples
    --------
    Two tones 20 Hz apart beat; an octave does not:

    >>> import numpy as np, librosa
    >>> from skmv.features.audio import roughness
    >>> sr = 44100
    >>> t = np.arange(sr) / sr
    >>> beat = (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 460 * t))
    >>> octave = (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 880 * t))
    >>> bool(roughness(y=beat).mean() > 10 * roughness(y=octave).mean())
    True
    >>> S = np.abs(librosa.stft(beat, n_fft=2048, hop_length=1024, center=False))
    >>> np.allclose(roughness(y=beat), roughness(S=S), rtol=1e-3)
    True
    """
    S, n_fft = _magnitude(y=y, S=S, n_fft=n_fft, hop_length=hop_length)
    if not (isinstance(n_peaks, Integral) and n_peaks >= 1):
        raise ValueError(f"n_peaks must be a positive integer, got {n_peaks!r}.")
    return _roughness(S, sr, n_fft, n_peaks)


def _roughness(S, sr, n_fft, n_peaks):
    dtype = np.result_type(S.dtype, np.float32)
    lead, n_frames = S.shape[:-2], S.shape[-1]
    # (frames, bins), one row per frame of every channel: peaks along rows.
    X = S.swapaxes(-1, -2).reshape(-1, S.shape[-2])
    mid = X[:, 1:-1]
    floor = np.maximum(ROUGHNESS_FLOOR * mid.max(axis=-1, keepdims=True), _TINY)
    row, k = np.nonzero((mid > X[:, :-2]) & (mid >= X[:, 2:]) & (mid >= floor))
    # Rank the peaks of each frame by magnitude; keep the n_peaks strongest.
    order = np.lexsort((-mid[row, k], row))
    row, k = row[order], k[order]
    rank = np.arange(row.size) - np.searchsorted(row, row)
    keep = rank < n_peaks
    row, k, rank = row[keep], k[keep] + 1, rank[keep]

    # Parabola through the log magnitudes of each peak and its neighbours:
    # offset p in bins, and the interpolated height.
    left, top, right = (
        np.log(np.maximum(X[row, k + o], _TINY)).astype(dtype) for o in (-1, 0, 1)
    )
    curv = left - 2 * top + right
    p = np.divide(0.5 * (left - right), curv, out=np.zeros_like(curv), where=curv < 0)
    p = np.clip(p, -0.5, 0.5)
    n_slots = int(rank.max()) + 1 if rank.size else 1
    freq = np.zeros((X.shape[0], n_slots), dtype=dtype)
    amp = np.zeros((X.shape[0], n_slots), dtype=dtype)
    freq[row, rank] = (k + p) * (float(sr) / n_fft)
    amp[row, rank] = np.exp(top - 0.25 * (left - right) * p)

    i, j = np.triu_indices(n_slots, 1)
    fi, fj = freq[:, i], freq[:, j]
    d = np.abs(fj - fi) * (_XSTAR / (_S1 * np.minimum(fi, fj) + _S2))
    pair = amp[:, i] * amp[:, j] * (np.exp(-_B1 * d) - np.exp(-_B2 * d))
    out = pair.sum(axis=-1, dtype=np.float64).astype(dtype)
    return out.reshape(lead + (1, n_frames))


def spectral_flux(*, y=None, sr=44100, S=None, n_fft=2048, hop_length=1024):
    """Spectral flux: the distance between successive magnitude spectra.

    MIRtoolbox's ``mirflux`` (Euclidean distance, no rectification)::

        flux[t] = sqrt(sum_k (S[k, t] - S[k, t - 1])^2),  t >= 1

    in units of ``S``. ``mirflux`` has one value fewer than there are
    frames; to keep every curve on the same frames, ``flux[0]`` repeats
    ``flux[1]`` (and is 0 for a single frame).

    Parameters
    ----------
    y, sr, S, n_fft, hop_length
        As in :func:`brightness`.

    Returns
    -------
    flux : np.ndarray [shape=(..., 1, t)]

    Examples
    --------
    >>> import numpy as np, librosa
    >>> from skmv.features.audio import spectral_flux
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> S = np.abs(librosa.stft(y, n_fft=2048, hop_length=1024, center=False))
    >>> np.allclose(spectral_flux(y=y), spectral_flux(S=S), rtol=1e-4)
    True
    """
    S, n_fft = _magnitude(y=y, S=S, n_fft=n_fft, hop_length=hop_length)
    return _flux(S)


def _flux(S):
    dtype = np.result_type(S.dtype, np.float32)
    out = np.zeros(S.shape[:-2] + (1, S.shape[-1]), dtype=dtype)
    if S.shape[-1] > 1:
        diff = np.diff(S, axis=-1)
        out[..., 0, 1:] = np.sqrt(np.einsum("...kt,...kt->...t", diff, diff))
        out[..., 0, 0] = out[..., 0, 1]
    return out


def zero_crossing_rate(*, y, frame_length=2048, hop_length=1024):
    """Zero-crossing rate: the fraction of sign changes in each frame.

    MIRtoolbox's ``mirzerocross`` counts sign changes of the waveform; as
    ``librosa.feature.zero_crossing_rate(y, frame_length=frame_length,
    hop_length=hop_length, center=False)``, to which it is equal, frames
    are those of the STFT, samples with ``|y| <= 1e-10`` count as
    positive, and the count of sign changes between the samples of a frame
    is divided by ``frame_length``. Multiply by ``sr / 2`` for crossings of
    one direction per second, ``mirzerocross``'s unit. Computed from a running count of
    sign changes instead of framing the signal.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]
        Audio, floating point.
    frame_length : int > 0 [scalar]
        Samples per frame; ``n_fft`` puts the frames on the STFT's.
    hop_length : int > 0 [scalar]
        Samples between frames.

    Returns
    -------
    zcr : np.ndarray [shape=(..., 1, t)]
        In [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features.audio import zero_crossing_rate
    >>> y = np.sin(2 * np.pi * 441 * np.arange(44100) / 44100)
    >>> print(np.round(np.median(zero_crossing_rate(y=y)) * 44100 / 2))
    441.0
    """
    y = _check_audio(y)
    _check_frames(frame_length, hop_length)
    return _zcr(y, frame_length, hop_length)


def _zcr(y, frame_length, hop_length):
    if y.shape[-1] < frame_length:
        raise ValueError(
            f"Audio is too short (n={y.shape[-1]}) for one frame of "
            f"frame_length={frame_length}."
        )
    negative = y < -1e-10
    changes = np.zeros(y.shape, dtype=np.int32)
    np.cumsum(negative[..., 1:] != negative[..., :-1], axis=-1, out=changes[..., 1:])
    starts = np.arange(1 + (y.shape[-1] - frame_length) // hop_length) * hop_length
    count = changes[..., starts + frame_length - 1] - changes[..., starts]
    dtype = np.result_type(y.dtype, np.float32)
    return (count / frame_length).astype(dtype)[..., None, :]


# ----------------------------------------------------------------------
# Tonal features
# ----------------------------------------------------------------------


def chroma(*, y=None, sr=44100, S=None, n_fft=2048, hop_length=1024):
    """Chromagram: the energy of the 12 pitch classes, C first.

    MIRtoolbox's ``mirchromagram``, as ``librosa.feature.chroma_stft(S=S**2,
    sr=sr, tuning=0.0)`` computes it: the power spectrum is projected onto
    librosa's chroma filter bank (A4 = 440 Hz; no tuning estimation) and
    each frame is divided by its largest value::

        chroma[c, t] = (C @ S**2)[c, t] / max_c' (C @ S**2)[c', t]

    in [0, 1]; 0 for a silent frame. The filter bank is cached per
    ``(sr, n_fft)``.

    Parameters
    ----------
    y, sr, S, n_fft, hop_length
        As in :func:`brightness`.

    Returns
    -------
    chroma : np.ndarray [shape=(..., 12, t)]
        Rows in the order of ``PITCH_CLASSES``: C, C#, D, ..., B.

    Examples
    --------
    >>> import numpy as np, librosa
    >>> from skmv.features.audio import PITCH_CLASSES, chroma
    >>> sr = 44100
    >>> y = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    >>> PITCH_CLASSES[int(np.argmax(chroma(y=y, sr=sr).mean(axis=-1)))]
    'A'
    >>> S = np.abs(librosa.stft(y, n_fft=2048, hop_length=1024, center=False))
    >>> np.allclose(chroma(y=y, sr=sr), chroma(S=S, sr=sr), atol=1e-4)
    True
    """
    S, n_fft = _magnitude(y=y, S=S, n_fft=n_fft, hop_length=hop_length)
    return _chroma(S * S, sr, n_fft)


def _chroma(power, sr, n_fft):
    c = np.matmul(_chroma_basis(float(sr), n_fft), power)
    peak = c.max(axis=-2, keepdims=True)
    return np.divide(c, peak, out=c, where=peak > _TINY)


def key_clarity(*, y=None, sr=44100, S=None, n_fft=2048, hop_length=1024, chroma=None):
    """Key clarity: how well the chroma matches its best key.

    MIRtoolbox's ``mirkey`` clarity: Pearson's correlation of each frame's
    chroma vector with the 24 Krumhansl-Kessler key profiles (the major and
    the minor profile rotated to each of the 12 tonics), and the best of
    them::

        clarity[t] = max_key corr(chroma[:, t], profile_key)

    in [-1, 1]; 0 where the chroma is flat (silence, white noise in the
    limit), for which the correlation is undefined.

    Parameters
    ----------
    y, sr, S, n_fft, hop_length
        As in :func:`brightness`.
    chroma : np.ndarray [shape=(..., 12, t)] or None
        A precomputed chromagram (C first), used instead of ``y`` and ``S``.

    Returns
    -------
    clarity : np.ndarray [shape=(..., 1, t)]

    Examples
    --------
    >>> import numpy as np, librosa
    >>> from skmv.features.audio import chroma, key_clarity
    >>> sr = 44100
    >>> t = np.arange(sr) / sr
    >>> y = sum(np.sin(2 * np.pi * f * t) for f in (440.0, 554.37, 659.26))
    >>> k = key_clarity(y=y, sr=sr)
    >>> bool(np.median(k) > 0.5)
    True
    >>> np.allclose(k, key_clarity(chroma=chroma(y=y, sr=sr)))
    True
    """
    if chroma is None:
        S, n_fft = _magnitude(y=y, S=S, n_fft=n_fft, hop_length=hop_length)
        chroma = _chroma(S * S, sr, n_fft)
    else:
        chroma = np.asarray(chroma)
        if chroma.ndim < 2 or chroma.shape[-2] != 12:
            raise ValueError(
                f"chroma must have shape (..., 12, n_frames), got {chroma.shape}."
            )
    return _key_clarity(chroma)


def _key_clarity(chroma):
    dtype = np.result_type(chroma.dtype, np.float32)
    c = chroma - chroma.mean(axis=-2, keepdims=True)
    norm = np.sqrt(np.einsum("...ct,...ct->...t", c, c))[..., None, :]
    best = np.matmul(_key_profiles(), c).max(axis=-2, keepdims=True)
    scale = 1e-6 * np.abs(chroma).max(axis=-2, keepdims=True)
    out = np.divide(best, norm, out=np.zeros_like(best), where=norm > scale + _TINY)
    return out.astype(dtype)


# ----------------------------------------------------------------------
# Timbre: log-mel spectrogram and MFCC
# ----------------------------------------------------------------------


def log_mel(*, y=None, sr=44100, S=None, n_fft=2048, hop_length=1024, n_mels=N_MELS):
    """Log-power mel spectrogram, in dB.

    ``librosa.power_to_db(librosa.feature.melspectrogram(S=S**2, sr=sr,
    n_mels=n_mels), top_db=80)``, except that the 80 dB floor is taken per
    signal (leading index) rather than over the whole array. The shared
    intermediate of :func:`mfcc`, :func:`onset_envelope` and the attack
    features. The mel filter bank is cached per ``(sr, n_fft, n_mels)``.

    Parameters
    ----------
    y, sr, S, n_fft, hop_length
        As in :func:`brightness`.
    n_mels : int > 0 [scalar]
        Mel bands.

    Returns
    -------
    log_mel : np.ndarray [shape=(..., n_mels, t)]
        In dB relative to a power of 1.

    Examples
    --------
    >>> import numpy as np, librosa
    >>> from skmv.features.audio import log_mel
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> S = np.abs(librosa.stft(y, n_fft=2048, hop_length=1024, center=False))
    >>> ref = librosa.power_to_db(librosa.feature.melspectrogram(S=S**2, n_mels=40))
    >>> np.allclose(log_mel(S=S, sr=22050), ref, atol=1e-3)
    True
    """
    S, n_fft = _magnitude(y=y, S=S, n_fft=n_fft, hop_length=hop_length)
    return _log_mel(S * S, sr, n_fft, n_mels)


def _log_mel(power, sr, n_fft, n_mels):
    return _power_to_db(np.matmul(_mel_basis(float(sr), n_fft, n_mels), power))


def mfcc(
    *,
    y=None,
    sr=44100,
    S=None,
    n_fft=2048,
    hop_length=1024,
    n_mfcc=13,
    n_mels=N_MELS,
    log_mel=None,
):
    """Mel-frequency cepstral coefficients.

    The orthonormal DCT-II of the log-mel spectrogram along frequency, first
    ``n_mfcc`` coefficients (``librosa.feature.mfcc(S=log_mel)``), as
    MIRtoolbox's ``mirmfcc`` with its 40 mel bands.

    Parameters
    ----------
    y, sr, S, n_fft, hop_length
        As in :func:`brightness`.
    n_mfcc : int >= 0 [scalar]
        Coefficients kept, at most ``n_mels``.
    n_mels : int > 0 [scalar]
        Mel bands when ``log_mel`` is computed here.
    log_mel : np.ndarray [shape=(..., n_mels, t)] or None
        A precomputed :func:`log_mel`, used instead of ``y`` and ``S``.

    Returns
    -------
    mfcc : np.ndarray [shape=(..., n_mfcc, t)]

    Examples
    --------
    >>> import numpy as np, librosa
    >>> from skmv.features.audio import log_mel, mfcc
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> S = np.abs(librosa.stft(y, n_fft=2048, hop_length=1024, center=False))
    >>> np.allclose(mfcc(y=y, sr=22050), mfcc(S=S, sr=22050), atol=1e-2)
    True
    >>> mfcc(log_mel=log_mel(S=S, sr=22050), n_mfcc=5).shape
    (5, 20)
    """
    if log_mel is None:
        S, n_fft = _magnitude(y=y, S=S, n_fft=n_fft, hop_length=hop_length)
        log_mel = _log_mel(S * S, sr, n_fft, n_mels)
    log_mel = np.asarray(log_mel)
    if not 0 <= n_mfcc <= log_mel.shape[-2]:
        raise ValueError(
            f"n_mfcc must be in [0, n_mels={log_mel.shape[-2]}], got {n_mfcc}."
        )
    return _mfcc(log_mel, n_mfcc)


def _mfcc(log_mel, n_mfcc):
    return scipy.fft.dct(log_mel, axis=-2, type=2, norm="ortho")[..., :n_mfcc, :]


# ----------------------------------------------------------------------
# Rhythm: onset envelope, tempo, attacks
# ----------------------------------------------------------------------


def onset_envelope(
    *, y=None, sr=44100, S=None, n_fft=2048, hop_length=1024, log_mel=None
):
    """Onset strength: the mean rise of the log-mel bands from frame to frame.

    ``librosa.onset.onset_strength(S=log_mel, lag=1, max_size=1,
    center=False)``::

        onset[t] = mean_b max(0, log_mel[b, t] - log_mel[b, t - 1]),  onset[0] = 0

    in dB, aligned with the frames (no extra shift), so that an onset at
    frame ``t`` is the rise into frame ``t``. The same half-wave rectified
    difference of an envelope that MIRtoolbox's ``mirtempo`` and
    ``mironsets`` use; shared by :func:`tempo`, :func:`attack_time` and
    :func:`attack_slope`.

    Parameters
    ----------
    y, sr, S, n_fft, hop_length
        As in :func:`brightness`.
    log_mel : np.ndarray [shape=(..., n_mels, t)] or None
        A precomputed :func:`log_mel`, used instead of ``y`` and ``S``.

    Returns
    -------
    onset : np.ndarray [shape=(..., t)]
        One value per frame, without a feature axis, as librosa's
        intermediate.

    Examples
    --------
    >>> import numpy as np, librosa
    >>> from skmv.features.audio import onset_envelope
    >>> sr = 44100
    >>> y = librosa.clicks(times=[0.5, 1.0], sr=sr, length=sr * 2)
    >>> o = onset_envelope(y=y, sr=sr)
    >>> np.sort(np.argsort(o)[-2:])  # the frames the clicks enter
    array([20, 42])
    >>> S = np.abs(librosa.stft(y, n_fft=2048, hop_length=1024, center=False))
    >>> np.allclose(o, onset_envelope(S=S, sr=sr), atol=1e-3)
    True
    """
    if log_mel is None:
        S, n_fft = _magnitude(y=y, S=S, n_fft=n_fft, hop_length=hop_length)
        log_mel = _log_mel(S * S, sr, n_fft, N_MELS)
    return _onset_envelope(np.asarray(log_mel))


def _onset_envelope(log_mel):
    return librosa.onset.onset_strength(S=log_mel, lag=1, max_size=1, center=False)


def tempo(
    *,
    y=None,
    sr=44100,
    S=None,
    n_fft=2048,
    hop_length=1024,
    onset_envelope=None,
    ac_size=TEMPO_WINDOW,
    start_bpm=120.0,
    std_bpm=1.0,
    max_tempo=320.0,
    aggregate=None,
):
    """Tempo, in beats per minute, from the autocorrelation of the onset envelope.

    As MIRtoolbox's framed ``mirtempo``, the periodicity of the onset
    envelope in sliding windows: ``librosa.feature.tempogram`` autocorrelates
    the onset envelope in Hann windows of ``ac_size`` seconds centred on each
    frame; each window's autocorrelation ``ac[lag]`` is weighted by librosa's
    log-normal prior over tempo and the best lag wins::

        bpm(lag) = 60 sr / (hop_length lag)
        score[lag] = log(1 + 1e6 ac[lag])
                     - 0.5 ((log2(bpm(lag)) - log2(start_bpm)) / std_bpm)^2
        tempo = bpm(argmax_lag score[lag])

    with tempi at or above ``max_tempo`` excluded. Unlike
    ``librosa.feature.tempo``, the best lag is refined between frames by a
    parabola through its score and its neighbours', so that tempi are not
    restricted to ``60 sr / (hop_length k)`` (at 44.1 kHz and a hop of 1024
    samples, neighbouring lags are 5 % apart near 120 BPM). A window without
    onsets carries no evidence, and its tempo is the prior's, ``start_bpm``.

    Parameters
    ----------
    y, sr, S, n_fft, hop_length
        As in :func:`brightness`.
    onset_envelope : np.ndarray [shape=(..., t)] or None
        A precomputed :func:`onset_envelope`, used instead of ``y`` and ``S``.
    ac_size : float > 0 [scalar]
        Length of the autocorrelation windows, in seconds (MIRtoolbox's
        ``mirtempo`` frames are 3 s).
    start_bpm : float > 0 [scalar]
        Centre of the prior, in BPM.
    std_bpm : float > 0 [scalar]
        Width of the prior, in octaves.
    max_tempo : float > 0 [scalar]
        Tempi at or above this, in BPM, are excluded.
    aggregate : callable or None
        None gives a tempo per frame; a reduction such as ``np.mean`` applied
        to the windows' autocorrelations (``aggregate(ac, axis=-1,
        keepdims=True)``) gives one tempo for the whole signal.

    Returns
    -------
    tempo : np.ndarray [shape=(..., 1, t)] or [shape=(..., 1, 1)] with ``aggregate``

    Examples
    --------
    >>> import numpy as np, librosa
    >>> from skmv.features.audio import tempo
    >>> sr = 44100
    >>> y = librosa.clicks(times=np.arange(0, 6, 0.5), sr=sr, length=6 * sr)
    >>> print(np.round(tempo(y=y, sr=sr, aggregate=np.mean)))
    [[120.]]
    >>> S = np.abs(librosa.stft(y, n_fft=2048, hop_length=1024, center=False))
    >>> np.allclose(tempo(y=y, sr=sr), tempo(S=S, sr=sr), rtol=1e-3)
    True
    """
    if not (start_bpm > 0 and std_bpm > 0 and ac_size > 0 and max_tempo > 0):
        raise ValueError(
            "start_bpm, std_bpm, ac_size and max_tempo must be > 0, got "
            f"{start_bpm}, {std_bpm}, {ac_size} and {max_tempo}."
        )
    if onset_envelope is None:
        S, n_fft = _magnitude(y=y, S=S, n_fft=n_fft, hop_length=hop_length)
        onset_envelope = _onset_envelope(_log_mel(S * S, sr, n_fft, N_MELS))
    return _tempo(
        np.asarray(onset_envelope),
        sr,
        hop_length,
        _tempo_frames(sr, hop_length, ac_size),
        start_bpm=start_bpm,
        std_bpm=std_bpm,
        max_tempo=max_tempo,
        aggregate=aggregate,
    )


@functools.lru_cache(maxsize=8)
def _tempo_prior(sr, hop_length, win, start_bpm, std_bpm, max_tempo):
    """(win,) log-prior of each lag; -inf for lag 0 and tempi >= max_tempo."""
    lags = np.arange(1, win)
    bpm = 60.0 * sr / (hop_length * lags)
    prior = np.full(win, -np.inf)
    z = (np.log2(bpm) - np.log2(start_bpm)) / std_bpm
    prior[1:] = np.where(bpm < max_tempo, -0.5 * z * z, -np.inf)
    return _frozen(prior)


def _tempo_frames(sr, hop_length, seconds=TEMPO_WINDOW):
    """Frames per autocorrelation window of ``seconds``."""
    return max(3, int(round(seconds * sr / hop_length)))


def _tempo(
    onset,
    sr,
    hop_length,
    win,
    *,
    start_bpm=120.0,
    std_bpm=1.0,
    max_tempo=320.0,
    aggregate=None,
):
    ac = librosa.feature.tempogram(
        onset_envelope=onset, sr=sr, hop_length=hop_length, win_length=win
    )
    if aggregate is not None:
        ac = aggregate(ac, axis=-1, keepdims=True)
    prior = _tempo_prior(float(sr), hop_length, win, start_bpm, std_bpm, max_tempo)
    score = np.log1p(1e6 * np.maximum(ac, 0.0)) + prior[:, None]
    best = score.argmax(axis=-2)[..., None, :]

    def at(lag):
        s = np.take_along_axis(score, np.clip(lag, 0, win - 1), axis=-2)
        return np.where(np.isfinite(s), s, 0.0), np.isfinite(s)

    (left, ok_l), (mid, _), (right, ok_r) = at(best - 1), at(best), at(best + 1)
    curv = left - 2.0 * mid + right
    ok = ok_l & ok_r & (best >= 1) & (best + 1 < win) & (curv < 0)
    shift = np.divide(0.5 * (left - right), curv, out=np.zeros_like(curv), where=ok)
    lag = best + np.clip(shift, -0.5, 0.5)
    dtype = np.result_type(onset.dtype, np.float32)
    return (60.0 * sr / (hop_length * lag)).astype(dtype)


def attack_time(
    *,
    y=None,
    sr=44100,
    S=None,
    n_fft=2048,
    hop_length=1024,
    onset_envelope=None,
    log_mel=None,
):
    """Attack time: how long the level rises at each onset, in seconds.

    As MIRtoolbox's ``mirattacktime``: onsets are the peaks picked in the
    onset envelope by the rule of ``librosa.onset.onset_detect`` with its
    default parameters; the attack
    phase of an onset at frame ``p`` is measured on the level envelope
    ``L[t] = mean_b log_mel[b, t]`` (dB), the curve whose rectified rises
    make the onset envelope. It starts at the last local minimum of ``L`` at
    or before ``p`` and ends at the first local maximum at or after ``p``::

        attack_time = (end - start) hop_length / sr

    A resolution of one frame. To give a curve on the same frames as the
    other features, each frame carries the value of the latest onset at or
    before it (frames before the first onset carry the first onset's); a
    signal without onsets gives zeros.

    Parameters
    ----------
    y, sr, S, n_fft, hop_length
        As in :func:`brightness`.
    onset_envelope : np.ndarray [shape=(..., t)] or None
        A precomputed :func:`onset_envelope`.
    log_mel : np.ndarray [shape=(..., n_mels, t)] or None
        A precomputed :func:`log_mel`; with it, ``y`` and ``S`` are not used.

    Returns
    -------
    attack_time : np.ndarray [shape=(..., 1, t)]

    See Also
    --------
    attack_slope : The rise in dB per second of the same attack phases.

    Examples
    --------
    >>> import numpy as np, librosa
    >>> from skmv.features.audio import attack_time
    >>> sr = 44100
    >>> t = np.arange(2 * sr) / sr
    >>> ramp = np.clip((t - 0.5) / 0.3, 0, 1) * np.sin(2 * np.pi * 440 * t)
    >>> a = attack_time(y=ramp, sr=sr)  # a 0.3 s swell, then a steady tone
    >>> bool(0.25 < a.max() < 0.45)
    True
    >>> S = np.abs(librosa.stft(ramp, n_fft=2048, hop_length=1024, center=False))
    >>> np.allclose(attack_time(y=ramp, sr=sr), attack_time(S=S, sr=sr))
    True
    """
    return _attack_curves(y, sr, S, n_fft, hop_length, onset_envelope, log_mel)[
        ..., :1, :
    ]


def attack_slope(
    *,
    y=None,
    sr=44100,
    S=None,
    n_fft=2048,
    hop_length=1024,
    onset_envelope=None,
    log_mel=None,
):
    """Attack slope: how fast the level rises at each onset, in dB per second.

    As MIRtoolbox's ``mirattackslope`` (its default, the mean slope of the
    attack phase), on the attack phases of :func:`attack_time`::

        attack_slope = (L[end] - L[start]) / (max(end - start, 1) hop_length / sr)

    held from onset to onset in the same way; zeros without onsets.

    Parameters
    ----------
    y, sr, S, n_fft, hop_length, onset_envelope, log_mel
        As in :func:`attack_time`.

    Returns
    -------
    attack_slope : np.ndarray [shape=(..., 1, t)]

    Examples
    --------
    >>> import numpy as np, librosa
    >>> from skmv.features.audio import attack_slope
    >>> sr = 44100
    >>> t = np.arange(2 * sr) / sr
    >>> env = [np.clip((t - 0.5) / d, 0, 1) for d in (0.05, 0.3)]
    >>> tone = np.sin(2 * np.pi * 440 * t)
    >>> fast, slow = (attack_slope(y=e * tone, sr=sr) for e in env)
    >>> bool(fast.max() > 2 * slow.max())
    True
    """
    return _attack_curves(y, sr, S, n_fft, hop_length, onset_envelope, log_mel)[
        ..., 1:, :
    ]


def _attack_curves(y, sr, S, n_fft, hop_length, onset, log_mel):
    if log_mel is None:
        S, n_fft = _magnitude(y=y, S=S, n_fft=n_fft, hop_length=hop_length)
        log_mel = _log_mel(S * S, sr, n_fft, N_MELS)
    log_mel = np.asarray(log_mel)
    if onset is None:
        onset = _onset_envelope(log_mel)
    return _attack(np.asarray(onset), log_mel.mean(axis=-2), sr, hop_length)


@functools.cache
def _warm_up():
    """Load librosa's Numba kernels once, in this process.

    librosa compiles them on first use and caches them on disk; fresh
    processes that compile them at the same time can corrupt that cache and
    crash. The batch loop calls this in the parent before starting workers,
    so that the workers only read a finished cache.
    """
    y = np.random.default_rng(0).standard_normal(4 * 2048).astype(np.float32)
    segment_features(0.01 * y, sr=22050, n_fft=512, hop_length=256)


def _pick_onsets(envelope, frame_rate, *, delta=0.07):
    """Frames of the onsets in one onset envelope, by peak picking.

    The rule of ``librosa.onset.onset_detect`` with its defaults, written
    with NumPy (librosa's own is a Numba kernel whose on-disk cache several
    fresh processes can corrupt by compiling it at once). With the envelope
    scaled to [0, 1], frame ``n`` is an onset when it is the maximum of the
    frames within 30 ms before it, at least ``delta`` above the mean of the
    frames from 100 ms before it to 100 ms after, and more than 30 ms after
    the previous onset.
    """
    x = np.asarray(envelope, dtype=np.float64)
    n = x.shape[-1]
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    x = x - x.min()
    top = x.max()
    if top > 0:
        x = x / top
    near = int(0.03 * frame_rate)  # pre_max and wait, in frames
    around = int(0.10 * frame_rate)  # pre_avg; post_avg is one more
    frames = np.arange(n)
    # Maximum over [n - near, n] (librosa's post_max of one frame is n alone).
    padded = np.concatenate([np.full(near, -np.inf), x])
    windows = np.lib.stride_tricks.sliding_window_view(padded, near + 1)
    is_max = x == windows.max(axis=-1)
    # Mean over [n - around, n + around], clipped to the signal.
    total = np.concatenate([[0.0], np.cumsum(x)])
    lo = np.clip(frames - around, 0, n)
    hi = np.clip(frames + around + 1, 0, n)
    mean = (total[hi] - total[lo]) / (hi - lo)
    candidates = np.flatnonzero(is_max & (x >= mean + delta) & (x > 0))
    # Keep a candidate only if it comes more than `near` frames after the
    # last one kept: a greedy pass over the (few) candidates.
    kept, last = [], -np.inf
    for c in candidates:
        if c > last + near:
            kept.append(c)
            last = c
    return np.asarray(kept, dtype=np.intp)


def _attack(onset, level, sr, hop_length):
    """(..., 2, t): attack time (s) and slope (dB/s), held between onsets."""
    frame_rate = float(sr) / hop_length
    n = level.shape[-1]
    out = np.zeros(level.shape[:-1] + (2, n), dtype=np.result_type(level, np.float32))
    frames = np.arange(n)
    for index in np.ndindex(level.shape[:-1]):
        peaks = _pick_onsets(onset[index], frame_rate)
        if peaks.size == 0:
            continue
        L = level[index]
        # start(t): last frame s <= t with s == 0 or L[s - 1] >= L[s];
        # end(t): first frame e >= t with e == n - 1 or L[e + 1] <= L[e].
        flat_in = np.ones(n, dtype=bool)
        flat_in[1:] = L[:-1] >= L[1:]
        flat_out = np.ones(n, dtype=bool)
        flat_out[:-1] = L[1:] <= L[:-1]
        start = np.maximum.accumulate(np.where(flat_in, frames, 0))[peaks]
        end = np.minimum.accumulate(np.where(flat_out, frames, n - 1)[::-1])[::-1]
        end = end[peaks]
        span = end - start
        times = span / frame_rate
        slopes = (L[end] - L[start]) / np.maximum(span, 1) * frame_rate
        latest = np.maximum(np.searchsorted(peaks, frames, side="right") - 1, 0)
        out[index + (0,)] = times[latest]
        out[index + (1,)] = slopes[latest]
    return out


# ----------------------------------------------------------------------
# All curves of a segment, and its summary
# ----------------------------------------------------------------------


def curve_names(*, n_mfcc=13):
    """Names of the rows of :func:`mid_level_features`, in order.

    ``tempo``, ``attack_time``, ``attack_slope``, ``brightness``,
    ``spread``, ``roughness``, ``zcr``, ``flux``, ``chroma_C`` ..
    ``chroma_B`` (12), ``key_clarity``, ``mfcc_0`` .. ``mfcc_{n_mfcc - 1}``.

    Examples
    --------
    >>> from skmv.features.audio import curve_names
    >>> len(curve_names(n_mfcc=13))
    34
    """
    return (
        ["tempo", "attack_time", "attack_slope", "brightness", "spread"]
        + ["roughness", "zcr", "flux"]
        + [f"chroma_{p}" for p in PITCH_CLASSES]
        + ["key_clarity"]
        + [f"mfcc_{i}" for i in range(n_mfcc)]
    )


def feature_names(*, n_mfcc=13):
    """Names of the entries of :func:`segment_features`, in order.

    ``f"{curve}_{pooling}_{statistic}"`` for each curve of
    :func:`curve_names`, each pooling of ``POOLINGS`` (mean, median, max,
    min) and each statistic of ``STATISTICS`` (mean, std, slope, periodfreq,
    periodamp, periodentropy), curve-major: ``24 * (21 + n_mfcc)`` names.

    Examples
    --------
    >>> from skmv.features.audio import feature_names
    >>> names = feature_names(n_mfcc=13)
    >>> len(names), names[0], names[-1]
    (816, 'tempo_mean_mean', 'mfcc_12_min_periodentropy')
    """
    return [
        f"{curve}_{pool}_{stat}"
        for curve in curve_names(n_mfcc=n_mfcc)
        for pool in POOLINGS
        for stat in STATISTICS
    ]


def mid_level_features(y, *, sr=44100, n_fft=2048, hop_length=1024, n_mfcc=13):
    """Every mid-level curve of a signal, from one STFT and one onset envelope.

    Computes the magnitude STFT once, then from it brightness, spread,
    roughness, flux, the chromagram and key clarity (from the chromagram),
    the log-mel spectrogram, and from that the MFCCs and the onset envelope,
    which gives tempo and the attack features; the zero-crossing rate comes
    from ``y`` on the same frames.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]
        Audio, floating point (float32 keeps the computation in float32).
    sr : number > 0 [scalar]
        Sampling rate of ``y``, in Hz.
    n_fft : int > 0 [scalar]
        Samples per frame.
    hop_length : int > 0 [scalar]
        Samples between frames.
    n_mfcc : int >= 0 [scalar]
        MFCCs kept (at most 40).

    Returns
    -------
    curves : np.ndarray [shape=(..., 21 + n_mfcc, t)]
        Rows named by :func:`curve_names`; frame rate ``sr / hop_length``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features.audio import curve_names, mid_level_features
    >>> y = np.random.default_rng(0).standard_normal(44100).astype(np.float32)
    >>> curves = mid_level_features(y, sr=44100)
    >>> curves.shape, curves.dtype
    ((34, 42), dtype('float32'))
    >>> bool(curves[curve_names().index("brightness")].mean() > 0.9)
    True
    """
    y = _check_audio(y)
    _check_frames(n_fft, hop_length)
    if not 0 <= n_mfcc <= N_MELS:
        raise ValueError(f"n_mfcc must be in [0, {N_MELS}], got {n_mfcc}.")
    S = _stft_magnitude(y, n_fft, hop_length)
    power = S * S
    lm = _log_mel(power, sr, n_fft, N_MELS)
    onset = _onset_envelope(lm)
    chroma_ = _chroma(power, sr, n_fft)
    parts = [
        _tempo(onset, sr, hop_length, _tempo_frames(sr, hop_length)),
        _attack(onset, lm.mean(axis=-2), sr, hop_length),
        _brightness(S, sr, n_fft, BRIGHTNESS_CUTOFF),
        _spread(S, sr, n_fft),
        _roughness(S, sr, n_fft, ROUGHNESS_PEAKS),
        _zcr(y, n_fft, hop_length),
        _flux(S),
        chroma_,
        _key_clarity(chroma_),
        _mfcc(lm, n_mfcc),
    ]
    dtype = np.result_type(y.dtype, np.float32)
    return np.concatenate([p.astype(dtype, copy=False) for p in parts], axis=-2)


def _pool_frames(seconds, frame_rate):
    return max(1, int(round(seconds * frame_rate)))


def segment_features(
    y,
    *,
    sr=44100,
    n_fft=2048,
    hop_length=1024,
    n_mfcc=13,
    pool_window=0.25,
    pool_hop=0.125,
):
    """The feature vector of one segment: curves, pooled, then summarised.

    :func:`mid_level_features`, then :func:`pool_windows` on every curve
    (windows of ``pool_window`` seconds every ``pool_hop`` seconds, rounded
    to whole frames), then :func:`mirstat` on every pooled curve at the
    pooled frame rate, flattened curve-major (curve, pooling, statistic).

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]
        Audio, floating point, at least ``n_fft`` samples.
    sr, n_fft, hop_length, n_mfcc
        As in :func:`mid_level_features`.
    pool_window : float > 0 [scalar]
        Pooling window, in seconds.
    pool_hop : float > 0 [scalar]
        Pooling hop, in seconds.

    Returns
    -------
    features : np.ndarray [shape=(..., 24 * (21 + n_mfcc))], float32
        Entries named by :func:`feature_names`.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features.audio import feature_names, segment_features
    >>> y = np.random.default_rng(0).standard_normal(6 * 22050).astype(np.float32)
    >>> x = segment_features(y, sr=22050)
    >>> x.shape == (len(feature_names()),), x.dtype
    (True, dtype('float32'))
    """
    y = _check_audio(y)
    if y.shape[-1] < n_fft:
        raise ValueError(
            f"A segment needs at least n_fft={n_fft} samples (one frame), got "
            f"{y.shape[-1]}."
        )
    if not (pool_window > 0 and pool_hop > 0):
        raise ValueError(
            f"pool_window and pool_hop must be > 0 seconds, got {pool_window} "
            f"and {pool_hop}."
        )
    curves = mid_level_features(
        y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mfcc=n_mfcc
    )
    frame_rate = float(sr) / hop_length
    hop = _pool_frames(pool_hop, frame_rate)
    pooled = pool_windows(curves, window=_pool_frames(pool_window, frame_rate), hop=hop)
    stats = mirstat(pooled, frame_rate=frame_rate / hop)
    return stats.reshape(stats.shape[:-3] + (-1,)).astype(np.float32)


# ----------------------------------------------------------------------
# The estimator
# ----------------------------------------------------------------------


def _content_rows(params, signals):
    """Feature rows of a chunk of decoded signals (cached with ``memory``)."""
    return np.stack([segment_features(s, **params) for s in signals])


class AudioFeaturizer(TransformerMixin, BaseEstimator):
    """MIRtoolbox mid-level music features of 6-second segments.

    The music descriptor of Xu, Wang and Tang (2014, section 2.2). For each
    segment: the mid-level feature curves of MIRtoolbox (Lartillot and
    Toiviainen 2007) on frames of ``n_fft`` samples every ``hop_length``
    samples (:func:`mid_level_features`); sliding-window pooling of each
    curve into its mean, median, maximum and minimum (:func:`pool_windows`);
    and ``mirstat``'s statistics of each pooled curve: mean, standard
    deviation, slope, period frequency, period amplitude and period entropy
    (:func:`mirstat`).

    Default dimension: 816 = 34 curves x 4 poolings x 6 statistics, with the
    34 curves

    ======================  ====  =====================================
    curve                   rows  MIRtoolbox
    ======================  ====  =====================================
    tempo                   1     mirtempo, 3 s frames
    attack_time             1     mirattacktime
    attack_slope            1     mirattackslope
    brightness              1     mirbrightness, 1500 Hz
    spread                  1     mirspread
    roughness               1     mirroughness (Sethares)
    zcr                     1     mirzerocross
    flux                    1     mirflux
    chroma_C .. chroma_B    12    mirchromagram
    key_clarity             1     mirkey (clarity)
    mfcc_0 .. mfcc_12       13    mirmfcc (extra timbre)
    ======================  ====  =====================================

    that is ``24 * (21 + n_mfcc)`` columns (504 with ``n_mfcc=0``), named
    ``{curve}_{pooling}_{statistic}`` by :meth:`get_feature_names_out`
    (``brightness_mean_mean``, ``chroma_A_max_slope``,
    ``tempo_mean_periodfreq``, ...). The paper's 1052 dimensions came from a
    similar grid; this one keeps every statistic of every pooled curve and
    spends its extra columns on MFCCs, which carry timbre the mid-level set
    lacks. All features of a segment come from one STFT, one mel
    spectrogram and one onset envelope: about 7 ms per 6-second segment at
    44.1 kHz on one core.

    Parameters
    ----------
    input : {"segments", "content"}, default="segments"
        What ``X`` holds. ``"segments"``: a list of :class:`~skmv.io.Segment`
        (from ``segment_media``); each file is decoded once, to mono at
        ``sr``. ``"content"``: decoded audio, a list of 1-D mono signals at
        ``sr`` (or a 2-D array, one signal per row), each at least ``n_fft``
        samples long.
    sr : float, default=44100
        Sampling rate in Hz: the rate segments are decoded at, and the rate
        of ``"content"`` signals. Above 3000 Hz (brightness's 1500 Hz
        cut-off needs it).
    n_fft : int, default=2048
        Samples per analysis frame (46 ms at 44.1 kHz; MIRtoolbox uses 50 ms).
    hop_length : int, default=1024
        Samples between frames (23 ms at 44.1 kHz), so ``sr / hop_length``
        frames per second.
    n_mfcc : int, default=13
        MFCCs added to the mid-level curves, 0 to 40.
    pool_window : float, default=0.25
        Pooling window in seconds (rounded to whole frames: 11 frames at the
        defaults).
    pool_hop : float, default=0.125
        Pooling hop in seconds (5 frames at the defaults, about 8.6 pooled
        values per second, enough for periodicities up to 4 Hz, i.e. beats
        up to 240 BPM).
    n_jobs : int, default=None
        Parallel workers (joblib): files for ``"segments"``, chunks of 32
        signals for ``"content"``. None means 1 unless in a
        ``joblib.parallel_config`` context; -1 means all processors.
    memory : str or object with the joblib.Memory interface, default=None
        Cache of computed rows (per file, or per chunk of 32 signals), so
        that a run started again recomputes only what it had not finished.
        None caches nothing; a string is a cache directory.
    on_error : {"raise", "skip"}, default="raise"
        What a file that cannot be decoded does with ``input="segments"``:
        raise :class:`~skmv.exceptions.MediaError`, or give NaN rows with a
        warning. Invalid ``"content"`` always raises ``ValueError``.
    missing : {"error", "nan"}, default="error"
        What a segment without audio does: a piece of silent footage, whose
        ``modalities`` lack ``"audio"`` (see :func:`skmv.io.segment_media`),
        or whose file turns out to have no audio stream. ``"error"``: its
        file raises a :class:`~skmv.exceptions.MissingStreamError` (a
        MediaError naming the file; ``on_error="skip"`` skips it).
        ``"nan"``: its row is NaN, the data model's missing modality; it is
        not decoded and not counted in ``skipped_``. With
        ``input="content"``, a None item is a segment without audio.
    verbose : int, default=0
        Progress messages from joblib.

    Attributes
    ----------
    n_features_out_ : int
        Number of output columns, ``24 * (21 + n_mfcc)``.
    skipped_ : list of SkippedFile
        After a ``transform`` of segments: the files it skipped under
        ``on_error="skip"``, each with its reason; their rows are NaN.
        Segments without audio under ``missing="nan"`` are not in it.

    See Also
    --------
    skmv.features.audio.segment_features : The row of one segment.
    skmv.features.audio.mirstat : The per-segment statistics.

    Notes
    -----
    Every row of a segment with audio is finite: silence and features
    undefined on a frame follow the conventions of each function (0
    brightness, spread, roughness and key clarity for a silent frame; the
    prior's 120 BPM for a window without onsets; no periodicity for a flat
    curve). Frame-level choices and their
    differences from MIRtoolbox are documented with each function. The
    output is deterministic: the same input gives the same features.

    References
    ----------
    O. Lartillot and P. Toiviainen, "A Matlab toolbox for musical feature
    extraction from audio", DAFx 2007.

    B. Xu, X. Wang, X. Tang, "Fusing music and video modalities using
    multi-timescale shared representations", ACM Multimedia 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features.audio import AudioFeaturizer
    >>> sr = 22050
    >>> t = np.arange(6 * sr) / sr
    >>> X = [np.sin(2 * np.pi * f * t).astype(np.float32) for f in (220.0, 440.0)]
    >>> featurizer = AudioFeaturizer(input="content", sr=sr).fit(X)
    >>> featurizer.transform(X).shape
    (2, 816)
    >>> featurizer.get_feature_names_out()[:2]
    array(['tempo_mean_mean', 'tempo_mean_std'], dtype=object)

    A segment without audio (None here; a Segment of silent footage with
    ``input="segments"``) gives a row of NaN with ``missing="nan"``:

    >>> rows = featurizer.set_params(missing="nan").transform([None, X[1]])
    >>> np.isnan(rows[0]).all(), np.isfinite(rows[1]).all()
    (np.True_, np.True_)
    """

    _parameter_constraints: dict = {
        "input": [StrOptions({"segments", "content"})],
        "sr": [Interval(Real, 3000, None, closed="neither")],
        "n_fft": [Interval(Integral, 64, None, closed="left")],
        "hop_length": [Interval(Integral, 1, None, closed="left")],
        "n_mfcc": [Interval(Integral, 0, N_MELS, closed="both")],
        "pool_window": [Interval(Real, 0, None, closed="neither")],
        "pool_hop": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Integral, None],
        "memory": [None, str, HasMethods(["cache"])],
        "on_error": [StrOptions({"raise", "skip"})],
        "missing": [StrOptions({"error", "nan"})],
        "verbose": ["verbose"],
    }

    # Signals per cached, parallel unit of work with input="content".
    _chunk = 32

    def __init__(
        self,
        input="segments",
        *,
        sr=44100,
        n_fft=2048,
        hop_length=1024,
        n_mfcc=13,
        pool_window=0.25,
        pool_hop=0.125,
        n_jobs=None,
        memory=None,
        on_error="raise",
        missing="error",
        verbose=0,
    ):
        self.input = input
        self.sr = sr
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mfcc = n_mfcc
        self.pool_window = pool_window
        self.pool_hop = pool_hop
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error
        self.missing = missing
        self.verbose = verbose

    def _feature_params(self):
        return dict(
            sr=self.sr,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            n_mfcc=self.n_mfcc,
            pool_window=self.pool_window,
            pool_hop=self.pool_hop,
        )

    @staticmethod
    def _warm_up():
        _warm_up()

    def _featurize(self, y):
        """The float32 feature row of one decoded mono segment ``y``."""
        y = np.asarray(y, dtype=np.float32)
        if y.ndim != 1:
            raise ValueError(f"Expected a 1-D mono signal, got shape {y.shape}.")
        return segment_features(y, **self._feature_params())

    def _signals(self, X):
        """The ``"content"`` signals of X as float32 1-D arrays, checked;
        None for a missing segment (``missing="nan"``)."""
        if isinstance(X, np.ndarray):
            if X.ndim != 2:
                raise ValueError(
                    "With input='content', X is a list of 1-D signals or a 2-D "
                    f"array with one signal per row; got an array of shape "
                    f"{X.shape}. Wrap a single signal in a list."
                )
        elif isinstance(X, (str, bytes)) or not hasattr(X, "__iter__"):
            raise TypeError(
                "With input='content', X is a list of 1-D signals; got "
                f"{type(X).__name__}."
            )
        signals = [self._signal(x, i) for i, x in enumerate(X)]
        if not signals:
            raise ValueError("X holds no segment.")
        return signals

    def _signal(self, x, index):
        name = type(self).__name__
        if x is None:
            if self.missing == "nan":
                return None
            raise ValueError(
                f"{name}: segment {index} is None, a segment without audio; "
                "missing='nan' makes its row NaN."
            )
        try:
            a = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: segment {index} is not an array: {exc}") from exc
        if a.dtype.kind not in "fiu" or a.ndim != 1:
            raise ValueError(
                f"{name}: segment {index} must be a 1-D real mono signal, got "
                f"{a.dtype} array of shape {a.shape}"
                + (
                    "; Segment objects need input='segments'."
                    if a.dtype == object
                    else "; average the channels of multichannel audio first."
                )
            )
        if a.shape[0] < self.n_fft:
            raise ValueError(
                f"{name}: segment {index} has {a.shape[0]} samples, fewer than "
                f"n_fft={self.n_fft} (one frame)."
            )
        a = a.astype(np.float32, copy=False)
        if not np.isfinite(a).all():
            raise ValueError(
                f"{name}: segment {index} has non-finite samples (NaN or infinity)."
            )
        return a

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters (and, for ``"content"``, the signals).

        Nothing is learned from X: the features of a segment depend on that
        segment only.

        Parameters
        ----------
        X : list of Segment, or list of 1-D arrays / 2-D array
            As ``input`` says.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The featurizer, with ``n_features_out_`` set.
        """
        if self.input == "content":
            self._signals(X)
        self.n_features_out_ = len(feature_names(n_mfcc=self.n_mfcc))
        return self

    def transform(self, X):
        """Feature rows of the segments of X.

        Parameters
        ----------
        X : list of Segment, or list of 1-D arrays / 2-D array
            As ``input`` says.

        Returns
        -------
        X_new : ndarray of shape (n_segments, n_features_out_), float32
            One row per segment, in the order of X, columns named by
            :meth:`get_feature_names_out`; rows of segments without audio
            are NaN (``missing="nan"``).
        """
        self._validate_params()
        if self.input == "segments":
            rows, self.skipped_ = featurize_segments(self, X, kind="audio")
            return rows
        signals = self._signals(X)
        n_segments = len(signals)
        present = [i for i, signal in enumerate(signals) if signal is not None]
        signals = [signals[i] for i in present]
        compute = check_memory(self.memory).cache(_content_rows)
        params = self._feature_params()
        chunks = [
            signals[i : i + self._chunk] for i in range(0, len(signals), self._chunk)
        ]
        blocks = joblib.Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            joblib.delayed(compute)(params, chunk) for chunk in chunks
        )
        out = np.full((n_segments, self._n_features_out), np.nan, np.float32)
        if blocks:
            out[present] = np.concatenate(blocks)
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``{curve}_{pooling}_{statistic}``.

        Parameters
        ----------
        input_features : None
            Ignored: the input is audio, not named columns.

        Returns
        -------
        feature_names_out : ndarray of str objects, shape (n_features_out_,)
        """
        return np.asarray(feature_names(n_mfcc=self.n_mfcc), dtype=object)

    @property
    def _n_features_out(self):
        """Columns of the output, from the parameters alone (no fit needed)."""
        return len(feature_names(n_mfcc=self.n_mfcc))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # X is a list of segments or of signals, not a feature matrix.
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
