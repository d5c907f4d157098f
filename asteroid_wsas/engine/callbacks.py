"""Checkpoints and logs of a training run: what to keep, what may be loaded, how the history
of a run survives kills and resumes.

- :func:`checkpoint_callbacks`: the best ``val_sdr`` checkpoint and ``last.ckpt``
  (:class:`LastCheckpoint`: written at every epoch end, after every validation, every N steps
  and when the budget ends), both without the frozen encoder;
- :func:`read_checkpoint` (``weights_only=True`` unless trusted) and :func:`run_finished`;
- :class:`HistoryCSVLogger`: ``logs/metrics.csv`` kept across resumes
  (:class:`HistoryWriter`), read back by :func:`read_metrics_file`.
"""

import csv
import os
import pickle
from typing import Any, Dict, List, Optional, Union

import torch
from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter

from ..utils import atomic_write, read_metrics_file

__all__ = [
    "CHECKPOINT_EVERY_N_STEPS",
    "checkpoint_callbacks",
    "LastCheckpoint",
    "UnsafeCheckpointError",
    "read_checkpoint",
    "run_finished",
    "read_metrics_file",
    "HistoryWriter",
    "HistoryCSVLogger",
]

PathLike = Union[str, os.PathLike]

# training.checkpoint_every_n_steps when a config does not set it: last.ckpt every 100
# optimizer steps (besides epoch ends and validations), so a kill loses at most 100 steps
CHECKPOINT_EVERY_N_STEPS = 100


def checkpoint_callbacks(
    dirpath: Union[str, os.PathLike],
    save_top_k: int = 1,
    every_n_train_steps: Optional[int] = None,
) -> list:
    """Lightning callbacks that keep the best ``val_sdr`` and the latest state (for resume).

    ``epoch=..-step=..-val_sdr=...ckpt`` keeps the best validation SDR; ``last.ckpt``
    (:class:`LastCheckpoint`) is rewritten at the end of every training epoch, after every
    validation and every ``every_n_train_steps`` steps, and is what ``trainer.fit(system,
    ckpt_path=".../last.ckpt", weights_only=True)`` resumes from. (Lightning's own
    ``save_last`` only writes when a best checkpoint is written.)

    Args:
        dirpath: Where checkpoints go (``exp/<tag>/checkpoints`` in the recipes).
        save_top_k: How many best checkpoints to keep.
        every_n_train_steps: Also refresh ``last.ckpt`` every so many optimizer steps
            (None or 0: only at epoch ends and validations).

    Returns:
        list: ``[best, last]``, in this order (``last`` then holds ``best``'s newest state);
        ``best.best_model_path`` is the best checkpoint.

    Examples:
        >>> best, last = checkpoint_callbacks("exp/checkpoints", every_n_train_steps=100)
        >>> best.monitor, last.filename
        ('val_sdr', 'last')
    """
    dirpath = os.fspath(dirpath)
    best = ModelCheckpoint(
        dirpath=dirpath,
        monitor="val_sdr",
        mode="max",
        save_top_k=save_top_k,
        filename="{epoch}-{step}-{val_sdr:.2f}",
    )
    return [best, LastCheckpoint(dirpath, every_n_train_steps)]


class LastCheckpoint(ModelCheckpoint):
    """``last.ckpt``: the latest state, written at every training epoch end, after every
    validation, every ``every_n_train_steps`` optimizer steps and when the budget ends.

    Lightning's ``ModelCheckpoint`` takes one trigger (steps or epochs), and writes at epoch
    ends only when validation runs once per epoch: with ``val_check_interval`` in steps, the
    first ``last.ckpt`` came with the first validation and a kill before it lost every step.

    An epoch's end is written after its last batch (``on_train_batch_end``), not in
    ``on_train_epoch_end``: a run resumed from a file written there drew other batches than
    an uninterrupted one (``tests/engine/test_system.py``).

    Args:
        dirpath: The checkpoint folder.
        every_n_train_steps: Also write every so many optimizer steps (None or 0: only at
            epoch ends, after validations and at the end).

    Examples:
        >>> last = LastCheckpoint("exp/checkpoints", every_n_train_steps=100)
        >>> last.filename, last.saved_step
        ('last', None)
    """

    def __init__(self, dirpath: Union[str, os.PathLike], every_n_train_steps: Optional[int] = None):
        super().__init__(
            dirpath=os.fspath(dirpath),
            filename="last",
            monitor=None,
            save_top_k=1,
            every_n_train_steps=0,  # the triggers are below
            every_n_epochs=0,
            enable_version_counter=False,
        )
        self.every = every_n_train_steps or 0
        self.saved_step: Optional[int] = None  # the global step of the newest last.ckpt

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        super()._save_checkpoint(trainer, filepath)
        self.saved_step = trainer.global_step

    def _save(self, trainer) -> None:
        self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))

    @staticmethod
    def _fitting(trainer) -> bool:
        from pytorch_lightning.trainer.states import TrainerFn

        return (
            trainer.state.fn == TrainerFn.FITTING
            and not trainer.sanity_checking
            and not trainer.fast_dev_run
        )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self._fitting(trainer) or self.saved_step == trainer.global_step:
            return
        step = trainer.global_step
        epoch_end = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch or (
            batch_idx + 1 >= trainer.num_training_batches
        )
        budget_end = trainer.max_steps is not None and 0 < trainer.max_steps <= step
        if epoch_end or budget_end or (self.every and step % self.every == 0):
            self._save(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # only if no batch wrote this step (an epoch cut short, e.g. by a stop request)
        if self._fitting(trainer) and self.saved_step != trainer.global_step:
            self._save(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        # Always, even when a step trigger wrote this step just before the validation: a
        # resume from that file skips the validation (Lightning fast-forwards past it), and
        # its val_sdr, and maybe the best checkpoint, would be lost.
        if self._fitting(trainer):
            self._save(trainer)


class UnsafeCheckpointError(ValueError):
    """A checkpoint holds Python objects that ``torch.load(weights_only=True)`` refuses:
    unpickling them could run code, so it was not loaded."""


def read_checkpoint(path: PathLike, trust: bool = False) -> Dict[str, Any]:
    """A Lightning checkpoint's content, read with ``weights_only=True`` unless ``trust``.

    Our own checkpoints hold tensors and plain Python values only, so they load safely; a
    ``.ckpt`` received from someone else can hold any pickled object, which
    ``weights_only=False`` would run.

    Args:
        path: The ``.ckpt`` file.
        trust: Load with ``weights_only=False`` (``--trust-checkpoint``): only for a file
            you made or trust.

    Returns:
        dict: the checkpoint (``global_step``, ``epoch``, ``state_dict``, ...), on the CPU.

    Raises:
        UnsafeCheckpointError: the file holds other objects (and ``trust`` is False).
        ValueError: the file is not a checkpoint (e.g. cut short).

    Examples:
        >>> state = read_checkpoint("exp/weak/checkpoints/last.ckpt")  # doctest: +SKIP
        >>> state["global_step"]  # doctest: +SKIP
        600
    """
    path = os.fspath(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as err:
        if trust:
            raise
        # torch's message is long; the line that names the refused GLOBAL says enough
        lines = [ln.strip() for ln in str(err).splitlines() if "GLOBAL" in ln]
        what = lines[0] if lines else str(err).strip().splitlines()[0]
        raise UnsafeCheckpointError(
            f"{path} holds Python objects that are not plain weights ({what}); it was not "
            "loaded, because unpickling it could run code. If you made this file or trust "
            "it, pass --trust-checkpoint (train(..., trust_checkpoint=True)); otherwise use "
            "--restart to start over."
        ) from None
    except (RuntimeError, EOFError, OSError) as err:  # not a zip, cut short, unreadable
        raise ValueError(
            f"{path} cannot be read as a checkpoint ({err}); --restart starts over"
        ) from err
    if not isinstance(state, dict) or "global_step" not in state:
        raise ValueError(f"{path} is not a Lightning checkpoint (no global_step)")
    return state


def run_finished(state: Dict[str, Any], training: Dict[str, Any]) -> bool:
    """Whether a checkpoint already holds the whole budget of ``training``: Lightning's own
    stop rule (``max_steps`` optimizer steps, or ``max_epochs`` epochs) on its counters.

    Args:
        state: A checkpoint (:func:`read_checkpoint`).
        training: The ``training`` block of the config (``max_steps``, ``max_epochs``).

    Returns:
        bool: True when resuming from ``state`` would train nothing.

    Examples:
        >>> run_finished({"global_step": 600, "epoch": 3}, {"max_steps": 600})
        True
        >>> run_finished({"global_step": 600, "epoch": 3}, {"max_steps": 1000})
        False
    """
    max_steps = training.get("max_steps", -1)
    max_epochs = training.get("max_epochs", 200)
    if max_steps is not None and max_steps > 0 and state["global_step"] >= max_steps:
        return True
    # epochs whose training ended (the fit loop's own count; "epoch" lags by one in a
    # checkpoint written at an epoch end)
    progress = state.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {})
    epochs = progress.get("current", {}).get("processed", state.get("epoch", 0))
    return max_epochs is not None and max_epochs >= 0 and epochs >= max_epochs


# -------------------------------------------------------------------------------------- logs
def _step(row: Dict[str, Any]) -> Optional[int]:
    value = row.get("step")
    return None if value in (None, "") else int(float(value))


def _write_rows_atomic(path: str, fieldnames: List[str], rows: List[Dict[str, Any]]) -> None:
    """Write a CSV through a temporary file in the same folder: a kill mid-write leaves the
    old file whole."""
    with atomic_write(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)


class HistoryWriter(ExperimentWriter):
    """Lightning's CSV writer, minus its deletion of ``metrics.csv`` when a run starts.

    ``keep=True`` (a resumed run, or a rerun after a kill before any checkpoint): the rows
    already in ``metrics.csv`` stay; at the first save, those of the steps this run logs
    again (every step from its first one on: work the checkpoint did not hold, done again)
    are dropped, so that every step appears once. ``keep=False`` (``--restart``): the old
    file is moved to ``metrics.before-restart-<n>.csv``.

    Rows are appended; a rewrite (new columns, or the first save of a resumed run) goes
    through a temporary file, so that a kill never leaves a cut file.

    Args:
        log_dir: The ``logs`` folder.
        keep: Keep the rows already there (see above).
    """

    def __init__(self, log_dir: str, keep: bool = True):
        self._keep = keep
        self._trim = False
        self._file_keys: List[str] = []
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:  # Lightning deletes metrics.csv here
        path = self.metrics_file_path
        if not os.path.isfile(path):
            return
        if not self._keep:
            n = 1
            while os.path.exists(self._aside(n)):
                n += 1
            os.replace(path, self._aside(n))
            return
        fieldnames, _ = read_metrics_file(path)
        self.metrics_keys = list(fieldnames)
        self._file_keys = list(fieldnames)  # appended rows follow the file's header
        self._trim = True

    def _aside(self, n: int) -> str:
        return os.path.join(self.log_dir, f"metrics.before-restart-{n}.csv")

    def save(self) -> None:
        """Write the rows logged since the last save."""
        if not self.metrics:
            return
        path = self.metrics_file_path
        new_keys = self._record_new_keys()
        exists = os.path.isfile(path)
        if exists and not (self._trim or new_keys) and self._file_keys:
            with open(path, "a", newline="") as f:  # the common case: new rows only
                csv.DictWriter(f, fieldnames=self._file_keys).writerows(self.metrics)
        else:  # a new file, new columns, or the first rows of a resumed run
            _, rows = read_metrics_file(path) if exists else ([], [])
            if self._trim:  # this run redoes every step from its first one on
                steps = [s for s in map(_step, self.metrics) if s is not None]
                if steps:
                    rows = [r for r in rows if _step(r) is None or _step(r) < min(steps)]
                self._trim = False
            _write_rows_atomic(path, self.metrics_keys, rows + self.metrics)
            self._file_keys = list(self.metrics_keys)
        self.metrics = []


class HistoryCSVLogger(CSVLogger):
    """Lightning's ``CSVLogger`` writing ``<exp_dir>/logs/metrics.csv``, which keeps the
    history of the run (:class:`HistoryWriter`): Lightning's deletes the file when a run
    starts again, so a resumed run kept only its own rows.

    Rows go to the file at every logged step (Lightning's: every 100th, so a kill lost up
    to 100 steps of rows that the checkpoint held).

    Args:
        exp_dir: The experiment folder.
        keep: Keep the rows already there, dropping those of the steps this run logs again;
            False (``--restart``): move the old file to
            ``logs/metrics.before-restart-<n>.csv`` and start a new one.

    Examples:
        >>> logger = HistoryCSVLogger("exp/weak")
        >>> os.path.normpath(logger.log_dir)
        'exp/weak/logs'
    """

    def __init__(self, exp_dir: PathLike, keep: bool = True):
        super().__init__(os.fspath(exp_dir), name="logs", version="", flush_logs_every_n_steps=1)
        self._keep = keep

    @property
    @rank_zero_experiment
    def experiment(self) -> HistoryWriter:
        """The writer, made on first use: on rank 0 only, once DDP has started."""
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = HistoryWriter(self.log_dir, self._keep)
        return self._experiment
