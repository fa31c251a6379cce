"""The job behind ``make demo`` runs and shows what the shared model buys."""

from skmv import demo


def test_demo_beats_the_baselines_it_prints():
    lines = []
    results = demo.run(800, random_state=0, out=lines.append)
    for given, target in (("video", "audio"), ("audio", "video")):
        ratio = results[f"mse_{given}_to_{target}"] / results[f"mse_mean_{target}"]
        assert ratio < 0.85, (given, target, ratio)
        assert results[f"p@10_{given}_to_{target}"] > 0.3  # random: 0.1
    assert results["accuracy shared representation"] > 0.5  # 4 classes
    text = "\n".join(lines)
    assert "P@10" in text and "predicting the mean" in text


def test_demo_command_line(capsys):
    assert demo.main(["--n-samples", "400", "--random-state", "1"]) == 0
    out = capsys.readouterr().out
    assert "cross-modal retrieval" in out and "total time" in out
