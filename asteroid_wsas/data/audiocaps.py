"""AudioCaps in its public layout: the official CSVs and one audio file per YouTube clip."""

import csv
import os
import random
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from tqdm.auto import tqdm

from ..text import fix_phrases, load_phrase_overrides, phrases_for
from .audio import AudioInfo, SkipCounter, check_readable, find_audio, probe
from .base import SeededAudioDataset, dataset_infos
from .registry import RecipeData, register_dataset
from .testsets import Candidate, TestMixture, TestSet, TestSource

COLUMNS = ("audiocap_id", "youtube_id", "start_time", "caption")
# <split>_events.csv beside an AudioCaps CSV: the clean events of each clip (generated data,
# or your own recordings with their stems), for phrase-level scoring on natural mixtures
EVENTS_FIELDS = ("youtube_id", "index", "label", "phrase", "onset", "offset", "file")


@dataclass(frozen=True)
class CaptionedClip:
    """One row of an AudioCaps CSV with its audio file."""

    audiocap_id: str
    youtube_id: str
    start_time: str
    caption: str
    phrases: Sequence[str]
    info: AudioInfo


class AudioCapsDataset(SeededAudioDataset):
    """AudioCaps clips with their captions and single-source phrases.

    Reads the official CSVs (``train.csv``, ``val.csv``, ``test.csv``: columns
    ``audiocap_id, youtube_id, start_time, caption``) and finds each clip's audio as
    ``<audio_dir>/<youtube_id>.<ext>``, ``<audio_dir>/Y<youtube_id>.<ext>``, or the same
    inside ``<audio_dir>/<split>/`` (``ext`` in wav, flac, ogg, mp3). Rows whose audio is
    missing, empty or unreadable, and rows with an empty caption, are left out when the index
    is built; one warning gives their count (YouTube clips disappear: expect a few percent).

    Phrases come from the JSON override file when it lists the row's ``audiocap_id``, from
    :func:`~asteroid_wsas.text.split_caption` otherwise, and are fixed to ``n_phrases`` per
    clip with weights 1/count (:func:`~asteroid_wsas.text.fix_phrases`).

    Args:
        csv_path: An official AudioCaps CSV.
        audio_dir: Folder holding the audio files.
        sample_rate: Output rate (any file rate and channel count is converted).
        segment: Seconds per item (the authors: 8.19 s = 131070 samples at 16 kHz).
        train: Random non-silent crops and gains U(0.5, 1.5) (True), or centred crops.
        n_phrases: Phrases per clip, P (3 for AudioCaps in the paper).
        phrases: JSON override file ``{audiocap_id: [phrases]}`` or such a dict.
        split: Sub-folder name to look in; default: the CSV's file name (``train`` ...).
        seed: Base seed (see :class:`SeededAudioDataset`).
        min_db: Quietest RMS level of a training crop, dB full scale.

    Items are dicts: ``mixture`` :math:`(T,)`, ``caption``, ``phrases`` (P strings),
    ``phrase_weights`` :math:`(P,)`, ``id`` (audiocap_id) and ``youtube_id``.
    """

    dataset_name = "AudioCaps"

    def __init__(
        self,
        csv_path: Union[str, os.PathLike],
        audio_dir: Union[str, os.PathLike],
        sample_rate: int = 16000,
        segment: Optional[float] = 131070 / 16000,
        train: bool = True,
        n_phrases: int = 3,
        phrases: Union[None, str, os.PathLike, Mapping[str, Sequence[str]]] = None,
        split: Optional[str] = None,
        seed: int = 0,
        min_db: float = -50.0,
        crop: str = "non_silent",
    ):
        super().__init__(sample_rate, segment, train, seed, min_db, crop)
        if n_phrases < 1:
            raise ValueError(f"n_phrases must be >= 1, got {n_phrases}")
        if not os.path.isdir(audio_dir):
            raise ValueError(f"audio_dir {audio_dir} is not a folder")
        self.n_phrases = int(n_phrases)
        overrides = phrases
        if isinstance(phrases, (str, os.PathLike)):
            overrides = load_phrase_overrides(phrases)
        split = split or os.path.splitext(os.path.basename(csv_path))[0]
        self.clips = self._index(csv_path, os.fspath(audio_dir), split, overrides)

    def _index(self, csv_path, audio_dir, split, overrides) -> List[CaptionedClip]:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{csv_path}: missing column(s) {missing}; expected {COLUMNS}")
            rows = list(reader)
        skips = SkipCounter(f"AudioCaps {os.path.basename(csv_path)}")
        folders = [audio_dir, os.path.join(audio_dir, split)]
        infos: Dict[str, Tuple[Optional[str], Optional[AudioInfo]]] = {}
        clips = []
        for row in rows:
            yid, caption = (row["youtube_id"] or "").strip(), (row["caption"] or "").strip()
            what = f"{row['audiocap_id']} ({yid})"
            if not caption:
                skips.skip(what, "empty caption")
                continue
            if yid not in infos:  # val / test list five captions per clip
                path = find_audio(folders, [yid, "Y" + yid])
                infos[yid] = (path, probe(path) if path else None)
            path, info = infos[yid]
            if info is None:
                skips.skip(what, "missing audio" if path is None else "unreadable audio")
                continue
            phrases = phrases_for(row["audiocap_id"], caption, overrides)
            if not phrases:
                skips.skip(what, "no phrase in caption")
                continue
            clips.append(
                CaptionedClip(row["audiocap_id"], yid, row["start_time"], caption, phrases, info)
            )
        skips.report(len(rows))
        if not clips:
            raise ValueError(f"{csv_path}: no usable clip (audio looked for in {folders})")
        return clips

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        return self.first_good(index, self._item)

    def _item(self, index: int) -> dict:
        clip = self.clips[index]
        rng = self.rng(index)
        wav = (self.read(clip.info, rng) * self.gain(rng)).clamp(-1, 1)
        phrases, weights = fix_phrases(
            clip.phrases, self.n_phrases, random.Random(int(rng.integers(2**32)))
        )
        return {
            "mixture": wav,
            "caption": clip.caption,
            "phrases": phrases,
            "phrase_weights": torch.tensor(weights),
            "id": clip.audiocap_id,
            "youtube_id": clip.youtube_id,
        }

    def get_infos(self) -> dict:
        """Dataset description, Asteroid style."""
        return dataset_infos(
            self.dataset_name,
            "text-queried sound separation (captioned natural mixtures)",
            "AudioCaps: Generating Captions for Audios in The Wild",
            "https://audiocaps.github.io",
            "Kim, Kim, Lee and Kim (NAACL 2019)",
            "see the dataset page; audio from YouTube (AudioSet)",
        )


def read_events(path: Union[str, os.PathLike]) -> Dict[str, List[dict]]:
    """``<split>_events.csv`` as ``{youtube_id: [event rows in index order]}``.

    Columns: :data:`EVENTS_FIELDS`; ``file`` is relative to the dataset root and the events
    of a clip sum to its audio.

    Raises:
        ValueError: a column is missing.
    """
    out: Dict[str, List[dict]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = set(EVENTS_FIELDS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        for row in reader:
            out.setdefault(row["youtube_id"], []).append(row)
    for rows in out.values():
        rows.sort(key=lambda r: int(r["index"]))
    return out


@register_dataset
class AudioCapsData(RecipeData):
    """AudioCaps in the public layout, for the recipes (``dataset: audiocaps``).

    ``<root>/{train,val,test}.csv`` and ``<root>/audio/``: natural mixtures with captions
    and no clean sources; config keys ``n_phrases`` (3) and ``phrases`` (an override JSON).
    The test set (AudioCaps-2Mix) mixes two test clips, one pass.
    """

    name = "audiocaps"
    title = "AudioCaps"
    authors_crop = "centre"
    listing = "{split}.csv"
    test_passes = 1

    def _clips(self, split: str, train: bool) -> AudioCapsDataset:
        listing, audio = self.paths(split)
        common = self._common(split)
        common["train"] = train
        return AudioCapsDataset(
            listing,
            audio,
            n_phrases=self.conf.get("n_phrases", 3),
            phrases=self.conf.get("phrases"),
            **common,
        )

    def candidates(self, split: str = "test"):
        return caption_candidates(self._clips(split, train=False).clips)

    def authors_candidates(self, split: str = "test") -> Tuple[List[Candidate], List[Candidate]]:
        """The authors' AudioCaps-2Mix (``eval.composition: authors``): every caption row of
        ``split`` (five per clip), each queried with its full caption, and the partners they
        are mixed with: the validation list's rows (for ``split="val"`` the same rows; a clip
        is never its own partner).

        Returns:
            tuple: ``(candidates, partners)``, each in its list's order
            (:func:`caption_row_candidates`).

        Raises:
            FileNotFoundError: ``val.csv`` (or the split's list) is missing.
        """
        rows = caption_row_candidates(self._clips(split, train=False).clips)
        if split == "val":
            return rows, rows
        return rows, caption_row_candidates(self._clips("val", train=False).clips)

    def mixtures(self, split="train", n_sources=None, entries=None, return_sources=False):
        if return_sources:
            self.require_clean_sources("return_sources")
        return self._clips(split, train=split == "train")


# ----------------------------------------------------------- AudioCaps test-set helpers
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


def caption_row_candidates(clips) -> List[Candidate]:
    """Every caption row of an AudioCaps list as a candidate (the authors' AudioCaps-2Mix).

    The official validation and test lists hold five captions per clip; each row is a
    candidate of its own, queried with its full caption, so a clip enters five mixtures.
    The clip (YouTube id) is the row's "class": a mixture never pairs a clip with itself.

    Args:
        clips: :class:`~asteroid_wsas.data.audiocaps.CaptionedClip` rows, in list order.

    Returns:
        list: one :class:`Candidate` per row, in the list's order.

    Examples:
        >>> from types import SimpleNamespace as Row
        >>> rows = [Row(youtube_id="a", info=None, caption=c) for c in ("dog", "a dog")]
        >>> [(c.id, c.query) for c in caption_row_candidates(rows)]
        [('a', 'dog'), ('a', 'a dog')]
    """
    return [Candidate(c.youtube_id, c.info, c.youtube_id, c.caption) for c in clips]


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
