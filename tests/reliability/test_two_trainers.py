"""Two training runs, one experiment folder: the second fails at once with one line and
writes nothing, whether it is ``asteroid-wsas train`` or a recipe's ``train.py``; the other
ranks of a DDP run write under their launcher's lock.

The first run is this test process holding the folder (:func:`hold_experiment`, the lock
``train`` takes), so that the second one meets it for certain, not by timing.
"""

import os
import subprocess
import sys

import pytest

from asteroid_wsas.engine import training
from asteroid_wsas.engine.config import load_conf
from asteroid_wsas.engine.training import hold_experiment, train
from asteroid_wsas.separation.audio_io import LOCK_NAME, FolderBusyError
from tests.reliability.test_kill_resume import TRAIN_PY, _train_command, recipe  # noqa: F401

pytest.importorskip("fcntl")  # Windows trains unlocked

RANKS = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")


def _busy(exp) -> str:
    return (
        f"{exp} is in use by another training run (wait for it to end, or pass another --exp-dir)"
    )


@pytest.fixture
def one_process(monkeypatch):
    """An environment with no DDP rank set (as a plain command's)."""
    for name in RANKS:
        monkeypatch.delenv(name, raising=False)
    return {k: v for k, v in os.environ.items() if k not in RANKS}


@pytest.mark.parametrize("script", [None, TRAIN_PY], ids=["train command", "recipe train.py"])
def test_a_second_run_into_a_held_folder_fails_at_once_writing_nothing(
    recipe, tmp_path, one_process, script  # noqa: F811
):
    exp = tmp_path / "exp"
    with hold_experiment(exp):
        done = subprocess.run(
            _train_command(recipe, exp, script),
            capture_output=True,
            text=True,
            env=one_process,
            timeout=300,
        )
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip().splitlines()[-1] == f"error: {_busy(exp)}"
        assert "Traceback" not in done.stderr
        assert sorted(os.listdir(exp)) == [LOCK_NAME]  # no conf.yml, checkpoint or log
    assert not exp.exists()  # the lock made the folder, and it stayed empty: gone


def test_train_holds_its_folder_while_it_runs(recipe, tmp_path, one_process, monkeypatch):
    exp = tmp_path / "exp"
    seen = []

    def fit_run(conf, exp_dir, *args):
        # what a second process would meet now: a separate open of the lock file conflicts
        with pytest.raises(FolderBusyError) as busy:
            with hold_experiment(exp_dir):
                pass
        seen.append(str(busy.value))
        return str(exp_dir / "best_model.pth")

    monkeypatch.setattr(training, "_fit_run", fit_run)
    train(load_conf(recipe["conf"]), exp, recipe["val"], progress=False)
    assert seen == [_busy(exp)]
    assert LOCK_NAME not in os.listdir(exp)  # let go with the run: conf.yml stays
    with hold_experiment(exp):  # and free again
        pass


@pytest.mark.parametrize("name", RANKS)
def test_the_other_ranks_of_a_ddp_run_write_under_their_launchers_lock(
    tmp_path, one_process, monkeypatch, name
):
    exp = tmp_path / "exp"
    with hold_experiment(exp):
        monkeypatch.setenv(name, "1")
        with hold_experiment(exp):  # rank 1 of the launcher's run: not refused
            assert os.path.isfile(exp / LOCK_NAME)
        monkeypatch.setenv(name, "0")  # rank 0 is the launcher itself: refused
        with pytest.raises(FolderBusyError, match="another training run"):
            with hold_experiment(exp):
                pass
