"""MUSIC (solo instrument videos) in its public layout."""

import json
import os
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from .audio import SkipCounter, find_audio, probe
from .base import dataset_infos
from .mixing import LabeledSourceMixtures, SoloEntry
from .registry import LabelledSolos, register_dataset

SPLITS = ("train", "val", "test")


def split_videos(
    ids: Sequence[str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    name: Optional[str] = None,
) -> Dict[str, List[str]]:
    """Seeded video-level split of one class's videos into train / val / test.

    A split with a positive fraction gets at least one video (a share of a small class
    rounds to zero otherwise, and the class would vanish from the test set), and training
    keeps at least one.

    Args:
        ids: The class's video ids.
        val_fraction: Share for validation.
        test_fraction: Share for testing.
        seed: Seed of the split (same seed, same split).
        name: The class, for the error message.

    Raises:
        ValueError: Bad fractions, or a class with too few videos for one in each split
            asked for plus one for training.

    Examples:
        >>> parts = split_videos([f"v{i}" for i in range(20)], 0.0, 0.1, seed=0)
        >>> [len(parts[s]) for s in ("train", "val", "test")]
        [18, 0, 2]
        >>> parts = split_videos([f"v{i}" for i in range(5)], 0.05, 0.1, seed=0)
        >>> [len(parts[s]) for s in ("train", "val", "test")]
        [3, 1, 1]
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"need val_fraction, test_fraction >= 0 with a sum below 1, "
            f"got {val_fraction} and {test_fraction}"
        )
    order = np.random.default_rng(seed).permutation(sorted(ids)).tolist()
    n_test = int(round(test_fraction * len(order)))
    n_val = int(round(val_fraction * len(order)))
    n_test = max(n_test, 1) if test_fraction > 0 else 0
    n_val = max(n_val, 1) if val_fraction > 0 else 0
    if n_test + n_val >= len(order):
        asked = [s for s, n in (("a test", n_test), ("a validation", n_val)) if n]
        raise ValueError(
            f"class {name or '?'!r} has {len(order)} file(s): too few for {' and '.join(asked)} "
            "item and one for training; add files to it, leave it out (instruments / "
            "classes), or set test_fraction / val_fraction to 0"
        )
    return {
        "test": order[:n_test],
        "val": order[n_test : n_test + n_val],
        "train": order[n_test + n_val :],
    }


def music_solos(
    json_path: Union[str, os.PathLike],
    audio_dir: Union[str, os.PathLike],
    split: str = "train",
    instruments: Optional[Sequence[str]] = None,
    val_fraction: float = 0.0,
    test_fraction: float = 0.1,
    split_seed: int = 0,
) -> List[SoloEntry]:
    """The solos of one split of MUSIC, with missing / unreadable audio left out and counted.

    Args:
        json_path: The official solo-video list, ``{"videos": {instrument: [ids]}}``
            (``MUSIC_solo_videos.json``; MUSIC21's file has the same shape).
        audio_dir: Folder with ``<instrument>/<id>.<ext>`` audio (wav, flac, ogg, mp3).
        split: ``train``, ``val`` or ``test``.
        instruments: Keep only these classes (default: all in the JSON).
        val_fraction: Share of each instrument's videos for validation.
        test_fraction: Share for testing (the authors: 10 %).
        split_seed: Seed of the video-level split (same seed, same split).

    Returns:
        list[SoloEntry]
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    with open(json_path, encoding="utf-8") as f:
        try:
            videos = json.load(f)["videos"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{json_path}: expected {{'videos': {{instrument: [ids]}}}}") from err
    if instruments is not None:
        unknown = sorted(set(instruments) - set(videos))
        if unknown:
            raise ValueError(f"instruments: unknown {unknown}; {json_path} has {sorted(videos)}")
        videos = {k: videos[k] for k in instruments}
    skips = SkipCounter(f"MUSIC {split}")
    entries, total = [], 0
    for instrument in sorted(videos):
        parts = split_videos(
            videos[instrument], val_fraction, test_fraction, split_seed, instrument
        )
        chosen = parts[split]
        folder = os.path.join(os.fspath(audio_dir), instrument)
        for video_id in chosen:
            total += 1
            path = find_audio([folder], [video_id])
            info = probe(path) if path else None
            if info is None:
                reason = "missing audio" if path is None else "unreadable audio"
                skips.skip(f"{instrument}/{video_id}", reason)
                continue
            entries.append(SoloEntry(video_id, instrument, info))
    skips.report(total)
    return entries


class MUSICDataset(LabeledSourceMixtures):
    """MUSIC solo videos mixed N at a time (distinct instruments), with template prompts.

    Args:
        json_path: See :func:`music_solos`.
        audio_dir: See :func:`music_solos`.
        split: ``train``, ``val`` or ``test``.
        n_sources: Solos per training mixture (2, 3 or 4 in the paper).
        instruments, val_fraction, test_fraction, split_seed: See :func:`music_solos`.
        train: Random crops / gains; default: ``split == "train"``.
        **kwargs: See :class:`~asteroid_wsas.data.mixing.LabeledSourceMixtures`.
    """

    dataset_name = "MUSIC"

    def __init__(
        self,
        json_path: Union[str, os.PathLike],
        audio_dir: Union[str, os.PathLike],
        split: str = "train",
        n_sources: int = 2,
        instruments: Optional[Sequence[str]] = None,
        val_fraction: float = 0.0,
        test_fraction: float = 0.1,
        split_seed: int = 0,
        train: Optional[bool] = None,
        **kwargs,
    ):
        entries = music_solos(
            json_path, audio_dir, split, instruments, val_fraction, test_fraction, split_seed
        )
        if not entries:
            raise ValueError(f"MUSIC {split}: no usable solo in {audio_dir}")
        train = split == "train" if train is None else train
        super().__init__(entries, n_sources=n_sources, train=train, **kwargs)

    def get_infos(self) -> dict:
        """Dataset description, Asteroid style."""
        return dataset_infos(
            self.dataset_name,
            "text-queried instrument separation",
            "MUSIC: The Sound of Pixels",
            "https://github.com/roudimit/MUSIC_dataset",
            "Zhao et al. (ECCV 2018)",
            "see the dataset page; audio from YouTube",
        )


@register_dataset
class MUSICData(LabelledSolos):
    """MUSIC (or MUSIC21) solos in the public layout, for the recipes (``dataset: music``).

    ``<root>/MUSIC_solo_videos.json`` and ``<root>/audio/<instrument>/<id>.<ext>``; config
    keys ``instruments``, ``val_fraction`` (0.05), ``test_fraction`` (0.1), ``split_seed``
    (0). The paper's MUSIC-2Mix test set passes over the test solos 10 times.
    """

    name = "music"
    title = "MUSIC"
    listing = "MUSIC_solo_videos.json"
    test_passes = 10

    def solos(self, split: str) -> List[SoloEntry]:
        listing, audio = self.paths()
        conf = self.conf
        return music_solos(
            listing,
            audio,
            split,
            conf.get("instruments"),
            conf.get("val_fraction", 0.05),
            conf.get("test_fraction", 0.1),
            conf.get("split_seed", 0),
        )
