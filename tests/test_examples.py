"""Every gallery script runs to completion (they are documentation that must
not rot)."""

import pathlib
import runpy

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

EXAMPLES = sorted(
    (pathlib.Path(__file__).parent.parent / "examples").glob("**/plot_*.py")
)


def test_examples_are_found():
    assert EXAMPLES, "no examples/**/plot_*.py found"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, capsys):
    import matplotlib.pyplot as plt

    runpy.run_path(str(path), run_name="__main__")
    plt.close("all")
    assert capsys.readouterr().out.strip(), f"{path.name} printed no result"
