"""Tests of skmv.timescale.MultiTimescaleFusionClassifier."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GridSearchCV, GroupKFold, ShuffleSplit
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC

from skmv.dbn import DBNTransformer
from skmv.shared import SharedRBM
from skmv.timescale import MultiTimescaleFusionClassifier, make_windows

DV, DA = 3, 3
MODALITIES = [
    ("video", "passthrough", slice(0, DV)),
    ("audio", "passthrough", slice(DV, DV + DA)),
]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def contour_windows(n_windows, rng, n_segments=10, positive=0.2):
    """Windows whose label shows mostly across segments.

    Positive windows have a weak local cue (+0.3 on one feature of every
    segment) and a strong contour: +1 on one video and one audio feature in
    the first half of the window, -1 in the second. The contour averages to
    zero over a window, so averaging per-segment decisions cannot use it,
    while a level that sees several segments at once (base-10) can.
    """
    y = (rng.random_sample(n_windows) < positive).astype(np.int64)
    X = rng.normal(size=(n_windows, n_segments, DV + DA))
    X[:, :, 0] += 0.3 * y[:, None]
    contour = np.where(np.arange(n_segments) < n_segments // 2, 1.0, -1.0)
    X[:, :, 1] += y[:, None] * contour
    X[:, :, DV] += y[:, None] * contour
    return X.reshape(n_windows, -1).astype(np.float32), y


def _dbn_modalities():
    return [
        (name, DBNTransformer((16,), n_iter=10, batch_size=50), cols)
        for name, _, cols in MODALITIES
    ]


@pytest.mark.parametrize(
    "modalities, shared",
    [
        (MODALITIES, "passthrough"),
        (MODALITIES, SharedRBM([], n_components=16, n_iter=10)),
        (_dbn_modalities(), SharedRBM([], n_components=16, n_iter=10)),
    ],
    ids=["passthrough", "shared", "dbn+shared"],
)
def test_fusion_beats_averaging_base1_predictions(modalities, shared):
    rng = np.random.RandomState(0)
    X, y = contour_windows(240, rng)
    X_test, y_test = contour_windows(200, rng)
    ap = {}
    for fusion in ("network", "mean"):
        clf = MultiTimescaleFusionClassifier(
            modalities, shared=shared, fusion=fusion, cv=3, random_state=0
        ).fit(X, y)
        ap[fusion] = average_precision_score(y_test, clf.predict_proba(X_test)[:, 1])
    # Measured (network / mean): 0.98 / 0.38 passthrough, 0.90 / 0.21 with a
    # shared RBM, 0.97 / 0.40 with DBN encoders too; 0.225 would be chance.
    assert ap["network"] > ap["mean"] + 0.3, ap
    assert ap["network"] > 0.7, ap


def test_prediction_vector_has_one_entry_per_level_row():
    rng = np.random.RandomState(1)
    X, y = contour_windows(60, rng)
    clf = MultiTimescaleFusionClassifier(MODALITIES, cv=3, shared="passthrough")
    clf.fit(X, y)
    assert [level.scale for level in clf.levels_] == [1, 2, 5, 10]
    V = clf.transform(X)
    assert V.shape == (60, 18) == clf.oof_predictions_.shape
    names = clf.get_feature_names_out()
    assert names.shape == (18,)
    assert names[0] == "base1_row0" and names[10] == "base2_row0"
    assert names[-1] == "base10_row0"
    # Entries are each level's probability of the positive class, row by row.
    level = clf.levels_[3]
    R = level.concatenator.transform(X)
    assert_allclose(V[:, -1], level.estimator.predict_proba(R)[:, 1])
    # The probabilities of the fusion network on that vector.
    assert_allclose(clf.predict_proba(X), clf.final_estimator_.predict_proba(V))


def test_mean_fusion_averages_base1_probabilities():
    rng = np.random.RandomState(2)
    X, y = contour_windows(50, rng)
    clf = MultiTimescaleFusionClassifier(
        MODALITIES, fusion="mean", cv=2, shared="passthrough"
    ).fit(X, y)
    # Only the base-1 level is fitted; no fusion network.
    assert [level.scale for level in clf.levels_] == [1]
    assert clf.final_estimator_ is None
    segments = X.reshape(50 * 10, DV + DA)
    per_segment = clf.levels_[0].estimator.predict_proba(segments)
    expected = per_segment.reshape(50, 10, 2).mean(axis=1)
    assert_allclose(clf.predict_proba(X), expected)
    assert_array_equal(clf.predict(X), clf.classes_[expected.argmax(axis=1)])


def test_decision_function_of_a_level_without_probabilities():
    rng = np.random.RandomState(3)
    X, y = contour_windows(50, rng)
    clf = MultiTimescaleFusionClassifier(
        MODALITIES,
        fusion="mean",
        shared="passthrough",
        level_estimator=LinearSVC(),
        cv=2,
    ).fit(X, y)
    assert clf.stack_method_ == "decision_function"
    assert not hasattr(clf, "predict_proba")
    scores = clf.decision_function(X)
    expected = (
        clf.levels_[0]
        .estimator.decision_function(X.reshape(500, DV + DA))
        .reshape(50, 10)
        .mean(axis=1)
    )
    assert_allclose(scores, expected)
    assert_array_equal(clf.predict(X), clf.classes_[(scores > 0).astype(int)])


class CountingEncoder(TransformerMixin, BaseEstimator):
    """Doubles its input; records the rows each fit saw."""

    fits = []

    def fit(self, X, y=None):
        type(self).fits.append(X.shape)
        return self

    def transform(self, X):
        return 2.0 * X


def test_encoders_fit_once_on_every_base1_segment():
    rng = np.random.RandomState(4)
    X, y = contour_windows(30, rng)
    CountingEncoder.fits = []
    modalities = [
        ("video", CountingEncoder(), slice(0, DV)),
        ("audio", CountingEncoder(), slice(DV, DV + DA)),
    ]
    clf = MultiTimescaleFusionClassifier(modalities, shared="passthrough", cv=2).fit(
        X, y
    )
    # Once per modality, on all 300 segments, whatever the number of scales
    # and folds.
    assert CountingEncoder.fits == [(300, DV), (300, DA)]
    # The levels see the encodings: the doubled features.
    level = clf.levels_[0]
    assert_allclose(
        clf.transform(X)[:, :10],
        level.estimator.predict_proba(2 * X.reshape(300, DV + DA))[:, 1].reshape(
            30, 10
        ),
    )
    assert [name for name, _, _ in clf.encoders_] == ["video", "audio"]


def test_fusion_learns_from_out_of_fold_predictions():
    # Random labels and a level that memorises its training rows: in-sample
    # predictions would be perfect, out-of-fold ones are at chance.
    rng = np.random.RandomState(5)
    X = rng.normal(size=(80, 10 * (DV + DA))).astype(np.float32)
    y = np.tile([0, 1], 40)
    clf = MultiTimescaleFusionClassifier(
        MODALITIES,
        scales=(10,),
        shared="passthrough",
        level_estimator=KNeighborsClassifier(n_neighbors=1),
        cv=4,
    ).fit(X, y)
    in_sample = clf.transform(X)[:, 0]
    assert_array_equal(in_sample, y)
    oof_accuracy = np.mean((clf.oof_predictions_[:, 0] > 0.5) == y)
    assert oof_accuracy < 0.75


def test_groups_keep_a_clip_in_one_fold():
    # Each clip's windows are identical copies: folds that split a clip
    # leak (a 1-NN level finds the copy), folds by clip do not.
    rng = np.random.RandomState(6)
    X_clip = rng.normal(size=(20, 10 * (DV + DA))).astype(np.float32)
    y_clip = np.tile([0, 1], 10)
    X, y = np.tile(X_clip, (3, 1)), np.tile(y_clip, 3)
    groups = np.tile(np.arange(20), 3)
    params = dict(
        scales=(10,),
        shared="passthrough",
        level_estimator=KNeighborsClassifier(n_neighbors=1),
        cv=4,
    )
    leaky = MultiTimescaleFusionClassifier(MODALITIES, **params).fit(X, y)
    by_clip = MultiTimescaleFusionClassifier(MODALITIES, **params).fit(
        X, y, groups=groups
    )
    assert np.mean((leaky.oof_predictions_[:, 0] > 0.5) == y) == 1.0
    assert np.mean((by_clip.oof_predictions_[:, 0] > 0.5) == y) < 0.75


def test_whole_clips_average_their_windows():
    rng = np.random.RandomState(7)
    X, y = contour_windows(60, rng)
    clf = MultiTimescaleFusionClassifier(MODALITIES, cv=3, shared="passthrough")
    clf.fit(X, y)
    # Clip "b" has 25 segments (2 windows, 5 trailing segments unused), clip
    # "a" 10; rows interleaved, in time order within each clip.
    seg_a = X[0].reshape(10, -1)
    seg_b = np.concatenate([X[1].reshape(10, -1), X[2].reshape(10, -1)])
    seg_b = np.concatenate([seg_b, rng.normal(size=(5, DV + DA)).astype(np.float32)])
    rows = np.concatenate([seg_b[:3], seg_a, seg_b[3:]])
    groups = np.array(["b"] * 3 + ["a"] * 10 + ["b"] * 22)
    clips, proba = clf.predict_proba_clips(rows, groups)
    assert_array_equal(clips, ["b", "a"])
    window_proba = clf.predict_proba(X[:3])
    # Batches differ (float32 products), hence the tolerance.
    assert_allclose(proba[0], window_proba[1:3].mean(axis=0), rtol=1e-5, atol=1e-9)
    assert_allclose(proba[1], window_proba[0], rtol=1e-5, atol=1e-9)
    clips, labels = clf.predict_clips(rows, groups)
    assert_array_equal(labels, clf.classes_[proba.argmax(axis=1)])

    with pytest.raises(ValueError, match=r"\['c'\] have fewer than n_segments=10"):
        clf.predict_proba_clips(
            np.concatenate([rows, rows[:4]]), np.concatenate([groups, ["c"] * 4])
        )


def test_string_labels_and_three_classes():
    rng = np.random.RandomState(8)
    X, _ = contour_windows(60, rng)
    y = np.array(["pop", "rock", "jazz"])[np.arange(60) % 3]
    clf = MultiTimescaleFusionClassifier(
        MODALITIES, scales=(1, 10), cv=3, shared="passthrough"
    ).fit(X, y)
    assert_array_equal(clf.classes_, ["jazz", "pop", "rock"])
    # One entry per class and level row: (10 + 1) * 3.
    assert clf.transform(X).shape == (60, 33)
    assert clf.get_feature_names_out()[0] == "base1_row0_jazz"
    assert set(clf.predict(X)) <= set(clf.classes_)
    # score is the accuracy of predict on windows, weighted when asked.
    weights = np.arange(60) % 4
    assert clf.score(X, y) == np.mean(clf.predict(X) == y)
    assert np.isclose(
        clf.score(X, y, sample_weight=weights),
        np.average(clf.predict(X) == y, weights=weights),
    )


def test_same_seed_same_model_and_pickle():
    rng = np.random.RandomState(9)
    X, y = contour_windows(40, rng)
    params = dict(shared=SharedRBM([], n_components=4, n_iter=2), cv=2)
    a = MultiTimescaleFusionClassifier(MODALITIES, random_state=0, **params).fit(X, y)
    b = MultiTimescaleFusionClassifier(MODALITIES, random_state=0, **params).fit(X, y)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = pickle.loads(pickle.dumps(a))
    assert_array_equal(c.predict_proba(X), a.predict_proba(X))


def test_grid_search_with_group_folds():
    rng = np.random.RandomState(10)
    X, y = contour_windows(60, rng)
    groups = np.arange(60) // 2
    search = GridSearchCV(
        MultiTimescaleFusionClassifier(MODALITIES, shared="passthrough", cv=2),
        {"fusion": ["network", "mean"]},
        cv=GroupKFold(3),
        scoring="average_precision",
    ).fit(X, y, groups=groups)
    assert search.best_params_ == {"fusion": "network"}


@pytest.mark.parametrize(
    "params, fit_kwargs, match",
    [
        (dict(scales=(1, 3)), {}, r"scales \[3\] do not divide n_segments=10"),
        (dict(scales=(2, 5), fusion="mean"), {}, "1 must be in scales"),
        (dict(scales=(1, 1)), {}, "distinct positive ints"),
        (dict(cv=ShuffleSplit(3, random_state=0)), {}, "exactly one test fold"),
        (dict(), dict(groups=[0, 1]), "one clip per window"),
    ],
)
def test_bad_parameters(params, fit_kwargs, match):
    rng = np.random.RandomState(11)
    X, y = contour_windows(30, rng)
    clf = MultiTimescaleFusionClassifier(MODALITIES, shared="passthrough", **params)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y, **fit_kwargs)


def test_bad_data():
    rng = np.random.RandomState(12)
    X, y = contour_windows(30, rng)
    clf = MultiTimescaleFusionClassifier(MODALITIES, shared="passthrough", cv=2)
    with pytest.raises(ValueError, match="not a multiple of n_segments=10"):
        clf.fit(X[:, :-1], y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, np.zeros(30))
    X_nan = X.copy()
    X_nan[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X_nan, y)


def test_make_windows_feeds_the_classifier():
    rng = np.random.RandomState(13)
    X, y = contour_windows(20, rng)
    segments = X.reshape(200, DV + DA)
    groups = np.repeat(np.arange(20), 10)
    X_windows, clips = make_windows(segments, groups, n_segments=10)
    assert_array_equal(X_windows, X)
    clf = MultiTimescaleFusionClassifier(MODALITIES, shared="passthrough", cv=2)
    assert clf.fit(X_windows, y[clips]).predict(X_windows).shape == (20,)


def test_network_fusion_over_levels_without_probabilities():
    rng = np.random.RandomState(14)
    X, y = contour_windows(60, rng)
    clf = MultiTimescaleFusionClassifier(
        MODALITIES, shared="passthrough", level_estimator=LinearSVC(), cv=3
    ).fit(X, y)
    assert clf.stack_method_ == "decision_function"
    # The levels give scores, the fusion network probabilities.
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 2)
    segments = X.reshape(600, DV + DA)
    groups = np.repeat(np.arange(60), 10)
    clips, labels = clf.predict_clips(segments, groups)
    assert_array_equal(clips, np.arange(60))
    assert_array_equal(labels, clf.classes_[proba.argmax(axis=1)])


def test_mean_fusion_fits_no_out_of_fold_levels():
    # Averaging needs no out-of-fold predictions: one level fit, no folds.
    rng = np.random.RandomState(15)
    X, y = contour_windows(40, rng)
    fits = []

    class Counting(LogisticRegression):
        def fit(self, X, y):
            fits.append(len(X))
            return super().fit(X, y)

    clf = MultiTimescaleFusionClassifier(
        MODALITIES, fusion="mean", shared="passthrough", level_estimator=Counting()
    ).fit(X, y)
    assert fits == [400]
    assert not hasattr(clf, "oof_predictions_")
    assert clf.get_feature_names_out().shape == (10,)
