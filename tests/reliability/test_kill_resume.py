"""Kills, resumes and reruns of real tiny training runs (issue 19).

A run killed with SIGKILL before its first checkpoint and again after it, then resumed,
keeps every logged step exactly once in ``logs/metrics.csv`` and ends with the weights of
an uninterrupted run; a finished run started again changes no byte of its logs, checkpoints
or curve; a checkpoint whose pickle would run code is refused before anything runs.
"""

import csv
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

import pytest
import torch
import yaml

from asteroid_wsas.cli import main
from asteroid_wsas.data.synthetic import write_music_layout
from asteroid_wsas.engine.config import load_conf
from asteroid_wsas.reporting.curves import plot_curves, read_curve
from asteroid_wsas.engine.evaluation import build_manifest
from asteroid_wsas.engine.callbacks import UnsafeCheckpointError, read_checkpoint
from asteroid_wsas.engine.training import train
from tests.helpers import tiny_encoder

# a recipe's train.py (the five are one file: tests/recipes/test_train_script.py)
TRAIN_PY = Path(__file__).resolve().parents[2] / "recipes" / "music" / "train.py"

# 18 training mixtures of 2 = 9 steps per epoch, the whole budget: no epoch end before it.
# last.ckpt at steps 4 and 8 (every 4 steps), after the validation at step 8, and at the
# end (9); a kill when the log shows step 0 comes before the first, one at step 4 after it.
TRAINING = {
    "batch_size": 2,
    "max_steps": 9,
    "precision": "32-true",
    "accelerator": "cpu",
    "devices": 1,
    "log_every_n_steps": 1,
    "checkpoint_every_n_steps": 4,
    "val_check_interval": 8,
    "check_val_every_n_epoch": None,
    "seed": 0,
}


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """Data, small encoder, validation set and config of a tiny run (seconds per step)."""
    root = tmp_path_factory.mktemp("recipe")
    # 4 classes: a mixture of mixtures of 2 mixtures of 2 asks 4 distinct ones
    write_music_layout(
        str(root / "m"), 10, ["beep", "hum", "bell", "siren"], seconds=0.5, sample_rate=8000
    )
    encoder = tiny_encoder(["the sound of a", "beep", "hum", "bell"]).freeze()
    torch.save(encoder.serialize(), root / "tiny.pth")
    conf = {
        "data": {
            "dataset": "music",
            "root": str(root / "m"),
            "sample_rate": 8000,
            "segment": 0.5,
            "val_fraction": 0.2,
            "test_fraction": 0.2,
            "val_mixtures": 2,
            "num_workers": 0,
        },
        "encoder": {"name": str(root / "tiny.pth")},
        "model": {
            "n_fft": 126,
            "hop_length": 32,
            "channels": [8, 16],
            "attention_levels": [1],
            "n_heads": 2,
            "out_channels": 4,
        },
        "objective": {"name": "weak"},
        "optim": {"lr": 1e-3},
        "training": TRAINING,
    }
    (root / "conf.yml").write_text(yaml.safe_dump(conf))
    val = build_manifest(load_conf(root / "conf.yml")["data"], root / "val.json", "val", 2, 1, 2)
    return {"conf": root / "conf.yml", "val": Path(val)}


@pytest.fixture(scope="module")
def straight(recipe, tmp_path_factory):
    """An uninterrupted run (in this process), with its curve drawn."""
    exp = tmp_path_factory.mktemp("straight") / "exp"
    train(load_conf(recipe["conf"]), exp, recipe["val"], progress=False)
    plot_curves({"weak": exp}, exp / "val_sdr.png")
    return exp


def _rows(exp: Path):
    with open(exp / "logs" / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _train_steps(rows):
    return [int(r["step"]) for r in rows if r.get("loss")]


def _val_steps(rows):
    return [int(r["step"]) for r in rows if r.get("val_sdr")]


def _logged_steps(log: Path):
    """Training steps in the log so far (whole lines only: the writer may be mid-line)."""
    try:
        text = log.read_text()
    except FileNotFoundError:
        return set()
    lines = text.splitlines(keepends=True)
    whole = "".join(ln for ln in lines if ln.endswith("\n"))
    return set(_train_steps(csv.DictReader(whole.splitlines())))


def _train_command(recipe, exp: Path, script: Optional[Path] = None) -> List[str]:
    """``asteroid-wsas train``, or a recipe's train.py (``script``), of the tiny run."""
    start = [str(script)] if script else ["-m", "asteroid_wsas.cli", "train"]
    cmd = [sys.executable, *start, str(recipe["conf"])]
    return cmd + ["--exp-dir", str(exp), "--val-manifest", str(recipe["val"])]


def _kill_at_step(recipe, exp: Path, step: int, out: Path, script: Optional[Path] = None) -> None:
    """Start ``asteroid-wsas train`` (or ``script``) and SIGKILL it as soon as its log shows
    ``step``."""
    cmd = _train_command(recipe, exp, script)
    # the thread count of this process (1 per xdist worker): other float sums otherwise
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()))
    with open(out, "w") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 240
        while step not in _logged_steps(exp / "logs" / "metrics.csv"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no step {step} logged:\n{out.read_text()[-3000:]}")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()


def _state(path: Path):
    return read_checkpoint(path)["state_dict"]


def test_killed_before_and_after_the_first_checkpoint_resumes_with_every_step_once(
    recipe, straight, tmp_path, recwarn
):
    exp = tmp_path / "exp"
    last = exp / "checkpoints" / "last.ckpt"
    _kill_at_step(recipe, exp, 0, tmp_path / "run1.log")
    assert not last.exists()  # killed before the first checkpoint (step 4)
    assert _train_steps(_rows(exp))[0] == 0  # the killed run's rows are on disk

    # the rerun starts over (nothing to resume) and is killed after the first checkpoint
    _kill_at_step(recipe, exp, 4, tmp_path / "run2.log")
    assert read_checkpoint(last)["global_step"] == 4
    assert sorted(_train_steps(_rows(exp))) == list(range(5))  # 4 came after the checkpoint

    train(load_conf(recipe["conf"]), exp, recipe["val"], progress=False)  # resumes at 4
    _assert_as_straight(exp, straight)
    assert not [w for w in recwarn if "weights_only" in str(w.message)]


def test_a_recipes_train_py_killed_mid_run_continues_as_the_library_run(recipe, straight, tmp_path):
    """recipes/<name>/train.py assembles the run of train() step by step: killed after its
    first checkpoint and started again, it ends as the uninterrupted train() run did, and a
    third start finds it finished."""
    exp = tmp_path / "exp"
    _kill_at_step(recipe, exp, 4, tmp_path / "run1.log", TRAIN_PY)
    assert read_checkpoint(exp / "checkpoints" / "last.ckpt")["global_step"] == 4
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()))
    cmd = _train_command(recipe, exp, TRAIN_PY)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"separator: {exp / 'best_model.pth'}" in done.stdout
    _assert_as_straight(exp, straight)
    before = _snapshot(exp)
    again = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert again.returncode == 0 and "nothing to train" in again.stdout
    assert _snapshot(exp) == before


def _assert_as_straight(exp: Path, straight: Path) -> None:
    """``exp`` holds the rows, curve and weights of the uninterrupted run."""
    rows, expected = _rows(exp), _rows(straight)
    assert _train_steps(rows) == _train_steps(expected) == list(range(9))  # once each
    assert _val_steps(rows) == _val_steps(expected) == [7]
    for got, want in zip(rows, expected):
        for key in ("loss", "val_sdr"):
            if want.get(key):
                assert float(got[key]) == pytest.approx(float(want[key]), rel=1e-3, abs=1e-4)
    (steps, values), (want_steps, want_values) = read_curve(exp), read_curve(straight)
    assert steps == want_steps == [7] and values == pytest.approx(want_values, rel=1e-3)
    # the weights of the uninterrupted run (float noise of a fresh text cache aside, as in
    # tests/engine/test_system.py), in last.ckpt and in the best model
    for name in ("checkpoints/last.ckpt", "best_model.pth"):
        if name.endswith(".ckpt"):
            got, want = _state(exp / name), _state(straight / name)
        else:
            got = torch.load(exp / name, weights_only=True)["state_dict"]
            want = torch.load(straight / name, weights_only=True)["state_dict"]
        assert got.keys() == want.keys()
        for key, value in want.items():
            torch.testing.assert_close(got[key], value, rtol=1e-3, atol=1e-4)


def _snapshot(exp: Path):
    return {
        str(p.relative_to(exp)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(exp.rglob("*"))
        if p.is_file()
    }


def test_rerunning_a_finished_run_changes_no_byte(recipe, straight, tmp_path, capsys):
    exp = tmp_path / "exp"
    shutil.copytree(straight, exp)
    before = _snapshot(exp)
    assert {"logs/metrics.csv", "val_sdr.png", "checkpoints/last.ckpt"} <= set(before)
    main(
        ["train", str(recipe["conf"]), "--exp-dir", str(exp), "--val-manifest", str(recipe["val"])]
    )
    assert "nothing to train" in capsys.readouterr().out
    assert plot_curves({"weak": exp}, exp / "val_sdr.png", force=True)  # as stage 5 does
    assert _snapshot(exp) == before

    # a curve with nothing to draw keeps the old PNG instead of an empty figure
    (exp / "logs" / "metrics.csv").write_text("epoch,loss,step\n0,1.0,0\n")
    assert plot_curves({"weak": exp}, exp / "val_sdr.png", force=True) is None
    assert _snapshot(exp)["val_sdr.png"] == before["val_sdr.png"]


class _RunsCode:
    """A pickled object that creates a folder when unpickled (a stand-in for any code)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_checkpoint_that_would_run_code_is_refused(recipe, straight, tmp_path):
    exp = tmp_path / "exp"
    shutil.copytree(straight, exp)
    last = exp / "checkpoints" / "last.ckpt"
    marker = tmp_path / "code-ran"
    state = read_checkpoint(last)
    state["hyper_parameters"]["note"] = _RunsCode(str(marker))
    torch.save(state, last)

    with pytest.raises(SystemExit, match=r"error: .*last\.ckpt holds Python objects.*mkdir"):
        main(["train", str(recipe["conf"]), "--exp-dir", str(exp), "--max-steps", "12"])
    with pytest.raises(UnsafeCheckpointError, match="--trust-checkpoint"):
        train(load_conf(recipe["conf"]), exp, recipe["val"], progress=False)
    assert not marker.exists()  # nothing ran
    # the file really does run code when trusted: what --trust-checkpoint is for
    read_checkpoint(last, trust=True)
    assert marker.is_dir()
