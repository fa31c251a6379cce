"""OptunaSearchCV: search, cross-validation by clip, routing, pruning."""

import numpy as np
import pytest
import sklearn
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.pruners import MedianPruner
from optuna.trial import TrialState
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, minmax_scale
from sklearn.utils.validation import check_is_fitted

from skmv.baselines import CCARetriever
from skmv.datasets import make_music_video_features, make_paired_modalities
from skmv.exceptions import DivergenceError
from skmv.rbm import GaussianBernoulliRBM
from skmv.retrieval import CrossModalRetriever
from skmv.shared import SharedRBM
from skmv.tuning import OptunaSearchCV, neg_reconstruction_error


@pytest.fixture(scope="module")
def clips():
    """24 clips of 10 segments: 12 video and 8 audio features per row."""
    data = make_music_video_features(
        24, n_segments=10, n_features=(12, 8), positive_fraction=0.3, random_state=0
    )
    # In [0, 1]: the passthrough encodings of the shared RBM are read as
    # probabilities.
    data.X = minmax_scale(data.X).astype(np.float32)
    return data


def _shared_retriever():
    model = SharedRBM(
        [
            ("video", "passthrough", slice(0, 12)),
            ("audio", "passthrough", slice(12, 20)),
        ],
        n_components=8,
        n_iter=5,
        batch_size=20,
        random_state=0,
    )
    return CrossModalRetriever(model, query="audio", target="video", n_neighbors=5)


def _cca_retriever():
    return CCARetriever(
        "audio",
        "video",
        modalities=[
            ("video", "passthrough", slice(0, 12)),
            ("audio", "passthrough", slice(12, 20)),
        ],
        n_neighbors=5,
    )


SPACES = {
    "shared": (
        _shared_retriever,
        {
            "model__n_components": IntDistribution(4, 16),
            "model__learning_rate": FloatDistribution(0.01, 0.5, log=True),
            "space": CategoricalDistribution(["input", "shared"]),
        },
    ),
    "cca": (
        _cca_retriever,
        {
            "n_components": IntDistribution(1, 8),
            "reg": FloatDistribution(1e-4, 1.0, log=True),
        },
    ),
}


def _in_space(params, space):
    assert set(params) == set(space)
    for name, value in params.items():
        dist = space[name]
        if isinstance(dist, CategoricalDistribution):
            assert value in dist.choices
        else:
            assert dist.low <= value <= dist.high


@pytest.mark.parametrize("kind", sorted(SPACES))
def test_search_retrievers_by_clip(clips, kind):
    make, space = SPACES[kind]
    search = OptunaSearchCV(
        make(), space, n_trials=6, cv=GroupKFold(3), random_state=0
    ).fit(clips.X, groups=clips.groups)

    _in_space(search.best_params_, space)
    completed = [t for t in search.study_.trials if t.state == TrialState.COMPLETE]
    assert len(search.study_.trials) == search.n_trials_ == 6
    assert search.best_score_ == max(t.value for t in completed)
    # The value of a trial is the mean of its folds' precisions at 5.
    for t in completed:
        assert len(t.user_attrs["split_scores"]) == 3
        assert t.value == pytest.approx(np.mean(t.user_attrs["split_scores"]))
    assert search.cv_results_["mean_test_score"].max() == search.best_score_
    assert search.cv_results_["rank_test_score"][search.best_trial_.number] == 1

    # Refitted on all the rows: every one of them is in the database.
    best = search.best_estimator_
    check_is_fitted(best)
    assert best.n_database_ == len(clips.X)
    for name, value in search.best_params_.items():
        assert best.get_params()[name] == value
    score = search.score(clips.X)
    assert score == best.score(clips.X)
    assert 0.0 <= score <= 1.0
    assert search.kneighbors(clips.X[:3], n_neighbors=2)[1].shape == (3, 2)

    again = OptunaSearchCV(
        make(), space, n_trials=6, cv=GroupKFold(3), random_state=0
    ).fit(clips.X, groups=clips.groups)
    assert again.best_params_ == search.best_params_
    assert [t.value for t in again.study_.trials] == [
        t.value for t in search.study_.trials
    ]


class LeakDetector(BaseEstimator):
    """Scores 1 when no test row's group (column 0) was seen in training.

    With ``groups`` routed to ``fit``, checks they are the training rows'.
    """

    def __init__(self, c=1.0):
        self.c = c

    def fit(self, X, y=None, groups=None):
        X = np.asarray(X)
        self.seen_ = set(X[:, 0].tolist())
        self.got_groups_ = groups is not None
        if groups is not None and not np.array_equal(np.asarray(groups), X[:, 0]):
            raise AssertionError("groups do not match the training rows")
        return self

    def score(self, X, y=None):
        return float(self.seen_.isdisjoint(np.asarray(X)[:, 0].tolist()))


def _grouped_rows(n_groups=12, per_group=5, seed=0):
    rng = np.random.default_rng(seed)
    groups = rng.permutation(np.repeat(np.arange(n_groups), per_group))
    X = np.column_stack([groups, rng.normal(size=len(groups))]).astype(float)
    return X, groups


@pytest.mark.parametrize("routing", [False, True])
@pytest.mark.parametrize(
    "cv", [None, 4, GroupKFold(4)], ids=["None", "4", "GroupKFold"]
)
def test_groups_reach_the_splitter(routing, cv):
    X, groups = _grouped_rows()
    space = {"c": FloatDistribution(0.0, 1.0)}
    with sklearn.config_context(enable_metadata_routing=routing):
        detector = LeakDetector()
        if routing:
            # Its fit takes groups too: routing wants to be told whether it
            # asks for them (here, not).
            detector.set_fit_request(groups=False)
        search = OptunaSearchCV(
            detector, space, n_trials=3, cv=cv, error_score="raise"
        ).fit(X, groups=groups)
        assert not search.best_estimator_.got_groups_
    # Every fold of every trial kept its groups out of training.
    assert search.cv_results_["mean_test_score"].tolist() == [1.0, 1.0, 1.0]
    # Without groups the same rows leak (the detector notices), so the score
    # above really comes from group-wise splits.
    if not isinstance(cv, GroupKFold):
        leaky = OptunaSearchCV(LeakDetector(), space, n_trials=1, cv=cv).fit(X)
        assert leaky.best_score_ == 0.0


def test_groups_routed_to_the_estimator_when_requested():
    X, groups = _grouped_rows()
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = LeakDetector().set_fit_request(groups=True)
        search = OptunaSearchCV(
            estimator,
            {"c": FloatDistribution(0.0, 1.0)},
            n_trials=2,
            cv=GroupKFold(3),
            error_score="raise",  # the detector's check would raise here
        ).fit(X, groups=groups)
        assert search.best_score_ == 1.0
        assert search.best_estimator_.got_groups_
        # A splitter that does not ask for groups cannot be given them.
        with pytest.raises(ValueError, match="groups"):
            OptunaSearchCV(
                LeakDetector(), {"c": FloatDistribution(0.0, 1.0)}, cv=KFold(3)
            ).fit(X, groups=groups)
    # Without routing, groups go to the splitter only, as in GridSearchCV.
    search = OptunaSearchCV(
        LeakDetector(), {"c": FloatDistribution(0.0, 1.0)}, n_trials=1, cv=3
    ).fit(X, groups=groups)
    assert not search.best_estimator_.got_groups_


def test_pruning_by_epochs():
    X, _ = make_paired_modalities(300, n_features=(12, 8), random_state=0)
    pipe = make_pipeline(
        StandardScaler(), GaussianBernoulliRBM(8, batch_size=20, random_state=0)
    )
    epochs = 8
    search = OptunaSearchCV(
        pipe,
        {
            "gaussianbernoullirbm__learning_rate": FloatDistribution(
                1e-5, 1e-1, log=True
            )
        },
        n_trials=10,
        cv=3,
        epochs=epochs,
        scoring=neg_reconstruction_error,
        pruner=MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        random_state=0,
    ).fit(X)
    states = [t.state for t in search.study_.trials]
    assert TrialState.PRUNED in states
    assert TrialState.COMPLETE in states
    for t in search.study_.trials:
        steps = sorted(t.intermediate_values)
        if t.state == TrialState.PRUNED:
            assert len(steps) < epochs  # stopped early
        else:
            assert steps == list(range(1, epochs + 1))
            assert t.value == t.intermediate_values[epochs]
    assert search.best_score_ == max(
        t.value for t in search.study_.trials if t.state == TrialState.COMPLETE
    )
    # The refit trains the same number of epochs, on all the rows.
    rbm = search.best_estimator_[-1]
    assert (
        rbm.learning_rate == search.best_params_["gaussianbernoullirbm__learning_rate"]
    )
    assert rbm._epoch == epochs
    assert search.score(X) == neg_reconstruction_error(search.best_estimator_, X)
    assert search.transform(X).shape == (300, 8)


def test_epochs_needs_partial_fit(clips):
    search = OptunaSearchCV(
        _cca_retriever(), {"reg": FloatDistribution(1e-3, 1.0)}, n_trials=1, epochs=2
    )
    with pytest.raises(ValueError, match="partial_fit"):
        search.fit(clips.X)


def test_bad_parameter_names_are_named(clips):
    search = OptunaSearchCV(
        _shared_retriever(), {"model__n_componets": IntDistribution(2, 8)}, n_trials=1
    )
    with pytest.raises(ValueError, match="'model__n_componets'.*model__n_components"):
        search.fit(clips.X)

    search.set_params(param_distributions={"space": ["input", "shared"]})
    with pytest.raises(ValueError, match=r"param_distributions\['space'\]"):
        search.fit(clips.X)

    def space(trial):
        return {"n_neighbours": trial.suggest_int("k", 1, 5)}

    search = OptunaSearchCV(_cca_retriever(), space, n_trials=2)
    with pytest.raises(ValueError, match="n_neighbours"):
        search.fit(clips.X)


def test_callable_space_and_best_params(clips):
    def space(trial):
        # A conditional space: the regularisation only when asked for.
        params = {"n_components": trial.suggest_int("n_components", 1, 6)}
        if trial.suggest_categorical("regularise", [True, False]):
            params["reg"] = trial.suggest_float("reg", 1e-3, 1.0, log=True)
        else:
            params["reg"] = 0.0
        return params

    search = OptunaSearchCV(
        _cca_retriever(), space, n_trials=5, cv=GroupKFold(3), random_state=0
    ).fit(clips.X, groups=clips.groups)
    best = search.best_trial_.params
    assert search.best_params_["n_components"] == best["n_components"]
    assert search.best_params_["reg"] == (best["reg"] if best["regularise"] else 0.0)
    assert search.best_estimator_.reg == search.best_params_["reg"]


def test_classifier_average_precision(clips):
    pipe = make_pipeline(
        StandardScaler(),
        GaussianBernoulliRBM(8, n_iter=3, batch_size=20, random_state=0),
        LogisticRegression(),
    )
    space = {"logisticregression__C": FloatDistribution(1e-3, 1e2, log=True)}
    cv = GroupKFold(3)
    search = OptunaSearchCV(
        pipe, space, n_trials=4, cv=cv, scoring="average_precision", random_state=0
    ).fit(clips.X, clips.y, groups=clips.groups)
    expected = cross_val_score(
        clone(pipe).set_params(**search.best_params_),
        clips.X,
        clips.y,
        groups=clips.groups,
        cv=cv,
        scoring="average_precision",
    ).mean()
    assert search.best_score_ == pytest.approx(expected)
    assert search.predict_proba(clips.X).shape == (len(clips.X), 2)
    assert list(search.classes_) == [0, 1]


def test_failed_trials(clips):
    # Unscaled data and a huge learning rate: the RBM diverges in some trials.
    X = 100 * clips.X
    pipe = make_pipeline(GaussianBernoulliRBM(4, n_iter=2, random_state=0))
    space = {
        "gaussianbernoullirbm__learning_rate": CategoricalDistribution([1e-4, 10.0])
    }
    search = OptunaSearchCV(
        pipe, space, n_trials=4, cv=2, scoring=neg_reconstruction_error, random_state=1
    )
    with pytest.warns(FitFailedWarning, match="DivergenceError"):
        search.fit(X)
    states = {
        t.params["gaussianbernoullirbm__learning_rate"]: t.state
        for t in search.study_.trials
    }
    assert states == {1e-4: TrialState.COMPLETE, 10.0: TrialState.FAIL}
    assert search.best_params_ == {"gaussianbernoullirbm__learning_rate": 1e-4}
    with pytest.raises(DivergenceError):
        search.set_params(error_score="raise").fit(X)


def test_continue_a_study_and_timeout(clips):
    import optuna

    space = SPACES["cca"][1]
    study = optuna.create_study(direction="maximize")
    search = OptunaSearchCV(_cca_retriever(), space, n_trials=3, study=study)
    search.fit(clips.X, groups=clips.groups)
    search.fit(clips.X, groups=clips.groups)
    assert search.study_ is study
    assert len(study.trials) == 6 and search.n_trials_ == 3
    assert search.best_score_ == study.best_value

    with pytest.raises(ValueError, match="sampler and pruner"):
        OptunaSearchCV(_cca_retriever(), space, study=study, pruner=MedianPruner()).fit(
            clips.X
        )
    minimise = optuna.create_study(direction="minimize")
    with pytest.raises(ValueError, match="maximize"):
        OptunaSearchCV(_cca_retriever(), space, study=minimise).fit(clips.X)

    # Without n_trials, the timeout ends the search.
    search = OptunaSearchCV(_cca_retriever(), space, n_trials=None, timeout=0.3)
    search.fit(clips.X, groups=clips.groups)
    assert search.n_trials_ >= 1
    with pytest.raises(ValueError, match="never stop"):
        search.set_params(timeout=None).fit(clips.X)


def test_parallel_folds_give_the_same_search(clips):
    space = SPACES["cca"][1]
    kwargs = dict(n_trials=3, cv=GroupKFold(3), random_state=0)
    one = OptunaSearchCV(_cca_retriever(), space, **kwargs)
    two = OptunaSearchCV(_cca_retriever(), space, n_jobs=2, **kwargs)
    for search in (one, two):
        search.fit(clips.X, groups=clips.groups)
    assert one.cv_results_["mean_test_score"].tolist() == (
        two.cv_results_["mean_test_score"].tolist()
    )

    # Epoch by epoch, the folds run in threads: same result again.
    X, _ = make_paired_modalities(120, n_features=(6, 4), random_state=0)
    pipe = make_pipeline(
        StandardScaler(), GaussianBernoulliRBM(4, batch_size=20, random_state=0)
    )
    rate = {"gaussianbernoullirbm__learning_rate": FloatDistribution(1e-3, 0.1)}
    kwargs = dict(
        n_trials=2, cv=2, epochs=2, scoring=neg_reconstruction_error, random_state=0
    )
    scores = [
        OptunaSearchCV(pipe, rate, n_jobs=n_jobs, **kwargs)
        .fit(X)
        .cv_results_["mean_test_score"]
        .tolist()
        for n_jobs in (None, 2)
    ]
    assert scores[0] == scores[1]


def test_verbosity(clips, capsys):
    import optuna

    levels = []

    def space(trial):
        if isinstance(trial, optuna.trial.Trial):  # not the replay of the best
            levels.append(optuna.logging.get_verbosity())
        return {"n_components": 2, "reg": trial.suggest_float("reg", 1e-3, 1.0)}

    before = optuna.logging.get_verbosity()
    OptunaSearchCV(_cca_retriever(), space, n_trials=2).fit(clips.X)
    assert capsys.readouterr().out == ""
    OptunaSearchCV(_cca_retriever(), space, n_trials=2, verbose=1).fit(clips.X)
    assert capsys.readouterr().out.count("[OptunaSearchCV] trial") == 2
    OptunaSearchCV(_cca_retriever(), space, n_trials=2, verbose=2).fit(clips.X)
    # Optuna's INFO log of every trial only at verbose=2; the user's level
    # is back afterwards.
    assert [level >= optuna.logging.WARNING for level in levels] == [True] * 4 + [
        False
    ] * 2
    assert optuna.logging.get_verbosity() == before
