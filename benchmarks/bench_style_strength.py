"""Classification of the style against its strength: AP of three methods.

Run it directly::

    .venv/bin/python benchmarks/bench_style_strength.py features
    .venv/bin/python benchmarks/bench_style_strength.py corpus --clips 200
    .venv/bin/python benchmarks/bench_style_strength.py --help

Both generators take ``style_strength`` (0: the label leaves no trace;
larger: both of its cues, the local shift and the repetition at lag 5, are
more visible). At every strength the same three methods, with the same
settings, those of ``examples/plot_multitimescale.py``, score the style of
60-second windows (10 segments, one window per clip) out of fold: five
folds by clip (``StratifiedGroupKFold``), so that no clip is in both the
training and the test side.

* multi-timescale fusion
  (:class:`~skmv.timescale.MultiTimescaleFusionClassifier`): per modality a
  scaler and a two-layer DBN (256, 64 video units; 128, 64 audio units), per
  scale (1, 2, 5, 10) a shared RBM of 64 units and a logistic regression, a
  feed-forward network fusing the 18 level predictions of a window;
* averaging shared rep. base-1 predictions: the mean of the ten base-1
  predictions of that same fitted model;
* averaging SVM predictions: standardised initial features of both
  modalities, an SVM (``C=0.1``, balanced classes) per segment, its
  decisions averaged over the window (``shared="passthrough"``,
  ``fusion="mean"``).

Chance is the AP of a random ranking, the share of windows of the style;
1.0 is a perfect ranking.

``features``
    :func:`skmv.datasets.make_music_video_features` (no media: seconds per
    fit): ``--clips`` clips of 10 segments, each strength on the generator
    seeds ``--seeds``; the table gives the mean AP over the seeds and its
    range.
``corpus``
    :func:`skmv.datasets.make_music_videos`: ``--clips`` one-minute clips,
    generated and featurized once per strength (in a folder of its own,
    ``music_videos_<clips>_style<strength>``), then read from the cache in
    :func:`~skmv.datasets.get_data_home`.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _common import machine_lines
from sklearn.base import clone
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skmv.dbn import DBNTransformer
from skmv.shared import SharedRBM
from skmv.timescale import MultiTimescaleFusionClassifier, make_windows

METHODS = (
    "multi-timescale fusion",
    "averaging shared rep. base-1 predictions",
    "averaging SVM predictions",
)
SHORT = ("fusion", "avg. shared", "avg. SVM")
N_SEGMENTS = 10
N_FOLDS = 5
EPOCHS = 20


def _say(*lines):
    for line in lines:
        print(line, flush=True)


def models(video, audio, random_state=0):
    """The three methods' estimators, as examples/plot_multitimescale.py has
    them; the same at every strength."""

    # The fusion's random_state seeds its encoders and shared RBMs, as in the
    # example, so that the default strength's row is the example's Table 2.
    def encoder(widths):
        return make_pipeline(StandardScaler(), DBNTransformer(widths, n_iter=EPOCHS))

    fusion = MultiTimescaleFusionClassifier(
        [("video", encoder((256, 64)), video), ("audio", encoder((128, 64)), audio)],
        shared=SharedRBM([], n_components=64, n_iter=EPOCHS),
        random_state=random_state,
    )
    svm_average = MultiTimescaleFusionClassifier(
        [("video", StandardScaler(), video), ("audio", StandardScaler(), audio)],
        scales=(1,),
        shared="passthrough",
        level_estimator=SVC(C=0.1, class_weight="balanced"),
        fusion="mean",
        random_state=random_state,
    )
    return fusion, svm_average


def window_ap(X, groups, clip_labels, video, audio, random_state=0):
    """Out-of-fold AP of each method on the 60 s windows, and chance."""
    X_windows, clips = make_windows(X, groups, n_segments=N_SEGMENTS)
    y = np.asarray(clip_labels)[clips]
    fusion, svm_average = models(video, audio, random_state)
    scores = {name: np.zeros(len(y)) for name in METHODS}
    cv = StratifiedGroupKFold(N_FOLDS, shuffle=True, random_state=random_state)
    for train, test in cv.split(X_windows, y, clips):
        model = clone(fusion).fit(X_windows[train], y[train], groups=clips[train])
        scores[METHODS[0]][test] = model.predict_proba(X_windows[test])[:, 1]
        # transform's first columns are the base-1 level's predictions of the
        # window's segments: their mean is the averaging baseline.
        base1 = model.transform(X_windows[test])[:, :N_SEGMENTS]
        scores[METHODS[1]][test] = base1.mean(axis=1)
        svm = clone(svm_average).fit(X_windows[train], y[train], groups=clips[train])
        scores[METHODS[2]][test] = svm.decision_function(X_windows[test])
    ap = {name: average_precision_score(y, s) for name, s in scores.items()}
    return ap, float(y.mean())


def _header():
    cols = "  ".join(f"{name:>14s}" for name in SHORT)
    return f"{'strength':>8s}  {cols}  {'chance':>6s}  {'best':>6s}  {'s':>5s}"


def _row(strength, aps, chance, seconds):
    """Mean AP per method (and the range over seeds where there are several)."""
    cells = []
    for name in METHODS:
        values = [ap[name] for ap in aps]
        cell = f"{np.mean(values):.3f}"
        if len(values) > 1:
            cell += f" ({min(values):.2f}-{max(values):.2f})"
        cells.append(f"{cell:>14s}")
    best = max(np.mean([ap[name] for ap in aps]) for name in METHODS)
    return (
        f"{strength:8g}  {'  '.join(cells)}  {np.mean(chance):6.3f}  {best:6.3f}  "
        f"{seconds:5.0f}"
    )


def run_features(args):
    from skmv.datasets import make_music_video_features

    _say(
        f"make_music_video_features({args.clips}, n_segments={N_SEGMENTS}, "
        f"style_strength=s, random_state=seed), seeds {args.seeds}; "
        f"out-of-fold AP of {args.clips} windows of 60 s ({N_FOLDS} folds by clip)",
        "",
        _header(),
    )
    for strength in args.strengths:
        start = time.perf_counter()
        aps, chances = [], []
        for seed in args.seeds:
            data = make_music_video_features(
                args.clips,
                n_segments=N_SEGMENTS,
                style_strength=strength,
                random_state=seed,
            )
            (_, video), (_, audio) = data.modalities
            ap, chance = window_ap(
                data.X, data.groups, data.clip_labels, video, audio, random_state=0
            )
            aps.append(ap)
            chances.append(chance)
        _say(_row(strength, aps, chances, time.perf_counter() - start))


def load_corpus(n_clips, strength):
    from sklearn.pipeline import FeatureUnion

    from skmv.datasets import get_data_home, make_music_videos
    from skmv.features import AudioFeaturizer, VideoFeaturizer
    from skmv.io import segment_media

    home = get_data_home()
    corpus = make_music_videos(
        n_clips,
        clip_seconds=60,
        directory=home / f"music_videos_{n_clips}_style{strength:g}",
        style_strength=strength,
        random_state=0,
        n_jobs=2,
    )
    segments = segment_media(corpus.paths)
    featurizer = FeatureUnion(
        [
            ("video", VideoFeaturizer(n_jobs=2, memory=str(home / "cache"))),
            ("audio", AudioFeaturizer(n_jobs=2, memory=str(home / "cache"))),
        ]
    )
    X = featurizer.fit_transform(segments)
    n_video = featurizer.transformer_list[0][1].n_features_out_
    groups = np.unique(segments.clips, return_inverse=True)[1]
    label_of = dict(zip(corpus.paths, corpus.clip_labels))
    clip_labels = np.array([label_of[p] for p in np.unique(segments.clips)])
    return X, groups, clip_labels, n_video


def run_corpus(args):
    _say(
        f"make_music_videos({args.clips}, clip_seconds=60, style_strength=s, "
        f"random_state=0), featurized; out-of-fold AP of {args.clips} windows of "
        f"60 s ({N_FOLDS} folds by clip); s: seconds to classify (after making "
        "and featurizing)",
        "",
        _header(),
    )
    for strength in args.strengths:
        X, groups, clip_labels, n_video = load_corpus(args.clips, strength)
        start = time.perf_counter()
        video, audio = slice(0, n_video), slice(n_video, X.shape[1])
        ap, chance = window_ap(X, groups, clip_labels, video, audio, random_state=0)
        _say(_row(strength, [ap], [chance], time.perf_counter() - start))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="data", required=True)
    features = sub.add_parser("features", help="make_music_video_features")
    features.add_argument("--clips", type=int, default=400)
    features.add_argument(
        "--strengths", type=float, nargs="+", default=[0, 0.5, 1, 1.5, 2, 3]
    )
    features.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    corpus = sub.add_parser("corpus", help="make_music_videos, featurized")
    corpus.add_argument("--clips", type=int, default=200)
    corpus.add_argument("--strengths", type=float, nargs="+", default=[0, 1, 2, 3])
    args = parser.parse_args(argv)
    _say(*machine_lines(), "")
    if args.data == "features":
        run_features(args)
    else:
        run_corpus(args)


if __name__ == "__main__":
    sys.exit(main())
