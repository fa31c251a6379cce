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


# --------------------------------------------------------------------------
# CCARetriever: the paper's CCA baselines for cross-modal retrieval
# --------------------------------------------------------------------------

N_A, N_B = 40, 30


def _retriever(a="passthrough", b="passthrough", **params):
    from skmv.baselines import CCARetriever

    modalities = [("a", a, slice(0, N_A)), ("b", b, slice(N_A, N_A + N_B))]
    return CCARetriever("a", "b", modalities=modalities, **params)


@pytest.fixture(scope="module")
def pairs():
    from sklearn.preprocessing import StandardScaler

    from skmv.datasets import make_paired_modalities

    X, _ = make_paired_modalities(
        1100, n_features=(N_A, N_B), noise=0.3, random_state=RND_SEED
    )
    X = StandardScaler().fit_transform(X).astype(np.float32)
    return X[:1000], X[1000:]


@pytest.fixture(scope="module")
def initial(pairs):
    return _retriever(n_components=10).fit(pairs[0])


def test_cca_of_initial_features_far_above_random(initial, pairs):
    # Random retrieval scores 0.1; measured 0.85 (n_components=10).
    assert initial.score(pairs[1]) > 0.3
    assert initial.database_.shape == (1000, 10)
    assert initial.n_database_ == 1000


def test_cca_of_deep_representations_far_above_random(pairs):
    from skmv.rbm import GaussianBernoulliRBM

    def encoder():
        return GaussianBernoulliRBM(
            64, n_iter=20, learning_rate=0.01, batch_size=20, random_state=RND_SEED
        )

    retriever = _retriever(encoder(), encoder(), n_components=10).fit(pairs[0])
    # Measured 0.94; random 0.1.
    assert retriever.score(pairs[1]) > 0.3
    # The user's encoders are cloned, not fitted.
    assert not hasattr(retriever.modalities[0][1], "components_")
    assert hasattr(retriever.modalities_[0][1], "components_")


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_retriever_kneighbors_matches_brute_force(pairs, metric):
    Xtr, Xte = pairs
    retriever = _retriever(n_components=5, metric=metric, chunk_size=7)
    retriever.fit(Xtr[:50])
    dist, ind = retriever.kneighbors(Xte[:20], n_neighbors=4)
    assert ind.shape == dist.shape == (20, 4)
    assert np.all(np.diff(dist, axis=1) >= 0)
    Q = retriever.cca_.transform_modality(Xte[:20, :N_A].astype(np.float64), 0)
    D = retriever.database_
    if metric == "cosine":
        Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
        Dn = D / np.linalg.norm(D, axis=1, keepdims=True)
        S = 1.0 - Qn @ Dn.T
    else:
        S = np.sqrt(((Q[:, None, :] - D[None, :, :]) ** 2).sum(2))
    expected = np.sort(S, axis=1)[:, :4]
    assert_allclose(dist, expected, rtol=1e-5, atol=1e-6)
    assert_allclose(np.take_along_axis(S, ind, axis=1), expected, rtol=1e-5, atol=1e-6)
    assert_array_equal(retriever.kneighbors(Xte[:20], 4, return_distance=False), ind)


def test_retriever_score_is_precision_of_ranks(initial, pairs):
    from skmv.metrics import precision_at_n, retrieval_ranks

    ranks = initial.retrieval_ranks(pairs[1])
    assert ranks.shape == (100,)
    assert initial.score(pairs[1]) == precision_at_n(ranks, 10)
    # Same ranks as the metric on the canonical projections.
    Xte = pairs[1].astype(np.float64)
    Q = initial.cca_.transform_modality(Xte[:, :N_A], 0)
    D = initial.cca_.transform_modality(Xte[:, N_A:], 1)
    S = np.sqrt(((Q[:, None, :] - D[None, :, :]) ** 2).sum(2))
    assert_array_equal(ranks, retrieval_ranks(S))


def test_retriever_nan_in_query_rows_target_columns(initial, pairs):
    X = pairs[1].copy()
    ref = initial.kneighbors(X)
    X[:, N_A:] = np.nan
    out = initial.kneighbors(X)
    assert_allclose(out[0], ref[0])
    assert_array_equal(out[1], ref[1])
    with pytest.raises(ValueError, match="NaN or infinity in the columns of modality"):
        initial.score(X)


def test_retriever_index_replaces_database(pairs):
    Xtr, Xte = pairs
    retriever = _retriever(n_components=5).fit(Xtr)
    retriever.index(Xte)
    assert retriever.n_database_ == 100
    assert retriever.kneighbors(Xte, 3)[1].max() < 100


def test_retriever_nested_params_clone_and_grid_search(pairs):
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    from skmv.rbm import GaussianBernoulliRBM

    retriever = _retriever(GaussianBernoulliRBM(8), n_components=2)
    assert retriever.get_params()["a__n_components"] == 8
    retriever.set_params(a__n_components=16, b="passthrough")
    assert retriever.modalities[0][1].n_components == 16
    assert clone(retriever).get_params()["a__n_components"] == 16
    search = GridSearchCV(_retriever(), {"n_components": [2, 5]}, cv=3)
    search.fit(pairs[0][:300])
    assert search.best_params_["n_components"] in (2, 5)
    assert 0.0 <= search.best_score_ <= 1.0


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(query="c"), "Unknown query modality 'c'"),
        (dict(target="c"), "Unknown target modality 'c'"),
        (dict(target="a"), "query and target are both 'a'"),
    ],
)
def test_retriever_name_errors(pairs, params, match):
    retriever = _retriever(n_components=2).set_params(**params)
    with pytest.raises(ValueError, match=match):
        retriever.fit(pairs[0][:50])


def test_retriever_n_neighbors_errors(initial, pairs):
    with pytest.raises(ValueError, match="larger than the database"):
        initial.kneighbors(pairs[1], n_neighbors=1001)
    with pytest.raises(ValueError, match="n_neighbors must be an int"):
        initial.kneighbors(pairs[1], n_neighbors=0)


def test_retriever_with_dbn_encoders_runs(pairs):
    from skmv.dbn import DBNTransformer

    def encoder():
        return DBNTransformer((32, 16), n_iter=5, batch_size=50, random_state=RND_SEED)

    retriever = _retriever(encoder(), encoder(), n_components=5).fit(pairs[0])
    assert retriever.database_.shape == (1000, 5)
    # Measured 0.53 with these short settings (1.0 with (64, 32), n_iter=20).
    assert retriever.score(pairs[1]) > 0.3
