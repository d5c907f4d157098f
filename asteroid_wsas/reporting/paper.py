"""The paper's Table 1 and Table 2 as lists of training runs, and the tables from their scores.

:func:`paper_runs` says which runs the two tables need (one per cell and seed; a cell that
appears in both tables is trained once); ``recipes/paper_tables/run.sh`` trains and scores
them, then :func:`paper_tables` reads the scores back and writes both tables in the seed's
shape (rows, columns, mean [95 % interval]) as Markdown and JSON, with a PNG per table.

Table 1 (the seed's, MUSIC): each method of :mod:`asteroid_wsas.methods` fills the columns
it has: ``clean`` (trained on clean single sources, mixed in pairs, supervised) and ``2src``,
``3src``, ``4src`` (trained on mixtures of that many sources only). Every cell is scored on
the same 2-source test set.

Table 2 (the seed's, MUSIC-2Mix part): supervised training on 100 % and on 5 % of the
solos, unsupervised (the weak objective on 2-source mixtures), and semi-supervised training
with 5 % of the solos clean and 2-, 3- or 4-source mixtures for the rest, then 10 / 25 / 75 %
clean with 2-source mixtures; with a second dataset (``cross``, VGGSound in the seed), the
cross-dataset rows: all MUSIC solos clean with the second dataset's 2-source mixtures, and
all of the second dataset's clips clean with MUSIC's 2-, 3- or 4-source mixtures
(``data.clean_data``, :func:`asteroid_wsas.data.registry.clean_data`).
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..data.registry import dataset_title, get_dataset_class
from ..methods import METHODS, get_method, method_names
from ..stats import format_interval
from ..utils import refuse_overwrite

__all__ = [
    "Run",
    "TABLE1_METHODS",
    "table1_runs",
    "table2_runs",
    "paper_runs",
    "paper_tables",
    "column_label",
]

PathLike = Union[str, os.PathLike]

# Table 1's rows, in the seed's order
TABLE1_METHODS = (
    "pit",
    "mixit",
    "mixpit",
    "clipsep_img",
    "clipsep_img_star",
    "cosep_star",
    "sop_star",
    "clipsep_text",
    "clipsep_text_star",
    "bertsep_star",
    "clapsep_star",
    "lassnet",
    "weak_sup",
    "timbre_concurrent",
    "timbre_pretrained",
    "weak",
)


@dataclass
class Run:
    """One training run of a table cell.

    Attributes:
        folder: Its experiment folder below the recipe's ``exp/`` (seeds go below it).
        method: ``NAME:column`` (:func:`asteroid_wsas.methods.apply_method`).
        n_sources: Sources per training mixture (``data.n_sources``).
        overrides: Further ``KEY=VALUE`` config overrides.
        cells: The table cells it fills: ``(table, row, column)``.
        meta: Table 2's descriptive columns of the row.
        data: The registered dataset its mixtures come from when not the recipe's own
            (``data.dataset``); None: the recipe's.
        clean_data: The registered dataset its clean solos come from when not the mixtures'
            (``data.clean_data``); None: the mixtures' own.
        test: The registered dataset whose fixed 2-source test (and validation) set scores
            it; None: the recipe's own.
    """

    folder: str
    method: str
    n_sources: int
    overrides: List[str] = field(default_factory=list)
    cells: List[Tuple[str, str, str]] = field(default_factory=list)
    meta: Dict[str, str] = field(default_factory=dict)
    data: Optional[str] = None
    clean_data: Optional[str] = None
    test: Optional[str] = None

    def teacher(self, main: str = "music") -> str:
        """The datasets the run trains on, sorted and joined by ``+`` (``"-"``: the recipe's
        own alone): runs with the same training data share a small-encoder teacher.

        Examples:
            >>> Run("f", "semi:mixtures", 2, clean_data="vggsound").teacher()
            'music+vggsound'
            >>> Run("f", "w", 2).teacher(), Run("f", "w", 2, data="vggsound").teacher()
            ('-', 'vggsound')
        """
        names = {self.data or main} | ({self.clean_data} if self.clean_data else set())
        return "-" if names == {main} else "+".join(sorted(names))

    def data_overrides(self, roots: Mapping[str, str]) -> List[str]:
        """The ``KEY=VALUE`` overrides that point the run at its datasets.

        Args:
            roots: Dataset name -> root folder, for the datasets the run names.

        Raises:
            ValueError: a dataset the run needs has no root in ``roots``.

        Examples:
            >>> Run("f", "semi:mixtures", 2, clean_data="vggsound").data_overrides(
            ...     {"vggsound": "/d/v"})
            ['data.clean_data.dataset=vggsound', 'data.clean_data.root=/d/v']
        """
        out = []
        for key, name in (("data", self.data), ("data.clean_data", self.clean_data)):
            if name is None:
                continue
            if name not in roots:
                raise ValueError(
                    f"{self.folder} needs the root of {name!r} (--data-root {name}=PATH)"
                )
            out += [f"{key}.dataset={name}", f"{key}.root={roots[name]}"]
        return out

    @property
    def encoder(self) -> str:
        """The kind of encoder the method queries with (``"bert"``, ``"clip"``,
        ``"clip_image"``), or ``"-"``: the recipe's encoder."""
        return get_method(self.method).encoder or "-"


def column_label(column: str) -> str:
    """Table 1's column headings.

    Examples:
        >>> column_label("clean"), column_label("3src")
        ('Single-source (supervised)', '3-source')
    """
    if column == "clean":
        return "Single-source (supervised)"
    return f"{column[:-3]}-source"


def table1_runs(
    methods: Optional[Sequence[str]] = None,
    counts: Sequence[int] = (2, 3, 4),
    fallback: Sequence[str] = (),
    images: bool = True,
) -> List[Run]:
    """The runs of Table 1: per method, its clean column and one run per mixture size.

    Args:
        methods: Registered method names (default: :data:`TABLE1_METHODS` that exist).
        counts: Sources per training mixture of the unsupervised columns.
        fallback: Text encoder kinds (``"bert"``, ``"clip"``) that are not available, so
            that their rows query with the recipe's encoder: rows that are then the same
            training run (CLIPSep-Text*, BertSep* and CLAPSep*) share one run per column,
            the one of the row with the recipe's encoder where there is one.
        images: Include the image-queried rows (False: no encoder of images or no video
            frames; they cannot fall back to a text encoder).

    Returns:
        list: :class:`Run` per cell, in table order (shared runs repeated; :func:`paper_runs`
        merges them).
    """
    names = [m for m in TABLE1_METHODS if m in METHODS] if methods is None else list(methods)
    if not images:
        names = [m for m in names if get_method(m).query != "image"]
    owner = _shared_runs(names, fallback)
    runs = []
    for name in names:
        method, trained = get_method(name), owner[name]
        for column in method.columns:
            if column == "clean":
                runs.append(
                    Run(
                        f"table1/{trained}/clean",
                        f"{trained}:clean",
                        2,
                        cells=[("1", name, "clean")],
                    )
                )
                continue
            for n in counts:
                runs.append(
                    Run(
                        f"table1/{trained}/{n}src",
                        f"{trained}:mixtures",
                        n,
                        cells=[("1", name, f"{n}src")],
                    )
                )
    return runs


def _shared_runs(names: Sequence[str], fallback: Sequence[str]) -> Dict[str, str]:
    """``{method: the method whose runs it trains}``: methods that differ only in a text
    encoder that falls back to the recipe's are one training run."""

    def key(method):
        encoder = None if method.encoder in fallback else method.encoder
        return repr((encoder, method.columns, method.objective_args, method.model))

    groups: Dict[str, List[str]] = {}
    for name in names:
        groups.setdefault(key(get_method(name)), []).append(name)
    owner = {}
    for group in groups.values():
        # the row with the recipe's own encoder trains (Table 2 names CLAPSep*'s clean run)
        first = next((n for n in group if get_method(n).encoder is None), group[0])
        owner.update({n: first for n in group})
    return owner


def table2_runs(
    fractions: Sequence[int] = (5, 10, 25, 75),
    counts: Sequence[int] = (2, 3, 4),
    cross: Optional[str] = None,
    captions: Optional[str] = None,
    main: str = "music",
):
    """The runs of Table 2: its MUSIC-2Mix part (the supervised 100 % and unsupervised rows
    are Table 1's ``clapsep_star`` clean and ``weak`` 2-source cells), and with ``cross``
    the cross-dataset rows and the second dataset's own part (VGGSound-2Mix: supervised on
    100 % and on the first fraction, unsupervised, semi-supervised with the first and last
    fractions), and with ``captions`` too its part (AudioCaps-2Mix: unsupervised, and
    semi-supervised with all of the second dataset's clips clean).

    Args:
        fractions: Percent of the solos kept clean for semi-supervised training; the first
            is also the supervised-on-a-fraction row and the one run with every mixture size.
        counts: Sources per training mixture.
        cross: A second registered dataset of labelled solos (``"vggsound"``); None: none.
        captions: A registered dataset of captioned clips without clean sources
            (``"audiocaps"``); needs ``cross``.
        main: The registered dataset the recipe trains and tests on.

    Returns:
        list: :class:`Run` per row, in table order.

    Raises:
        ValueError: no fraction; ``cross`` is the main dataset or has no clean sources;
            ``captions`` without ``cross``.
    """
    if not fractions:
        raise ValueError("fractions must name at least one percentage")
    if cross is not None and (cross == main or not get_dataset_class(cross).clean_sources):
        raise ValueError(f"cross must name a dataset of labelled solos other than {main!r}")
    if captions is not None and cross is None:
        raise ValueError("captions needs cross (its semi-supervised row's clean clips)")
    first = fractions[0]
    runs = _in_dataset_rows(main, main, fractions, counts)
    if cross:
        # all of one dataset's solos clean, all of the other's clips as mixtures
        pairs = [(main, cross, counts[0])] + [(cross, main, n) for n in counts]
        for clean_name, mixed_name, n in pairs:
            runs.append(
                Run(
                    f"table2/semi_{clean_name}_clean_{mixed_name}_{n}src",
                    "semi:mixtures",
                    n,
                    cells=[("2", f"semi_{clean_name}_{mixed_name}_{n}", "")],
                    meta=_meta(main, "Semi-supervised", (clean_name, 100), (mixed_name, 100), n),
                    data=None if mixed_name == main else mixed_name,
                    clean_data=clean_name,
                )
            )
        last = [fractions[-1]] if len(fractions) > 1 else []
        runs += _in_dataset_rows(cross, main, [first] + last, counts[:1])
    if captions:
        n = counts[0]
        unsupervised = Run(
            f"table2/{captions}/unsupervised",
            "weak:mixtures",
            n,
            cells=[("2", f"{captions}_unsupervised", "")],
            meta=_meta(captions, "Unsupervised", None, (captions, 100), "1-N"),
        )
        semi = Run(
            f"table2/{captions}/semi_{cross}_clean",
            "semi:mixtures",
            n,
            cells=[("2", f"{captions}_semi_{cross}", "")],
            meta=_meta(captions, "Semi-supervised", (cross, 100), (captions, 100), "1-N"),
            clean_data=cross,
        )
        for run in (unsupervised, semi):
            run.data = run.test = captions
        runs += [unsupervised, semi]
    return runs


def _meta(test: str, kind: str, clean, mixed, n) -> Dict[str, str]:
    """Table 2's descriptive columns: clean and mixed as ``(dataset, percent)`` or None."""

    def share(part):
        return f"{dataset_title(part[0])} {part[1]} %" if part else "-"

    return {
        "Training": kind,
        "Test set": f"{dataset_title(test)}-2Mix",
        "Single-source": share(clean),
        "Mixtures": share(mixed),
        "#Sources": str(n) if n else "-",
    }


def _in_dataset_rows(data: str, main: str, fractions, counts) -> List[Run]:
    """Supervised on 100 % and on the first fraction, unsupervised, and semi-supervised with
    the first fraction at every mixture size and the others at the first, all on ``data``
    (Table 1's cells where it is the main dataset)."""
    first = fractions[0]
    home = data == main
    prefix = "table2" if home else f"table2/{data}"
    key = "" if home else f"{data}_"

    def run(folder, method, n, overrides, name, meta):
        out = Run(folder, method, n, overrides, cells=[("2", key + name, "")], meta=meta)
        if not home:
            out.data = out.test = data
        return out

    runs = [
        run(
            "table1/clapsep_star/clean" if home else f"{prefix}/supervised_100pct",
            "clapsep_star:clean",
            2,
            [],
            "supervised_100",
            _meta(data, "Supervised", (data, 100), None, 0),
        ),
        run(
            f"{prefix}/supervised_{first}pct",
            "clapsep_star:clean",
            2,
            [f"data.supervised_fraction={first / 100:g}"],
            f"supervised_{first}",
            _meta(data, "Supervised", (data, first), None, 0),
        ),
        run(
            "table1/weak/2src" if home else f"{prefix}/unsupervised_2src",
            "weak:mixtures",
            2,
            [],
            "unsupervised_2",
            _meta(data, "Unsupervised", None, (data, 100), 2),
        ),
    ]
    semi = [(first, n) for n in counts] + [(f, counts[0]) for f in fractions[1:]]
    for fraction, n in semi:
        runs.append(
            run(
                f"{prefix}/semi_{fraction}pct_{n}src",
                "semi:mixtures",
                n,
                [f"data.clean_fraction={fraction / 100:g}"],
                f"semi_{fraction}_{n}",
                _meta(data, "Semi-supervised", (data, fraction), (data, 100 - fraction), n),
            )
        )
    return runs


def paper_runs(
    methods: Optional[Sequence[str]] = None,
    counts: Sequence[int] = (2, 3, 4),
    fractions: Optional[Sequence[int]] = (5, 10, 25, 75),
    cross: Optional[str] = None,
    fallback: Sequence[str] = (),
    captions: Optional[str] = None,
    images: bool = True,
) -> List[Run]:
    """Every run of both tables, each folder once (its cells merged).

    Args:
        methods: Table 1's methods (default: all of :data:`TABLE1_METHODS` registered).
        counts: Sources per training mixture.
        fractions: Table 2's clean percentages; None or empty: no Table 2.
        cross: Table 2's second dataset (:func:`table2_runs`); None: no cross-dataset rows.
        fallback: Text encoder kinds that fall back to the recipe's (:func:`table1_runs`).
        captions: Table 2's captioned dataset (:func:`table2_runs`); None: no such part.
        images: Table 1's image-queried rows (:func:`table1_runs`).
    """
    merged: Dict[str, Run] = {}
    table2 = table2_runs(fractions, counts, cross, captions) if fractions else []
    for run in table1_runs(methods, counts, fallback, images) + table2:
        if run.folder in merged:
            merged[run.folder].cells += run.cells
            merged[run.folder].meta = merged[run.folder].meta or run.meta
        else:
            merged[run.folder] = run
    return list(merged.values())


def _scored(exp_root: Path, runs: Sequence[Run]) -> Dict[str, str]:
    """``{folder: path}`` of the runs with scores (a cell without scores shows "-")."""
    from ..stats import seed_dirs

    out = {}
    for run in runs:
        path = exp_root / run.folder
        try:
            seed_dirs(path)
        except FileNotFoundError:
            continue
        out[run.folder] = str(path)
    return out


def paper_tables(
    exp_root: PathLike,
    runs: Sequence[Run],
    output: PathLike,
    title: str = "",
    notes: Sequence[str] = (),
    n_resamples: int = 10000,
    force: bool = False,
) -> Dict[str, Any]:
    """Both tables from the scored runs: Markdown at ``output``, JSON beside it, and a PNG per
    table (``<output stem>_table1.png``, ``_table2.png``).

    Args:
        exp_root: The recipe's ``exp/``.
        runs: :func:`paper_runs`.
        output: The Markdown file.
        title: Heading of the report.
        notes: Lines under the tables (machine, wall time, budgets).
        n_resamples: Bootstrap replicates of single-seed intervals.
        force: Overwrite the outputs.

    Returns:
        dict: what the JSON holds: ``table1`` and ``table2`` cells (mean, low, high, seeds).

    Raises:
        FileExistsError: an output exists and ``force`` is False.
        FileNotFoundError: no run has scores yet.
    """
    from .report import compare

    exp_root, output = Path(exp_root), Path(output)
    stem = output.with_suffix("")
    outputs = [output, stem.with_suffix(".json")] + [Path(f"{stem}_table{t}.png") for t in (1, 2)]
    refuse_overwrite(*outputs, force=force)
    scored = _scored(exp_root, runs)
    if not scored:
        raise FileNotFoundError(f"no scored run below {exp_root} (train and evaluate first)")
    # one comparison per test set (its rows share the test mixtures)
    test_of = {run.folder: run.test for run in runs}
    groups: Dict[Optional[str], Dict[str, str]] = {}
    for folder, path in scored.items():
        groups.setdefault(test_of[folder], {})[folder] = path
    rows, mixtures, confidence = {}, {}, 0.95
    for test, group in groups.items():
        result = compare(group, metrics=("sdr", "sdri"), n_resamples=n_resamples)
        rows.update(result["rows"])
        mixtures[test] = result["mixtures"]
        confidence = result["confidence"]
    cells: Dict[str, Dict[str, Any]] = {"1": {}, "2": {}}
    for run in runs:
        row = rows.get(run.folder)
        for table, name, column in run.cells:
            entry = cells[table].setdefault(name, {"meta": run.meta, "columns": {}})
            entry["columns"][column] = None if row is None else _cell(row)
    # the seed's row order, whatever order the runs came in (a cell may serve both tables)
    names = method_names()
    table1 = dict(sorted(cells["1"].items(), key=lambda kv: names.index(kv[0])))
    tests = list(dict.fromkeys(run.meta["Test set"] for run in runs if "Test set" in run.meta))
    table2 = dict(sorted(cells["2"].items(), key=lambda kv: _table2_order(kv[1]["meta"], tests)))
    columns = [
        c
        for c in ("clean", "2src", "3src", "4src")
        if any(c in r["columns"] for r in table1.values())
    ]
    pct = int(round(100 * confidence))
    sizes = [f"{n} ({dataset_title(t)}-2Mix)" for t, n in mixtures.items() if t is not None]
    own = [str(mixtures[None])] if None in mixtures else []
    lines = [f"**{title}**", ""] if title else []
    if table1:
        lines += _table1_markdown(table1, columns)
    if table2:
        lines += [""] + _table2_markdown(table2)
    lines += [
        "",
        f"Cells: SDR in dB, mean [{pct} % interval] over the {' / '.join(own + sizes)} "
        "mixtures of one 2-source test set (several seeds: Student-t over the seeds' test "
        "means; one seed: bootstrap over the test mixtures); '-': a column the method does "
        "not have.",
    ]
    lines += [""] + list(notes) if notes else []
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = {
        "title": title,
        "notes": list(notes),
        "mixtures": mixtures.get(None),
        "test_sets": {("-" if t is None else t): n for t, n in mixtures.items()},
        "table1": table1,
        "table2": table2,
        "runs": [asdict(r) for r in runs],
    }
    stem.with_suffix(".json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    if table1:
        _plot_table1(table1, columns, f"{stem}_table1.png")
    if table2:
        _plot_table2(table2, f"{stem}_table2.png")
    return data


def _table2_order(meta: Mapping[str, str], tests: Sequence[str] = ()) -> Tuple[int, ...]:
    """By test set (in ``tests``' order), then supervised (most clean data first),
    unsupervised, then semi-supervised by clean share and mixture size: the seed's Table 2
    order."""
    kinds = ("Supervised", "Unsupervised", "Semi-supervised")

    def number(text: str) -> int:  # "MUSIC 5 %" -> 5, "2" -> 2, "-" -> 0
        numbers = [w for w in text.split() if w.isdigit()]
        return int(numbers[-1]) if numbers else 0

    clean = number(meta.get("Single-source", ""))
    kind = kinds.index(meta["Training"]) if meta.get("Training") in kinds else len(kinds)
    test = meta.get("Test set")
    where = list(tests).index(test) if test in tests else len(tests)
    return where, kind, -clean if kind == 0 else clean, number(meta.get("#Sources", ""))


def _cell(row: Mapping[str, Any]) -> Dict[str, Any]:
    return {
        "sdr": {k: row["sdr"][k] for k in ("mean", "low", "high")},
        "sdri": {k: row["sdri"][k] for k in ("mean", "low", "high")},
        "seeds": len(row["seeds"]),
        "per_seed": row["sdr"]["per_seed"],
    }


def _text(cell: Optional[Mapping[str, Any]]) -> str:
    return "-" if cell is None else format_interval(cell["sdr"])


def _table1_markdown(table1: Mapping[str, Any], columns: Sequence[str]) -> List[str]:
    lines = [
        "Table 1: SDR on the 2-source test set, by the training data of each method",
        "",
        "| Method | group | seeds | " + " | ".join(column_label(c) for c in columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    for name, entry in table1.items():
        method = get_method(name)
        present = [c for c in entry["columns"].values() if c]
        seeds = max((c["seeds"] for c in present), default=0)
        texts = [_text(entry["columns"][c]) if c in entry["columns"] else "-" for c in columns]
        lines.append(f"| {method.title} | {method.group} | {seeds} | " + " | ".join(texts) + " |")
    return lines


def _table2_markdown(table2: Mapping[str, Any]) -> List[str]:
    keys = ["Training", "Test set", "Single-source", "Mixtures", "#Sources"]
    lines = [
        "Table 2: semi-supervised training with portions of clean solos",
        "",
        "| " + " | ".join(keys) + " | seeds | SDR | SDRi |",
        "|" + "---|" * (len(keys) + 3),
    ]
    for entry in table2.values():
        cell = entry["columns"].get("")
        sdri = "-" if cell is None else format_interval(cell["sdri"])
        seeds = "-" if cell is None else str(cell["seeds"])
        meta = [entry["meta"].get(k, "-") for k in keys]
        lines.append("| " + " | ".join(meta) + f" | {seeds} | {_text(cell)} | {sdri} |")
    return lines


def _bars(ax, labels, groups, values, errors):
    """Grouped horizontal bars: one group per label, one bar per group member."""
    import numpy as np

    n = max(len(groups), 1)
    height = 0.8 / n
    y = np.arange(len(labels))
    for i, group in enumerate(groups):
        ax.barh(
            y + (i - (n - 1) / 2) * height,
            values[i],
            height,
            xerr=errors[i],
            label=group,
            capsize=2,
        )
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="k", lw=0.6)
    ax.grid(axis="x", alpha=0.3)


def _values(cells):
    """Means and asymmetric error bars (NaN where a cell is missing or has no interval)."""
    import numpy as np

    mean = np.array([np.nan if c is None else c["sdr"]["mean"] for c in cells], dtype=float)
    low = np.array([np.nan if c is None else c["sdr"]["low"] for c in cells], dtype=float)
    high = np.array([np.nan if c is None else c["sdr"]["high"] for c in cells], dtype=float)
    err = np.nan_to_num(np.stack([mean - low, high - mean]), nan=0.0)
    return mean, err


def _plot_table1(table1, columns, path) -> None:
    from matplotlib.figure import Figure

    labels = [get_method(n).title for n in table1]
    fig = Figure(figsize=(7.5, 0.45 * len(labels) + 1.5), layout="constrained")
    ax = fig.subplots()
    values, errors = [], []
    for c in columns:
        mean, err = _values([e["columns"].get(c) for e in table1.values()])
        values.append(mean)
        errors.append(err)
    _bars(ax, labels, [column_label(c) for c in columns], values, errors)
    ax.set_xlabel("SDR on the 2-source test set (dB), 95 % interval")
    ax.set_title("Table 1: by the training data of each method", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.savefig(path, dpi=110)


def _plot_table2(table2, path) -> None:
    from matplotlib.figure import Figure

    def label(meta):
        parts = [f"{meta['Single-source']} clean"] if meta["Single-source"] != "-" else []
        if meta["Mixtures"] != "-":
            n = meta["#Sources"]
            kind = f"{n}-src mixtures" if n.isdigit() else f"clips ({n} sources)"
            parts.append(f"{meta['Mixtures']} {kind}")
        test = f"{meta['Test set']}, " if "Test set" in meta else ""
        return f"{test}{meta['Training']}: " + " + ".join(parts)

    labels = [label(e["meta"]) for e in table2.values()]
    mean, err = _values([e["columns"].get("") for e in table2.values()])
    # wide enough for the longest label beside a readable plot
    width = max(7.5, 4.0 + 0.07 * max(len(t) for t in labels))
    fig = Figure(figsize=(width, 0.4 * len(labels) + 1.5), layout="constrained")
    ax = fig.subplots()
    _bars(ax, labels, ["SDR"], [mean], [err])
    ax.set_xlabel("SDR on the row's 2-source test set (dB), 95 % interval")
    ax.set_title("Table 2: semi-supervised training with portions of clean solos", fontsize=9)
    fig.savefig(path, dpi=110)
