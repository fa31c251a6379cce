"""Hyper-parameter search with Optuna: :class:`OptunaSearchCV`.

A scikit-learn meta-estimator that searches the parameters of any skmv
estimator or pipeline with an Optuna study, scores every trial by
cross-validation (by clip when ``groups`` are given), and refits the best
parameters on all the data. Estimators that learn epoch by epoch
(``partial_fit``, as the RBMs do) can be trained one epoch at a time, so that
an Optuna pruner stops the trials that fall behind.

The search is written with Optuna's ask-and-tell interface rather than
around a third-party wrapper, so that ``groups`` and other metadata reach the
splitter, the estimator and the scorer whether or not scikit-learn's metadata
routing is enabled.
"""

from __future__ import annotations

import copy
import difflib
import math
import time
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.pruners import BasePruner, MedianPruner
from optuna.samplers import BaseSampler, TPESampler
from optuna.study import StudyDirection
from optuna.trial import FixedTrial, TrialState
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    _fit_context,
    clone,
    is_classifier,
)
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import (
    GroupKFold,
    StratifiedGroupKFold,
    check_cv,
)
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_method_params, check_is_fitted, indexable

__all__ = ["OptunaSearchCV", "neg_reconstruction_error"]

# Folds when ``cv`` is None, as in scikit-learn's searches.
_DEFAULT_N_SPLITS = 5


def neg_reconstruction_error(estimator, X, y=None):
    """Minus the mean squared error of ``X`` and its reconstruction.

    A scorer (``scoring=neg_reconstruction_error``) for transformers that
    can go back to their input, such as skmv's RBMs and deep belief networks
    or a pipeline of a scaler and one of them:
    ``inverse_transform(transform(X))`` is compared with ``X``. Higher is
    better, as for every scikit-learn scorer. It measures how much of the
    data a representation keeps; it is cheap enough to monitor training
    epoch by epoch, but it is not what contrastive divergence optimises, so
    prefer the score of the task (a classifier, a retriever) to compare
    models where there is one.

    Parameters
    ----------
    estimator : fitted estimator
        With ``transform`` and ``inverse_transform``.
    X : array-like of shape (n_samples, n_features)
        The data to reconstruct.
    y : None
        Ignored.

    Returns
    -------
    score : float
        ``-mean((inverse_transform(transform(X)) - X) ** 2)``.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmv.datasets import make_paired_modalities
    >>> from skmv.rbm import GaussianBernoulliRBM
    >>> from skmv.tuning import neg_reconstruction_error
    >>> X, _ = make_paired_modalities(200, random_state=0)
    >>> rbm = make_pipeline(StandardScaler(), GaussianBernoulliRBM(
    ...     16, n_iter=5, random_state=0)).fit(X)
    >>> neg_reconstruction_error(rbm, X) < 0
    True
    """
    X_arr = np.asarray(X, dtype=np.float64)
    X_hat = np.asarray(estimator.inverse_transform(estimator.transform(X)))
    return -float(np.mean((X_hat.astype(np.float64) - X_arr) ** 2))


def _cv_results(study, n_splits):
    """The study's trials as scikit-learn's ``cv_results_`` lays them out."""
    trials = study.trials
    n = len(trials)
    complete = np.array([t.state == TrialState.COMPLETE for t in trials], dtype=bool)
    results = {
        "number": np.array([t.number for t in trials], dtype=np.int64),
        "state": np.array([t.state.name for t in trials], dtype=object),
        "duration": np.array(
            [
                np.nan if t.duration is None else t.duration.total_seconds()
                for t in trials
            ]
        ),
    }
    for name in sorted({name for t in trials for name in t.params}):
        column = np.ma.MaskedArray(np.empty(n, dtype=object), mask=True)
        for i, t in enumerate(trials):
            if name in t.params:
                column[i] = t.params[name]
        results[f"param_{name}"] = column
    results["params"] = [dict(t.params) for t in trials]
    splits = np.full((n, n_splits), np.nan)
    for i, t in enumerate(trials):
        scores = t.user_attrs.get("split_scores") or []
        if len(scores) == n_splits:
            splits[i] = scores
    for k in range(n_splits):
        results[f"split{k}_test_score"] = splits[:, k]
    mean = np.array([t.value if ok else np.nan for t, ok in zip(trials, complete)])
    results["mean_test_score"] = mean
    std = np.full(n, np.nan)
    scored = complete & np.isfinite(splits).all(axis=1)
    std[scored] = np.std(splits[scored], axis=1)
    results["std_test_score"] = std
    # 1 is the best; trials without a score rank after every scored one.
    order = np.argsort(np.where(complete, -mean, np.inf), kind="stable")
    rank = np.empty(n, dtype=np.int32)
    rank[order] = np.arange(1, n + 1)
    rank[~complete] = complete.sum() + 1
    results["rank_test_score"] = rank
    return results


def _search_estimator_has(attr):
    """``available_if`` check: the refitted best estimator (or, before fit,
    the estimator) has ``attr``."""

    def check(self):
        if hasattr(self, "best_estimator_"):
            getattr(self.best_estimator_, attr)
            return True
        if not self.refit:
            raise AttributeError(
                f"This {type(self).__name__} has refit=False: {attr!r} is only "
                "available with refit=True."
            )
        getattr(self.estimator, attr)
        return True

    return check


def _partial_fit_target(estimator):
    """The object whose ``partial_fit`` trains ``estimator`` epoch by epoch:
    the estimator itself, or the final step of a pipeline; None if neither
    has one."""
    if hasattr(estimator, "partial_fit"):
        return estimator
    if isinstance(estimator, Pipeline):
        final = estimator.steps[-1][1]
        if final is not None and final != "passthrough":
            if hasattr(final, "partial_fit"):
                return final
    return None


@contextmanager
def _optuna_verbosity(verbose):
    """Optuna logs every trial at INFO; show that only when verbose >= 2,
    and leave the user's own setting as it was afterwards."""
    previous = optuna.logging.get_verbosity()
    if verbose >= 2:
        level = min(previous, optuna.logging.INFO)
    else:
        level = max(previous, optuna.logging.WARNING)
    optuna.logging.set_verbosity(level)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


class _Fold:
    """One fold of one trial, trained epoch by epoch with ``partial_fit``.

    A pipeline's steps before the last are fitted once, here; each epoch then
    passes the transformed training rows, in a fresh random order, through
    the final step's ``partial_fit``.
    """

    def __init__(self, estimator, X, y, train, test, fit_params, score_params, rng):
        self.estimator = estimator
        self.learner = _partial_fit_target(estimator)
        X_train = _safe_indexing(X, train)
        self.y_train = None if y is None else _safe_indexing(y, train)
        self.fit_params = _check_method_params(X, fit_params, train)
        if self.learner is not estimator:
            prefix = estimator[:-1]
            X_train = prefix.fit_transform(X_train, self.y_train)
            # Pipeline(memory=...) fits clones of its steps: keep those.
            estimator.steps = list(prefix.steps) + [estimator.steps[-1]]
        self.X_train = X_train
        self.n_train = len(train)
        if test is not None:
            self.X_test = _safe_indexing(X, test)
            self.y_test = None if y is None else _safe_indexing(y, test)
            self.score_params = _check_method_params(X, score_params, test)
        self.rng = rng

    def step(self):
        """One epoch: every training row once, in a new random order."""
        order = self.rng.permutation(self.n_train)
        y = None if self.y_train is None else _safe_indexing(self.y_train, order)
        params = _check_method_params(self.X_train, self.fit_params, order)
        self.learner.partial_fit(_safe_indexing(self.X_train, order), y, **params)

    def score(self, scorer):
        return float(
            scorer(self.estimator, self.X_test, self.y_test, **self.score_params)
        )


def _fit_and_score(estimator, X, y, train, test, scorer, fit_params, score_params):
    """Fit on the ``train`` rows, score on the ``test`` rows."""
    y_train = None if y is None else _safe_indexing(y, train)
    y_test = None if y is None else _safe_indexing(y, test)
    estimator.fit(
        _safe_indexing(X, train), y_train, **_check_method_params(X, fit_params, train)
    )
    return float(
        scorer(
            estimator,
            _safe_indexing(X, test),
            y_test,
            **_check_method_params(X, score_params, test),
        )
    )


class OptunaSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Search the parameters of an estimator with Optuna, by cross-validation.

    Each trial of an Optuna study draws parameters from
    ``param_distributions``, sets them on a clone of ``estimator``, and is
    scored by the mean of its cross-validated scores; the study's sampler
    uses the scores of the past trials to choose the next parameters. The
    best parameters are then refitted on all the data (``best_estimator_``),
    and the search predicts, transforms, retrieves and scores through it, as
    :class:`~sklearn.model_selection.GridSearchCV` does.

    Music videos are cut into many segments, and the segments of one clip
    resemble each other: pass the clip of each row as ``groups`` to
    :meth:`fit`, so that no clip is split across training and test rows.

    With ``epochs``, estimators that have ``partial_fit`` (skmv's
    :class:`~skmv.rbm.GaussianBernoulliRBM` and
    :class:`~skmv.rbm.BernoulliRBM`, or a pipeline ending in one) are trained
    one epoch at a time; after each epoch (or each ``report_every``) the mean
    score over the folds is reported to the trial, and the ``pruner`` may
    stop a trial that falls behind the others (its state is then
    ``PRUNED``).

    Parameters
    ----------
    estimator : estimator object
        The estimator or pipeline to tune; cloned for each fold of each
        trial.
    param_distributions : dict or callable
        The search space. A dict maps parameter names, in the nested
        ``step__param`` form of ``estimator.get_params()`` (for instance
        ``model__n_components`` of a
        :class:`~skmv.retrieval.CrossModalRetriever`, or
        ``model__video__learning_rate`` of its model's video encoder), to
        Optuna distributions: :class:`~optuna.distributions.FloatDistribution`,
        :class:`~optuna.distributions.IntDistribution` or
        :class:`~optuna.distributions.CategoricalDistribution` (whose choices
        are None, bool, int, float or str). A callable ``space(trial)``
        returns the dict of parameter values itself, drawing them with
        ``trial.suggest_*``: for conditional spaces, or values that a
        distribution cannot hold (tuples, estimators).
    n_trials : int or None, default=20
        Trials to run in this call to :meth:`fit`; None runs until
        ``timeout``.
    timeout : float or None, default=None
        Seconds after which no new trial starts (the running one finishes).
    cv : int, cross-validation generator, iterable or None, default=None
        The splits. None means 5 folds. With ``groups``, an int or None gives
        :class:`~sklearn.model_selection.GroupKFold` (for a classifier with
        binary or multiclass ``y``,
        :class:`~sklearn.model_selection.StratifiedGroupKFold`, which keeps
        the class proportions too); without ``groups``, scikit-learn's
        default (:class:`~sklearn.model_selection.StratifiedKFold` for
        classifiers, :class:`~sklearn.model_selection.KFold` otherwise). The
        splits are made once and used by every trial.
    scoring : str, callable or None, default=None
        What is maximised. None uses the estimator's ``score`` (the
        precision at ``n_neighbors`` for skmv's retrievers); a string names a
        scikit-learn scorer (``"average_precision"``, ``"accuracy"``...); a
        callable ``scorer(estimator, X, y)`` returns a float, higher being
        better (:func:`neg_reconstruction_error` for RBMs).
    epochs : int or None, default=None
        None fits each fold with ``fit``, and no trial is pruned. An int
        trains each fold with ``epochs`` calls to ``partial_fit``, each over
        all of its training rows in a new random order, and allows pruning;
        the refit trains as many epochs. The estimator, or the final step of
        a pipeline, must have ``partial_fit``; its own epoch count
        (``n_iter``) is then not used.
    report_every : int, default=1
        With ``epochs``: report the mean validation score to the trial, and
        ask the pruner, every ``report_every`` epochs (and after the last).
    pruner : optuna.pruners.BasePruner or None, default=None
        Decides which trials to stop, with ``epochs``. None is Optuna's
        default, :class:`~optuna.pruners.MedianPruner`; pass
        :class:`~optuna.pruners.NopPruner` to prune nothing. Copied at each
        :meth:`fit`.
    sampler : optuna.samplers.BaseSampler or None, default=None
        Chooses the parameters of each trial. None is a
        :class:`~optuna.samplers.TPESampler` seeded from ``random_state``.
        Copied at each :meth:`fit`, so that two fits draw alike.
    study : optuna.study.Study or None, default=None
        A study to continue (one that maximises), for instance one stored in
        a database so that a long search can be resumed: its sampler and
        pruner are used (``sampler`` and ``pruner`` must then be None), the
        new trials are added to it, and the best trial is the best of all of
        its trials. None creates a new study in memory. Like every
        parameter, it is copied by :func:`~sklearn.base.clone` (as in
        ``cross_val_score``): a copy of a study stored in a database still
        adds its trials to that database.
    refit : bool, default=True
        Refit the best parameters on all the data as ``best_estimator_``,
        which the prediction methods use.
    error_score : "raise" or float, default=np.nan
        What a trial whose fit or scoring raises is worth. ``"raise"``
        raises the error; NaN marks the trial ``FAIL`` and goes on (with a
        :class:`~sklearn.exceptions.FitFailedWarning`); a number is the
        trial's score. Errors in the search space itself always raise.
    n_jobs : int or None, default=None
        Folds of one trial fitted in parallel through joblib; trials run one
        after the other, each learning from the previous ones. With
        ``epochs`` the folds run in threads of this process.
    random_state : int, RandomState instance or None, default=None
        Seeds the default sampler and the order of the rows in each epoch.
        Seed the estimator's own ``random_state`` too for scores that repeat
        exactly.
    verbose : int, default=0
        0 is silent; 1 prints one line per trial; 2 also shows Optuna's own
        log of every trial.

    Attributes
    ----------
    best_estimator_ : estimator
        The estimator with the best parameters, fitted on all the data
        (with ``refit=True``).
    best_params_ : dict
        The best trial's parameters, as set on the estimator.
    best_score_ : float
        The best trial's mean cross-validated score.
    best_trial_ : optuna.trial.FrozenTrial
        The best trial; its ``user_attrs["split_scores"]`` holds the score of
        each fold.
    study_ : optuna.study.Study
        The study. Each trial's ``intermediate_values`` hold the scores
        reported epoch by epoch; ``study_.trials_dataframe()`` (which needs
        pandas) tabulates every trial, with the per-fold scores under
        ``user_attrs_split_scores``.
    cv_results_ : dict of ndarrays
        Every trial of the study in the layout of
        :class:`~sklearn.model_selection.GridSearchCV`'s ``cv_results_``:
        ``number``, ``state`` (``"COMPLETE"``, ``"PRUNED"``, ``"FAIL"``),
        ``duration`` (seconds), ``param_<name>`` (masked where a trial has
        no such parameter; for a callable space, the names given to
        ``trial.suggest_*``), ``params``, ``split<k>_test_score``,
        ``mean_test_score``, ``std_test_score`` and ``rank_test_score``
        (NaN scores, and the last rank, for trials that did not complete).
    n_trials_ : int
        Trials run by :meth:`fit` (fewer than ``n_trials`` after
        ``timeout``).
    n_splits_ : int
        Number of cross-validation splits.
    scorer_ : callable
        The scorer, ``scorer_(estimator, X, y)``.
    refit_time_ : float
        Seconds spent refitting the best estimator.
    n_features_in_ : int
        Number of features seen by ``best_estimator_`` during fit.
    classes_ : ndarray
        The class labels of ``best_estimator_``, for classifiers.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : Exhaustive search over a grid.
    neg_reconstruction_error : A scorer for RBMs and deep belief networks.

    Notes
    -----
    Trials run one after the other: each uses what the sampler learned from
    the trials before it. The search, like the study, is reproducible with
    ``random_state`` when the estimator is seeded too.

    With scikit-learn's metadata routing enabled
    (``sklearn.set_config(enable_metadata_routing=True)``), ``groups`` and
    the other keyword arguments of :meth:`fit` go to whichever of the
    splitter, the estimator's ``fit`` (its ``partial_fit`` with ``epochs``)
    and the scorer request them; a :class:`~sklearn.model_selection.GroupKFold`
    requests ``groups`` by default. Without routing, ``groups`` goes to the
    splitter alone and the other keyword arguments to the estimator's
    ``fit`` (or ``partial_fit``), sliced to each fold's training rows.

    Examples
    --------
    >>> from optuna.distributions import FloatDistribution, IntDistribution
    >>> from sklearn.model_selection import GroupKFold
    >>> from skmv.baselines import CCARetriever
    >>> from skmv.datasets import make_music_video_features
    >>> from skmv.tuning import OptunaSearchCV
    >>> data = make_music_video_features(
    ...     30, n_segments=10, n_features=(30, 20), random_state=0)
    >>> video, audio = (columns for _, columns in data.modalities)
    >>> retriever = CCARetriever("audio", "video", modalities=[
    ...     ("video", "passthrough", video), ("audio", "passthrough", audio)])
    >>> search = OptunaSearchCV(
    ...     retriever,
    ...     {"n_components": IntDistribution(2, 20),
    ...      "reg": FloatDistribution(1e-4, 1.0, log=True)},
    ...     n_trials=10, cv=GroupKFold(3), random_state=0)
    >>> search = search.fit(data.X, groups=data.groups)  # clips stay whole
    >>> sorted(search.best_params_)
    ['n_components', 'reg']
    >>> search.best_score_ > 0.5  # precision at 10 among 100 rows; chance 0.1
    True
    >>> len(search.study_.trials)
    10
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "param_distributions": [dict, callable],
        "n_trials": [Interval(Integral, 1, None, closed="left"), None],
        "timeout": [Interval(Real, 0, None, closed="neither"), None],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "epochs": [Interval(Integral, 1, None, closed="left"), None],
        "report_every": [Interval(Integral, 1, None, closed="left")],
        "pruner": [BasePruner, None],
        "sampler": [BaseSampler, None],
        "study": [optuna.study.Study, None],
        "refit": ["boolean"],
        "error_score": [StrOptions({"raise"}), Real],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_trials=20,
        timeout=None,
        cv=None,
        scoring=None,
        epochs=None,
        report_every=1,
        pruner=None,
        sampler=None,
        study=None,
        refit=True,
        error_score=np.nan,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.n_trials = n_trials
        self.timeout = timeout
        self.cv = cv
        self.scoring = scoring
        self.epochs = epochs
        self.report_every = report_every
        self.pruner = pruner
        self.sampler = sampler
        self.study = study
        self.refit = refit
        self.error_score = error_score
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------
    # Checks and set-up
    # ------------------------------------------------------------------

    def _check_space(self):
        """Refuse unknown parameter names and values that are not Optuna
        distributions, naming them, before any trial runs."""
        space = self.param_distributions
        if callable(space):
            return space
        if not space:
            raise ValueError(
                "param_distributions is empty: give at least one parameter to search."
            )
        valid = self.estimator.get_params(deep=True)
        for name, distribution in space.items():
            if name not in valid:
                close = difflib.get_close_matches(str(name), list(valid), n=3)
                hint = (
                    f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
                )
                raise ValueError(
                    f"Invalid parameter {name!r} in param_distributions: "
                    f"{type(self.estimator).__name__} has no such parameter.{hint} "
                    "estimator.get_params().keys() lists the valid names."
                )
            if not isinstance(distribution, BaseDistribution):
                raise ValueError(
                    f"param_distributions[{name!r}] must be an Optuna "
                    "distribution (FloatDistribution, IntDistribution or "
                    f"CategoricalDistribution), got {distribution!r}."
                )
        return space

    def _check_study(self):
        if self.study is None:
            return
        if self.sampler is not None or self.pruner is not None:
            raise ValueError(
                "With study, leave sampler and pruner as None: the study's own "
                "are used."
            )
        if list(self.study.directions) != [StudyDirection.MAXIMIZE]:
            raise ValueError(
                "study must have one objective, maximised (create it with "
                "direction='maximize'): the search maximises its score."
            )

    def _seed(self):
        """One int from ``random_state``, for the sampler and the epochs."""
        if self.random_state is None:
            return None
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _make_study(self, seed):
        if self.study is not None:
            return self.study
        # Copies: a sampler draws from its own generator, which fitting the
        # same search twice must not leave advanced.
        sampler = (
            TPESampler(seed=seed)
            if self.sampler is None
            else copy.deepcopy(self.sampler)
        )
        pruner = MedianPruner() if self.pruner is None else copy.deepcopy(self.pruner)
        return optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)

    def _cv_for(self, y, groups):
        """The splitter: by group when there are groups and cv is a count."""
        if self.cv is None or isinstance(self.cv, Integral):
            n_splits = _DEFAULT_N_SPLITS if self.cv is None else self.cv
            if groups is not None:
                if (
                    is_classifier(self.estimator)
                    and y is not None
                    and type_of_target(y) in ("binary", "multiclass")
                ):
                    return StratifiedGroupKFold(n_splits)
                return GroupKFold(n_splits)
            return check_cv(n_splits, y, classifier=is_classifier(self.estimator))
        return check_cv(self.cv, y, classifier=is_classifier(self.estimator))

    def _routing_cv(self):
        # For the routing map, before groups are known: a count becomes a
        # group splitter when groups come, and GroupKFold asks for them.
        if self.cv is None or isinstance(self.cv, Integral):
            return GroupKFold(_DEFAULT_N_SPLITS if self.cv is None else self.cv)
        return check_cv(self.cv)

    def _routing_estimator(self):
        """What the estimator's metadata goes to: the estimator itself, or,
        when a pipeline is trained epoch by epoch, its final step."""
        if self.epochs is not None:
            target = _partial_fit_target(self.estimator)
            if target is not None:
                return target, "partial_fit"
        return self.estimator, "fit"

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``fit``'s keyword arguments go to the splitter's ``split``, the
        estimator's ``fit`` (or, with ``epochs``, the ``partial_fit`` of the
        estimator or of a pipeline's final step) and the scorer, as each
        requests them; ``score``'s to the scorer.

        Returns
        -------
        routing : MetadataRouter
            The routing information.
        """
        estimator, method = self._routing_estimator()
        router = MetadataRouter(owner=self)
        router.add(
            estimator=estimator,
            method_mapping=MethodMapping().add(caller="fit", callee=method),
        )
        router.add(
            scorer=check_scoring(self.estimator, self.scoring),
            method_mapping=MethodMapping()
            .add(caller="fit", callee="score")
            .add(caller="score", callee="score"),
        )
        router.add(
            splitter=self._routing_cv(),
            method_mapping=MethodMapping().add(caller="fit", callee="split"),
        )
        return router

    # ------------------------------------------------------------------
    # Trials
    # ------------------------------------------------------------------

    def _configure(self, trial, space):
        """A clone of the estimator with the trial's parameters set."""
        if callable(space):
            params = space(trial)
            if not isinstance(params, dict):
                raise TypeError(
                    "param_distributions(trial) must return a dict of parameter "
                    f"values, got {type(params).__name__}."
                )
        else:
            params = {name: trial.params[name] for name in space}
        estimator = clone(self.estimator)
        try:
            estimator.set_params(**params)
        except ValueError as exc:
            raise ValueError(
                f"Cannot set the parameters {sorted(params)} drawn from "
                f"param_distributions on {type(self.estimator).__name__}: {exc}"
            ) from exc
        if self.epochs is not None and _partial_fit_target(estimator) is None:
            raise ValueError(
                f"epochs={self.epochs} trains epoch by epoch with partial_fit, "
                f"which {type(estimator).__name__} does not have (nor, for a "
                "pipeline, its final step); use epochs=None to train with fit."
            )
        return estimator, params

    def _cross_validate(self, estimator, X, y, splits, data, trial, seed):
        """Mean and per-fold scores of one configured estimator."""
        scorer, fit_params, score_params = data
        if self.epochs is None:
            scores = Parallel(n_jobs=self.n_jobs)(
                delayed(_fit_and_score)(
                    clone(estimator),
                    X,
                    y,
                    train,
                    test,
                    scorer,
                    fit_params,
                    score_params,
                )
                for train, test in splits
            )
            return float(np.mean(scores)), scores
        folds = [
            _Fold(
                clone(estimator),
                X,
                y,
                train,
                test,
                fit_params,
                score_params,
                self._rng(seed, trial.number, i),
            )
            for i, (train, test) in enumerate(splits)
        ]
        # The folds' models live across epochs: threads share them without
        # copies (their NumPy work releases the GIL).
        parallel = Parallel(n_jobs=self.n_jobs, require="sharedmem")
        for epoch in range(1, self.epochs + 1):
            parallel(delayed(fold.step)() for fold in folds)
            if epoch % self.report_every and epoch != self.epochs:
                continue
            scores = [fold.score(scorer) for fold in folds]
            trial.report(float(np.mean(scores)), epoch)
            if epoch < self.epochs and trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch}")
        return float(np.mean(scores)), scores

    @staticmethod
    def _rng(seed, number, fold):
        """Generator of the epochs' row orders of one fold of one trial."""
        return np.random.default_rng(None if seed is None else [seed, number, fold])

    def _log(self, message):
        if self.verbose:
            print(f"[{type(self).__name__}] {message}", flush=True)

    def _run_trial(self, study, space, X, y, splits, data, seed):
        """Ask for a trial, evaluate it and tell the study the outcome."""
        trial = study.ask(None if callable(space) else space)
        begin = time.perf_counter()
        try:
            estimator, params = self._configure(trial, space)
        except Exception:
            # A broken search space is the caller's error, not a bad trial.
            study.tell(trial, state=TrialState.FAIL)
            raise
        try:
            value, scores = self._cross_validate(
                estimator, X, y, splits, data, trial, seed
            )
        except optuna.TrialPruned as exc:
            study.tell(trial, state=TrialState.PRUNED)
            self._log(f"trial {trial.number}: {exc}, {params}")
            return
        except Exception as exc:
            if self.error_score == "raise":
                study.tell(trial, state=TrialState.FAIL)
                raise
            warnings.warn(
                f"Trial {trial.number} with {params} failed and scores "
                f"error_score={self.error_score}: {type(exc).__name__}: {exc}",
                FitFailedWarning,
                stacklevel=4,
            )
            if math.isnan(self.error_score):
                study.tell(trial, state=TrialState.FAIL)
                return
            value = float(self.error_score)
            scores = [value] * len(splits)
        except BaseException:
            # Interrupted (Ctrl-C): leave no trial RUNNING in a stored study.
            study.tell(trial, state=TrialState.FAIL)
            raise
        if math.isnan(value):
            # Optuna cannot rank NaN: the trial failed (e.g. a scorer without
            # positives in a fold).
            trial.set_user_attr("split_scores", [float(s) for s in scores])
            study.tell(trial, state=TrialState.FAIL)
            self._log(f"trial {trial.number}: score NaN, {params}")
            return
        trial.set_user_attr("split_scores", [float(s) for s in scores])
        study.tell(trial, value)
        if self.verbose:
            best = study.best_trial
            self._log(
                f"trial {trial.number}: score {value:.4f} (best {best.value:.4f} "
                f"at trial {best.number}), {time.perf_counter() - begin:.2f}s, "
                f"{params}"
            )

    def _params_of(self, trial, space):
        """The estimator parameters of a finished trial."""
        if callable(space):
            # The space function maps the trial's suggestions to estimator
            # parameters; replaying it on the recorded values recovers them.
            return space(FixedTrial(trial.params, trial.number))
        return dict(trial.params)

    # ------------------------------------------------------------------
    # Fit
    # ------------------------------------------------------------------

    @_fit_context(
        # The estimator is validated by its own fit, once per fold.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None, *, groups=None, **fit_params):
        """Run the trials, then refit the best parameters on all the data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or None, default=None
            Targets; None for unsupervised estimators and retrievers.
        groups : array-like of shape (n_samples,) or None, default=None
            The clip (music video) of each row: rows of one clip are never
            split across a fold's training and test rows.
        **fit_params : dict
            Passed to the estimator's ``fit`` (``partial_fit`` with
            ``epochs``), sliced to each fold's rows; with metadata routing,
            to whichever of the estimator, the scorer and the splitter
            request them.

        Returns
        -------
        self : OptunaSearchCV
            The fitted search.
        """
        if self.n_trials is None and self.timeout is None:
            raise ValueError(
                "n_trials and timeout are both None: the search would never "
                "stop. Give n_trials, timeout or both."
            )
        space = self._check_space()
        self._check_study()
        X, y, groups = indexable(X, y, groups)
        scorer = check_scoring(self.estimator, self.scoring)
        if _routing_enabled():
            params = dict(fit_params)
            if groups is not None:
                params["groups"] = groups
            routed = process_routing(self, "fit", **params)
            split_params = routed.splitter.split
            estimator_params = routed.estimator[self._routing_estimator()[1]]
            score_params = routed.scorer.score
        else:
            split_params = {"groups": groups}
            estimator_params, score_params = fit_params, {}
        cv = self._cv_for(y, groups)
        splits = list(cv.split(X, y, **split_params))
        seed = self._seed()
        data = (scorer, estimator_params, score_params)

        begin = time.monotonic()
        n_run = 0
        with _optuna_verbosity(self.verbose):
            study = self._make_study(seed)
            while self.n_trials is None or n_run < self.n_trials:
                if self.timeout is not None and time.monotonic() - begin > self.timeout:
                    break
                self._run_trial(study, space, X, y, splits, data, seed)
                n_run += 1

        self.study_ = study
        self.n_trials_ = n_run
        self.cv_results_ = _cv_results(study, len(splits))
        self.n_splits_ = len(splits)
        self.scorer_ = scorer
        if not any(t.state == TrialState.COMPLETE for t in study.trials):
            raise ValueError(
                f"None of the {n_run} trials completed (states: "
                f"{sorted({t.state.name for t in study.trials})}); see the warnings "
                "of the failed trials, or pass error_score='raise' to see the error."
            )
        self.best_trial_ = study.best_trial
        self.best_score_ = float(self.best_trial_.value)
        self.best_params_ = self._params_of(self.best_trial_, space)

        if self.refit:
            estimator = clone(self.estimator).set_params(**self.best_params_)
            refit_begin = time.perf_counter()
            if self.epochs is None:
                estimator.fit(X, y, **estimator_params)
            else:
                fold = _Fold(
                    estimator,
                    X,
                    y,
                    np.arange(len(X)),
                    None,
                    estimator_params,
                    {},
                    # A generator apart from those of the trials' folds.
                    self._rng(seed, self.best_trial_.number, len(splits)),
                )
                for _ in range(self.epochs):
                    fold.step()
            self.refit_time_ = time.perf_counter() - refit_begin
            self.best_estimator_ = estimator
        return self

    # ------------------------------------------------------------------
    # Delegation to the best estimator
    # ------------------------------------------------------------------

    def _check_refitted(self, method):
        check_is_fitted(self, "study_")
        if not self.refit:
            raise AttributeError(
                f"{method} needs the refitted best estimator; this search has "
                "refit=False."
            )

    def score(self, X, y=None, **params):
        """Score of the best estimator on ``X``, with the search's scorer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.
        y : array-like of shape (n_samples,) or None, default=None
            Targets, if the scorer uses them.
        **params : dict
            Passed to the scorer (with metadata routing, as it requests).

        Returns
        -------
        score : float
            ``scorer_(best_estimator_, X, y)``.
        """
        self._check_refitted("score")
        if _routing_enabled():
            params = process_routing(self, "score", **params).scorer.score
        return float(self.scorer_(self.best_estimator_, X, y, **params))

    @available_if(_search_estimator_has("predict"))
    def predict(self, X):
        """Predict with the best estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        self._check_refitted("predict")
        return self.best_estimator_.predict(X)

    @available_if(_search_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the best estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        self._check_refitted("predict_proba")
        return self.best_estimator_.predict_proba(X)

    @available_if(_search_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities from the best estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        self._check_refitted("predict_log_proba")
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_search_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the best estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        self._check_refitted("decision_function")
        return self.best_estimator_.decision_function(X)

    @available_if(_search_estimator_has("transform"))
    def transform(self, X, **params):
        """Transform with the best estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        **params : dict
            Passed on (for instance ``given=[...]`` of a
            :class:`~skmv.shared.SharedRBM`).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
        """
        self._check_refitted("transform")
        return self.best_estimator_.transform(X, **params)

    @available_if(_search_estimator_has("inverse_transform"))
    def inverse_transform(self, X):
        """Inverse transform with the best estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        self._check_refitted("inverse_transform")
        return self.best_estimator_.inverse_transform(X)

    @available_if(_search_estimator_has("score_samples"))
    def score_samples(self, X):
        """Per-sample scores of the best estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        self._check_refitted("score_samples")
        return self.best_estimator_.score_samples(X)

    @available_if(_search_estimator_has("kneighbors"))
    def kneighbors(self, X, n_neighbors=None, return_distance=True):
        """Database items nearest to each query, from the best retriever.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Queries; see the retriever's ``kneighbors``.
        n_neighbors : int, default=None
            Items per query; None uses the retriever's ``n_neighbors``.
        return_distance : bool, default=True
            Return the distances too.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            Only with ``return_distance=True``.
        indices : ndarray of shape (n_queries, n_neighbors)
            Database rows, nearest first.
        """
        self._check_refitted("kneighbors")
        return self.best_estimator_.kneighbors(
            X, n_neighbors=n_neighbors, return_distance=return_distance
        )

    @available_if(_search_estimator_has("retrieval_ranks"))
    def retrieval_ranks(self, X):
        """Rank of each row's own target among ``X``, from the best retriever.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Paired rows.

        Returns
        -------
        ranks : ndarray of shape (n_samples,)
            0-based ranks.
        """
        self._check_refitted("retrieval_ranks")
        return self.best_estimator_.retrieval_ranks(X)

    @property
    def classes_(self):
        """Class labels of the best estimator."""
        self._check_refitted("classes_")
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self):
        """Number of features seen by the best estimator during fit."""
        try:
            check_is_fitted(self, "best_estimator_")
        except Exception as exc:
            raise AttributeError(
                f"{type(self).__name__} has no n_features_in_ before fit with "
                "refit=True."
            ) from exc
        return self.best_estimator_.n_features_in_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = copy.deepcopy(sub.classifier_tags)
        tags.regressor_tags = copy.deepcopy(sub.regressor_tags)
        tags.input_tags.pairwise = sub.input_tags.pairwise
        tags.input_tags.sparse = sub.input_tags.sparse
        return tags
