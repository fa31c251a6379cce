"""Training from data that do not fit in memory (``chunk_size``).

The streamed fits must give the in-memory model where the rows come in the
same order (``shuffle=False``), hold a few chunks instead of the data, read
the chunks in a shuffled order otherwise, and fail as the in-memory fits do.
"""

import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmv import _backend as B
from skmv import _stream
from skmv.dbn import DBNTransformer
from skmv.rbm import BernoulliRBM, GaussianBernoulliRBM
from skmv.shared import SharedRBM

RND_SEED = 0
MB = 2**20
# A streamed fit sums the column means (the visible biases' start) in
# float64, an in-memory fit in float32; fine-tuning carries the difference,
# about 1e-5, into weights of 0.01 to 1.
TUNED_ATOL = 1e-4


def _memmap(tmp_path, X, name="X.npy"):
    path = tmp_path / name
    np.save(path, X)
    return np.load(path, mmap_mode="r")


def _gaussian(n=1003, d=12, seed=RND_SEED):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * 2.0 + 0.5).astype(np.float32)


class _Spy:
    """A 2-D array-like that records the row slices read from it."""

    def __init__(self, X):
        self.X, self.shape, self.dtype, self.reads = X, X.shape, X.dtype, []

    def __getitem__(self, key):
        rows = key[0] if isinstance(key, tuple) else key
        self.reads.append((rows.start, rows.stop))
        return self.X[key]


# --------------------------------------------------------------------------
# Chunks and batches
# --------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 7, 10, 64, 1000])
@pytest.mark.parametrize("subset", [False, True])
def test_batches_without_shuffle_are_the_rows_in_memory(chunk_size, subset):
    X = np.arange(200 * 3, dtype=np.float32).reshape(200, 3)
    rows = np.sort(np.random.default_rng(0).choice(200, 77, replace=False))
    sequence = X[rows] if subset else X
    bounds = _stream.batch_bounds(sequence.shape[0], 10)
    ctx = B.compute_context(X)
    batches = list(
        _stream.iter_batches(
            X,
            bounds,
            chunk_size=chunk_size,
            ctx=ctx,
            dtype="float32",
            rows=rows if subset else None,
        )
    )
    expected = [sequence[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    assert len(batches) == len(expected)
    for got, want in zip(batches, expected):
        assert_array_equal(got, want)


def test_shuffled_batches_visit_every_row_once_chunk_by_chunk():
    X = np.arange(103, dtype=np.float32).reshape(103, 1)
    spy = _Spy(X)
    ctx = B.compute_context(X)
    rng = B.make_rng(RND_SEED, ctx.xp)
    batches = list(
        _stream.iter_batches(
            spy,
            _stream.batch_bounds(103, 8),
            chunk_size=20,
            ctx=ctx,
            dtype="float32",
            rng=rng,
            shuffle=True,
        )
    )
    seen = np.concatenate(batches)[:, 0]
    assert_array_equal(np.sort(seen), X[:, 0])
    # Each chunk read once, in a shuffled order, and its rows kept together:
    # the first 20 rows drawn are one chunk's.
    starts = [start for start, _ in spy.reads]
    assert sorted(starts) == list(range(0, 103, 20))
    assert starts != sorted(starts)
    first = starts[0]
    assert set(seen[: min(20, 103 - first)].astype(int)) == set(
        range(first, min(first + 20, 103))
    )
    assert not np.array_equal(seen[:20], np.sort(seen[:20]))


def test_rows_read_slices_only():
    X = _gaussian(10, 3)
    rows = _stream.Rows(X, lambda A: A * 2.0, 3, X.dtype)
    assert rows.shape == (10, 3) and len(rows) == 10
    assert_array_equal(rows[2:5], X[2:5] * 2.0)
    assert_array_equal(rows[2:5, :], X[2:5] * 2.0)
    with pytest.raises(TypeError, match="row slices"):
        rows[[1, 2]]
    with pytest.raises(TypeError, match="row slices"):
        rows[:, 1:2]


# --------------------------------------------------------------------------
# The same model as in memory
# --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [GaussianBernoulliRBM, BernoulliRBM])
@pytest.mark.parametrize("chunk_size", [33, 100, 5000])
@pytest.mark.parametrize("persistent", [False, True])
def test_rbm_streamed_from_a_memmap_is_the_in_memory_model(
    tmp_path, cls, chunk_size, persistent
):
    X = _gaussian()
    if cls is BernoulliRBM:
        X = (X > 0.5).astype(np.float32)
    params = dict(
        n_components=5,
        n_iter=3,
        batch_size=40,
        shuffle=False,
        persistent=persistent,
        sparsity_cost=0.1,
        random_state=RND_SEED,
    )
    ref = cls(**params).fit(X)
    model = cls(**params, chunk_size=chunk_size).fit(_memmap(tmp_path, X))
    for name in ("components_", "intercept_hidden_", "intercept_visible_"):
        assert_allclose(getattr(model, name), getattr(ref, name), rtol=1e-5, atol=1e-6)
    assert_allclose(
        model.reconstruction_error_curve_, ref.reconstruction_error_curve_, rtol=1e-5
    )
    assert_allclose(model.transform(X), ref.transform(X), rtol=1e-5, atol=1e-6)
    assert model.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("cls", [GaussianBernoulliRBM, BernoulliRBM])
def test_rbm_partial_fit_streams_as_it_does_in_memory(tmp_path, cls):
    X = _gaussian()
    if cls is BernoulliRBM:
        X = (X > 0.5).astype(np.float32)
    ref = cls(n_components=4, batch_size=30, random_state=RND_SEED)
    model = cls(n_components=4, batch_size=30, random_state=RND_SEED, chunk_size=71)
    M = _memmap(tmp_path, X)
    for _ in range(2):
        ref.partial_fit(X)
        model.partial_fit(M)
    assert_allclose(model.components_, ref.components_, rtol=1e-5, atol=1e-6)
    assert model._scale == pytest.approx(ref._scale, rel=1e-6)


def test_rbm_shuffled_stream_is_seeded_and_learns(tmp_path):
    X = _gaussian(2000, 8)
    M = _memmap(tmp_path, X)
    params = dict(n_components=4, n_iter=4, random_state=RND_SEED, chunk_size=250)
    a = GaussianBernoulliRBM(**params).fit(M)
    b = GaussianBernoulliRBM(**params).fit(M)
    assert_array_equal(a.components_, b.components_)
    in_order = GaussianBernoulliRBM(**params, shuffle=False).fit(M)
    assert not np.allclose(a.components_, in_order.components_)
    curve = a.reconstruction_error_curve_
    assert curve[-1] < curve[0]


@pytest.mark.parametrize("fine_tune", [None, "autoencoder"])
def test_dbn_streamed_layer_by_layer_is_the_in_memory_network(tmp_path, fine_tune):
    X = _gaussian()
    params = dict(
        hidden_layer_sizes=(8, 6, 3),
        n_iter=2,
        batch_size=32,
        shuffle=False,
        fine_tune=fine_tune,
        fine_tune_n_iter=2,
        random_state=RND_SEED,
    )
    ref = DBNTransformer(**params).fit(X)
    model = DBNTransformer(**params, chunk_size=150).fit(_memmap(tmp_path, X))
    for a, b in zip(model.rbms_, ref.rbms_):
        assert a.chunk_size == 150
        assert_allclose(a.components_, b.components_, rtol=1e-4, atol=1e-6)
    if fine_tune:
        assert_allclose(model.loss_curve_, ref.loss_curve_, rtol=1e-5)
        for a, b in zip(model.coefs_, ref.coefs_):
            assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert_allclose(model.transform(X), ref.transform(X), rtol=1e-4, atol=1e-6)


def test_dbn_upper_layers_read_the_lower_layers_chunk_by_chunk():
    """Layer 1 trains on chunks that layer 0 computes from chunks of X: X is
    read chunk by chunk for every epoch of every layer, never whole."""
    X = _gaussian(400, 6)
    spy = _Spy(X)
    DBNTransformer((4, 3), n_iter=2, chunk_size=100, random_state=RND_SEED).fit(spy)
    sizes = {stop - start for start, stop in spy.reads if stop - start > 1}
    assert sizes == {100}
    # Per layer: one scan, then n_iter epochs of 4 chunks.
    assert sum(stop - start == 100 for start, stop in spy.reads) == 2 * (1 + 2) * 4


def _pipeline_model(dv, da, **params):
    def encoder():
        return make_pipeline(
            StandardScaler(),
            DBNTransformer((10, 6), n_iter=2, batch_size=32, shuffle=False),
        )

    return SharedRBM(
        [("video", encoder(), slice(0, dv)), ("audio", encoder(), slice(dv, dv + da))],
        n_components=5,
        n_iter=2,
        batch_size=32,
        shuffle=False,
        fine_tune_n_iter=2,
        fine_tune_batch_size=50,
        random_state=RND_SEED,
        **params,
    )


@pytest.mark.parametrize(
    "fine_tune, early_stopping",
    [
        (None, False),
        ("contrastive", False),
        ("contrastive", True),
        ("crossmodal", True),
    ],
)
def test_shared_rbm_of_scaled_dbns_streamed_is_the_in_memory_model(
    tmp_path, fine_tune, early_stopping
):
    """The README's encoders, make_pipeline(StandardScaler(), DBNTransformer()),
    fitted from a memmap: the scalers by one partial_fit pass, the DBNs and
    the shared RBM by streaming, fine-tuning too."""
    dv, da = 9, 7
    X = _gaussian(1003, dv + da) * 3.0 + 1.0
    params = dict(fine_tune=fine_tune, early_stopping=early_stopping)
    ref = _pipeline_model(dv, da, **params).fit(X)
    model = _pipeline_model(dv, da, **params, chunk_size=120).fit(_memmap(tmp_path, X))
    for name in ("video", "audio"):
        scaler, dbn = model.named_modalities_[name]
        ref_scaler, ref_dbn = ref.named_modalities_[name]
        assert dbn.chunk_size == 120
        assert scaler.n_samples_seen_ == X.shape[0]
        assert_allclose(scaler.mean_, ref_scaler.mean_, rtol=1e-6)
        assert_allclose(scaler.scale_, ref_scaler.scale_, rtol=1e-6)
        for a, b in zip(dbn.rbms_, ref_dbn.rbms_):
            assert_allclose(a.components_, b.components_, rtol=1e-4, atol=1e-6)
    assert_allclose(
        model.rbm_.components_,
        ref.rbm_.components_,
        rtol=1e-4,
        atol=TUNED_ATOL if fine_tune else 1e-6,
    )
    assert_allclose(model.encoding_mean_, ref.encoding_mean_, rtol=1e-5, atol=1e-7)
    if fine_tune:
        assert_allclose(
            model.fine_tune_loss_curve_, ref.fine_tune_loss_curve_, rtol=1e-5
        )
    if early_stopping:
        assert_allclose(
            model.fine_tune_validation_curve_,
            ref.fine_tune_validation_curve_,
            rtol=1e-5,
        )
    assert_allclose(model.transform(X), ref.transform(X), rtol=1e-4, atol=1e-6)
    assert_allclose(
        model.transform(X, given="audio"),
        ref.transform(X, given="audio"),
        rtol=1e-4,
        atol=1e-6,
    )


def test_shared_rbm_streams_from_a_zarr_array(tmp_path):
    zarr = pytest.importorskip("zarr")
    dv, da = 5, 4
    X = _gaussian(600, dv + da)
    Z = zarr.open_array(
        str(tmp_path / "X.zarr"), mode="w", shape=X.shape, chunks=(64, 9), dtype="f4"
    )
    Z[:] = X
    ref = _pipeline_model(dv, da).fit(X)
    model = _pipeline_model(dv, da, chunk_size=64).fit(Z)
    assert_allclose(model.rbm_.components_, ref.rbm_.components_, rtol=1e-4, atol=1e-6)
    H = model.transform(Z)
    assert isinstance(H, np.ndarray) and H.shape == (600, 5)
    assert_allclose(H, ref.transform(X), rtol=1e-4, atol=1e-6)


def test_pipeline_steps_are_fitted_by_one_partial_fit_pass_each():
    X = _gaussian(300, 6)
    spy = _Spy(X)
    encoder = make_pipeline(StandardScaler(), GaussianBernoulliRBM(3, n_iter=1))
    _stream.fit_stream(encoder, spy, 100, who="the encoder")
    assert encoder[0].n_samples_seen_ == 300
    assert encoder[1].chunk_size == 100
    assert_allclose(encoder[0].mean_, X.mean(axis=0), rtol=1e-5)
    # The scaler's pass, then the RBM's scan and one epoch, each 3 chunks
    # (besides the one-row reads that size the outputs).
    assert sum(stop - start == 100 for start, stop in spy.reads) == 3 * 3


# --------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------


def _peak(fit):
    """Peak of the memory NumPy and Python allocate during ``fit()``."""
    tracemalloc.start()
    try:
        fit()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_shared_rbm_fits_a_memmap_several_times_larger_than_a_memory_cap(tmp_path):
    """A 95 MiB memmap, a 16 MiB cap on what the fit allocates: the streamed fit
    stays under it (about three chunks), the in-memory fit of the same
    memmap does not (scaled copies, encodings, fine-tuning's arrays), and
    both give the same model."""
    n, dv, da = 50_000, 300, 200
    path = tmp_path / "big.dat"
    M = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, dv + da))
    rng = np.random.default_rng(RND_SEED)
    for start in range(0, n, 5000):
        M[start : start + 5000] = rng.standard_normal((5000, dv + da), np.float32)
    M.flush()
    M = np.memmap(path, dtype=np.float32, mode="r", shape=(n, dv + da))
    cap = 16 * MB
    assert M.nbytes > 5.9 * cap

    def model(**params):
        def encoder():
            return make_pipeline(
                StandardScaler(),
                DBNTransformer((32, 16), n_iter=1, batch_size=100, shuffle=False),
            )

        return SharedRBM(
            [
                ("video", encoder(), slice(0, dv)),
                ("audio", encoder(), slice(dv, dv + da)),
            ],
            n_components=16,
            n_iter=1,
            shuffle=False,
            fine_tune="contrastive",
            fine_tune_n_iter=1,
            random_state=RND_SEED,
            **params,
        )

    streamed = model(chunk_size=1000)
    assert _peak(lambda: streamed.fit(M)) < cap
    in_memory = model()
    assert _peak(lambda: in_memory.fit(M)) > 6 * cap
    assert_allclose(
        streamed.rbm_.components_,
        in_memory.rbm_.components_,
        rtol=1e-4,
        atol=TUNED_ATOL,
    )
    assert_allclose(
        streamed.fine_tune_loss_curve_, in_memory.fine_tune_loss_curve_, rtol=1e-5
    )
    rows = slice(0, 2000)
    assert_allclose(
        streamed.transform(M[rows]), in_memory.transform(M[rows]), rtol=1e-4, atol=1e-6
    )


# --------------------------------------------------------------------------
# scikit-learn's estimator checks, streaming
# --------------------------------------------------------------------------


def _expected_failures(estimator):
    if isinstance(estimator, SharedRBM):
        return {
            "check_methods_sample_order_invariance": "transform computes "
            "chunk_size rows at a time, and float32 products of chunks of other "
            "rows (and other alignments) may round the shared layer's input "
            "differently, by about 1e-7, past the check's tolerance"
        }
    return {}


@parametrize_with_checks(
    [
        GaussianBernoulliRBM(n_components=3, n_iter=5, batch_size=10, chunk_size=7),
        BernoulliRBM(n_components=3, n_iter=5, batch_size=10, chunk_size=7),
        DBNTransformer(
            (4, 3),
            n_iter=3,
            batch_size=10,
            chunk_size=7,
            fine_tune="autoencoder",
            fine_tune_n_iter=2,
        ),
        SharedRBM(
            [
                ("a", GaussianBernoulliRBM(3, n_iter=2, batch_size=10), slice(0, 1)),
                ("b", "passthrough", slice(1, None)),
            ],
            n_components=3,
            n_iter=2,
            batch_size=10,
            chunk_size=7,
            random_state=RND_SEED,
        ),
    ],
    expected_failed_checks=_expected_failures,
)
def test_streaming_estimators_keep_the_scikit_learn_contract(estimator, check):
    """Every check, in memory and on read-only memmaps, through the streaming
    path: chunks of 7 rows, so that the checks' small data span chunks."""
    check(estimator)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_nan_is_refused_naming_its_row(tmp_path):
    X = _gaussian(500, 4)
    X[321, 2] = np.nan
    M = _memmap(tmp_path, X)
    with pytest.raises(ValueError, match="row 321"):
        GaussianBernoulliRBM(2, chunk_size=100).fit(M)
    with pytest.raises(ValueError, match="row 321"):
        DBNTransformer((3, 2), chunk_size=100).fit(M)
    model = SharedRBM(
        [("a", GaussianBernoulliRBM(2), slice(0, 2)), ("b", "passthrough", [2, 3])],
        chunk_size=100,
    )
    with pytest.raises(ValueError, match="modality 'b' \\(first in row 321\\)"):
        model.fit(M)


def test_an_encoder_that_cannot_stream_is_named(tmp_path):
    X = _gaussian(200, 6)
    model = SharedRBM(
        [
            ("video", make_pipeline(PCA(2), GaussianBernoulliRBM(2)), slice(0, 3)),
            ("audio", GaussianBernoulliRBM(2), slice(3, 6)),
        ],
        chunk_size=50,
    )
    with pytest.raises(
        TypeError, match="step 'pca' of The encoder of modality 'video'"
    ):
        model.fit(_memmap(tmp_path, X))


def test_transform_checks_the_number_of_features(tmp_path):
    X = _gaussian(200, 6)
    rbm = GaussianBernoulliRBM(2, n_iter=1, chunk_size=50).fit(_memmap(tmp_path, X))
    with pytest.raises(ValueError, match="X has 5 features, but GaussianBernoulliRBM"):
        rbm.transform(_memmap(tmp_path, X[:, :5], "Y.npy"))


def test_lists_stream_once_validated():
    X = _gaussian(300, 4)
    params = dict(n_components=2, n_iter=2, shuffle=False, random_state=RND_SEED)
    ref = GaussianBernoulliRBM(**params).fit(X)
    model = GaussianBernoulliRBM(**params, chunk_size=64).fit(X.tolist())
    assert_allclose(model.components_, ref.components_, rtol=1e-5, atol=1e-7)
