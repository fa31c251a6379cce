"""Paired modalities with a shared latent cause, for tests and examples."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from .. import _backend as B

__all__ = ["make_music_video_features", "make_paired_modalities"]

# Spread of the class means in latent space, in units of the per-sample
# variation (which has unit variance): classes overlap a little, and the
# per-sample part still carries as much information as the class.
_CLASS_SEP = 1.0


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": ["array-like"],
        "n_latent": [Interval(Integral, 1, None, closed="left")],
        "n_classes": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_paired_modalities(
    n_samples=500,
    *,
    n_features=(40, 30),
    n_latent=6,
    n_classes=4,
    noise=0.5,
    shuffle=True,
    random_state=None,
):
    """Generate paired samples of modalities that share a latent cause.

    A toy stand-in for the music and the video of one music-video segment:
    each sample has a latent vector ``z``, its class mean plus a continuous
    per-sample part, and every modality sees ``z`` through its own random
    nonlinear map, with its own noise::

        z = mu[y] + e,                  e ~ N(0, I_{n_latent}),
                                        mu[k] ~ N(0, I_{n_latent})
        x_m = tanh(z A_m + t_m) + noise * eps_m,       eps_m ~ N(0, I)

    with ``A_m`` of shape ``(n_latent, n_features[m])``, entries
    ``N(0, 1 / n_latent)``, and offsets ``t_m ~ U(-1, 1)`` drawn afresh for
    each modality. The modalities thus share information about the class
    and about each sample: one predicts the other (nonlinearly), which is
    what a shared representation should find.

    Parameters
    ----------
    n_samples : int, default=500
        Number of samples (rows).
    n_features : sequence of int, default=(40, 30)
        Number of features of each modality; its length is the number of
        modalities (at least one).
    n_latent : int, default=6
        Dimension of the shared latent vector ``z``.
    n_classes : int, default=4
        Number of classes; their sizes differ by at most one sample.
    noise : float, default=0.5
        Standard deviation of the independent Gaussian noise added to every
        feature; each feature's noise-free part lies in (-1, 1).
    shuffle : bool, default=True
        Shuffle the rows; otherwise they come sorted by class.
    random_state : int, RandomState instance or None, default=None
        Seeds everything. Pass an int for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, sum(n_features)), dtype float32
        The modalities side by side, in the order of ``n_features``:
        modality ``m`` occupies columns
        ``sum(n_features[:m]) <= j < sum(n_features[:m + 1])``.
    y : ndarray of shape (n_samples,), dtype int64
        The class of each sample, in ``0 .. n_classes - 1``.

    See Also
    --------
    skmv.shared.SharedRBM : Learns a shared representation of such blocks.

    Examples
    --------
    >>> from skmv.datasets import make_paired_modalities
    >>> X, y = make_paired_modalities(n_samples=100, random_state=0)
    >>> X.shape, X.dtype, y.shape
    ((100, 70), dtype('float32'), (100,))
    >>> X_a, X_b = X[:, :40], X[:, 40:]  # the two modalities
    """
    n_features = _check_n_features(n_features)
    rng = check_random_state(random_state)

    y = np.arange(n_samples, dtype=np.int64) * n_classes // n_samples
    centers = rng.normal(scale=_CLASS_SEP, size=(n_classes, n_latent))
    z = centers[y] + rng.normal(size=(n_samples, n_latent))

    blocks = []
    for width in n_features:
        A = rng.normal(scale=1.0 / np.sqrt(n_latent), size=(n_latent, width))
        t = rng.uniform(-1.0, 1.0, size=width)
        signal = np.tanh(B.matmul(z, A, np) + t)
        blocks.append(signal + noise * rng.normal(size=(n_samples, width)))
    X = np.concatenate(blocks, axis=1).astype(np.float32)

    if shuffle:
        order = rng.permutation(n_samples)
        X, y = X[order], y[order]
    return X, y


def _check_n_features(n_features):
    widths = list(np.ravel(np.asarray(n_features, dtype=object)))
    if np.ndim(n_features) != 1 or not widths:
        raise ValueError(
            "n_features must be a sequence with one int per modality, got "
            f"{n_features!r}."
        )
    for m, width in enumerate(widths):
        if not isinstance(width, Integral) or isinstance(width, bool) or width < 1:
            raise ValueError(
                f"n_features[{m}] must be an int >= 1 (the features of modality "
                f"{m}), got {width!r}."
            )
    return [int(width) for width in widths]


# make_music_video_features: the round, documented strengths of the process.
# Each part of a segment's latent vector (clip state, motif, jitter) has unit
# variance per dimension; the repeated motif is thus half of what varies
# within a clip, and the class shift, at style_strength=1, is one such
# standard deviation in two latent dimensions.
_SEGMENT_SECONDS = 6
_POSITIVE_PERIOD = 5
_NEGATIVE_PERIODS = (3, 4, 6, 7, 8)
_LOCAL_SHIFT = 1.0
_N_SHIFTED = 2
# What both generators did before style_strength existed: a shift of one
# standard deviation, and every segment of a clip of the style on its motif.
_LEGACY_STYLE = (1.0, 1.0)


def _check_style_strength(style_strength):
    """``(local, repetition)`` from a float or a pair, with errors that name
    the parameter."""
    if np.ndim(style_strength) == 0:
        # Interval(Real, 0, None) of validate_params has checked it.
        local = float(style_strength)
        return local, min(local, 1.0)
    values = list(np.ravel(np.asarray(style_strength, dtype=object)))
    if np.ndim(style_strength) != 1 or len(values) != 2:
        raise ValueError(
            "style_strength must be a float >= 0 or a pair (local, repetition), "
            f"got {style_strength!r}."
        )
    for name, value, high in zip(("local", "repetition"), values, (np.inf, 1.0)):
        if (
            not isinstance(value, Real)
            or isinstance(value, bool)
            or not 0.0 <= value <= high
        ):
            bound = ">= 0" if high == np.inf else "in [0, 1]"
            raise ValueError(
                f"style_strength's {name} part must be a float {bound}, got {value!r}."
            )
    return float(values[0]), float(values[1])


@validate_params(
    {
        "n_clips": [Interval(Integral, 1, None, closed="left")],
        "n_segments": [Interval(Integral, 1, None, closed="left")],
        "n_features": ["array-like"],
        "n_latent": [Interval(Integral, 1, None, closed="left")],
        "positive_fraction": [Interval(Real, 0, 1, closed="both")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "style_strength": [Interval(Real, 0, None, closed="left"), "array-like"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_music_video_features(
    n_clips=100,
    *,
    n_segments=30,
    n_features=(60, 40),
    n_latent=8,
    positive_fraction=0.1,
    noise=0.5,
    style_strength=1.5,
    random_state=None,
):
    """Generate segment features of music videos with a clip-level label.

    A stand-in, without any media, for the per-segment features of a corpus
    of music videos: ``n_clips`` clips of ``n_segments`` consecutive 6-second
    segments each, every segment a row ``[video | audio]``, and a binary
    clip label (a "style", about 10 % positives by default, as the Korean
    music videos of Xu, Wang and Tang, 2014). It is fast enough for unit
    tests and has the structure the estimators of skmv rely on: music and
    video of a segment share hidden causes, and the label has evidence that
    is partly local and partly visible only across segments.

    The process, for clip ``i`` with label ``y_i`` and segment ``t``, with
    ``style_strength = (a, r)`` (by default ``a = 1.5``, ``r = 1``)::

        c_i ~ N(0, I)                    clip state (tempo, key, mode...)
        Q_i uniform on {3, 4, 6, 7, 8}   the clip's own motif period
        b_i[0 .. Q_i - 1] ~ N(0, I)      the clip's own motif
        if y_i == 1:
            f_i[0 .. 4] ~ N(0, I)        the style's motif, period 5
            w_it ~ Bernoulli(r)          segment t follows it
        m_it = f_i[t mod 5] if y_i == 1 and w_it, else b_i[t mod Q_i]
        z_it = c_i + m_it + e_it + a * y_i * s,
                                         e_it ~ N(0, I) (jitter)
        x_m,it = tanh(z_it A_m + t_m) + noise * eps_m,it

    all vectors of dimension ``n_latent``; ``s`` is 1 in the first two
    latent dimensions and 0 elsewhere. As in
    :func:`make_paired_modalities`, each modality (video, audio) has its own
    random map, ``A_m`` with entries ``N(0, 1 / n_latent)`` and ``t_m ~ U(-1,
    1)``, shared by all clips, and its own independent noise ``eps_m ~ N(0,
    I)``.

    So the label leaves two cues, whose strengths ``style_strength`` sets
    (their units are round and fixed, not tuned to favour any method):

    * a local one: positive segments' latent mean is shifted by ``a``
      standard deviations of each part (1.0 each) in two latent dimensions,
      against a per-dimension variance of 3 (clip state, motif, jitter);
      every segment carries it, buried in that variation and in the noise;
    * a structural one: a positive clip's segments follow a motif of period
      5 (30 s), each with probability ``r``, so that a pair ``z_it`` and
      ``z_i(t+5)`` shares its motif part (half of the within-clip variance;
      the jitter does not repeat) with probability ``r ** 2``. Every other
      segment, and every segment of a negative clip, follows the clip's own
      motif, of period 3, 4, 6, 7 or 8 segments, of which neither 5 nor 10
      is a multiple (its segments ``t`` and ``t + 5`` or ``t + 10`` share
      nothing but the clip state): repetition as such is not the cue,
      repetition at lag 5 is. Seeing it needs at least 6 segments of a clip.

    With ``style_strength=0`` positive and negative clips have the same
    distribution (the label leaves no trace: every classifier is at chance,
    its expected average precision the share of positives); both cues grow
    with it, the local one without bound. Apart from the local shift, single
    segments of both classes have the same distribution: a per-segment
    classifier cannot reach a perfect score at moderate strengths, while
    features over several segments of a window can do better.

    Parameters
    ----------
    n_clips : int, default=100
        Number of clips.
    n_segments : int, default=30
        Segments per clip, each 6 s (30 segments: 3 minutes, three 60 s
        windows of 10 segments).
    n_features : pair of int, default=(60, 40)
        Number of video and of audio features of a segment row.
    n_latent : int, default=8
        Dimension of the latent vectors.
    positive_fraction : float in [0, 1], default=0.1
        Fraction of positive clips: exactly ``round(n_clips *
        positive_fraction)`` clips, chosen at random, are positive.
    noise : float, default=0.5
        Standard deviation of the independent Gaussian noise added to every
        feature; each feature's noise-free part lies in (-1, 1).
    style_strength : float >= 0 or (float, float), default=1.5
        How visible the label is. A pair ``(a, r)`` sets the local cue, a
        shift of ``a >= 0`` standard deviations, and the repetition cue, the
        probability ``r`` in [0, 1] that a segment of a positive clip
        follows the style's motif of period 5. A float ``s`` means ``(s,
        min(s, 1))``: 0 leaves no trace of the label, 1 is a shift of one
        standard deviation with every segment on the motif (the process of
        skmv before the parameter existed, draw for draw), larger values
        shift further. The default, 1.5, was chosen by a rule fixed before
        measuring: the strength, on a grid of 0, 0.5, 1, 1.5, 2 and 3, at
        which the best of three classifiers of 60-second windows
        (multi-timescale fusion, averaging its base-1 predictions, averaging
        SVM predictions) comes closest to halfway between chance and a
        perfect average precision (0.57 against 0.55 here, for 400 clips of
        10 segments; the Results page of the documentation has the
        measurements).
    random_state : int, RandomState instance or None, default=None
        Seeds everything. Pass an int for reproducible output.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the fields

        X : ndarray of shape (n_clips * n_segments, sum(n_features)), float32
            Segment rows ``[video | audio]``; clips are contiguous, rows of
            a clip in time order (clip ``i`` is rows ``i * n_segments`` to
            ``(i + 1) * n_segments - 1``).
        y : ndarray of shape (n_clips * n_segments,), int64
            The label of each row's clip.
        groups : ndarray of shape (n_clips * n_segments,), int64
            The clip of each row, ``0 .. n_clips - 1``; pass it to
            :func:`skmv.timescale.make_windows`.
        clip_labels : ndarray of shape (n_clips,), int64
            The label of each clip.
        modalities : list of (str, slice)
            ``[("video", slice(0, n_video)), ("audio", slice(n_video,
            n_video + n_audio))]``: the columns of each modality.
        latent : ndarray of shape (n_clips * n_segments, n_latent)
            ``z_it`` of each row.
        clip_state : ndarray of shape (n_clips, n_latent)
            ``c_i`` of each clip.
        periods : ndarray of shape (n_clips,), int64
            The motif period of each clip, in segments: 5 for positive clips
            (the style's motif, which their segments follow where
            ``style_segments`` says), ``Q_i`` for negative ones.
        style_segments : ndarray of shape (n_clips * n_segments,), bool
            ``w_it``: True where a positive clip's segment follows the
            style's motif; False for every row of a negative clip.
        style_strength : tuple of (float, float)
            ``(a, r)``, the strengths of the local and the repetition cue.
        segment_seconds : int
            Length of a segment, 6 s.

    See Also
    --------
    make_paired_modalities : Paired modalities of independent samples.
    skmv.timescale.make_windows : Segment rows to 60 s window rows.

    Examples
    --------
    >>> from skmv.datasets import make_music_video_features
    >>> data = make_music_video_features(20, random_state=0)
    >>> data.X.shape, data.X.dtype, int(data.clip_labels.sum())
    ((600, 100), dtype('float32'), 2)
    >>> [name for name, _ in data.modalities]
    ['video', 'audio']

    Without the label's traces, or with the repetition cue alone:

    >>> make_music_video_features(20, style_strength=0, random_state=0).style_strength
    (0.0, 0.0)
    >>> data = make_music_video_features(20, style_strength=(0, 1), random_state=0)
    >>> data.style_strength, data.periods[data.clip_labels == 1].tolist()
    ((0.0, 1.0), [5, 5])
    """
    n_features = _check_n_features(n_features)
    if len(n_features) != 2:
        raise ValueError(
            "n_features must be a pair (video features, audio features), got "
            f"{len(n_features)} modalities."
        )
    local, repetition = _check_style_strength(style_strength)
    rng = check_random_state(random_state)

    # Clip states first: labels drawn by a fresh RandomState(seed).permutation
    # would coincide with a splitter seeded alike (GroupShuffleSplit), which
    # would put every positive clip on one side.
    clip_state = rng.normal(size=(n_clips, n_latent))
    n_positive = int(round(n_clips * positive_fraction))
    clip_labels = np.zeros(n_clips, dtype=np.int64)
    clip_labels[rng.permutation(n_clips)[:n_positive]] = 1
    own_periods = rng.choice(_NEGATIVE_PERIODS, size=n_clips)
    periods = np.where(clip_labels == 1, _POSITIVE_PERIOD, own_periods).astype(np.int64)

    shift = np.zeros(n_latent)
    shift[:_N_SHIFTED] = _LOCAL_SHIFT * local
    t = np.arange(n_segments)
    latent = np.empty((n_clips, n_segments, n_latent))
    follows = np.zeros((n_clips, n_segments), dtype=bool)
    for i in range(n_clips):
        # The draws of the default (repetition 1) are those of the process
        # before style_strength existed: one motif per clip, nothing more.
        period = _POSITIVE_PERIOD if clip_labels[i] else own_periods[i]
        motif = rng.normal(size=(period, n_latent))
        parts = motif[t % period]
        if clip_labels[i]:
            follows[i] = True
            if repetition < 1:
                own = rng.normal(size=(own_periods[i], n_latent))
                follows[i] = rng.uniform(size=n_segments) < repetition
                parts[~follows[i]] = own[t[~follows[i]] % own_periods[i]]
        latent[i] = clip_state[i] + parts + clip_labels[i] * shift
    latent += rng.normal(size=latent.shape)
    latent = latent.reshape(n_clips * n_segments, n_latent)

    blocks, modalities, start = [], [], 0
    for name, width in zip(("video", "audio"), n_features):
        A = rng.normal(scale=1.0 / np.sqrt(n_latent), size=(n_latent, width))
        offset = rng.uniform(-1.0, 1.0, size=width)
        signal = np.tanh(B.matmul(latent, A, np) + offset)
        blocks.append(signal + noise * rng.normal(size=signal.shape))
        modalities.append((name, slice(start, start + width)))
        start += width
    X = np.concatenate(blocks, axis=1).astype(np.float32)

    groups = np.repeat(np.arange(n_clips, dtype=np.int64), n_segments)
    return Bunch(
        X=X,
        y=clip_labels[groups],
        groups=groups,
        clip_labels=clip_labels,
        modalities=modalities,
        latent=latent,
        clip_state=clip_state,
        periods=periods,
        style_segments=follows.ravel(),
        style_strength=(local, repetition),
        segment_seconds=_SEGMENT_SECONDS,
    )
