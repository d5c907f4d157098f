"""Validation curves of a comparison: mean over seeds with the min-max band (PNG)."""

import math
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from ..utils import atomic_write, read_metrics_file, refuse_overwrite

__all__ = ["read_curve", "seed_curves", "plot_curves"]

PathLike = Union[str, os.PathLike]


def read_curve(exp_dir: PathLike, metric: str = "val_sdr") -> Tuple[List[int], List[float]]:
    """(steps, values) of a validation metric from ``<exp_dir>/logs/metrics.csv``, in step
    order: the run's whole history, across kills and resumes (the training logger keeps the
    rows of earlier segments there; see
    :class:`~asteroid_wsas.engine.training.HistoryCSVLogger`).

    A step logged twice counts once, with its later value; non-finite values are left out.

    Args:
        exp_dir: The experiment folder (a run of one seed).
        metric: The column, e.g. ``val_sdr`` or ``val_sdri``.

    Returns:
        tuple: (steps, values), empty lists without a log.

    Examples:
        >>> read_curve("/no/such/run")
        ([], [])
    """
    _, rows = read_metrics_file(Path(exp_dir) / "logs" / "metrics.csv")
    by_step: Dict[int, float] = {}
    for row in rows:
        if row.get(metric) and row.get("step"):
            value = float(row[metric])
            if math.isfinite(value):
                by_step[int(float(row["step"]))] = value
    steps = sorted(by_step)
    return steps, [by_step[s] for s in steps]


def _run_dirs(folder: PathLike) -> List[Path]:
    """The run folders of a row: its seeds, or itself (also before evaluation)."""
    folder = Path(folder)
    seeds = sorted(
        (p for p in folder.glob("seed*") if p.is_dir()), key=lambda p: (len(p.name), p.name)
    )
    return seeds or [folder]


def seed_curves(
    folder: PathLike, metric: str = "val_sdr"
) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Validation curves of every seed of a row on their common steps: (steps, (S, n))."""
    curves = [dict(zip(*read_curve(run, metric))) for run in _run_dirs(folder)]
    curves = [c for c in curves if c]
    if not curves:
        return np.zeros(0, int), None
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    return np.array(steps), np.array([[c[s] for s in steps] for c in curves])


def plot_curves(
    rows: Mapping[str, PathLike],
    path: PathLike,
    metric: str = "val_sdr",
    force: bool = False,
) -> Optional[str]:
    """One PNG of ``metric`` over training steps: per row the mean over seeds and the
    min-max band of the seeds, from each run's whole logged history. Rows without curves
    (the mixture) are left out.

    Nothing is written when no row has a curve: an existing PNG is kept as it is (an empty
    figure would hide that the logs are missing). The PNG is written through a temporary
    file, so that a kill never leaves a cut one.

    Args:
        rows: Row name -> its folder (the seeds' runs in ``seed*/``, or one run).
        path: The PNG.
        metric: The logged column, e.g. ``val_sdr``.
        force: Overwrite an existing PNG.

    Returns:
        str: the path, or None when no row has a curve (nothing written, the old file kept).

    Raises:
        FileExistsError: ``path`` exists and ``force`` is False.

    Examples:
        >>> plot_curves({"weak": "exp/2src/weak"}, "exp/val_sdr.png", force=True)  # doctest: +SKIP
        'exp/val_sdr.png'
    """
    from matplotlib.figure import Figure

    path = Path(path)
    refuse_overwrite(path, force=force)
    curves = {}
    for name, folder in rows.items():
        steps, values = seed_curves(folder, metric)
        if values is not None and len(steps):
            curves[name] = (steps, values)
    if not curves:
        return None
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    for name, (steps, values) in curves.items():
        n = values.shape[0]
        line = ax.plot(
            steps,
            values.mean(0),
            marker="o",
            ms=3,
            label=f"{name} ({n} seed" f"{'s' if n > 1 else ''})",
        )[0]
        if n > 1:
            ax.fill_between(steps, values.min(0), values.max(0), color=line.get_color(), alpha=0.2)
    every = np.concatenate([s for s, _ in curves.values()])
    if every.min() == every.max():  # one validation: a range around it (no singular xlim)
        ax.set_xlim(every.min() - 1, every.max() + 1)
    ax.set_xlabel("training step")
    name = metric[4:] if metric.startswith("val_") else metric
    label = name.upper().replace("_", "-")
    ax.set_ylabel(f"{'validation ' if name != metric else ''}{label} (dB)")
    ax.set_title("mean over seeds; band: min to max of the seeds", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:  # the umask's permissions
        fig.savefig(f, format="png", dpi=110)
    return str(path)
