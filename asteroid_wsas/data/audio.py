"""Reading dataset audio as it is found in the wild: any format, rate and channel count.

Shared by every dataset: probing files when the index is built (so that missing, empty or
corrupt files are skipped and counted then, never mid-epoch), reading a segment as mono at
the model's rate, and drawing non-silent random crops.
"""

import os
import warnings
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np
import soundfile as sf
import torch
import torchaudio

AUDIO_EXTENSIONS = ("wav", "flac", "ogg", "mp3")


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header."""

    path: str
    frames: int
    sample_rate: int
    channels: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


class UnreadableAudio(RuntimeError):
    """A file that looked fine in its header but cannot be decoded, or holds NaN / inf."""


def probe(path: str) -> Optional[AudioInfo]:
    """Header of an audio file, or None when it is missing, empty or unreadable.

    Examples:
        >>> probe("/no/such/file.wav") is None
        True
    """
    try:
        info = sf.info(path)
    except (RuntimeError, OSError, sf.LibsndfileError):
        return None
    if info.frames <= 0 or info.samplerate <= 0:
        return None
    return AudioInfo(path, int(info.frames), int(info.samplerate), int(info.channels))


def find_audio(directories: Sequence[str], stems: Sequence[str]) -> Optional[str]:
    """First existing ``<directory>/<stem>.<ext>`` over directories, stems and extensions."""
    for directory in directories:
        for stem in stems:
            for ext in AUDIO_EXTENSIONS:
                path = os.path.join(directory, f"{stem}.{ext}")
                if os.path.isfile(path):
                    return path
    return None


def read_segment(
    info: AudioInfo, sample_rate: int, start: float = 0.0, seconds: Optional[float] = None
) -> torch.Tensor:
    """Mono float32 waveform of ``seconds`` from ``start`` (s), at ``sample_rate``.

    Only the requested frames are decoded. Stereo and multi-channel audio is averaged, other
    rates are resampled (torchaudio), and a segment running past the end is zero-padded, so
    the output always has ``round(seconds * sample_rate)`` samples.

    Raises:
        UnreadableAudio: If decoding fails or the samples are not finite.
    """
    first = int(round(start * info.sample_rate))
    count = info.frames - first if seconds is None else int(round(seconds * info.sample_rate))
    try:
        if info.path.lower().endswith(".mp3"):
            # MP3 seeking in libsndfile is frame-approximate and noisy: decode, then slice.
            data, _ = sf.read(info.path, dtype="float32", always_2d=True)
            data = data[first : first + max(count, 0)]
        else:
            data, _ = sf.read(
                info.path, start=first, frames=max(count, 0), dtype="float32", always_2d=True
            )
    except (RuntimeError, OSError, sf.LibsndfileError) as err:
        raise UnreadableAudio(f"{info.path}: {err}") from err
    if not np.isfinite(data).all():
        raise UnreadableAudio(f"{info.path}: NaN or infinite samples")
    wav = torch.from_numpy(data.mean(axis=1))
    if info.sample_rate != sample_rate:
        wav = torchaudio.functional.resample(wav, info.sample_rate, sample_rate)
    if seconds is not None:
        n = int(round(seconds * sample_rate))
        wav = torch.nn.functional.pad(wav[:n], (0, max(n - wav.shape[0], 0)))
    return wav


def check_readable(info: AudioInfo) -> bool:
    """Whether the whole file decodes to finite samples (slow: reads everything)."""
    try:
        read_segment(info, info.sample_rate)
    except UnreadableAudio:
        return False
    return True


def rms_db(wav: torch.Tensor) -> float:
    """RMS level in dB (full scale = 0 dB)."""
    return float(10 * torch.log10(wav.double().square().mean() + 1e-20))


# data.crop values of a dataset: ours, then the authors' three (read_authors_crop)
CROPS = ("non_silent", "music", "vggsound", "centre")


def read_authors_crop(
    info: AudioInfo,
    sample_rate: int,
    seconds: float,
    kind: str,
    rng: Optional[np.random.Generator] = None,
) -> Tuple[torch.Tensor, float]:
    """A crop of ``seconds`` cut the way the authors' datasets cut it, and its start time.

    A crop of L samples is centred on sample c of the file: the samples from
    ``max(0, c - L // 2)`` to ``min(len, c + L // 2)`` land at the same offsets around
    the middle of a zero crop, so a crop that runs past either end of the file is
    zero-padded there. Files shorter than a crop are tiled first (MUSIC, VGGSound). The
    centre c, by ``kind``:

    - ``"music"`` (their MUSIC dataset): in training a whole second t is drawn uniformly
      from 1 to the file's duration in whole seconds, and c uniformly from sample 1 to
      (t - 0.5) s; so crops sit early in the file and often start with zeros. Without
      ``rng`` (test): t = duration // 2 + 1, c = (t - 0.5) s.
    - ``"vggsound"``: c = 4.5 s (the middle of a file's length when the file is shorter).
    - ``"centre"`` (AudioCaps): the middle of the file.

    Args:
        info: The file.
        sample_rate: Output rate.
        seconds: Crop length.
        kind: ``"music"``, ``"vggsound"`` or ``"centre"``.
        rng: The item's generator in training; None for a test crop.

    Returns:
        tuple: ``(wav, start)``: the crop :math:`(L,)` and where it starts in the file (s,
        negative when it starts before the file).

    Raises:
        ValueError: Unknown ``kind``.
        UnreadableAudio: The file does not decode.
    """
    if kind not in CROPS[1:]:
        raise ValueError(f"kind must be one of {CROPS[1:]}, got {kind!r}")
    length = int(round(seconds * sample_rate))
    n_raw = int(info.frames * sample_rate // info.sample_rate)
    tiled = None
    if kind != "centre" and n_raw < length:  # short files repeat to fill the crop
        tiled = read_segment(info, sample_rate)
        tiled = tiled.repeat(length // max(tiled.shape[0], 1) + 1)
        n_raw = tiled.shape[0]
    if kind == "music":
        duration = max(int(info.seconds), 1)
        if rng is None:
            centre = int((duration // 2 + 1 - 0.5) * sample_rate)
        else:
            second = int(rng.integers(1, duration + 1))
            centre = int(rng.integers(1, max(int((second - 0.5) * sample_rate), 1) + 1))
    elif kind == "vggsound":
        centre = int(4.5 * sample_rate)
        centre = n_raw // 2 if centre > n_raw else centre
    else:
        centre = n_raw // 2
    first, last = max(0, centre - length // 2), min(n_raw, centre + length // 2)
    out = torch.zeros(length)
    if last > first:
        if tiled is not None:
            piece = tiled[first:last]
        else:
            piece = read_segment(
                info, sample_rate, first / sample_rate, (last - first) / sample_rate
            )
        offset = length // 2 - (centre - first)
        out[offset : offset + piece.shape[0]] = piece[: length - offset]
    return out, (centre - length // 2) / sample_rate


def read_non_silent(
    info: AudioInfo,
    sample_rate: int,
    seconds: float,
    rng: Optional[np.random.Generator],
    min_db: float = -50.0,
    attempts: int = 10,
) -> Tuple[torch.Tensor, float]:
    """A crop of ``seconds`` whose level is above ``min_db``, and its start time.

    With ``rng`` the start is random and near-silent crops are re-drawn (up to ``attempts``
    times; the loudest one is kept if all are quiet). Without ``rng`` (evaluation) the crop
    is centred, as in the authors' code.
    """
    slack = max(info.seconds - seconds, 0.0)
    if rng is None:
        start = slack / 2
        return read_segment(info, sample_rate, start, seconds), start
    best, best_db, best_start = None, -np.inf, 0.0
    for _ in range(attempts):
        start = float(rng.uniform(0, slack)) if slack > 0 else 0.0
        wav = read_segment(info, sample_rate, start, seconds)
        level = rms_db(wav)
        if level > min_db:
            return wav, start
        if level > best_db:
            best, best_db, best_start = wav, level, start
    return best, best_start


class SkipCounter:
    """Counts files left out of an index and says so once, with the count and examples."""

    def __init__(self, dataset: str):
        self.dataset = dataset
        self.reasons: List[Tuple[str, str]] = []

    def skip(self, what: str, reason: str) -> None:
        self.reasons.append((what, reason))

    def report(self, total: int) -> None:
        if not self.reasons:
            return
        by_reason = {}
        for _, reason in self.reasons:
            by_reason[reason] = by_reason.get(reason, 0) + 1
        summary = ", ".join(f"{n} {reason}" for reason, n in sorted(by_reason.items()))
        examples = ", ".join(what for what, _ in self.reasons[:3])
        warnings.warn(
            f"{self.dataset}: skipped {len(self.reasons)} of {total} entries ({summary}); "
            f"e.g. {examples}",
            stacklevel=3,
        )


def unique(values: Iterable[str]) -> List[str]:
    """Values in first-seen order without repeats."""
    return list(dict.fromkeys(values))
