"""The job behind ``skmv demo`` and ``make demo``: the whole method, and its
baselines, on music videos that skmv generates.

The demo

1. generates a corpus of one-minute music videos
   (:func:`skmv.datasets.make_music_videos`: real H.264/AAC files whose
   music and picture share hidden causes, about 10 % of them in a "style")
   into a cache directory;
2. cuts them into 6-second segments (:func:`skmv.io.segment_media`) and
   describes each with :class:`~skmv.features.VideoFeaturizer` and
   :class:`~skmv.features.AudioFeaturizer`, whose rows are cached per file,
   so that a second run reuses the corpus and its features;
3. retrieval (the paper's Figure 3): learns from 75 % of the clips, then
   queries with the music of every held-out segment for its own video among
   all held-out segments; precision at 1 and 10 for the shared
   representation (compared in the input space, the paper's way, and in the
   shared space), the shared representation fine-tuned with the contrastive
   objective (``SharedRBM(fine_tune="contrastive")``, compared in the shared
   space), CCA of the deep representations, CCA of the initial features, and
   random;
4. classification (the paper's Table 2): average precision (AP) of the
   style (at the corpus's default strength) on 60-second windows, out of
   fold by clip, for the multi-timescale fusion
   (:class:`~skmv.timescale.MultiTimescaleFusionClassifier`) against
   averaging the shared representation's base-1 predictions and averaging
   an SVM's;
5. when skmv wins: precision at 10 of the fine-tuned shared model and of
   CCA of the initial features learning from a quarter, a half and all of
   the training clips (the same held-out database), and both on real
   two-view data (:func:`skmv.datasets.load_digit_halves`), measured in the
   run;
6. classification against the style's strength: the same three window
   classifiers, with the same settings, on generated features
   (:func:`skmv.datasets.make_music_video_features`) from a strength of 0
   (no trace of the style: chance) to 3;
7. prints the tables, the wall time of each stage and a verdict drawn
   from the numbers; writes the precision-at-N curves, the learning curve
   beside the digit halves and the AP bars as PNG files (matplotlib: ``make
   demo`` installs it; without it the plots are skipped with a note), and
   ``report.html``: one self-contained page with every table, the plots,
   and a few example queries, successes and failures of the fine-tuned
   model, with key frames and audio players of what they found
   (:mod:`skmv.report`).

The models' settings are those of the gallery examples, which were chosen on
a validation split of training clips, never on held-out ones. Run ``skmv
demo --help`` (or ``python -m skmv.demo --help``) for the options.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "run"]

# The corpus's share of clips in the style (make_music_videos' default), kept
# so that a demo corpus is the corpus the gallery examples describe.
POSITIVE_FRACTION = 0.1
# Folds of the classification, by clip. Three, not the examples' five: the
# demo must fit its time budget, and three folds on two thirds of the clips
# train half as much as five on four fifths.
N_FOLDS = 3
# Default corpus sizes: what fits ``make demo`` into 10 minutes on two cores
# (installation included), and a corpus a test can afford.
N_CLIPS = 120
N_CLIPS_QUICK = 30
# Epochs of every RBM and DBN layer, and of the contrastive fine-tuning: the
# examples' settings, and a few for --quick, which checks the plumbing rather
# than the method.
EPOCHS = {"retrieval": 30, "fine_tune": 200, "classification": 20}
EPOCHS_QUICK = {"retrieval": 5, "fine_tune": 60, "classification": 5}

# skmv's rankings, then the baselines'.
SHARED_RANKINGS = (
    "shared rep., input space (the paper's)",
    "shared rep., shared space",
    "fine-tuned (contrastive), shared space",
)
CCA_RANKINGS = (
    "CCA of deep rep.",
    "CCA of initial features",
)
RANKINGS = SHARED_RANKINGS + CCA_RANKINGS
# How the verdict names each of skmv's rankings.
_HOW = dict(
    zip(
        SHARED_RANKINGS,
        (
            "compared in the input space",
            "compared in the shared space",
            "fine-tuned (contrastive) and compared in the shared space",
        ),
    )
)
# The learning curve and the real-data rows: skmv's best ranking against
# the best baseline, both measured in this run.
LEARNING_CURVE = (
    "fine-tuned (contrastive), shared space",
    "CCA of initial features",
)
# Fractions of the training clips of the learning curve (the whole is the
# retrieval table's row).
LEARNING_FRACTIONS = (0.25, 0.5, 1.0)
# Epochs of the digit halves' models (the gallery example's), and --quick's.
DIGITS_EPOCHS = {"pre_train": 100, "fine_tune": 100}
DIGITS_EPOCHS_QUICK = {"pre_train": 10, "fine_tune": 30}
# Style strengths of the AP curve (make_music_video_features: 0 leaves no
# trace of the label, its default is 1.5), and the clips generated at each.
STYLE_STRENGTHS = (0.0, 1.0, 1.5, 2.0, 3.0)
STYLE_STRENGTHS_QUICK = (0.0, 1.5, 3.0)
N_CLIPS_STRENGTH = 200
N_CLIPS_STRENGTH_QUICK = 60
CLASSIFIERS = (
    "multi-timescale fusion",
    "averaging shared rep. base-1 predictions",
    "averaging SVM predictions",
)


def _min_clips():
    """The fewest clips whose corpus has a clip of the style per fold."""
    n = 1
    # make_music_videos makes round(n * fraction) clips of the style.
    while round(n * POSITIVE_FRACTION) < N_FOLDS:
        n += 1
    return n


def _progress(message):
    print(f"skmv demo: {message}", file=sys.stderr, flush=True)


def _corpus_directory(cache, n_clips, random_state):
    # The examples' corpus of as many clips (seed 0) is this one: share it.
    # Another seed gets its own folder, or each run would re-encode the other's.
    name = f"music_videos_{n_clips}"
    if random_state != 0:
        name += f"_seed{random_state}"
    return Path(cache) / name


def _mtimes(paths):
    return [os.stat(p).st_mtime_ns if os.path.exists(p) else None for p in paths]


def _cached_blocks(memory):
    """Number of (file, modality) feature blocks held in the featurizers' cache."""
    return sum(1 for _ in Path(memory).rglob("output.pkl"))


def _make_corpus(n_clips, cache, random_state, n_jobs):
    """The corpus, and how many of its files this call encoded."""
    from .datasets import make_music_videos

    directory = _corpus_directory(cache, n_clips, random_state)
    names = [directory / f"clip_{i:04d}.mp4" for i in range(n_clips)]
    before = _mtimes(names)
    corpus = make_music_videos(
        n_clips,
        clip_seconds=60,
        directory=directory,
        positive_fraction=POSITIVE_FRACTION,
        random_state=random_state,
        n_jobs=n_jobs,
    )
    # make_music_videos writes a file only when it is missing or stale, under
    # a temporary name renamed at the end: a changed mtime is an encoded file.
    encoded = sum(a != b for a, b in zip(before, _mtimes(corpus.paths)))
    return corpus, encoded


def _featurize(corpus, cache, n_jobs):
    """Segment rows of both modalities, the segments, and blocks computed."""
    from sklearn.pipeline import FeatureUnion

    from .features import AudioFeaturizer, VideoFeaturizer
    from .io import segment_media

    # The examples' cache: the demo and the examples reuse each other's work.
    memory = Path(cache) / "cache"
    before = _cached_blocks(memory) if memory.exists() else 0
    segments = segment_media(corpus.paths)
    featurizer = FeatureUnion(
        [
            ("video", VideoFeaturizer(n_jobs=n_jobs, memory=str(memory))),
            ("audio", AudioFeaturizer(n_jobs=n_jobs, memory=str(memory))),
        ]
    )
    X = featurizer.fit_transform(segments)
    n_video = featurizer.transformer_list[0][1].n_features_out_
    return X, segments, n_video, _cached_blocks(memory) - before


def _deep(widths, n_iter, device, random_state):
    """Standardised features, then a DBN: both invert, so the shared model
    can reconstruct a modality's features from the other's."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .dbn import DBNTransformer

    return make_pipeline(
        StandardScaler(),
        DBNTransformer(widths, n_iter=n_iter, device=device, random_state=random_state),
    )


def _retrieval(
    X, groups, video, audio, *, epochs, fine_tune_epochs, device, random_state
):
    """Ranks of each held-out query's own video, per ranking, and the sizes."""
    from sklearn.model_selection import GroupShuffleSplit

    from .baselines import CCARetriever
    from .retrieval import CrossModalRetriever
    from .shared import SharedRBM

    train, test = next(
        GroupShuffleSplit(1, test_size=0.25, random_state=random_state).split(
            X, groups=groups
        )
    )
    X_train, X_test = X[train], X[test]

    def deep(widths):
        return _deep(widths, epochs, device, random_state)

    def shared_rbm(video_widths, audio_widths, **fine_tuning):
        return SharedRBM(
            [
                ("video", deep(video_widths), video),
                ("audio", deep(audio_widths), audio),
            ],
            n_components=256,
            learning_rate=0.01,
            n_iter=epochs,
            device=device,
            random_state=random_state,
            **fine_tuning,
        ).fit(X_train)

    # The settings of examples/plot_retrieval.py (chosen on validation clips):
    # fine-tuning with wider top layers and dropout in the encoders, its
    # ranking by the cosine of z-scored shared representations.
    shared = shared_rbm((256, 64), (128, 64))
    contrastive = shared_rbm(
        (256, 256),
        (128, 256),
        fine_tune="contrastive",
        fine_tune_n_iter=fine_tune_epochs,
        fine_tune_learning_rate=1e-3,
        fine_tune_dropout=0.2,
    )
    retrievers = dict(
        zip(
            RANKINGS,
            (
                CrossModalRetriever(
                    shared, "audio", "video", space="input", prefit=True
                ),
                CrossModalRetriever(
                    shared, "audio", "video", space="shared", prefit=True
                ),
                CrossModalRetriever(
                    contrastive,
                    "audio",
                    "video",
                    space="shared",
                    standardize=True,
                    prefit=True,
                ),
                CCARetriever(
                    "audio",
                    "video",
                    modalities=[
                        ("video", deep((256, 64)), video),
                        ("audio", deep((128, 64)), audio),
                    ],
                    n_components=8,
                    reg=0.1,
                ),
                CCARetriever(
                    "audio",
                    "video",
                    modalities=[
                        ("video", "passthrough", video),
                        ("audio", "passthrough", audio),
                    ],
                    n_components=16,
                    reg=1.0,
                ),
            ),
        )
    )
    ranks = {}
    for name, retriever in retrievers.items():
        retriever.fit(X_train)
        ranks[name] = np.asarray(retriever.retrieval_ranks(X_test))
    return ranks, train, test, retrievers


def _learning_curve(X, groups, train, test, retrievers, *, random_state):
    """P@10 on the held-out database of the fine-tuned shared model and of
    CCA of the initial features, learning from a quarter and a half of the
    training clips (the whole is the retrieval table's row): unfitted
    copies of the retrieval stage's rankings, so the settings are theirs."""
    from sklearn.base import clone

    clips = np.unique(groups[train])
    order = np.random.default_rng(random_state).permutation(clips.size)
    curve = {name: {} for name in LEARNING_CURVE}
    for fraction in LEARNING_FRACTIONS[:-1]:
        chosen = clips[order[: max(2, round(fraction * clips.size))]]
        rows = train[np.isin(groups[train], chosen)]
        for name in LEARNING_CURVE:
            retriever = clone(retrievers[name])
            if retriever.get_params().get("prefit"):
                retriever.set_params(prefit=False)  # learn the model anew
            retriever.fit(X[rows])
            ranks = np.asarray(retriever.retrieval_ranks(X[test]))
            curve[name][int(chosen.size)] = float(np.mean(ranks < 10))
    return curve


def _digits(*, epochs, fine_tune_epochs, device, random_state):
    """P@1 and P@10 on the digit halves (real two-view data, 500 held-out
    pairs) for the fine-tuned shared model and CCA, as in the gallery's
    real-data example."""
    from .baselines import CCARetriever
    from .datasets import load_digit_halves
    from .dbn import DBNTransformer
    from .metrics import precision_at_n
    from .retrieval import CrossModalRetriever
    from .shared import SharedRBM

    data = load_digit_halves()
    model = SharedRBM(
        [
            (name, DBNTransformer(256, n_iter=epochs, device=device), columns)
            for name, columns in data.modalities
        ],
        n_components=256,
        n_iter=epochs,
        fine_tune="contrastive",
        fine_tune_n_iter=fine_tune_epochs,
        device=device,
        random_state=random_state,
    )
    retrievers = (
        CrossModalRetriever(model, "left", "right", space="shared"),
        CCARetriever(
            "left",
            "right",
            modalities=[(n, "passthrough", c) for n, c in data.modalities],
            n_components=10,
            reg=1e-3,
            metric="cosine",
        ),
    )
    out = {}
    for name, retriever in zip(LEARNING_CURVE, retrievers):
        ranks = retriever.fit(data.X_train).retrieval_ranks(data.X_test)
        out[name] = {
            "P@1": float(precision_at_n(ranks, 1)),
            "P@10": float(precision_at_n(ranks, 10)),
        }
    n = len(data.X_test)
    out["random"] = {"P@1": 1 / n, "P@10": 10 / n}
    return out


def _classification(X, groups, labels, video, audio, *, epochs, device, random_state):
    """Out-of-fold window scores per method, the window labels and clips."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from .shared import SharedRBM
    from .timescale import MultiTimescaleFusionClassifier, make_windows

    X_windows, clips = make_windows(X, groups, n_segments=10)
    y = np.array([labels[clip] for clip in clips])

    def encoder(widths):
        return _deep(widths, epochs, device, random_state)

    # The settings of examples/plot_multitimescale.py (chosen on validation
    # clips): per modality a scaler and a DBN, per scale a shared RBM and a
    # logistic regression, a small network fusing the 18 level predictions.
    fusion = MultiTimescaleFusionClassifier(
        [("video", encoder((256, 64)), video), ("audio", encoder((128, 64)), audio)],
        shared=SharedRBM([], n_components=64, n_iter=epochs, device=device),
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
    scores = {name: np.zeros(len(y)) for name in CLASSIFIERS}
    cv = StratifiedGroupKFold(N_FOLDS, shuffle=True, random_state=random_state)
    for train, test in cv.split(X_windows, y, clips):
        # The fusion network learns from out-of-fold predictions of inner
        # folds; each inner training side needs a clip of the style, so a
        # small corpus gets fewer inner folds (the examples' 5 otherwise).
        inner = int(np.clip(y[train].sum(), 2, 5))
        model = clone(fusion).set_params(cv=inner)
        model.fit(X_windows[train], y[train], groups=clips[train])
        scores[CLASSIFIERS[0]][test] = model.predict_proba(X_windows[test])[:, 1]
        # transform's first ten columns are the base-1 level's predictions of
        # the window's ten segments: their mean is the averaging baseline.
        scores[CLASSIFIERS[1]][test] = model.transform(X_windows[test])[:, :10].mean(1)
        # With fusion="mean" no network reads the inner folds' predictions:
        # the fewest folds save SVM fits without changing its scores.
        svm = clone(svm_average).set_params(cv=2)
        svm.fit(X_windows[train], y[train], groups=clips[train])
        scores[CLASSIFIERS[2]][test] = svm.decision_function(X_windows[test])
    return scores, y


def _strength_curve(*, n_clips, strengths, epochs, device, random_state):
    """AP of the three window classifiers against the style's strength, on
    :func:`skmv.datasets.make_music_video_features` (features without
    media, so every strength costs seconds): the demo's classification, with
    the same settings at every strength."""
    from sklearn.metrics import average_precision_score

    from .datasets import make_music_video_features

    curve = {name: {} for name in CLASSIFIERS}
    chance = {}
    for strength in strengths:
        data = make_music_video_features(
            n_clips,
            n_segments=10,
            style_strength=strength,
            random_state=random_state,
        )
        video, audio = (columns for _, columns in data.modalities)
        groups = np.asarray(data.groups)
        labels = dict(zip(np.unique(groups).tolist(), data.clip_labels.tolist()))
        scores, y = _classification(
            data.X.astype(np.float32),
            groups,
            labels,
            video,
            audio,
            epochs=epochs,
            device=device,
            random_state=random_state,
        )
        for name, s in scores.items():
            curve[name][strength] = float(average_precision_score(y, s))
        chance[strength] = float(y.mean())
    return curve, chance


def _bootstrap(statistic, n, rng, n_resamples=1000, level=0.9):
    """Percentile interval of ``statistic(rows)`` over resampled rows."""
    values = []
    for _ in range(n_resamples):
        value = statistic(rng.integers(0, n, n))
        if np.isfinite(value):
            values.append(value)
    tail = 100 * (1 - level) / 2
    return np.percentile(values, [tail, 100 - tail])


def _compare(low, high, above, below, level):
    """Which word a 90 % interval of a difference earns."""
    if low > 0:
        return above
    if high < 0:
        return below
    return level


def _verdict(ranks, n_database, scores, y, random_state):
    """Sentences that say what the numbers show; a bootstrap interval (90 %,
    over queries or windows) tells a difference from noise."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(random_state)
    hits = {name: (r < 10).astype(float) for name, r in ranks.items()}
    p10 = {name: h.mean() for name, h in hits.items()}
    chance = min(10, n_database) / n_database
    best = max(RANKINGS, key=lambda name: (p10[name], np.mean(ranks[name] < 1)))
    shared = max(SHARED_RANKINGS, key=p10.get)
    cca = max(CCA_RANKINGS, key=p10.get)
    n = len(hits[shared])
    low, _ = _bootstrap(lambda i: hits[shared][i].mean(), n, rng)
    versus_random = (
        f"clearly above random (P@10 {p10[shared]:.3f}, "
        f"{p10[shared] / chance:.1f} times random)"
        if low > chance
        else f"not clearly above random (P@10 {p10[shared]:.3f})"
    )
    low, high = _bootstrap(
        lambda i: hits[shared][i].mean() - hits[cca][i].mean(), n, rng
    )
    versus_cca = _compare(low, high, "above", "below", "level with")
    retrieval = (
        f"Retrieval: {best} ranks best (P@10 {p10[best]:.3f}; random "
        f"{chance:.3f}). The shared representation {_HOW[shared]} (skmv's "
        f"best ranking here) is {versus_random}, and {versus_cca} {cca} (P@10 "
        f"{p10[cca]:.3f}; difference {p10[shared] - p10[cca]:+.3f}, 90 % "
        f"bootstrap interval {low:+.3f} to {high:+.3f})."
    )
    # What fine-tuning did: the same comparison (shared space) before and after.
    pre, tuned = SHARED_RANKINGS[1], SHARED_RANKINGS[2]
    low, high = _bootstrap(
        lambda i: hits[tuned][i].mean() - hits[pre][i].mean(), n, rng
    )
    effect = _compare(low, high, "raises", "lowers", "does not clearly change")
    retrieval += (
        f" Contrastive fine-tuning {effect} the shared space's P@10 (from "
        f"{p10[pre]:.3f} to {p10[tuned]:.3f}; 90 % bootstrap interval of the "
        f"difference {low:+.3f} to {high:+.3f})."
    )
    if versus_cca == "below":
        retrieval += (
            " On this corpus music and picture meet through nearly linear "
            "maps, which CCA recovers from few examples; the Results page of "
            "skmv's documentation reports the measurements."
        )

    def ap(name, rows=slice(None)):
        if not y[rows].any():
            return np.nan  # a resample without the style: no AP
        return average_precision_score(y[rows], scores[name][rows])

    fusion = CLASSIFIERS[0]
    average = max(CLASSIFIERS[1:], key=ap)
    low, _ = _bootstrap(lambda i: ap(fusion, i), len(y), rng)
    versus_chance = "" if low > y.mean() else ", not clearly above it"
    low, high = _bootstrap(lambda i: ap(fusion, i) - ap(average, i), len(y), rng)
    versus_average = _compare(low, high, "beats", "falls behind", "is level with")
    classification = (
        f"Classification: {fusion} (AP {ap(fusion):.3f}; chance "
        f"{y.mean():.3f}{versus_chance}) {versus_average} the better "
        f"averaging, {average} (AP {ap(average):.3f}; difference "
        f"{ap(fusion) - ap(average):+.3f}, 90 % bootstrap interval {low:+.3f} "
        f"to {high:+.3f}), with {int(y.sum())} windows of the style."
    )
    return [
        textwrap.fill(text, 88, subsequent_indent="  ")
        for text in (retrieval, classification)
    ]


def _curve_verdict(curve, digits, n_database):
    """A sentence on when skmv's best ranking beats the best baseline."""
    tuned, cca = LEARNING_CURVE
    sizes = sorted(curve[tuned])
    first, last = sizes[0], sizes[-1]
    gap = {n: curve[tuned][n] - curve[cca][n] for n in sizes}
    trend = (
        "narrows"
        if gap[last] > gap[first] and gap[last] <= 0
        else "widens"
        if gap[last] > gap[first]
        else "does not narrow"
    )
    if gap[last] > 0:
        where = f"the fine-tuned model ranks first with {last} training clips"
    else:
        where = (
            f"CCA of the initial features still ranks first with {last} "
            f"training clips; the gap {trend} as the clips grow from {first}"
        )
    d_tuned, d_cca = digits[tuned]["P@10"], digits[cca]["P@10"]
    real = "above" if d_tuned > d_cca else "not above"
    text = (
        f"When skmv wins: on this corpus (P@10 among {n_database}) the fine-tuned "
        f"shared model goes from {curve[tuned][first]:.3f} to "
        f"{curve[tuned][last]:.3f} as its training clips grow from {first} to "
        f"{last}, CCA of the initial features from {curve[cca][first]:.3f} to "
        f"{curve[cca][last]:.3f}: {where}. On real two-view data (the digit "
        f"halves, 500 held-out pairs) the fine-tuned model is {real} CCA (P@10 "
        f"{d_tuned:.3f} against {d_cca:.3f}). The Results page of skmv's "
        "documentation measures larger corpora."
    )
    return textwrap.fill(text, 88, subsequent_indent="  ")


def _tables(precision, ap, chance_ap, curve, digits, n_database, n_train, y):
    """(title, header, rows) of every table the demo prints and reports."""
    sizes = sorted(curve[LEARNING_CURVE[0]])
    return [
        (
            f"Retrieval: the music of each of {n_database} held-out segments "
            f"queries for its own video among them (models learn from {n_train})",
            ["ranking", "P@1", "P@10"],
            [[name, p["P@1"], p["P@10"]] for name, p in precision.items()],
        ),
        (
            f"P@10 against the training clips (the same {n_database} "
            "held-out segments)",
            ["ranking", *(f"{n} clips" for n in sizes)],
            [[name, *(curve[name][n] for n in sizes)] for name in LEARNING_CURVE]
            + [["random", *(precision["random"]["P@10"] for _ in sizes)]],
        ),
        (
            "Real two-view data: the digit halves, the left half of each of 500 "
            "held-out digits queries for its right half",
            ["ranking", "P@1", "P@10"],
            [[name, p["P@1"], p["P@10"]] for name, p in digits.items()],
        ),
        (
            f"Classification: AP of the style on {len(y)} 60-second windows, out "
            f"of fold ({N_FOLDS} folds by clip)",
            ["method", "AP"],
            [[name, value] for name, value in ap.items()]
            + [["chance (share of the style)", chance_ap]],
        ),
    ]


def _format_row(row, widths):
    """A table row as the demo prints it: a name, then numbers (3 decimals)
    or column headers, right-aligned in columns of ``widths``."""
    name, *cells = row
    parts = [
        f"{cell:{w}.3f}" if isinstance(cell, float) else f"{cell:>{w}s}"
        for cell, w in zip(cells, widths)
    ]
    return f"  {name:<40s}  " + "  ".join(parts)


def _figures(
    ranks, max_n, n_database, aps, chance, curve, digits, strengths, strength_chance
):
    """{file name: matplotlib Figure}, or None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    from .metrics import PrecisionAtNDisplay

    # Figures without pyplot: no GUI backend, no global state to disturb.
    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.subplots()
    for i, (name, r) in enumerate(ranks.items()):
        PrecisionAtNDisplay.from_ranks(
            r,
            n_database=n_database,
            max_n=max_n,
            name=name,
            ax=ax,
            # The dashed chance line last, on top of a curve near chance.
            plot_chance_level=i == len(ranks) - 1,
        )
    ax.set_title(f"Video retrieval from music queries ({n_database} candidates)")
    ax.legend(loc="upper left", fontsize="small")
    figures = {"retrieval_precision_at_n.png": fig}

    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    sizes = sorted(curve[LEARNING_CURVE[0]])
    for name, marker in zip(LEARNING_CURVE, ("o", "s")):
        left.plot(sizes, [curve[name][n] for n in sizes], marker=marker, label=name)
    left.axhline(min(10, n_database) / n_database, color="gray", linestyle="--",
                 label="random")  # fmt: skip
    left.set(
        xlabel="training clips",
        ylabel=f"P@10 among {n_database} held-out segments",
        ylim=(0, 1),
        title="Generated music videos: more clips",
    )
    left.legend(loc="upper left", fontsize="small")
    names = [*LEARNING_CURVE, "random"]
    bars = right.bar(
        range(len(names)),
        [digits[name]["P@10"] for name in names],
        color=["tab:blue", "tab:orange", "gray"],
    )
    right.bar_label(bars, fmt="%.3f")
    right.set_xticks(range(len(names)), ["fine-tuned", "CCA", "random"])
    right.set(ylim=(0, 1), ylabel="P@10 among 500", title="Real data: digit halves")
    figures["skmv_against_cca.png"] = fig

    fig = Figure(figsize=(11, 3.6), layout="constrained")
    ax, right = fig.subplots(1, 2, width_ratios=(3, 2))
    names = list(aps)[::-1]
    ax.barh(names, [aps[name] for name in names], color="tab:orange")
    ax.axvline(chance, color="gray", linestyle="--", label="chance")
    ax.set(xlim=(0, 1), xlabel="average precision, 60-second windows")
    ax.set_title("Classifying the style (out of fold)")
    ax.legend(loc="lower right")
    levels = sorted(strength_chance)
    for name, marker in zip(CLASSIFIERS, ("o", "s", "^")):
        right.plot(levels, [strengths[name][v] for v in levels], marker=marker,
                   label=name)  # fmt: skip
    right.plot(levels, [strength_chance[v] for v in levels], "--", color="gray",
               label="chance")  # fmt: skip
    right.set(
        xlabel="style strength (generated features)",
        ylabel="AP",
        ylim=(0, 1.05),
        title="How visible the style is",
    )
    right.legend(loc="upper left", fontsize="x-small")
    figures["classification_ap.png"] = fig
    return figures


def _save(out, figures):
    """Write the figures as PNG files in ``out``; their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=100)
        paths.append(str(out / name))
    return paths


# Example queries of the report: segments whose own video the fine-tuned
# model ranks first, and segments whose own video is not in its top
# N_SHOWN; each with its N_SHOWN best matches.
N_SUCCESSES, N_FAILURES, N_SHOWN = 3, 2, 5


def _examples(retrievers, ranks, X, test, segments, random_state):
    """(query span, [Match, ...]) of a few successes and failures of the
    fine-tuned model, chosen at random among the held-out segments."""
    from .report import Match, MediaSpan

    name = SHARED_RANKINGS[2]
    r = ranks[name]
    rng = np.random.default_rng(random_state)
    good = rng.permutation(np.flatnonzero(r == 0))[:N_SUCCESSES]
    bad = rng.permutation(np.flatnonzero(r >= N_SHOWN))[:N_FAILURES]
    chosen = np.concatenate([good, bad])
    if not chosen.size:
        return []
    retriever = retrievers[name]
    retriever.index(X[test])
    distances, indices = retriever.kneighbors(X[test[chosen]], n_neighbors=N_SHOWN)
    examples = []
    for q, row, dist in zip(chosen, indices, distances):
        seg = segments[test[q]]
        query = MediaSpan(
            seg.path, seg.start, seg.end, modalities=("audio",),
            label=f"music of {Path(seg.path).name}, {seg.start:g}-{seg.end:g} s "
            f"(its own video ranks {int(r[q]) + 1})",
        )  # fmt: skip
        matches = []
        for i, d in zip(row, dist):
            hit = segments[test[i]]
            span = MediaSpan(hit.path, hit.start, hit.end)
            matches.append(Match(span, distance=float(d), correct=bool(i == q)))
        examples.append((query, matches))
    return examples


def _report(out, *, tables, figures, verdict, seconds, examples, title):
    """Write ``report.html`` in ``out``: the tables, the verdict, the plots
    and the example queries; its path."""
    from .report import Report

    report = Report(
        title,
        subtitle="skmv's shared representations and their baselines, measured "
        "in this run",
    )
    for text in verdict:
        text = " ".join(text.split())
        topic = text.split(":", 1)[0]  # Retrieval, Classification, When skmv wins
        report.add_text(f"Verdict: {topic.lower()}", text)
    for table_title, header, rows in tables:
        report.add_table(
            table_title,
            header,
            [
                [f"{c:.3f}" if isinstance(c, float) else str(c) for c in row]
                for row in rows
            ],
        )
    report.add_table(
        "Wall time", ["stage", "seconds"], [[k, f"{v:.1f}"] for k, v in seconds.items()]
    )
    for name, fig in (figures or {}).items():
        report.add_image(name.removesuffix(".png").replace("_", " "), fig)
    for query, matches in examples:
        report.add_query(query, matches)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return report.write(out / "report.html")


def run(
    n_clips=None,
    *,
    quick=False,
    cache=None,
    out=None,
    n_jobs=2,
    random_state=0,
    device="auto",
):
    """Run the demo: print its results and return them.

    Parameters
    ----------
    n_clips : int or None, default=None
        Clips in the corpus; at least 26, so that each of the 3 folds of
        the classification holds a clip of the style. None: 120, or 30 with
        ``quick``.
    quick : bool, default=False
        A small corpus (unless ``n_clips`` is given) and a few epochs: about
        a minute on two cores, for a check of the installation.
    cache : str, os.PathLike or None, default=None
        Where the corpus and the features are kept between runs. None:
        :func:`skmv.datasets.get_data_home`.
    out : str, os.PathLike or None, default=None
        Folder of the PNG files and ``report.html``. None: ``demo`` in
        ``cache``.
    n_jobs : int, default=2
        Clips encoded and files featurized in parallel; -1 uses every core.
    random_state : int, default=0
        Seeds the corpus, the split, the folds and every model.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where skmv's estimators (the DBNs and shared RBMs) compute.

    Returns
    -------
    results : dict
        ``precision`` ({ranking: {"P@1", "P@10"}}, "random" included),
        ``ap`` ({method: AP}), ``chance_ap``, ``seconds`` ({stage: wall
        time}), ``n_encoded`` (clip files encoded by this run),
        ``n_computed`` (feature blocks, one per file and modality, computed
        by this run rather than read from the cache), ``verdict`` (list of
        str), ``plots`` (the PNG paths, or None without matplotlib),
        ``report`` (the path of ``report.html``), ``learning_curve``
        ({ranking: {training clips: P@10}}) and ``digits`` ({ranking:
        {"P@1", "P@10"}}, "random" included).

    Raises
    ------
    ValueError
        If ``n_clips`` is below 26.

    Notes
    -----
    The models train with one BLAS thread whatever the environment says:
    they are small, and on a busy two-core machine two OpenBLAS threads
    made them 6 times slower.
    """
    from sklearn.metrics import average_precision_score
    from threadpoolctl import threadpool_limits

    from .datasets import get_data_home
    from .metrics import precision_at_n_curve

    if n_clips is None:
        n_clips = N_CLIPS_QUICK if quick else N_CLIPS
    if n_clips < _min_clips():
        raise ValueError(
            f"n_clips={n_clips} is too few: the classification needs a clip of "
            f"the style per fold ({N_FOLDS} folds, {POSITIVE_FRACTION:.0%} of "
            f"the clips in the style), so at least {_min_clips()} clips."
        )
    epochs = EPOCHS_QUICK if quick else EPOCHS
    cache = get_data_home(cache)
    out = cache / "demo" if out is None else Path(out)
    seconds = {}
    begin = time.perf_counter()

    _progress(
        f"[1/8] corpus: {n_clips} one-minute clips in "
        f"{_corpus_directory(cache, n_clips, random_state)}"
    )
    t = time.perf_counter()
    corpus, n_encoded = _make_corpus(n_clips, cache, random_state, n_jobs)
    seconds["corpus"] = time.perf_counter() - t

    _progress(f"[2/8] features of 6-second segments (cache: {cache / 'features'})")
    t = time.perf_counter()
    X, segments, n_video, n_computed = _featurize(corpus, cache, n_jobs)
    seconds["features"] = time.perf_counter() - t
    video, audio = slice(0, n_video), slice(n_video, X.shape[1])
    groups = np.asarray(segments.clips)

    # One BLAS thread for the models: they are small (a few thousand rows),
    # and OpenBLAS threads that wait for a busy core stall every product;
    # on a loaded two-core machine this stage ran 6 times faster so.
    with threadpool_limits(limits=1, user_api="blas"):
        _progress(
            f"[3/8] retrieval: two shared RBMs, one fine-tuned, and two CCAs "
            f"({epochs['retrieval']} epochs, {epochs['fine_tune']} of fine-tuning)"
        )
        t = time.perf_counter()
        ranks, train, test, retrievers = _retrieval(
            X,
            groups,
            video,
            audio,
            epochs=epochs["retrieval"],
            fine_tune_epochs=epochs["fine_tune"],
            device=device,
            random_state=random_state,
        )
        n_train, n_database = len(train), len(test)
        seconds["retrieval"] = time.perf_counter() - t

        _progress(
            "[4/8] learning curve: the fine-tuned model and CCA from a quarter "
            "and a half of the training clips"
        )
        t = time.perf_counter()
        curve = _learning_curve(
            X, groups, train, test, retrievers, random_state=random_state
        )
        n_train_clips = len(np.unique(groups[train]))
        for name in LEARNING_CURVE:
            curve[name][n_train_clips] = float(np.mean(ranks[name] < 10))
        seconds["learning curve"] = time.perf_counter() - t

        _progress("[5/8] real two-view data: the digit halves")
        t = time.perf_counter()
        digits_epochs = DIGITS_EPOCHS_QUICK if quick else DIGITS_EPOCHS
        digits = _digits(
            epochs=digits_epochs["pre_train"],
            fine_tune_epochs=digits_epochs["fine_tune"],
            device=device,
            random_state=random_state,
        )
        seconds["digits halves"] = time.perf_counter() - t

        _progress(
            f"[6/8] classification: {N_FOLDS} folds by clip "
            f"({epochs['classification']} epochs)"
        )
        t = time.perf_counter()
        labels = dict(zip(corpus.paths, corpus.clip_labels))
        scores, y = _classification(
            X,
            groups,
            labels,
            video,
            audio,
            epochs=epochs["classification"],
            device=device,
            random_state=random_state,
        )
        seconds["classification"] = time.perf_counter() - t

        _progress(
            "[7/8] classification against the style's strength, on generated features"
        )
        t = time.perf_counter()
        strengths, strength_chance = _strength_curve(
            n_clips=N_CLIPS_STRENGTH_QUICK if quick else N_CLIPS_STRENGTH,
            strengths=STYLE_STRENGTHS_QUICK if quick else STYLE_STRENGTHS,
            epochs=epochs["classification"],
            device=device,
            random_state=random_state,
        )
        seconds["style strength"] = time.perf_counter() - t

    _progress(f"[8/8] results, plots and report ({out})")
    t = time.perf_counter()
    max_n = min(50, n_database)
    curves = {name: precision_at_n_curve(r, max_n=max_n) for name, r in ranks.items()}
    precision = {
        name: {"P@1": float(p[0]), "P@10": float(p[min(10, max_n) - 1])}
        for name, (_, p) in curves.items()
    }
    precision["random"] = {
        "P@1": 1 / n_database,
        "P@10": min(10, n_database) / n_database,
    }
    ap = {name: float(average_precision_score(y, s)) for name, s in scores.items()}
    chance_ap = float(y.mean())
    verdict = _verdict(ranks, n_database, scores, y, random_state)
    verdict.append(_curve_verdict(curve, digits, n_database))
    figures = _figures(
        ranks, max_n, n_database, ap, chance_ap, curve, digits, strengths,
        strength_chance,
    )  # fmt: skip
    plots = None if figures is None else _save(out, figures)
    tables = _tables(precision, ap, chance_ap, curve, digits, n_database, n_train, y)
    n_strength = N_CLIPS_STRENGTH_QUICK if quick else N_CLIPS_STRENGTH
    levels = sorted(strength_chance)
    tables.append(
        (
            f"Classification against the style's strength: AP on {n_strength} "
            "generated clips of features (make_music_video_features, one window "
            "each; 0: no trace of the style)",
            ["method", *(f"s={v:g}" for v in levels)],
            [[name, *(strengths[name][v] for v in levels)] for name in CLASSIFIERS]
            + [["chance (share of the style)", *(strength_chance[v] for v in levels)]],
        )
    )
    seconds["results"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - begin

    n_style = int(corpus.clip_labels.sum())
    print(
        f"skmv demo: {n_clips} generated one-minute music videos ({n_style} of "
        f"the style), {X.shape[0]} segments of 6 s, {n_video} video + "
        f"{X.shape[1] - n_video} audio features"
        + (" [--quick: few epochs, a check of the plumbing]" if quick else "")
    )
    for title, header, rows in tables:
        widths = [max(6, len(cell)) for cell in header[1:]]
        print(f"\n{title}")
        print(_format_row(header, widths))
        for row in rows:
            print(_format_row(row, widths))
    print("\nWall time (s)")
    notes = {
        "corpus": f"{n_encoded} clips encoded, {n_clips - n_encoded} reused",
        "features": f"{n_computed} blocks (file x modality) computed, "
        f"{2 * n_clips - n_computed} reused",
    }
    for stage, value in seconds.items():
        note = f"  ({notes[stage]})" if stage in notes else ""
        print(f"  {stage:<16s}{value:7.1f}{note}")
    for text in verdict:
        print(f"\n{text}")
    if plots is None:
        print("\nPlots skipped: matplotlib is not installed (pip install matplotlib).")
    else:
        print("\nPlots:")
        for path in plots:
            print(f"  {path}")
    report = _report(
        out,
        tables=tables,
        figures=figures,
        verdict=verdict,
        seconds=seconds,
        examples=_examples(retrievers, ranks, X, test, segments, random_state),
        title=f"skmv demo: {n_clips} generated music videos",
    )
    print(f"\nReport (tables, plots, example queries to see and hear):\n  {report}")
    return {
        "precision": precision,
        "ap": ap,
        "chance_ap": chance_ap,
        "seconds": seconds,
        "n_encoded": n_encoded,
        "n_computed": n_computed,
        "verdict": verdict,
        "plots": plots,
        "report": str(report),
        "learning_curve": curve,
        "digits": digits,
        "style_strength": {"ap": strengths, "chance": strength_chance},
    }


def _n_jobs(text):
    value = int(text)
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError("must be a positive int or -1")
    return value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive int")
    return value


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="skmv demo",
        description="Generate a corpus of music videos, run skmv's shared "
        "representation and multi-timescale fusion and their baselines on it, "
        "print a table of results (retrieval precision at N, classification "
        "AP) with the time of each stage, and write PNG plots. The corpus and "
        "its features are cached: a second run only re-trains. The same as "
        "python -m skmv.demo.",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="folder of the PNG plots and report.html (default: demo in the "
        "cache folder)",
    )
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="folder of the corpus and its features (default: $SKMV_DATA or "
        "~/skmv_data)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{N_CLIPS_QUICK} clips (unless --n-clips) and a few epochs: "
        "about a minute, a check of the installation",
    )
    parser.add_argument(
        "--n-clips",
        type=_positive_int,
        metavar="N",
        help=f"clips in the corpus (default: {N_CLIPS}, or {N_CLIPS_QUICK} "
        f"with --quick; at least {_min_clips()})",
    )
    parser.add_argument(
        "--n-jobs",
        type=_n_jobs,
        metavar="N",
        default=2,
        help="clips encoded and files featurized in parallel; -1 uses every "
        "core (default: 2)",
    )
    parser.add_argument(
        "--random-state",
        type=int,
        metavar="N",
        default=0,
        help="seed of the corpus, the splits and the models (default: 0)",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where the DBNs and shared RBMs compute (default: auto)",
    )
    return parser


def main(argv=None):
    """Run ``skmv demo`` (also ``python -m skmv.demo``).

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments after ``demo``; None reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 2 on a usage error, 130 when interrupted.
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.n_clips is not None and args.n_clips < _min_clips():
        parser.error(
            f"--n-clips {args.n_clips}: the classification needs a clip of the "
            f"style per fold, so at least {_min_clips()} clips"
        )
    try:
        run(
            args.n_clips,
            quick=args.quick,
            cache=args.cache,
            out=args.out,
            n_jobs=args.n_jobs,
            random_state=args.random_state,
            device=args.device,
        )
    except KeyboardInterrupt:
        print(
            "\nskmv demo: interrupted; run it again to reuse the clips and "
            "features done so far",
            file=sys.stderr,
        )
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
