"""Fixed test sets: seeded N-source test mixtures written once as manifests, read back exactly.

Builders follow the paper's protocols:

- MUSIC-2Mix: every test solo paired with a random solo of another class, 10 passes;
- VGGSound-2Mix: the same with 2 passes;
- AudioCaps-2Mix: every test clip plus a random other clip, queried with full captions;
- the authors' compositions (``composition="authors"``, the ``eval.composition`` departure
  of :mod:`asteroid_wsas.protocol`): the mixtures their released code's test lists hold,
  cut with their centred crops (:func:`~asteroid_wsas.data.audio.read_authors_crop`);
  for AudioCaps every caption row of the test list, each with a random validation clip
  (:func:`caption_row_candidates`);
- 3- and 4-source versions (``n_sources``), and a DCASE-2024-Task-9-style variant whose
  target-to-interference ratio is drawn in [-15, 15] dB;
- phrase-level sets of natural mixtures (:func:`event_test_set`): each clip with two or more
  clean events is queried with each event's phrase and scored against that event.

A manifest (JSON) holds, per mixture, each source's file (relative to the dataset root),
offset, duration, gain and query, so that the same mixtures are rebuilt anywhere without
randomness. A source cut by the authors' crop also names its kind (``crop``): it is read
back through the same function, which needs nothing else; manifests of our composition
hold no such key, so they are written exactly as before and older ones read as ever. :func:`assert_disjoint` checks that no test file is used in training.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..text import source_prompt
from .audio import (
    CROPS,
    AudioInfo,
    SkipCounter,
    check_readable,
    probe,
    read_authors_crop,
    read_non_silent,
    read_segment,
    rms_db,
)
from .mixing import SoloEntry
from ..separation.contract import read_json
from ..utils import refuse_overwrite

FORMAT = "asteroid-wsas test set v1"
# eval.composition values (asteroid_wsas.protocol): ours, or the authors' released test lists
COMPOSITIONS = ("ours", "authors")


@dataclass
class TestSource:
    """One source of a test mixture: where to read it, how loud, what to ask for."""

    __test__ = False  # not a pytest test class despite its name

    path: str  # relative to the manifest's root
    offset: float  # seconds (where the crop starts; negative when it starts before the file)
    gain: float
    query: str
    label: str
    id: str
    # the authors' crop kind (read_authors_crop), or None: read_segment from offset
    crop: Optional[str] = None


@dataclass
class TestMixture:
    """A test mixture: its sources (each also a reference) and, if drawn, its SNR."""

    __test__ = False  # not a pytest test class despite its name

    id: str
    sources: List[TestSource]
    snr_db: Optional[float] = None


@dataclass
class TestSet:
    """A fixed test set: what :func:`write_manifest` stores."""

    __test__ = False  # not a pytest test class despite its name

    name: str
    root: str
    sample_rate: int
    seconds: float
    seed: int
    mixtures: List[TestMixture] = field(default_factory=list)
    composition: Optional[str] = None  # "authors" for their composition; None: ours


@dataclass(frozen=True)
class Candidate:
    """A test clip the builders may draw: its audio, class (or caption) and query."""

    id: str
    info: AudioInfo
    label: str
    query: str


def solo_candidates(entries: Iterable[SoloEntry]) -> List[Candidate]:
    """MUSIC / VGGSound test solos as candidates queried with "The sound of {label}"."""
    return [Candidate(e.video_id, e.info, e.label, source_prompt(e.label)) for e in entries]


def build_test_set(
    name: str,
    candidates: Sequence[Candidate],
    root: Union[str, os.PathLike],
    n_sources: int = 2,
    passes: int = 1,
    seconds: float = 131070 / 16000,
    sample_rate: int = 16000,
    seed: int = 0,
    snr_range: Optional[Tuple[float, float]] = None,
    min_db: float = -50.0,
    progress: bool = False,
    composition: str = "ours",
    crop: Optional[str] = None,
    partners: Optional[Sequence[Candidate]] = None,
) -> TestSet:
    """Seeded N-source test mixtures: every candidate once per pass, plus random partners.

    Candidates (and partners) whose audio does not decode to finite samples are left out
    (one warning).

    Partners have other labels than the first source and than each other. Gains are
    ``1 / n_sources`` (the authors' mixing). With ``snr_range``, the first source is the
    target and the others are scaled together so that the target-to-interference ratio is
    drawn uniformly from the range (dB).

    ``composition="ours"``: candidates in order of their ids; each partner's class is
    drawn uniformly among the other classes, then a clip of it; each source's offset is a
    random non-silent window of ``seconds`` (tried up to 10 times; the whole clip is used
    when shorter). ``composition="authors"`` (their released test lists): candidates in the
    given order (the list's); each partner drawn uniformly among the partner clips of a
    class not yet in the mixture (their draw, which favours classes with more clips); every
    source cut by the authors' test crop ``crop``
    (:func:`~asteroid_wsas.data.audio.read_authors_crop`), which the manifest records.

    Args:
        name: Test-set name, e.g. ``"MUSIC-2Mix"``.
        candidates: Test clips (:func:`solo_candidates`, :func:`caption_candidates`,
            :func:`caption_row_candidates`).
        root: The dataset root that the stored paths are made relative to.
        n_sources: Sources per mixture.
        passes: Passes over the candidates (MUSIC: 10, VGGSound: 2, AudioCaps: 1).
        seconds: Duration of each mixture.
        sample_rate: Rate the mixtures are rendered at.
        seed: Seed of partners, offsets and SNRs.
        snr_range: ``(low, high)`` dB for the DCASE-style variant.
        min_db: Quietest window accepted when drawing offsets (ours).
        progress: Show progress while the candidates' audio is checked.
        composition: ``"ours"`` or ``"authors"`` (``eval.composition``).
        crop: The authors' crop kind, ``"music"``, ``"vggsound"`` or ``"centre"``
            (the dataset's ``authors_crop``); required with ``composition="authors"``.
        partners: Clips the partners are drawn from (the authors' AudioCaps-2Mix: the
            validation rows); default: the candidates.

    Returns:
        TestSet

    Raises:
        ValueError: An unknown ``composition``, a ``crop`` missing, unknown or given with
            ``composition="ours"``, or fewer classes than ``n_sources``.

    Examples:
        >>> build_test_set("x", [], ".", composition="theirs")
        Traceback (most recent call last):
        ...
        ValueError: composition must be one of ('ours', 'authors'), got 'theirs'
    """
    authors = _is_authors(composition, crop)
    # Test sets are built once: decode every candidate, and leave out the ones that fail.
    readable: Dict[str, bool] = {}  # path -> decodes (AudioCaps lists name each clip 5 times)
    candidates = _decodable(candidates, name, readable, progress)
    pool = candidates
    if partners is not None:
        pool = _decodable(partners, f"{name} partners", readable, progress)
    labels = sorted({c.label for c in pool})
    if n_sources > len(labels):
        raise ValueError(f"n_sources={n_sources} needs {n_sources} classes, found {len(labels)}")
    root = os.path.abspath(os.fspath(root))
    rng = np.random.default_rng(seed)
    by_label: Dict[str, List[int]] = {label: [] for label in labels}  # in label order
    for i, c in enumerate(pool):
        by_label[c.label].append(i)
    if authors:
        order = list(range(len(candidates)))
    else:
        order = sorted(range(len(candidates)), key=lambda i: candidates[i].id)
    test_set = TestSet(name, root, int(sample_rate), float(seconds), int(seed))
    if authors:
        test_set.composition = composition
    for p in range(passes):
        for i in order:
            picks = _draw_picks(candidates[i], pool, by_label, n_sources, rng, authors)
            sources = [
                _test_source(c, root, n_sources, sample_rate, seconds, rng, min_db, crop)
                for c in picks
            ]
            mixture = TestMixture(f"{name}-{p:02d}-{len(test_set.mixtures):06d}", sources)
            if snr_range is not None:
                _set_snr(mixture, root, sample_rate, seconds, float(rng.uniform(*snr_range)))
            test_set.mixtures.append(mixture)
    return test_set


def _is_authors(composition: str, crop: Optional[str]) -> bool:
    """Whether ``composition`` is the authors'; refuses an unknown one or an unfit ``crop``."""
    if composition not in COMPOSITIONS:
        raise ValueError(f"composition must be one of {COMPOSITIONS}, got {composition!r}")
    authors = composition == "authors"
    if authors and crop not in CROPS[1:]:
        raise ValueError(
            f"crop must be one of {CROPS[1:]} with composition='authors' (the dataset's "
            f"authors_crop), got {crop!r}"
        )
    if not authors and crop is not None:
        raise ValueError(f"crop is for composition='authors' (ours draws offsets), got {crop!r}")
    return authors


def _decodable(
    clips: Sequence[Candidate], what: str, readable: Dict[str, bool], progress: bool
) -> List[Candidate]:
    """The ``clips`` whose audio decodes to finite samples, one warning for the others;
    ``readable`` (path -> decodes) keeps each file's answer across calls."""
    skips, out = SkipCounter(what), []
    for c in tqdm(clips, desc=f"checking {what} audio", disable=not progress):
        if c.info.path not in readable:
            readable[c.info.path] = check_readable(c.info)
        if readable[c.info.path]:
            out.append(c)
        else:
            skips.skip(c.id, "undecodable or non-finite audio")
    skips.report(len(clips))
    return out


def _draw_picks(
    first: Candidate,
    pool: Sequence[Candidate],
    by_label: Dict[str, List[int]],
    n_sources: int,
    rng: np.random.Generator,
    authors: bool,
) -> List[Candidate]:
    """``first`` and its partners: the authors' draw, or ours (a class among the others in
    label order, then a clip of it)."""
    if authors:
        return [first] + _authors_partners(first, pool, n_sources, rng)
    others = [label for label in by_label if label != first.label]
    chosen = rng.choice(len(others), size=n_sources - 1, replace=False)
    return [first] + [pool[int(rng.choice(by_label[others[c]]))] for c in chosen]


def _test_source(
    c: Candidate,
    root: str,
    n_sources: int,
    sample_rate: int,
    seconds: float,
    rng: np.random.Generator,
    min_db: float,
    crop: Optional[str],
) -> TestSource:
    """One source of a mixture: the authors' ``crop`` (when given), else a random
    non-silent window (the whole clip when it is not longer than ``seconds``)."""
    if crop is not None:
        _, offset = read_authors_crop(c.info, sample_rate, seconds, crop)
    else:
        window_rng = rng if c.info.seconds > seconds else None
        _, offset = read_non_silent(c.info, sample_rate, seconds, window_rng, min_db)
    path = os.path.relpath(c.info.path, root)
    return TestSource(path, round(offset, 6), 1.0 / n_sources, c.query, c.label, c.id, crop)


def _authors_partners(
    first: Candidate, pool: Sequence[Candidate], n_sources: int, rng: np.random.Generator
) -> List[Candidate]:
    """The authors' draw: a uniform pick of the pool, redrawn while its class is taken."""
    taken, picks = {first.label}, []
    if len({c.label for c in pool} - taken) < n_sources - 1:
        raise ValueError(
            f"{first.id}: n_sources={n_sources} needs {n_sources - 1} partner classes other "
            f"than {first.label!r}"
        )
    while len(picks) < n_sources - 1:
        pick = pool[int(rng.integers(len(pool)))]
        if pick.label not in taken:
            taken.add(pick.label)
            picks.append(pick)
    return picks


def _set_snr(mixture: TestMixture, root: str, sample_rate: int, seconds: float, snr: float):
    """Scale the interferers so that target / interference energy is ``snr`` dB."""
    wavs = _render_sources(mixture, root, sample_rate, seconds)
    target_db = rms_db(wavs[0])
    interference_db = rms_db(wavs[1:].sum(0))
    scale = 10 ** ((target_db - snr - interference_db) / 20)
    for source in mixture.sources[1:]:
        source.gain = round(source.gain * scale, 9)
    mixture.snr_db = round(snr, 4)


def _render_sources(mixture: TestMixture, root: str, sample_rate: int, seconds: float):
    wavs = []
    for s in mixture.sources:
        info = probe(os.path.join(root, s.path))
        if info is None:
            raise FileNotFoundError(f"{mixture.id}: cannot read {os.path.join(root, s.path)}")
        if s.crop is None:
            wav = read_segment(info, sample_rate, s.offset, seconds)
        else:  # the same function as when the set was built: the same samples
            wav = read_authors_crop(info, sample_rate, seconds, s.crop)[0]
        wavs.append(s.gain * wav)
    return torch.stack(wavs)


def write_manifest(test_set: TestSet, path: Union[str, os.PathLike], force: bool = False):
    """Write a test set as JSON; refuses to overwrite unless ``force``.

    Keys that only the authors' composition sets (``composition``, a source's ``crop``)
    are left out when unset: manifests of our composition are written as they always were.
    """
    refuse_overwrite(path, force=force)
    data = {"format": FORMAT, **asdict(test_set)}
    if data["composition"] is None:
        del data["composition"]
    for mixture in data["mixtures"]:
        for source in mixture["sources"]:
            if source["crop"] is None:
                del source["crop"]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)


def read_manifest(path: Union[str, os.PathLike]) -> TestSet:
    """Read a manifest written by :func:`write_manifest`."""
    data = read_json(path)
    if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
        raise ValueError(
            f"{path} is not an asteroid-wsas test-set manifest: write one with "
            "asteroid-wsas testset or prepare"
        )
    try:
        mixtures = [
            TestMixture(m["id"], [TestSource(**s) for s in m["sources"]], m.get("snr_db"))
            for m in data.pop("mixtures")
        ]
        return TestSet(mixtures=mixtures, **data)
    except (KeyError, TypeError, AttributeError) as err:
        # the right format tag over the wrong content: edited by hand, or another version
        raise ValueError(
            f"{path}: not a valid test-set manifest ({type(err).__name__}: {err}); "
            "write it again with asteroid-wsas testset or prepare"
        ) from None


def assert_disjoint(test_set: TestSet, train_ids: Iterable[str]) -> None:
    """Raise if any test source comes from a clip used in training.

    Raises:
        ValueError: Naming the overlapping clips.
    """
    overlap = sorted({s.id for m in test_set.mixtures for s in m.sources} & set(train_ids))
    if overlap:
        raise ValueError(
            f"{test_set.name}: {len(overlap)} test clips are also training clips, e.g. "
            f"{overlap[:5]}"
        )


class TestSetDataset(Dataset):
    """Renders a manifest's mixtures, identically every time.

    Args:
        manifest: A :class:`TestSet` or the path of its manifest.
        root: Dataset root, when it moved since the manifest was written.
        frames: Video frames of the test clips (a
            :class:`~asteroid_wsas.data.frames.FrameStore`): each source is then queried with
            the frames of its video over its span (image-queried separators) instead of its
            text; ``query_names`` keep the texts.
        n_frames: Frames per source query.

    Raises:
        ValueError: The manifest is not one, or holds no mixtures.

    Items are dicts: ``mixture`` :math:`(T,)`, ``references`` :math:`(K, T)` (the scaled
    sources, summing to the mixture), ``queries`` (K strings, or K uint8 frame tensors
    :math:`(F, 3, S, S)` with ``frames``), ``query_names`` (K strings), ``labels`` and
    ``id``.
    """

    __test__ = False  # not a pytest test class despite its name

    def __init__(
        self,
        manifest: Union[TestSet, str, os.PathLike],
        root: Optional[str] = None,
        frames=None,
        n_frames: int = 1,
    ):
        self.test_set = manifest if isinstance(manifest, TestSet) else read_manifest(manifest)
        if not self.test_set.mixtures:  # scores of nothing would be NaN, written as nulls
            where = manifest if not isinstance(manifest, TestSet) else "the test set"
            raise ValueError(
                f"{where} holds no mixtures: nothing to score; build it again with "
                "asteroid-wsas testset or prepare"
            )
        self.root = root or self.test_set.root
        self.frames, self.n_frames = frames, int(n_frames)

    def __len__(self) -> int:
        return len(self.test_set.mixtures)

    def __getitem__(self, index: int) -> dict:
        mixture = self.test_set.mixtures[index]
        ts = self.test_set
        references = _render_sources(mixture, self.root, ts.sample_rate, ts.seconds)
        names = [s.query for s in mixture.sources]
        queries = names
        if self.frames is not None:  # what each source's video shows over its span
            queries = [
                self.frames.read(s.label, s.id, s.offset, ts.seconds, self.n_frames)
                for s in mixture.sources
            ]
        return {
            "mixture": references.sum(0),
            "references": references,
            "queries": queries,
            "query_names": names,
            "labels": [s.label for s in mixture.sources],
            "id": mixture.id,
        }


def collate_test_items(items: Sequence[dict]) -> dict:
    """Batch :class:`TestSetDataset` items (validation and evaluation loaders).

    Returns:
        dict: ``mixture`` :math:`(B, T)`, ``references`` :math:`(B, K, T)`, ``queries``
        (B lists of K), ``query_names`` (B lists of K strings) and ``ids``.

    Raises:
        ValueError: items of different lengths or numbers of queries.
    """
    shapes = {tuple(it["references"].shape) for it in items}
    if len(shapes) != 1:
        raise ValueError(f"test items of different shapes cannot be batched: {sorted(shapes)}")
    return {
        "mixture": torch.stack([it["mixture"] for it in items]),
        "references": torch.stack([it["references"] for it in items]),
        "queries": [list(it["queries"]) for it in items],
        "query_names": [list(it.get("query_names", it["queries"])) for it in items],
        "ids": [it.get("id", str(i)) for i, it in enumerate(items)],
    }
