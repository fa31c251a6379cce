"""Tests of skmv.neighbors: FaissNeighbors against scikit-learn's exact search."""

import copy
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import (
    KNeighborsClassifier,
    KNeighborsTransformer,
    NearestNeighbors,
)
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

faiss = pytest.importorskip("faiss")

from skmv import load_model, save_model  # noqa: E402
from skmv.neighbors import FaissNeighbors  # noqa: E402

RND_SEED = 0
METRICS = ["euclidean", "cosine"]


@pytest.fixture(scope="module")
def blobs():
    """Clustered rows (40 clusters in 16-d): database and distinct queries."""
    rng = np.random.default_rng(RND_SEED)
    centers = rng.normal(size=(40, 16)) * 4
    labels = rng.integers(40, size=2200)
    X = (centers[labels] + rng.normal(size=(2200, 16))).astype(np.float32)
    return X[:2000], X[2000:], labels[:2000], labels[2000:]


def _assert_same_neighbours(X, Q, dist, ind, ref_dist, ref_ind, metric):
    """Equal distances (to 1e-5) and indices, up to near-ties: where the
    orders differ, both rows are as close to the query (in float64)."""
    assert_allclose(dist, ref_dist, atol=1e-5)
    differ = ind != ref_ind
    if differ.any():
        rows = np.nonzero(differ)[0]
        D = pairwise_distances(Q[rows].astype(np.float64), X, metric=metric)
        ours = D[np.arange(len(rows)), ind[differ]]
        theirs = D[np.arange(len(rows)), ref_ind[differ]]
        assert_allclose(ours, theirs, atol=1e-5)
    assert differ.mean() < 0.01


def _recall(found, exact):
    k = exact.shape[1]
    return np.mean([len(set(a) & set(b)) / k for a, b in zip(found, exact)])


# --------------------------------------------------------------------------
# Flat is exact: scikit-learn's answers
# --------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_flat_kneighbors_equal_nearest_neighbors(blobs, metric):
    X, Q = blobs[0], blobs[1]
    nn = FaissNeighbors(n_neighbors=7, metric=metric).fit(X)
    ref = NearestNeighbors(n_neighbors=7, metric=metric).fit(X)
    dist, ind = nn.kneighbors(Q)
    ref_dist, ref_ind = ref.kneighbors(Q)
    assert dist.dtype == np.float32 and dist.shape == ind.shape == (200, 7)
    _assert_same_neighbours(X, Q, dist, ind, ref_dist, ref_ind, metric)
    assert_array_equal(nn.kneighbors(Q, 3, return_distance=False), ind[:, :3])


@pytest.mark.parametrize("metric", METRICS)
def test_x_none_leaves_each_row_out_as_scikit_learn_does(blobs, metric):
    X = blobs[0]
    dist, ind = FaissNeighbors(4, metric=metric).fit(X).kneighbors()
    ref_dist, ref_ind = (
        NearestNeighbors(n_neighbors=4, metric=metric).fit(X).kneighbors()
    )
    _assert_same_neighbours(X, X, dist, ind, ref_dist, ref_ind, metric)
    assert not np.any(ind == np.arange(len(X))[:, None])


def test_x_none_with_duplicates_never_returns_the_row_itself():
    # Three copies of one row: each copy's 2 neighbours (of 3 found at
    # distance 0) must be the other copies, whichever order FAISS found.
    X = np.array([[1.0, 2.0]] * 3 + [[5.0, 5.0], [9.0, 1.0]], dtype=np.float32)
    dist, ind = FaissNeighbors(2).fit(X).kneighbors()
    for row in range(3):
        assert set(ind[row]) == {0, 1, 2} - {row}
    assert_array_equal(dist[:3], 0.0)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("mode", ["connectivity", "distance"])
def test_kneighbors_graph_equals_scikit_learns(blobs, metric, mode):
    X, Q = blobs[0][:300], blobs[1]
    nn = FaissNeighbors(5, metric=metric).fit(X)
    ref = NearestNeighbors(n_neighbors=5, metric=metric).fit(X)
    for queries in (Q, None):
        A = nn.kneighbors_graph(queries, mode=mode)
        expected = ref.kneighbors_graph(queries, mode=mode)
        assert A.format == "csr" and A.dtype == np.float32
        assert A.shape == expected.shape
        assert_allclose(A.toarray(), expected.toarray(), atol=1e-5)
    with pytest.raises(ValueError, match="Unsupported mode"):
        nn.kneighbors_graph(Q, mode="weights")


@pytest.mark.parametrize("metric", METRICS)
def test_transform_is_kneighbors_transformers_distance_graph(blobs, metric):
    X, Q = blobs[0][:300], blobs[1]
    nn = FaissNeighbors(4, metric=metric)
    ref = KNeighborsTransformer(mode="distance", n_neighbors=4, metric=metric)
    assert_allclose(
        nn.fit_transform(X).toarray(), ref.fit_transform(X).toarray(), atol=1e-5
    )
    Xt = nn.transform(Q)
    assert Xt.shape == (200, 300) and Xt.dtype == np.float32
    assert (Xt.getnnz(axis=1) == 5).all()  # n_neighbors + 1
    assert_allclose(Xt.toarray(), ref.transform(Q).toarray(), atol=1e-5)


def test_a_step_before_an_estimator_on_precomputed_graphs(blobs):
    X, Q, y, y_test = blobs
    pred = make_pipeline(
        FaissNeighbors(5), KNeighborsClassifier(5, metric="precomputed")
    ).fit(X, y)
    ref = make_pipeline(
        KNeighborsTransformer(n_neighbors=5),
        KNeighborsClassifier(5, metric="precomputed"),
    ).fit(X, y)
    assert_array_equal(pred.predict(Q), ref.predict(Q))
    assert np.mean(pred.predict(Q) == y_test) > 0.9


def test_cosine_of_a_zero_row_is_one(blobs):
    X = blobs[0][:100].copy()
    Q = np.zeros((1, 16), dtype=np.float32)
    dist, _ = FaissNeighbors(3, metric="cosine").fit(X).kneighbors(Q)
    assert_allclose(dist, 1.0, atol=1e-6)


def test_float64_input_is_searched_in_float32(blobs):
    X = blobs[0][:200].astype(np.float64)
    dist, ind = FaissNeighbors(3).fit(X).kneighbors(X[:10])
    assert dist.dtype == np.float32
    assert_array_equal(ind[:, 0], np.arange(10))


# --------------------------------------------------------------------------
# Approximate indexes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_hnsw_recall_is_high_on_small_data(blobs, metric):
    X, Q = blobs[0], blobs[1]
    exact = NearestNeighbors(n_neighbors=10, metric=metric).fit(X).kneighbors(Q)[1]
    nn = FaissNeighbors(10, metric=metric, index_factory="HNSW16", ef_search=64)
    found = nn.fit(X).kneighbors(Q, return_distance=False)
    assert _recall(found, exact) >= 0.95
    assert faiss.downcast_index(nn.index_).hnsw.efSearch == 64


def test_search_parameters_apply_without_refitting():
    # Unclustered rows, whose neighbours spread over many lists.
    rng = np.random.default_rng(RND_SEED)
    X = rng.normal(size=(2000, 16)).astype(np.float32)
    Q = rng.normal(size=(100, 16)).astype(np.float32)
    exact = NearestNeighbors(n_neighbors=10).fit(X).kneighbors(Q)[1]
    nn = FaissNeighbors(10, index_factory="IVF32,Flat", nprobe=1, random_state=0)
    nn.fit(X)
    index = nn.index_
    low = _recall(nn.kneighbors(Q)[1], exact)
    nn.set_params(nprobe=32)  # every list: an exact scan
    found = nn.kneighbors(Q)[1]
    assert nn.index_ is index
    assert low < 0.8
    assert_array_equal(found, exact)


def test_ivf_trains_on_a_seeded_sample_of_at_most_n_train_rows(blobs):
    X = blobs[0]

    def centroids(random_state):
        nn = FaissNeighbors(index_factory="IVF16,Flat", n_train=16)
        nn.set_params(random_state=random_state).fit(X)
        quantizer = faiss.extract_index_ivf(nn.index_).quantizer
        return quantizer.reconstruct_n(0, 16)

    # k-means of 16 rows into 16 lists: each centroid is one sampled row.
    a = centroids(0)
    rows = {tuple(r) for r in X}
    assert all(tuple(c) in rows for c in a)
    assert_array_equal(centroids(0), a)
    assert not np.array_equal(centroids(1), a)


def test_missing_neighbours_are_minus_one_at_infinity_with_a_warning(blobs):
    X, Q = blobs[0][:200], blobs[1][:5]
    nn = FaissNeighbors(index_factory="IVF16,Flat", nprobe=1, random_state=0)
    nn.fit(X)
    with pytest.warns(UserWarning, match="raise nprobe"):
        dist, ind = nn.kneighbors(Q, n_neighbors=150)
    missing = ind < 0
    assert missing.any()
    assert np.isinf(dist[missing]).all() and np.isfinite(dist[~missing]).all()
    with pytest.warns(UserWarning):
        A = nn.kneighbors_graph(Q, n_neighbors=150, mode="distance")
    assert_array_equal(A.getnnz(axis=1), (~missing).sum(axis=1))


@pytest.mark.parametrize("factory", ["IVF8,PQ4x4", "PQ4x4"])
def test_x_none_with_codes_queries_with_the_decoded_rows(blobs, factory):
    X = blobs[0][:500]
    nn = FaissNeighbors(3, index_factory=factory, random_state=0).fit(X)
    ind = nn.kneighbors(return_distance=False)
    assert ind.shape == (500, 3)
    assert not np.any(ind == np.arange(500)[:, None])


# --------------------------------------------------------------------------
# add, pickling, model files
# --------------------------------------------------------------------------


@pytest.mark.parametrize("factory", ["Flat", "HNSW16", "IVF8,Flat"])
def test_add_appends_rows_with_continuing_indices(blobs, factory):
    X, Q = blobs[0], blobs[1]
    nn = FaissNeighbors(5, index_factory=factory, nprobe=8, random_state=0)
    nn.fit(X[:1500])
    nn.add(X[1500:])
    assert nn.n_samples_fit_ == 2000
    assert nn.get_feature_names_out().shape == (2000,)
    # Each added row finds itself, under its new index.
    ind = nn.kneighbors(X[1500:1600], 1, return_distance=False)
    assert_array_equal(ind[:, 0], np.arange(1500, 1600))
    if factory == "Flat":
        whole = FaissNeighbors(5).fit(X)
        assert_array_equal(nn.kneighbors(Q)[1], whole.kneighbors(Q)[1])
    with pytest.raises(ValueError, match="X has 3 features"):
        nn.add(X[:5, :3])


def test_add_keeps_the_trained_centroids(blobs):
    X = blobs[0]
    nn = FaissNeighbors(index_factory="IVF8,Flat", random_state=0).fit(X[:500])
    quantizer = faiss.extract_index_ivf(nn.index_).quantizer
    before = quantizer.reconstruct_n(0, 8)
    nn.add(X[500:] + 100.0)
    assert_array_equal(quantizer.reconstruct_n(0, 8), before)


@pytest.mark.parametrize("factory", ["Flat", "HNSW16", "IVF8,PQ4x4"])
@pytest.mark.parametrize("metric", METRICS)
def test_pickle_copy_and_model_files_keep_the_index(blobs, factory, metric, tmp_path):
    X, Q = blobs[0], blobs[1]
    nn = FaissNeighbors(4, metric=metric, index_factory=factory, nprobe=4)
    nn.fit(X)
    dist, ind = nn.kneighbors(Q)
    state = nn.__getstate__()["index_"]
    assert isinstance(state, np.ndarray) and state.dtype == np.uint8
    path = tmp_path / "nn.skops"
    save_model(nn, path)
    for loaded in (pickle.loads(pickle.dumps(nn)), copy.deepcopy(nn), load_model(path)):
        assert loaded.index_ is not nn.index_
        loaded_dist, loaded_ind = loaded.kneighbors(Q)
        assert_array_equal(loaded_ind, ind)
        assert_array_equal(loaded_dist, dist)
    # An unfitted one pickles too, and clone leaves the index behind.
    assert "index_" not in vars(pickle.loads(pickle.dumps(FaissNeighbors())))
    assert not hasattr(clone(nn), "index_")


# --------------------------------------------------------------------------
# Errors that name the culprit
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_neighbors": 0}, "'n_neighbors' parameter"),
        ({"metric": "manhattan"}, "'metric' parameter"),
        ({"nprobe": 0}, "'nprobe' parameter"),
        ({"ef_search": 0}, "'ef_search' parameter"),
        ({"n_train": 0}, "'n_train' parameter"),
        ({"index_factory": 32}, "'index_factory' parameter"),
    ],
)
def test_bad_parameters_are_named(blobs, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        FaissNeighbors(**params).fit(blobs[0])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"index_factory": "Bogus"}, "index_factory='Bogus'.*could not parse"),
        ({"index_factory": "PQ5"}, "index_factory='PQ5'.*multiple of"),
        (
            {"index_factory": "IVF64,Flat"},
            "'IVF64,Flat' needs at least 64 training rows.*n_samples = 50 with "
            "n_train=262144",
        ),
        (
            {"index_factory": "IVF4,Flat", "n_train": 3},
            "needs at least 4 training rows.*n_train=3",
        ),
        ({"index_factory": "PQ4"}, "'PQ4' needs at least 256 training rows"),
    ],
)
def test_factories_and_training_sizes_that_cannot_work_are_named(blobs, params, match):
    with pytest.raises(ValueError, match=match):
        FaissNeighbors(**params).fit(blobs[0][:50])


def test_bad_calls_are_named(blobs):
    X, Q = blobs[0][:20], blobs[1]
    nn = FaissNeighbors()
    with pytest.raises(Exception, match="not fitted"):
        nn.kneighbors(Q)
    with pytest.raises(Exception, match="not fitted"):
        nn.add(Q)
    nn.fit(X)
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        nn.kneighbors(Q, n_neighbors=21)
    with pytest.raises(ValueError, match="n_neighbors < n_samples_fit"):
        nn.kneighbors(n_neighbors=20)
    with pytest.raises(ValueError, match="Expected n_neighbors > 0"):
        nn.kneighbors(Q, n_neighbors=0)
    with pytest.raises(TypeError, match="n_neighbors does not take"):
        nn.kneighbors(Q, n_neighbors=2.5)
    with pytest.raises(ValueError, match="X has 3 features"):
        nn.kneighbors(Q[:, :3])


def test_other_array_kinds_are_refused_not_copied(blobs):
    xps = pytest.importorskip("array_api_strict")
    nn = FaissNeighbors().fit(blobs[0])
    with pytest.raises(TypeError, match="takes NumPy arrays.*to_numpy"):
        nn.kneighbors(xps.asarray(blobs[1]))
    with pytest.raises(TypeError, match="takes NumPy arrays"):
        FaissNeighbors().fit(xps.asarray(blobs[0]))


def test_without_faiss_the_module_imports_and_fit_names_the_extra():
    # A fresh interpreter in which "import faiss" fails.
    code = (
        "import sys; sys.modules['faiss'] = None\n"
        "import numpy as np, skmv\n"
        "from skmv import FaissNeighbors\n"
        "nn = FaissNeighbors(index_factory='HNSW32')\n"
        "try:\n"
        "    nn.fit(np.zeros((4, 2)))\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert "pip install 'skmv[ann]'" in out.stdout


@pytest.mark.gpu
def test_cupy_input_is_refused_with_the_way_to_the_host(blobs):
    cupy = pytest.importorskip("cupy")
    from skmv import _backend as B

    if not B.cupy_available():
        pytest.skip("no CUDA device")
    nn = FaissNeighbors().fit(blobs[0])
    with pytest.raises(TypeError, match="X.get()"):
        nn.kneighbors(cupy.asarray(blobs[1]))
