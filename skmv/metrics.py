"""Cross-modal retrieval metrics and their display.

Xu, Wang and Tang (2014), section 4 and Figure 3. Each query (a music
segment) ranks a database (video segments) by distance or score; the query
succeeds at ``N`` when its true match is among the top ``N`` items, and the
precision at ``N`` is the fraction of queries that succeed::

    precision@N = (1 / Q) * sum_q [rank_q < N]

with ``rank_q`` the 0-based rank of query ``q``'s true match. Random
retrieval from a database of ``D`` items succeeds with probability
``min(N, D) / D``, the chance level of Figure 3.

:func:`retrieval_ranks` turns a distance or score matrix into ranks,
:func:`precision_at_n` and :func:`precision_at_n_curve` turn ranks into
precisions, and :class:`PrecisionAtNDisplay` draws the curves.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import _num_samples

from . import _backend as B

__all__ = [
    "PrecisionAtNDisplay",
    "precision_at_n",
    "precision_at_n_curve",
    "retrieval_ranks",
]

_TIES = ("pessimistic", "average", "optimistic")


def retrieval_ranks(
    distances=None, *, scores=None, true_index=None, ties="pessimistic"
):
    """0-based rank of each query's true match in the database.

    Parameters
    ----------
    distances : array-like of shape (n_queries, n_database), default=None
        ``distances[q, j]`` is how far database item ``j`` is from query
        ``q``; lower is better. Give exactly one of ``distances`` and
        ``scores``.
    scores : array-like of shape (n_queries, n_database), default=None
        Similarities; higher is better. ``scores=s`` ranks as
        ``distances=-s``.
    true_index : array-like of int of shape (n_queries,), default=None
        Database row of each query's true match. By default query ``q``
        matches database row ``q`` (which needs ``n_queries <= n_database``).
    ties : {"pessimistic", "average", "optimistic"}, default="pessimistic"
        Where the true match sits among database items exactly as good as it:
        after all of them (``"pessimistic"``), in the middle (``"average"``,
        ranks may then be half-integers) or before all of them
        (``"optimistic"``). The pessimistic default never counts a tie as a
        success, so a constant distance matrix scores no better than chance.

    Returns
    -------
    ranks : ndarray of shape (n_queries,)
        ``ranks[q] = #{j : d[q, j] < d[q, t_q]} + (tie term)`` with
        ``t_q = true_index[q]``; the tie term is ``#{j != t_q : d[q, j] ==
        d[q, t_q]}`` times 1, 1/2 or 0 according to ``ties``. Integers
        (``np.intp``) unless ``ties="average"`` (float64). Always NumPy, also
        for CuPy input.

    Raises
    ------
    ValueError
        If the matrix is not 2-D, contains NaN (the rows are named), or
        ``true_index`` does not fit it.

    See Also
    --------
    precision_at_n : Fraction of queries whose rank is below ``n``.
    PrecisionAtNDisplay : Precision at N curves.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.metrics import retrieval_ranks
    >>> d = np.array([[0.1, 0.5, 0.9],
    ...               [0.0, 0.3, 0.9],
    ...               [0.4, 0.4, 0.4]])
    >>> retrieval_ranks(d)
    array([0, 1, 2])
    >>> retrieval_ranks(d, ties="optimistic")
    array([0, 1, 0])
    >>> retrieval_ranks(scores=-d)
    array([0, 1, 2])
    >>> retrieval_ranks(d, true_index=[2, 0, 0])
    array([2, 0, 2])
    >>> retrieval_ranks(d, ties="average")
    array([0., 1., 1.])
    """
    if (distances is None) == (scores is None):
        raise ValueError("Pass exactly one of `distances` and `scores`.")
    if ties not in _TIES:
        raise ValueError(f"`ties` must be one of {_TIES}, got {ties!r}.")
    what = "distances" if scores is None else "scores"
    D = np.asarray(B.to_numpy(distances if scores is None else scores))
    if D.ndim != 2 or D.shape[0] < 1 or D.shape[1] < 1:
        raise ValueError(
            f"`{what}` must be a non-empty 2-D array of shape "
            f"(n_queries, n_database), got shape {D.shape}."
        )
    if not (np.issubdtype(D.dtype, np.floating) or np.issubdtype(D.dtype, np.integer)):
        D = D.astype(np.float64)
    nan_rows = np.flatnonzero(np.isnan(D).any(axis=1)) if D.dtype.kind == "f" else []
    if len(nan_rows):
        raise ValueError(
            f"`{what}` contains NaN in row(s) {nan_rows[:10].tolist()}"
            f"{' ...' if len(nan_rows) > 10 else ''} of {D.shape[0]}."
        )
    n_queries, n_database = D.shape
    if true_index is None:
        if n_queries > n_database:
            raise ValueError(
                f"Without `true_index` query q matches database row q, which "
                f"needs n_queries <= n_database; got {n_queries} queries and "
                f"{n_database} database items."
            )
        true_index = np.arange(n_queries)
    else:
        true_index = np.asarray(B.to_numpy(true_index))
        if true_index.shape != (n_queries,):
            raise ValueError(
                f"`true_index` must have shape ({n_queries},), one entry per "
                f"query, got {true_index.shape}."
            )
        if not np.issubdtype(true_index.dtype, np.integer):
            raise ValueError(
                f"`true_index` must hold integers, got dtype {true_index.dtype}."
            )
        if true_index.min() < 0 or true_index.max() >= n_database:
            raise ValueError(
                f"`true_index` must lie in [0, {n_database}), got values in "
                f"[{true_index.min()}, {true_index.max()}]."
            )
    d_true = D[np.arange(n_queries), true_index][:, None]
    # Compare rather than negate scores: no copy, no unsigned wrap-around.
    is_better = np.less if scores is None else np.greater
    better = is_better(D, d_true).sum(axis=1)
    if ties == "optimistic":
        return better.astype(np.intp)
    tied = (D == d_true).sum(axis=1) - 1  # the true match ties with itself
    if ties == "average":
        return better + 0.5 * tied
    return (better + tied).astype(np.intp)


def _check_ranks(ranks):
    ranks = np.asarray(B.to_numpy(ranks))
    if ranks.ndim != 1 or ranks.size == 0:
        raise ValueError(
            f"`ranks` must be a non-empty 1-D array, got shape {ranks.shape}."
        )
    if not np.issubdtype(ranks.dtype, np.number) or np.issubdtype(
        ranks.dtype, np.complexfloating
    ):
        raise ValueError(f"`ranks` must be real numbers, got dtype {ranks.dtype}.")
    if not np.all(np.isfinite(ranks)) or ranks.min() < 0:
        raise ValueError("`ranks` must be finite and non-negative (0 is the top).")
    return ranks


def _check_n(n, name="n"):
    n_arr = np.asarray(n)
    if n_arr.dtype == bool or not np.issubdtype(n_arr.dtype, np.integer):
        raise ValueError(f"`{name}` must be an int or an array of ints, got {n!r}.")
    if n_arr.size and n_arr.min() < 1:
        raise ValueError(f"`{name}` must be >= 1, got {n!r}.")
    return n_arr


def precision_at_n(ranks, n=10):
    """Fraction of queries whose true match is in the top ``n``.

    ``precision@N = (1 / Q) * sum_q [ranks[q] < N]`` (section 4 of the
    paper: "successful as long as the top N retrieved examples contain the
    true match").

    Parameters
    ----------
    ranks : array-like of shape (n_queries,)
        0-based ranks, as from :func:`retrieval_ranks`.
    n : int >= 1 or array-like of int >= 1, default=10
        Number of retrieved items; an array gives the curve.

    Returns
    -------
    precision : float or ndarray of float64
        A float for a scalar ``n``, else an array of ``n``'s shape.

    See Also
    --------
    precision_at_n_curve : Precision at every N from 1.
    retrieval_ranks : Ranks from a distance or score matrix.

    Examples
    --------
    >>> from skmv.metrics import precision_at_n
    >>> ranks = [0, 3, 1, 0, 9]
    >>> precision_at_n(ranks, n=1)
    0.4
    >>> precision_at_n(ranks, n=[1, 2, 5, 10])
    array([0.4, 0.6, 0.8, 1. ])
    """
    ranks = _check_ranks(ranks)
    n_arr = _check_n(n)
    # #{q : ranks[q] < N} for every N at once, by bisection of the sorted ranks.
    hits = np.searchsorted(np.sort(ranks), n_arr, side="left")
    precision = hits / ranks.size
    return float(precision) if precision.ndim == 0 else precision


def precision_at_n_curve(ranks, *, max_n=None):
    """Precision at every N from 1 to ``max_n``.

    Parameters
    ----------
    ranks : array-like of shape (n_queries,)
        0-based ranks, as from :func:`retrieval_ranks`.
    max_n : int >= 1, default=None
        Last N. By default the first N at which every query succeeds,
        ``floor(max(ranks)) + 1``.

    Returns
    -------
    n : ndarray of int of shape (max_n,)
        ``1, 2, ..., max_n``.
    precision : ndarray of float64 of shape (max_n,)
        ``precision[i] = precision_at_n(ranks, n[i])``; non-decreasing.

    Examples
    --------
    >>> from skmv.metrics import precision_at_n_curve
    >>> n, precision = precision_at_n_curve([0, 3, 1, 0])
    >>> n
    array([1, 2, 3, 4])
    >>> precision
    array([0.5 , 0.75, 0.75, 1.  ])
    """
    ranks = _check_ranks(ranks)
    if max_n is None:
        max_n = int(np.floor(ranks.max())) + 1
    if not isinstance(max_n, Integral) or isinstance(max_n, bool) or max_n < 1:
        raise ValueError(f"`max_n` must be an int >= 1, got {max_n!r}.")
    n = np.arange(1, max_n + 1)
    return n, precision_at_n(ranks, n)


def _chance_precision(n, n_database):
    """Precision at N of random retrieval from ``n_database`` items."""
    return np.minimum(n, n_database) / n_database


class PrecisionAtNDisplay:
    """Precision at N curve of a cross-modal retrieval (Figure 3 of the paper).

    Build it with :meth:`from_estimator` or :meth:`from_ranks`; the
    constructor only stores computed values. All parameters are stored as
    attributes.

    Parameters
    ----------
    n : ndarray of int of shape (n_points,)
        Numbers of retrieved items, increasing.
    precision : ndarray of shape (n_points,)
        Precision at each ``n``.
    estimator_name : str, default=None
        Name of the retriever, the curve's label. None: no label.
    chance : ndarray of shape (n_points,), default=None
        Precision of random retrieval at each ``n``, ``min(n, D) / D`` for a
        database of ``D`` items. None: not known, not drawn.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The precision curve.
    chance_line_ : matplotlib Line2D or None
        The chance-level curve, if drawn.
    ax_ : matplotlib Axes
        Axes the curves are on.
    figure_ : matplotlib Figure
        Figure of ``ax_``.

    See Also
    --------
    precision_at_n : The metric.
    retrieval_ranks : Ranks from a distance or score matrix.

    Examples
    --------
    >>> from skmv.metrics import PrecisionAtNDisplay, precision_at_n_curve
    >>> ranks = [0, 3, 1, 0, 9]
    >>> n, precision = precision_at_n_curve(ranks, max_n=10)
    >>> display = PrecisionAtNDisplay(n, precision, estimator_name="demo")
    >>> display.plot()  # doctest: +SKIP
    >>> PrecisionAtNDisplay.from_ranks(ranks, n_database=10)  # doctest: +SKIP
    """

    def __init__(self, n, precision, *, estimator_name=None, chance=None):
        self.n = n
        self.precision = precision
        self.estimator_name = estimator_name
        self.chance = chance

    def plot(
        self,
        ax=None,
        *,
        name=None,
        plot_chance_level=True,
        chance_level_kw=None,
        **kwargs,
    ):
        """Draw the curve, and the chance level when it is known.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        name : str, default=None
            Label of the curve; None uses ``estimator_name``.
        plot_chance_level : bool, default=True
            Draw ``chance`` too (skipped when ``chance`` is None).
        chance_level_kw : dict, default=None
            Keyword arguments for the chance-level line; they win over the
            defaults (black dashes labelled "Random").
        **kwargs : dict
            Keyword arguments for the curve's ``ax.plot``; they win over the
            defaults (line with point markers, the label).

        Returns
        -------
        display : PrecisionAtNDisplay
            ``self``, with ``line_``, ``chance_line_``, ``ax_`` and
            ``figure_`` set.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        name = self.estimator_name if name is None else name

        line_kwargs = {"marker": "."}
        if name is not None:
            line_kwargs["label"] = name
        line_kwargs.update(kwargs)
        (self.line_,) = ax.plot(self.n, self.precision, **line_kwargs)

        self.chance_line_ = None
        if plot_chance_level and self.chance is not None:
            chance_kwargs = {"label": "Random", "color": "k", "linestyle": "--"}
            chance_kwargs.update(chance_level_kw or {})
            (self.chance_line_,) = ax.plot(self.n, self.chance, **chance_kwargs)

        ax.set(xlabel="N (items retrieved)", ylabel="Precision at N", ylim=(0, 1.02))
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="best")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_ranks(
        cls,
        ranks,
        *,
        n_database=None,
        max_n=20,
        name=None,
        ax=None,
        plot_chance_level=True,
        chance_level_kw=None,
        **kwargs,
    ):
        """Compute the curve from ranks and draw it.

        Parameters
        ----------
        ranks : array-like of shape (n_queries,)
            0-based rank of each query's true match, as from
            :func:`retrieval_ranks`.
        n_database : int >= 1, default=None
            Database size; gives the chance level ``min(N, D) / D``. None:
            no chance level.
        max_n : int >= 1, default=20
            Curve drawn for N = 1, ..., ``max_n``. None: up to the first N
            where every query succeeds.
        name : str, default=None
            Label of the curve.
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        plot_chance_level : bool, default=True
            Draw the chance level (when ``n_database`` is given).
        chance_level_kw : dict, default=None
            Keyword arguments for the chance-level line.
        **kwargs : dict
            Keyword arguments for the curve's ``ax.plot``.

        Returns
        -------
        display : PrecisionAtNDisplay

        Examples
        --------
        >>> import numpy as np
        >>> from skmv.metrics import PrecisionAtNDisplay, retrieval_ranks
        >>> rng = np.random.default_rng(0)
        >>> ranks = retrieval_ranks(rng.random((50, 50)))
        >>> PrecisionAtNDisplay.from_ranks(ranks, n_database=50)  # doctest: +SKIP
        """
        ranks = _check_ranks(ranks)
        n, precision = precision_at_n_curve(ranks, max_n=max_n)
        chance = None
        if n_database is not None:
            if (
                not isinstance(n_database, Integral)
                or isinstance(n_database, bool)
                or n_database < 1
            ):
                raise ValueError(
                    f"`n_database` must be an int >= 1, got {n_database!r}."
                )
            if ranks.max() >= n_database:
                raise ValueError(
                    f"`ranks` must be below `n_database`={n_database}, got a "
                    f"rank of {ranks.max()}."
                )
            chance = _chance_precision(n, n_database)
        display = cls(n, precision, estimator_name=name, chance=chance)
        return display.plot(
            ax=ax,
            name=name,
            plot_chance_level=plot_chance_level,
            chance_level_kw=chance_level_kw,
            **kwargs,
        )

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        *,
        max_n=20,
        name=None,
        ax=None,
        plot_chance_level=True,
        chance_level_kw=None,
        **kwargs,
    ):
        """Rank ``X`` against itself with a fitted retriever and draw the curve.

        The estimator must expose ``retrieval_ranks(X)``, returning for each
        row of ``X`` the 0-based rank of that row's own other modality among
        all rows of ``X`` (``X`` is both the queries and the database).
        :class:`skmv.retrieval.CrossModalRetriever` implements it.

        Parameters
        ----------
        estimator : fitted retriever
            Has a ``retrieval_ranks(X)`` method.
        X : array-like of shape (n_samples, n_features)
            Paired segments, modality blocks as columns; the database has
            ``n_samples`` items, which sets the chance level.
        max_n : int >= 1, default=20
            Curve drawn for N = 1, ..., ``max_n``.
        name : str, default=None
            Label of the curve; None uses the estimator's class name.
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        plot_chance_level : bool, default=True
            Draw the chance level ``min(N, n_samples) / n_samples``.
        chance_level_kw : dict, default=None
            Keyword arguments for the chance-level line.
        **kwargs : dict
            Keyword arguments for the curve's ``ax.plot``.

        Returns
        -------
        display : PrecisionAtNDisplay

        Examples
        --------
        >>> from skmv.metrics import PrecisionAtNDisplay
        >>> PrecisionAtNDisplay.from_estimator(retriever, X_test)  # doctest: +SKIP
        """
        method = getattr(estimator, "retrieval_ranks", None)
        if not callable(method):
            raise TypeError(
                f"{type(estimator).__name__} has no `retrieval_ranks(X)` method; "
                "PrecisionAtNDisplay.from_estimator needs a retriever such as "
                "CrossModalRetriever."
            )
        ranks = method(X)
        name = type(estimator).__name__ if name is None else name
        return cls.from_ranks(
            ranks,
            n_database=_num_samples(X),
            max_n=max_n,
            name=name,
            ax=ax,
            plot_chance_level=plot_chance_level,
            chance_level_kw=chance_level_kw,
            **kwargs,
        )
