"""Comparison reports: cells with intervals over seeds, claims, curves with spread, the CLI."""

import csv
import json

import numpy as np
import pytest

from asteroid_wsas.cli import main
from asteroid_wsas.reporting import report as R

METRIC_COLUMNS = ("sdr", "sir", "sar", "sdri")


def _run(folder, per_mixture_sdr, curve=None):
    """An evaluated run: all_metrics.csv (2 queries per mixture) and a validation curve."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "all_metrics.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["mixture_id", "query", "source", *METRIC_COLUMNS, "skipped"])
        for i, value in enumerate(per_mixture_sdr):
            for k, offset in enumerate((-0.5, 0.5)):  # the mixture's mean is `value`
                v = value + offset
                writer.writerow([f"m{i}", f"q{k}", k, v, v + 3, v + 6, v - 1, "False"])
    if curve:
        (folder / "logs").mkdir(exist_ok=True)
        with open(folder / "logs" / "metrics.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["step", "loss", "val_sdr"])
            writer.writerow([5, 0.3, ""])  # a training row: no val_sdr
            for step, value in curve:
                writer.writerow([step, "", value])


@pytest.fixture
def comparison(tmp_path):
    rng = np.random.default_rng(0)
    difficulty = rng.normal(0, 4, size=60)
    rows = {"Mixture": tmp_path / "mixture"}
    _run(rows["Mixture"], difficulty)
    for name, gain, spread in (("weak", 3.0, 0.2), ("mix_and_separate", 1.0, 0.2)):
        rows[name] = tmp_path / name
        for seed in range(3):
            offset = gain + spread * (seed - 1)
            curve = [(99, offset - 1 + seed), (199, offset + seed)]
            _run(rows[name] / f"seed{seed}", difficulty + offset + rng.normal(0, 0.1, 60), curve)
    return rows


def test_claims_parse_metric_expression_and_goal():
    c = R.Claim("weak - mix_and_separate")
    assert (c.metric, c.names, c.goal) == ("sdr", ["weak", "mix_and_separate"], None)
    c = R.Claim("sdri: (weak_3src / weak) - (ms_3src / ms) > 0")
    assert c.metric == "sdri" and c.goal == (">", 0.0)
    assert c({"weak_3src": 3.0, "weak": 4.0, "ms_3src": 1.0, "ms": 4.0}) == pytest.approx(0.5)
    assert R.Claim("weak / supervised >= 0.9").verdict(0.91, 1.2) is True
    assert R.Claim("weak / supervised >= 0.9").verdict(0.85, 1.2) is False
    assert R.Claim("a - b <= -1").verdict(-3.0, -1.5) is True
    assert R.Claim("a / b")({"a": 1.0, "b": 0.0}) != R.Claim("a / b")({"a": 1.0, "b": 0.0})
    for bad in ("__import__('os')", "weak.mean", "weak - ", "a < 1 < 2", "a >= b"):
        with pytest.raises(ValueError, match="claim"):
            R.Claim(bad)


def test_compare_reports_seed_intervals_and_paired_claims(comparison):
    result = R.compare(
        comparison,
        ["weak - mix_and_separate > 1.5", "sdri: weak / mix_and_separate >= 5"],
        n_resamples=2000,
    )
    weak, mixture = result["rows"]["weak"], result["rows"]["Mixture"]
    assert result["mixtures"] == 60 and weak["seeds"] == ["seed0", "seed1", "seed2"]
    assert weak["sdr"]["interval"] == "t over seeds"
    assert len(weak["sdr"]["per_seed"]) == 3
    assert weak["sdr"]["low"] < weak["sdr"]["mean"] < weak["sdr"]["high"]
    # the mean over seeds of per-mixture means (difficulty mean + 3 dB)
    assert weak["sdr"]["mean"] - mixture["sdr"]["mean"] == pytest.approx(3.0, abs=0.05)
    assert weak["sir"]["mean"] == pytest.approx(weak["sdr"]["mean"] + 3)
    assert mixture["sdr"]["interval"] == "bootstrap over mixtures"
    diff, ratio = result["claims"]
    assert diff["value"] == pytest.approx(2.0, abs=0.05) and diff["holds"] is True
    assert ratio["metric"] == "sdri" and ratio["holds"] is False  # about 2, goal 5
    text = R.format_report(result, "T", notes=["Machine: x."])
    assert "| weak | 3 | " in text and "| SDR: weak - mix_and_separate | 2.0" in text
    assert "| **no** |" in text and text.splitlines()[0] == "**T**" and "Machine: x." in text


def test_compare_refuses_unknown_rows_and_other_test_sets(comparison, tmp_path):
    with pytest.raises(ValueError, match="unknown rows"):
        R.compare(comparison, ["weak - supervised"])
    _run(tmp_path / "other", [1.0, 2.0])
    with pytest.raises(ValueError, match="different test mixtures"):
        R.compare({**comparison, "other": tmp_path / "other"})
    with pytest.raises(ValueError) as err:  # not a table row of nan
        R.compare(comparison, ["weak / (Mixture - Mixture)"], n_resamples=50)
    assert str(err.value) == (
        "claim 'weak / (Mixture - Mixture)' has no value on these runs (a division by zero); "
        "divide by a row whose mean is not 0"
    )


def test_curves_show_mean_and_band_and_never_an_empty_figure(comparison, tmp_path):
    steps, values = R.seed_curves(comparison["weak"])
    assert steps.tolist() == [99, 199] and values.shape == (3, 2)
    png = tmp_path / "curves.png"
    assert R.plot_curves(comparison, png) == str(png) and png.stat().st_size > 5000
    with pytest.raises(FileExistsError):
        R.plot_curves(comparison, png)
    empty = tmp_path / "empty.png"
    assert R.plot_curves({"Mixture": comparison["Mixture"]}, empty) is None
    assert not empty.exists()


def test_compare_cli_writes_markdown_and_json(comparison, tmp_path, capsys):
    rows = [f"{name}={folder}" for name, folder in comparison.items()]
    out, png = tmp_path / "results.md", tmp_path / "val.png"
    main(
        [
            "compare",
            *rows,
            "-o",
            str(out),
            "--curves",
            str(png),
            "--resamples",
            "500",
            "--claim",
            "weak - mix_and_separate",
            "--wall-time",
            "75",
            "--title",
            "T",
        ]
    )
    printed = capsys.readouterr().out
    assert "| weak | 3 |" in printed and "Wall time: 1 min 15 s" in printed
    assert out.read_text().startswith("**T**") and png.is_file()
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["claims"][0]["expression"] == "weak - mix_and_separate"
    with pytest.raises(SystemExit, match="exists"):
        main(["compare", *rows, "-o", str(out)])
    with pytest.raises(SystemExit, match="no all_metrics.csv"):
        main(["compare", f"x={tmp_path / 'missing'}"])
    with pytest.raises(SystemExit, match=r"--curves must name a \.png file, got .*val\.txt"):
        main(["compare", *rows, "--curves", str(tmp_path / "val.txt")])
    assert not (tmp_path / "val.txt").exists()


def test_compare_cli_picks_the_table_columns(comparison, tmp_path, capsys):
    rows = [f"{name}={folder}" for name, folder in comparison.items()]
    out = tmp_path / "results.md"
    main(["compare", *rows, "--metrics", "sdr", "sar", "--resamples", "200", "-o", str(out)])
    header = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| Method"))
    assert header == "| Method | seeds | SDR | SAR |"
    assert "| SDR | SAR |" in out.read_text()  # the written report keeps the same columns
    with pytest.raises(SystemExit, match="--metrics: unknown"):
        main(["compare", *rows, "--metrics", "pesq"])
    # runs scored before the energy-ratio columns existed: the column is named
    with pytest.raises(SystemExit, match="no 'esdr' column"):
        main(["compare", *rows, "--metrics", "esdr"])
    with pytest.raises(SystemExit, match="no 'clap' column"):  # runs without --clap-score
        main(["compare", *rows, "--metrics", "clap"])


def test_format_table_is_shaped_like_table_1():
    s = {"metrics": {m: {"mean": 1.234, "std": 0.5} for m in R.METRICS}}
    table = R.format_table({"Mixture": s, "Ours": s})
    assert table.splitlines() == [
        "| Method | SDR | SIR | SAR | SDRi |",
        "|---|---|---|---|---|",
        "| Mixture | 1.23 ± 0.50 | 1.23 ± 0.50 | 1.23 ± 0.50 | 1.23 ± 0.50 |",
        "| Ours | 1.23 ± 0.50 | 1.23 ± 0.50 | 1.23 ± 0.50 | 1.23 ± 0.50 |",
    ]
    assert R.format_row("x", s, metrics=["si_sdri"], digits=1) == "| x | 1.2 ± 0.5 |"
    with pytest.raises(ValueError, match="metrics"):
        R.format_table({"x": s}, metrics=["pesq"])
