"""The paper's commands: ``compare`` (a Table-1-shaped table with intervals over seeds,
paired claims and validation curves of evaluated runs), ``paper-runs`` (the training runs of
the paper's Tables 1 and 2) and ``paper-tables`` (both tables from those runs' scores)."""

import argparse
import os
from fnmatch import fnmatchcase
from typing import Any

from ..utils import refuse_overwrite
from .common import count, positive

__all__ = ["add_parser", "cmd_compare", "cmd_paper_runs", "cmd_paper_tables"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """All three paper commands on ``sub`` (``compare``, ``paper-runs``, ``paper-tables``);
    the last one's parser is returned.

    Examples:
        >>> parser = argparse.ArgumentParser(prog="asteroid-wsas")
        >>> last = add_parser(parser.add_subparsers(dest="command"))
        >>> last.prog, parser.parse_args(["paper-runs", "--no-table2"]).counts
        ('asteroid-wsas paper-tables', [2, 3, 4])
    """
    return [add(sub) for add in PARSERS.values()][-1]


def cmd_compare(args: argparse.Namespace) -> None:
    """``asteroid-wsas compare``: a table of evaluated runs, paired claims and curves."""
    from ..reporting.report import compare, format_report, plot_curves, report_notes, write_report

    rows = {}
    for item in args.experiments:
        name, sep, folder = item.partition("=")
        folder = folder if sep else name
        name = name if sep else os.path.basename(os.path.normpath(folder))
        if name in rows:
            raise ValueError(f"two rows are named {name!r}; name them: NAME=DIR")
        rows[name] = folder
    if args.curves and not args.curves.lower().endswith(".png"):
        raise ValueError(f"--curves must name a .png file, got {args.curves}")
    outputs = [args.output, os.path.splitext(args.output)[0] + ".json"] if args.output else []
    for path in outputs + ([args.curves] if args.curves else []):
        refuse_overwrite(path, force=args.force)
    from ..metrics import CLAP_METRICS, METRICS, TABLE_METRICS

    metrics = args.metrics or TABLE_METRICS
    known = METRICS + CLAP_METRICS
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise ValueError(f"--metrics: unknown {unknown}; known: {', '.join(known)}")
    result = compare(rows, args.claim or (), metrics=metrics, n_resamples=args.resamples)
    notes = report_notes(args.wall_time, args.note or ())
    print(format_report(result, args.title, notes=notes))
    if args.output:
        write_report(result, args.output, args.title, notes, force=True)
    if args.curves:
        if plot_curves(rows, args.curves, force=True):
            print(f"validation SDR over training steps (mean and spread of seeds): {args.curves}")
        else:
            print(f"no validation curves in {', '.join(rows.values())}: {args.curves} not written")


def _paper_runs(args: argparse.Namespace):
    from ..reporting.paper import paper_runs

    fractions = [] if args.no_table2 else args.fractions
    runs = paper_runs(
        args.methods or None,
        args.counts,
        fractions,
        args.cross,
        args.fallback or (),
        args.captions,
        images=not args.no_images,
    )
    if args.only:
        runs = [r for r in runs if any(fnmatchcase(r.folder, p) for p in args.only)]
        if not runs:
            raise ValueError(f"--only {' '.join(args.only)} matches no run (see paper-runs)")
    return runs


def cmd_paper_runs(args: argparse.Namespace) -> None:
    """``asteroid-wsas paper-runs``: one tab-separated line per run of the paper's tables."""
    roots = {}
    for item in args.data_root or []:
        name, sep, root = item.partition("=")
        if not sep or not name or not root:
            raise ValueError(f"--data-root expects NAME=PATH, got {item!r}")
        roots[name] = os.path.abspath(root)
    # every line first: a missing root stops before anything is printed
    lines = [
        [run.folder, run.method, str(run.n_sources), run.encoder, run.test or "-", run.teacher()]
        + run.overrides
        + run.data_overrides(roots)
        for run in _paper_runs(args)
    ]
    for fields in lines:
        print("\t".join(fields))


def cmd_paper_tables(args: argparse.Namespace) -> None:
    """``asteroid-wsas paper-tables``: the paper's tables from the scored runs."""
    from ..reporting.paper import paper_tables
    from ..reporting.report import report_notes

    notes = report_notes(args.wall_time, args.note or ())
    paper_tables(
        args.exp_root,
        _paper_runs(args),
        args.output,
        args.title,
        notes,
        n_resamples=args.resamples,
        force=args.force,
    )
    with open(args.output, encoding="utf-8") as f:
        print(f.read(), end="")
    stem = os.path.splitext(args.output)[0]
    print(f"tables: {args.output} (.json beside), figures: {stem}_table1.png, {stem}_table2.png")


# ---------------------------------------------------------------------------- parsers
def _compare_parser(sub) -> argparse.ArgumentParser:
    """``compare``: a table of evaluated runs, paired claims, curves."""
    p = sub.add_parser(
        "compare", help="Table-1-shaped table with intervals over seeds, paired claims, curves"
    )
    p.add_argument(
        "experiments",
        nargs="+",
        metavar="[NAME=]DIR",
        help="an evaluated run, or a method folder with one evaluated run per seed (seed*/)",
    )
    p.add_argument("-o", "--output", help="also write the report (Markdown, and .json beside)")
    p.add_argument("--curves", help="PNG of validation SDR over steps (mean, seed spread)")
    p.add_argument(
        "--claim",
        action="append",
        metavar="TEXT",
        help="[metric:] expression of row names [>= goal], e.g. 'weak - mix_and_separate' "
        "or 'sdri: weak / mix_and_separate >= 1.5'; paired bootstrap interval (repeatable)",
    )
    _table_options(p, "the comparison", "the table")
    p.set_defaults(func=cmd_compare)
    return p


def _table_options(p: argparse.ArgumentParser, timed: str, tables: str) -> None:
    """The options of a command that prints tables (``compare``, ``paper-tables``): their
    columns, intervals, notes and title.

    Args:
        p: The command's parser.
        timed: What ``--wall-time`` measures ("the comparison").
        tables: What ``--note`` goes under ("the table").
    """
    p.add_argument(
        "--metrics",
        nargs="+",
        metavar="NAME",
        help="table columns (default: sdr sir sar sdri, Table 1's BSS-Eval columns); also "
        "si_sdr, si_sdri, esdr / esdri (the energy-ratio SDR of DCASE 2024 Task 9 and "
        "AudioSep) and clap / clapi (CLAPScore, runs evaluated with --clap-score)",
    )
    p.add_argument("--resamples", type=count, default=10000, help="bootstrap replicates")
    p.add_argument("--wall-time", type=positive, help=f"seconds {timed} took (printed)")
    p.add_argument("--note", action="append", help=f"a line printed under {tables}")
    p.add_argument("--title", default="", help="bold line above the table")
    p.add_argument("--force", action="store_true", help="overwrite the outputs")


def _paper_options(p: argparse.ArgumentParser) -> None:
    """The options that choose the paper's runs (``paper-runs``, ``paper-tables``)."""
    p.add_argument("--methods", nargs="+", help="Table 1's rows (default: all registered)")
    p.add_argument("--counts", nargs="+", type=count, default=[2, 3, 4], help="sources")
    p.add_argument(
        "--fractions", nargs="+", type=count, default=[5, 10, 25, 75], help="clean %% (Table 2)"
    )
    p.add_argument("--no-table2", action="store_true", help="Table 1 only")
    p.add_argument(
        "--no-images",
        action="store_true",
        help="without Table 1's image-queried rows (no CLIP or no video frames)",
    )
    p.add_argument(
        "--cross",
        metavar="DATASET",
        help="Table 2's second dataset of labelled solos (vggsound): the cross-dataset rows",
    )
    p.add_argument(
        "--captions",
        metavar="DATASET",
        help="Table 2's captioned dataset (audiocaps): its part (needs --cross)",
    )
    p.add_argument(
        "--fallback",
        nargs="+",
        choices=("bert", "clip"),
        help="text encoders that are not here: rows that are then the same run share it",
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="PATTERN",
        help="the runs whose folder matches a pattern (e.g. 'table2/semi_*_3src')",
    )


def _paper_runs_parser(sub) -> argparse.ArgumentParser:
    """``paper-runs``: one line per training run of the paper's tables."""
    p = sub.add_parser(
        "paper-runs",
        help="the training runs of the paper's Tables 1 and 2",
        description="One line per run, tab-separated: folder, method, sources per training "
        "mixture, text encoder kind (-: the recipe's), test set (-: the recipe's), training "
        "data of its teacher (-: the recipe's), then KEY=VALUE overrides.",
    )
    _paper_options(p)
    p.add_argument(
        "--data-root",
        action="append",
        metavar="NAME=PATH",
        help="root of a dataset the runs name (the cross-dataset rows': both)",
    )
    p.set_defaults(func=cmd_paper_runs)
    return p


def _paper_tables_parser(sub) -> argparse.ArgumentParser:
    """``paper-tables``: the paper's Tables 1 and 2 from the scored runs."""
    p = sub.add_parser("paper-tables", help="the paper's Tables 1 and 2 from the scored runs")
    p.add_argument("exp_root", help="the folder the runs' folders are in (exp/)")
    p.add_argument("-o", "--output", required=True, help="results.md (.json and PNGs beside)")
    _paper_options(p)
    _table_options(p, "the runs", "the tables")
    p.set_defaults(func=cmd_paper_tables)
    return p


PARSERS = {
    "compare": _compare_parser,
    "paper-runs": _paper_runs_parser,
    "paper-tables": _paper_tables_parser,
}
