"""Tests of skmv.baselines: closed-form CCA against scikit-learn, its forms,
regularisation, determinism, dtypes, errors and array namespaces."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cross_decomposition import CCA as SkCCA

from skmv import _backend as B
from skmv.baselines import CCA

RND_SEED = 0
P, Q = 8, 6
MODALITIES = [("video", slice(0, P)), ("audio", slice(P, P + Q))]


def _views(n=300, p=P, q=Q, n_latent=3, seed=RND_SEED):
    """Two views sharing latent variables of distinct strengths, plus noise."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, n_latent)) * np.geomspace(1.5, 0.5, n_latent)
    X = z @ rng.normal(size=(n_latent, p)) + rng.normal(size=(n, p))
    Y = z @ rng.normal(size=(n_latent, q)) + rng.normal(size=(n, q))
    return X, Y


def _corr(a, b):
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    return (a * b).sum(axis=0) / np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))


@pytest.fixture(scope="module")
def views():
    return _views()


@pytest.fixture(scope="module")
def sklearn_scores(views):
    X, Y = views
    sk = SkCCA(n_components=3, scale=True, max_iter=5000, tol=1e-10).fit(X, Y)
    return sk.transform(X, Y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_parity_with_sklearn(views, sklearn_scores, dtype):
    X, Y = views
    xs_sk, ys_sk = sklearn_scores
    cca = CCA(3, modalities=MODALITIES, dtype=dtype).fit(np.hstack([X, Y]))
    S = cca.transform(np.hstack([X, Y])).astype(np.float64)
    xs, ys = S[:, :3], S[:, 3:]
    # Canonical correlations: attribute, our scores and sklearn's scores agree.
    assert_allclose(cca.canonical_correlations_, _corr(xs_sk, ys_sk), atol=1e-3)
    assert_allclose(_corr(xs, ys), _corr(xs_sk, ys_sk), atol=1e-3)
    # Score directions agree up to sign.
    assert np.all(np.abs(_corr(xs, xs_sk)) > 0.999)
    assert np.all(np.abs(_corr(ys, ys_sk)) > 0.999)


def test_correlations_sorted_in_unit_interval_and_scores_whitened(views):
    X, Y = views
    cca = CCA(5, dtype="float64").fit(X, Y)
    r = cca.canonical_correlations_
    assert np.all(np.diff(r) <= 0)
    assert np.all((r >= 0) & (r <= 1))
    xs, ys = cca.transform(X, Y)
    # Unit variance, uncorrelated within a view, correlated r_i across views.
    assert_allclose(np.cov(xs, rowvar=False), np.eye(5), atol=1e-8)
    assert_allclose(np.cov(ys, rowvar=False), np.eye(5), atol=1e-8)
    assert_allclose(_corr(xs, ys), r, atol=1e-8)


def test_reg_shrinks_correlations(views):
    X, Y = views
    r0 = CCA(3, dtype="float64").fit(X, Y).canonical_correlations_
    r1 = CCA(3, reg=0.5, dtype="float64").fit(X, Y).canonical_correlations_
    r2 = CCA(3, reg=5.0, dtype="float64").fit(X, Y).canonical_correlations_
    assert np.all(r1 < r0) and np.all(r2 < r1)


def test_n_less_than_p_needs_reg():
    X, Y = _views(n=20, p=30, q=25)
    with pytest.raises(ValueError, match="singular.*set reg > 0"):
        CCA(3).fit(X, Y)
    cca = CCA(3, reg=1e-2).fit(X, Y)
    r = cca.canonical_correlations_
    assert np.all(np.isfinite(r)) and np.all((r >= 0) & (r <= 1))
    assert cca.transform(X).shape == (20, 3)


def test_n_components_bounded():
    X, Y = _views(n=50)
    with pytest.raises(ValueError, match=r"n_components=7 must be at most"):
        CCA(7).fit(X, Y)


def test_two_block_and_two_view_forms_agree(views):
    X, Y = views
    XY = np.hstack([X, Y])
    one = CCA(3, modalities=MODALITIES).fit(XY)
    two = CCA(3).fit(X, Y)
    assert one.modality_names_ == ("video", "audio")
    assert two.modality_names_ == ("x", "y")
    assert_array_equal(one.x_rotations_, two.x_rotations_)
    assert_array_equal(one.y_rotations_, two.y_rotations_)
    xs, ys = two.transform(X, Y)
    assert_array_equal(one.transform(XY), np.hstack([xs, ys]))
    # One block alone, by name or position, gives that block's scores.
    assert_array_equal(one.transform_modality(X, "video"), xs)
    assert_array_equal(one.transform_modality(Y, "audio"), ys)
    assert_array_equal(two.transform_modality(Y, 1), ys)
    assert one.get_feature_names_out().shape == (6,)


def test_index_columns_and_order(views):
    X, Y = views
    XY = np.hstack([Y, X])  # audio first in X this time
    cols = [("video", list(range(Q, Q + P))), ("audio", np.arange(Q))]
    a = CCA(3, modalities=cols).fit(XY)
    b = CCA(3).fit(X, Y)
    assert_array_equal(a.x_rotations_, b.x_rotations_)


def test_deterministic_sign_convention(views):
    X, Y = views
    a = CCA(3).fit(X, Y)
    b = CCA(3).fit(X[::-1].copy(), Y[::-1].copy())
    A = a.x_rotations_
    top = A[np.argmax(np.abs(A), axis=0), np.arange(3)]
    assert np.all(top > 0)
    assert_allclose(b.x_rotations_, A, rtol=1e-4, atol=1e-5)
    assert_allclose(b.y_rotations_, a.y_rotations_, rtol=1e-4, atol=1e-5)


def test_float32_default_and_float64_opt_in(views):
    X, Y = views
    cca = CCA(2).fit(X, Y)
    for name in ("x_rotations_", "y_rotations_", "canonical_correlations_"):
        assert getattr(cca, name).dtype == np.float32
    assert cca.transform(X).dtype == np.float32
    cca64 = CCA(2, dtype=None).fit(X, Y)
    assert cca64.x_rotations_.dtype == np.float64
    assert cca64.transform(X).dtype == np.float64


def test_pickle_round_trip(views):
    X, Y = views
    cca = CCA(2, modalities=MODALITIES).fit(np.hstack([X, Y]))
    loaded = pickle.loads(pickle.dumps(cca))
    assert_array_equal(
        loaded.transform(np.hstack([X, Y])), cca.transform(np.hstack([X, Y]))
    )


@pytest.mark.parametrize(
    "params, args, err, match",
    [
        (dict(), (), ValueError, "needs two views"),
        (dict(modalities=[("a", slice(0, 3))]), (), ValueError, "exactly two"),
        (
            dict(modalities=[("a", slice(0, 5)), ("b", slice(4, 14))]),
            (),
            ValueError,
            "overlap",
        ),
        (
            dict(modalities=[("a", slice(0, 5)), ("a", slice(5, 14))]),
            (),
            ValueError,
            "share the name",
        ),
        (
            dict(modalities=[("a", slice(0, 14)), ("b", slice(14, None))]),
            (),
            ValueError,
            "selects no column",
        ),
        (
            dict(modalities=[(0, slice(0, 5)), ("b", slice(5, 14))]),
            (),
            TypeError,
            "str",
        ),
        (dict(), (np.zeros((10, 2)),), ValueError, "different numbers of samples"),
    ],
)
def test_fit_errors(views, params, args, err, match):
    X, Y = views
    with pytest.raises(err, match=match):
        CCA(1, **params).fit(np.hstack([X, Y]), *args)


def test_one_feature_error():
    with pytest.raises(ValueError, match=r"1 feature\(s\)"):
        CCA(1, modalities=[("a", slice(0, 1)), ("b", slice(1, None))]).fit(
            np.ones((10, 1))
        )


def test_transform_modality_errors(views):
    X, Y = views
    cca = CCA(2, modalities=MODALITIES).fit(np.hstack([X, Y]))
    with pytest.raises(ValueError, match="Unknown modality 'music'"):
        cca.transform_modality(X, "music")
    with pytest.raises(ValueError, match="'audio' has 6 feature"):
        cca.transform_modality(X, "audio")


def test_array_api_strict_in_strict_out(views):
    xps = pytest.importorskip("array_api_strict")
    X, Y = views
    XY = np.hstack([X, Y]).astype(np.float32)
    ref = CCA(3, modalities=MODALITIES).fit(XY)
    cca = CCA(3, modalities=MODALITIES).fit(xps.asarray(XY))
    out = cca.transform(xps.asarray(XY))
    assert B.get_namespace(out) is B.get_namespace(xps.asarray(XY))
    assert_allclose(np.asarray(out), ref.transform(XY), rtol=1e-4, atol=1e-5)
    assert_allclose(
        np.asarray(cca.canonical_correlations_), ref.canonical_correlations_, atol=1e-6
    )


@pytest.mark.parametrize("device", ["auto", "cuda"])
def test_cupy_matches_numpy(views, device):
    cp = pytest.importorskip("cupy")
    if not B.cupy_available():
        pytest.skip("no CUDA device")
    X, Y = views
    XY = np.hstack([X, Y]).astype(np.float32)
    ref = CCA(3, modalities=MODALITIES).fit(XY)
    data = cp.asarray(XY) if device == "auto" else XY
    cca = CCA(3, modalities=MODALITIES, device=device).fit(data)
    out = B.to_numpy(cca.transform(data))
    assert_allclose(out, ref.transform(XY), rtol=1e-4, atol=1e-4)
