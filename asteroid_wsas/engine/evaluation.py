"""Scoring trained separators on fixed test sets (the paper's protocols)."""

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import torch

from ..data import TestSetDataset, build_test_set, collate_test_items, write_manifest
from ..data.registry import get_dataset
from ..separator import separate_batch
from ..utils import refuse_overwrite

__all__ = ["build_manifest", "load_separator", "separated_batches", "evaluate"]

PathLike = Union[str, os.PathLike]


def build_manifest(
    data: Dict[str, Any],
    path: PathLike,
    split: str = "test",
    n_sources: int = 2,
    passes: Optional[int] = None,
    max_mixtures: Optional[int] = None,
    force: bool = False,
) -> str:
    """Build and write a fixed ``n_sources``-mix set of ``split`` (the paper's protocol).

    Returns:
        str: the manifest path.
    """
    dataset = get_dataset(data)
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
    )
    if max_mixtures:
        test_set.mixtures = test_set.mixtures[:max_mixtures]
    write_manifest(test_set, path, force=force)
    return os.fspath(path)


def load_separator(path: PathLike):
    """The model of a ``best_model.pth`` (any registered class; MixIT's carries its
    learned queries, also in files written before the model held them)."""
    from ..registry import model_from_package

    package = torch.load(path, map_location="cpu", weights_only=True)
    model = model_from_package(package).eval()
    # the objective it was trained with (its default way of picking learned outputs)
    model.trained_objective = (package.get("infos") or {}).get("objective")
    return model


def frames_beside(separator: PathLike) -> Dict[str, Any]:
    """How the ``best_model.pth`` at ``separator`` is queried on test sets, from the
    ``conf.yml`` beside it: ``{}`` (text, also without a conf.yml), or the ``frames`` and
    ``n_frames`` of an image-queried run (``queries: image``; see
    :func:`~asteroid_wsas.engine.training.query_frames`)."""
    from ..utils import conf_beside
    from .training import query_frames

    conf = conf_beside(separator) or {}
    return query_frames(conf) if conf.get("queries", "text") != "text" else {}


def default_selection(model) -> str:
    """How a loaded model's learned outputs answer queries: its objective's ``selection``
    (PIT: ``"assignment"``), ``"text"`` otherwise."""
    from ..losses.objectives import OBJECTIVES

    objective = OBJECTIVES.get(getattr(model, "trained_objective", None))
    return objective.selection if objective is not None else "text"


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

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
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
) -> Dict[str, Any]:
    """Score a separator on a fixed test set; write all_metrics.csv, final_metrics.json, a PNG.

    Args:
        separator: ``best_model.pth``; None scores the unprocessed mixture (the "Mixture"
            row: every query answered with the input).
        encoder: The frozen encoder (its text embeds the queries).
        manifest: The test-set manifest.
        out_dir: Where the files go.
        batch_size: Mixtures per separator call.
        device: Where to separate (default: CUDA when available).
        force: Overwrite existing result files.
        progress: Show a progress bar.
        selection: How a model's learned outputs (MixIT, PIT) answer the queries:
            ``"text"`` (the encoder's choice), ``"oracle"`` (best SI-SDR; an upper bound)
            or ``"assignment"`` (best one-to-one assignment); None: the one of the
            objective the model was trained with (PIT: assignment, others: text).
        frames: A :class:`~asteroid_wsas.data.frames.FrameStore` of the test videos: each
            source is queried with its video's frames over its span (image-queried
            separators; :func:`~asteroid_wsas.engine.training.query_frames` of the
            training config gives it); the CSV names the texts.
        n_frames: Frames per query.
        queries: None (as the separator was trained), ``"text"`` (the test set's texts,
            also for an image-trained separator) or ``"image"``.

    Returns:
        dict: the summary (as in final_metrics.json).
    """
    from ..metrics import Evaluator

    out_dir = Path(out_dir)
    files = [out_dir / n for n in ("all_metrics.csv", "final_metrics.json", "scores.png")]
    refuse_overwrite(*files, force=force)
    evaluator = Evaluator(device="cpu")
    desc = f"evaluating {out_dir.name}"
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
    evaluator.save(files[0], files[1], force=True)
    evaluator.plot(files[2], force=True, title=f"{out_dir.name}: per-mixture scores")
    return evaluator.summary()
