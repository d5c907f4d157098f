"""Reports of a comparison: tables with intervals, paired claims, curves with spread.

A comparison is a set of rows ``{name: folder}``; a folder is one evaluated run or a method
folder with one evaluated run per seed (``seed0/``, ``seed1/``, ...), all scored on the same
fixed test set. :func:`compare` reads them and gives

- the table of the paper's Table 1 shape (SDR, SIR, SAR, SDRi), each cell the mean over
  seeds with a 95 % interval: Student-t over the seeds' test means when a row has two or
  more seeds, else a bootstrap over the test mixtures (a single run's test-set chance);
- claims (:func:`parse_claim`): any arithmetic of row means, e.g. ``weak - mix_and_separate``
  or ``sdri: weak / mix_and_separate >= 1.5``, each with a two-level paired bootstrap
  interval (:func:`~asteroid_wsas.stats.paired_bootstrap`) and, with a goal, whether the
  whole interval clears it;
- the validation curves of every row, mean over seeds with the min-max band.
"""

import ast
import csv
import json
import math
import operator
import os
import platform
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..stats import (
    SeedScores,
    format_interval,
    load_seed_scores,
    paired_bootstrap,
    seed_interval,
)
from ..utils import refuse_overwrite

PathLike = Union[str, os.PathLike]
TABLE_METRICS = ("sdr", "sir", "sar", "sdri")
LABELS = {"sdr": "SDR", "sir": "SIR", "sar": "SAR", "sdri": "SDRi", "si_sdr": "SI-SDR"}
_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_GOALS = {ast.GtE: ">=", ast.Gt: ">", ast.LtE: "<=", ast.Lt: "<"}


# ---------------------------------------------------------------------------------- claims
class Claim:
    """A statement about row means: ``[metric:] expression [>=|>|<=|< goal]``.

    Args:
        text: e.g. ``"weak - mix_and_separate"``, ``"weak / supervised >= 0.9"`` or
            ``"sdri: weak / mix_and_separate >= 1.5"``; names are rows of the comparison.

    Examples:
        >>> c = Claim("sdri: weak / mix_and_separate >= 1.5")
        >>> c.metric, c.names, c.goal, c({"weak": 3.0, "mix_and_separate": 1.5})
        ('sdri', ['weak', 'mix_and_separate'], ('>=', 1.5), 2.0)
    """

    def __init__(self, text: str):
        self.text = text.strip()
        metric, sep, rest = self.text.partition(":")
        self.metric, body = (metric.strip().lower(), rest) if sep else ("sdr", self.text)
        try:
            tree = ast.parse(body.strip(), mode="eval").body
        except SyntaxError as err:
            raise ValueError(f"claim {text!r}: not an expression of row names ({err.msg})")
        self.goal: Optional[Tuple[str, float]] = None
        if isinstance(tree, ast.Compare):
            if len(tree.ops) != 1 or type(tree.ops[0]) not in _GOALS:
                raise ValueError(f"claim {text!r}: one comparison (>=, >, <=, <) at most")
            goal = self._number(tree.comparators[0], text)
            self.goal = (_GOALS[type(tree.ops[0])], goal)
            tree = tree.left
        self.tree = tree
        self.names: List[str] = []
        self._check(tree, text)
        self.expression = ast.unparse(tree)

    @staticmethod
    def _number(node, text: str) -> float:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -Claim._number(node.operand, text)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        raise ValueError(f"claim {text!r}: the goal must be a number")

    def _check(self, node, text: str) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            self._check(node.left, text)
            self._check(node.right, text)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            self._check(node.operand, text)
        elif isinstance(node, ast.Name):
            if node.id not in self.names:
                self.names.append(node.id)
        elif not (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))):
            raise ValueError(f"claim {text!r}: only row names, numbers and + - * / ( )")

    def _eval(self, node, means: Mapping[str, float]) -> float:
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, means), self._eval(node.right, means)
            if isinstance(node.op, ast.Div) and right == 0:
                return math.nan
            return _OPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            return -self._eval(node.operand, means)
        if isinstance(node, ast.Name):
            return means[node.id]
        return float(node.value)

    def __call__(self, means: Mapping[str, float]) -> float:
        return self._eval(self.tree, means)

    def verdict(self, low: float, high: float) -> Optional[bool]:
        """Whether the whole interval ``[low, high]`` satisfies the goal (None: no goal)."""
        if self.goal is None:
            return None
        op, goal = self.goal
        if op in (">=", ">"):
            return bool(low >= goal if op == ">=" else low > goal)
        return bool(high <= goal if op == "<=" else high < goal)


def parse_claim(text: str) -> Claim:
    """See :class:`Claim`."""
    return Claim(text)


# ---------------------------------------------------------------------------------- reading
def row_scores(folder: PathLike, metrics: Sequence[str] = TABLE_METRICS) -> Dict[str, SeedScores]:
    """Per-mixture scores of every seed of a row, per metric."""
    return {m: load_seed_scores(folder, m) for m in metrics}


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
def machine() -> Dict[str, Any]:
    """What the numbers were measured on: CPU, cores, torch, bf16 kernels, GPU."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            info = f.read()
        names = [ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln]
        cpu = names[0] if names else cpu
        flags = next((ln for ln in info.splitlines() if ln.startswith("flags")), "")
        isa = [f for f in ("avx512_bf16", "amx_bf16") if f" {f}" in flags]
    except OSError:
        isa = []
    out = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "bf16_isa": isa or ["none"],
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def compare(
    rows: Mapping[str, PathLike],
    claims: Sequence[str] = (),
    metrics: Sequence[str] = TABLE_METRICS,
    n_resamples: int = 10000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Dict[str, Any]:
    """Read the rows' results and compute the table cells and the claims.

    Args:
        rows: ``{name: folder}`` in table order (see the module docstring).
        claims: Claim texts (:class:`Claim`) over the row names.
        metrics: Table columns.
        n_resamples: Bootstrap replicates.
        confidence: Interval coverage.
        seed: Seed of the bootstrap (same data, same intervals).

    Returns:
        dict: ``rows`` (per row: seeds, per metric the mean, interval, interval kind and
        per-seed means), ``claims`` (text, value, low, high, goal, holds), ``mixtures``.

    Raises:
        ValueError: a claim names an unknown row; rows scored on different test sets.
    """
    parsed = [Claim(c) for c in claims]
    for claim in parsed:
        unknown = [n for n in claim.names if n not in rows]
        if unknown:
            raise ValueError(
                f"claim {claim.text!r} names unknown rows {unknown}; rows: {list(rows)}"
            )
        if claim.metric not in metrics:
            raise ValueError(f"claim {claim.text!r}: metric must be one of {list(metrics)}")
    scores = {name: row_scores(folder, metrics) for name, folder in rows.items()}
    ids = {name: set(s[metrics[0]].mixture_ids) for name, s in scores.items()}
    first = next(iter(ids))
    for name, these in ids.items():
        if these != ids[first]:
            raise ValueError(
                f"rows {first!r} and {name!r} were scored on different test mixtures "
                f"({len(ids[first])} vs {len(these)}): compare runs of one test set"
            )
    out_rows: Dict[str, Any] = {}
    for name, per_metric in scores.items():
        entry: Dict[str, Any] = {"folder": os.fspath(rows[name])}
        for metric, s in per_metric.items():
            entry["seeds"] = s.seeds
            seed_means = s.seed_means
            if len(seed_means) > 1:
                stats = seed_interval(seed_means, confidence)
                kind = "t over seeds"
            else:
                boot = paired_bootstrap(
                    {name: s}, lambda m, n=name: m[n], n_resamples, confidence, seed
                )
                stats = {"mean": boot["value"], "low": boot["low"], "high": boot["high"]}
                kind = "bootstrap over mixtures"
            entry[metric] = {**stats, "interval": kind, "per_seed": seed_means.tolist()}
        out_rows[name] = entry
    out_claims = []
    for claim in parsed:
        boot = paired_bootstrap(
            {n: scores[n][claim.metric] for n in claim.names}, claim, n_resamples, confidence, seed
        )
        out_claims.append(
            {
                "claim": claim.text,
                "metric": claim.metric,
                "expression": claim.expression,
                **boot,
                "goal": None if claim.goal is None else f"{claim.goal[0]} {claim.goal[1]:g}",
                "holds": claim.verdict(boot["low"], boot["high"]),
            }
        )
    n_mix = len(ids[first])
    return {"rows": out_rows, "claims": out_claims, "mixtures": n_mix, "confidence": confidence}


def format_report(
    result: Mapping[str, Any],
    title: str = "",
    metrics: Sequence[str] = TABLE_METRICS,
    notes: Sequence[str] = (),
) -> str:
    """Markdown of :func:`compare`'s result: the table, the claims, notes and footnotes."""
    pct = int(round(100 * result["confidence"]))
    lines = [f"**{title}**", ""] if title else []
    lines += [
        "| Method | seeds | " + " | ".join(LABELS.get(m, m) for m in metrics) + " |",
        "|---|---|" + "---|" * len(metrics),
    ]
    kinds = set()
    for name, row in result["rows"].items():
        cells = []
        for m in metrics:
            cells.append(format_interval(row[m]))
            kinds.add(row[m]["interval"])
        lines.append(f"| {name} | {len(row['seeds'])} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Cells: mean [{pct} % interval] in dB over {result['mixtures']} test mixtures; "
        + "; ".join(
            {
                "t over seeds": "rows with several seeds: Student-t over the seeds' test means "
                "(the spread of a rerun with another seed)",
                "bootstrap over mixtures": "rows with one run: bootstrap of the mean over the "
                "test mixtures (test-set chance only)",
            }[k]
            for k in sorted(kinds, reverse=True)
        )
        + ".",
    ]
    multi = {n: r for n, r in result["rows"].items() if len(r["seeds"]) > 1}
    if multi:
        lines += [
            "",
            "SDR of each seed: "
            + "; ".join(
                f"{n} " + ", ".join(f"{v:.2f}" for v in r["sdr"]["per_seed"])
                for n, r in multi.items()
            ),
        ]
    if result["claims"]:
        lines += [
            "",
            f"| Claim (paired over test mixtures) | value | {pct} % interval | goal | holds |",
            "|---|---|---|---|---|",
        ]
        for c in result["claims"]:
            holds = {None: "-", True: "yes", False: "**no**"}[c["holds"]]
            metric = LABELS.get(c["metric"], c["metric"])
            lines.append(
                f"| {metric}: {c['expression']} | {c['value']:.2f} | "
                f"[{c['low']:.2f}, {c['high']:.2f}] | {c['goal'] or '-'} | {holds} |"
            )
        lines += [
            "",
            "Claims: the expression of the rows' means; interval from a two-level bootstrap "
            "(test mixtures resampled jointly for all rows, each row's seeds resampled on "
            "their own); it holds when the whole interval clears the goal.",
        ]
    if notes:
        lines += [""] + [f"{n}" for n in notes]
    return "\n".join(lines)


def write_report(
    result: Mapping[str, Any],
    path: PathLike,
    title: str = "",
    notes: Sequence[str] = (),
    force: bool = False,
) -> Tuple[str, str]:
    """Write ``<path>`` (Markdown) and the same name with ``.json`` (everything, for tools).

    Raises:
        FileExistsError: an output exists and ``force`` is False.
    """
    path = Path(path)
    json_path = path.with_suffix(".json")
    refuse_overwrite(path, json_path, force=force)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = format_report(result, title, notes=notes)
    path.write_text(text + "\n", encoding="utf-8")
    json_path.write_text(
        json.dumps({"title": title, "notes": list(notes), **result}, indent=1), encoding="utf-8"
    )
    return str(path), str(json_path)


def report_notes(wall_seconds: Optional[float] = None, extra: Sequence[str] = ()) -> List[str]:
    """The machine line (and the wall time) printed under a table."""
    m = machine()
    line = (
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['torch_threads']} torch threads), "
        f"bf16 ISA: {', '.join(m['bf16_isa'])}, torch {m['torch']}"
        + (f", GPU: {m['gpu']}" if "gpu" in m else "")
    )
    if wall_seconds is not None:
        minutes, seconds = divmod(int(round(wall_seconds)), 60)
        line += f". Wall time: {minutes} min {seconds:02d} s"
    return [line + "."] + list(extra)
