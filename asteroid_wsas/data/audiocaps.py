"""AudioCaps in its public layout: the official CSVs and one audio file per YouTube clip."""

import csv
import os
import random
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from ..text import fix_phrases, load_phrase_overrides, phrases_for
from .audio import AudioInfo, SkipCounter, find_audio, probe
from .base import SeededAudioDataset, dataset_infos
from .registry import RecipeData, register_dataset
from .testsets import Candidate, caption_candidates, caption_row_candidates

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
            (:func:`~asteroid_wsas.data.testsets.caption_row_candidates`).

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
