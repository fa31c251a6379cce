"""Tests of skmv._backend: namespaces, devices, random streams, hot kernels."""

import numpy as np
import pytest
import scipy.special
from numpy.testing import assert_allclose, assert_array_equal

from skmv import _backend as B
from skmv.exceptions import DeviceError
from skmv.rbm import BernoulliRBM

RND_SEED = 0
xps = pytest.importorskip("array_api_strict")
NAMESPACES = [B.get_namespace(np.zeros(1)), B.get_namespace(xps.asarray([0.0]))]


def test_non_arrays_count_as_numpy():
    np_xp = B.get_namespace(np.zeros(1))
    assert B.get_namespace([[1.0, 2.0]]) is np_xp
    assert B.get_namespace() is np_xp
    assert not B.is_array([1.0])
    assert B.is_array(xps.asarray([1.0]))


def test_to_namespace_round_trip_without_copy_when_in_place():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    xp = B.get_namespace(xps.asarray([0.0]))
    b = B.to_namespace(a, xp)
    assert B.get_namespace(b) is xp
    assert B.to_namespace(b, xp) is b
    assert_array_equal(B.to_numpy(b), a)
    assert B.to_namespace(a, B.get_namespace(a)) is a


def test_to_namespace_honours_the_device():
    dev = xps.Device("device1")
    xp = B.get_namespace(xps.asarray([0.0]))
    b = B.to_namespace(np.ones(3), xp, dev)
    assert B.device_of(b) == dev
    assert not B.same_place(b, xps.asarray([1.0, 1.0, 1.0]))


def test_compute_context_auto_follows_input():
    X = xps.asarray([[1.0]])
    ctx = B.compute_context(X, "auto")
    assert ctx.xp is B.get_namespace(X) and not ctx.explicit
    cpu = B.compute_context(X, "cpu")
    assert B.is_numpy_namespace(cpu.xp) and cpu.explicit
    out = cpu.give(cpu.put(X))
    assert B.get_namespace(out) is B.get_namespace(X)


@pytest.mark.skipif(B.cupy_available(), reason="this machine has a GPU")
def test_cuda_request_without_gpu():
    with pytest.raises(DeviceError, match="skmv\\[gpu\\]"):
        B.compute_context(np.zeros(1), "cuda")


@pytest.mark.parametrize("xp", NAMESPACES, ids=["numpy", "strict"])
def test_make_rng_is_seeded_and_typed(xp):
    a = B.make_rng(RND_SEED, xp).random((3, 4), xp.float32)
    b = B.make_rng(RND_SEED, xp).random((3, 4), xp.float32)
    c = B.make_rng(RND_SEED + 1, xp).random((3, 4), xp.float32)
    assert B.get_namespace(a) is xp and a.dtype == xp.float32
    assert_array_equal(B.to_numpy(a), B.to_numpy(b))
    assert not np.array_equal(B.to_numpy(a), B.to_numpy(c))
    rs = np.random.RandomState(RND_SEED)
    first = B.to_numpy(B.make_rng(rs, xp).random((5,), xp.float32))
    second = B.to_numpy(B.make_rng(rs, xp).random((5,), xp.float32))
    assert not np.array_equal(first, second), "a RandomState instance advances"


@pytest.mark.parametrize("xp", NAMESPACES, ids=["numpy", "strict"])
def test_sigmoid_and_softplus(xp):
    x = np.linspace(-100, 100, 41).astype(np.float32)
    s = B.to_numpy(B.sigmoid_(B.to_namespace(x.copy(), xp), xp))
    assert_allclose(s, scipy.special.expit(x), atol=1e-7)
    sp = B.to_numpy(B.softplus(B.to_namespace(x, xp), xp))
    assert np.all(np.isfinite(sp))
    assert_allclose(sp, np.logaddexp(0, x.astype(np.float64)), rtol=1e-6, atol=1e-7)


def test_sigmoid_is_in_place_on_numpy():
    x = np.array([0.0, 2.0], dtype=np.float32)
    out = B.sigmoid_(x, B.get_namespace(x))
    assert out is x
    assert_allclose(x, [0.5, scipy.special.expit(2.0)], rtol=1e-6)


@pytest.mark.parametrize("xp", NAMESPACES, ids=["numpy", "strict"])
def test_bernoulli_matches_probabilities(xp):
    p = np.tile(np.array([0.0, 0.2, 0.7, 1.0], dtype=np.float32), (5000, 1))
    rng = B.make_rng(RND_SEED, xp)
    draws = B.to_numpy(B.bernoulli_(B.to_namespace(p, xp), rng, xp))
    assert draws.dtype == np.float32
    assert set(np.unique(draws)) <= {0.0, 1.0}
    assert_allclose(draws.mean(axis=0), p[0], atol=0.02)


@pytest.mark.parametrize("xp", NAMESPACES, ids=["numpy", "strict"])
def test_update_kernels(xp):
    rng = np.random.default_rng(RND_SEED)
    A, C = rng.random((7, 3)), rng.random((7, 4))
    V = rng.random((3, 4))
    put = lambda a: B.to_namespace(a.astype(np.float32), xp)  # noqa: E731
    out = B.matmul_(put(A).T, put(C), put(np.zeros((3, 4))), xp)
    assert_allclose(B.to_numpy(out), A.T @ C, rtol=1e-5)
    vel = B.momentum_(put(V), 0.5, put(C[:3]), xp)
    assert_allclose(B.to_numpy(vel), 0.5 * V + C[:3], rtol=1e-6)
    assert_allclose(B.to_numpy(B.scale_(put(V), 2.0, xp)), 2 * V, rtol=1e-6)
    assert_allclose(B.to_numpy(B.add_(put(V), put(V), xp)), 2 * V, rtol=1e-6)
    assert B.all_finite(put(V), xp)
    bad = V.copy()
    bad[1, 2] = np.inf
    assert not B.all_finite(put(bad), xp)
    bad[1, 2] = np.nan
    assert not B.all_finite(put(bad), xp)


def test_all_finite_with_overflowing_sum():
    x = np.full(10, np.finfo(np.float32).max, dtype=np.float32)
    assert B.all_finite(x, B.get_namespace(x))


def test_resolve_dtype():
    xp = B.get_namespace(np.zeros(1))
    assert B.resolve_dtype(None, np.float64, xp) == xp.float64
    assert B.resolve_dtype(None, np.int64, xp) == xp.float32
    assert B.resolve_dtype("float32", np.float64, xp) == xp.float32


def test_to_device_cpu_moves_fitted_arrays():
    X = np.random.default_rng(0).random((20, 4)).astype(np.float32)
    rbm = BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(xps.asarray(X))
    assert not isinstance(rbm.components_, np.ndarray)
    assert rbm.to_device("cpu") is rbm
    assert isinstance(rbm.components_, np.ndarray)
    assert all(isinstance(v, np.ndarray) for v in rbm._velocity)
    assert isinstance(rbm.transform(X), np.ndarray)
    with pytest.raises(ValueError, match="device must be"):
        rbm.to_device("tpu")


def test_model_saved_with_cuda_loads_and_predicts_without_a_gpu(monkeypatch):
    """A model fitted with device='cuda' pickles as NumPy; where no GPU is,
    it loads, says so, and computes on the CPU (simulated here by hiding
    CuPy, so that the test means the same on a machine with a GPU)."""
    import pickle

    from skmv.dbn import DBNTransformer
    from skmv.shared import SharedRBM

    X = np.random.default_rng(0).random((30, 6)).astype(np.float32)
    model = SharedRBM(
        [
            ("a", DBNTransformer(3, n_iter=2), slice(0, 3)),
            ("b", "passthrough", [3, 4, 5]),
        ],
        n_components=2,
        n_iter=2,
        random_state=0,
    ).fit(X)
    expected = model.transform(X, given=["a"])
    # As if fitted on a GPU: the model, its encoder and the fitted encoder.
    model.set_params(device="cuda", a__device="cuda")
    model.named_modalities_["a"].device = "cuda"
    blob = pickle.dumps(model)
    monkeypatch.setattr(B, "_import_cupy", lambda: None)
    with pytest.warns(UserWarning, match="saved with device='cuda'") as record:
        restored = pickle.loads(blob)
    assert len(record) == 3  # each object says it, by its class name
    assert sorted(str(w.message).split()[1] for w in record) == [
        "DBNTransformer",
        "DBNTransformer",
        "SharedRBM",
    ]
    assert restored.device == "auto"
    assert restored.named_modalities_["a"].device == "auto"
    assert_array_equal(restored.transform(X, given=["a"]), expected)
