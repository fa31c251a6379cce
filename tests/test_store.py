"""Tests of skmv.store: chunked, appendable, resumable feature stores."""

import json
import os

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skmv.dbn import DBNTransformer
from skmv.store import FeatureStore

RND_SEED = 0


def _rows(n, d=4, seed=RND_SEED):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


@pytest.fixture
def store(tmp_path):
    """Three chunks of 5, 1 and 7 rows."""
    store = FeatureStore.create(
        tmp_path / "store",
        feature_names=["f0", "f1", "f2", "f3"],
        row_fields=["clip", "start"],
        attrs={"seconds": 6.0},
    )
    for i, n in enumerate([5, 1, 7]):
        store.append(
            _rows(n, seed=i),
            clip=[f"clip{i}"] * n,
            start=np.arange(n, dtype=np.float64),
            sources=[f"/media/{i}.mp4"],
        )
    return store


def _all(n_chunks=3):
    return np.concatenate(
        [_rows(n, seed=i) for i, n in enumerate([5, 1, 7][:n_chunks])]
    )


def test_a_store_reopens_with_its_rows_fields_and_sources(store):
    again = FeatureStore(store.path)
    assert again.n_rows == 13 and again.n_chunks == 3
    assert again.feature_names == ["f0", "f1", "f2", "f3"]
    assert again.attrs == {"seconds": 6.0}
    assert again.sources == {"/media/0.mp4", "/media/1.mp4", "/media/2.mp4"}
    assert_array_equal(np.asarray(again.X), _all())
    assert again.rows("clip").tolist() == ["clip0"] * 5 + ["clip1"] + ["clip2"] * 7
    assert_array_equal(again.rows("start"), np.r_[np.arange(5), 0, np.arange(7)])
    with pytest.raises(KeyError, match="'paths' is not a row field"):
        again.rows("paths")


@pytest.mark.parametrize(
    "key",
    [
        slice(3, 9),
        slice(0, 13),
        slice(4, 6),
        slice(11, 40),
        slice(None, None, 3),
        slice(12, 2, -2),
        7,
        -1,
        [12, 0, 5, 5, 6],
        np.arange(13) % 3 == 0,
        (slice(2, 8), slice(1, 3)),
        ([3, 11], [0, 2]),
    ],
)
def test_the_store_array_indexes_as_numpy_does(store, key):
    X = store.X
    assert X.shape == (13, 4) and X.ndim == 2 and X.dtype == np.float32
    assert_array_equal(X[key], _all()[key])


def test_a_torn_index_line_does_not_count_and_the_next_chunk_replaces_it(store):
    """A writer interrupted after a chunk's files, in the middle of its index
    line: the chunk does not count, and the next append overwrites it."""
    index = os.path.join(store.path, "index.jsonl")
    torn = json.dumps({"chunk": 3, "n_rows": 2, "sources": ["/media/x.mp4"]})
    with open(index, "a") as f:
        f.write(torn[:20])
    with open(os.path.join(store.path, "chunks", "000003.npy"), "wb") as f:
        f.write(b"half a chunk")
    again = FeatureStore(store.path)
    assert again.n_rows == 13 and "/media/x.mp4" not in again.sources
    again.append(_rows(2, seed=9), clip=["x", "x"], start=[0.0, 6.0], sources=["x"])
    final = FeatureStore(store.path)
    assert final.n_chunks == 4
    assert_array_equal(np.asarray(final.X), np.concatenate([_all(), _rows(2, seed=9)]))
    with open(index) as f:
        assert [json.loads(line)["chunk"] for line in f] == [0, 1, 2, 3]


def test_an_estimator_streams_from_the_store(store):
    """chunk_size reads the store's array by row slices across its chunks."""
    params = dict(hidden_layer_sizes=(3, 2), n_iter=2, shuffle=False, batch_size=4)
    ref = DBNTransformer(**params, random_state=RND_SEED).fit(_all())
    model = DBNTransformer(**params, random_state=RND_SEED, chunk_size=5)
    model.fit(store.X)
    for a, b in zip(model.rbms_, ref.rbms_):
        assert_allclose(a.components_, b.components_, rtol=1e-5, atol=1e-7)
    assert_allclose(model.transform(store.X), ref.transform(_all()), rtol=1e-5)


def test_wrong_chunks_are_refused_naming_the_store(store):
    with pytest.raises(ValueError, match="rows of 4 features, got an array of shape"):
        store.append(np.zeros((2, 3)), clip=["a", "a"], start=[0, 1])
    with pytest.raises(ValueError, match=r"row fields \['clip', 'start'\]"):
        store.append(np.zeros((2, 4)), clip=["a", "a"])
    with pytest.raises(ValueError, match="'clip' has shape \\(3,\\)"):
        store.append(np.zeros((2, 4)), clip=["a"] * 3, start=[0, 1])
    assert FeatureStore(store.path).n_rows == 13


def test_stores_are_made_and_opened_only_where_they_belong(tmp_path, store):
    with pytest.raises(FileExistsError, match="already a feature store"):
        FeatureStore.create(store.path, feature_names=["a"])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an empty directory"):
        FeatureStore.create(tmp_path / "full", feature_names=["a"])
    with pytest.raises(ValueError, match="not a skmv feature store"):
        FeatureStore(tmp_path / "full")
    with pytest.raises(FileNotFoundError, match="no such feature store"):
        FeatureStore(tmp_path / "nothing")
    with pytest.raises(ValueError, match="'sources'"):
        FeatureStore.create(tmp_path / "s", feature_names=["a"], row_fields=["sources"])


def test_a_damaged_chunk_is_named(store):
    path = os.path.join(store.path, "chunks", "000001.npy")
    np.save(path, np.zeros((4, 4), np.float32))
    X = FeatureStore(store.path).X
    assert_array_equal(X[:5], _all()[:5])
    with pytest.raises(ValueError, match="000001.npy: damaged chunk"):
        X[4:7]
