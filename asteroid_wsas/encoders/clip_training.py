"""A small CLIP trained offline on a dataset's video frames and class prompts.

The image-queried rows need an encoder whose picture of a class lies near the picture's
other frames and near the class's phrase, as a pretrained CLIP's does. Offline, with no
hub, a random-initialised CLIP does not separate drawn classes (its image embeddings of any
two frames are about equally close); :func:`train_small_clip` trains CLIP's own
architecture (tiny by default) with CLIP's own contrastive loss on (frame, "The sound of
<class>") pairs of the training videos, so that training on frame queries and answering
text queries (CLIPSep's transfer) can be tried offline. It is the stand-in of the small
audio-text encoder for images: a check of the machinery, not a model of real video.
"""

import json
import os
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..text import source_prompt

__all__ = ["train_small_clip", "frame_retrieval", "small_clip_pairs"]

PathLike = Union[str, os.PathLike]


def train_small_clip(
    entries: Sequence[Any],
    frames,
    out_dir: PathLike,
    val_entries: Sequence[Any] = (),
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 1e-3,
    size: str = "tiny",
    image_size: int = 32,
    seed: int = 0,
    progress: bool = True,
) -> Dict[str, Any]:
    """Train a CLIP on (frame, class prompt) pairs and save it for ``clip_image:<out_dir>``.

    Each step takes up to ``batch_size`` clips of distinct classes (so that no phrase is
    its own negative) and one frame of each at a random time; CLIP's symmetric contrastive
    loss (``CLIPModel(..., return_loss=True)``) pulls each frame to its class's phrase.

    Args:
        entries: Training clips with ``label``, ``video_id`` and ``info`` (``SoloEntry``).
        frames: Their :class:`~asteroid_wsas.data.frames.FrameStore`.
        out_dir: Folder written in transformers' layout (model and tokenizer).
        val_entries: Held-out clips for :func:`frame_retrieval` (skipped when empty).
        steps: Optimiser steps.
        batch_size: Most pairs per step (at most one per class).
        lr: Adam's learning rate.
        size: ``"tiny"`` or ``"vit-b-32"`` (:func:`~asteroid_wsas.encoders.testing.clip_config`).
        image_size: Side of the tiny vision tower's input.
        seed: Seed of the initialisation and of the sampling.
        progress: Show a progress bar.

    Returns:
        dict: ``loss_first`` / ``loss_last`` (means of the first / last 10 steps),
        ``retrieval`` (frame -> class R@1 on ``val_entries``, or None), ``chance`` and
        ``classes``; also written to ``<out_dir>/training.json``.

    Raises:
        ValueError: Fewer than two classes, or non-positive steps.
    """
    from tqdm.auto import tqdm
    from transformers import CLIPModel

    from .clip import ClipEncoder
    from .testing import clip_config, clip_tokenizer

    by_label: Dict[str, List[Any]] = {}
    for entry in entries:
        by_label.setdefault(entry.label, []).append(entry)
    labels = sorted(by_label)
    if len(labels) < 2:
        raise ValueError(f"a contrastive CLIP needs two classes or more, got {labels}")
    if steps < 1 or batch_size < 2:
        raise ValueError(f"need steps >= 1 and batch_size >= 2, got {steps}, {batch_size}")
    words = " ".join(source_prompt(label) for label in labels).lower()
    with tempfile.TemporaryDirectory() as scratch:
        tokenizer = clip_tokenizer(scratch, words)
    torch.manual_seed(seed)
    config = clip_config(tokenizer, size, image_size=image_size)
    model = CLIPModel(config)
    encoder = ClipEncoder(model, tokenizer, freeze=False, cache_size=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    losses = []
    bar = tqdm(range(steps), desc="training a small CLIP", disable=not progress)
    for _ in bar:
        picked = rng.permutation(labels)[:batch_size]
        clips = [by_label[label][rng.integers(len(by_label[label]))] for label in picked]
        pixels = torch.cat([encoder.preprocess(_random_frame(frames, c, rng)) for c in clips])
        text = encoder._tokenize([source_prompt(c.label) for c in clips])
        loss = model(**text, pixel_values=pixels, return_loss=True).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    report = {
        "steps": steps,
        "loss_first": float(np.mean(losses[:10])),
        "loss_last": float(np.mean(losses[-10:])),
        "classes": len(labels),
        "chance": 1.0 / len(labels),
        "retrieval": None,
    }
    if val_entries:
        report["retrieval"] = frame_retrieval(encoder.freeze(), frames, val_entries, labels)
    os.makedirs(out_dir, exist_ok=True)
    encoder.save_pretrained(out_dir)
    with open(os.path.join(out_dir, "training.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    return report


def frame_retrieval(encoder, frames, entries: Sequence[Any], labels: Sequence[str]) -> float:
    """Share of clips whose middle frame is closest to its own class's prompt (image -> text
    R@1 over ``labels``) in an image-and-text encoder's space."""
    text = encoder.embed_text([source_prompt(label) for label in labels])
    images = [_frame_at(frames, e, 0.5) for e in entries]
    scores = encoder.embed_images(images) @ text.T
    target = torch.tensor([list(labels).index(e.label) for e in entries])
    return float((scores.argmax(-1) == target).float().mean())


def _random_frame(frames, clip, rng: np.random.Generator) -> torch.Tensor:
    return _frame_at(frames, clip, float(rng.uniform(0.05, 0.95)))


def _frame_at(frames, clip, where: float) -> torch.Tensor:
    """One frame at ``where`` (a share of the clip's length), :math:`(1, 3, S, S)`."""
    seconds = clip.info.frames / clip.info.sample_rate
    return frames.read(clip.label, clip.video_id, where * seconds, 1e-3, 1)


def small_clip_pairs(data: Dict[str, Any]) -> Tuple[list, list, Any]:
    """The training and validation clips (with frames) of a recipe's ``data`` block and its
    frame store: what :func:`train_small_clip` takes.

    Raises:
        ValueError: The data has no ``frames`` block or no videos.
    """
    from ..data.registry import LabelledSolos, get_dataset

    dataset = get_dataset(data)
    store = dataset.frame_store() if isinstance(dataset, LabelledSolos) else None
    if store is None:
        raise ValueError("a small CLIP needs labelled videos: data.frames on MUSIC or VGGSound")
    train = store.check(dataset.solos("train"))
    val: Optional[list] = None
    for split in ("val", "test"):  # held-out clips for the retrieval check
        try:
            val = store.check(dataset.solos(split))
        except (ValueError, FileNotFoundError):
            val = None
        if val:
            break
    return train, val or [], store
