"""Evaluator: scores test mixtures query by query, aggregates them as the paper does, and
writes a per-query CSV, a JSON summary (mean and std over mixtures of the per-mixture means
over sources) and a PNG.

Two scorings (the ``eval.scoring`` departure of :mod:`asteroid_wsas.protocol`;
:meth:`Evaluator.for_scoring`): ``ours`` skips near-silent references one by one and
averages over mixtures; ``authors`` is their released code's (``calc_metrics`` and
``evaluate`` of its main.py): a mixture is dropped when any of its references or estimates
is silent (``sum |x| <= 1e-5``), and the figure is the mean over evaluation batches of the
per-batch means over the kept mixtures.
"""

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..utils import refuse_overwrite
from .bss_eval import (
    LABELS,
    METRICS,
    ArrayLike,
    _check_signals,
    _separation_metrics,
    _silent,
)

__all__ = ["Evaluator", "CSV_COLUMNS", "CPU_BATCH", "GPU_BATCH", "SCORINGS", "AUTHORS_SCORING"]

SKIP_POLICIES = ("source", "mixture")
AGGREGATIONS = ("mixtures", "batches")
# eval.scoring values (asteroid_wsas.protocol), and the settings the authors' one fixes
SCORINGS = ("ours", "authors")
AUTHORS_SCORING = {
    "skip_policy": "mixture",  # their calc_metrics drops the whole mixture
    "silence_rel_db": None,  # ... on sum |x| <= 1e-5 alone, of a reference or an estimate
    "silence_abs": 1e-5,
    "aggregation": "batches",  # AverageMeter updated once per batch with the batch's mean
}
# Mixtures per scoring call: small batches stay in cache on CPU (bench/eval_speed.py).
CPU_BATCH = 2
GPU_BATCH = 32
CSV_COLUMNS = ("mixture_id", "query", "source") + METRICS + ("skipped", "silent_estimate")


class Evaluator:
    """Scores test mixtures query by query and aggregates them as the paper does.

    Each added mixture gives one row per query (its reference, its estimate). A query whose
    reference is near-silent (:func:`silent_sources`) is *skipped*: it gets no scores, does
    not enter the averages and is counted. The summary averages the scored queries of each
    mixture, then reports mean and std (population, ddof=0) of those per-mixture means over
    the mixtures with at least one scored query. Skipped references still span the
    interference subspace of the other queries, as in mir_eval on the full mixture.

    Mixtures are buffered and scored ``batch_size`` at a time (those of equal shape share a
    call); reading :attr:`rows`, :meth:`summary` or writing flushes the buffer.

    Args:
        filter_length: taps of the BSS-Eval distortion filter (512).
        silence_rel_db: a reference more than ``-silence_rel_db`` dB below the mixture's
            energy is silent (None: off).
        silence_abs: a reference with ``sum |x| <= silence_abs`` is silent (None: off).
        skip_policy: ``"source"`` skips silent references one by one (estimates are always
            scored; an all-zero estimate scores ``-clamp_db``). ``"mixture"`` is Sound of
            Pixels / CLIPSep's rule: a mixture is skipped whole if any of its references or
            estimates is silent.
        clamp_db: scores are limited to ``[-clamp_db, clamp_db]``.
        batch_size: mixtures per scoring call; default 2 on CPU (larger batches run slower
            there: their intermediates leave the cache) and 32 on GPU. It does not change
            any score.
        device: where to compute (default: where the inputs are).
        aggregation: ``"mixtures"``: the summary's mean is over mixtures of the per-mixture
            means. ``"batches"`` (the authors'): each :meth:`add` call is one evaluation
            batch (a single mixture is a batch of one); the mean is over batches of the
            per-batch means over the batch's scored mixtures, and a batch without a scored
            mixture counts as 0 dB, as their ``AverageMeter`` does (``counts`` reports such
            batches). Std and median stay over mixtures.

    Examples:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> refs = torch.randn(2, 8000, generator=g)
        >>> ev = Evaluator()
        >>> ev.add(refs.sum(0), refs, refs + 0.1 * refs.flip(0), mixture_id="a",
        ...        queries=["dog barking", "rain"])
        >>> ev.add(refs.sum(0), torch.stack([refs[0], 0 * refs[1]]), refs, mixture_id="b")
        >>> [(r["mixture_id"], r["query"], r["skipped"]) for r in ev.rows]
        [('a', 'dog barking', False), ('a', 'rain', False), ('b', 'q0', False), ('b', 'q1', True)]
        >>> s = ev.summary()
        >>> s["counts"]["sources_skipped"], round(s["metrics"]["sdr"]["mean"], 1)
        (1, 60.1)
    """

    def __init__(
        self,
        *,
        filter_length: int = 512,
        silence_rel_db: Optional[float] = -60.0,
        silence_abs: Optional[float] = 1e-5,
        skip_policy: str = "source",
        clamp_db: Optional[float] = 100.0,
        batch_size: Optional[int] = None,
        device: Optional[Union[str, torch.device]] = None,
        aggregation: str = "mixtures",
    ):
        if skip_policy not in SKIP_POLICIES:
            raise ValueError(f"skip_policy must be one of {SKIP_POLICIES}, got {skip_policy!r}")
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
        if filter_length < 1:
            raise ValueError(f"filter_length must be >= 1, got {filter_length}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.filter_length = filter_length
        self.silence_rel_db = silence_rel_db
        self.silence_abs = silence_abs
        self.skip_policy = skip_policy
        self.clamp_db = clamp_db
        self.batch_size = batch_size
        self.device = None if device is None else torch.device(device)
        self.aggregation = aggregation
        self.scoring: Optional[str] = None  # set by for_scoring
        self._batch_of: List[int] = []  # evaluation batch (add call) of each added mixture
        self._n_batches = 0
        self._pending: List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor, str, List[str]]] = []
        self._rows: List[Dict[str, Any]] = []
        self._mixtures: List[Tuple[str, int, int]] = []  # id, first and end row
        self._n_added = 0

    @classmethod
    def for_scoring(cls, scoring: str = "ours", **kwargs: Any) -> "Evaluator":
        """An Evaluator that scores as ``eval.scoring`` says.

        Args:
            scoring: ``"ours"`` (the constructor's defaults: near-silent references skipped
                one by one, mean over mixtures) or ``"authors"`` (:data:`AUTHORS_SCORING`:
                a mixture with a silent reference or estimate, ``sum |x| <= 1e-5``, is
                dropped; mean of the per-batch means, one batch per :meth:`add` call).
            **kwargs: Other constructor arguments (``device``, ``batch_size``, ...).

        Returns:
            Evaluator: its summary's settings name the scoring (``authors`` only: the
            files of ``ours`` are those of a plain Evaluator).

        Raises:
            ValueError: An unknown ``scoring``, or an argument the authors' scoring fixes.

        Examples:
            >>> ev = Evaluator.for_scoring("authors")
            >>> ev.skip_policy, ev.silence_rel_db, ev.silence_abs, ev.aggregation
            ('mixture', None, 1e-05, 'batches')
        """
        if scoring not in SCORINGS:
            raise ValueError(f"scoring (eval.scoring) must be one of {SCORINGS}, got {scoring!r}")
        preset = AUTHORS_SCORING if scoring == "authors" else {}
        clash = sorted(set(preset) & set(kwargs))
        if clash:
            raise ValueError(f"scoring='authors' sets {clash} itself; leave them out")
        evaluator = cls(**preset, **kwargs)
        evaluator.scoring = scoring
        return evaluator

    def __len__(self) -> int:
        """Number of mixtures added so far."""
        return self._n_added

    def add(
        self,
        mixture: ArrayLike,
        references: ArrayLike,
        estimates: ArrayLike,
        *,
        mixture_id: Optional[Union[str, int, Sequence[Union[str, int]]]] = None,
        queries: Optional[Union[Sequence[str], Sequence[Sequence[str]]]] = None,
    ) -> None:
        """Add one mixture, or a batch of mixtures of equal shape.

        With ``aggregation="batches"`` each call is one evaluation batch.

        Args:
            mixture: the mixture(s).
            references: the reference source of each query.
            estimates: the separated output of each query, in the order of ``references``.
            mixture_id: an id for the CSV (one per mixture for a batch); default: a running
                number.
            queries: the K query texts (a list of K lists for a batch); default ``q0``,
                ``q1``, ...

        Shape:
            one mixture: mixture ``(T,)``, references and estimates ``(K, T)``; a batch:
            ``(B, T)`` and ``(B, K, T)``.

        Raises:
            ValueError: naming the argument, for a wrong rank, mismatched shapes or lengths,
                NaN/inf values, or ids/queries that do not match the shapes.
        """
        mix = _check_signals(mixture, "mixture")
        refs = _check_signals(references, "references")
        ests = _check_signals(estimates, "estimates")
        if refs.dim() not in (2, 3):
            raise ValueError(
                f"references must have shape (K, T) or (B, K, T), got {tuple(refs.shape)}"
            )
        if ests.shape != refs.shape:
            raise ValueError(
                f"estimates shape {tuple(ests.shape)} does not match references shape "
                f"{tuple(refs.shape)} (one estimate per reference, same length)"
            )
        if mix.dim() != refs.dim() - 1:
            want = "(T,)" if refs.dim() == 2 else "(B, T)"
            raise ValueError(
                f"mixture must have shape {want} for references of shape {tuple(refs.shape)}, "
                f"got {tuple(mix.shape)}"
            )
        batched = refs.dim() == 3
        if not batched:
            mix, refs, ests = mix[None], refs[None], ests[None]
            mixture_id = None if mixture_id is None else [mixture_id]
            queries = None if queries is None else [queries]
        n_mix, n_src, n_samples = refs.shape
        if mix.shape[0] != n_mix:
            raise ValueError(f"mixture has {mix.shape[0]} mixtures but references have {n_mix}")
        if mix.shape[-1] != n_samples:
            raise ValueError(
                f"mixture has {mix.shape[-1]} samples but references and estimates have "
                f"{n_samples}"
            )
        ids = self._ids(mixture_id, n_mix, batched)
        names = self._queries(queries, n_mix, n_src)
        device = self.device or refs.device
        for b in range(n_mix):
            item = (mix[b].to(device), refs[b].to(device), ests[b].to(device))
            self._pending.append(item + (ids[b], names[b]))
        self._n_added += n_mix
        if n_mix:  # one call, one evaluation batch (aggregation="batches")
            self._batch_of += [self._n_batches] * n_mix
            self._n_batches += 1
        if len(self._pending) >= (self.batch_size or GPU_BATCH):
            self.flush()

    def _ids(self, mixture_id, n_mix: int, batched: bool) -> List[str]:
        if mixture_id is None:
            return [str(self._n_added + b) for b in range(n_mix)]
        if batched and (isinstance(mixture_id, (str, bytes)) or np.isscalar(mixture_id)):
            raise ValueError(f"mixture_id must be a sequence of {n_mix} ids for a batch")
        ids = [str(i) for i in mixture_id]
        if len(ids) != n_mix:
            raise ValueError(f"mixture_id has {len(ids)} ids for {n_mix} mixtures")
        return ids

    @staticmethod
    def _queries(queries, n_mix: int, n_src: int) -> List[List[str]]:
        if queries is None:
            return [[f"q{k}" for k in range(n_src)] for _ in range(n_mix)]
        if len(queries) != n_mix:
            raise ValueError(f"queries has {len(queries)} entries for {n_mix} mixtures")
        out = []
        for q in queries:
            if isinstance(q, str) or len(q) != n_src:
                raise ValueError(f"queries must give {n_src} query texts per mixture, got {q!r}")
            out.append([str(x) for x in q])
        return out

    def flush(self) -> None:
        """Score the buffered mixtures (rows keep the order in which mixtures were added)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        groups: Dict[Tuple, List[int]] = {}
        for i, (mix, refs, _, _, _) in enumerate(pending):
            groups.setdefault((tuple(refs.shape), mix.device), []).append(i)
        results: Dict[int, Dict[str, List[float]]] = {}
        for key, members in groups.items():
            size = self.batch_size or (CPU_BATCH if key[1].type == "cpu" else GPU_BATCH)
            for start in range(0, len(members), size):
                chunk = members[start : start + size]
                mix = torch.stack([pending[i][0] for i in chunk])
                refs = torch.stack([pending[i][1] for i in chunk])
                ests = torch.stack([pending[i][2] for i in chunk])
                # inputs were checked and converted to float64 by add()
                scores = _separation_metrics(mix, refs, ests, self.filter_length, self.clamp_db)
                rules = (self.silence_rel_db, self.silence_abs)
                # mir_eval refuses all-zero references; they are skipped whatever the settings
                ref_silent = _silent(mix, refs, *rules) | (refs == 0).all(-1)
                est_silent = _silent(mix, ests, *rules)
                skipped = ref_silent
                if self.skip_policy == "mixture":
                    whole = (ref_silent | est_silent).any(-1, keepdim=True)
                    skipped = whole.expand_as(ref_silent)
                cpu = {k: v.cpu().tolist() for k, v in scores.items()}
                skipped, est_silent = skipped.cpu().tolist(), est_silent.cpu().tolist()
                for j, i in enumerate(chunk):
                    results[i] = {k: cpu[k][j] for k in METRICS}
                    results[i]["skipped"] = skipped[j]
                    results[i]["silent_estimate"] = est_silent[j]
        for i, (_, _, _, mixture_id, names) in enumerate(pending):
            res = results[i]
            first = len(self._rows)
            for k, query in enumerate(names):
                skip = bool(res["skipped"][k])
                row: Dict[str, Any] = {"mixture_id": mixture_id, "query": query, "source": k}
                row.update({m: math.nan if skip else float(res[m][k]) for m in METRICS})
                row["skipped"] = skip
                row["silent_estimate"] = bool(res["silent_estimate"][k])
                self._rows.append(row)
            self._mixtures.append((mixture_id, first, len(self._rows)))

    @property
    def rows(self) -> List[Dict[str, Any]]:
        """One dict per (mixture, query), skipped ones with NaN scores."""
        self.flush()
        return list(self._rows)

    def per_mixture(self) -> List[Dict[str, Any]]:
        """Per added mixture: its id, its number of scored queries and their mean scores.

        Returns:
            One dict per mixture, in the order added; scores are NaN when every query of the
            mixture was skipped.
        """
        self.flush()
        out: List[Dict[str, Any]] = []
        for mixture_id, first, last in self._mixtures:
            scored = [r for r in self._rows[first:last] if not r["skipped"]]
            entry: Dict[str, Any] = {"mixture_id": mixture_id, "scored": len(scored)}
            for m in METRICS:
                entry[m] = float(np.mean([r[m] for r in scored])) if scored else math.nan
            out.append(entry)
        return out

    def summary(self) -> Dict[str, Any]:
        """Mean and std over mixtures of the per-mixture means, counts and settings.

        With ``aggregation="batches"`` the mean is the authors' mean of per-batch means
        (:meth:`batch_means`), counts add ``batches``, ``batches_without_valid`` and
        ``mixtures_dropped``, and the settings say so.

        Returns:
            ``{"metrics": {name: {"mean", "std", "median"}}, "counts": {...},
            "settings": {...}}``; a mean with nothing to average is None.
        """
        mixtures = self.per_mixture()
        scored = [m for m in mixtures if m["scored"] > 0]
        by_batch = self.batch_means() if self.aggregation == "batches" else None
        metrics: Dict[str, Dict[str, Optional[float]]] = {}
        for m in METRICS:
            values = np.array([x[m] for x in scored], dtype=np.float64)
            if len(values):
                metrics[m] = {
                    "mean": float(values.mean()),
                    "std": float(values.std()),
                    "median": float(np.median(values)),
                }
            else:
                metrics[m] = {"mean": None, "std": None, "median": None}
            if by_batch:  # batches without a kept mixture count as 0, so a mean exists
                metrics[m]["mean"] = float(np.mean([b[m] for b in by_batch]))
        rows = self._rows
        counts = {
            "mixtures": len(mixtures),
            "mixtures_scored": len(scored),
            "sources": len(rows),
            "sources_scored": sum(not r["skipped"] for r in rows),
            "sources_skipped": sum(r["skipped"] for r in rows),
            "silent_estimates_scored": sum(r["silent_estimate"] and not r["skipped"] for r in rows),
        }
        settings = {
            "bss_eval": "v3, no permutation (mir_eval bss_eval_sources compute_permutation=False)",
            "filter_length": self.filter_length,
            "si_sdr": "zero-mean",
            "improvement": "score of the estimate minus score of the mixture as the estimate",
            "averaging": "mean over the scored queries of a mixture, then over mixtures",
            "std": "population (ddof=0) over mixtures",
            "silence_rel_db": self.silence_rel_db,
            "silence_abs": self.silence_abs,
            "skip_policy": self.skip_policy,
            "clamp_db": self.clamp_db,
        }
        if self.aggregation == "batches":
            counts["mixtures_dropped"] = len(mixtures) - len(scored)
            counts["batches"] = self._n_batches
            counts["batches_without_valid"] = sum(b["scored"] == 0 for b in by_batch or [])
            settings["averaging"] = (
                "mean over the scored queries of a mixture, then over the scored mixtures of "
                "an evaluation batch, then over batches (a batch without a scored mixture "
                "counts as 0, as the authors' AverageMeter does); median over mixtures"
            )
            settings["batch_mixtures"] = max((b["mixtures"] for b in by_batch or []), default=0)
        if self.scoring not in (None, "ours"):
            settings["scoring"] = self.scoring
        return {"metrics": metrics, "counts": counts, "settings": settings}

    def batch_means(self) -> List[Dict[str, Any]]:
        """Per evaluation batch (:meth:`add` call): its mixtures, how many were scored, and
        the mean of their per-mixture means; 0 for every metric when none was (the
        authors' ``calc_metrics`` then returns its meters' initial 0).

        Returns:
            One dict per batch, in the order added: ``batch``, ``mixtures``, ``scored`` and
            one entry per metric.
        """
        members: List[List[Dict[str, Any]]] = [[] for _ in range(self._n_batches)]
        for mixture, b in zip(self.per_mixture(), self._batch_of):
            members[b].append(mixture)
        out: List[Dict[str, Any]] = []
        for b in range(self._n_batches):
            kept = [m for m in members[b] if m["scored"] > 0]
            entry: Dict[str, Any] = {"batch": b, "mixtures": len(members[b]), "scored": len(kept)}
            for name in METRICS:
                entry[name] = float(np.mean([m[name] for m in kept])) if kept else 0.0
            out.append(entry)
        return out

    def write_csv(self, path: Union[str, os.PathLike], *, force: bool = False) -> Path:
        """Write one row per (mixture, query): :data:`CSV_COLUMNS` (and ``batch``, the
        evaluation batch, with ``aggregation="batches"``); skipped scores are empty.

        Raises:
            FileExistsError: ``path`` exists and ``force`` is False.
        """
        path = _writable(path, force)
        rows = self.rows
        batches = self.aggregation == "batches"
        batch_of_row: List[int] = []
        if batches:  # the authors' figure is recomputable from the file
            for (_, first, last), b in zip(self._mixtures, self._batch_of):
                batch_of_row += [b] * (last - first)
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS + (("batch",) if batches else ()))
            for i, r in enumerate(rows):
                cells = [r["mixture_id"], r["query"], r["source"]]
                cells += ["" if math.isnan(r[m]) else f"{r[m]:.6f}" for m in METRICS]
                cells += [int(r["skipped"]), int(r["silent_estimate"])]
                if batches:
                    cells.append(batch_of_row[i])
                writer.writerow(cells)
        return path

    def write_json(self, path: Union[str, os.PathLike], *, force: bool = False) -> Path:
        """Write :meth:`summary` as JSON.

        Raises:
            FileExistsError: ``path`` exists and ``force`` is False.
        """
        path = _writable(path, force)
        path.write_text(json.dumps(self.summary(), indent=2) + "\n")
        return path

    def save(
        self,
        csv_path: Union[str, os.PathLike],
        json_path: Union[str, os.PathLike],
        *,
        force: bool = False,
    ) -> Tuple[Path, Path]:
        """Write both files; neither is written if either exists and ``force`` is False."""
        _writable(csv_path, force)
        _writable(json_path, force)
        return self.write_csv(csv_path, force=force), self.write_json(json_path, force=force)

    def plot(
        self, path: Union[str, os.PathLike], *, title: Optional[str] = None, force: bool = False
    ) -> Path:
        """Box plots of the per-mixture scores: the distributions behind the summary's mean ± std.

        Left panel: SDR, SIR, SAR and SI-SDR; right panel: the improvements SDRi and SI-SDRi.
        Boxes span the quartiles, whiskers 1.5 IQR, the white dot is the mean.

        Args:
            path: the PNG to write.
            title: figure title (default: the counts of scored mixtures and skipped queries).
            force: overwrite an existing file.

        Returns:
            The path written.

        Raises:
            FileExistsError: ``path`` exists and ``force`` is False.
            ValueError: no mixture has a scored query.
        """
        from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

        scored = [m for m in self.per_mixture() if m["scored"] > 0]
        if not scored:
            raise ValueError("nothing to plot: no mixture has a scored query")
        path = _writable(path, force)
        counts = self.summary()["counts"]
        fig = Figure(figsize=(9, 4), layout="constrained")
        panels = fig.subplots(1, 2, width_ratios=[2, 1])
        for ax, names in zip(panels, (("sdr", "sir", "sar", "si_sdr"), ("sdri", "si_sdri"))):
            values = [[m[name] for m in scored] for name in names]
            ax.boxplot(
                values,
                tick_labels=[LABELS[n] for n in names],
                showmeans=True,
                meanprops={"marker": "o", "markerfacecolor": "white", "markeredgecolor": "k"},
            )
            ax.axhline(0.0, color="0.7", lw=0.8, zorder=0)
            ax.set_ylabel("dB")
            ax.grid(axis="y", alpha=0.3)
        panels[0].set_title("scores")
        panels[1].set_title("improvement over the mixture")
        fig.suptitle(
            title
            or f"{counts['mixtures_scored']} mixtures scored, "
            f"{counts['sources_skipped']} near-silent queries skipped"
        )
        fig.savefig(path, dpi=120)
        return path


def _writable(path: Union[str, os.PathLike], force: bool) -> Path:
    path = Path(path)
    refuse_overwrite(path, force=force)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
