"""Tests of skmv.dbn: stacking, the unrolled network, fine-tuning, devices."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skmv import _backend as B
from skmv.dbn import DBNTransformer
from skmv.exceptions import DeviceError, DivergenceError
from skmv.rbm import BernoulliRBM, GaussianBernoulliRBM

RND_SEED = 0
VISIBLE = ["gaussian", "bernoulli"]


def _data(visible, n=60, d=7, seed=RND_SEED):
    rng = np.random.default_rng(seed)
    if visible == "bernoulli":
        return rng.random((n, d)).astype(np.float32)
    return rng.standard_normal((n, d)).astype(np.float32)


def _low_rank(n=300, d=20, rank=3, noise=0.3, seed=RND_SEED):
    """Standardised rank-3 data plus noise: structure an autoencoder can find."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d))
    X += noise * rng.standard_normal((n, d))
    return StandardScaler().fit_transform(X).astype(np.float32)


def _reconstruction_error(dbn, X):
    return float(np.mean((dbn.inverse_transform(dbn.transform(X)) - X) ** 2))


@pytest.fixture(scope="module")
def digits():
    X, _ = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32)


# --------------------------------------------------------------------------
# The stack
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fine_tune", [None, "autoencoder"])
@pytest.mark.parametrize("visible", VISIBLE)
def test_shapes_dtypes_and_layers(visible, fine_tune):
    X = _data(visible)
    dbn = DBNTransformer(
        (5, 4, 3),
        visible=visible,
        n_iter=2,
        fine_tune=fine_tune,
        fine_tune_n_iter=2,
        random_state=RND_SEED,
    ).fit(X.astype(np.float64))
    H = dbn.transform(X)
    assert H.shape == (60, 3) and H.dtype == np.float32
    assert np.all((H >= 0) & (H <= 1))
    V = dbn.inverse_transform(H)
    assert V.shape == (60, 7) and V.dtype == np.float32
    first = GaussianBernoulliRBM if visible == "gaussian" else BernoulliRBM
    assert [type(r) for r in dbn.rbms_] == [first, BernoulliRBM, BernoulliRBM]
    assert [r.n_components for r in dbn.rbms_] == [5, 4, 3]
    assert [r.n_features_in_ for r in dbn.rbms_] == [7, 5, 4]
    assert all(r.components_.dtype == np.float32 for r in dbn.rbms_)
    assert dbn.n_features_in_ == 7
    if fine_tune is None:
        assert dbn.coefs_ is dbn.intercepts_ is dbn.loss_curve_ is None
    else:
        units = [7, 5, 4, 3, 4, 5, 7]
        assert [W.shape for W in dbn.coefs_] == list(zip(units[:-1], units[1:]))
        assert [b.shape for b in dbn.intercepts_] == [(u,) for u in units[1:]]
        assert all(W.dtype == np.float32 for W in dbn.coefs_ + dbn.intercepts_)
        assert len(dbn.loss_curve_) == 2


def test_int_hidden_layer_sizes_is_one_layer():
    dbn = DBNTransformer(4, n_iter=1, random_state=RND_SEED).fit(_data("gaussian"))
    assert [r.n_components for r in dbn.rbms_] == [4]
    assert dbn.transform(_data("gaussian")).shape == (60, 4)


def test_learning_rate_none_means_each_class_default():
    X = _data("gaussian")
    dbn = DBNTransformer((4, 3), n_iter=1, random_state=RND_SEED).fit(X)
    assert [r.learning_rate for r in dbn.rbms_] == [0.01, 0.1]
    dbn.set_params(learning_rate=0.05).fit(X)
    assert [r.learning_rate for r in dbn.rbms_] == [0.05, 0.05]


def test_shared_parameters_and_layer_overrides_reach_the_layers():
    X = _data("gaussian")
    overrides = [{"learning_rate": 0.005, "learn_sigma": True}, {"n_iter": 1, "k": 2}]
    dbn = DBNTransformer(
        (4, 3),
        n_iter=3,
        batch_size=7,
        momentum=0.3,
        layer_params=overrides,
        random_state=RND_SEED,
    ).fit(X)
    bottom, top = dbn.rbms_
    assert (bottom.learning_rate, bottom.learn_sigma, bottom.k) == (0.005, True, 1)
    assert (top.learning_rate, top.k, top.n_iter) == (0.1, 2, 1)
    assert len(bottom.reconstruction_error_curve_) == 3
    assert len(top.reconstruction_error_curve_) == 1
    assert bottom.batch_size == top.batch_size == 7
    assert bottom.momentum == top.momentum == 0.3
    # The user's dicts are read, not changed.
    assert overrides == [
        {"learning_rate": 0.005, "learn_sigma": True},
        {"n_iter": 1, "k": 2},
    ]


@pytest.mark.parametrize(
    "layer_params, error, match",
    [
        ([{}], ValueError, r"one dict per layer: 2 layer\(s\).*got 1"),
        ([{}, {}, {}], ValueError, r"one dict per layer: 2 layer\(s\).*got 3"),
        (
            [{}, {"learn_sigma": True}],
            ValueError,
            r"layer_params\[1\] \(layer 1, BernoulliRBM\).*unknown.*'learn_sigma'",
        ),
        (
            [{"n_components": 9}, {}],
            ValueError,
            r"layer_params\[0\].*'n_components'.*'hidden_layer_sizes'",
        ),
        ([{}, {"random_state": 1}], ValueError, r"layer_params\[1\].*'random_state'"),
        ([{}, {"k": 0}], ValueError, r"layer_params\[1\].*'k' parameter"),
        ([{"momentum": (0.5,)}, {}], ValueError, r"layer_params\[0\].*momentum"),
        ([{}, "fast"], TypeError, r"layer_params\[1\].*must be a dict"),
    ],
)
def test_bad_layer_params_name_the_layer(layer_params, error, match):
    dbn = DBNTransformer((4, 3), n_iter=1, layer_params=layer_params)
    with pytest.raises(error, match=match):
        dbn.fit(_data("gaussian"))


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(hidden_layer_sizes=()), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes=(3, 0)), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes=0), "hidden_layer_sizes"),
        (dict(visible="poisson"), "visible"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(fine_tune="mlp"), "fine_tune"),
        (dict(fine_tune_learning_rate=-1.0), "fine_tune_learning_rate"),
        (dict(fine_tune_n_iter=-1), "fine_tune_n_iter"),
        (dict(momentum=1.5), "momentum"),
        (dict(device="tpu"), "device"),
    ],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        DBNTransformer(**params).fit(_data("gaussian"))


# --------------------------------------------------------------------------
# The unrolled network: up and down through the same layers
# --------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [(5,), (5, 4, 3)])
@pytest.mark.parametrize("visible", VISIBLE)
def test_transform_and_inverse_compose_the_rbms(visible, sizes):
    X = _data(visible)
    # learn_sigma exercises the folding of sigma into the weights; one layer
    # alone shows it best, as upper layers damp differences in the first.
    first = [{"learn_sigma": True}] if visible == "gaussian" else [{}]
    dbn = DBNTransformer(
        sizes,
        visible=visible,
        n_iter=3,
        layer_params=first + [{}] * (len(sizes) - 1),
        random_state=RND_SEED,
    ).fit(X)
    if visible == "gaussian":
        assert not np.allclose(dbn.rbms_[0].sigma_, 1.0)
    H = X
    for rbm in dbn.rbms_:
        H = rbm.transform(H)
    assert_allclose(dbn.transform(X), H, rtol=1e-6, atol=1e-7)
    V = H
    for rbm in reversed(dbn.rbms_):
        V = rbm.inverse_transform(V)
    assert_allclose(dbn.inverse_transform(H), V, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("visible", VISIBLE)
def test_fine_tuning_starts_from_the_unrolled_stack(visible):
    """Zero epochs of fine-tuning: encoder = W^T and hidden biases, decoder =
    W and visible biases, in untied copies; the maps are the stack's."""
    X = _data(visible)
    common = dict(
        hidden_layer_sizes=(5, 3), visible=visible, n_iter=2, random_state=RND_SEED
    )
    stack = DBNTransformer(**common).fit(X)
    unrolled = DBNTransformer(**common, fine_tune="autoencoder", fine_tune_n_iter=0)
    unrolled.fit(X)
    assert unrolled.loss_curve_ == []
    (r0, r1), W = unrolled.rbms_, unrolled.coefs_
    assert_array_equal(W[0], r0.components_.T)
    assert_array_equal(W[1], r1.components_.T)
    assert_array_equal(W[2], r1.components_)
    assert_array_equal(W[3], r0.components_)
    b = unrolled.intercepts_
    assert_array_equal(b[0], r0.intercept_hidden_)
    assert_array_equal(b[3], r0.intercept_visible_)
    assert not any(np.shares_memory(W[i], W[3 - i]) for i in range(4))
    assert not np.shares_memory(W[0], r0.components_)
    assert_allclose(unrolled.transform(X), stack.transform(X), rtol=1e-6)
    H = stack.transform(X)
    assert_allclose(unrolled.inverse_transform(H), stack.inverse_transform(H))


@pytest.mark.parametrize("visible", VISIBLE)
def test_backprop_gradients_match_finite_differences(visible):
    X = _data(visible, n=9, d=5).astype(np.float64)
    dbn = DBNTransformer(
        (4, 3),
        visible=visible,
        n_iter=2,
        fine_tune="autoencoder",
        fine_tune_n_iter=1,
        batch_size=3,
        dtype="float64",
        random_state=RND_SEED,
    ).fit(X)
    xp = B.get_namespace(X)
    coefs = [W.copy() for W in dbn.coefs_]
    intercepts = [b.copy() for b in dbn.intercepts_]
    params = coefs + intercepts
    loss, grads = dbn._backprop(X, (coefs, intercepts), xp)

    def loss_at():
        return float(dbn._backprop(X, (coefs, intercepts), xp)[0])

    rng = np.random.default_rng(RND_SEED)
    eps = 1e-6
    for p, g in zip(params, grads):
        assert g.shape == p.shape
        for flat in rng.choice(p.size, size=min(p.size, 4), replace=False):
            idx = np.unravel_index(flat, p.shape)
            saved = p[idx]
            p[idx] = saved + eps
            up = loss_at()
            p[idx] = saved - eps
            down = loss_at()
            p[idx] = saved
            assert_allclose(g[idx], (up - down) / (2 * eps), rtol=1e-4, atol=1e-9)
    assert_allclose(float(loss), loss_at())


# --------------------------------------------------------------------------
# Fine-tuning
# --------------------------------------------------------------------------


def test_fine_tuning_lowers_the_reconstruction_error():
    X = _low_rank()
    common = dict(
        hidden_layer_sizes=(16, 8), n_iter=10, batch_size=20, random_state=RND_SEED
    )
    stack = DBNTransformer(**common).fit(X)
    tuned = DBNTransformer(
        **common,
        fine_tune="autoencoder",
        fine_tune_n_iter=30,
        fine_tune_learning_rate=3e-3,
    ).fit(X)
    # Pre-training is the same with or without fine-tuning.
    for a, b in zip(stack.rbms_, tuned.rbms_):
        assert_array_equal(a.components_, b.components_)
    before, after = _reconstruction_error(stack, X), _reconstruction_error(tuned, X)
    assert after < 0.6 * before, (before, after)
    curve = np.array(tuned.loss_curve_)
    assert curve.shape == (30,)
    assert curve[-1] < 0.6 * curve[0]
    assert np.mean(np.diff(curve) < 0) > 0.8, curve
    # The decoder was trained apart from the encoder (weights untied).
    assert not np.allclose(tuned.coefs_[3], tuned.coefs_[0].T)
    assert not np.allclose(tuned.transform(X), stack.transform(X))


def test_bernoulli_visible_on_digits(digits):
    X = digits
    common = dict(
        hidden_layer_sizes=(32, 16),
        visible="bernoulli",
        n_iter=5,
        batch_size=50,
        random_state=RND_SEED,
    )
    stack = DBNTransformer(**common).fit(X)
    tuned = DBNTransformer(
        **common,
        fine_tune="autoencoder",
        fine_tune_n_iter=10,
        fine_tune_learning_rate=1e-2,
    ).fit(X)
    assert [type(r) for r in stack.rbms_] == [BernoulliRBM, BernoulliRBM]
    R = tuned.inverse_transform(tuned.transform(X))
    assert R.shape == X.shape and np.all((R >= 0) & (R <= 1))
    before, after = _reconstruction_error(stack, X), _reconstruction_error(tuned, X)
    assert after < 0.8 * before, (before, after)
    assert tuned.loss_curve_[-1] < tuned.loss_curve_[0]


def test_divergence_names_the_stage_and_the_cure():
    X = _low_rank(n=100, d=10) * 50
    with np.errstate(all="ignore"):
        dbn = DBNTransformer(
            (20, 4), learning_rate=5.0, momentum=0.9, n_iter=50, random_state=0
        )
        with pytest.raises(DivergenceError, match=r"layer 0 .*learning_rate"):
            dbn.fit(X)
        # No half-built network is left behind.
        assert not hasattr(dbn, "rbms_")
        with pytest.raises(
            DivergenceError, match=r"fine-tuning diverged at epoch \d+.*fine_tune_lear"
        ):
            DBNTransformer(
                (4, 3),
                n_iter=1,
                fine_tune="autoencoder",
                fine_tune_learning_rate=1e36,
                random_state=0,
            ).fit(X)


def test_refit_without_fine_tuning_drops_the_tuned_weights():
    X = _data("gaussian")
    dbn = DBNTransformer((4, 3), n_iter=1, fine_tune="autoencoder", random_state=0)
    dbn.fit(X)
    assert dbn.coefs_ is not None
    dbn.set_params(fine_tune=None).fit(X)
    assert dbn.coefs_ is None and dbn.loss_curve_ is None
    H = dbn.rbms_[1].transform(dbn.rbms_[0].transform(X))
    assert_allclose(dbn.transform(X), H, rtol=1e-6)


def test_verbose_reports_layers_and_epochs(capsys):
    DBNTransformer(
        (4, 3),
        n_iter=1,
        fine_tune="autoencoder",
        fine_tune_n_iter=2,
        verbose=1,
        random_state=0,
    ).fit(_data("gaussian"))
    out = capsys.readouterr().out
    assert "Layer 2/2 (BernoulliRBM, 3 units)" in out
    assert "Fine-tuning epoch 2/2, loss = " in out
    assert "[GaussianBernoulliRBM] Epoch 1/1" in out


# --------------------------------------------------------------------------
# Reproducibility, persistence, errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fine_tune", [None, "autoencoder"])
def test_same_random_state_same_model(fine_tune):
    X = _data("gaussian")
    common = dict(
        hidden_layer_sizes=(4, 3), n_iter=3, fine_tune=fine_tune, fine_tune_n_iter=3
    )
    a = DBNTransformer(**common, random_state=RND_SEED).fit(X)
    b = DBNTransformer(**common, random_state=RND_SEED).fit(X)
    c = DBNTransformer(**common, random_state=RND_SEED + 1).fit(X)
    assert_array_equal(a.transform(X), b.transform(X))
    assert_array_equal(
        a.inverse_transform(a.transform(X)), b.inverse_transform(b.transform(X))
    )
    assert not np.allclose(a.transform(X), c.transform(X))
    # Each layer gets a seed of its own.
    seeds = [r.random_state for r in a.rbms_]
    assert len(set(seeds)) == 2 and all(isinstance(s, int) for s in seeds)
    # A RandomState instance is advanced, as in scikit-learn.
    rs = np.random.RandomState(RND_SEED)
    d = DBNTransformer(**common, random_state=rs).fit(X)
    e = DBNTransformer(**common, random_state=rs).fit(X)
    assert not np.allclose(d.transform(X), e.transform(X))


@pytest.mark.parametrize("fine_tune", [None, "autoencoder"])
def test_pickle_round_trip_is_exact(fine_tune):
    X = _data("gaussian")
    dbn = DBNTransformer(
        (4, 3), n_iter=2, fine_tune=fine_tune, fine_tune_n_iter=2, random_state=0
    ).fit(X)
    loaded = pickle.loads(pickle.dumps(dbn))
    assert_array_equal(loaded.transform(X), dbn.transform(X))
    H = dbn.transform(X)
    assert_array_equal(loaded.inverse_transform(H), dbn.inverse_transform(H))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_refused(bad):
    X = _data("gaussian")
    dbn = DBNTransformer((4, 3), n_iter=1, random_state=0).fit(X)
    X[3, 2] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        DBNTransformer((4, 3), n_iter=1).fit(X)
    with pytest.raises(ValueError, match="NaN|infinity"):
        dbn.transform(X)
    H = dbn.transform(_data("gaussian"))
    H[0, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        dbn.inverse_transform(H)


def test_inverse_transform_and_transform_check_widths():
    X = _data("gaussian")
    dbn = DBNTransformer((5, 3), n_iter=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"3 columns \(hidden_layer_sizes\[-1\]\)"):
        dbn.inverse_transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="X has 6 features"):
        dbn.transform(X[:, :6])


def test_feature_names_out():
    dbn = DBNTransformer((5, 3), n_iter=1).fit(_data("gaussian"))
    assert list(dbn.get_feature_names_out()) == [
        "dbntransformer0",
        "dbntransformer1",
        "dbntransformer2",
    ]


@pytest.mark.parametrize("fine_tune", [None, "autoencoder"])
@pytest.mark.parametrize("dtype", ["float32", "float64", None])
def test_dtype(dtype, fine_tune):
    X = _data("gaussian").astype(np.float64)
    dbn = DBNTransformer(
        (4, 3), n_iter=2, dtype=dtype, fine_tune=fine_tune, fine_tune_n_iter=2
    ).fit(X)
    expected = np.float32 if dtype == "float32" else np.float64
    assert all(r.components_.dtype == expected for r in dbn.rbms_)
    if fine_tune:
        assert all(W.dtype == expected for W in dbn.coefs_ + dbn.intercepts_)
    assert dbn.transform(X).dtype == expected
    assert dbn.inverse_transform(dbn.transform(X)).dtype == expected
    assert dbn.transform(X.astype(np.float32)).dtype == (
        np.float64 if dtype == "float64" else np.float32
    )


# --------------------------------------------------------------------------
# Devices and namespaces
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fine_tune", [None, "autoencoder"])
@pytest.mark.parametrize("visible", VISIBLE)
def test_array_api_strict_matches_numpy(visible, fine_tune):
    xps = pytest.importorskip("array_api_strict")
    X = _data(visible)
    common = dict(
        hidden_layer_sizes=(5, 3),
        visible=visible,
        n_iter=3,
        fine_tune=fine_tune,
        fine_tune_n_iter=3,
        batch_size=20,
        random_state=RND_SEED,
    )
    ref = DBNTransformer(**common).fit(X)
    dbn = DBNTransformer(**common).fit(xps.asarray(X))
    assert B.get_namespace(dbn.rbms_[0].components_) is B.get_namespace(xps.asarray(X))
    H = dbn.transform(xps.asarray(X))
    assert B.get_namespace(H) is B.get_namespace(xps.asarray(X))
    assert_allclose(np.asarray(H), ref.transform(X), rtol=1e-4, atol=1e-5)
    V = dbn.inverse_transform(H)
    assert B.get_namespace(V) is B.get_namespace(xps.asarray(X))
    assert_allclose(
        np.asarray(V), ref.inverse_transform(ref.transform(X)), rtol=1e-4, atol=1e-5
    )
    if fine_tune:
        assert_allclose(dbn.loss_curve_, ref.loss_curve_, rtol=1e-4)
    # No silent moves with device="auto": NumPy input to a strict model fails.
    with pytest.raises(ValueError, match="must use the same namespace"):
        dbn.transform(X)
    # Pickling converts everything, fine-tuned weights included, to NumPy.
    loaded = pickle.loads(pickle.dumps(dbn))
    assert isinstance(loaded.rbms_[-1].components_, np.ndarray)
    if fine_tune:
        assert all(
            isinstance(W, np.ndarray) for W in loaded.coefs_ + loaded.intercepts_
        )
    assert_allclose(loaded.transform(X), ref.transform(X), rtol=1e-4, atol=1e-5)


def test_to_device_moves_the_layers_and_the_tuned_weights():
    xps = pytest.importorskip("array_api_strict")
    X = _data("gaussian")
    dbn = DBNTransformer(
        (5, 3), n_iter=2, fine_tune="autoencoder", fine_tune_n_iter=2, random_state=0
    ).fit(xps.asarray(X))
    expected = np.asarray(dbn.transform(xps.asarray(X)))
    assert dbn.to_device("cpu") is dbn
    assert all(isinstance(r.components_, np.ndarray) for r in dbn.rbms_)
    assert all(isinstance(W, np.ndarray) for W in dbn.coefs_ + dbn.intercepts_)
    assert_allclose(dbn.transform(X), expected, rtol=1e-6)


def test_explicit_cpu_device_converts_each_call():
    xps = pytest.importorskip("array_api_strict")
    X = _data("gaussian")
    dbn = DBNTransformer((5, 3), n_iter=2, device="cpu", random_state=0).fit(X)
    H = dbn.transform(xps.asarray(X))
    assert B.get_namespace(H) is B.get_namespace(xps.asarray(X))
    assert_allclose(np.asarray(H), dbn.transform(X))


def test_array_api_strict_refuses_nan():
    xps = pytest.importorskip("array_api_strict")
    X = _data("gaussian")
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DBNTransformer((3, 2), n_iter=1).fit(xps.asarray(X))


@pytest.mark.skipif(B.cupy_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(DeviceError, match="device='cuda'.*CuPy"):
        DBNTransformer((3, 2), device="cuda").fit(_data("gaussian"))


@pytest.mark.gpu
@pytest.mark.skipif(not B.cupy_available(), reason="needs CuPy and a CUDA device")
def test_gpu_matches_cpu():
    import cupy

    X = _low_rank()
    common = dict(
        hidden_layer_sizes=(16, 8),
        n_iter=10,
        batch_size=20,
        fine_tune="autoencoder",
        fine_tune_n_iter=10,
        fine_tune_learning_rate=3e-3,
        random_state=RND_SEED,
        shuffle=False,
    )
    cpu = DBNTransformer(**common).fit(X)
    gpu = DBNTransformer(**common, device="cuda").fit(X)
    assert isinstance(gpu.coefs_[0], cupy.ndarray)
    assert isinstance(gpu.rbms_[0].components_, cupy.ndarray)
    out = gpu.transform(X)
    assert isinstance(out, np.ndarray), "NumPy in, NumPy out"
    assert isinstance(gpu.transform(cupy.asarray(X)), cupy.ndarray)
    # Different random streams: compare what the models learned, not bits.
    err_cpu, err_gpu = _reconstruction_error(cpu, X), _reconstruction_error(gpu, X)
    assert abs(err_cpu - err_gpu) < 0.2 * err_cpu
    loaded = pickle.loads(pickle.dumps(gpu))
    assert isinstance(loaded.coefs_[0], np.ndarray)
    assert_allclose(loaded.transform(X), out, rtol=1e-5, atol=1e-6)
    loaded.to_device("cuda")
    assert isinstance(loaded.coefs_[0], cupy.ndarray)
    assert isinstance(loaded.rbms_[0].components_, cupy.ndarray)
