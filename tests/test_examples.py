"""Every gallery script runs to completion (they are documentation that must
not rot)."""

import pathlib
import runpy

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

ROOT = pathlib.Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("**/plot_*.py"))
# The examples that generate and featurize a corpus share it through
# SKMV_DATA, kept in the checkout between runs (and ignored by git); they run
# one after the other on one worker, so it is made once.
DATA_HOME = ROOT / ".skmv_data"


def _uses_corpus(path):
    return "make_music_videos" in path.read_text()


def test_examples_are_found():
    assert EXAMPLES, "no examples/**/plot_*.py found"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.xdist_group("corpus"))
        if _uses_corpus(p)
        else p
        for p in EXAMPLES
    ],
    ids=lambda p: p.name,
)
def test_example_runs(path, capsys, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("SKMV_DATA", str(DATA_HOME))
    # The examples' quick mode: smaller data, same code.
    monkeypatch.setenv("SKMV_EXAMPLES_QUICK", "1")
    runpy.run_path(str(path), run_name="__main__")
    plt.close("all")
    assert capsys.readouterr().out.strip(), f"{path.name} printed no result"
