"""scikit-learn's estimator checks, and skmv's own, over every public estimator."""

import inspect
import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import (
    check_estimator_cloneable,
    check_estimator_repr,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
    parametrize_with_checks,
)

import skmv
from skmv import _backend as B
from skmv.dbn import DBNTransformer
from skmv.rbm import BernoulliRBM, GaussianBernoulliRBM

# Small, fast settings per estimator (the speed-ups live here, not in the
# estimators' defaults).
INIT_PARAMS = {
    skmv.BernoulliRBM: dict(n_components=3, n_iter=5, batch_size=10),
    skmv.GaussianBernoulliRBM: dict(n_components=3, n_iter=5, batch_size=10),
    skmv.DBNTransformer: [
        dict(hidden_layer_sizes=(4, 3), n_iter=2, batch_size=10),
        dict(
            hidden_layer_sizes=(4, 3),
            n_iter=2,
            batch_size=10,
            fine_tune="autoencoder",
            fine_tune_n_iter=2,
        ),
    ],
    skmv.AudioFeaturizer: dict(input="content"),
    skmv.CCA: [
        dict(n_components=1, modalities=[("a", slice(0, 1)), ("b", slice(1, None))]),
        dict(
            n_components=1,
            modalities=[("a", slice(0, 1)), ("b", slice(1, None))],
            reg=1e-3,
        ),
    ],
    skmv.CCARetriever: dict(
        query="a",
        target="b",
        modalities=[
            ("a", "passthrough", slice(0, 1)),
            ("b", "passthrough", slice(1, None)),
        ],
        n_components=1,
    ),
    skmv.ClipRetriever: [
        dict(
            retriever=skmv.CCARetriever(
                query="a",
                target="b",
                modalities=[
                    ("a", "passthrough", slice(0, 1)),
                    ("b", "passthrough", slice(1, None)),
                ],
                n_components=1,
            ),
            n_neighbors=1,
            scales=scales,
        )
        for scales in ((1,), (1, 2))
    ],
    skmv.CrossModalRetriever: [
        dict(
            model=skmv.SharedRBM(
                [
                    ("a", "passthrough", slice(0, 1)),
                    ("b", "passthrough", slice(1, None)),
                ],
                n_components=3,
                n_iter=2,
            ),
            query="a",
            target="b",
            space=space,
        )
        for space in ("input", "shared")
    ],
    skmv.TimescaleConcatenator: [
        dict(scale=1, n_segments=1),
        dict(scale=1, n_segments=1, modalities=[("a", [0])]),
    ],
    skmv.MultiTimescaleFusionClassifier: [
        dict(
            modalities=[
                ("a", "passthrough", slice(0, 1)),
                ("b", "passthrough", slice(1, None)),
            ],
            scales=(1,),
            n_segments=1,
            shared="passthrough",
            cv=3,
            random_state=0,
        ),
        dict(
            modalities=[
                ("a", GaussianBernoulliRBM(3, n_iter=2, batch_size=10), slice(0, 1)),
                ("b", BernoulliRBM(2, n_iter=2, batch_size=10), slice(1, None)),
            ],
            scales=(1,),
            n_segments=1,
            shared=skmv.SharedRBM([], n_components=3, n_iter=2, batch_size=10),
            cv=3,
            random_state=0,
        ),
    ],
    skmv.VideoFeaturizer: dict(input="content"),
    skmv.FaissNeighbors: [
        dict(),
        dict(metric="cosine", index_factory="HNSW8"),
        dict(index_factory="IVF2,Flat", nprobe=2),
    ],
    skmv.SharedRBM: [
        dict(
            modalities=[
                ("a", "passthrough", slice(0, 1)),
                ("b", "passthrough", slice(1, None)),
            ],
            n_components=3,
            n_iter=2,
        ),
        dict(
            modalities=[
                ("a", GaussianBernoulliRBM(3, n_iter=2, batch_size=10), slice(0, 1)),
                ("b", BernoulliRBM(2, n_iter=2, batch_size=10), slice(1, None)),
            ],
            n_components=3,
            n_iter=2,
            batch_size=10,
        ),
        dict(
            modalities=[
                ("a", DBNTransformer((3, 2), n_iter=2, batch_size=10), slice(0, 1)),
                ("b", DBNTransformer((3,), n_iter=2, batch_size=10), slice(1, None)),
            ],
            n_components=3,
            n_iter=2,
            batch_size=10,
        ),
        *(
            dict(
                modalities=[
                    ("a", DBNTransformer((3,), n_iter=2, batch_size=10), slice(0, 1)),
                    (
                        "b",
                        DBNTransformer((2,), n_iter=2, batch_size=10),
                        slice(1, None),
                    ),
                ],
                n_components=3,
                n_iter=2,
                batch_size=10,
                fine_tune=objective,
                fine_tune_n_iter=2,
                fine_tune_batch_size=10,
            )
            for objective in ("crossmodal", "contrastive")
        ),
    ],
}

# Checks an estimator is known to fail, each with the reason.
EXPECTED_FAILED_CHECKS: dict = {}


def _public_estimators():
    for name in skmv.__all__:
        obj = getattr(skmv, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            yield obj


def _tested_estimators():
    for cls in _public_estimators():
        params = INIT_PARAMS.get(cls, {})
        for p in params if isinstance(params, list) else [params]:
            yield cls(**p)


def _numeric_estimators():
    """Estimators that take a 2-D numeric X (the featurizers take media)."""
    for est in _tested_estimators():
        if get_tags(est).input_tags.two_d_array:
            yield est


def _numeric_transformers():
    # The classifier's transform gives predictions, and FaissNeighbors's a
    # sparse graph of distances to the fitted rows, not a representation:
    # these checks are for representation transformers (tests/test_neighbors.py
    # checks the graph's dtype, pickling and array kinds).
    return [
        est
        for est in _numeric_estimators()
        if hasattr(est, "transform")
        and not is_classifier(est)
        and not isinstance(est, skmv.FaissNeighbors)
    ]


def _expected_failed_checks(estimator):
    expected = dict(EXPECTED_FAILED_CHECKS.get(type(estimator), {}))
    if isinstance(estimator, skmv.CCA) and estimator.reg == 0:
        reason = (
            "the array-API checks fit make_classification data, whose redundant "
            "features make the covariance singular: unregularised CCA refuses it "
            "with an error that asks for reg > 0 (the reg=1e-3 instance passes)"
        )
        for check in ("check_array_api_input", "check_array_api_same_namespace"):
            expected[check] = reason
    if isinstance(estimator, skmv.MultiTimescaleFusionClassifier) and not (
        estimator.shared == "passthrough"
    ):
        expected["check_classifiers_train"] = (
            "the check wants accuracy > 0.83 on two standardised blob features; "
            "this instance's encoders (RBMs of 2-3 binary units, 2 epochs) keep "
            "too little of each feature for that. The passthrough instance passes "
            "it, and tests/test_fusion.py measures the DBN + shared RBM path"
        )
    return expected


@parametrize_with_checks(
    list(_numeric_estimators()), expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (FutureWarning, ConvergenceWarning))
        check(estimator)


# The featurizers take Segment lists or decoded media, not a numeric X, so
# scikit-learn yields none of its data checks for them (their tags say
# two_d_array=False); the checks of the estimator API that need no data apply.
API_CHECKS = [
    check_estimator_cloneable,
    check_estimator_repr,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_get_params_invariance,
    check_set_params,
    check_valid_tag_types,
]


@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "estimator",
    [e for e in _tested_estimators() if not get_tags(e).input_tags.two_d_array],
    ids=repr,
)
def test_media_estimator_api(estimator, check):
    check(type(estimator).__name__, estimator)


# --------------------------------------------------------------------------
# Package hygiene
# --------------------------------------------------------------------------


def test_every_public_name_exists():
    for name in skmv.__all__:
        assert hasattr(skmv, name), f"skmv has no attribute {name!r}"


def test_no_base_class_is_public():
    for cls in _public_estimators():
        assert not cls.__name__.lower().startswith(("base", "_")), cls


def test_every_estimator_has_test_settings():
    missing = [c.__name__ for c in _public_estimators() if c not in INIT_PARAMS]
    assert not missing, f"add {missing} to INIT_PARAMS"


# --------------------------------------------------------------------------
# skmv's own checks, on every numeric transformer (the retriever has its own)
# --------------------------------------------------------------------------


def _seeded(estimator):
    """A clone with random_state=0 where the estimator has one."""
    est = clone(estimator)
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    return est


def _X(n=40, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)).astype(np.float32)


@pytest.mark.parametrize("estimator", _numeric_transformers(), ids=repr)
def test_float32_in_float32_out(estimator):
    est = _seeded(estimator)
    X = _X()
    out = est.fit(X).transform(X)
    assert out.dtype == np.float32
    # Default dtype is float32: float64 input is computed in float32 too.
    assert est.fit(X.astype(np.float64)).transform(X).dtype == np.float32


@pytest.mark.parametrize("estimator", _numeric_transformers(), ids=repr)
def test_pickle_round_trip_is_exact(estimator):
    est = _seeded(estimator).fit(_X())
    loaded = pickle.loads(pickle.dumps(est))
    assert_array_equal(loaded.transform(_X(seed=1)), est.transform(_X(seed=1)))


@pytest.mark.parametrize("estimator", _numeric_transformers(), ids=repr)
def test_array_api_strict_in_strict_out(estimator):
    xps = pytest.importorskip("array_api_strict")
    est = _seeded(estimator)
    X = _X()
    ref = clone(est).fit(X).transform(X)
    out = est.fit(xps.asarray(X)).transform(xps.asarray(X))
    assert B.get_namespace(out) is B.get_namespace(xps.asarray(X))
    assert_allclose(np.asarray(out), ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="must use the same namespace"):
        est.transform(X)


@pytest.mark.parametrize(
    "estimator",
    [est for est in _tested_estimators() if hasattr(est, "partial_fit")],
    ids=repr,
)
def test_fit_is_partial_fit_from_scratch(estimator):
    X = _X()
    params = dict(random_state=0, n_iter=1, shuffle=False)
    a = clone(estimator).set_params(**params).fit(X)
    b = clone(estimator).set_params(**params).partial_fit(X)
    assert_allclose(b.transform(X), a.transform(X), rtol=1e-6)
    # A second pass moves on from the first.
    assert not np.allclose(b.partial_fit(X).transform(X), a.transform(X))
