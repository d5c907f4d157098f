"""What every dataset here shares: epochs, seeded randomness and failure-proof reading."""

import warnings
from typing import Callable, Optional, Set, Tuple, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from .audio import CROPS, AudioInfo, UnreadableAudio, read_authors_crop, read_non_silent


def dataset_infos(name: str, task: str, title: str, link: str, author: str, license: str):
    """``get_infos()`` in Asteroid's format: dataset, task and the license record."""
    return {
        "dataset": name,
        "task": task,
        "licenses": [
            {
                "title": title,
                "title_link": link,
                "author": author,
                "license": license,
                "non_commercial": True,
            }
        ],
    }


class SeededAudioDataset(Dataset):
    """Base of the datasets: deterministic randomness per (seed, epoch, index).

    Training randomness (crops, gains, partners, phrase sub-sampling) comes from
    ``numpy.random.default_rng([seed, epoch, index])``, so an item is the same in every run
    and in every data-loader worker; call :meth:`set_epoch` (as with a
    ``DistributedSampler``) to draw new crops each epoch. Evaluation (``train=False``) uses
    centred crops, unit gains and ``default_rng([seed, index])`` for anything else.

    A file that decodes badly or holds NaN / inf samples when an item is read is put aside
    for the rest of the run and the item is replaced by the next good one; the first such
    file raises a warning and :attr:`load_failures` counts them all. Files that are missing,
    empty or have a corrupt header never get this far: the index leaves them out.

    Args:
        sample_rate: Output rate.
        segment: Seconds per item (None: whole files, evaluation only).
        train: Random crops and gains (True) or deterministic items (False).
        seed: Base seed.
        min_db: Crops quieter than this RMS level (dB full scale) are re-drawn in training.
        crop: How a ``segment`` is cut from a file: ``"non_silent"`` (ours: random and
            non-silent in training, centred otherwise), or one of the authors' crops
            (:func:`~asteroid_wsas.data.audio.read_authors_crop`): ``"music"`` (training:
            centred on a random time biased early; test: near the middle), ``"vggsound"``
            (centred at 4.5 s) or ``"centre"`` (AudioCaps: the file's centre); theirs
            zero-pad where a crop runs past the file and tile files shorter than a crop.
    """

    dataset_name = "dataset"

    def __init__(
        self,
        sample_rate: int,
        segment: Optional[float],
        train: bool,
        seed: int,
        min_db: float = -50.0,
        crop: str = "non_silent",
    ):
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        if segment is not None and segment <= 0:
            raise ValueError(f"segment must be positive seconds or None, got {segment}")
        if train and segment is None:
            raise ValueError("segment is required for training (random crops)")
        self.sample_rate = int(sample_rate)
        self.segment = segment
        self.train = bool(train)
        self.seed = int(seed)
        self.min_db = float(min_db)
        if crop not in CROPS:
            raise ValueError(f"crop (data.crop) must be one of {CROPS}, got {crop!r}")
        self.crop = crop
        self.gain_range = (0.5, 1.5)
        self.epoch = 0
        self.bad_files: Set[str] = set()
        self.load_failures = 0

    def set_epoch(self, epoch: int) -> None:
        """New random crops, gains and partners for this epoch (training only)."""
        self.epoch = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        """The generator of item ``index`` in the current epoch."""
        key = [self.seed, self.epoch, index] if self.train else [self.seed, index]
        return np.random.default_rng(key)

    def read(
        self,
        info: AudioInfo,
        rng: np.random.Generator,
        with_start: bool = False,
        seconds: Optional[float] = None,
    ) -> Union[torch.Tensor, Tuple[torch.Tensor, float]]:
        """A crop of ``segment`` seconds: random and non-silent in training, centred otherwise
        (or the authors' crop: ``crop``).

        Args:
            info: The file.
            rng: The item's generator.
            with_start: Also return where the crop starts (seconds; the span of its frames).
            seconds: Read this long a crop instead of ``segment`` (a stretch that speeds a
                source up needs more than the clip).

        Returns:
            torch.Tensor :math:`(T,)`, or ``(wav, start)`` with ``with_start``.

        Raises:
            UnreadableAudio: The file is put aside; callers replace the item.
        """
        if info.path in self.bad_files:
            raise UnreadableAudio(info.path)
        seconds = seconds or self.segment
        try:
            if seconds is None:
                from .audio import read_segment

                wav, start = read_segment(info, self.sample_rate), 0.0
            elif self.crop != "non_silent":
                wav, start = read_authors_crop(
                    info, self.sample_rate, seconds, self.crop, rng if self.train else None
                )
            else:
                wav, start = read_non_silent(
                    info, self.sample_rate, seconds, rng if self.train else None, self.min_db
                )
            return (wav, start) if with_start else wav
        except UnreadableAudio as err:
            self.bad_files.add(info.path)
            self.load_failures += 1
            if self.load_failures == 1:
                warnings.warn(
                    f"{self.dataset_name}: {err}; this file is skipped from now on "
                    "(dataset.load_failures counts such files)"
                )
            raise

    def gain(self, rng: np.random.Generator) -> float:
        """Random gain U(``gain_range``) in training (U(0.5, 1.5) as the authors, unless
        ``data.augment.gain`` says otherwise), 1 otherwise."""
        return float(rng.uniform(*self.gain_range)) if self.train else 1.0

    def first_good(self, index: int, make: Callable[[int], dict]) -> dict:
        """``make(index)``, or the next index whose files read, when a file fails."""
        for offset in range(len(self)):
            try:
                return make((index + offset) % len(self))
            except UnreadableAudio:
                continue
        raise RuntimeError(f"{self.dataset_name}: no readable item left")
