"""Mixers: N-source mixtures of labelled solos, mixture-of-mixtures batches, clean fractions."""

import random
from dataclasses import dataclass
from typing import AbstractSet, Dict, Hashable, List, Optional, Sequence, Set, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from ..text import fix_phrases, mixture_prompt, source_prompt
from .audio import AudioInfo, UnreadableAudio
from .augment import SoloAugment
from .base import SeededAudioDataset

CLEAN_FRACTIONS = (0.05, 0.10, 0.25, 0.75, 1.0)


@dataclass(frozen=True)
class SoloEntry:
    """One single-source recording (a MUSIC solo video, a VGGSound clip) and its class."""

    video_id: str
    label: str
    info: AudioInfo


class LabeledSourceMixtures(SeededAudioDataset):
    """Mixtures of ``n_sources`` solos of distinct classes, with template prompts.

    Item ``i`` starts from solo ``i`` (so an epoch visits every solo once as the first
    source) and adds ``n_sources - 1`` solos of other classes drawn at random. Each solo is
    cropped (random and non-silent in training, centred otherwise), augmented in training
    when ``augment`` is given (pitch, stretch, room:
    :class:`~asteroid_wsas.data.augment.SoloAugment`), scaled by a gain U(0.5, 1.5) in
    training, clipped to [-1, 1] and divided by ``n_sources``; the mixture is their sum (the
    authors' mixing).

    Prompts: "The sound of {label}" per source, "The sound mixture of {a} and {b}" for the
    mixture. With ``n_sources=1`` an item is one clean solo (supervised training).

    Args:
        entries: The solos to draw from (one split).
        n_sources: Sources per mixture, N.
        return_sources: Include the clean sources; False for data that must stay
            mixture-only (the weak part of semi-supervised training).
        length: Items per epoch (default: one per solo).
        frames: Where the solos' video frames are (a
            :class:`~asteroid_wsas.data.frames.FrameStore`): items then carry the frames of
            each source at its crop's time span (image-queried methods).
        n_frames: Frames per source, at the centres of equal parts of the crop.
        augment: What to do to each training solo before the mixing (``data.augment``),
            drawn from a generator spawned from the item's, so that gains and partners stay
            those drawn without it (and crops, unless a stretch may speed a source up: a
            longer crop is read); None: nothing (evaluation never augments).
        Other args: see :class:`~asteroid_wsas.data.base.SeededAudioDataset`.

    Items are dicts: ``mixture`` :math:`(T,)`, ``sources`` :math:`(N, T)` (when
    ``return_sources``), ``labels``, ``phrases`` (per source), ``phrase_weights``
    :math:`(N,)`, ``caption`` (mixture prompt), ``ids`` (video ids) and, with ``frames``,
    ``frames`` :math:`(N, F, 3, S, S)` uint8.
    """

    dataset_name = "solos"

    def __init__(
        self,
        entries: Sequence[SoloEntry],
        n_sources: int = 2,
        sample_rate: int = 16000,
        segment: Optional[float] = 6.0,
        train: bool = True,
        return_sources: bool = True,
        length: Optional[int] = None,
        seed: int = 0,
        min_db: float = -50.0,
        frames=None,
        n_frames: int = 1,
        crop: str = "non_silent",
        augment: Optional[SoloAugment] = None,
    ):
        super().__init__(sample_rate, segment, train, seed, min_db, crop)
        self.augment = augment if train else None
        if self.augment is not None:
            self.gain_range = self.augment.gain
        if n_frames < 1:
            raise ValueError(f"n_frames must be >= 1, got {n_frames}")
        if frames is not None and segment is None:
            raise ValueError("frames need a segment (the time span they are taken from)")
        self.frames, self.n_frames = frames, int(n_frames)
        self.entries = list(entries)
        self.labels = sorted({e.label for e in self.entries})
        if n_sources < 1:
            raise ValueError(f"n_sources must be >= 1, got {n_sources}")
        if n_sources > len(self.labels):
            raise ValueError(
                f"n_sources={n_sources} needs as many distinct classes; "
                f"this split has {len(self.labels)}: {self.labels}"
            )
        self.n_sources = int(n_sources)
        self.return_sources = bool(return_sources)
        self.length = int(length) if length is not None else len(self.entries)
        self.by_label: Dict[str, List[int]] = {}
        for i, entry in enumerate(self.entries):
            self.by_label.setdefault(entry.label, []).append(i)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        return self.first_good(index, self._item)

    def partners(
        self, first: int, rng: np.random.Generator, avoid: AbstractSet[str] = frozenset()
    ) -> List[int]:
        """``first`` and ``n_sources - 1`` random solos of other, distinct classes, none of
        them in ``avoid``.

        Raises:
            ValueError: Fewer classes are left than the mixture needs.
        """
        others = [
            label
            for label in self.labels
            if label != self.entries[first].label and label not in avoid
        ]
        if len(others) < self.n_sources - 1:
            raise ValueError(
                f"a mixture of {self.n_sources} sources of distinct classes, none of them "
                f"among the {len(avoid)} class(es) its partners in a mixture of mixtures "
                f"already use, needs {self.n_sources + len(avoid)} classes; this split has "
                f"{len(self.labels)}: lower data.n_sources or use more classes"
            )
        chosen = rng.choice(len(others), size=self.n_sources - 1, replace=False)
        return [first] + [int(rng.choice(self.by_label[others[c]])) for c in chosen]

    def item_avoiding(self, avoid: AbstractSet[str], rng: np.random.Generator) -> dict:
        """A random item none of whose sources is of a class in ``avoid`` (a partner in a
        mixture of mixtures: :class:`MixtureGroups`). Its first solo is drawn uniformly among
        the solos of the other classes (the authors' draw: a random solo, redrawn while its
        class is taken).

        Raises:
            ValueError: Too few classes are left.
        """
        allowed = [i for i, e in enumerate(self.entries) if e.label not in avoid]
        if not allowed:
            raise ValueError(
                f"no solo of a class outside {sorted(avoid)} is left for a partner mixture; "
                f"this split has {len(self.labels)} classes"
            )
        for _ in range(len(allowed)):
            first = int(allowed[int(rng.integers(len(allowed)))])
            try:
                return self._make(self.partners(first, rng, avoid), rng)
            except UnreadableAudio:
                continue
        raise RuntimeError(f"{self.dataset_name}: no readable partner item left")

    def _item(self, index: int) -> dict:
        rng = self.rng(index)
        return self._make(self.partners(index % len(self.entries), rng), rng)

    def _make(self, picks: Sequence[int], rng: np.random.Generator) -> dict:
        """The item of the solos ``picks`` (crops and gains drawn from ``rng``)."""
        augment, seconds = self.augment, None
        if augment is not None:
            seconds = augment.read_seconds(self.segment)
        crops = [self.read(self.entries[p].info, rng, True, seconds) for p in picks]
        wavs = [wav for wav, _ in crops]
        if augment is not None:  # a child stream: the gains and partners stay the same
            child, length = rng.spawn(1)[0], int(round(self.segment * self.sample_rate))
            wavs = [augment(wav, child, self.sample_rate, length) for wav in wavs]
        sources = torch.stack([(wav * self.gain(rng)).clamp(-1, 1) for wav in wavs])
        sources = sources / self.n_sources
        labels = [self.entries[p].label for p in picks]
        item = {
            "mixture": sources.sum(0),
            "labels": labels,
            "phrases": [source_prompt(label) for label in labels],
            "phrase_weights": torch.ones(self.n_sources),
            "caption": mixture_prompt(labels) if len(labels) > 1 else source_prompt(labels[0]),
            "ids": [self.entries[p].video_id for p in picks],
        }
        if self.return_sources:
            item["sources"] = sources
        if self.frames is not None:  # what each source's video shows while it plays
            item["frames"] = torch.stack(
                [
                    self.frames.read(
                        self.entries[p].label,
                        self.entries[p].video_id,
                        start,
                        self.segment,
                        self.n_frames,
                    )
                    for p, (_, start) in zip(picks, crops)
                ]
            )
        return item


def clean_fraction_split(
    entries: Sequence[SoloEntry], fraction: float, seed: int = 0, min_classes: int = 1
) -> Tuple[List[SoloEntry], List[SoloEntry]]:
    """Split solos into a clean part and a mixture-only part, by video, spread over classes.

    For semi-supervised training (the paper's 5, 10, 25, 75 and 100 % rows):
    ``round(fraction * videos)`` of the training videos (at least ``min_classes`` when
    ``fraction > 0``) keep their clean audio; the rest may only be used as mixtures. The clean videos are
    spread over the classes as evenly as the count allows (largest remainder, ties drawn
    with ``seed``), so that the clean share is the stated one: with few videos per class,
    5 % leaves some classes without a clean video. The two parts share no video.

    Args:
        entries: Training solos.
        fraction: Share of videos that stay clean, in [0, 1].
        seed: Seed of the choice.
        min_classes: Fewest classes with a clean video (N for clean N-source mixtures of
            distinct classes).

    Returns:
        tuple: ``(clean, mixture_only)``.

    Examples:
        >>> from asteroid_wsas.data.audio import AudioInfo
        >>> info = AudioInfo("x.wav", 16000, 16000, 1)
        >>> solos = [SoloEntry(f"v{i}", "cello" if i % 2 else "flute", info) for i in range(40)]
        >>> clean, rest = clean_fraction_split(solos, 0.1)
        >>> len(clean), len(rest), sorted(e.label for e in clean)
        (4, 36, ['cello', 'cello', 'flute', 'flute'])
        >>> len(clean_fraction_split(solos, 0.05)[0])  # 5 % of 40 videos, not 1 per class
        2
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    videos: Dict[str, List[str]] = {}
    for entry in entries:
        videos.setdefault(entry.label, [])
        if entry.video_id not in videos[entry.label]:
            videos[entry.label].append(entry.video_id)
    rng = np.random.default_rng(seed)
    labels = sorted(videos)
    total = sum(len(v) for v in videos.values())
    n_clean = int(round(fraction * total))
    if fraction > 0:
        n_clean = max(n_clean, min(min_classes, len(labels)), 1)
    # per class: the floor of its share, then the largest remainders (random tie order)
    shares = np.array([fraction * len(videos[label]) for label in labels])
    counts = np.floor(shares).astype(int)
    order = sorted(range(len(labels)), key=lambda i: (-(shares[i] - counts[i]), rng.random()))
    for i in order[: max(n_clean - int(counts.sum()), 0)]:
        counts[i] += 1
    clean_ids = set()
    for label, count in zip(labels, counts):
        ids = sorted(videos[label])
        clean_ids.update(rng.permutation(ids)[: min(count, len(ids))].tolist())
    clean = [e for e in entries if e.video_id in clean_ids]
    rest = [e for e in entries if e.video_id not in clean_ids]
    return clean, rest


def source_keys(item: dict) -> Set[Hashable]:
    """What a mixture asks for: its classes (``labels``) and its phrases (case and spacing
    ignored). Two mixtures of one mixture of mixtures must share none.

    Examples:
        >>> sorted(source_keys({"phrases": ["A dog barks", "rain"], "labels": ["dog"]}))
        [('label', 'dog'), ('phrase', 'a dog barks'), ('phrase', 'rain')]
    """
    keys: Set[Hashable] = {("label", label) for label in item.get("labels") or ()}
    keys.update(("phrase", " ".join(p.lower().split())) for p in item.get("phrases") or ())
    return keys


def shared_sources(group: Sequence[dict]) -> Set[Hashable]:
    """The :func:`source_keys` that two or more mixtures of ``group`` share (empty: none).

    Examples:
        >>> a, b = {"phrases": ["rain", "a dog barks"]}, {"phrases": ["Rain", "wind"]}
        >>> shared_sources([a, b])
        {('phrase', 'rain')}
    """
    seen: Set[Hashable] = set()
    shared: Set[Hashable] = set()
    for item in group:
        keys = source_keys(item)
        shared |= seen & keys
        seen |= keys
    return shared


def mixture_of_mixtures(items: Sequence[dict], n_mix: int = 2, distinct: bool = True) -> dict:
    """Collate captioned mixtures into mixtures of ``n_mix`` mixtures (the weak step's input).

    Consecutive items are grouped; each mixture is divided by ``n_mix`` so that the mixture
    of mixtures is their sum (the authors' mixing). Use as a ``DataLoader``'s
    ``collate_fn`` with a batch size that is a multiple of ``n_mix``, on items grouped by
    :class:`MixtureGroups` (:func:`collate_groups`), which draws partners that share no
    source.

    A group whose mixtures ask the same phrase or class raises (``distinct``): one
    estimate would be asked to rebuild two different targets.

    Args:
        items: Dataset items with ``mixture``, ``caption``, ``phrases`` and
            ``phrase_weights`` (all phrase lists the same length P).
        n_mix: Mixtures per mixture of mixtures (N = 2 in the paper).

    Returns:
        dict: ``mix`` :math:`(B, T)`, ``mixtures`` :math:`(B, N, T)`, ``captions`` (B lists
        of N), ``phrases`` (B lists of N lists of P), ``phrase_weights`` :math:`(B, N, P)`
        and, when every item has them, ``sources`` (B lists of N tensors), ``ids`` and
        ``images`` (B lists of N image queries: the frames of all of a mixture's sources,
        :math:`(S F, 3, H, W)`, whose mean embedding queries the mixture).
    """
    if n_mix < 1 or len(items) % n_mix:
        raise ValueError(f"batch of {len(items)} items cannot form groups of n_mix={n_mix}")
    n_phrases = {len(it["phrases"]) for it in items}
    if len(n_phrases) != 1:
        raise ValueError(f"items have different numbers of phrases {sorted(n_phrases)}")
    groups = [items[i : i + n_mix] for i in range(0, len(items), n_mix)]
    for g, group in enumerate(groups if distinct else ()):
        shared = shared_sources(group)
        if shared:
            raise ValueError(
                f"mixture of mixtures {g} asks {sorted(k[1] for k in shared)} of two of its "
                "mixtures: group items with MixtureGroups (partners that share no source)"
            )
    mixtures = torch.stack([torch.stack([it["mixture"] for it in g]) for g in groups]) / n_mix
    batch = {
        "mix": mixtures.sum(1),
        "mixtures": mixtures,
        "captions": [[it["caption"] for it in g] for g in groups],
        "phrases": [[list(it["phrases"]) for it in g] for g in groups],
        "phrase_weights": torch.stack(
            [torch.stack([torch.as_tensor(it["phrase_weights"]) for it in g]) for g in groups]
        ).float(),
    }
    if all("sources" in it for it in items):
        batch["sources"] = [[it["sources"] / n_mix for it in g] for g in groups]
    if all("id" in it for it in items):
        batch["ids"] = [[it["id"] for it in g] for g in groups]
    if all("frames" in it for it in items):
        batch["images"] = [[it["frames"].flatten(0, 1) for it in g] for g in groups]
    return batch


def collate_groups(groups: Sequence[Sequence[dict]]) -> dict:
    """``collate_fn`` of a ``DataLoader`` over :class:`MixtureGroups`: each group of N
    mixtures becomes one mixture of mixtures (:func:`mixture_of_mixtures`)."""
    n_mix = {len(g) for g in groups}
    if len(n_mix) != 1:
        raise ValueError(f"groups of different sizes {sorted(n_mix)}")
    return mixture_of_mixtures([item for g in groups for item in g], n_mix.pop())


def split_sources(items: Sequence[dict]) -> List[dict]:
    """Each item's clean sources as single-source items, in order (sources stay adjacent).

    Args:
        items: Items with ``sources`` :math:`(S, T)` and one phrase per source (e.g. from
            :class:`LabeledSourceMixtures` with ``return_sources=True``).

    Returns:
        list: ``S`` items per input item, shaped as :class:`SingleSources`' items.
    """
    out = []
    for item in items:
        sources, phrases = item["sources"], list(item["phrases"])
        if len(phrases) != sources.shape[0]:
            raise ValueError(
                f"an item has {sources.shape[0]} sources but {len(phrases)} phrases; "
                "split_sources needs one phrase per source"
            )
        for k, phrase in enumerate(phrases):
            single = {
                "mixture": sources[k],
                "sources": sources[k : k + 1],
                "caption": phrase,
                "phrases": [phrase],
                "phrase_weights": torch.ones(1),
            }
            if "labels" in item:
                single["labels"] = [item["labels"][k]]
            if "frames" in item:
                single["frames"] = item["frames"][k : k + 1]
            out.append(single)
    return out


def clean_mixtures(items: Sequence[dict]) -> dict:
    """Collate mixtures with their sources into a supervised batch: each mixture is rebuilt
    from its single sources, so the batch's "mixtures" are clean sources whose classes are
    distinct within a mixture (as in the test sets).

    Use as the ``collate_fn`` of :class:`LabeledSourceMixtures` (``return_sources=True``)
    for :class:`~asteroid_wsas.losses.SupervisedObjective`: ``B`` items give ``B``
    mixtures of ``n_sources`` clean sources each, equal to the items' mixtures (the level
    the model meets at test time).
    """
    n_sources = {int(item["sources"].shape[0]) for item in items}
    if len(n_sources) != 1:
        raise ValueError(f"items have different numbers of sources {sorted(n_sources)}")
    n = n_sources.pop()
    singles = split_sources(items)
    for single in singles:  # undo mixture_of_mixtures' 1/n: the mixtures keep their level
        single["mixture"] = single["mixture"] * n
        single["sources"] = single["sources"] * n
    return mixture_of_mixtures(singles, n_mix=n)


class _Wrapper(Dataset):
    """A dataset view that keeps the wrapped dataset's length and passes ``set_epoch`` on."""

    def __init__(self, dataset, seed: int = 0):
        self.dataset = dataset
        self.seed = int(seed)
        self.epoch = 0
        self.sample_rate = getattr(dataset, "sample_rate", None)

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """New random choices for this epoch (and for the wrapped dataset, if it has epochs)."""
        self.epoch = int(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])


class WithFixedPhrases(_Wrapper):
    """Exactly ``n_phrases`` phrases per item, with weights, for datasets whose items have a
    variable number (e.g. :class:`~asteroid_wsas.data.SyntheticCaptionedMixtures`).

    Uses :func:`~asteroid_wsas.text.fix_phrases` (random choice when there are more, repeats
    with weights 1 / copies when there are fewer), seeded per (seed, epoch, index).

    Args:
        dataset: Items with ``phrases`` (a list of strings).
        n_phrases: P.
        seed: Seed of the choices.

    Examples:
        >>> from asteroid_wsas.data import SyntheticCaptionedMixtures
        >>> data = WithFixedPhrases(SyntheticCaptionedMixtures(4, seconds=0.5), n_phrases=3)
        >>> item = data[0]
        >>> len(item["phrases"]), item["phrase_weights"].shape
        (3, torch.Size([3]))
    """

    def __init__(self, dataset, n_phrases: int, seed: int = 0):
        super().__init__(dataset, seed)
        if n_phrases < 1:
            raise ValueError(f"n_phrases must be >= 1, got {n_phrases}")
        self.n_phrases = int(n_phrases)

    def __getitem__(self, index: int) -> dict:
        item = dict(self.dataset[index])
        choice = random.Random(int(self.rng(index).integers(2**32)))
        phrases, weights = fix_phrases(item["phrases"], self.n_phrases, choice)
        item["phrases"], item["phrase_weights"] = phrases, torch.tensor(weights)
        return item


class SingleSources(_Wrapper):
    """Clean single-source items from a dataset that has its sources (supervised training).

    Item ``i`` is one source of item ``i`` of the wrapped dataset, drawn per (seed, epoch,
    index), with that source's phrase as its caption; ``sources`` holds it as ``(1, T)``,
    which is what :class:`~asteroid_wsas.losses.SupervisedObjective` checks for.

    Args:
        dataset: Items with ``sources`` :math:`(S, T)` and ``phrases`` (one per source).
        seed: Seed of the choices.

    Examples:
        >>> from asteroid_wsas.data import SyntheticCaptionedMixtures
        >>> item = SingleSources(SyntheticCaptionedMixtures(4, seconds=0.5))[0]
        >>> item["sources"].shape, item["caption"] == item["phrases"][0]
        (torch.Size([1, 8000]), True)
    """

    def __getitem__(self, index: int) -> dict:
        item = self.dataset[index]
        sources, phrases = item["sources"], list(item["phrases"])
        if len(phrases) != sources.shape[0]:
            raise ValueError(
                f"item {index} has {sources.shape[0]} sources but {len(phrases)} phrases; "
                "SingleSources needs one phrase per source"
            )
        k = int(self.rng(index).integers(len(phrases)))
        out = {
            "mixture": sources[k],
            "sources": sources[k : k + 1],
            "caption": phrases[k],
            "phrases": [phrases[k]],
            "phrase_weights": torch.ones(1),
        }
        if "labels" in item:
            out["labels"] = [item["labels"][k]]
        return out


class Repeated(_Wrapper):
    """The wrapped dataset ``repeat`` times over: one epoch of it is ``repeat`` passes
    (``data.epoch_repeat``; the authors' MUSIC epoch is the training list 50 times).

    Examples:
        >>> len(Repeated(list(range(3)), 4)), Repeated(list(range(3)), 4)[7]
        (12, 1)
    """

    def __init__(self, dataset, repeat: int = 1, seed: int = 0):
        super().__init__(dataset, seed)
        if repeat < 1:
            raise ValueError(f"repeat (data.epoch_repeat) must be >= 1, got {repeat}")
        if len(dataset) == 0:
            raise ValueError(f"{type(self).__name__}: the dataset is empty")
        self.repeat = int(repeat)

    def __len__(self) -> int:
        return len(self.dataset) * self.repeat

    def __getitem__(self, index: int):
        return self.inner(index)

    def inner(self, index: int):
        """Item ``index % len(dataset)`` of the wrapped dataset; each pass of an epoch
        draws anew (a dataset with epochs is set to epoch ``epoch * repeat + pass``)."""
        n = len(self.dataset)
        if self.repeat > 1 and hasattr(self.dataset, "set_epoch"):
            epoch = self.epoch * self.repeat + index // n
            if getattr(self.dataset, "epoch", None) != epoch:
                self.dataset.set_epoch(epoch)
        return self.dataset[index % n]


class MixtureGroups(Repeated):
    """Groups of ``n_mix`` mixtures that share no source: the mixtures of mixtures of the
    weak step (collate with :func:`collate_groups`).

    Item ``i`` starts from item ``i`` of the wrapped dataset (so an epoch visits every
    mixture once as the first of its group); each partner is then drawn, per (seed, epoch,
    index), among the mixtures that ask none of the phrases or classes the group already
    asks (:func:`source_keys`). In the authors' MUSIC and VGGSound batches all N * P solos
    of a mixture of mixtures are of distinct classes; consecutive items of a shuffled
    dataset share one in about a quarter of the groups, and a shared phrase asks one
    estimate to rebuild two different targets.

    A dataset with ``item_avoiding(avoid, rng)`` (labelled solos:
    :meth:`LabeledSourceMixtures.item_avoiding`) draws its partner itself; for others (captioned
    clips) random items are drawn until one shares nothing with the group. When none can be
    found the group is not made: the constraint is never dropped silently.

    Args:
        dataset: Items with ``phrases`` (and ``labels`` for labelled solos).
        n_mix: Mixtures per mixture of mixtures, N.
        seed: Seed of the partners.
        repeat: Passes over the dataset per epoch (the authors' MUSIC epoch is the training
            list 50 times: ``data.epoch_repeat``).
        max_draws: Random items tried per partner of a dataset without ``item_avoiding``.

    Raises:
        ValueError: (when an item is read) no partner shares nothing with the group.

    Examples:
        >>> from asteroid_wsas.data import SyntheticCaptionedMixtures
        >>> groups = MixtureGroups(SyntheticCaptionedMixtures(8, seconds=0.5), n_mix=2)
        >>> group = groups[0]
        >>> len(group), shared_sources(group)
        (2, set())
    """

    def __init__(
        self, dataset, n_mix: int = 2, seed: int = 0, repeat: int = 1, max_draws: int = 1000
    ):
        super().__init__(dataset, repeat, seed)
        if n_mix < 1:
            raise ValueError(f"n_mix must be >= 1, got {n_mix}")
        self.n_mix, self.max_draws = int(n_mix), int(max_draws)

    def __getitem__(self, index: int) -> List[dict]:
        rng = self.rng(index)
        group = [self.inner(index)]
        used = source_keys(group[0])
        for _ in range(1, self.n_mix):
            partner = self._partner(used, rng)
            group.append(partner)
            used |= source_keys(partner)
        return group

    def _partner(self, used: Set[Hashable], rng: np.random.Generator) -> dict:
        draw = getattr(self.dataset, "item_avoiding", None)
        if draw is not None:
            return draw({k[1] for k in used if k[0] == "label"}, rng)
        for _ in range(self.max_draws):
            item = self.dataset[int(rng.integers(len(self.dataset)))]
            if not used & source_keys(item):
                return item
        raise ValueError(
            f"no partner mixture that shares none of {sorted(k[1] for k in used)} was found "
            f"in {self.max_draws} random draws from {len(self.dataset)} mixtures: the "
            "mixtures of this dataset ask too few distinct phrases for mixtures of "
            f"{self.n_mix} mixtures"
        )


class JoinedMixtures(torch.utils.data.ConcatDataset):
    """Mixtures of several datasets as one (a small encoder trained on the captions of two
    datasets), passing ``set_epoch`` on to each.

    Args:
        datasets: Datasets of captioned mixtures at one rate and length.

    Raises:
        ValueError: no dataset, or their sample rates differ.

    Examples:
        >>> from asteroid_wsas.data import SyntheticCaptionedMixtures as S
        >>> len(JoinedMixtures([S(3, sample_rate=8000), S(2, sample_rate=8000)]))
        5
    """

    def __init__(self, datasets: Sequence[Dataset]):
        rates = {getattr(d, "sample_rate", None) for d in datasets}
        if len(rates) > 1:
            raise ValueError(f"datasets: one sample rate needed, got {sorted(map(str, rates))}")
        super().__init__(datasets)
        self.sample_rate = rates.pop()

    def set_epoch(self, epoch: int) -> None:
        """New crops, gains and partners in every dataset that has epochs."""
        for dataset in self.datasets:
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)
