"""Datasets of the recipes by name: each builds itself from the config's ``data:`` block.

A recipe names its data (``data.dataset: music``); the training, test-set and encoder code
asks the registered class for its files, splits, test-set candidates and training
mixtures, and never branches on the name. Adding a dataset means one class in its own
module, registered with :func:`register_dataset`, and its docs page.

Examples:
    >>> get_dataset_class("music").test_passes  # MUSIC-2Mix: 10 passes over the test solos
    10
"""

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

from torch.utils.data import Dataset

from ..utils import register_named
from .augment import SoloAugment
from .mixing import LabeledSourceMixtures, SoloEntry, clean_fraction_split
from .testsets import Candidate, solo_candidates

__all__ = [
    "RecipeData",
    "LabelledSolos",
    "DATASETS",
    "register_dataset",
    "get_dataset_class",
    "get_dataset",
    "dataset_title",
    "clean_data",
    "frames_block",
]

# keys of a data block that belong to one dataset (the rest is shared by a second one)
_OWN_KEYS = ("dataset", "root", "list", "phrases", "clean_data", "fraction")

DATASETS: Dict[str, Type["RecipeData"]] = {}


class RecipeData:
    """Base of the recipes' datasets: one public layout under ``data.root``.

    Subclasses set the class attributes and implement :meth:`candidates` and
    :meth:`mixtures`; :func:`register_dataset` makes them available by ``name``.

    Attributes:
        name: The ``data.dataset`` value.
        title: How tables and docs name it (default: ``name``).
        listing: The list file under the root; ``{split}`` is replaced by the split.
        audio: The audio folder under the root.
        splits: The splits the layout has.
        test_passes: Passes over the test clips of the paper's fixed test set.
        clean_sources: Whether single clean sources exist (supervised and semi objectives).
        authors_crop: How the authors' code crops this data's files (``data.crop:
            authors``; :func:`~asteroid_wsas.data.audio.read_authors_crop`).
        conf_keys: The ``data`` keys this dataset reads beyond the package's own
            (:data:`~asteroid_wsas.engine.schema.SECTIONS`), for the config check; None (a
            dataset registered from outside that does not say): any ``data`` key passes.

    Args:
        data: The config's ``data`` block (``root``, ``sample_rate``, ``segment``, ...).
    """

    name: str = ""
    title: str = ""
    listing: str = ""
    audio: str = "audio"
    splits: Tuple[str, ...] = ("train", "val", "test")
    test_passes: int = 1
    clean_sources: bool = False
    authors_crop: str = "music"
    conf_keys: Optional[Tuple[str, ...]] = None

    def __init__(self, data: Dict[str, Any]):
        self.conf = dict(data)

    def paths(self, split: str = "train") -> Tuple[str, str]:
        """The list file and audio folder of ``split``.

        Raises:
            FileNotFoundError: naming what is missing and the layout expected.
        """
        root = self.conf.get("root")
        if not root or not os.path.isdir(root):
            raise FileNotFoundError(f"data.root {root!r} is not a folder (pass the dataset root)")
        listing = self.conf.get("list") or os.path.join(root, self.listing.format(split=split))
        audio = os.path.join(root, self.audio)
        for path in (listing, audio):
            if not os.path.exists(path):
                raise FileNotFoundError(
                    f"{path} not found: {self.name} expects <root>/"
                    f"{self.listing.format(split=split)} and <root>/{self.audio}/ (see docs/data)"
                )
        return listing, audio

    def candidates(self, split: str = "test") -> List[Candidate]:
        """The clips a fixed test (or validation) set of ``split`` is built from."""
        raise NotImplementedError

    def mixtures(
        self,
        split: str = "train",
        n_sources: Optional[int] = None,
        entries: Optional[Sequence[Any]] = None,
        return_sources: bool = False,
    ) -> Dataset:
        """Captioned mixtures of ``split``: random crops and partners for ``train``, fixed
        otherwise; with their clean sources when ``return_sources`` (if the data has them).

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.
            n_sources: Sources per mixture (default ``data.n_sources``, 2), where the data
                mixes sources itself.
            entries: A subset of the split's clips (from :meth:`clean_split`).
            return_sources: Items carry their clean sources.
        """
        raise NotImplementedError

    def clean_split(self, fraction: float, min_classes: int = 1) -> Tuple[list, list]:
        """The training clips split into a clean share and the rest (semi-supervised).

        Raises:
            ValueError: The data has no clean single sources.
        """
        self.require_clean_sources("a clean split")
        raise NotImplementedError

    def require_clean_sources(self, needed_by: str) -> None:
        """Raise, naming ``needed_by``, unless the data has clean single sources.

        Raises:
            ValueError: The data has no clean single sources.
        """
        if not self.clean_sources:
            raise ValueError(
                f"{needed_by} needs clean single sources, which {self.name} does not have; "
                "use weak, mix_and_separate or mixit"
            )

    def frame_store(self):
        """The video frames of ``data.frames`` (None when the block is absent or false).

        The block (``{}`` or ``true`` for the defaults) may set ``size`` (side of the square
        frames, 224: CLIP's input), ``fps`` (of pre-extracted frames; default: the layout's
        ``frames/info.json``, else 8) and ``n_frames`` (per clip, 1). The frames are read
        from the dataset root in the layouts :class:`~asteroid_wsas.data.frames.FrameStore`
        accepts.

        Raises:
            ValueError: The block is neither a mapping nor a boolean.
        """
        block = frames_block(self.conf)
        if block is None:
            return None
        from .frames import FrameStore

        return FrameStore(self.conf["root"], fps=block.get("fps"), size=block.get("size", 224))

    def frame_args(self) -> Dict[str, Any]:
        """``frames`` (:meth:`frame_store`) and ``n_frames`` of ``data.frames`` as the
        datasets and test sets take them; ``{}`` without the block."""
        frames = self.frame_store()
        if frames is None:
            return {}
        return {"frames": frames, "n_frames": frames_block(self.conf).get("n_frames", 1)}

    def segment(self, split: str = "train") -> Optional[float]:
        """Seconds per item of ``split``: ``data.train_segment`` for training crops when it
        is set, else ``data.segment`` (also the length of every validation and test
        mixture, so that runs trained on longer clips are scored alike).

        Examples:
            >>> data = RecipeData({"segment": 1.0, "train_segment": 2.0})
            >>> data.segment("train"), data.segment("test")
            (2.0, 1.0)
        """
        if split == "train" and self.conf.get("train_segment") is not None:
            return self.conf["train_segment"]
        return self.conf.get("segment")

    def _common(self, split: str) -> Dict[str, Any]:
        crop = self.conf.get("crop") or "non_silent"
        if crop not in ("non_silent", "authors"):
            raise ValueError(f"data.crop must be 'non_silent' or 'authors', got {crop!r}")
        return dict(
            sample_rate=self.conf["sample_rate"],
            segment=self.segment(split),
            train=split == "train",
            seed=self.conf.get("seed", 0),
            crop=self.authors_crop if crop == "authors" else crop,
        )


class LabelledSolos(RecipeData):
    """Single-source clips with class labels (MUSIC, VGGSound): mixtures are made here by
    mixing ``n_sources`` clips of distinct classes, and the clips are the clean sources."""

    clean_sources = True

    def solos(self, split: str) -> List[SoloEntry]:
        """The labelled clips of ``split``."""
        raise NotImplementedError

    def candidates(self, split: str = "test") -> List[Candidate]:
        return solo_candidates(self.solos(split))

    def mixtures(self, split="train", n_sources=None, entries=None, return_sources=False):
        entries = self.solos(split) if entries is None else entries
        n_sources = n_sources or self.conf.get("n_sources", 2)
        extra = self.frame_args()
        if extra:  # clips without video are left out and counted
            entries = extra["frames"].check(entries)
        return LabeledSourceMixtures(
            entries,
            n_sources=n_sources,
            return_sources=return_sources,
            augment=SoloAugment.from_conf(self.conf.get("augment")) if split == "train" else None,
            **self._common(split),
            **extra,
        )

    def clean_split(self, fraction: float, min_classes: int = 1) -> Tuple[list, list]:
        return clean_fraction_split(
            self.solos("train"), fraction, self.conf.get("split_seed", 0), min_classes=min_classes
        )


def frames_block(data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """A config's ``data.frames`` block as a mapping (None: no frames).

    Examples:
        >>> frames_block({"frames": True}), frames_block({"frames": {"n_frames": 3}})
        ({}, {'n_frames': 3})
        >>> frames_block({}) is None
        True
    """
    block = data.get("frames")
    if block is None or block is False:
        return None
    if block is True:
        return {}
    if not isinstance(block, dict):
        raise ValueError(f"data.frames must be a mapping or a boolean, got {block!r}")
    return dict(block)


def register_dataset(cls: Type[RecipeData]) -> Type[RecipeData]:
    """Register a :class:`RecipeData` subclass under its ``name`` (a class decorator).

    Raises:
        TypeError: Not a RecipeData subclass with a name.
        ValueError: Another class already has the name.
    """
    return register_named(DATASETS, cls, RecipeData, "dataset")


def get_dataset_class(name: str) -> Type[RecipeData]:
    """The registered dataset class called ``name``.

    Raises:
        ValueError: No such dataset (the message lists the registered ones).
    """
    if name not in DATASETS:
        raise ValueError(f"data.dataset must be one of {sorted(DATASETS)}, got {name!r}")
    return DATASETS[name]


def dataset_title(name: str) -> str:
    """How tables name the registered dataset ``name``.

    Examples:
        >>> dataset_title("vggsound")
        'VGGSound'
    """
    return get_dataset_class(name).title or name


def get_dataset(data: Dict[str, Any]) -> RecipeData:
    """The dataset of a config's ``data`` block, built from it."""
    return get_dataset_class(data.get("dataset"))(data)


def clean_data(data: Dict[str, Any]) -> Optional[Tuple[RecipeData, float]]:
    """The second dataset of a config's ``data.clean_data`` block, and its share: clean
    single sources taken from another dataset than the mixtures (the paper's cross-dataset
    rows of Table 2, e.g. VGGSound solos with MUSIC mixtures).

    The block names ``dataset`` and ``root`` (and may set ``fraction``, the share of its
    training clips used, 1.0 by default, and any other ``data`` key); the rest (rate,
    segment, seeds, splits) comes from ``data``.

    Args:
        data: The config's ``data`` block.

    Returns:
        tuple or None: ``(dataset, fraction)``; None when the block is absent.

    Raises:
        ValueError: the block is not a mapping, lacks ``dataset`` / ``root``, its fraction
            is not in (0, 1] or the dataset has no clean single sources.

    Examples:
        >>> clean_data({"dataset": "music", "root": "m"}) is None
        True
    """
    block = data.get("clean_data")
    if block is None:
        return None
    if not isinstance(block, dict) or not block.get("dataset") or not block.get("root"):
        raise ValueError(f"data.clean_data must be a mapping with dataset and root, got {block!r}")
    fraction = float(block.get("fraction", 1.0))
    if not 0 < fraction <= 1:
        raise ValueError(f"data.clean_data.fraction must be in (0, 1], got {fraction}")
    merged = {k: v for k, v in data.items() if k not in _OWN_KEYS}
    merged.update({k: v for k, v in block.items() if k != "fraction"})
    source = get_dataset(merged)
    source.require_clean_sources("data.clean_data")
    return source, fraction
