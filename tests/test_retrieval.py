"""Tests of skmv.retrieval: CrossModalRetriever's search, scoring and tuning."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmv.datasets import make_paired_modalities
from skmv.metrics import retrieval_ranks
from skmv.rbm import GaussianBernoulliRBM
from skmv.retrieval import CrossModalRetriever
from skmv.shared import SharedRBM

RND_SEED = 0
N_A, N_B = 40, 30
N_TRAIN = 1000


def _encoder(n_components=64):
    # Standardise inside the encoder: reconstructions come back in X's units.
    return make_pipeline(
        StandardScaler(),
        GaussianBernoulliRBM(
            n_components, n_iter=20, learning_rate=0.01, batch_size=20
        ),
    )


def _model(**params):
    """The settings of test_shared's acceptance test."""
    settings = dict(
        modalities=[
            ("a", _encoder(), slice(0, N_A)),
            ("b", _encoder(), slice(N_A, N_A + N_B)),
        ],
        n_components=64,
        n_iter=20,
        batch_size=20,
        random_state=RND_SEED,
    )
    settings.update(params)
    return SharedRBM(**settings)


@pytest.fixture(scope="module")
def data():
    X, _ = make_paired_modalities(
        N_TRAIN + 100, n_features=(N_A, N_B), noise=0.3, random_state=RND_SEED
    )
    X = X.astype(np.float32)
    return X[:N_TRAIN], X[N_TRAIN:]


@pytest.fixture(scope="module")
def model(data):
    return _model().fit(data[0])


def _brute_force(Q, D, k, metric):
    if metric == "cosine":
        Q = Q / np.linalg.norm(Q, axis=1, keepdims=True)
        D = D / np.linalg.norm(D, axis=1, keepdims=True)
        S = 1.0 - Q.astype(np.float64) @ D.T.astype(np.float64)
    else:
        S = np.sqrt(((Q[:, None, :] - D[None, :, :]).astype(np.float64) ** 2).sum(2))
    order = np.argsort(S, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(S, order, axis=1), order, S


# --------------------------------------------------------------------------
# The acceptance test
# --------------------------------------------------------------------------


@pytest.mark.parametrize("space", ["input", "shared"])
def test_precision_at_10_is_far_above_random_in_both_spaces(data, space):
    """Among 100 held-out pairs (random: 0.1), P@10 > 0.5 with a fitted
    retriever, whichever space compares queries and items."""
    X_train, X_test = data
    retriever = CrossModalRetriever(_model(), "a", "b", space=space).fit(X_train)
    assert retriever.n_database_ == N_TRAIN
    assert retriever.score(X_test) > 0.5
    # score is a precision at n_neighbors of retrieval_ranks, as metrics has it
    ranks = retriever.retrieval_ranks(X_test)
    assert ranks.shape == (100,)
    assert retriever.score(X_test) == np.mean(ranks < 10)
    # ... and score did not touch the fitted database
    assert retriever.n_database_ == N_TRAIN


@pytest.mark.parametrize("space", ["input", "shared"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_kneighbors_equals_brute_force_over_several_chunks(data, model, space, metric):
    X_train, X_test = data
    retriever = CrossModalRetriever(
        model,
        "a",
        "b",
        space=space,
        metric=metric,
        standardize=False,
        chunk_size=7,
        prefit=True,
    ).fit(X_train[:50])
    distances, indices = retriever.kneighbors(X_test[:20], n_neighbors=5)
    assert distances.shape == indices.shape == (20, 5)
    assert np.all(np.diff(distances, axis=1) >= 0)
    assert indices.min() >= 0 and indices.max() < 50

    if space == "input":
        Q = model.reconstruct(X_test[:20], given=["a"], target="b")
    else:
        Q = model.transform(X_test[:20], given=["a"])
    expected_d, expected_i, S = _brute_force(Q, retriever.database_, 5, metric)
    assert_allclose(distances, expected_d, rtol=1e-4, atol=1e-4)
    # The same items, up to exact ties: their brute-force distances agree.
    assert_allclose(
        np.take_along_axis(S, indices, axis=1), expected_d, rtol=1e-4, atol=1e-4
    )

    # Chunks change nothing, and indices alone come without distances.
    whole = CrossModalRetriever(
        model, "a", "b", space=space, metric=metric, standardize=False, prefit=True
    ).fit(X_train[:50])
    assert_array_equal(whole.kneighbors(X_test[:20], 5, return_distance=False), indices)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_standardize_compares_in_the_databases_standard_units(data, model, metric):
    X_train, X_test = data
    retriever = CrossModalRetriever(
        model,
        "a",
        "b",
        space="shared",
        metric=metric,
        standardize=True,
        chunk_size=7,
        prefit=True,
    ).fit(X_train[:50])
    raw = model.transform(X_train[:50], given=["b"])
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    assert_allclose(retriever.space_mean_, mean, rtol=1e-5, atol=1e-6)
    assert_allclose(retriever.database_, (raw - mean) / std, rtol=1e-4, atol=1e-4)
    assert_allclose(retriever.database_.mean(axis=0), 0.0, atol=1e-4)

    Q = (model.transform(X_test[:20], given=["a"]) - mean) / std
    expected_d, _, S = _brute_force(Q, retriever.database_, 5, metric)
    distances, indices = retriever.kneighbors(X_test[:20], n_neighbors=5)
    assert_allclose(distances, expected_d, rtol=1e-4, atol=1e-4)
    assert_allclose(
        np.take_along_axis(S, indices, axis=1), expected_d, rtol=1e-4, atol=1e-4
    )
    # score and retrieval_ranks standardise by the target blocks of their X.
    D = model.transform(X_test, given=["b"])
    mean, std = D.mean(axis=0), D.std(axis=0)
    Q = (model.transform(X_test, given=["a"]) - mean) / std
    _, _, S = _brute_force(Q, (D - mean) / std, 1, metric)
    assert_array_equal(retriever.retrieval_ranks(X_test), retrieval_ranks(S))
    # "auto" standardises the input space only.
    for space, on in (("input", True), ("shared", False)):
        auto = CrossModalRetriever(
            model, "a", "b", space=space, standardize="auto", prefit=True
        ).fit(X_train[:50])
        assert (auto.space_mean_ is not None) == on
    # Off, nothing is stored and the database is the raw representation.
    plain = CrossModalRetriever(model, "a", "b", space="shared", prefit=True)
    plain.fit(X_train[:50])
    assert plain.space_mean_ is None and plain.space_scale_ is None
    assert_allclose(plain.database_, raw, atol=1e-6)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_exact_duplicates_of_the_true_item_count_as_ties(metric):
    """Pessimistic ranks: a database row equal to the true item ranks ahead
    of it, even when the query is that item (distance about 0, where a
    slack relative to the distance is no slack)."""
    from skmv.retrieval import _ranks_blocks

    rng = np.random.RandomState(0)
    for n_features, scale in ((5, 0.01), (40, 1.0), (150, 100.0)):
        D = (rng.normal(size=(40, n_features)) * scale).astype(np.float32)
        D[20:] = D[:20]  # every row has one exact duplicate
        noisy = D + rng.normal(size=D.shape).astype(np.float32) * D.std()
        for Q in (D, noisy):
            ranks = _ranks_blocks(Q, D, metric, 7, np)
            assert ranks.min() >= 1, (n_features, scale)
            # and each lower rank is earned: the plain count agrees.
            exact = _brute_force(Q.astype(np.float64), D.astype(np.float64), 1, metric)
            assert_array_equal(ranks, retrieval_ranks(exact[2]))


def test_euclidean_ranks_of_rows_far_from_the_origin():
    """float32 rows at an offset 1000 times their spread: the ranks are those
    of the exact distances (the rounding grows with the norms, so distances
    are measured from the database's mean)."""
    from skmv.retrieval import _ranks_blocks

    rng = np.random.RandomState(1)
    for offset, spread in ((100.0, 0.1), (10.0, 0.01)):
        D = offset + spread * rng.normal(size=(200, 64))
        Q = D + 0.3 * spread * rng.normal(size=D.shape)
        exact = retrieval_ranks(_brute_force(Q, D, 1, "euclidean")[2])
        assert exact.max() == 0
        ranks = _ranks_blocks(
            Q.astype(np.float32), D.astype(np.float32), "euclidean", 64, np
        )
        assert_array_equal(ranks, exact)


def test_a_constant_column_keeps_unit_scale(data, model):
    """The computed std of a constant float32 column is rounding noise, not
    0: it must not become the scale that one column's queries are divided
    by, or that column decides every ranking."""
    _, X_test = data
    scores = {}
    for value in (0.0, 0.1, 7.0):
        X = X_test.copy()
        X[:, N_A] = value
        retriever = CrossModalRetriever(
            model, "a", "b", space="input", standardize=True, prefit=True
        ).fit(X)
        assert retriever.space_scale_[0] == 1.0
        assert np.all(retriever.space_scale_[1:] > 0.1)
        scores[value] = retriever.score(X)
    assert scores[0.1] > scores[0.0] - 0.1 and scores[0.0] > 0.3


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_retrieval_ranks_match_metrics_over_several_chunks(data, model, metric):
    _, X_test = data
    retriever = CrossModalRetriever(
        model, "a", "b", metric=metric, standardize=False, chunk_size=7, prefit=True
    ).fit(X_test)
    Q = model.reconstruct(X_test, given=["a"], target="b")
    _, _, S = _brute_force(Q, X_test[:, N_A:], 1, metric)
    assert_array_equal(retriever.retrieval_ranks(X_test), retrieval_ranks(S))


def test_index_replaces_the_database_without_refitting(data, model):
    X_train, X_test = data
    retriever = CrossModalRetriever(model, "a", "b", prefit=True).fit(X_train)
    fitted = retriever.model_
    retriever.index(X_test[:30])
    assert retriever.model_ is fitted
    assert retriever.n_database_ == 30
    # The input space, standardised by the new database ("auto").
    block = X_test[:30, N_A:]
    assert_allclose(
        retriever.database_, (block - block.mean(0)) / block.std(0), atol=1e-4
    )
    assert retriever.kneighbors(X_test[:5])[1].max() < 30


def test_prefit_model_is_used_as_is(data, model):
    X_train, X_test = data
    W = model.rbm_.components_.copy()
    retriever = CrossModalRetriever(model, "a", "b", prefit=True).fit(X_test)
    assert retriever.model_ is model
    assert_array_equal(model.rbm_.components_, W)
    assert retriever.n_database_ == 100
    # index alone works with a prefit model, too
    assert (
        CrossModalRetriever(model, "a", "b", prefit=True).index(X_test).n_database_
        == 100
    )
    with pytest.raises(NotFittedError):
        CrossModalRetriever(_model(), "a", "b", prefit=True).fit(X_test)
    # Not prefit: a clone is fitted, the given model is left alone.
    unfitted = _model(n_iter=1)
    retriever = CrossModalRetriever(unfitted, "a", "b").fit(X_train[:100])
    assert retriever.model_ is not unfitted
    assert not hasattr(unfitted, "rbm_")


@pytest.mark.parametrize("space", ["input", "shared"])
def test_a_database_on_disk_is_embedded_a_chunk_at_a_time(
    data, model, space, tmp_path, monkeypatch
):
    """A memmap or a features store is indexed chunk_size rows at a time:
    the database of the in-memory array, and each read is one chunk."""
    from skmv.store import FeatureStore

    X_train = data[0]
    memmap = np.lib.format.open_memmap(
        tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=X_train.shape
    )
    memmap[:] = X_train
    memmap.flush()
    store = FeatureStore.create(
        tmp_path / "store", feature_names=[f"x{j}" for j in range(N_A + N_B)]
    )
    store.append(X_train[:450])
    store.append(X_train[450:])
    whole = CrossModalRetriever(model, "a", "b", space=space, prefit=True)
    whole.index(X_train)
    read = []
    real = CrossModalRetriever._validate

    def counting(self, X, *, reset):
        read.append(X.shape[0])
        return real(self, X, reset=reset)

    monkeypatch.setattr(CrossModalRetriever, "_validate", counting)
    for X in (np.load(tmp_path / "X.npy", mmap_mode="r"), FeatureStore(store.path).X):
        read.clear()
        chunked = CrossModalRetriever(
            model, "a", "b", space=space, prefit=True, chunk_size=300
        ).index(X)
        assert read == [300, 300, 300, 100]
        assert chunked.n_features_in_ == N_A + N_B
        assert_allclose(chunked.database_, whole.database_, rtol=1e-5, atol=1e-5)
        assert_array_equal(
            chunked.kneighbors(data[1])[1][:, :3], whole.kneighbors(data[1])[1][:, :3]
        )
    # NaN in a later chunk is named by its row in the whole database.
    memmap[650, N_A + 2] = np.nan
    memmap.flush()
    retriever = CrossModalRetriever(
        model, "a", "b", space=space, prefit=True, chunk_size=300
    )
    with pytest.raises(ValueError, match="target modality 'b' .first in row 650"):
        retriever.index(np.load(tmp_path / "X.npy", mmap_mode="r"))


@pytest.mark.parametrize("space", ["input", "shared"])
def test_nan_in_the_queries_target_columns(data, model, space):
    X_train, X_test = data
    retriever = CrossModalRetriever(model, "a", "b", space=space, prefit=True)
    retriever.fit(X_train)
    queries = X_test.copy()
    queries[:, N_A:] = np.nan
    d_nan, i_nan = retriever.kneighbors(queries)
    d, i = retriever.kneighbors(X_test)
    assert_array_equal(i_nan, i)
    assert_allclose(d_nan, d)
    # The database must be finite: a NaN there is named.
    with pytest.raises(ValueError, match="target modality 'b' .first in row 0"):
        retriever.index(queries)


def test_grid_search_with_group_k_fold(data):
    X_train, _ = data
    X = X_train[:600]
    groups = np.arange(X.shape[0]) // 20  # 30 "videos" of 20 segments
    search = GridSearchCV(
        CrossModalRetriever(_model(n_iter=10), "a", "b"),
        {"model__n_components": [16, 64], "space": ["input", "shared"]},
        cv=GroupKFold(3),
    ).fit(X, groups=groups)
    assert search.best_score_ > 0.3  # each fold has 200 items: random is 0.05
    assert search.best_estimator_.model_.n_components in (16, 64)
    params = search.best_estimator_.get_params()
    assert "model__a__gaussianbernoullirbm__n_components" in params


@pytest.mark.parametrize(
    "params, match",
    [
        ({"query": "c"}, "Unknown query modality 'c'"),
        ({"target": "c"}, "Unknown target modality 'c'"),
        ({"target": "a"}, "query and target are both 'a'"),
        ({"space": "latent"}, "'space' parameter"),
        ({"metric": "manhattan"}, "'metric' parameter"),
    ],
)
def test_bad_parameters_are_named(data, model, params, match):
    settings = {"model": model, "query": "a", "target": "b", "prefit": True}
    settings.update(params)
    with pytest.raises(ValueError, match=match):
        CrossModalRetriever(**settings).fit(data[1])


def test_bad_calls_are_named(data, model):
    _, X_test = data
    retriever = CrossModalRetriever(model, "a", "b", prefit=True)
    with pytest.raises(NotFittedError):
        retriever.kneighbors(X_test)
    retriever.fit(X_test[:20])
    with pytest.raises(ValueError, match="n_neighbors=21 is larger than the database"):
        retriever.kneighbors(X_test, n_neighbors=21)
    with pytest.raises(ValueError, match="n_neighbors must be an int >= 1"):
        retriever.kneighbors(X_test, n_neighbors=0)
    with pytest.raises(ValueError, match="X has 3 features"):
        retriever.kneighbors(X_test[:, :3])


def test_clone_and_nested_parameters(model):
    retriever = CrossModalRetriever(model, "a", "b", space="shared", n_neighbors=3)
    copy = clone(retriever)
    assert copy.model is not model
    assert copy.get_params()["space"] == "shared"
    copy.set_params(model__n_components=7, model__a__gaussianbernoullirbm__n_iter=2)
    assert copy.model.n_components == 7
    assert model.n_components == 64


@pytest.mark.parametrize("space", ["input", "shared"])
def test_array_api_strict_matches_numpy(data, space):
    xps = pytest.importorskip("array_api_strict")
    X = StandardScaler().fit_transform(data[0][:200]).astype(np.float32)

    def retriever():
        encoders = [
            ("a", GaussianBernoulliRBM(8, n_iter=3), slice(0, N_A)),
            ("b", GaussianBernoulliRBM(8, n_iter=3), slice(N_A, None)),
        ]
        model = SharedRBM(encoders, n_components=8, n_iter=3, random_state=0)
        return CrossModalRetriever(model, "a", "b", space=space, chunk_size=7)

    ref = retriever().fit(X)
    strict = retriever().fit(xps.asarray(X))
    d_ref, i_ref = ref.kneighbors(X[:30], n_neighbors=4)
    d, i = strict.kneighbors(xps.asarray(X[:30]), n_neighbors=4)
    assert isinstance(d, type(xps.asarray(X)))
    assert_allclose(np.asarray(d), d_ref, rtol=1e-4, atol=1e-5)
    # The same items; exact ties (frequent among the shared codes of so small
    # a model) may come in another order, which kneighbors does not specify.
    full = ref.kneighbors(X[:30], n_neighbors=200)
    rank_of = np.argsort(full[1], axis=1)  # database row -> its position
    found = np.take_along_axis(
        full[0], np.take_along_axis(rank_of, np.asarray(i), 1), 1
    )
    assert_allclose(found, d_ref, rtol=1e-4, atol=1e-5)
    assert_allclose(strict.score(xps.asarray(X)), ref.score(X))


# --------------------------------------------------------------------------
# neighbors: an index (FAISS, scikit-learn) searches the database
# --------------------------------------------------------------------------


@pytest.mark.parametrize("space", ["input", "shared"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_a_flat_index_gives_the_exact_scans_neighbours(data, model, space, metric):
    pytest.importorskip("faiss")
    from sklearn.neighbors import NearestNeighbors

    from skmv.neighbors import FaissNeighbors

    X_train, X_test = data
    settings = dict(space=space, metric=metric, prefit=True)
    exact = CrossModalRetriever(model, "a", "b", **settings).fit(X_train)
    d_exact, i_exact = exact.kneighbors(X_test)
    for neighbors in (FaissNeighbors(index_factory="Flat"), NearestNeighbors()):
        retriever = CrossModalRetriever(
            model, "a", "b", neighbors=neighbors, **settings
        ).fit(X_train)
        assert retriever.neighbors_.metric == metric
        assert retriever.neighbors_ is not neighbors
        d, i = retriever.kneighbors(X_test)
        assert d.dtype == d_exact.dtype == np.float32
        assert i.shape == i_exact.shape == (100, 10)
        assert_allclose(d, d_exact, atol=1e-5)
        # The same items; where the order differs, a tie within rounding.
        differ = i != i_exact
        assert differ.mean() < 0.01
        _, _, S = _brute_force(exact.embed_queries(X_test), exact.database_, 10, metric)
        rows = np.nonzero(differ)[0]
        assert_allclose(S[rows, i[differ]], S[rows, i_exact[differ]], atol=1e-5)
        assert_array_equal(
            retriever.kneighbors(X_test, 3, return_distance=False), i[:, :3]
        )


@pytest.mark.parametrize("space", ["input", "shared"])
def test_an_hnsw_index_finds_most_of_the_exact_neighbours(data, model, space):
    pytest.importorskip("faiss")
    from skmv.neighbors import FaissNeighbors

    X_train, X_test = data
    exact = CrossModalRetriever(model, "a", "b", space=space, prefit=True)
    i_exact = exact.fit(X_train).kneighbors(X_test, return_distance=False)
    hnsw = CrossModalRetriever(
        model,
        "a",
        "b",
        space=space,
        prefit=True,
        neighbors=FaissNeighbors(index_factory="HNSW16", ef_search=64),
    ).fit(X_train)
    i = hnsw.kneighbors(X_test, return_distance=False)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(i, i_exact)])
    assert recall >= 0.95


def test_score_and_ranks_stay_exact_whatever_the_index(data, model):
    pytest.importorskip("faiss")
    from skmv.neighbors import FaissNeighbors

    X_train, X_test = data
    # One list of 32 visited: a poor search, which score must not use.
    coarse = FaissNeighbors(index_factory="IVF32,Flat", nprobe=1, random_state=0)
    approx = CrossModalRetriever(model, "a", "b", prefit=True, neighbors=coarse)
    exact = CrossModalRetriever(model, "a", "b", prefit=True)
    approx.fit(X_train)
    exact.fit(X_train)
    i = approx.kneighbors(X_test, return_distance=False)
    i_exact = exact.kneighbors(X_test, return_distance=False)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(i, i_exact)]) < 0.9
    assert_array_equal(approx.retrieval_ranks(X_test), exact.retrieval_ranks(X_test))
    assert approx.score(X_test) == exact.score(X_test)


def test_index_refits_the_neighbors_on_the_new_database(data, model):
    pytest.importorskip("faiss")
    from skmv.neighbors import FaissNeighbors

    X_train, X_test = data
    retriever = CrossModalRetriever(
        model, "a", "b", prefit=True, neighbors=FaissNeighbors()
    ).fit(X_train)
    first = retriever.neighbors_
    retriever.index(X_test[:30])
    assert retriever.neighbors_ is not first
    assert retriever.neighbors_.n_samples_fit_ == 30
    assert retriever.kneighbors(X_test[:5])[1].max() < 30
    assert (
        CrossModalRetriever(model, "a", "b", prefit=True).fit(X_test).neighbors_ is None
    )


class _NoMetric(BaseEstimator):
    def fit(self, X, y=None):
        return self

    def kneighbors(self, X, n_neighbors=None, return_distance=True):
        raise AssertionError("not reached")


class _FitAndKneighborsOnly:
    def fit(self, X, y=None):
        return self

    def kneighbors(self, X, n_neighbors=None, return_distance=True):
        raise AssertionError("not reached")


def _always_euclidean():
    from sklearn.neighbors import NearestNeighbors

    class AlwaysEuclidean(NearestNeighbors):
        def fit(self, X, y=None):
            super().fit(X)
            self.effective_metric_ = "euclidean"
            return self

    return AlwaysEuclidean()


@pytest.mark.parametrize(
    "neighbors, error, match",
    [
        (object(), ValueError, "'neighbors' parameter of CrossModalRetriever"),
        ("HNSW32", ValueError, "'neighbors' parameter of CrossModalRetriever"),
        (_FitAndKneighborsOnly(), TypeError, "neighbors must be a scikit-learn"),
        (_NoMetric(), TypeError, "neighbors=_NoMetric.. has no metric parameter"),
        (_always_euclidean(), ValueError, "measures 'euclidean' once fitted"),
    ],
)
def test_bad_neighbors_are_named(data, model, neighbors, error, match):
    retriever = CrossModalRetriever(model, "a", "b", prefit=True, neighbors=neighbors)
    with pytest.raises(error, match=match):
        retriever.fit(data[1])


def test_the_retrievers_metric_replaces_the_neighbors(data, model):
    pytest.importorskip("faiss")
    from skmv.neighbors import FaissNeighbors

    neighbors = FaissNeighbors(metric="euclidean")
    retriever = CrossModalRetriever(
        model, "a", "b", metric="cosine", prefit=True, neighbors=neighbors
    ).fit(data[1])
    assert retriever.neighbors_.metric == "cosine"
    assert neighbors.metric == "euclidean"  # the user's object is left alone
    assert not hasattr(neighbors, "index_")


def test_neighbors_pickle_clone_and_nested_parameters(data, model, tmp_path):
    pytest.importorskip("faiss")
    import pickle

    from skmv import load_model, save_model
    from skmv.neighbors import FaissNeighbors

    X_train, X_test = data
    retriever = CrossModalRetriever(
        model, "a", "b", prefit=True, neighbors=FaissNeighbors(index_factory="HNSW16")
    )
    params = retriever.get_params()
    assert params["neighbors__ef_search"] == 16
    assert params["neighbors__index_factory"] == "HNSW16"
    copy = clone(retriever).set_params(neighbors__ef_search=64)
    assert copy.neighbors.ef_search == 64 and retriever.neighbors.ef_search == 16
    assert copy.neighbors is not retriever.neighbors
    retriever.set_params(neighbors__ef_search=64).fit(X_train)
    assert retriever.neighbors_.ef_search == 64
    d, i = retriever.kneighbors(X_test)
    path = tmp_path / "retriever.skops"
    save_model(retriever, path)
    for loaded in (pickle.loads(pickle.dumps(retriever)), load_model(path)):
        d_loaded, i_loaded = loaded.kneighbors(X_test)
        assert_array_equal(i_loaded, i)
        assert_allclose(d_loaded, d)


def test_neighbors_with_array_api_strict_input(data):
    xps = pytest.importorskip("array_api_strict")
    pytest.importorskip("faiss")
    from skmv.neighbors import FaissNeighbors

    X = StandardScaler().fit_transform(data[0][:200]).astype(np.float32)
    encoders = [
        ("a", GaussianBernoulliRBM(8, n_iter=3), slice(0, N_A)),
        ("b", GaussianBernoulliRBM(8, n_iter=3), slice(N_A, None)),
    ]
    model = SharedRBM(encoders, n_components=8, n_iter=3, random_state=0)
    ref = CrossModalRetriever(model, "a", "b").fit(X)
    strict = CrossModalRetriever(model, "a", "b", neighbors=FaissNeighbors())
    strict.fit(xps.asarray(X))
    d, i = strict.kneighbors(xps.asarray(X[:30]), n_neighbors=4)
    assert isinstance(d, type(xps.asarray(X))) and isinstance(i, type(d))
    assert_allclose(np.asarray(d), ref.kneighbors(X[:30], n_neighbors=4)[0], atol=1e-5)


# --------------------------------------------------------------------------
# ClipRetriever: whole clips, best offset, several timescales
# --------------------------------------------------------------------------

N_V, N_U = 12, 8  # video and audio columns of the clip tests


def _clip_data(n_clips=12, n_segments=10, noise=0.3, seed=RND_SEED):
    from skmv.datasets import make_music_video_features

    data = make_music_video_features(
        n_clips,
        n_segments=n_segments,
        n_features=(N_V, N_U),
        noise=noise,
        random_state=seed,
    )
    return data.X.astype(np.float32), np.asarray(data.groups)


def _cca(metric="euclidean", n_components=4):
    from skmv.baselines import CCARetriever

    return CCARetriever(
        "audio",
        "video",
        modalities=[
            ("video", "passthrough", slice(0, N_V)),
            ("audio", "passthrough", slice(N_V, N_V + N_U)),
        ],
        n_components=n_components,
        reg=1e-2,
        metric=metric,
    )


def _ragged(X, groups, lengths):
    """Keep the first ``lengths[c]`` rows of each clip ``c`` (clip lengths vary)."""
    keep = np.zeros(len(groups), bool)
    for clip, n in zip(dict.fromkeys(groups.tolist()), lengths):
        keep[np.flatnonzero(groups == clip)[:n]] = True
    return X[keep], groups[keep]


def _brute_force_clip_scores(clip_retriever, X, groups, Xd, groups_d):
    """Scores and best offsets by explicit loops over clips, offsets and
    windows: the definition in ClipRetriever's Notes."""
    from scipy.spatial.distance import cdist

    def clips_of(g):
        return {c: np.flatnonzero(g == c) for c in dict.fromkeys(g.tolist())}

    def windows(rows, Xs, k):
        out = []
        for t in range(len(rows) - k + 1):
            seg = Xs[rows[t : t + k]]
            out.append(np.concatenate([seg[:, :N_V].ravel(), seg[:, N_V:].ravel()]))
        return np.array(out)

    queries, database = clips_of(groups), clips_of(groups_d)
    e = clip_retriever.excerpt
    scores = np.empty((len(queries), len(database)))
    offsets = np.empty((len(queries), len(database)), int)
    for qi, q_rows in enumerate(queries.values()):
        if e is not None and len(q_rows) > e:
            skip = (len(q_rows) - e) // 2
            q_rows = q_rows[skip : skip + e]
        m = len(q_rows)
        for di, d_rows in enumerate(database.values()):
            n = len(d_rows)
            best = (np.inf, None)
            lo, hi = min(0, n - m), max(0, n - m)
            for o in range(lo, hi + 1, clip_retriever.stride):
                per_scale = []
                for s, k in enumerate(clip_retriever.scales_):
                    if m < k or n < k:
                        continue
                    r = clip_retriever.retrievers_[s]
                    metric = r.metric
                    Q = r.embed_queries(windows(q_rows, X, k))
                    D = r.embed_database(windows(d_rows, Xd, k))
                    dist = cdist(
                        Q, D, "sqeuclidean" if metric != "cosine" else "cosine"
                    )
                    if metric == "euclidean":
                        dist = np.sqrt(dist)
                    pairs = [
                        dist[t, o + t]
                        for t in range(Q.shape[0])
                        if 0 <= o + t < D.shape[0]
                    ]
                    weight = (
                        clip_retriever.distance_scale_[0]
                        / clip_retriever.distance_scale_[s]
                    )
                    per_scale.append(np.mean(pairs) * weight)
                score = np.mean(per_scale)
                if score < best[0] - 1e-9:
                    best = (score, o)
            scores[qi, di], offsets[qi, di] = best
    return scores, offsets


@pytest.mark.parametrize(
    "params",
    [
        dict(scales=(1,)),
        dict(scales=(1, 2, 3), excerpt=4),
        dict(scales=(1, 3), stride=2),
        dict(scales=(2, 3), excerpt=5),
    ],
    ids=["base-1", "scales-excerpt", "stride", "no-base-1"],
)
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_clip_scores_equal_a_brute_force_reference(params, metric):
    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=10)
    train = np.isin(groups, np.unique(groups)[:6])
    # Clips of 3 to 10 segments, shorter and longer than the queries, in
    # blocks of a few clips (chunk_size=7).
    Xd, gd = _ragged(X[~train], groups[~train], [10, 3, 7, 5])
    Xq, gq = _ragged(X[~train], groups[~train], [4, 8, 10, 6])
    clips = ClipRetriever(_cca(metric), chunk_size=7, **params)
    clips.fit(X[train], groups=groups[train]).index(Xd, gd)
    n_db = clips.n_database_
    dist, ind, off = clips.kneighbors(Xq, gq, n_neighbors=n_db)
    ref_scores, ref_offsets = _brute_force_clip_scores(clips, Xq, gq, Xd, gd)
    assert_allclose(dist, np.sort(ref_scores, axis=1), rtol=1e-6, atol=1e-9)
    assert_array_equal(ind, np.argsort(ref_scores, axis=1, kind="stable"))
    assert_array_equal(off, np.take_along_axis(ref_offsets, ind, axis=1))
    # The blocks do not change anything.
    big = clone(clips).set_params(chunk_size=10_000)
    big.fit(X[train], groups=groups[train]).index(Xd, gd)
    d2, i2, o2 = big.kneighbors(Xq, gq, n_neighbors=n_db)
    assert_allclose(d2, dist, rtol=1e-6)
    assert_array_equal(i2, ind)
    assert_array_equal(o2, off)


@pytest.mark.parametrize("scales", [(1,), (1, 2, 4)])
def test_offsets_of_known_excerpts_are_recovered_exactly(scales):
    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=30, n_segments=12, noise=0.2)
    train = np.isin(groups, np.unique(groups)[:20])
    Xd, gd = X[~train], groups[~train]
    clips = ClipRetriever(_cca(n_components=6), scales=scales, n_neighbors=1)
    clips.fit(X[train], groups=groups[train]).index(Xd, gd)
    rng = np.random.default_rng(RND_SEED)
    # Each query: 5 segments of a database clip, from a random segment on.
    starts = rng.integers(0, 12 - 5 + 1, size=10)
    picked = np.unique(gd)
    Xq, gq = [], []
    for clip, start in zip(picked, starts):
        rows = np.flatnonzero(gd == clip)[start : start + 5]
        Xq.append(Xd[rows])
        gq += [f"excerpt of {clip}"] * 5
    _, ind, off = clips.kneighbors(np.vstack(Xq), np.array(gq))
    assert_array_equal(clips.database_clips_[ind[:, 0]], picked)
    assert_array_equal(off[:, 0], starts)


def test_evidence_adds_up_over_a_clip():
    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=80, n_segments=10, noise=0.5)
    train = np.isin(groups, np.unique(groups)[:50])
    clips = ClipRetriever(_cca(n_components=8), n_neighbors=1)
    clips.fit(X[train], groups=groups[train])
    p1 = [
        clips.set_params(excerpt=e).score(X[~train], groups=groups[~train])
        for e in (1, 3, 10)
    ]
    # 30 database clips: chance 1/30. One noisy segment finds few of them;
    # a whole clip, adding up ten segments' distances, finds most.
    assert p1[0] < 0.3
    assert p1[0] < p1[1] < p1[2]
    assert p1[2] >= 0.9


def test_clip_ids_of_any_hashable_type_and_interleaved_rows():
    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=10)
    codes = np.unique(groups, return_inverse=True)[1]
    clips = ClipRetriever(_cca(), scales=(1, 2), excerpt=6)
    ref = clips.fit(X, groups=codes).retrieval_ranks(X, groups=codes)
    as_tuples = [("mv", int(c)) for c in codes]
    mixed = np.array([c if c % 2 else f"clip-{c}" for c in codes], dtype=object)
    for ids in (as_tuples, mixed, [f"{c}.mp4" for c in codes]):
        fitted = clone(clips).fit(X, groups=ids)
        assert_array_equal(fitted.retrieval_ranks(X, groups=ids), ref)
        assert fitted.database_clips_[0] == ids[0]
    # Rows of the clips interleaved (each clip's rows still in time order).
    order = np.argsort(np.tile(np.arange(10), 12)[: len(codes)], kind="stable")
    order = np.lexsort((np.arange(len(codes)), np.arange(len(codes)) % 10))
    assert not np.all(np.diff(codes[order]) >= 0)
    fitted = clone(clips).fit(X[order], groups=codes[order])
    assert_array_equal(fitted.retrieval_ranks(X[order], groups=codes[order]), ref)


def test_retrieval_ranks_are_pessimistic_clip_ranks():
    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=12, noise=1.5)
    clips = ClipRetriever(_cca(), excerpt=2).fit(X, groups=groups)
    ranks = clips.retrieval_ranks(X, groups=groups)
    clips.index(X, groups)
    dist, ind, _ = clips.kneighbors(X, groups, n_neighbors=clips.n_database_)
    own = np.argmax(ind == np.arange(12)[:, None], axis=1)
    assert_array_equal(ranks, own)
    assert 0 < np.mean(ranks == 0) < 1  # neither trivial nor hopeless here
    assert clips.score(X, groups=groups) == np.mean(ranks < 10)
    # y stands for groups (a search passes only X and y without routing).
    assert clips.score(X, groups) == clips.score(X, groups=groups)


def test_a_database_of_target_rows_only():
    """A music library: the query modality's columns are NaN."""
    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=16)
    train = np.isin(groups, np.unique(groups)[:8])
    clips = ClipRetriever(_cca(), scales=(1, 2), excerpt=5, n_neighbors=3)
    clips.fit(X[train], groups=groups[train])
    library = X[~train].copy()
    library[:, N_V:] = np.nan  # video only: the target of audio queries
    queries = X[~train].copy()
    queries[:, :N_V] = np.nan  # the queries are music only
    dist, ind, off = clips.index(library, groups[~train]).kneighbors(
        queries, groups[~train]
    )
    ref = clips.index(X[~train], groups[~train]).kneighbors(X[~train], groups[~train])
    assert np.all(np.isfinite(dist))
    assert_allclose(dist, ref[0])
    assert_array_equal(ind, ref[1])
    assert_array_equal(off, ref[2])
    with pytest.raises(ValueError, match="target modality 'video'|modality 'video'"):
        clips.index(queries, groups[~train])


def test_clip_retriever_in_grid_search_with_group_k_fold():
    import sklearn
    from sklearn.model_selection import GridSearchCV, GroupKFold

    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=15, noise=0.5)
    grid = {"retriever__n_components": [1, 4], "excerpt": [2, 5]}
    search = GridSearchCV(ClipRetriever(_cca(), n_neighbors=1), grid, cv=GroupKFold(3))
    # Without metadata routing: the clips as y (and as the splitter's groups).
    search.fit(X, groups, groups=groups)
    assert search.best_params_ == {"retriever__n_components": 4, "excerpt": 5}
    scores = search.cv_results_["mean_test_score"]
    assert scores.max() > 0.5 > scores.min()  # chance: 1 / 5 test clips
    # With routing, groups reach fit and score (requested by default).
    with sklearn.config_context(enable_metadata_routing=True):
        routed = GridSearchCV(
            ClipRetriever(_cca(), n_neighbors=1), grid, cv=GroupKFold(3)
        ).fit(X, groups=groups)
    assert_allclose(routed.cv_results_["mean_test_score"], scores)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(scales=(1, 1)), "repeated"),
        (dict(scales=(0, 2)), "scales must be"),
        (dict(scales=()), "scales must be"),
        (dict(excerpt=0), "excerpt"),
        (dict(stride=0), "stride"),
        (dict(n_neighbors=0), "n_neighbors"),
    ],
)
def test_clip_retriever_bad_parameters_are_named(params, match):
    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=4)
    with pytest.raises(ValueError, match=match):
        ClipRetriever(_cca(), **params).fit(X, groups=groups)


def test_clip_retriever_bad_calls_are_named():
    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=6)
    clips = ClipRetriever(_cca(), scales=(2, 4))
    with pytest.raises(NotFittedError):
        clips.kneighbors(X, groups)
    with pytest.raises(ValueError, match="groups is required"):
        clips.fit(X)
    with pytest.raises(ValueError, match="groups has 5 entries but X has 60 rows"):
        clips.fit(X, groups=groups[:5])
    clips.fit(X, groups=groups)
    # The last clip cut to one segment: no window of 2 segments.
    X_short, g_short = np.r_[X[:-10], X[-10:-9]], np.r_[groups[:-10], ["short"]]
    with pytest.raises(ValueError, match="database clip 'short' has 1 segment"):
        clips.index(X_short, g_short)
    with pytest.raises(ValueError, match="query clip 'short' has 1 segment"):
        clips.kneighbors(X_short, g_short, n_neighbors=1)
    with pytest.raises(ValueError, match="n_neighbors=7 is larger than the database"):
        clips.kneighbors(X, groups, n_neighbors=7)
    with pytest.raises(ValueError, match="X has 3 features"):
        clips.kneighbors(X[:, :3], groups, n_neighbors=1)


class _FirstColumns(BaseEstimator):
    """A duck-typed segment retriever, without modalities: each block's
    first columns, compared as they are."""

    metric = "euclidean"

    def fit(self, X, y=None):
        return self

    def embed_queries(self, X):
        return np.asarray(X)[:, N_V : N_V + 4]

    def embed_database(self, X):
        return np.asarray(X)[:, :4]


def test_any_retriever_at_scale_1_and_modalities_for_more():
    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=4)
    clips = ClipRetriever(_FirstColumns(), excerpt=3).fit(X, groups=groups)
    _, ind, off = clips.kneighbors(X, groups, n_neighbors=4)
    assert sorted(ind[0]) == [0, 1, 2, 3] and off.min() >= 0 and off.max() <= 7
    with pytest.raises(ValueError, match="declares no `modalities` parameter"):
        ClipRetriever(_FirstColumns(), scales=(1, 2)).fit(X, groups=groups)


def test_clip_retriever_with_a_shared_model(data):
    """CrossModalRetriever inside: per-scale shared models on base-k rows."""
    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=24, noise=0.3)
    model = SharedRBM(
        [
            ("video", _encoder(16), slice(0, N_V)),
            ("audio", _encoder(16), slice(N_V, N_V + N_U)),
        ],
        n_components=16,
        n_iter=5,
        batch_size=20,
        random_state=RND_SEED,
    )
    segment = CrossModalRetriever(model, "audio", "video", space="shared")
    train = np.isin(groups, np.unique(groups)[:16])
    clips = ClipRetriever(segment, scales=(1, 2), n_neighbors=1)
    clips.fit(X[train], groups=groups[train])
    # Scale 2's model reads base-2 rows: each modality's two segments.
    columns = [c for _, _, c in clips.retrievers_[1].model_.modalities_]
    assert columns == [slice(0, 2 * N_V), slice(2 * N_V, 2 * (N_V + N_U))]
    assert clips.retrievers_[1].n_features_in_ == 2 * (N_V + N_U)
    assert clips.score(X[~train], groups=groups[~train]) > 1 / 8


def test_a_prefit_shared_model_indexes_a_library_of_one_modality():
    """The command line's case: a fitted model, a library of audio alone."""
    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=20, noise=0.3)
    train = np.isin(groups, np.unique(groups)[:12])
    model = SharedRBM(
        [
            ("video", _encoder(16), slice(0, N_V)),
            ("audio", _encoder(16), slice(N_V, N_V + N_U)),
        ],
        n_components=16,
        n_iter=5,
        batch_size=20,
        random_state=RND_SEED,
    ).fit(X[train])
    segment = CrossModalRetriever(model, "video", "audio", space="shared", prefit=True)
    library = X[~train].copy()
    library[:, :N_V] = np.nan  # music only
    clips = ClipRetriever(segment, n_neighbors=2, excerpt=4)
    clips.fit(library, groups=groups[~train])
    assert clips.retrievers_[0].model_ is model  # used as it is
    assert not hasattr(segment, "database_")  # the user's retriever untouched
    assert_array_equal(clips.distance_scale_, [1.0])
    queries = X[~train].copy()
    queries[:, N_V:] = np.nan  # silent footage
    dist, ind, _ = clips.kneighbors(queries, groups[~train])
    # With one scale a score is the mean distance of the aligned segments.
    paired = clips.score(X[~train], groups=groups[~train])
    assert paired > 2 / 8  # chance: 2 of 8 clips
    assert np.all(dist[:, 0] <= dist[:, 1])
    with pytest.raises(ValueError, match="scale 2 needs a segment retriever"):
        ClipRetriever(segment, scales=(1, 2)).fit(X[train], groups=groups[train])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_clip_retriever_shortlists_clips_with_neighbors(metric):
    """neighbors shortlists the clips that are then scored exactly."""
    from sklearn.neighbors import NearestNeighbors

    from skmv.neighbors import FaissNeighbors
    from skmv.retrieval import ClipRetriever

    X, groups = _clip_data(n_clips=40, noise=0.3)
    train = np.isin(groups, np.unique(groups)[:20])
    Xd, gd = X[~train], groups[~train]
    params = dict(scales=(1, 2), excerpt=4, n_neighbors=3)
    exact = ClipRetriever(_cca(metric), **params).fit(X[train], groups=groups[train])
    exact.index(Xd, gd)
    ref = exact.kneighbors(Xd, gd, n_neighbors=20)
    for neighbors in (NearestNeighbors(), FaissNeighbors(index_factory="Flat")):
        # Every clip shortlisted: the exact scan's answer.
        every = clone(exact).set_params(neighbors=neighbors, n_candidates=20)
        every.fit(X[train], groups=groups[train]).index(Xd, gd)
        assert every.neighbors_.get_params()["metric"] == metric
        got = every.kneighbors(Xd, gd, n_neighbors=20)
        assert_allclose(got[0], ref[0], rtol=1e-6)
        assert_array_equal(got[1], ref[1])
        assert_array_equal(got[2], ref[2])
    # A shortlist of 5 of the 20 clips: each clip returned has its exact
    # score and offset, and the exact scan's best clip is found for most
    # queries (15 of 20 here; 18 with 10 candidates, all with 15).
    short = clone(exact).set_params(
        neighbors=FaissNeighbors(index_factory="Flat"), n_candidates=5
    )
    short.fit(X[train], groups=groups[train]).index(Xd, gd)
    dist, ind, off = short.kneighbors(Xd, gd)
    assert np.mean(ind[:, 0] == ref[1][:, 0]) >= 0.7
    exact_scores = np.full((20, 20), np.inf)
    np.put_along_axis(exact_scores, ref[1], ref[0], axis=1)
    assert_allclose(dist, np.take_along_axis(exact_scores, ind, axis=1), rtol=1e-6)
    exact_offsets = np.zeros((20, 20), int)
    np.put_along_axis(exact_offsets, ref[1], ref[2], axis=1)
    assert_array_equal(off, np.take_along_axis(exact_offsets, ind, axis=1))
    # Ranks and score stay exact scans.
    assert_array_equal(
        short.retrieval_ranks(Xd, groups=gd), exact.retrieval_ranks(Xd, groups=gd)
    )
    with pytest.raises(ValueError, match="more than the n_candidates=5"):
        short.kneighbors(Xd, gd, n_neighbors=6)
