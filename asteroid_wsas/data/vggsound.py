"""VGGSound in its public layout: the official CSV and one audio file per clip."""

import csv
import os
from typing import List, Optional, Union

from .audio import SkipCounter, find_audio, probe
from .base import dataset_infos
from .mixing import LabeledSourceMixtures, SoloEntry
from .music import split_videos
from .registry import LabelledSolos, register_dataset


def vggsound_clips(
    csv_path: Union[str, os.PathLike],
    audio_dir: Union[str, os.PathLike],
    split: str = "train",
    val_fraction: float = 0.0,
    split_seed: int = 0,
) -> List[SoloEntry]:
    """Clips of one VGGSound split, with missing / unreadable audio left out and counted.

    Args:
        csv_path: The official ``vggsound.csv``: rows ``youtube_id, start_seconds, label,
            split`` (no header; a header row is tolerated).
        audio_dir: Folder with ``<youtube_id>_<start:06d>.<ext>`` (the release's naming),
            ``<youtube_id>_<start>.<ext>`` or ``<youtube_id>.<ext>``, directly or in a
            ``<split>/`` sub-folder.
        split: ``train``, ``val`` (carved out of the CSV's train rows) or ``test``.
        val_fraction: Share of each class's training clips kept for validation.
        split_seed: Seed of that carving.

    Returns:
        list[SoloEntry] with ``video_id = "<youtube_id>_<start>"``.
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train, val or test, got {split!r}")
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if r]
    if rows and (len(rows[0]) < 2 or not rows[0][1].strip().isdigit()):  # a header row
        rows = rows[1:]
    bad = [r for r in rows if len(r) < 4 or not r[1].strip().isdigit()]
    if bad or not rows:
        example = f", e.g. {bad[0]}" if bad else ""
        raise ValueError(
            f"{csv_path}: expected rows 'youtube_id,start_seconds,label,split'; "
            f"{len(bad)} bad of {len(rows)}{example}"
        )
    source_split = "test" if split == "test" else "train"
    rows = [r for r in rows if r[3].strip() == source_split]
    if split != "test" and val_fraction > 0:
        keep = set()
        for label in sorted({r[2] for r in rows}):
            ids = [f"{r[0]}_{int(r[1])}" for r in rows if r[2] == label]
            keep.update(split_videos(ids, val_fraction, 0.0, split_seed, label)[split])
        rows = [r for r in rows if f"{r[0]}_{int(r[1])}" in keep]

    skips = SkipCounter(f"VGGSound {split}")
    folders = [os.fspath(audio_dir), os.path.join(os.fspath(audio_dir), source_split)]
    entries = []
    for youtube_id, start, label, _ in (r[:4] for r in rows):
        start = int(start)
        stems = [f"{youtube_id}_{start:06d}", f"{youtube_id}_{start}", youtube_id]
        path = find_audio(folders, stems)
        info = probe(path) if path else None
        if info is None:
            skips.skip(stems[0], "missing audio" if path is None else "unreadable audio")
            continue
        entries.append(SoloEntry(f"{youtube_id}_{start}", label.strip(), info))
    skips.report(len(rows))
    return entries


class VGGSoundDataset(LabeledSourceMixtures):
    """VGGSound clips mixed N at a time (distinct classes), with template prompts.

    Args:
        csv_path: See :func:`vggsound_clips`.
        audio_dir: See :func:`vggsound_clips`.
        split: ``train``, ``val`` or ``test``.
        n_sources: Clips per training mixture.
        val_fraction, split_seed: See :func:`vggsound_clips`.
        train: Random crops / gains; default: ``split == "train"``.
        **kwargs: See :class:`~asteroid_wsas.data.mixing.LabeledSourceMixtures`.
    """

    dataset_name = "VGGSound"

    def __init__(
        self,
        csv_path: Union[str, os.PathLike],
        audio_dir: Union[str, os.PathLike],
        split: str = "train",
        n_sources: int = 2,
        val_fraction: float = 0.0,
        split_seed: int = 0,
        train: Optional[bool] = None,
        **kwargs,
    ):
        entries = vggsound_clips(csv_path, audio_dir, split, val_fraction, split_seed)
        if not entries:
            raise ValueError(f"VGGSound {split}: no usable clip in {audio_dir}")
        train = split == "train" if train is None else train
        super().__init__(entries, n_sources=n_sources, train=train, **kwargs)

    def get_infos(self) -> dict:
        """Dataset description, Asteroid style."""
        return dataset_infos(
            self.dataset_name,
            "text-queried sound separation",
            "VGGSound: A Large-scale Audio-Visual Dataset",
            "https://www.robots.ox.ac.uk/~vgg/data/vggsound/",
            "Chen, Xie, Vedaldi and Zisserman (ICASSP 2020)",
            "CC BY 4.0 (annotations); audio from YouTube",
        )


@register_dataset
class VGGSoundData(LabelledSolos):
    """VGGSound clips in the public layout, for the recipes (``dataset: vggsound``).

    ``<root>/vggsound.csv`` and ``<root>/audio/<youtube_id>_<start>.<ext>``; config keys
    ``val_fraction`` (0.05), ``split_seed`` (0). The test set passes twice over the clips.
    """

    name = "vggsound"
    title = "VGGSound"
    listing = "vggsound.csv"
    test_passes = 2
    authors_crop = "vggsound"

    def solos(self, split: str) -> List[SoloEntry]:
        listing, audio = self.paths()
        return vggsound_clips(
            listing,
            audio,
            split,
            self.conf.get("val_fraction", 0.05),
            self.conf.get("split_seed", 0),
        )
