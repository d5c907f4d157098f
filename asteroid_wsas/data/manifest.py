"""(audio file, caption) pairs listed in a CSV: the simplest captioned-audio dataset."""

import csv
import os
import warnings
from typing import List, Tuple, Union

import soundfile as sf
import torch
import torchaudio
from torch.utils.data import Dataset


class CaptionManifest(Dataset):
    """Captioned audio files listed in a CSV with columns ``path`` and ``caption``.

    Relative paths are relative to the CSV's folder. Files that are missing, unreadable or
    empty are skipped when the manifest is read, and counted in one warning; rows with an
    empty caption likewise. Audio is mixed down to mono, resampled to ``sample_rate`` and
    cut or zero-padded to ``seconds`` (from the start: deterministic).

    Args:
        csv_path: The manifest.
        sample_rate: Output rate.
        seconds: Output duration.

    Items are dicts with ``mixture`` :math:`(T,)` and ``caption``.
    """

    def __init__(self, csv_path: Union[str, os.PathLike], sample_rate: int = 16000, seconds=4.0):
        self.sample_rate = int(sample_rate)
        self.n_samples = int(round(seconds * sample_rate))
        root = os.path.dirname(os.path.abspath(csv_path))
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = {"path", "caption"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{csv_path}: missing column(s) {sorted(missing)}")
            rows = list(reader)
        self.items: List[Tuple[str, str]] = []
        skipped = 0
        for row in rows:
            path = os.path.join(root, row["path"] or "")
            caption = (row["caption"] or "").strip()
            if caption and _readable(path):
                self.items.append((path, caption))
            else:
                skipped += 1
        if skipped:
            warnings.warn(
                f"{csv_path}: skipped {skipped} of {len(rows)} rows (missing, unreadable or "
                "empty audio, or empty caption)"
            )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        path, caption = self.items[index]
        data, rate = sf.read(path, dtype="float32", always_2d=True, frames=-1)
        wav = torch.from_numpy(data.mean(axis=1))
        if rate != self.sample_rate:
            wav = torchaudio.functional.resample(wav, rate, self.sample_rate)
        wav = wav[: self.n_samples]
        wav = torch.nn.functional.pad(wav, (0, self.n_samples - wav.shape[0]))
        return {"mixture": wav, "caption": caption}


def _readable(path: str) -> bool:
    try:
        return sf.info(path).frames > 0
    except (RuntimeError, OSError, sf.LibsndfileError):
        return False
