"""Validation curves of a comparison: mean over seeds with the min-max band (PNG)."""

import csv
import os
from pathlib import Path
from typing import List, Mapping, Optional, Tuple, Union

import numpy as np

from ..utils import refuse_overwrite

__all__ = ["read_curve", "seed_curves", "plot_curves"]

PathLike = Union[str, os.PathLike]


def read_curve(exp_dir: PathLike, metric: str = "val_sdr") -> Tuple[List[int], List[float]]:
    """(steps, values) of a validation metric from ``<exp_dir>/logs/metrics.csv``."""
    path = Path(exp_dir) / "logs" / "metrics.csv"
    steps, values = [], []
    if not path.is_file():
        return steps, values
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row.get(metric):
                steps.append(int(row["step"]))
                values.append(float(row[metric]))
    return steps, values


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
    min-max band of the seeds. Rows without curves (the mixture) are left out.

    Returns:
        str: the path, or None when no row has a curve (nothing is written: an empty
        figure would hide that the logs are missing).

    Raises:
        FileExistsError: ``path`` exists and ``force`` is False.
    """
    from matplotlib.figure import Figure

    path = Path(path)
    refuse_overwrite(path, force=force)
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    drawn = 0
    for name, folder in rows.items():
        steps, values = seed_curves(folder, metric)
        if values is None or not len(steps):
            continue
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
        drawn += 1
    if not drawn:
        return None
    ax.set_xlabel("training step")
    name = metric[4:] if metric.startswith("val_") else metric
    label = name.upper().replace("_", "-")
    ax.set_ylabel(f"{'validation ' if name != metric else ''}{label} (dB)")
    ax.set_title("mean over seeds; band: min to max of the seeds", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return str(path)


# ------------------------------------------------------------------------------- the report
