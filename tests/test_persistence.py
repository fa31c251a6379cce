"""Tests of skmv.save_model and skmv.load_model (skops files)."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmv import (
    CCARetriever,
    CrossModalRetriever,
    DBNTransformer,
    MultiTimescaleFusionClassifier,
    SharedRBM,
    load_model,
    save_model,
)
from skmv.datasets import make_music_video_features, make_paired_modalities


def _shared():
    return SharedRBM(
        [
            (
                "video",
                make_pipeline(StandardScaler(), DBNTransformer((8, 4), n_iter=2)),
                slice(0, 40),
            ),
            ("audio", DBNTransformer((6,), n_iter=2), slice(40, 70)),
        ],
        n_components=5,
        n_iter=2,
        random_state=0,
    )


def _round_trip(model, tmp_path):
    path = tmp_path / "model.skops"
    save_model(model, path)
    return load_model(path)


def test_shared_rbm_round_trip_is_exact(tmp_path):
    X, _ = make_paired_modalities(120, random_state=0)
    model = _shared().fit(X)
    loaded = _round_trip(model, tmp_path)
    assert type(loaded) is SharedRBM
    assert_array_equal(loaded.transform(X), model.transform(X))
    assert_array_equal(
        loaded.reconstruct(X, given=["video"], target="audio"),
        model.reconstruct(X, given=["video"], target="audio"),
    )


@pytest.mark.parametrize("space", ["input", "shared"])
def test_retrievers_round_trip_is_exact(tmp_path, space):
    X, _ = make_paired_modalities(120, random_state=1)
    for model in (
        CrossModalRetriever(_shared(), "video", "audio", space=space),
        CCARetriever(
            "video",
            "audio",
            modalities=[
                ("video", "passthrough", slice(0, 40)),
                ("audio", "passthrough", slice(40, 70)),
            ],
            n_components=3,
        ),
    ):
        model.fit(X)
        loaded = _round_trip(model, tmp_path)
        assert_array_equal(loaded.kneighbors(X)[1], model.kneighbors(X)[1])
        assert loaded.score(X) == model.score(X)


def test_fusion_classifier_round_trip_is_exact(tmp_path):
    data = make_music_video_features(40, n_segments=10, random_state=0)
    from skmv.timescale import make_windows

    Xw, clips = make_windows(data.X, data.groups, n_segments=10)
    yw = data.clip_labels[clips]
    yw[:4] = 1  # enough positives for 3 folds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MultiTimescaleFusionClassifier(
            [(name, "passthrough", cols) for name, cols in data.modalities],
            scales=(1, 5),
            shared=SharedRBM([], n_components=4, n_iter=2),
            cv=3,
            random_state=0,
        ).fit(Xw, yw)
    loaded = _round_trip(model, tmp_path)
    assert_array_equal(loaded.predict_proba(Xw), model.predict_proba(Xw))


class ForeignEncoder(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def transform(self, X):
        return np.asarray(X)


def test_unknown_types_are_refused_unless_trusted(tmp_path):
    X, _ = make_paired_modalities(60, random_state=2)
    model = make_pipeline(ForeignEncoder(), DBNTransformer((4,), n_iter=1)).fit(X)
    path = tmp_path / "foreign.skops"
    save_model(model, path)
    name = f"{ForeignEncoder.__module__}.ForeignEncoder"
    with pytest.raises(ValueError, match=f"does not trust: {name}"):
        load_model(path)
    loaded = load_model(path, trusted=[name])
    assert_array_equal(loaded.transform(X), model.transform(X))


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.skops: no such model file"):
        load_model(tmp_path / "nothing.skops")
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="bad.skops: not a skmv model file"):
        load_model(bad)
