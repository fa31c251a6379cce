"""Tests of skmv.shared: SharedRBM's fusion, inference, parameters and devices."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, Normalizer, StandardScaler

from skmv import _backend as B
from skmv.datasets import make_paired_modalities
from skmv.exceptions import DeviceError
from skmv.rbm import BernoulliRBM, GaussianBernoulliRBM
from skmv.shared import SharedRBM

RND_SEED = 0
N_A, N_B = 8, 6  # features of the two modalities of the small fixture


def _paired(n_samples=120, n_features=(N_A, N_B), seed=RND_SEED, noise=0.3):
    """Standardised paired modalities (and classes) that share a latent cause."""
    X, y = make_paired_modalities(
        n_samples, n_features=n_features, noise=noise, random_state=seed
    )
    return StandardScaler().fit_transform(X).astype(np.float32), y


def _encoder(n_components=6, **params):
    return GaussianBernoulliRBM(
        n_components, n_iter=10, learning_rate=0.02, batch_size=10, **params
    )


def _model(**params):
    settings = dict(
        modalities=[
            ("a", _encoder(), slice(0, N_A)),
            ("b", _encoder(), slice(N_A, N_A + N_B)),
        ],
        n_components=5,
        n_iter=10,
        batch_size=10,
        random_state=RND_SEED,
    )
    settings.update(params)
    return SharedRBM(**settings)


@pytest.fixture(scope="module")
def data():
    return _paired()


@pytest.fixture(scope="module")
def fitted(data):
    X, _ = data
    return _model().fit(X)


def _encodings(model, X):
    return np.hstack(
        [
            X[:, columns]
            if encoder == "passthrough"
            else encoder.transform(X[:, columns])
            for _, encoder, columns in model.modalities_
        ]
    )


# --------------------------------------------------------------------------
# The acceptance test
# --------------------------------------------------------------------------


def test_acceptance_cross_modal_reconstruction_and_retrieval():
    """From A alone, B is reconstructed with at most 0.7 times the error of
    predicting B's training mean, and each true B is among the 10 nearest of
    100 candidates to its reconstruction at least half the time (random: 0.1).
    """
    n_a, n_b = 40, 30
    X, _ = make_paired_modalities(
        1100, n_features=(n_a, n_b), noise=0.3, random_state=RND_SEED
    )
    X_train, X_test = X[:1000], X[1000:]

    def encoder():
        # Standardise each block inside its encoder, so that reconstructions
        # come back in the original feature space.
        return make_pipeline(
            StandardScaler(),
            GaussianBernoulliRBM(64, n_iter=20, learning_rate=0.01, batch_size=20),
        )

    model = SharedRBM(
        [("a", encoder(), slice(0, n_a)), ("b", encoder(), slice(n_a, None))],
        n_components=64,
        n_iter=20,
        batch_size=20,
        random_state=RND_SEED,
    ).fit(X_train)

    B_test = X_test[:, n_a:]
    query = X_test.copy()
    query[:, n_a:] = np.nan  # B is not read
    B_hat = model.reconstruct(query, given=["a"], target="b")
    assert B_hat.shape == B_test.shape

    mse = np.mean((B_hat - B_test) ** 2)
    mse_mean = np.mean((X_train[:, n_a:].mean(axis=0) - B_test) ** 2)
    assert mse <= 0.7 * mse_mean, (mse, mse_mean)

    distances = ((B_hat[:, None, :] - B_test[None, :, :]) ** 2).sum(axis=2)
    rank = (distances < np.diag(distances)[:, None]).sum(axis=1)
    precision_at_10 = np.mean(rank < 10)
    assert precision_at_10 >= 0.5, precision_at_10


# --------------------------------------------------------------------------
# What the methods compute
# --------------------------------------------------------------------------


def test_transform_with_all_modalities_is_the_shared_rbm_on_the_encodings(data, fitted):
    X, _ = data
    V = _encodings(fitted, X)
    assert V.shape == (len(X), 12)
    assert_allclose(fitted.transform(X), fitted.rbm_.transform(V), rtol=1e-6)
    assert_array_equal(fitted.transform(X), _model().fit_transform(X))
    # infer with every modality given infers nothing: the encodings themselves.
    assert_array_equal(fitted.infer(X, given=["a", "b"]), V)
    assert fitted.transform(X).shape == (len(X), 5)
    assert fitted.encoding_slices_ == {"a": slice(0, 6), "b": slice(6, 12)}
    assert_allclose(fitted.encoding_mean_, V.mean(axis=0), rtol=1e-5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e30])
def test_transform_from_given_modalities_ignores_the_others(data, fitted, bad):
    X, _ = data
    from_a = fitted.transform(X, given=["a"])
    assert from_a.shape == (len(X), 5)
    assert not np.allclose(from_a, fitted.transform(X), atol=1e-3)
    X_missing = X.copy()
    X_missing[:, N_A:] = bad
    assert_array_equal(fitted.transform(X_missing, given=["a"]), from_a)
    assert_array_equal(fitted.transform(X_missing, given="a"), from_a)
    assert_array_equal(
        fitted.infer(X_missing, given=["a"]), fitted.infer(X, given=["a"])
    )
    if not np.isfinite(bad):
        with pytest.raises(ValueError, match=r"modality 'b' \(first in row 0\)"):
            fitted.transform(X_missing)


def test_infer_clamps_the_given_blocks_and_reaches_a_fixed_point(data, fitted):
    X, _ = data
    a, b = fitted.encoding_slices_["a"], fitted.encoding_slices_["b"]
    V = fitted.infer(X, given=["a"], n_gibbs=500, tol=0.0)
    assert_array_equal(V[:, a], fitted.named_modalities_["a"].transform(X[:, :N_A]))
    assert np.all((V[:, b] > 0) & (V[:, b] < 1))
    # A mean-field fixed point: one more step, P(v_b | P(h | v)), stays put.
    rbm = fitted.rbm_
    h = rbm.transform(V)
    step = 1 / (1 + np.exp(-(h @ rbm.components_[:, b] + rbm.intercept_visible_[b])))
    assert_allclose(step, V[:, b], atol=1e-4)
    # The default stopping rule lands near the same point; no steps, at the
    # training mean.
    assert_allclose(fitted.infer(X, given=["a"])[:, b], V[:, b], atol=5e-3)
    start = fitted.infer(X, given=["a"], n_gibbs=0)
    assert_array_equal(start[:, b], np.tile(fitted.encoding_mean_[b], (len(X), 1)))
    # Each row stops on its own: a subset gives the same rows.
    assert_allclose(
        fitted.infer(X[:7], given=["a"]), fitted.infer(X, given=["a"])[:7], atol=1e-4
    )


def test_infer_by_sampling_is_seeded_by_random_state(data):
    X, _ = data
    model = _model().fit(X)
    sampled = model.infer(X, given=["b"], mean_field=False, n_gibbs=20)
    a = model.encoding_slices_["a"]
    assert np.all((sampled[:, a] >= 0) & (sampled[:, a] <= 1))
    assert_array_equal(
        sampled, model.infer(X, given=["b"], mean_field=False, n_gibbs=20)
    )
    assert not np.allclose(sampled, model.infer(X, given=["b"], n_gibbs=20))
    model.set_params(random_state=RND_SEED + 1)  # reseeds sampling, not the fit
    assert not np.array_equal(
        sampled, model.infer(X, given=["b"], mean_field=False, n_gibbs=20)
    )


def test_reconstruct_decodes_with_the_target_encoder(data, fitted):
    X, _ = data
    V = fitted.infer(X, given=["a"])
    expected = fitted.named_modalities_["b"].inverse_transform(
        V[:, fitted.encoding_slices_["b"]]
    )
    assert_array_equal(fitted.reconstruct(X, given=["a"], target="b"), expected)
    back = fitted.reconstruct(X, given="b", target="a", n_gibbs=5, tol=0.0)
    assert back.shape == (len(X), N_A)


def test_three_modalities_with_every_kind_of_selector():
    X, _ = make_paired_modalities(
        150, n_features=(8, 6, 5), noise=0.3, random_state=RND_SEED
    )
    X[:, :14] = StandardScaler().fit_transform(X[:, :14])
    c_columns = [18, 14, 15, 16, 17]  # not contiguous, not sorted
    model = SharedRBM(
        [
            ("a", _encoder(), slice(0, 8)),
            (
                "b",
                make_pipeline(MinMaxScaler(), BernoulliRBM(4, n_iter=3)),
                lambda X: np.arange(8, 14),
            ),
            ("c", MinMaxScaler(clip=True), c_columns),
        ],
        n_components=6,
        n_iter=3,
        batch_size=20,
        random_state=RND_SEED,
    )
    model.fit(X)
    assert [name for name, _, _ in model.modalities_] == ["a", "b", "c"]
    assert model.modalities_[1][2] == slice(8, 14)
    assert model.modalities_[2][2] == c_columns
    assert model.encoding_slices_ == {
        "a": slice(0, 6),
        "b": slice(6, 10),
        "c": slice(10, 15),
    }
    assert callable(model.modalities[1][2]), "the user's list is not edited"
    assert model.transform(X).shape == (150, 6)

    V = model.infer(X, given=["a", "c"])
    assert_array_equal(
        V[:, 10:],
        MinMaxScaler(clip=True).fit(X[:, c_columns]).transform(X[:, c_columns]),
    )
    c_hat = model.reconstruct(X, given=["a", "b"], target="c")
    assert c_hat.shape == (150, 5)
    # The MinMaxScaler's inverse maps back into the range of c's columns.
    lo, hi = X[:, c_columns].min(axis=0), X[:, c_columns].max(axis=0)
    assert np.all((c_hat >= lo - 1e-5) & (c_hat <= hi + 1e-5))
    # Given two of three, or one of three.
    X_missing = X.copy()
    X_missing[:, 8:] = np.nan
    assert model.transform(X_missing, given=["a"]).shape == (150, 6)


def test_passthrough_modalities_and_ignored_columns():
    rng = np.random.default_rng(RND_SEED)
    X = rng.random((60, 7)).astype(np.float32)
    X[:, 3] = np.nan  # a column no modality selects
    model = SharedRBM(
        [("a", "passthrough", [0, 1, 2]), ("b", "passthrough", slice(4, None))],
        n_components=4,
        n_iter=2,
        random_state=RND_SEED,
    ).fit(X)
    assert model.named_modalities_["a"] == "passthrough"
    assert_array_equal(model.infer(X, given=["a", "b"]), X[:, [0, 1, 2, 4, 5, 6]])
    b_hat = model.reconstruct(X, given=["a"], target="b")
    assert_array_equal(b_hat, model.infer(X, given=["a"])[:, 3:])


# --------------------------------------------------------------------------
# Parameters: nested, seeds, dtype, names
# --------------------------------------------------------------------------


def test_nested_parameters_reach_the_fitted_clones(data):
    X, y = data
    user_encoder = _encoder()
    model = _model(
        modalities=[("a", user_encoder, slice(0, N_A)), ("b", "passthrough", [8])]
    )
    params = model.get_params()
    assert params["a"] is user_encoder
    assert params["a__n_components"] == 6
    assert params["b"] == "passthrough"
    model.set_params(a__n_components=3, n_components=2)
    model.fit(X)
    assert model.named_modalities_["a"].n_components == 3
    assert model.named_modalities_["a"] is not user_encoder
    assert not hasattr(user_encoder, "components_"), "the user's encoder is cloned"
    assert model.rbm_.components_.shape == (2, 3 + 1)
    model.set_params(b=_encoder(2)).fit(X)
    assert model.encoding_slices_["b"] == slice(3, 5)
    assert model.modalities[1][2] == [8], "replacing an encoder keeps its columns"

    search = GridSearchCV(
        make_pipeline(_model(), LogisticRegression()),
        {"sharedrbm__a__n_components": [2, 4]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["sharedrbm__a__n_components"] in (2, 4)


def test_random_state_seeds_unseeded_encoders(data):
    X, _ = data
    model = _model(
        modalities=[
            ("a", _encoder(), slice(0, N_A)),
            ("b", _encoder(random_state=7), slice(N_A, None)),
        ]
    ).fit(X)
    assert isinstance(model.named_modalities_["a"].random_state, int)
    assert model.named_modalities_["b"].random_state == 7
    assert model.modalities[0][1].random_state is None
    same = _model().fit(X)
    again = _model().fit(X)
    other = _model(random_state=RND_SEED + 1).fit(X)
    assert_array_equal(same.transform(X), again.transform(X))
    assert_array_equal(
        same.reconstruct(X, ["a"], "b"), again.reconstruct(X, ["a"], "b")
    )
    assert not np.allclose(same.transform(X), other.transform(X))


@pytest.mark.parametrize("dtype", ["float32", "float64", None])
def test_dtype(data, dtype):
    X, _ = data
    X64 = X.astype(np.float64)
    modalities = [("a", "passthrough", slice(0, 3)), ("b", "passthrough", [3, 4])]
    model = SharedRBM(modalities, n_components=3, n_iter=2, dtype=dtype).fit(X64)
    expected = np.float32 if dtype == "float32" else np.float64
    assert model.transform(X64).dtype == expected
    assert model.infer(X64, given=["a"]).dtype == expected


def test_feature_names_out_and_verbose(data, capsys):
    X, _ = data
    model = _model(verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "(1 of 2) encoded modality 'a': 8 -> 6 columns" in out
    assert "[BernoulliRBM] Epoch 10/10" in out
    assert list(model.get_feature_names_out()) == [f"sharedrbm{i}" for i in range(5)]


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class _NoInverse:
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


def _spec(a=None, b=None, a_columns=slice(0, 8), b_columns=slice(8, 14)):
    return [
        ("a", _encoder() if a is None else a, a_columns),
        ("b", _encoder() if b is None else b, b_columns),
    ]


@pytest.mark.parametrize(
    "modalities, error, match",
    [
        ([], ValueError, "at least one"),
        ([("a", _encoder())], TypeError, r"modalities\[0\] must be a"),
        (["a"], TypeError, r"modalities\[0\] must be a"),
        ([(1, _encoder(), slice(0, 8))], TypeError, r"modalities\[0\]: .*str"),
        (_spec(a=GaussianBernoulliRBM), TypeError, "'a' must be an estimator instance"),
        (_spec(b="drop"), TypeError, "'b' must be an estimator or 'passthrough'"),
        (_spec(a=_NoInverse()), TypeError, "'a' .*lacks inverse_transform"),
        (_spec(b=Normalizer()), TypeError, "Normalizer.* lacks inverse_transform"),
        (_spec(b=LogisticRegression()), TypeError, "lacks transform, inverse_tr"),
        (_spec(a_columns="x"), TypeError, "columns of modality 'a'"),
        (_spec(a_columns=[0.5, 1.5]), TypeError, "columns of modality 'a'"),
        (_spec(b_columns=lambda X: "x"), TypeError, "callable of modality 'b'"),
        (
            [("a", _encoder(), slice(0, 4)), ("a", "passthrough", slice(4, 8))],
            ValueError,
            r"unique; \['a'\]",
        ),
        (
            [("a__x", _encoder(), slice(0, 4)), ("b", "passthrough", [5])],
            ValueError,
            "must not contain '__'",
        ),
        (
            [("n_iter", _encoder(), slice(0, 4)), ("b", "passthrough", [5])],
            ValueError,
            r"\['n_iter'\] clash with parameters",
        ),
        (_spec(b_columns=slice(6, 14)), ValueError, "'a' and 'b' both select column 6"),
        (_spec(b_columns=slice(8, 99)), ValueError, "'b', slice.* out of range"),
        (_spec(b_columns=[8, 14]), ValueError, "Column 14 of modality 'b' is out"),
        (_spec(b_columns=[8, 9, -7]), ValueError, "'a' and 'b' both select column 7"),
        (_spec(b_columns=[9, 9]), ValueError, "'b' repeat a column"),
        (_spec(b_columns=slice(8, 8)), ValueError, "'b' selects no column"),
        (_spec(b_columns=[True, False]), ValueError, "mask of modality 'b' has 2"),
    ],
)
def test_bad_modalities_are_named(data, modalities, error, match):
    X, _ = data
    with pytest.raises(error, match=match):
        SharedRBM(modalities, n_components=2, n_iter=1).fit(X)


def test_bad_encoder_output_is_named(data):
    from sklearn.preprocessing import FunctionTransformer

    X, _ = data
    flat = FunctionTransformer(
        lambda A: A[:, 0], inverse_func=lambda A: A, check_inverse=False
    )
    with pytest.raises(ValueError, match="modality 'b' must return a 2-D array"):
        SharedRBM(_spec(b=flat), n_components=2, n_iter=1).fit(X)


def test_bad_given_and_target_are_named(data, fitted):
    X, _ = data
    with pytest.raises(
        ValueError, match=r"Unknown modality 'c' in given; .*\['a', 'b'\]"
    ):
        fitted.transform(X, given=["c"])
    with pytest.raises(ValueError, match="at least one modality"):
        fitted.infer(X, given=[])
    with pytest.raises(ValueError, match=r"given names \['a'\] more than once"):
        fitted.infer(X, given=["a", "a"])
    with pytest.raises(TypeError, match="given must be a modality name"):
        fitted.infer(X, given=3)
    with pytest.raises(ValueError, match="Unknown target modality 'c'"):
        fitted.reconstruct(X, given=["a"], target="c")
    with pytest.raises(ValueError, match="target 'b' is in given"):
        fitted.reconstruct(X, given=["a", "b"], target="b")
    X_bad = X.copy()
    X_bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"modality 'a' \(first in row 3\)"):
        fitted.reconstruct(X_bad, given=["a"], target="b")
    for params, name in [
        (dict(n_gibbs=-1), "n_gibbs"),
        (dict(tol=-1.0), "tol"),
        (dict(mean_field="yes"), "mean_field"),
    ]:
        with pytest.raises(ValueError, match=name):
            fitted.infer(X, given=["a"], **params)
    with pytest.raises(ValueError, match="14 features"):
        fitted.transform(X[:, :10])
    with pytest.raises(NotFittedError):
        _model().infer(X, given=["a"])


def test_bad_parameters_are_named(data):
    X, _ = data
    with pytest.raises(ValueError, match="n_components"):
        _model(n_components=0).fit(X)
    with pytest.raises(ValueError, match="'modalities'"):
        _model(modalities="a").fit(X)
    with pytest.raises(ValueError, match="n_components"):
        _model().set_params(a__n_components=0).fit(X)


# --------------------------------------------------------------------------
# Persistence, namespaces, devices
# --------------------------------------------------------------------------


def test_pickle_round_trip_is_exact(data, fitted):
    X, _ = data
    loaded = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(loaded.transform(X), fitted.transform(X))
    assert_array_equal(loaded.infer(X, given=["b"]), fitted.infer(X, given=["b"]))
    assert_array_equal(
        loaded.reconstruct(X, given=["a"], target="b"),
        fitted.reconstruct(X, given=["a"], target="b"),
    )
    assert loaded.named_modalities_["a"] is loaded.modalities_[0][1]
    assert loaded.to_device("cpu") is loaded


def test_array_api_strict_matches_numpy(data):
    xps = pytest.importorskip("array_api_strict")
    X, _ = data
    # Non-contiguous columns take the xp.take path.
    modalities = [
        ("a", _encoder(), [0, 2, 4, 6, 1, 3, 5, 7]),
        ("b", "passthrough", slice(N_A, None)),
    ]
    ref = _model(modalities=modalities).fit(X)
    model = _model(modalities=modalities).fit(xps.asarray(X))
    strict = B.get_namespace(xps.asarray(X))
    assert B.get_namespace(model.encoding_mean_) is strict
    X_missing = X.copy()
    X_missing[:, N_A:] = np.nan
    outputs = {
        "transform": (model.transform(xps.asarray(X)), ref.transform(X)),
        "transform given": (
            model.transform(xps.asarray(X_missing), given=["a"]),
            ref.transform(X, given=["a"]),
        ),
        "infer": (
            model.infer(xps.asarray(X), given=["b"]),
            ref.infer(X, given=["b"]),
        ),
        "reconstruct": (
            model.reconstruct(xps.asarray(X), given=["b"], target="a"),
            ref.reconstruct(X, given=["b"], target="a"),
        ),
    }
    for method, (out, expected) in outputs.items():
        assert B.get_namespace(out) is strict, method
        assert_allclose(np.asarray(out), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="must use the same namespace"):
        model.transform(X)
    X_bad = X.copy()
    X_bad[5, 1] = np.inf
    with pytest.raises(ValueError, match=r"modality 'a' \(first in row 5\)"):
        model.transform(xps.asarray(X_bad))
    loaded = pickle.loads(pickle.dumps(model))
    for moved in (loaded, model.to_device("cpu")):
        # Pickling and to_device reach the encoders and the shared RBM too.
        assert isinstance(moved.encoding_mean_, np.ndarray)
        assert isinstance(moved.rbm_.components_, np.ndarray)
        assert isinstance(moved.named_modalities_["a"].components_, np.ndarray)
        assert_allclose(moved.transform(X), ref.transform(X), rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(B.cupy_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_a_clear_error(data):
    X, _ = data
    with pytest.raises(DeviceError, match="device='cuda'.*CuPy"):
        _model(device="cuda").fit(X)


@pytest.mark.gpu
@pytest.mark.skipif(not B.cupy_available(), reason="needs CuPy and a CUDA device")
def test_gpu_matches_cpu(data):
    import cupy

    X, _ = data
    cpu = _model().fit(X)
    gpu = pickle.loads(pickle.dumps(cpu)).to_device("cuda")
    X_gpu = cupy.asarray(X)
    assert isinstance(gpu.encoding_mean_, cupy.ndarray)
    for method, args in [("transform", ()), ("infer", (["a"],))]:
        out = getattr(gpu, method)(X_gpu, *args)
        assert isinstance(out, cupy.ndarray), method
        assert_allclose(cupy.asnumpy(out), getattr(cpu, method)(X, *args), atol=1e-4)
    fitted_on_gpu = _model(device="cuda").fit(X)
    assert isinstance(fitted_on_gpu.transform(X), np.ndarray), "NumPy in, NumPy out"
    loaded = pickle.loads(pickle.dumps(fitted_on_gpu))
    assert isinstance(loaded.rbm_.components_, np.ndarray)
