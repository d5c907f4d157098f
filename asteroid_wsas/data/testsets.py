"""Fixed test sets: seeded N-source test mixtures written once as manifests, read back exactly.

Builders follow the paper's protocols:

- MUSIC-2Mix: every test solo paired with a random solo of another class, 10 passes;
- VGGSound-2Mix: the same with 2 passes;
- AudioCaps-2Mix: every test clip plus a random other clip, queried with full captions;
- 3- and 4-source versions (``n_sources``), and a DCASE-2024-Task-9-style variant whose
  target-to-interference ratio is drawn in [-15, 15] dB;
- phrase-level sets of natural mixtures (:func:`event_test_set`): each clip with two or more
  clean events is queried with each event's phrase and scored against that event.

A manifest (JSON) holds, per mixture, each source's file (relative to the dataset root),
offset, duration, gain and query, so that the same mixtures are rebuilt anywhere without
randomness. :func:`assert_disjoint` checks that no test file is used in training.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..text import source_prompt
from .audio import (
    AudioInfo,
    SkipCounter,
    check_readable,
    probe,
    read_non_silent,
    read_segment,
    rms_db,
)
from .mixing import SoloEntry
from ..utils import refuse_overwrite

FORMAT = "asteroid-wsas test set v1"


@dataclass
class TestSource:
    """One source of a test mixture: where to read it, how loud, what to ask for."""

    __test__ = False  # not a pytest test class despite its name

    path: str  # relative to the manifest's root
    offset: float  # seconds
    gain: float
    query: str
    label: str
    id: str


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


def caption_candidates(clips) -> List[Candidate]:
    """AudioCaps test clips (one per YouTube id, first caption) queried with the caption.

    Each clip is its own "class": a mixture never pairs a clip with itself.
    """
    seen, out = set(), []
    for clip in clips:
        if clip.youtube_id not in seen:
            seen.add(clip.youtube_id)
            out.append(Candidate(clip.youtube_id, clip.info, clip.youtube_id, clip.caption))
    return out


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
) -> TestSet:
    """Seeded N-source test mixtures: every candidate once per pass, plus random partners.

    Candidates whose audio does not decode to finite samples are left out (one warning).

    Partners have other labels than the first source and than each other. Each source's
    offset is a random non-silent window of ``seconds`` (tried up to 10 times; the whole
    clip is used when shorter). Gains are ``1 / n_sources`` (the authors' mixing). With
    ``snr_range``, the first source is the target and the others are scaled together so
    that the target-to-interference ratio is drawn uniformly from the range (dB).

    Args:
        name: Test-set name, e.g. ``"MUSIC-2Mix"``.
        candidates: Test clips (:func:`solo_candidates`, :func:`caption_candidates`).
        root: The dataset root that the stored paths are made relative to.
        n_sources: Sources per mixture.
        passes: Passes over the candidates (MUSIC: 10, VGGSound: 2, AudioCaps: 1).
        seconds: Duration of each mixture.
        sample_rate: Rate the mixtures are rendered at.
        seed: Seed of partners, offsets and SNRs.
        snr_range: ``(low, high)`` dB for the DCASE-style variant.
        min_db: Quietest window accepted when drawing offsets.
        progress: Show progress while the candidates' audio is checked.

    Returns:
        TestSet
    """
    # Test sets are built once: decode every candidate, and leave out the ones that fail.
    skips = SkipCounter(name)
    good = []
    for c in tqdm(candidates, desc=f"checking {name} audio", disable=not progress):
        if check_readable(c.info):
            good.append(c)
        else:
            skips.skip(c.id, "undecodable or non-finite audio")
    skips.report(len(candidates))
    candidates = good
    labels = sorted({c.label for c in candidates})
    if n_sources > len(labels):
        raise ValueError(f"n_sources={n_sources} needs {n_sources} classes, found {len(labels)}")
    root = os.path.abspath(os.fspath(root))
    rng = np.random.default_rng(seed)
    by_label = {}
    for i, c in enumerate(candidates):
        by_label.setdefault(c.label, []).append(i)
    order = sorted(range(len(candidates)), key=lambda i: candidates[i].id)
    test_set = TestSet(name, root, int(sample_rate), float(seconds), int(seed))
    for p in range(passes):
        for i in order:
            first = candidates[i]
            others = [label for label in labels if label != first.label]
            chosen = rng.choice(len(others), size=n_sources - 1, replace=False)
            picks = [first] + [candidates[int(rng.choice(by_label[others[c]]))] for c in chosen]
            sources = []
            for c in picks:
                _, offset = read_non_silent(
                    c.info, sample_rate, seconds, rng if c.info.seconds > seconds else None, min_db
                )
                sources.append(
                    TestSource(
                        os.path.relpath(c.info.path, root),
                        round(offset, 6),
                        1.0 / n_sources,
                        c.query,
                        c.label,
                        c.id,
                    )
                )
            mixture = TestMixture(f"{name}-{p:02d}-{len(test_set.mixtures):06d}", sources)
            if snr_range is not None:
                _set_snr(mixture, root, sample_rate, seconds, float(rng.uniform(*snr_range)))
            test_set.mixtures.append(mixture)
    return test_set


def event_test_set(
    name: str,
    root: Union[str, os.PathLike],
    split: str = "test",
    sample_rate: int = 16000,
    min_events: int = 2,
    progress: bool = False,
) -> TestSet:
    """Phrase-level test set of natural mixtures: each clip queried with its events' phrases.

    Reads ``<root>/<split>_events.csv`` (:func:`~asteroid_wsas.data.audiocaps.read_events`);
    a clip with at least ``min_events`` readable events becomes one mixture whose sources are
    its events (their sum is the clip), queried with each event's phrase. Clips with fewer
    events, or with an unreadable event, are left out and counted.

    Returns:
        TestSet: whole clips (``seconds`` is the clip length; clips of other lengths are
        left out and counted).

    Raises:
        FileNotFoundError: no events file.
        ValueError: no clip qualifies.
    """
    from .audiocaps import read_events

    root = os.path.abspath(os.fspath(root))
    path = os.path.join(root, f"{split}_events.csv")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: phrase-level sets need the clean events")
    skips = SkipCounter(f"{name} ({split}_events.csv)")
    clips = read_events(path)
    test_set: Optional[TestSet] = None
    for clip_id in tqdm(sorted(clips), desc=f"checking {name} events", disable=not progress):
        rows = clips[clip_id]
        if len(rows) < min_events:
            skips.skip(clip_id, f"fewer than {min_events} events")
            continue
        infos = [probe(os.path.join(root, r["file"])) for r in rows]
        if any(i is None or not check_readable(i) for i in infos):
            skips.skip(clip_id, "unreadable event audio")
            continue
        seconds = round(infos[0].seconds, 6)
        if test_set is None:
            test_set = TestSet(name, root, int(sample_rate), seconds, 0)
        if any(abs(i.seconds - test_set.seconds) > 1e-3 for i in infos):
            skips.skip(clip_id, f"not {test_set.seconds} s long like the other clips")
            continue
        sources = [
            TestSource(r["file"], 0.0, 1.0, r["phrase"], r["label"], f"{clip_id}_{r['index']}")
            for r in rows
        ]
        test_set.mixtures.append(TestMixture(f"{name}-{clip_id}", sources))
    skips.report(len(clips))
    if test_set is None or not test_set.mixtures:
        raise ValueError(f"{path}: no clip with {min_events} or more readable events")
    # equal numbers of queries next to each other: evaluation batches mixtures of one shape
    test_set.mixtures.sort(key=lambda m: (len(m.sources), m.id))
    return test_set


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
        wavs.append(s.gain * read_segment(info, sample_rate, s.offset, seconds))
    return torch.stack(wavs)


def write_manifest(test_set: TestSet, path: Union[str, os.PathLike], force: bool = False):
    """Write a test set as JSON; refuses to overwrite unless ``force``."""
    refuse_overwrite(path, force=force)
    data = {"format": FORMAT, **asdict(test_set)}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)


def read_manifest(path: Union[str, os.PathLike]) -> TestSet:
    """Read a manifest written by :func:`write_manifest`."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if data.pop("format", None) != FORMAT:
        raise ValueError(f"{path} is not an asteroid-wsas test-set manifest")
    mixtures = [
        TestMixture(m["id"], [TestSource(**s) for s in m["sources"]], m.get("snr_db"))
        for m in data.pop("mixtures")
    ]
    return TestSet(mixtures=mixtures, **data)


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
