"""Tests of skmv.datasets: shapes, seeds, and information the modalities share."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.linear_model import LogisticRegression, Ridge

from skmv.datasets import make_paired_modalities

RND_SEED = 0


def _cross_prediction_ratio(A, B, n_train=300):
    """Held-out MSE of a ridge regression from A to B over that of B's mean."""
    ridge = Ridge(alpha=1.0).fit(A[:n_train], B[:n_train])
    mse = np.mean((ridge.predict(A[n_train:]) - B[n_train:]) ** 2)
    return mse / np.mean((B[:n_train].mean(axis=0) - B[n_train:]) ** 2)


def test_default_shapes_and_types():
    X, y = make_paired_modalities(random_state=RND_SEED)
    assert X.shape == (500, 70)
    assert X.dtype == np.float32
    assert y.shape == (500,)
    assert y.dtype == np.int64
    assert_array_equal(np.bincount(y), [125, 125, 125, 125])
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize(
    "n_samples, n_features, n_classes",
    [(10, (3,), 1), (101, (5, 4, 3), 3), (7, [2, 2], 10)],
)
def test_shapes_follow_the_parameters(n_samples, n_features, n_classes):
    X, y = make_paired_modalities(
        n_samples, n_features=n_features, n_classes=n_classes, random_state=RND_SEED
    )
    assert X.shape == (n_samples, sum(n_features))
    assert set(np.unique(y)) <= set(range(n_classes))
    counts = np.bincount(y, minlength=min(n_classes, n_samples))
    assert counts.max() - counts[counts > 0].min() <= 1


def test_same_seed_same_data():
    a = make_paired_modalities(50, random_state=RND_SEED)
    b = make_paired_modalities(50, random_state=RND_SEED)
    c = make_paired_modalities(50, random_state=RND_SEED + 1)
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])
    rng = np.random.RandomState(RND_SEED)
    first, second = (make_paired_modalities(50, random_state=rng) for _ in range(2))
    assert not np.allclose(first[0], second[0]), "a RandomState is advanced"


def test_shuffle_permutes_the_rows_of_the_sorted_data():
    X, y = make_paired_modalities(40, shuffle=False, random_state=RND_SEED)
    assert np.all(np.diff(y) >= 0), "unshuffled rows come sorted by class"
    X_s, y_s = make_paired_modalities(40, shuffle=True, random_state=RND_SEED)
    assert not np.all(np.diff(y_s) >= 0)
    order, order_s = np.lexsort(X.T), np.lexsort(X_s.T)
    assert_array_equal(X[order], X_s[order_s])
    assert_array_equal(y[order], y_s[order_s])


def test_noise_free_features_are_bounded_and_noise_adds_spread():
    X0, _ = make_paired_modalities(200, noise=0.0, random_state=RND_SEED)
    assert np.all(np.abs(X0) < 1)
    X1, _ = make_paired_modalities(200, noise=1.0, random_state=RND_SEED)
    assert X1.var() > X0.var() + 0.5


def test_modalities_share_information():
    n_a = 40
    X, y = make_paired_modalities(400, random_state=RND_SEED)
    A, B = X[:, :n_a], X[:, n_a:]
    # One block predicts the other far better than its mean...
    assert _cross_prediction_ratio(A, B) < 0.75
    assert _cross_prediction_ratio(B, A) < 0.75
    # ...which a block of unrelated samples does not.
    X_other, _ = make_paired_modalities(400, random_state=RND_SEED + 1)
    assert _cross_prediction_ratio(A, X_other[:, n_a:]) > 0.95
    # More noise, less shared information.
    X_noisy, _ = make_paired_modalities(400, noise=1.5, random_state=RND_SEED)
    assert _cross_prediction_ratio(X_noisy[:, :n_a], X_noisy[:, n_a:]) > 0.8


def test_classes_are_predictable_from_each_modality():
    X, y = make_paired_modalities(400, random_state=RND_SEED)
    for block in (slice(0, 40), slice(40, 70)):
        probe = LogisticRegression(max_iter=1000).fit(X[:300, block], y[:300])
        accuracy = probe.score(X[300:, block], y[300:])
        assert accuracy >= 0.5, (block, accuracy)  # chance: 0.25


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_samples=0), "'n_samples'"),
        (dict(n_latent=0), "'n_latent'"),
        (dict(n_classes=0), "'n_classes'"),
        (dict(noise=-0.1), "'noise'"),
        (dict(shuffle="yes"), "'shuffle'"),
        (dict(n_features=5), "'n_features'"),
        (dict(n_features=()), "one int per modality"),
        (dict(n_features=[[3, 4]]), "one int per modality"),
        (dict(n_features=(3, 0)), r"n_features\[1\] must be an int >= 1"),
        (dict(n_features=(3.5, 2)), r"n_features\[0\] must be an int >= 1"),
        (dict(n_features=(True, 2)), r"n_features\[0\] must be an int >= 1"),
    ],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        make_paired_modalities(**params)
