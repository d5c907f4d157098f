"""Reports of a comparison: tables with intervals, paired claims (:mod:`.claims`), curves
with spread (:mod:`.curves`).

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

import json
import math
import os
import platform
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..stats import (
    SeedScores,
    format_interval,
    load_seed_scores,
    paired_bootstrap,
    seed_interval,
)
from ..metrics import CLAP_LABELS, CLAP_METRICS, LABELS, METRICS, TABLE_METRICS

# every column a comparison can show: BSS-Eval, energy-ratio SDR, CLAPScore
COLUMN_LABELS = {**LABELS, **CLAP_LABELS}
from ..utils import refuse_overwrite
from .claims import Claim, parse_claim
from .curves import plot_curves, read_curve, seed_curves

__all__ = [
    "compare",
    "format_report",
    "write_report",
    "report_notes",
    "machine",
    "row_scores",
    "format_row",
    "format_table",
    # claims and curves, from their modules
    "Claim",
    "parse_claim",
    "plot_curves",
    "read_curve",
    "seed_curves",
]

PathLike = Union[str, os.PathLike]


def row_scores(folder: PathLike, metrics: Sequence[str] = TABLE_METRICS) -> Dict[str, SeedScores]:
    """Per-mixture scores of every seed of a row, per metric."""
    return {m: load_seed_scores(folder, m) for m in metrics}


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
        ValueError: a claim names an unknown row or has no value (a division by zero); rows
            scored on different test sets.
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
        if not math.isfinite(boot["value"]):  # a table row of nan would read as a result
            raise ValueError(
                f"claim {claim.text!r} has no value on these runs (a division by zero); "
                "divide by a row whose mean is not 0"
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
    return {
        "rows": out_rows,
        "claims": out_claims,
        "mixtures": n_mix,
        "confidence": confidence,
        "metrics": list(metrics),
    }


def format_report(
    result: Mapping[str, Any],
    title: str = "",
    metrics: Optional[Sequence[str]] = None,
    notes: Sequence[str] = (),
) -> str:
    """Markdown of :func:`compare`'s result: the table, the claims, notes and footnotes.

    ``metrics`` are the columns (default: the ones :func:`compare` read)."""
    if metrics is None:
        metrics = result.get("metrics", TABLE_METRICS)
    pct = int(round(100 * result["confidence"]))
    lines = [f"**{title}**", ""] if title else []
    lines += [
        "| Method | seeds | " + " | ".join(COLUMN_LABELS.get(m, m) for m in metrics) + " |",
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
        f"Cells: mean [{pct} % interval] "
        + ("in dB " if any(m not in CLAP_METRICS for m in metrics) else "")
        + f"over {result['mixtures']} test mixtures"
        + (" (CLAPScore columns: cosine, no unit)" if set(metrics) & set(CLAP_METRICS) else "")
        + "; "
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
    first = metrics[0]  # the table's first column: SDR in Table 1's shape
    if multi:
        lines += [
            "",
            f"{COLUMN_LABELS.get(first, first)} of each seed: "
            + "; ".join(
                f"{n} " + ", ".join(f"{v:.2f}" for v in r[first]["per_seed"])
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
            metric = COLUMN_LABELS.get(c["metric"], c["metric"])
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


# ------------------------------------------------------- tables of single evaluations
def _cell(stats: Optional[Mapping[str, Optional[float]]], digits: int) -> str:
    if not stats or stats.get("mean") is None:
        return "-"
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def format_row(
    name: str,
    summary: Mapping[str, Any],
    metrics: Sequence[str] = TABLE_METRICS,
    digits: int = 2,
) -> str:
    """One Markdown table row ``| name | mean ± std | ... |`` from :meth:`Evaluator.summary`.

    Args:
        name: the method's name (first cell).
        summary: a summary dict (or the JSON file's content).
        metrics: the columns, names from :data:`METRICS`.
        digits: decimals.

    Returns:
        The row, without a newline.

    Examples:
        >>> s = {"metrics": {"sdr": {"mean": 5.123, "std": 0.456}}}
        >>> format_row("ours", s, metrics=["sdr"])
        '| ours | 5.12 ± 0.46 |'
    """
    cells = [_cell(summary["metrics"].get(m), digits) for m in metrics]
    return "| " + " | ".join([name] + cells) + " |"


def format_table(
    summaries: Mapping[str, Mapping[str, Any]],
    metrics: Sequence[str] = TABLE_METRICS,
    digits: int = 2,
) -> str:
    """A Markdown table shaped like the paper's Table 1: Method | SDR | SIR | SAR | SDRi.

    Args:
        summaries: method name -> summary dict, in row order.
        metrics: the columns, names from :data:`METRICS`.
        digits: decimals.

    Returns:
        The table, lines joined by newlines.

    Examples:
        >>> s = {"metrics": {m: {"mean": 1.0, "std": 0.5} for m in METRICS}}
        >>> print(format_table({"ours": s}))
        | Method | SDR | SIR | SAR | SDRi |
        |---|---|---|---|---|
        | ours | 1.00 ± 0.50 | 1.00 ± 0.50 | 1.00 ± 0.50 | 1.00 ± 0.50 |
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"metrics has unknown names {unknown}; known: {METRICS}")
    header = "| " + " | ".join(["Method"] + [LABELS[m] for m in metrics]) + " |"
    rule = "|" + "---|" * (len(metrics) + 1)
    rows = [format_row(name, s, metrics, digits) for name, s in summaries.items()]
    return "\n".join([header, rule] + rows)
