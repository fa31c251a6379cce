"""A generated corpus of music videos: real H.264/AAC files whose music and
picture share hidden causes, segment by segment, and whose clips carry a
binary "style" label with local and cross-segment evidence."""

from __future__ import annotations

import json
import math
import os
import tempfile
from numbers import Integral, Real

import joblib
import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, Options, validate_params

from .._files import publish
from ..io._units import time_to_frames, time_to_samples
from ._media import write_media
from ._synthetic import _LEGACY_STYLE, _check_style_strength

__all__ = ["make_music_videos"]

# Bumped whenever the rendering changes, so that files made by an older
# skmv are encoded again rather than reused.
_FORMAT = 1

# The story of make_music_video_features, with the same round strengths:
# clip state, motif and jitter each have unit variance per latent dimension;
# the label shifts one latent dimension by style_strength such standard
# deviations.
_POSITIVE_PERIOD = 5
_NEGATIVE_PERIODS = (3, 4, 6, 7, 8)
_LOCAL_SHIFT = 1.0
# Each modality reads the shared latent with its own noise, of the same
# standard deviation as the features' noise in make_music_video_features.
_MODALITY_NOISE = 0.5
# About the standard deviation of a negative segment's latent as a modality
# reads it (sqrt(3 + 0.25)): Phi(z / 1.8) is then close to uniform on (0, 1).
_LATENT_SCALE = 1.8
# The latent dimensions, and what each one drives in sound and in picture.
_LATENTS = ("brilliance", "energy", "register")

_TEMPO_RANGE = (70, 160)  # BPM, both included
_KEYS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_ROLES = ("verse", "chorus")
# Lead instrument of a segment, and the texture the picture shows with it.
_INSTRUMENTS = ("organ", "reed", "pluck", "fm")
_TEXTURES = ("stripes", "rings", "dots", "checks")
# Drum patterns on the eight eighth-note steps of a 4/4 bar. Every beat
# (even step) has a kick or a snare, so that all patterns mark the tempo.
_DRUM_PATTERNS = {
    "four_on_the_floor": {"kick": (0, 2, 4, 6), "snare": (2, 6)},
    "backbeat": {"kick": (0, 4, 5), "snare": (2, 6)},
    "syncopated": {"kick": (0, 3, 4), "snare": (2, 6)},
}
_AAC_RATES = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000}

# Sound. Levels are peak amplitudes before the section loudness; the mix
# goes through tanh, so that loud sections saturate gently, never wrap.
_LEAD_LEVEL = 0.25
_BASS_LEVEL = 0.3
_PAD_LEVEL = 0.05  # each of the three chord notes
_KICK_LEVEL = 0.6
_SNARE_LEVEL = 0.3
_HAT_LEVEL = 0.12
_N_HARMONICS = 8
# (attack, decay) time constants of each instrument, in seconds.
_ENVELOPES = {
    "organ": (0.01, 1.5),
    "reed": (0.03, 2.0),
    "pluck": (0.003, 0.25),
    "fm": (0.005, 0.6),
}
_RAMP = 0.01  # seconds of fade at note ends and section boundaries
# Encoder settings: three times faster than write_media's defaults, which
# matters for a corpus; at these sizes and rates the quality stays high.
_VIDEO_OPTIONS = {"preset": "ultrafast", "crf": "18", "threads": "1"}
# 64 kbit/s of AAC, or less at low rates, where AAC allows less.
_AUDIO_OPTIONS = {"aac_coder": "fast", "aac_pns": "0"}
_AUDIO_BITS_PER_SAMPLE = 4
_AUDIO_MAX_BITRATE = 64000

# Picture. A texture in a horizontal band over a plain background; the band
# height (a fraction of the frame's) and the beat flash, which decays with
# this time constant (s), and dims the picture between beats to this much.
_BAND_WIDTH = 0.22
_FLASH_DECAY = 0.1
_FLASH_FLOOR = 0.7
_BACKGROUND = {"major": (0.4, 0.35), "minor": (0.6, 0.18)}  # saturation, value
# Cycles of the texture's motion per beat, by role.
_SPEED = {"verse": 0.25, "chorus": 0.5}


def _phi(z):
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _hue(pitch_class):
    # Around the circle of fifths: keys and chords a fifth apart get
    # neighbouring hues, as related keys sound alike.
    return ((7 * int(pitch_class)) % 12) / 12.0


@validate_params(
    {
        "n_clips": [Interval(Integral, 1, None, closed="left")],
        "clip_seconds": [Interval(Real, 0, None, closed="neither")],
        "directory": [str, os.PathLike],
        "positive_fraction": [Interval(Real, 0, 1, closed="both")],
        "size": [tuple, list],
        "fps": [Interval(Integral, 1, None, closed="left")],
        "sr": [Options(Integral, _AAC_RATES)],
        "segment_seconds": [Interval(Integral, 1, None, closed="left")],
        "style_strength": [Interval(Real, 0, None, closed="left"), "array-like"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "overwrite": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_music_videos(
    n_clips=20,
    *,
    clip_seconds=60,
    directory,
    positive_fraction=0.1,
    size=(160, 120),
    fps=12,
    sr=22050,
    segment_seconds=6,
    style_strength=3.0,
    random_state=None,
    n_jobs=None,
    overwrite=False,
):
    """Generate a corpus of music videos as real H.264/AAC MP4 files.

    Every clip is a song and its video, synthesised with NumPy and encoded
    with :func:`write_media`: a tempo, a key and a mode; a drum pattern;
    sections of ``segment_seconds`` each (verses and choruses) with their
    own chord, lead instrument, loudness and register; and a picture whose
    textures move with the tempo, flash on the beats, take their colours
    from the key and the chord, and cut at every section boundary. It tells
    the story of :func:`make_music_video_features` in media form: music and
    video of a segment share hidden causes, and a binary clip label (a
    "style", about 10 % positives by default) has evidence that is partly
    local and partly visible only across segments. Cut the files with
    :func:`skmv.io.segment_media` and describe them with the featurizers.

    **Clip state** (clip ``i`` with label ``y_i``, all draws independent):

    * tempo: an integer uniform on 70 .. 160 BPM; beats at ``k * 60 /
      tempo`` seconds from 0, in bars of 4;
    * key: uniform over the 12 pitch classes; mode: major or minor (natural
      minor), with probability 1/2 each;
    * drum pattern: one of ``"four_on_the_floor"``, ``"backbeat"``,
      ``"syncopated"``, uniformly; each has a kick or a snare on every beat;
    * a continuous clip state ``c_i ~ N(0, I_3)`` in the three latent
      dimensions (brilliance, energy, register).

    **Segments.** Clip ``i`` is cut into segments of ``segment_seconds``
    (the last one shorter when ``clip_seconds`` is not a multiple), and
    each segment is one section of the song. The sections follow a motif of
    ``P_i`` elements, repeated: segment ``t`` plays element ``t mod P_i``,
    with ``P_i = 5`` if ``y_i == 1`` and ``P_i`` uniform on ``{3, 4, 6, 7,
    8}`` otherwise. A motif element draws, uniformly and independently, a
    role (verse or chorus), a chord (a scale degree 0 .. 6, whose triad is
    built on the scale of the key and mode), a lead instrument (``"organ"``,
    ``"reed"``, ``"pluck"`` or ``"fm"``), and a latent part ``m ~ N(0,
    I_3)``. With ``style_strength = (a, r)``, each segment of a positive
    clip plays its motif with probability ``r`` (1 by default), and
    otherwise the element ``t mod Q_i`` of a second motif, drawn as a
    negative clip's (``Q_i`` uniform on ``{3, 4, 6, 7, 8}``). The latent of
    segment ``t`` is, as in :func:`make_music_video_features`::

        z_it = c_i + m_it + e_it + a * y_i * s,  e_it ~ N(0, I_3)

    with ``m_it`` the latent part of the element it plays and ``s = (1, 0,
    0)``: the label shifts brilliance only. Each modality
    reads it with its own noise, ``z_it + 0.5 * eps``, ``eps ~ N(0, I_3)``,
    and uses ``u = Phi(. / 1.8)`` (``Phi`` the standard normal distribution
    function; ``u`` is close to uniform on (0, 1) for negative clips).

    **What each hidden cause does, in sound and in picture:**

    ========== ====================================== ==========================
    cause      music                                  video
    ========== ====================================== ==========================
    tempo      beat grid of drums, bass and lead      motion speed; a flash on
                                                      every beat
    key, mode  pitch classes of every chord           background hue (key on the
                                                      circle of fifths) and
                                                      darkness (minor darker)
    chord      bass root, pad triad, lead notes       foreground hue (chord root
                                                      on the circle of fifths)
    instrument lead timbre: organ (all harmonics),    texture: stripes, rings,
               reed (odd harmonics), pluck (fast      dots, checks (in that
               decay), fm (frequency modulation)      order)
    role       chorus: hi-hats on eighths, lead on    chorus: texture moves
               eighths (verse: on beats)              twice as fast
    brilliance harmonic amplitudes ``h ** -(2.5 - 2   foreground saturation
               u)``; fm index ``0.5 + 3 u``           ``0.2 + 0.8 u``
    energy     section loudness ``-12 + 12 u`` dB     brightness (HSV value)
                                                      ``0.35 + 0.65 u``
    register   lead pitches: chord tones within 6     band height: centre at
               semitones of MIDI ``57 + 24 u``        ``0.15 + 0.7 (1 - u)`` of
                                                      the frame from the top
    ========== ====================================== ==========================

    **What is not shared** (each modality's own detail): the lead notes,
    drawn uniformly among the chord tones in range on the lead's grid; the
    drum pattern and the drums' noise; the texture's phase at each cut
    (uniform); and each modality's reading noise above.

    **Sound**, mono at ``sr``: a lead of 8 additive harmonics (or simple
    FM) with attack/decay envelopes; a bass playing the chord root in
    octave 2 on every beat; a pad holding the chord's triad (its root in
    octave 3) through the section; kick, snare and hi-hats on the pattern's eighth-
    note steps; the section loudness applied to the mix with 10 ms ramps at
    the boundaries, then a ``tanh`` limiter. **Picture**, RGB ``size`` at
    ``fps``: a plain background and a texture in a band of 22 % of the
    frame's height around the register's centre; brightness times ``0.7 +
    0.3 * exp(-(seconds since the last beat) / 0.1)``; a new scene (colours,
    texture, band, phase) at every section boundary.

    **What the label changes**, in round units (not tuned to favour any
    method) that ``style_strength = (a, r)`` scales:

    * locally, positive clips' brilliance is shifted by ``a`` standard
      deviations of each latent part (1.0 each, against a per-dimension
      variance of 3 within a class): their lead is brighter and their
      colours more saturated in every segment, which at ``a = 1`` one
      segment shows only weakly;
    * across segments, positive clips repeat their motif every 5 segments
      (30 s with 6 s segments) in the segments that play it, a fraction
      ``r`` of them; negative clips repeat too, with periods of which
      neither 5 nor 10 is a multiple, so that repetition at lag 5, not
      repetition, is the cue. Seeing it needs at least 6 segments.

    With ``style_strength=0`` positive and negative clips are drawn alike:
    the label leaves no trace, and every classifier is at chance (its
    expected average precision is the share of positives).

    Parameters
    ----------
    n_clips : int, default=20
        Number of clips (files).
    clip_seconds : float, default=60
        Length of each clip, in seconds; at least ``segment_seconds``.
    directory : str or os.PathLike
        Where to write the files ``clip_0000.mp4``, ``clip_0001.mp4``, ...,
        each with a JSON sidecar ``clip_0000.json`` holding what made it;
        created if missing. Other files there are left alone (those of a
        larger corpus made there before, say): pass the returned ``paths``,
        not the directory, to :func:`skmv.io.segment_media`.
    positive_fraction : float in [0, 1], default=0.1
        Fraction of positive clips: exactly ``round(n_clips *
        positive_fraction)`` clips, chosen at random, are positive.
    size : (int, int), default=(160, 120)
        ``(width, height)`` of the video, in pixels; even numbers.
    fps : int, default=12
        Frame rate, in frames per second.
    sr : int, default=22050
        Audio sampling rate, in Hz; one AAC supports (8000, 11025, 12000,
        16000, 22050, 24000, 32000, 44100, 48000).
    segment_seconds : int, default=6
        Length of a section, the unit of the motif (the paper's segments).
    style_strength : float >= 0 or (float, float), default=3.0
        How visible the label is. A pair ``(a, r)`` sets the local cue, a
        shift of ``a >= 0`` standard deviations of brilliance, and the
        repetition cue, the probability ``r`` in [0, 1] that a segment of a
        positive clip plays the motif of period 5. A float ``s`` means
        ``(s, min(s, 1))``: 0 leaves no trace of the label, 1 is a shift of
        one standard deviation with every section on the motif, larger
        values shift further. 1 makes the files that skmv wrote before the
        parameter existed, and their sidecars from then are still current
        for it. The default, 3, was chosen by a rule fixed before measuring:
        the strength, on a grid of 0, 1, 2, 3 and 4, at which the best of
        three classifiers of 60-second windows (multi-timescale fusion,
        averaging its base-1 predictions, averaging SVM predictions) comes
        closest to halfway between chance and a perfect average precision
        (0.50 against 0.55 here, for 200 one-minute clips, where 1 gave
        0.24 and 4 gave 0.68; the Results page of the documentation has the
        measurements).
        It is higher than :func:`make_music_video_features`' 1.5 because a
        latent is one of thousands of features of the media here.
    random_state : int, RandomState instance or None, default=None
        Seeds everything. Pass an int for reproducible output.
    n_jobs : int or None, default=None
        Clips encoded in parallel by joblib workers; None means 1 unless in
        a :func:`joblib.parallel_config` context, -1 all processors. The
        files do not depend on it.
    overwrite : bool, default=False
        Encode every file again. Otherwise a file whose sidecar records the
        same parameters (and the file's size) is reused, and any other is
        encoded again; a different seed thus never reuses stale files.
        Files are encoded under a temporary name and renamed when complete,
        so that an interrupted run never leaves a truncated file under a
        final name.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the fields

        paths : list of str
            The absolute path of each clip's file, in clip order.
        clip_labels : ndarray of shape (n_clips,), int64
            The label of each clip.
        params : list of dict
            What generated each clip, in plain Python types (as in its
            sidecar): ``label``, ``seed``, ``tempo`` (BPM), ``key``,
            ``mode``, ``scale`` (pitch classes), ``drum_pattern`` (with its
            ``drum_steps``), ``period`` (segments), ``clip_state``,
            ``motif`` (its elements: ``role``, ``degree``, ``instrument``,
            ``latent``), ``section_boundaries`` (seconds) and
            ``segments``, one dict per segment: ``start``, ``end``,
            ``motif_index``, ``role``, ``degree``, ``chord`` (MIDI notes of
            the pad), ``instrument``, ``texture``, ``latent`` (``z_it``),
            ``audio_latent`` and ``video_latent`` (what each modality
            read), the rendered values ``harmonic_tilt``, ``fm_index``,
            ``loudness_db``, ``register`` (MIDI), ``saturation``,
            ``brightness``, ``band_centre``, ``foreground_hue``,
            ``background_hue``, ``phase``, and ``notes`` (``[onset,
            duration, MIDI]`` of each lead note). A positive clip with
            ``r < 1`` also has ``own_period`` and ``own_motif`` (the second
            motif, ``Q_i`` elements), and each of its segments ``on_motif``
            (False where it plays the second motif, whose element
            ``motif_index`` then names).
        style_strength : tuple of (float, float)
            ``(a, r)``, the strengths of the local and the repetition cue.
        segment_seconds : int
            Length of a section, as given.
        sr : int
            Audio sampling rate of the files, in Hz.
        fps : int
            Frame rate of the files.
        size : tuple of (int, int)
            ``(width, height)`` of the frames.

    Raises
    ------
    ValueError
        If ``clip_seconds < segment_seconds`` or ``size`` is not a pair of
        positive even ints.
    OSError
        If ``directory`` cannot be created or written to.

    See Also
    --------
    make_music_video_features : The same story as feature arrays, no media.
    skmv.io.segment_media : Cut the files into segments.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> from skmv.datasets import make_music_videos
    >>> from skmv.io import probe, segment_media
    >>> corpus = make_music_videos(2, clip_seconds=12, directory=tempfile.mkdtemp(),
    ...                            positive_fraction=0.5, size=(32, 24), sr=8000,
    ...                            random_state=0)
    >>> [os.path.basename(path) for path in corpus.paths]
    ['clip_0000.mp4', 'clip_0001.mp4']
    >>> corpus.clip_labels, [params["period"] for params in corpus.params]
    (array([1, 0]), [5, 3])
    >>> params = corpus.params[0]
    >>> params["tempo"], params["key"], params["mode"], params["section_boundaries"]
    (120, 'C', 'major', [0.0, 6.0, 12.0])
    >>> info = probe(corpus.paths[0])
    >>> info.duration, info.fps, info.width, info.height, info.sample_rate
    (12.0, 12.0, 32, 24, 8000)
    >>> len(segment_media(corpus.paths, seconds=6.0, isolate=False))
    4
    """
    width, height = _check_size(size)
    if clip_seconds < segment_seconds:
        raise ValueError(
            f"clip_seconds ({clip_seconds}) must be at least segment_seconds "
            f"({segment_seconds}): a clip holds at least one segment."
        )
    style = _check_style_strength(style_strength)
    directory = os.path.abspath(os.fspath(directory))
    _check_directory(directory)

    rng = check_random_state(random_state)
    # Seeds first: labels drawn by a fresh RandomState(seed).permutation
    # would coincide with a splitter seeded alike (GroupShuffleSplit).
    seeds = rng.randint(np.iinfo(np.int32).max, size=n_clips)
    n_positive = int(round(n_clips * positive_fraction))
    clip_labels = np.zeros(n_clips, dtype=np.int64)
    clip_labels[rng.permutation(n_clips)[:n_positive]] = 1

    params = [
        _clip_params(int(seed), int(label), clip_seconds, segment_seconds, style)
        for seed, label in zip(seeds, clip_labels)
    ]
    settings = {
        "clip_seconds": float(clip_seconds),
        "segment_seconds": int(segment_seconds),
        "size": [width, height],
        "fps": int(fps),
        "sr": int(sr),
        "style_strength": list(style),
    }
    paths = [os.path.join(directory, f"clip_{i:04d}.mp4") for i in range(n_clips)]
    joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_write_clip)(path, clip, settings, overwrite)
        for path, clip in zip(paths, params)
    )
    return Bunch(
        paths=paths,
        clip_labels=clip_labels,
        params=params,
        style_strength=style,
        segment_seconds=int(segment_seconds),
        sr=int(sr),
        fps=int(fps),
        size=(width, height),
    )


def _check_size(size):
    if len(size) != 2 or not all(
        isinstance(v, Integral) and not isinstance(v, bool) and v > 0 and v % 2 == 0
        for v in size
    ):
        raise ValueError(
            f"size must be (width, height), two positive even ints (H.264 "
            f"stores colour at half resolution); got {size!r}."
        )
    return int(size[0]), int(size[1])


def _check_directory(directory):
    try:
        os.makedirs(directory, exist_ok=True)
        # Fails now, naming the directory, rather than in a worker later.
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise OSError(
            f"make_music_videos cannot write to the directory {directory}: "
            f"{exc.strerror or exc}"
        ) from exc


# Generation: every choice of a clip, drawn from its own seed.


def _clip_params(seed, label, clip_seconds, segment_seconds, style):
    local, repetition = style
    rng = np.random.RandomState(seed)
    tempo = int(rng.randint(_TEMPO_RANGE[0], _TEMPO_RANGE[1] + 1))
    key_index = int(rng.randint(12))
    mode = ("major", "minor")[rng.randint(2)]
    pattern = sorted(_DRUM_PATTERNS)[rng.randint(len(_DRUM_PATTERNS))]
    negative_period = int(rng.choice(_NEGATIVE_PERIODS))
    period = _POSITIVE_PERIOD if label else negative_period
    clip_state = rng.normal(size=3)
    motif = [_motif_element(rng) for _ in range(period)]
    scale = [(key_index + step) % 12 for step in _SCALES[mode]]
    shift = np.array([_LOCAL_SHIFT * local * label, 0.0, 0.0])
    beat = 60.0 / tempo

    n_segments = math.ceil(clip_seconds / segment_seconds - 1e-9)
    boundaries = [float(t * segment_seconds) for t in range(n_segments)]
    boundaries.append(float(clip_seconds))
    # The default (repetition 1) draws nothing more than the process did
    # before style_strength existed, so its clips are the same, draw for draw.
    own_motif, on_motif = None, [True] * n_segments
    if label and repetition < 1:
        own_motif = [_motif_element(rng) for _ in range(negative_period)]
        on_motif = (rng.uniform(size=n_segments) < repetition).tolist()
    segments = []
    for t in range(n_segments):
        if on_motif[t]:
            index, element = t % period, motif[t % period]
        else:
            index = t % negative_period
            element = own_motif[index]
        latent = clip_state + np.asarray(element["latent"]) + rng.normal(size=3)
        latent = latent + shift
        audio = latent + _MODALITY_NOISE * rng.normal(size=3)
        video = latent + _MODALITY_NOISE * rng.normal(size=3)
        ua = [_phi(v / _LATENT_SCALE) for v in audio]
        uv = [_phi(v / _LATENT_SCALE) for v in video]
        degree = element["degree"]
        steps = [degree, degree + 2, degree + 4]
        chord = [48 + key_index + _SCALES[mode][s % 7] + 12 * (s // 7) for s in steps]
        register = 57.0 + 24.0 * ua[2]
        start, end = boundaries[t], boundaries[t + 1]
        step = beat / 2 if element["role"] == "chorus" else beat
        notes = _lead_notes(rng, start, end, step, chord, register)
        segment = {
            "start": start,
            "end": end,
            "motif_index": index,
            "role": element["role"],
            "degree": degree,
            "chord": chord,
            "instrument": element["instrument"],
            "texture": _TEXTURES[_INSTRUMENTS.index(element["instrument"])],
            "latent": latent.tolist(),
            "audio_latent": audio.tolist(),
            "video_latent": video.tolist(),
            "harmonic_tilt": 2.5 - 2.0 * ua[0],
            "fm_index": 0.5 + 3.0 * ua[0],
            "loudness_db": -12.0 + 12.0 * ua[1],
            "register": register,
            "saturation": 0.2 + 0.8 * uv[0],
            "brightness": 0.35 + 0.65 * uv[1],
            "band_centre": 0.15 + 0.7 * (1.0 - uv[2]),
            "foreground_hue": _hue(chord[0]),
            "background_hue": _hue(key_index),
            "phase": float(rng.uniform()),
            "notes": notes,
        }
        if own_motif is not None:
            segment["on_motif"] = on_motif[t]
        segments.append(segment)
    clip = {
        "label": label,
        "seed": seed,
        "tempo": tempo,
        "key": _KEYS[key_index],
        "mode": mode,
        "scale": scale,
        "drum_pattern": pattern,
        "drum_steps": {k: list(v) for k, v in _DRUM_PATTERNS[pattern].items()},
        "period": period,
        "clip_state": clip_state.tolist(),
        "motif": motif,
        "section_boundaries": boundaries,
        "segments": segments,
    }
    if own_motif is not None:
        clip["own_period"] = negative_period
        clip["own_motif"] = own_motif
    return clip


def _motif_element(rng):
    return {
        "role": _ROLES[rng.randint(2)],
        "degree": int(rng.randint(7)),
        "instrument": _INSTRUMENTS[rng.randint(len(_INSTRUMENTS))],
        "latent": rng.normal(size=3).tolist(),
    }


def _lead_notes(rng, start, end, step, chord, register):
    """``[onset, duration, midi]`` of the lead notes of one section: one per
    grid point of ``step`` seconds in it, a chord tone near ``register``."""
    pitch_classes = {p % 12 for p in chord}
    low = int(math.ceil(register - 6))
    candidates = [m for m in range(low, low + 13) if m % 12 in pitch_classes]
    first = math.ceil(start / step - 1e-9)
    onsets = np.arange(first, math.ceil(end / step - 1e-9)) * step
    onsets = onsets[onsets < end]
    picks = rng.randint(len(candidates), size=len(onsets))
    stops = np.append(onsets[1:], end)
    return [
        [float(a), float(b - a), int(candidates[k])]
        for a, b, k in zip(onsets, stops, picks)
    ]


# Rendering: params in, samples and frames out, deterministic.


def _write_clip(path, params, settings, overwrite):
    """Encode one clip unless its file is current; True if it was encoded."""
    stem = os.path.splitext(path)[0]
    sidecar = stem + ".json"
    record = {"format": _FORMAT, "settings": settings, "params": params}
    # Compare what a sidecar would hold, after the JSON round trip.
    record = json.loads(json.dumps(record))
    if not overwrite and _is_current(path, sidecar, record):
        return False
    # The sidecar goes first: a sidecar never vouches for a file that is
    # being replaced.
    if os.path.exists(sidecar):
        os.remove(sidecar)
    folder, name = os.path.split(path)
    # The temporary name has no media extension: segment_media on the
    # directory never picks up a file left by a killed run.
    handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    os.close(handle)
    try:
        audio = _render_audio(params, settings["sr"], settings["clip_seconds"])
        bitrate = min(_AUDIO_MAX_BITRATE, _AUDIO_BITS_PER_SAMPLE * settings["sr"])
        write_media(
            partial,
            video=_render_frames(params, settings),
            fps=settings["fps"],
            audio=audio,
            sr=settings["sr"],
            format="mp4",
            # Fast settings: the content is simple, and a corpus is large.
            # One encoder thread gives the same bytes whatever the worker
            # count, and small frames gain nothing from more.
            video_options=_VIDEO_OPTIONS,
            audio_options={**_AUDIO_OPTIONS, "b": str(bitrate)},
        )
        publish(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    record["bytes"] = os.path.getsize(path)
    _write_json(sidecar, record)
    return True


def _is_current(path, sidecar, record):
    try:
        with open(sidecar) as f:
            stored = json.load(f)
        size = os.path.getsize(path)
    except (OSError, ValueError):
        return False
    if not isinstance(stored, dict):
        return False
    if isinstance(stored.get("settings"), dict):
        # Sidecars written before style_strength existed describe its default,
        # whose files are the same bytes: they stay current.
        stored["settings"].setdefault("style_strength", list(_LEGACY_STYLE))
    return stored.pop("bytes", None) == size and stored == record


def _write_json(path, record):
    folder, name = os.path.split(path)
    handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(handle, "w") as f:
            json.dump(record, f)
        publish(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise


def _midi_hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def _voice(y, sr, onsets, durations, freqs, amplitudes, envelope, fm_index=None):
    """Add monophonic notes (times in seconds) to ``y``, in place.

    ``amplitudes`` are the peak amplitudes of the harmonics (1, 2, ...);
    with ``fm_index`` the note is instead a sine phase-modulated at its own
    frequency, of peak amplitude ``amplitudes[0]``.
    """
    if len(onsets) == 0:
        return
    first = time_to_samples(onsets[0], sr=sr)
    last = min(time_to_samples(onsets[-1] + durations[-1], sr=sr), len(y))
    n = np.arange(first, last)
    starts = np.floor(np.asarray(onsets) * sr + 0.5).astype(np.int64)
    index = np.searchsorted(starts, n, side="right") - 1
    tau = ((n - starts[index]) / sr).astype(np.float32)
    left = np.asarray(durations, dtype=np.float32)[index] - tau
    attack, decay = envelope
    env = np.minimum(tau / np.float32(attack), np.float32(1.0))
    env *= np.exp(-tau / np.float32(decay))
    env *= np.clip(left / np.float32(_RAMP), 0.0, 1.0)
    theta = np.float32(2 * np.pi) * np.asarray(freqs, dtype=np.float32)[index] * tau
    if fm_index is not None:
        tone = amplitudes[0] * np.sin(theta + np.float32(fm_index) * np.sin(theta))
    else:
        # sin(h theta) by the recurrence sin(h x) = 2 cos x sin((h-1) x) -
        # sin((h-2) x): one sine and one cosine for all the harmonics.
        two_cos = 2 * np.cos(theta)
        previous, current = np.zeros_like(theta), np.sin(theta)
        tone = amplitudes[0] * current
        for a in amplitudes[1:]:
            previous, current = current, two_cos * current - previous
            if a:
                tone += a * current
    y[first:last] += env * tone


def _harmonics(instrument, tilt, top_freq, sr):
    h = np.arange(1, _N_HARMONICS + 1, dtype=np.float64)
    amplitudes = h**-tilt
    if instrument == "reed":
        amplitudes[1::2] = 0.0
    amplitudes[h * top_freq > 0.45 * sr] = 0.0  # no aliasing
    # Constant power: brilliance changes the colour of the sound, not its level.
    return (amplitudes / np.sqrt(np.sum(amplitudes**2))).astype(np.float32)


def _drum_sounds(rng, sr):
    def tau(seconds):
        return np.arange(time_to_samples(seconds, sr=sr), dtype=np.float32) / sr

    t = tau(0.3)
    # A sine falling from 150 to 50 Hz: the phase is the integral of the
    # frequency 50 + 100 exp(-t / 0.03).
    kick = np.sin(2 * np.pi * (50 * t + 3.0 * (1 - np.exp(-t / 0.03))))
    kick *= np.exp(-t / 0.15)
    t = tau(0.2)
    snare = 0.6 * rng.uniform(-1, 1, t.size) * np.exp(-t / 0.06)
    snare += 0.4 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.08)
    t = tau(0.06)
    # Differenced noise: most of its power is high up, as a hi-hat's.
    hat = 0.5 * np.diff(rng.uniform(-1, 1, t.size + 1)) * np.exp(-t / 0.02)
    return {
        "kick": (_KICK_LEVEL * kick).astype(np.float32),
        "snare": (_SNARE_LEVEL * snare).astype(np.float32),
        "hat": (_HAT_LEVEL * hat).astype(np.float32),
    }


def _render_audio(params, sr, clip_seconds):
    n_samples = time_to_samples(clip_seconds, sr=sr)
    y = np.zeros(n_samples, dtype=np.float32)
    beat = 60.0 / params["tempo"]
    segments = params["segments"]
    for seg in segments:
        start, end = seg["start"], seg["end"]
        notes = np.asarray(seg["notes"], dtype=np.float64).reshape(-1, 3)
        instrument = seg["instrument"]
        freqs = _midi_hz(notes[:, 2])
        top = freqs.max() if len(freqs) else 0.0
        amplitudes = _LEAD_LEVEL * _harmonics(instrument, seg["harmonic_tilt"], top, sr)
        fm = seg["fm_index"] if instrument == "fm" else None
        _voice(
            y,
            sr,
            notes[:, 0],
            notes[:, 1],
            freqs,
            amplitudes,
            _ENVELOPES[instrument],
            fm,
        )
        # Bass on the beats of the section, pad over all of it.
        beats = np.arange(math.ceil(start / beat - 1e-9), end / beat) * beat
        beats = beats[beats < end]
        root = 36 + seg["chord"][0] % 12
        _voice(
            y,
            sr,
            beats,
            np.diff(np.append(beats, end)),
            _midi_hz(np.full(len(beats), root)),
            np.array([_BASS_LEVEL, 0.25 * _BASS_LEVEL], dtype=np.float32),
            (0.005, 0.35),
        )
        for midi in seg["chord"]:
            _voice(
                y,
                sr,
                [start],
                [end - start],
                _midi_hz([midi]),
                np.array([_PAD_LEVEL], dtype=np.float32),
                (0.05, 1e9),
            )

    sounds = _drum_sounds(np.random.RandomState(params["seed"]), sr)
    role_at = np.array([seg["role"] == "chorus" for seg in segments])
    starts = np.array([seg["start"] for seg in segments])
    steps = params["drum_steps"]
    n_eighths = math.ceil(clip_seconds / (beat / 2) - 1e-9)
    for k in range(n_eighths):  # a few hundred hits
        onset = k * beat / 2
        if onset >= clip_seconds:
            break
        hits = [name for name, where in steps.items() if k % 8 in where]
        if role_at[np.searchsorted(starts, onset, side="right") - 1]:
            hits.append("hat")
        first = time_to_samples(onset, sr=sr)
        for name in hits:
            sound = sounds[name][: n_samples - first]
            y[first : first + len(sound)] += sound

    # Section loudness, ramped over 10 ms around each boundary.
    gains = [10.0 ** (seg["loudness_db"] / 20.0) for seg in segments]
    knots, values = [0.0], [gains[0]]
    for seg, before, after in zip(segments[1:], gains[:-1], gains[1:]):
        knots += [seg["start"] - _RAMP / 2, seg["start"] + _RAMP / 2]
        values += [before, after]
    t = np.arange(n_samples, dtype=np.float64) / sr
    y *= np.interp(t, knots, values).astype(np.float32)
    return np.tanh(y)


def _hsv_to_rgb(h, s, v):
    # The standard piecewise-linear hexcone, for one colour.
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _render_frames(params, settings):
    """Yield the clip's frames, one section's worth rendered at a time."""
    width, height = settings["size"]
    fps = settings["fps"]
    n_frames = time_to_frames(settings["clip_seconds"], fps=fps)
    beat = 60.0 / params["tempo"]
    x = ((np.arange(width) + 0.5) / height).astype(np.float32)  # height units
    y = ((np.arange(height) + 0.5) / height).astype(np.float32)
    aspect = width / height
    bg_saturation, bg_value = _BACKGROUND[params["mode"]]
    for seg in params["segments"]:
        first = time_to_frames(seg["start"], fps=fps)
        stop = min(time_to_frames(seg["end"], fps=fps), n_frames)
        if stop <= first:
            continue
        beats = np.arange(first, stop) / fps / beat
        since = (beats - np.floor(beats)) * beat
        flash = _FLASH_FLOOR + (1 - _FLASH_FLOOR) * np.exp(-since / _FLASH_DECAY)
        level = seg["brightness"] * flash
        phase = (seg["phase"] + _SPEED[seg["role"]] * beats).astype(np.float32)
        weight = _texture(seg["texture"], x, y, phase, seg["band_centre"], aspect)
        band = np.exp(-(((y - seg["band_centre"]) / _BAND_WIDTH) ** 2))
        weight *= band[:, np.newaxis]
        fg = _hsv_to_rgb(seg["foreground_hue"], seg["saturation"], 1.0)
        bg = _hsv_to_rgb(seg["background_hue"], bg_saturation, bg_value)
        # rgb = level * (bg + (fg - bg) * weight), through a table of 256
        # weights per frame: six times faster than the arithmetic per pixel,
        # and off by at most one level.
        codes = (weight * np.float32(255) + np.float32(0.5)).astype(np.intp)
        codes += (256 * np.arange(len(level)))[:, None, None]
        ramp = np.arange(256)[:, None] / 255.0
        table = 255.0 * level[:, None, None] * (bg + (fg - bg) * ramp) + 0.5
        table = table.astype(np.uint8).reshape(-1, 3)
        yield from np.take(table, codes, axis=0)


def _texture(name, x, y, phase, centre, aspect):
    """The texture's weight in [0, 1], of shape (n_frames, height, width)."""
    two_pi = np.float32(2 * np.pi)
    p = phase[:, None, None]
    if name == "stripes":  # vertical stripes sliding sideways
        field = 0.5 + 0.5 * np.cos(two_pi * (3.0 * x[None, None, :] - p))
        return np.broadcast_to(field, (len(phase), len(y), len(x))).copy()
    if name == "rings":  # rings growing from the band's centre
        r = np.hypot(x[None, :] - aspect / 2, y[:, None] - centre)
        cos_r, sin_r = np.cos(two_pi * 4.0 * r), np.sin(two_pi * 4.0 * r)
        cos_p, sin_p = np.cos(two_pi * p), np.sin(two_pi * p)
        return 0.5 + 0.5 * (cos_r * cos_p + sin_r * sin_p)
    if name == "dots":  # a grid of dots bouncing on the beat
        bounce = 0.15 * np.abs(np.sin(np.pi * 4.0 * p))
        across = 0.5 + 0.5 * np.cos(two_pi * 4.0 * x[None, None, :])
        down = 0.5 + 0.5 * np.cos(two_pi * 4.0 * (y[None, :, None] - bounce))
        return (across * down) ** 2
    # checks: a soft checkerboard sliding diagonally
    across = np.cos(two_pi * (2.0 * x[None, None, :] - p))
    down = np.cos(two_pi * (2.0 * y[None, :, None] - p))
    return 0.5 + 0.5 * across * down
