import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skmv.metrics import (
    PrecisionAtNDisplay,
    precision_at_n,
    precision_at_n_curve,
    retrieval_ranks,
)

RND_SEED = 0

# Query 0: true match best; query 1: one better item; query 2: the true match
# ties with one other item and one is better; query 3: all four items tie.
DISTANCES = np.array(
    [
        [0.1, 0.5, 0.9, 0.7],
        [0.0, 0.3, 0.9, 0.8],
        [0.2, 0.5, 0.5, 0.9],
        [0.4, 0.4, 0.4, 0.4],
    ]
)


@pytest.fixture
def mpl():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield matplotlib
    plt.close("all")


class _StubRetriever:
    """Has the protocol from_estimator needs: ranks of X against itself."""

    def __init__(self, ranks):
        self.ranks = ranks

    def retrieval_ranks(self, X):
        assert len(X) == len(self.ranks)
        return self.ranks


@pytest.mark.parametrize(
    "ties, expected",
    [
        ("pessimistic", [0, 1, 2, 3]),
        ("average", [0, 1, 1.5, 1.5]),
        ("optimistic", [0, 1, 1, 0]),
    ],
)
def test_retrieval_ranks_ties(ties, expected):
    ranks = retrieval_ranks(DISTANCES, ties=ties)
    assert_array_equal(ranks, expected)
    if ties != "average":
        assert ranks.dtype == np.intp


def test_retrieval_ranks_default_is_pessimistic():
    assert_array_equal(retrieval_ranks(DISTANCES), [0, 1, 2, 3])


@pytest.mark.parametrize("ties", ["pessimistic", "average", "optimistic"])
def test_retrieval_ranks_scores_agree_with_distances(ties):
    rng = np.random.default_rng(RND_SEED)
    d = rng.integers(0, 4, size=(7, 9)).astype(float)  # many ties
    assert_array_equal(
        retrieval_ranks(scores=-d, ties=ties), retrieval_ranks(d, ties=ties)
    )
    assert_array_equal(retrieval_ranks(scores=-DISTANCES), retrieval_ranks(DISTANCES))


def test_retrieval_ranks_matches_argsort():
    rng = np.random.default_rng(RND_SEED)
    d = rng.random((5, 12))  # no ties
    expected = [np.flatnonzero(np.argsort(row) == q)[0] for q, row in enumerate(d)]
    assert_array_equal(retrieval_ranks(d), expected)


def test_retrieval_ranks_true_index():
    ranks = retrieval_ranks(DISTANCES, true_index=[2, 0, 3, 1])
    assert_array_equal(ranks, [3, 0, 3, 3])
    # More database items than queries, as in the paper (500 vs 2000).
    d = np.array([[5.0, 1.0, 3.0, 2.0, 4.0], [0.0, 1.0, 2.0, 3.0, 4.0]])
    assert_array_equal(retrieval_ranks(d), [4, 1])
    assert_array_equal(retrieval_ranks(d, true_index=np.array([1, 4])), [0, 4])


def test_retrieval_ranks_integer_scores():
    s = np.array([[3, 1, 2], [0, 5, 5]], dtype=np.uint8)
    assert_array_equal(retrieval_ranks(scores=s), [0, 1])
    extremes = np.array([[-128, 127], [-128, 127]], dtype=np.int8)
    assert_array_equal(retrieval_ranks(scores=extremes), [1, 0])
    assert_array_equal(retrieval_ranks(extremes), [0, 1])


@pytest.mark.parametrize(
    "kwargs, err_msg",
    [
        ({}, "exactly one of"),
        ({"distances": DISTANCES, "scores": DISTANCES}, "exactly one of"),
        ({"distances": DISTANCES[0]}, "2-D array"),
        ({"distances": np.ones((5, 3))}, "n_queries <= n_database"),
        ({"distances": DISTANCES, "true_index": [0, 1]}, r"shape \(4,\)"),
        ({"distances": DISTANCES, "true_index": [0, 1, 2, 4]}, r"\[0, 4\)"),
        ({"distances": DISTANCES, "true_index": [0.0, 1, 2, 3]}, "integers"),
        ({"distances": DISTANCES, "ties": "random"}, "`ties` must be one of"),
    ],
)
def test_retrieval_ranks_errors(kwargs, err_msg):
    with pytest.raises(ValueError, match=err_msg):
        retrieval_ranks(**kwargs)


def test_retrieval_ranks_nan_names_rows():
    d = DISTANCES.copy()
    d[1, 3] = np.nan
    d[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN in row\(s\) \[1, 3\]"):
        retrieval_ranks(d)
    with pytest.raises(ValueError, match="`scores` contains NaN"):
        retrieval_ranks(scores=d)


def test_precision_at_n_values():
    ranks = [0, 3, 1, 0, 9]
    assert precision_at_n(ranks, n=1) == pytest.approx(0.4)
    assert precision_at_n(ranks, n=2) == pytest.approx(0.6)
    assert precision_at_n(ranks, n=4) == pytest.approx(0.8)
    assert precision_at_n(ranks, n=10) == pytest.approx(1.0)
    assert isinstance(precision_at_n(ranks, n=np.int64(3)), float)
    assert_allclose(precision_at_n(ranks, n=[10, 1, 4]), [1.0, 0.4, 0.8])


def test_precision_at_n_half_integer_ranks():
    # "average" ties: rank 1.5 is a success at N = 2, not at N = 1.
    assert_allclose(precision_at_n([0, 1.5], n=[1, 2, 3]), [0.5, 1.0, 1.0])


def test_precision_at_n_curve_monotone():
    rng = np.random.default_rng(RND_SEED)
    ranks = retrieval_ranks(rng.random((40, 40)))
    n, precision = precision_at_n_curve(ranks)
    assert_array_equal(n, np.arange(1, len(n) + 1))
    assert np.all(np.diff(precision) >= 0)
    assert precision[-1] == 1.0 and precision[-2] < 1.0
    assert_allclose(precision, precision_at_n(ranks, n))
    n, precision = precision_at_n_curve(ranks, max_n=5)
    assert_array_equal(n, [1, 2, 3, 4, 5])


@pytest.mark.parametrize(
    "ranks, n, err_msg",
    [
        ([0, 1], 0, "must be >= 1"),
        ([0, 1], [1, 0], "must be >= 1"),
        ([0, 1], 2.5, "int or an array of ints"),
        ([0, 1], True, "int or an array of ints"),
        ([0, -1], 1, "non-negative"),
        ([0, np.nan], 1, "finite"),
        ([], 1, "non-empty 1-D"),
        ([[0, 1]], 1, "non-empty 1-D"),
    ],
)
def test_precision_at_n_errors(ranks, n, err_msg):
    with pytest.raises(ValueError, match=err_msg):
        precision_at_n(ranks, n=n)


def test_precision_at_n_curve_errors():
    with pytest.raises(ValueError, match="`max_n` must be an int >= 1"):
        precision_at_n_curve([0, 1], max_n=0)


def test_display_plot_sets_attributes_and_returns_self(mpl):
    import matplotlib.pyplot as plt

    n = np.arange(1, 4)
    display = PrecisionAtNDisplay(
        n, np.array([0.2, 0.5, 0.7]), estimator_name="demo", chance=n / 10
    )
    assert display.estimator_name == "demo"
    assert not hasattr(display, "line_")  # the constructor only stores
    fig, ax = plt.subplots()
    assert display.plot(ax=ax) is display
    assert display.ax_ is ax and display.figure_ is fig
    assert_allclose(display.line_.get_ydata(), [0.2, 0.5, 0.7])
    assert display.line_.get_label() == "demo"
    assert_allclose(display.chance_line_.get_ydata(), [0.1, 0.2, 0.3])
    assert ax.get_ylabel() == "Precision at N"
    assert ax.get_legend() is not None

    display.plot(name="other", plot_chance_level=False)
    assert display.ax_ is not ax
    assert display.line_.get_label() == "other"
    assert display.chance_line_ is None


def test_display_user_kwargs_win(mpl):
    display = PrecisionAtNDisplay.from_ranks(
        [0, 1, 2],
        n_database=3,
        max_n=3,
        name="demo",
        color="red",
        marker="s",
        label="mine",
        chance_level_kw={"color": "blue", "label": "chance"},
    )
    assert display.line_.get_color() == "red"
    assert display.line_.get_marker() == "s"
    assert display.line_.get_label() == "mine"
    assert display.chance_line_.get_color() == "blue"
    assert display.chance_line_.get_label() == "chance"
    assert display.chance_line_.get_linestyle() == "--"


def test_display_from_ranks_chance_level(mpl):
    rng = np.random.default_rng(RND_SEED)
    ranks = retrieval_ranks(rng.random((30, 30)))
    display = PrecisionAtNDisplay.from_ranks(ranks, n_database=30, max_n=40)
    assert_array_equal(display.n, np.arange(1, 41))
    assert_allclose(display.chance, np.minimum(display.n, 30) / 30)
    assert_allclose(display.chance[:30], display.n[:30] / 30)
    assert_allclose(display.precision, precision_at_n(ranks, display.n))
    assert display.estimator_name is None
    assert display.line_.get_label().startswith("_")  # no label given

    no_chance = PrecisionAtNDisplay.from_ranks(ranks)
    assert no_chance.chance is None and no_chance.chance_line_ is None
    assert len(no_chance.n) == 20


def test_display_from_estimator_matches_from_ranks(mpl):
    rng = np.random.default_rng(RND_SEED)
    X = rng.random((25, 6))
    ranks = retrieval_ranks(rng.random((25, 25)))
    estimator = _StubRetriever(ranks)
    from_est = PrecisionAtNDisplay.from_estimator(estimator, X, max_n=10)
    from_ranks = PrecisionAtNDisplay.from_ranks(ranks, n_database=25, max_n=10)
    assert_array_equal(from_est.n, from_ranks.n)
    assert_allclose(from_est.precision, from_ranks.precision)
    assert_allclose(from_est.chance, from_ranks.chance)
    assert from_est.estimator_name == "_StubRetriever"
    assert from_est.line_.get_label() == "_StubRetriever"
    named = PrecisionAtNDisplay.from_estimator(estimator, X, name="shared rep.")
    assert named.line_.get_label() == "shared rep."


def test_display_from_estimator_needs_retrieval_ranks(mpl):
    with pytest.raises(TypeError, match="object has no `retrieval_ranks"):
        PrecisionAtNDisplay.from_estimator(object(), np.ones((3, 2)))


@pytest.mark.parametrize(
    "kwargs, err_msg",
    [
        ({"n_database": 0}, "`n_database` must be an int >= 1"),
        ({"n_database": 2}, "must be below `n_database`=2"),
        ({"max_n": 0}, "`max_n` must be an int >= 1"),
    ],
)
def test_display_from_ranks_errors(mpl, kwargs, err_msg):
    with pytest.raises(ValueError, match=err_msg):
        PrecisionAtNDisplay.from_ranks([0, 1, 2], **kwargs)


def test_display_curves_share_axes(mpl):
    first = PrecisionAtNDisplay.from_ranks([0, 2, 1], n_database=3, name="shared")
    second = PrecisionAtNDisplay.from_ranks(
        [2, 2, 1], ax=first.ax_, name="CCA", plot_chance_level=False
    )
    assert second.ax_ is first.ax_ and second.figure_ is first.figure_
    labels = [t.get_text() for t in first.ax_.get_legend().get_texts()]
    assert labels == ["shared", "Random", "CCA"]
