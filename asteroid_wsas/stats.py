"""Statistics for comparisons: intervals over seeds, paired per-mixture differences.

A table row is a method trained with several seeds and scored on one fixed test set. Two
sources of chance move its number: the training run (seed) and the test mixtures drawn.

- :func:`seed_interval`: mean over seeds of the test-set means with a Student-t interval
  (the spread a rerun with a new seed would show).
- :func:`paired_bootstrap`: a statistic of several methods (a difference, a ratio, ...)
  with a percentile interval from a two-level bootstrap: test mixtures are resampled
  jointly for every method (the comparison is *paired*: each mixture is scored by each
  method) and each method's seeds are resampled on their own. Both sources of chance are
  in the interval.

Scores come as :class:`SeedScores`: one row per seed, one column per test mixture (the
per-mixture mean over queries, as the paper averages), read from the ``all_metrics.csv``
files that ``asteroid-wsas evaluate`` writes.
"""

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Sequence, Tuple, Union

import numpy as np

PathLike = Union[str, os.PathLike]

__all__ = [
    "SeedScores",
    "seed_interval",
    "paired_bootstrap",
    "read_per_mixture",
    "load_seed_scores",
    "seed_dirs",
    "format_interval",
]


@dataclass
class SeedScores:
    """Per-mixture scores of one method: ``values[s, m]`` for seed ``s`` and mixture ``m``.

    Attributes:
        values: :math:`(S, M)` array; NaN where a mixture had no scored query.
        mixture_ids: The M mixture ids (the same order for every method compared).
        seeds: A name per row (e.g. the seed folders).
    """

    values: np.ndarray
    mixture_ids: List[str]
    seeds: List[str]

    def __post_init__(self):
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.values.ndim != 2:
            raise ValueError(f"values must be (seeds, mixtures), got shape {self.values.shape}")
        if self.values.shape != (len(self.seeds), len(self.mixture_ids)):
            raise ValueError(
                f"values shape {self.values.shape} does not match {len(self.seeds)} seeds "
                f"and {len(self.mixture_ids)} mixture ids"
            )

    @property
    def seed_means(self) -> np.ndarray:
        """Test-set mean of each seed (NaN mixtures left out)."""
        return np.nanmean(self.values, axis=1)


def seed_interval(values: Sequence[float], confidence: float = 0.95) -> Dict[str, float]:
    """Mean of per-seed results with a two-sided Student-t interval.

    Args:
        values: One number per seed (e.g. each seed's test-set mean SDR).
        confidence: Coverage of the interval.

    Returns:
        dict: ``mean``, ``low``, ``high``, ``std`` (sample, ddof=1) and ``n``; with one seed
        the interval is NaN (a single run has no spread to report).

    Examples:
        >>> r = seed_interval([1.0, 2.0, 3.0])
        >>> r["mean"], round(r["low"], 3), round(r["high"], 3)
        (2.0, -0.484, 4.484)
    """
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = len(x)
    if n == 0:
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "std": math.nan, "n": 0}
    mean = float(x.mean())
    if n == 1:
        return {"mean": mean, "low": math.nan, "high": math.nan, "std": math.nan, "n": 1}
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return {"mean": mean, "low": mean - half, "high": mean + half, "std": std, "n": n}


def _aligned(methods: Mapping[str, SeedScores]) -> Tuple[List[str], Dict[str, np.ndarray]]:
    """The mixtures every method scored, as (S, M) arrays in one common order."""
    common = None
    for scores in methods.values():
        ids = set(scores.mixture_ids)
        common = ids if common is None else common & ids
    if not common:
        raise ValueError("the methods share no test mixture; were they scored on one test set?")
    first = next(iter(methods.values()))
    order = [m for m in first.mixture_ids if m in common]
    out = {}
    for name, scores in methods.items():
        index = {m: i for i, m in enumerate(scores.mixture_ids)}
        out[name] = scores.values[:, [index[m] for m in order]]
    # a mixture that some method could not score (all references silent) leaves the test
    keep = np.all([~np.isnan(v).any(0) for v in out.values()], axis=0)
    return [m for m, k in zip(order, keep) if k], {n: v[:, keep] for n, v in out.items()}


def paired_bootstrap(
    methods: Mapping[str, SeedScores],
    statistic: Callable[[Dict[str, float]], float],
    n_resamples: int = 10000,
    confidence: float = 0.95,
    seed: int = 0,
    resample_seeds: bool = True,
) -> Dict[str, float]:
    """A statistic of several methods' mean scores, with a two-level bootstrap interval.

    Each replicate draws M test mixtures with replacement (the same draw for every method:
    paired) and, per method, S seeds with replacement; each method's mean over the drawn
    seeds and mixtures goes to ``statistic``.

    Args:
        methods: ``{name: SeedScores}`` scored on the same test set.
        statistic: Maps ``{name: mean score}`` to a number, e.g.
            ``lambda m: m["weak"] - m["mix_and_separate"]``.
        n_resamples: Bootstrap replicates.
        confidence: Coverage of the percentile interval.
        seed: Seed of the resampling (same seed, same interval).
        resample_seeds: Also resample seeds (False: test-set chance only).

    Returns:
        dict: ``value`` (on the full data), ``low``, ``high``, ``mixtures`` (M used),
        ``p_le_zero`` (share of replicates <= 0, a one-sided bootstrap p-value for a
        positive statistic).

    Examples:
        >>> a = SeedScores([[1.0, 2.0, 3.0], [1.5, 2.5, 3.5]], ["x", "y", "z"], ["s0", "s1"])
        >>> b = SeedScores([[0.0, 1.0, 2.0], [0.5, 1.5, 2.5]], ["x", "y", "z"], ["s0", "s1"])
        >>> diff = lambda m: m["a"] - m["b"]
        >>> r = paired_bootstrap({"a": a, "b": b}, diff, n_resamples=200, resample_seeds=False)
        >>> round(r["low"], 6), round(r["high"], 6)  # a is 1 dB above b on every mixture
        (1.0, 1.0)
        >>> r = paired_bootstrap({"a": a, "b": b}, diff, n_resamples=200)
        >>> round(r["low"], 2), round(r["high"], 2)  # but the seeds of each differ by 0.5 dB
        (0.5, 1.5)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    ids, arrays = _aligned(methods)
    n_mix = len(ids)
    value = float(statistic({n: float(v.mean()) for n, v in arrays.items()}))
    rng = np.random.default_rng(seed)
    reps = np.empty(n_resamples)
    # mixtures drawn per replicate, shared by every method: (R, M) counts
    picks = rng.integers(0, n_mix, size=(n_resamples, n_mix))
    counts = np.zeros((n_resamples, n_mix))
    np.add.at(counts, (np.arange(n_resamples)[:, None], picks), 1.0)
    means = {}
    for name, v in arrays.items():
        n_seeds = v.shape[0]
        if resample_seeds and n_seeds > 1:
            seeds = rng.integers(0, n_seeds, size=(n_resamples, n_seeds))
            per_mix = v[seeds].mean(1)  # (R, M): the drawn seeds' mean per mixture
        else:
            per_mix = np.broadcast_to(v.mean(0), (n_resamples, n_mix))
        means[name] = (per_mix * counts).sum(1) / n_mix
    for r in range(n_resamples):
        reps[r] = statistic({n: float(m[r]) for n, m in means.items()})
    reps = reps[np.isfinite(reps)]
    alpha = (1 - confidence) / 2
    low, high = np.quantile(reps, [alpha, 1 - alpha]) if len(reps) else (math.nan, math.nan)
    return {
        "value": value,
        "low": float(low),
        "high": float(high),
        "mixtures": n_mix,
        "p_le_zero": float((reps <= 0).mean()) if len(reps) else math.nan,
    }


# ------------------------------------------------------------------------------- reading
def read_per_mixture(path: PathLike, metric: str = "sdr") -> Dict[str, float]:
    """Per-mixture mean of ``metric`` over the scored queries of an ``all_metrics.csv``.

    Returns:
        dict: mixture id -> mean (NaN when every query of the mixture was skipped).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file has no ``metric`` column.
    """
    sums: Dict[str, List[float]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if metric not in (reader.fieldnames or ()):
            raise ValueError(f"{path} has no {metric!r} column ({reader.fieldnames})")
        for row in reader:
            scores = sums.setdefault(row["mixture_id"], [])
            if row[metric] not in ("", "nan") and row.get("skipped", "False") != "True":
                scores.append(float(row[metric]))
    return {m: float(np.mean(v)) if v else math.nan for m, v in sums.items()}


def seed_dirs(path: PathLike) -> List[Path]:
    """The scored runs of a method: ``path`` itself, or its ``seed*/`` sub-folders.

    A run is a folder holding ``all_metrics.csv`` (written by ``asteroid-wsas evaluate``).

    Raises:
        FileNotFoundError: neither ``path`` nor any ``seed*/`` below it holds results.
    """
    path = Path(path)
    if (path / "all_metrics.csv").is_file():
        return [path]
    runs = sorted(
        (p for p in path.glob("seed*") if (p / "all_metrics.csv").is_file()),
        key=lambda p: (len(p.name), p.name),
    )
    if not runs:
        raise FileNotFoundError(
            f"{path}: no all_metrics.csv here nor in {path}/seed*/ (run asteroid-wsas evaluate)"
        )
    return runs


def load_seed_scores(
    path: PathLike, metric: str = "sdr", csv_name: str = "all_metrics.csv"
) -> SeedScores:
    """The per-mixture scores of every seed of a method (see :func:`seed_dirs`).

    Raises:
        ValueError: the seeds were scored on different test mixtures.
    """
    runs = seed_dirs(path)
    tables = [read_per_mixture(run / csv_name, metric) for run in runs]
    ids = list(tables[0])
    for run, table in zip(runs[1:], tables[1:]):
        if set(table) != set(ids):
            raise ValueError(f"{run} was scored on other test mixtures than {runs[0]}")
    values = np.array([[t[m] for m in ids] for t in tables])
    return SeedScores(values, ids, [run.name for run in runs])


def format_interval(stats: Mapping[str, float], digits: int = 2) -> str:
    """``mean [low, high]``, or the mean alone when there is no interval.

    Examples:
        >>> format_interval({"mean": 1.234, "low": 0.5, "high": 2.0})
        '1.23 [0.50, 2.00]'
    """
    centre = stats.get("mean", stats.get("value"))
    if centre is None or not np.isfinite(centre):
        return "-"
    if not (np.isfinite(stats.get("low", math.nan)) and np.isfinite(stats.get("high", math.nan))):
        return f"{centre:.{digits}f}"
    return f"{centre:.{digits}f} [{stats['low']:.{digits}f}, {stats['high']:.{digits}f}]"
