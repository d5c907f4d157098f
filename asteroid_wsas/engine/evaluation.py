"""Scoring trained separators on fixed test sets (the paper's protocols), and on real
recordings without references (CLAPScore, :func:`score_recordings`)."""

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch

from ..data import TestSetDataset, build_test_set, collate_test_items, write_manifest
from ..data.registry import get_dataset
from ..separation.core import separate_batch
from ..utils import check_device, refuse_overwrite

__all__ = [
    "build_manifest",
    "check_classes_of",
    "load_separator",
    "separated_batches",
    "evaluate",
    "score_recordings",
]

PathLike = Union[str, os.PathLike]


def build_manifest(
    data: Dict[str, Any],
    path: PathLike,
    split: str = "test",
    n_sources: int = 2,
    passes: Optional[int] = None,
    max_mixtures: Optional[int] = None,
    force: bool = False,
    composition: str = "ours",
) -> str:
    """Build and write a fixed ``n_sources``-mix set of ``split`` (the paper's protocol).

    Args:
        data: The config's ``data`` block.
        path: The manifest to write.
        split: ``"test"`` or ``"val"``.
        n_sources: Sources per mixture.
        passes: Passes over the split's clips (default: the dataset's ``test_passes``).
        max_mixtures: Keep the first this many mixtures (validation sets).
        force: Overwrite an existing manifest.
        composition: ``eval.composition``: ``"ours"`` (random non-silent windows, one
            caption per AudioCaps clip) or ``"authors"`` (their released code's test lists:
            the dataset's ``authors_crop`` test crops, and for AudioCaps every caption row
            with a random validation clip; see :func:`~asteroid_wsas.data.build_test_set`).

    Returns:
        str: the manifest path.

    Raises:
        ValueError: An unknown ``composition``.
    """
    from ..data.testsets import COMPOSITIONS

    if composition not in COMPOSITIONS:
        raise ValueError(
            f"composition (eval.composition) must be one of {COMPOSITIONS}, got {composition!r}"
        )
    dataset = get_dataset(data)
    extra: Dict[str, Any] = {}
    if composition == "authors":
        # datasets whose authors' list differs from their candidates say so (AudioCaps)
        own = getattr(dataset, "authors_candidates", None)
        candidates, partners = own(split) if own else (dataset.candidates(split), None)
        extra = dict(composition="authors", crop=dataset.authors_crop, partners=partners)
    else:
        candidates = dataset.candidates(split)
    passes = passes or dataset.test_passes
    test_set = build_test_set(
        f"{data['dataset']}-{n_sources}mix-{split}",
        candidates,
        data["root"],
        n_sources=n_sources,
        passes=passes,
        seconds=data["segment"],
        sample_rate=data["sample_rate"],
        seed=data.get("test_seed", 0),
        progress=True,
        **extra,
    )
    if max_mixtures:
        test_set.mixtures = test_set.mixtures[:max_mixtures]
    write_manifest(test_set, path, force=force)
    return os.fspath(path)


def check_classes_of(manifest: PathLike, reference: PathLike) -> List[str]:
    """Refuse to score on ``manifest`` what a run of ``reference``'s data was never asked:
    a class (label) that set lacks, or another sample rate. For scoring a run on a second
    set of the same classes (another soundfont's rendering) without retraining.

    Args:
        manifest: The test set to score on.
        reference: A test set of the run's own data (its classes are those it trained on).

    Returns:
        list: the classes ``manifest`` asks, sorted.

    Raises:
        ValueError: ``manifest`` asks classes ``reference`` lacks (named), or the two sets'
            sample rates differ.
    """
    from ..data import read_manifest

    sets = [read_manifest(manifest), read_manifest(reference)]
    asked, known = ({s.label for m in t.mixtures for s in m.sources} for t in sets)
    missing = sorted(asked - known)
    if missing:
        raise ValueError(
            f"{manifest} asks {len(missing)} class(es) that {reference} does not have: "
            f"{', '.join(missing)}; a run of that data never learnt them (score on a set of "
            "the same classes)"
        )
    if sets[0].sample_rate != sets[1].sample_rate:
        raise ValueError(
            f"{manifest} is at {sets[0].sample_rate} Hz, {reference} at "
            f"{sets[1].sample_rate} Hz: render the second set at the run's rate"
        )
    return sorted(asked)


def load_separator(path: PathLike):
    """The model of a ``best_model.pth`` (any registered class; MixIT's carries its
    learned queries, also in files written before the model held them)."""
    from ..models.registry import model_from_package

    package = torch.load(path, map_location="cpu", weights_only=True)
    model = model_from_package(package).eval()
    # the objective it was trained with (its default way of picking learned outputs)
    model.trained_objective = (package.get("infos") or {}).get("objective")
    return model


def frames_beside(separator: PathLike) -> Dict[str, Any]:
    """How the ``best_model.pth`` at ``separator`` is queried on test sets, from the
    ``conf.yml`` beside it: ``{}`` (text, also without a conf.yml), or the ``frames`` and
    ``n_frames`` of an image-queried run (``queries: image``; see
    :func:`~asteroid_wsas.engine.config.query_frames`)."""
    from ..utils import conf_beside
    from .config import query_frames

    conf = conf_beside(separator) or {}
    return query_frames(conf) if conf.get("queries", "text") != "text" else {}


def default_selection(model) -> str:
    """How a loaded model's learned outputs answer queries: its objective's ``selection``
    (PIT: ``"assignment"``), ``"text"`` otherwise."""
    from ..losses.objectives import OBJECTIVES

    objective = OBJECTIVES.get(getattr(model, "trained_objective", None))
    return objective.selection if objective is not None else "text"


def _device(device: Optional[Union[str, torch.device]]) -> torch.device:
    """The device asked for, checked (one line naming ``device`` and what this machine has),
    or CUDA when available, else the CPU."""
    if device is None or device == "":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return check_device(device, "device")


def separated_batches(
    separator: Optional[PathLike],
    encoder,
    manifest: PathLike,
    batch_size: int,
    device: Optional[str],
    limit: Optional[int] = None,
    desc: str = "separating",
    progress: bool = True,
    selection: Optional[str] = None,
    frames=None,
    n_frames: int = 1,
    queries: Optional[str] = None,
):
    """Yield (batch, estimates) over a fixed test set; ``separator=None``: the mixture.
    ``selection`` None: the separator's own (:func:`default_selection`); ``frames``: query
    each source with its video's frames (:class:`~asteroid_wsas.data.TestSetDataset`);
    None: as the run beside the separator was trained (:func:`frames_beside`), unless
    ``queries="text"`` asks for the texts (an image-trained model queried by text, as
    CLIPSep does through CLIP's shared space)."""
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    device = _device(device)
    model = None
    if separator is not None:
        model = load_separator(separator)
        selection = selection or default_selection(model)
        model.to(device)
        encoder.to(device)
    if queries not in (None, "text", "image"):
        raise ValueError(f"queries must be None, 'text' or 'image', got {queries!r}")
    if queries == "text":
        frames = None
    elif model is not None and frames is None:
        beside = frames_beside(separator)
        if queries == "image" and not beside:
            raise ValueError(
                "queries='image' needs frames: pass frames, or a separator trained with "
                "queries: image (its conf.yml names the frames)"
            )
        frames, n_frames = beside.get("frames"), beside.get("n_frames", n_frames)
    data = TestSetDataset(manifest, frames=frames if model is not None else None, n_frames=n_frames)
    n = min(limit, len(data)) if limit else len(data)
    # batches of consecutive mixtures with the same number of queries (phrase-level sets
    # mix clips of 2, 3 and 4 events)
    sizes = [len(m.sources) for m in data.test_set.mixtures[:n]]
    batches: List[List[int]] = []
    for i, k in enumerate(sizes):
        if batches and len(batches[-1]) < batch_size and sizes[batches[-1][0]] == k:
            batches[-1].append(i)
        else:
            batches.append([i])
    loader = DataLoader(data, batch_sampler=batches, collate_fn=collate_test_items)
    with torch.inference_mode():
        for batch in tqdm(loader, desc=desc, disable=not progress):
            batch["sample_rate"] = data.test_set.sample_rate
            mix, refs = batch["mixture"], batch["references"]
            if model is None:
                yield batch, mix.unsqueeze(1).expand_as(refs)
                continue
            est = separate_batch(
                model,
                encoder,
                mix.to(device),
                batch["queries"],
                references=refs.to(device),
                selection=selection,
            )
            yield batch, est.float().cpu()


def evaluate(
    separator: Optional[PathLike],
    encoder,
    manifest: PathLike,
    out_dir: PathLike,
    batch_size: int = 4,
    device: Optional[str] = None,
    force: bool = False,
    progress: bool = True,
    selection: Optional[str] = None,
    frames=None,
    n_frames: int = 1,
    queries: Optional[str] = None,
    clap_scorer=None,
    scoring: str = "ours",
) -> Dict[str, Any]:
    """Score a separator on a fixed test set; write all_metrics.csv, final_metrics.json, a PNG.

    Args:
        separator: ``best_model.pth``; None scores the unprocessed mixture (the "Mixture"
            row: every query answered with the input).
        encoder: The frozen encoder (its text embeds the queries).
        manifest: The test-set manifest.
        out_dir: Where the files go.
        batch_size: Mixtures per separator call; with ``scoring="authors"`` also the
            evaluation batch whose mean the authors average (their scripts: 16 mixtures
            over 8 GPUs, 2 per GPU).
        device: Where to separate (default: CUDA when available).
        force: Overwrite existing result files.
        progress: Show a progress bar.
        selection: How a model's learned outputs (MixIT, PIT) answer the queries:
            ``"text"`` (the encoder's choice), ``"oracle"`` (best SI-SDR; an upper bound)
            or ``"assignment"`` (best one-to-one assignment); None: the one of the
            objective the model was trained with (PIT: assignment, others: text).
        frames: A :class:`~asteroid_wsas.data.frames.FrameStore` of the test videos: each
            source is queried with its video's frames over its span (image-queried
            separators; :func:`~asteroid_wsas.engine.config.query_frames` of the
            training config gives it); the CSV names the texts.
        n_frames: Frames per query.
        queries: None (as the separator was trained), ``"text"`` (the test set's texts,
            also for an image-trained separator) or ``"image"``.
        clap_scorer: A :class:`~asteroid_wsas.metrics.clap_score.ClapScorer`: also score
            each estimate by CLAPScore against its query's text, and its gain over the
            mixture (columns ``clap``, ``clapi``; empty where the reference was skipped,
            so that they average over the same queries as the other columns; their means
            are over mixtures under either scoring). None: the files are exactly those
            written without it.
        scoring: ``eval.scoring``: ``"ours"`` (near-silent references skipped one by one,
            mean over mixtures) or ``"authors"`` (a mixture with a silent reference or
            estimate is dropped, the figure is the mean of per-batch means; the summary
            counts dropped mixtures and batches without a kept one;
            :meth:`~asteroid_wsas.metrics.Evaluator.for_scoring`).

    Returns:
        dict: the summary (as in final_metrics.json).

    Raises:
        ValueError: An unknown ``scoring``.
    """
    from ..metrics import Evaluator

    evaluator = Evaluator.for_scoring(scoring, device="cpu")  # checks scoring before any work
    device = _device(device)  # and the device
    out_dir = Path(out_dir)
    files = [out_dir / n for n in ("all_metrics.csv", "final_metrics.json", "scores.png")]
    refuse_overwrite(*files, force=force)
    desc = f"evaluating {out_dir.name}"
    clap: Dict[str, List[float]] = {"clap": [], "clapi": []}
    sizes: List[int] = []  # queries per mixture, in the order added (the CSV's row order)
    if clap_scorer is not None:
        clap_scorer.to(device)
    for batch, est in separated_batches(
        separator,
        encoder,
        manifest,
        batch_size,
        device,
        desc=desc,
        progress=progress,
        selection=selection,
        frames=frames,
        n_frames=n_frames,
        queries=queries,
    ):
        evaluator.add(
            batch["mixture"],
            batch["references"],
            est,
            mixture_id=batch["ids"],
            queries=batch["query_names"],
        )
        if clap_scorer is not None:  # the same estimates, scored against the query texts
            scores = clap_scorer.score_separation(
                est, batch["mixture"], batch["query_names"], batch["sample_rate"]
            )
            for name in clap:
                clap[name] += scores[name].flatten().tolist()
            sizes += [est.shape[1]] * est.shape[0]
    evaluator.save(files[0], files[1], force=True)
    evaluator.plot(files[2], force=True, title=f"{out_dir.name}: per-mixture scores")
    summary = evaluator.summary()
    if clap_scorer is not None:
        summary = _add_clap_scores(files[0], files[1], summary, clap, sizes, clap_scorer)
    return summary


def _add_clap_scores(
    csv_path: Path,
    json_path: Path,
    summary: Dict[str, Any],
    clap: Dict[str, List[float]],
    sizes: List[int],
    scorer,
) -> Dict[str, Any]:
    """Append the CLAPScore columns to the Evaluator's CSV (its cells kept as written) and
    their mean / std / median over per-mixture means to its summary; rewrite both."""
    from ..metrics.clap_score import summarize

    with open(csv_path, newline="") as f:
        table = list(csv.reader(f))
    header, rows = table[0], table[1:]
    if len(rows) != len(clap["clap"]):
        raise RuntimeError(f"{len(rows)} CSV rows but {len(clap['clap'])} CLAPScores")
    skipped = [r[header.index("skipped")] in ("1", "True") for r in rows]
    for name, values in clap.items():  # skipped references: no score, as in the others
        clap[name] = [math.nan if s else v for s, v in zip(skipped, values)]
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header + list(clap))
        for i, row in enumerate(rows):
            writer.writerow(
                row + ["" if math.isnan(v[i]) else f"{v[i]:.6f}" for v in clap.values()]
            )
    # as the Evaluator averages: over the scored queries of a mixture, then over mixtures
    bounds = np.cumsum([0] + sizes)
    for name, values in clap.items():
        means = []
        for first, last in zip(bounds[:-1], bounds[1:]):
            scored = [v for v in values[first:last] if not math.isnan(v)]
            means.append(float(np.mean(scored)) if scored else math.nan)
        summary["metrics"][name] = summarize(means)
    summary["settings"]["clap_score"] = scorer.settings()
    json_path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def score_recordings(
    separator,
    inputs: Sequence[PathLike],
    queries: Sequence[str],
    scorer,
    out_dir: PathLike,
    *,
    device: Optional[str] = None,
    force: bool = False,
    progress: bool = True,
    n_resamples: int = 10000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Dict[str, Any]:
    """Score a separator on real recordings, which have no references, by CLAPScore.

    Each recording is separated with every query (:meth:`Separator.separate
    <asteroid_wsas.separation.separator.Separator.separate>`, chunked for long files); each
    estimate is scored against its query's text, and against the same query the unprocessed
    recording (the gain ``clapi``). Writes ``clap_scores.csv`` (``file, query, clap,
    clapi``) and ``clap_summary.json``: per metric the mean over recordings of the
    per-recording means over queries, with a percentile bootstrap interval over
    recordings (:func:`~asteroid_wsas.stats.paired_bootstrap`), the same per query, the
    counts and the settings.

    Args:
        separator: A :class:`~asteroid_wsas.separation.separator.Separator`, or what
            :meth:`Separator.from_pretrained
            <asteroid_wsas.separation.separator.Separator.from_pretrained>` loads (its
            folder, ``separator.pth`` or a recipe's ``best_model.pth``).
        inputs: Audio files and folders (searched recursively, :func:`audio_files
            <asteroid_wsas.separation.audio_io.audio_files>`).
        queries: The query texts, asked of every recording.
        scorer: A :class:`~asteroid_wsas.metrics.clap_score.ClapScorer`. Not the
            separator's training teacher alone: see docs/evaluation.md.
        out_dir: Where the two files go.
        device: Where to separate and score (default: CUDA when available).
        force: Overwrite existing files.
        progress: Show a progress bar over the recordings.
        n_resamples: Bootstrap replicates.
        confidence: Coverage of the intervals.
        seed: Seed of the bootstrap.

    Returns:
        dict: the summary (as in clap_summary.json).

    Raises:
        ValueError: No query, an empty query, or no audio file among ``inputs``.
        FileExistsError: An output exists and ``force`` is False.
    """
    from tqdm.auto import tqdm

    from ..separation.audio_io import audio_files, load_audio
    from ..separation.separator import Separator

    device = _device(device)  # before any file is read
    queries = [str(q) for q in queries]
    if not queries or any(not q.strip() for q in queries):
        raise ValueError(f"queries must be non-empty texts, got {queries!r}")
    out_dir = Path(out_dir)
    csv_path, json_path = out_dir / "clap_scores.csv", out_dir / "clap_summary.json"
    refuse_overwrite(csv_path, json_path, force=force)
    files: List[str] = []
    for item in inputs:
        if os.path.isdir(item):
            files += audio_files(item, exclude=out_dir)
        elif os.path.isfile(item):
            files.append(os.fspath(item))
        else:
            raise ValueError(f"{item}: no such file or folder")
    if not files:
        raise ValueError(f"no audio files in {[os.fspath(i) for i in inputs]}")
    if not isinstance(separator, Separator):
        separator = Separator.from_pretrained(separator)
    separator.to(device)
    scorer.to(device)
    rows: List[Dict[str, Any]] = []
    for path in tqdm(files, desc="separating and scoring", disable=not progress):
        wav, rate, _, _ = load_audio(path)
        result = separator.separate(wav, queries, sample_rate=rate, device=device)
        scores = scorer.score_separation(result.estimates[None], wav[None], [queries], rate)
        for k, query in enumerate(queries):
            rows.append(
                {
                    "file": path,
                    "query": query,
                    "clap": float(scores["clap"][0, k]),
                    "clapi": float(scores["clapi"][0, k]),
                }
            )
    summary = _recording_summary(rows, files, queries, n_resamples, confidence, seed)
    summary["settings"] = {
        **scorer.settings(),
        "interval": f"{100 * confidence:g} % percentile bootstrap over recordings of the "
        f"per-recording means over queries ({n_resamples} resamples, seed {seed})",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "query", "clap", "clapi"])
        for r in rows:
            writer.writerow([r["file"], r["query"], f"{r['clap']:.6f}", f"{r['clapi']:.6f}"])
    json_path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _recording_summary(rows, files, queries, n_resamples, confidence, seed) -> Dict[str, Any]:
    """Means and bootstrap intervals over recordings, overall and per query."""
    from ..stats import SeedScores, paired_bootstrap

    def interval(values: Dict[str, List[float]]) -> Dict[str, Any]:
        per_file = [float(np.mean(values[f])) for f in files]
        scores = SeedScores([per_file], files, ["run"])
        boot = paired_bootstrap(
            {"run": scores},
            lambda m: m["run"],
            n_resamples,
            confidence,
            seed,
            resample_seeds=False,
        )
        return {"mean": boot["value"], "low": boot["low"], "high": boot["high"], "n": len(files)}

    out: Dict[str, Any] = {"metrics": {}, "per_query": {q: {} for q in queries}}
    for name in ("clap", "clapi"):
        values: Dict[str, List[float]] = {f: [] for f in files}
        for r in rows:
            values[r["file"]].append(r[name])
        out["metrics"][name] = interval(values)
        for q in queries:
            mine = {f: [r[name] for r in rows if r["file"] == f and r["query"] == q] for f in files}
            out["per_query"][q][name] = interval(mine)
    out["counts"] = {"recordings": len(files), "queries": len(queries), "rows": len(rows)}
    return out
