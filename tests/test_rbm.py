"""Tests of skmv.rbm: the maths, learning, parity with scikit-learn, devices."""

import itertools
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM as SkBernoulliRBM
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmv import _backend as B
from skmv.exceptions import DeviceError, DivergenceError
from skmv.rbm import BernoulliRBM, GaussianBernoulliRBM

RND_SEED = 0
RBMS = [BernoulliRBM, GaussianBernoulliRBM]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def _mixture(n_per=150, n_features=12, n_components=3, seed=RND_SEED):
    """Standardised samples of a known Gaussian mixture and their component."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(n_components, n_features))
    y = np.repeat(np.arange(n_components), n_per)
    X = centers[y] + rng.normal(size=(y.size, n_features))
    X = StandardScaler().fit_transform(X).astype(np.float32)
    return X, y


def _data(cls, n=60, d=7, seed=RND_SEED):
    rng = np.random.default_rng(seed)
    if cls is BernoulliRBM:
        return (rng.random((n, d)) > 0.5).astype(np.float32)
    return rng.standard_normal((n, d)).astype(np.float32)


# --------------------------------------------------------------------------
# Maths on tiny models, checked against brute force
# --------------------------------------------------------------------------


def _all_states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


@pytest.mark.parametrize("cls", RBMS)
def test_free_energy_matches_sum_over_hidden_states(cls):
    X = _data(cls, n=5, d=4)
    rbm = cls(n_components=3, n_iter=2, random_state=RND_SEED, dtype="float64")
    rbm.fit(X)
    W, c, b = rbm.components_, rbm.intercept_hidden_, rbm.intercept_visible_
    H = _all_states(3)
    if cls is BernoulliRBM:
        energy = -(X @ b)[:, None] - (H @ c)[None, :] - X @ W.T @ H.T
    else:
        quad = 0.5 * ((X - b) ** 2).sum(axis=1)
        energy = quad[:, None] - (H @ c)[None, :] - X @ W.T @ H.T
    expected = -np.log(np.exp(-energy).sum(axis=1))
    assert_allclose(rbm.free_energy(X), expected, rtol=1e-10)


def test_pseudo_likelihood_matches_brute_force():
    X = _data(BernoulliRBM, n=6, d=5)
    rbm = BernoulliRBM(n_components=4, n_iter=3, random_state=RND_SEED, dtype="float64")
    rbm.fit(X)
    expected = np.zeros(len(X))
    for i in range(X.shape[1]):
        flipped = X.copy()
        flipped[:, i] = 1 - flipped[:, i]
        f, f_flip = rbm.free_energy(X), rbm.free_energy(flipped)
        # P(v_i | v_-i) = exp(-F(v)) / (exp(-F(v)) + exp(-F(v flipped)))
        expected += -np.logaddexp(0, f - f_flip)
    assert_allclose(rbm.score_samples(X), expected, rtol=1e-10)
    assert np.all(rbm.score_samples(X) <= 0)


@pytest.mark.parametrize("cls", RBMS)
def test_transform_and_inverse_transform_are_the_conditionals(cls):
    X = _data(cls)
    rbm = cls(n_components=5, n_iter=2, random_state=RND_SEED).fit(X)
    W, c, b = rbm.components_, rbm.intercept_hidden_, rbm.intercept_visible_
    H = rbm.transform(X)
    assert_allclose(H, 1 / (1 + np.exp(-(X @ W.T + c))), rtol=1e-5, atol=1e-6)
    V = rbm.inverse_transform(H)
    expected = H @ W + b
    if cls is BernoulliRBM:
        expected = 1 / (1 + np.exp(-expected))
    assert_allclose(V, expected, rtol=1e-5, atol=1e-6)
    assert H.dtype == V.dtype == np.float32


@pytest.mark.parametrize("cls", RBMS)
def test_gibbs_step_samples(cls):
    X = _data(cls)
    rbm = cls(n_components=5, n_iter=2, random_state=RND_SEED).fit(X)
    v1, v2 = rbm.gibbs(X), rbm.gibbs(X)
    assert v1.shape == X.shape
    assert not np.array_equal(v1, v2), "successive Gibbs steps must draw anew"
    if cls is BernoulliRBM:
        assert set(np.unique(v1)) <= {0.0, 1.0}


def test_gaussian_score_samples_is_negative_free_energy():
    X = _data(GaussianBernoulliRBM)
    rbm = GaussianBernoulliRBM(n_components=5, n_iter=2, random_state=RND_SEED).fit(X)
    assert_allclose(rbm.score_samples(X), -rbm.free_energy(X))


# --------------------------------------------------------------------------
# Learning
# --------------------------------------------------------------------------


def test_parity_with_scikit_learn_pseudo_likelihood(digits):
    """Same settings as scikit-learn's BernoulliRBM (PCD-1, no momentum, no
    decay, same epochs and batches): pseudo-likelihoods within 5%."""
    X, _ = digits
    settings = dict(n_components=64, learning_rate=0.05, batch_size=10, n_iter=20)
    ours = BernoulliRBM(
        **settings, persistent=True, momentum=0.0, weight_decay=0.0, random_state=0
    ).fit(X)
    theirs = SkBernoulliRBM(**settings, random_state=0).fit(X)
    # Score both with the exact pseudo-likelihood (scikit-learn's own estimate
    # draws one random unit per row).
    scorer = BernoulliRBM(n_components=64).fit(X[:20])
    scorer.components_ = theirs.components_.astype(np.float32)
    scorer.intercept_hidden_ = theirs.intercept_hidden_.astype(np.float32)
    scorer.intercept_visible_ = theirs.intercept_visible_.astype(np.float32)
    pl_ours, pl_theirs = ours.score_samples(X).mean(), scorer.score_samples(X).mean()
    assert abs(pl_ours - pl_theirs) <= 0.05 * abs(pl_theirs), (pl_ours, pl_theirs)
    # and scikit-learn's stochastic estimate agrees with the exact one
    assert abs(theirs.score_samples(X).mean() - pl_theirs) <= 0.1 * abs(pl_theirs)


def test_bernoulli_features_classify_digits(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=RND_SEED
    )
    model = make_pipeline(
        BernoulliRBM(
            n_components=100,
            n_iter=20,
            learning_rate=0.06,
            batch_size=10,
            random_state=RND_SEED,
        ),
        LogisticRegression(C=100, max_iter=2000),
    )
    assert model.fit(X_train, y_train).score(X_test, y_test) >= 0.95


def test_gaussian_rbm_learns_a_mixture():
    X, y = _mixture()
    rbm = GaussianBernoulliRBM(
        n_components=16, n_iter=12, learning_rate=0.01, batch_size=10, random_state=1
    ).fit(X)
    curve = np.array(rbm.reconstruction_error_curve_)
    assert curve.shape == (12,)
    assert np.all(np.diff(curve) < 0), curve
    assert curve[-1] < 0.5 * curve[0]
    X_train, X_test, y_train, y_test = train_test_split(
        rbm.transform(X), y, test_size=0.3, random_state=RND_SEED, stratify=y
    )
    probe = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    assert probe.score(X_test, y_test) >= 0.9


def test_learn_sigma_stays_in_bounds_and_tracks_scale():
    rng = np.random.default_rng(RND_SEED)
    X = (rng.standard_normal((400, 6)) * np.array([0.3, 0.3, 0.3, 1, 1, 1])).astype(
        np.float32
    )
    rbm = GaussianBernoulliRBM(
        n_components=4,
        n_iter=30,
        learning_rate=0.01,
        learn_sigma=True,
        random_state=RND_SEED,
    ).fit(X)
    assert np.all((rbm.sigma_ >= 1e-2) & (rbm.sigma_ <= 1e2))
    # Features with a third of the spread get smaller learned deviations.
    assert rbm.sigma_[:3].mean() < rbm.sigma_[3:].mean()
    fixed = GaussianBernoulliRBM(n_components=4, n_iter=1, random_state=0).fit(X)
    assert_array_equal(fixed.sigma_, np.ones(6, dtype=np.float32))


def test_sparsity_lowers_hidden_activity():
    X = _data(BernoulliRBM, n=300, d=20)
    common = dict(n_components=16, n_iter=20, random_state=RND_SEED)
    dense = BernoulliRBM(**common).fit(X)
    sparse = BernoulliRBM(**common, sparsity_target=0.05, sparsity_cost=1.0).fit(X)
    assert sparse.transform(X).mean() < 0.5 * dense.transform(X).mean()


@pytest.mark.parametrize("persistent", [False, True])
@pytest.mark.parametrize("k", [1, 3])
def test_cd_variants_learn(k, persistent, digits):
    X, _ = digits
    common = dict(n_components=32, k=k, persistent=persistent, batch_size=20)
    untrained = BernoulliRBM(**common, n_iter=0, random_state=RND_SEED).fit(X)
    rbm = BernoulliRBM(**common, n_iter=5, random_state=RND_SEED).fit(X)
    assert rbm.score_samples(X).mean() > untrained.score_samples(X).mean() + 2.0
    if persistent:
        assert rbm.h_samples_.shape == (20, 32)
        assert set(np.unique(rbm.h_samples_)) <= {0.0, 1.0}


def test_partial_fit_over_batches_learns_and_returns_self(digits):
    X, _ = digits
    rbm = BernoulliRBM(n_components=32, random_state=RND_SEED)
    before = None
    for _ in range(5):
        assert rbm.partial_fit(X) is rbm
        if before is None:
            before = rbm.score_samples(X).mean()
    assert rbm.score_samples(X).mean() > before
    with pytest.raises(ValueError, match="features"):
        rbm.partial_fit(X[:, :10])


# --------------------------------------------------------------------------
# Reproducibility, persistence, errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", RBMS)
def test_same_random_state_same_model(cls):
    X = _data(cls)
    a = cls(n_components=5, n_iter=3, random_state=RND_SEED).fit(X)
    b = cls(n_components=5, n_iter=3, random_state=RND_SEED).fit(X)
    c = cls(n_components=5, n_iter=3, random_state=RND_SEED + 1).fit(X)
    assert_array_equal(a.components_, b.components_)
    assert_array_equal(a.transform(X), b.transform(X))
    assert not np.array_equal(a.components_, c.components_)


@pytest.mark.parametrize("cls", RBMS)
def test_pickle_round_trip_is_exact(cls):
    X = _data(cls)
    rbm = cls(n_components=5, n_iter=3, persistent=True, random_state=RND_SEED).fit(X)
    loaded = pickle.loads(pickle.dumps(rbm))
    assert_array_equal(loaded.transform(X), rbm.transform(X))
    assert_array_equal(loaded.score_samples(X), rbm.score_samples(X))
    # Training goes on from the loaded state.
    loaded.partial_fit(X)
    assert not np.array_equal(loaded.components_, rbm.components_)


@pytest.mark.parametrize("cls", RBMS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_refused(cls, bad):
    X = _data(cls)
    X[3, 2] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        cls(n_components=3).fit(X)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_components=0), "n_components"),
        (dict(learning_rate=-1.0), "learning_rate"),
        (dict(momentum=1.5), "momentum"),
        (dict(momentum=(0.5,)), "momentum"),
        (dict(momentum=(0.5, 2.0)), "momentum"),
        (dict(device="tpu"), "device"),
        (dict(dtype="int8"), "dtype"),
        (dict(k=0), "'k'"),
    ],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        BernoulliRBM(**params).fit(_data(BernoulliRBM))


def test_divergence_names_the_epoch_and_the_cure():
    X = _data(GaussianBernoulliRBM, n=200, d=30) * 50
    rbm = GaussianBernoulliRBM(
        n_components=20, learning_rate=5.0, momentum=0.9, n_iter=50, random_state=0
    )
    with pytest.raises(DivergenceError, match=r"epoch \d+.*learning_rate"):
        with np.errstate(all="ignore"):
            rbm.fit(X)


def test_inverse_transform_checks_width():
    X = _data(BernoulliRBM)
    rbm = BernoulliRBM(n_components=5, n_iter=1).fit(X)
    with pytest.raises(ValueError, match="n_components=5"):
        rbm.inverse_transform(np.zeros((2, 4)))


def test_feature_names_out():
    X = _data(BernoulliRBM)
    rbm = BernoulliRBM(n_components=3, n_iter=1).fit(X)
    assert list(rbm.get_feature_names_out()) == [
        "bernoullirbm0",
        "bernoullirbm1",
        "bernoullirbm2",
    ]


@pytest.mark.parametrize("cls", RBMS)
@pytest.mark.parametrize("dtype", ["float32", "float64", None])
def test_dtype(cls, dtype):
    X = _data(cls).astype(np.float64)
    rbm = cls(n_components=3, n_iter=2, dtype=dtype, random_state=0).fit(X)
    expected = np.float32 if dtype == "float32" else np.float64
    assert rbm.components_.dtype == expected
    assert rbm.transform(X).dtype == expected
    assert rbm.transform(X.astype(np.float32)).dtype == (
        np.float64 if dtype == "float64" else np.float32
    )


# --------------------------------------------------------------------------
# Devices and namespaces
# --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", RBMS)
def test_array_api_strict_matches_numpy(cls):
    xps = pytest.importorskip("array_api_strict")
    X = _data(cls)
    common = dict(n_components=5, n_iter=3, random_state=RND_SEED, persistent=True)
    ref = cls(**common).fit(X)
    rbm = cls(**common).fit(xps.asarray(X))
    assert B.get_namespace(rbm.components_) is not B.get_namespace(X)
    for method in ("transform", "score_samples", "free_energy"):
        out = getattr(rbm, method)(xps.asarray(X))
        assert B.get_namespace(out) is B.get_namespace(xps.asarray(X)), method
        assert_allclose(np.asarray(out), getattr(ref, method)(X), rtol=1e-4, atol=1e-5)
    back = rbm.inverse_transform(xps.asarray(ref.transform(X)))
    assert_allclose(
        np.asarray(back), ref.inverse_transform(ref.transform(X)), atol=1e-5
    )
    # A model fitted on another namespace pickles to NumPy.
    loaded = pickle.loads(pickle.dumps(rbm))
    assert isinstance(loaded.components_, np.ndarray)
    assert_allclose(loaded.transform(X), ref.transform(X), rtol=1e-4, atol=1e-5)


def test_array_api_strict_refuses_nan():
    xps = pytest.importorskip("array_api_strict")
    X = _data(BernoulliRBM)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BernoulliRBM(n_components=2).fit(xps.asarray(X))


@pytest.mark.skipif(B.cupy_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(DeviceError, match="device='cuda'.*CuPy"):
        BernoulliRBM(n_components=2, device="cuda").fit(_data(BernoulliRBM))


@pytest.mark.gpu
@pytest.mark.skipif(not B.cupy_available(), reason="needs CuPy and a CUDA device")
@pytest.mark.parametrize("cls", RBMS)
def test_gpu_matches_cpu(cls):
    import cupy

    X = _data(cls, n=300, d=20)
    common = dict(n_components=8, n_iter=5, random_state=RND_SEED, shuffle=False)
    cpu = cls(**common).fit(X)
    gpu = cls(**common, device="cuda").fit(X)
    assert isinstance(gpu.components_, cupy.ndarray)
    out = gpu.transform(X)
    assert isinstance(out, np.ndarray), "NumPy in, NumPy out"
    assert isinstance(gpu.transform(cupy.asarray(X)), cupy.ndarray)
    # The same parameters give the same outputs on both devices...
    moved = pickle.loads(pickle.dumps(cpu)).to_device("cuda")
    for method in ("transform", "score_samples"):
        on_gpu = getattr(moved, method)(cupy.asarray(X))
        assert_allclose(cupy.asnumpy(on_gpu), getattr(cpu, method)(X), rtol=1e-4)
    # ...and training draws from another random stream on the GPU, so compare
    # what the two models learned, not their bits.
    err_cpu = cpu.reconstruction_error_curve_[-1]
    err_gpu = gpu.reconstruction_error_curve_[-1]
    assert abs(err_cpu - err_gpu) < 0.2 * err_cpu
    loaded = pickle.loads(pickle.dumps(gpu))
    assert isinstance(loaded.components_, np.ndarray)
    assert_allclose(loaded.transform(X), out, rtol=1e-5, atol=1e-6)
    assert isinstance(loaded.to_device("cuda").components_, cupy.ndarray)
