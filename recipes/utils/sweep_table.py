"""The table and the curves of a sweep (run.sh --sweep true): per setting, the validation
SDRi of the checkpoint each run keeps (its best validation SDR), against the first row (the
base), and whether it reaches the 6 dB goal of the evidence mode.

Only validation scores are read (``logs/metrics.csv`` of each run): a sweep chooses a
setting, and the test set is scored once, for the chosen one. A setting whose runs are not
there yet, or still training (no ``best_model.pth``), is listed as such (and counted), not
left out; a run still training is never read as a result.

Usage:
    python ../utils/sweep_table.py "base=exp/conv/2src/supervised" \\
        "wider=exp/sw_wide/2src/supervised" -o exp/sweep.md --curves exp/sweep_val_sdri.png
"""

import argparse
import math
import os
import sys
from pathlib import Path
from statistics import mean, stdev
from typing import Dict, List, Optional, Sequence, Tuple

from asteroid_wsas.reporting.curves import plot_curves, read_curve

# the evidence mode's goal for the upper bound (issue 31): supervised SDRi on validation
GOAL_DB = 6.0


def run_scores(run: Path) -> Optional[Tuple[float, float, int, float]]:
    """(SDRi at the kept checkpoint, its SDR, its step, the last SDRi) of one run, or None
    without a validation.

    The kept checkpoint is the step of the best validation SDR (as the training's
    checkpoint callback chooses); its SDRi is the one logged at that step.
    """
    steps, sdr = read_curve(run, "val_sdr")
    sdri = dict(zip(*read_curve(run, "val_sdri")))
    if not steps or not sdri:
        return None
    best = max(range(len(steps)), key=lambda k: sdr[k])
    kept = sdri.get(steps[best], math.nan)
    return kept, sdr[best], steps[best], sdri[max(sdri)]


def row_scores(folder: Path) -> Tuple[List[Tuple[float, float, int, float]], int]:
    """The scores of every finished seed's run of a row (``seed*/`` with its
    ``best_model.pth``: the budget is spent), in seed order, and how many runs are still
    training (validated, but no ``best_model.pth`` yet: their best so far is no result)."""
    runs = sorted((p for p in folder.glob("seed*") if p.is_dir()), key=lambda p: p.name)
    scores, training = [], 0
    for run in runs:
        score = run_scores(run)
        if score is not None and (run / "best_model.pth").is_file():
            scores.append(score)
        elif score is not None:
            training += 1
    return scores, training


def _spread(values: Sequence[float]) -> str:
    text = f"{mean(values):.2f}"
    return text + (f" ± {stdev(values):.2f}" if len(values) > 1 else "")


def sweep_table(rows: Dict[str, Path], title: str) -> Tuple[str, int]:
    """The markdown table of a sweep, and how many rows have no finished run yet.

    Args:
        rows: Setting name -> its row folder (the seeds' runs); the first is the base.
        title: The table's title.

    Returns:
        tuple: (markdown, rows missing).

    Examples:
        >>> sweep_table({"base": Path("/no/such/row")}, "Sweep")[1]
        1
    """
    lines = [
        f"**{title}**",
        "",
        "| Setting | seeds | validation SDRi (kept checkpoint) | vs base | "
        f">= {GOAL_DB:g} dB | validation SDR | kept at step | last SDRi |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base: Optional[float] = None
    missing = 0
    for index, (name, folder) in enumerate(rows.items()):
        scores, training = row_scores(folder)
        if not scores:
            missing += 1
            state = "still training" if training else "not trained yet"
            lines.append(f"| {name} | 0 | {state} ({folder}) | | | | | |")
            continue
        kept = [s[0] for s in scores]
        if index == 0:  # only the base is the base: without its runs, no row is compared
            base = mean(kept)
        goal = "yes" if mean(kept) >= GOAL_DB else "no"
        cells = [
            name,
            str(len(scores)) + (f" ({training} still training)" if training else ""),
            _spread(kept),
            "" if base is None else f"{mean(kept) - base:+.2f}",
            goal,
            _spread([s[1] for s in scores]),
            ", ".join(str(s[2]) for s in scores),
            _spread([s[3] for s in scores]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Validation SDRi in dB of the checkpoint each run keeps (its best validation SDR), "
        "mean ± std over seeds; 'vs base' against the first row (blank while it has no "
        "finished run). Chosen on "
        "validation only: the test set is scored once, for the chosen setting.",
    ]
    return "\n".join(lines) + "\n", missing


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="+", metavar="NAME=FOLDER", help="the base first")
    parser.add_argument("-o", "--output", required=True, help="the table (markdown)")
    parser.add_argument("--curves", help="a PNG of validation SDRi over steps")
    parser.add_argument("--title", default="Sweep, validation SDRi")
    args = parser.parse_args(argv)
    rows: Dict[str, Path] = {}
    for item in args.rows:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            parser.error(f"{item!r}: give NAME=FOLDER")
        if name in rows:
            parser.error(f"{name!r} given twice")
        rows[name] = Path(folder)
    table, missing = sweep_table(rows, args.title)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    Path(args.output).write_text(table, encoding="utf-8")
    print(table, end="")
    if args.curves:
        drawn = plot_curves(rows, args.curves, metric="val_sdri", force=True)
        print(f"curves: {drawn or 'none yet (no run has a validation)'}")
    if missing:
        print(f"{missing} of {len(rows)} settings have no finished run yet", file=sys.stderr)
    print(f"table: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
