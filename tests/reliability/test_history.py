"""The pieces of issue 19 without a training run: the CSV history across resumes and
restarts, the finished-run rule, the curve readers and writers."""

import csv
import warnings

import pytest

from asteroid_wsas.reporting.curves import plot_curves, read_curve
from asteroid_wsas.engine.callbacks import HistoryWriter, run_finished


def _write(path, rows, fieldnames=("epoch", "loss", "step", "val_sdr")):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fieldnames))
        writer.writeheader()
        writer.writerows(rows)


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _killed_run(logs):
    """A run killed at step 5: its checkpoint held steps 0-3, so 4 and 5 are done again."""
    rows = [{"epoch": 0, "loss": 1.0 + s, "step": s} for s in range(6)]
    rows.insert(4, {"epoch": 0, "step": 3, "val_sdr": 2.5})  # a validation after step 3
    _write(logs / "metrics.csv", rows)


def test_a_resumed_run_keeps_the_history_and_logs_each_step_once(tmp_path):
    logs = tmp_path / "logs"
    _killed_run(logs)
    writer = HistoryWriter(str(logs), keep=True)
    assert (logs / "metrics.csv").is_file()  # Lightning's writer deleted it here
    for step in (4, 5, 6):
        writer.log_metrics({"epoch": 0, "loss": 10.0 + step}, step)
        writer.save()
    writer.log_metrics({"epoch": 0, "val_sdr": 3.0, "val_sdri": 1.0}, 6)  # a new column
    writer.save()
    rows = _read(logs / "metrics.csv")
    assert [int(r["step"]) for r in rows if r["loss"]] == list(range(7))
    assert [float(r["loss"]) for r in rows if r["loss"]][4:] == [14.0, 15.0, 16.0]  # redone
    assert [(r["step"], r["val_sdr"], r["val_sdri"]) for r in rows if r["val_sdr"]] == [
        ("3", "2.5", ""),
        ("6", "3.0", "1.0"),
    ]
    assert read_curve(tmp_path) == ([3, 6], [2.5, 3.0])
    assert not list(logs.glob(".*"))  # no temporary file left


def test_a_rerun_that_logs_nothing_leaves_the_file_as_it_was(tmp_path):
    logs = tmp_path / "logs"
    _killed_run(logs)
    before = (logs / "metrics.csv").read_bytes()
    writer = HistoryWriter(str(logs), keep=True)
    writer.save()
    assert (logs / "metrics.csv").read_bytes() == before


def test_a_restart_keeps_the_old_log_beside(tmp_path):
    logs = tmp_path / "logs"
    for n in (1, 2):
        _killed_run(logs)
        old = (logs / "metrics.csv").read_bytes()
        writer = HistoryWriter(str(logs), keep=False)
        assert (logs / f"metrics.before-restart-{n}.csv").read_bytes() == old
        writer.log_metrics({"epoch": 0, "loss": 9.0}, 0)
        writer.save()
        assert [r["loss"] for r in _read(logs / "metrics.csv")] == ["9.0"]


def test_finished_means_the_budget_in_steps_or_epochs_is_spent():
    assert run_finished({"global_step": 600, "epoch": 2}, {"max_steps": 600})
    assert not run_finished({"global_step": 600, "epoch": 2}, {"max_steps": 1000})
    # written at the last epoch's end: "epoch" still says 1, the loop counted 2
    loops = {"fit_loop": {"epoch_progress": {"current": {"processed": 2}}}}
    state = {"global_step": 20, "epoch": 1, "loops": loops}
    assert run_finished(state, {"max_steps": -1, "max_epochs": 2})
    assert not run_finished(state, {"max_steps": -1, "max_epochs": 3})


def test_curves_of_one_validation_and_of_none(tmp_path):
    run = tmp_path / "run"
    _write(run / "logs" / "metrics.csv", [{"epoch": 0, "step": 7, "val_sdr": 1.5}])
    png = tmp_path / "val_sdr.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "identical low and high xlims"
        assert plot_curves({"weak": run}, png) == str(png)
    old = png.read_bytes()
    _write(run / "logs" / "metrics.csv", [{"epoch": 0, "step": 7, "loss": 1.0}])
    assert plot_curves({"weak": run}, png, force=True) is None
    assert png.read_bytes() == old  # kept, not replaced by empty axes
    with pytest.raises(FileExistsError):
        plot_curves({"weak": run}, png)
