"""Augmentation of training solos (``data.augment``): gain, pitch shift, time stretch and a
room, drawn per source from the item's generator before the sources are mixed.

Each source of a training item is, in this order, pitch-shifted and time-stretched (one
phase-vocoder pass and one resampling), convolved with a generated room response, then
scaled by its random gain; the mixture is the sum of the augmented sources, so targets and
mixture stay consistent. Validation and test sets are never augmented. Without the block
(or with ``augment: null``) nothing is drawn and every item is the one of earlier versions.

Examples:
    >>> SoloAugment.from_conf(None) is None
    True
    >>> SoloAugment.from_conf({"pitch_prob": 0.5}).pitch_semitones
    (-2.0, 2.0)
    >>> SoloAugment.from_conf({"room_prob": 2})
    Traceback (most recent call last):
    ...
    ValueError: data.augment.room_prob must be a number from 0 to 1, got 2
"""

import difflib
import math
from dataclasses import dataclass, fields
from typing import Any, Optional, Tuple

import numpy as np
import torch
import torchaudio

__all__ = ["SoloAugment", "stretch_and_shift", "room_response"]

# resampling ratios of a pitch shift are whole hundredths (a sixth of a semitone near 1): a
# ratio of small integers keeps torchaudio's resampling kernel small
PITCH_STEPS = 100

Range = Tuple[float, float]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class SoloAugment:
    """What ``data.augment`` asks of every training solo, each part with its probability.

    Args:
        gain: Range of the random gain of each source (the authors' U(0.5, 1.5)).
        pitch_prob: Probability of a pitch shift.
        pitch_semitones: Range of the shift in semitones (from -12 to 12), drawn uniformly.
        stretch_prob: Probability of a time stretch (the pitch kept).
        stretch_rate: Range of the speed factor (from 0.5 to 2; above 1 is faster). A
            longer crop is read so that a faster source still fills the clip.
        room_prob: Probability of a room: convolution with a generated impulse response
            (:func:`room_response`).
        room_rt60: Range of the room's reverberation time in seconds (above 0, up to 2).
        room_drr_db: Range of the direct-to-reverberant energy ratio in dB (-30 to 30).

    Raises:
        ValueError: A probability outside [0, 1], or a range that is not ``[low, high]``
            within its limits, naming the key (``data.augment.<key>``).
    """

    gain: Range = (0.5, 1.5)
    pitch_prob: float = 0.0
    pitch_semitones: Range = (-2.0, 2.0)
    stretch_prob: float = 0.0
    stretch_rate: Range = (0.9, 1.1)
    room_prob: float = 0.0
    room_rt60: Range = (0.2, 0.8)
    room_drr_db: Range = (0.0, 10.0)

    def __post_init__(self):
        for name in ("pitch_prob", "stretch_prob", "room_prob"):
            value = getattr(self, name)
            if not (_number(value) and 0 <= value <= 1):
                raise ValueError(f"data.augment.{name} must be a number from 0 to 1, got {value!r}")
        # (lowest low, highest high, whether the low must be above the limit)
        limits = {
            "gain": (0.0, math.inf, False),
            "pitch_semitones": (-12.0, 12.0, False),
            "stretch_rate": (0.5, 2.0, False),
            "room_rt60": (0.0, 2.0, True),
            "room_drr_db": (-30.0, 30.0, False),
        }
        for name, (low, high, above) in limits.items():
            value = getattr(self, name)
            pair = isinstance(value, (list, tuple)) and len(value) == 2
            if not (pair and all(_number(v) for v in value)) or not (
                (value[0] > low if above else value[0] >= low) and value[0] <= value[1] <= high
            ):
                sign = "<" if above else "<="
                top = "" if math.isinf(high) else f" <= {high:g}"
                raise ValueError(
                    f"data.augment.{name} must be [low, high] with {low:g} {sign} low <= high"
                    f"{top}, got {value!r}"
                )
            object.__setattr__(self, name, (float(value[0]), float(value[1])))

    @classmethod
    def from_conf(cls, block: Any) -> Optional["SoloAugment"]:
        """The augmentation of a config's ``data.augment`` block; None (nothing drawn) when
        the block is absent or null.

        Raises:
            ValueError: The block is not a mapping, has an unknown key (the closest known
                one suggested) or a bad value.
        """
        if block is None:
            return None
        if not isinstance(block, dict):
            raise ValueError(f"data.augment must be a mapping, got {block!r}")
        known = [f.name for f in fields(cls)]
        for key in block:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"did you mean 'data.augment.{close[0]}'?" if close else ""
                hint = hint or f"known keys: {', '.join(known)}"
                raise ValueError(f"unknown key 'data.augment.{key}'; {hint}")
        return cls(**{k: v for k, v in block.items() if v is not None})

    def read_seconds(self, segment: float) -> float:
        """Seconds to read for a clip of ``segment``: longer when a stretch may speed a
        source up, so that it still fills the clip."""
        return segment * max(self.stretch_rate[1], 1.0) if self.stretch_prob > 0 else segment

    def __call__(
        self, wav: torch.Tensor, rng: np.random.Generator, sample_rate: int, length: int
    ) -> torch.Tensor:
        """One source, augmented with draws from ``rng``, cut or zero-padded to ``length``.

        Shape:
            - wav: :math:`(T_{read},)`
            - output: :math:`(T,)`, ``T = length``, the dtype of ``wav``
        """
        # the same draws whatever applies, so one part's probability leaves the others' values
        chance = rng.random(3)
        semitones = rng.uniform(*self.pitch_semitones)
        rate = rng.uniform(*self.stretch_rate)
        rt60, drr = rng.uniform(*self.room_rt60), rng.uniform(*self.room_drr_db)
        ratio = 2.0 ** (semitones / 12) if chance[0] < self.pitch_prob else 1.0
        rate = rate if chance[1] < self.stretch_prob else 1.0
        out = stretch_and_shift(wav, sample_rate, rate, ratio)
        if chance[2] < self.room_prob:
            response = room_response(rng, sample_rate, rt60, drr).to(out.dtype)
            out = torchaudio.functional.fftconvolve(out, response)
        out = out[:length]
        return torch.nn.functional.pad(out, (0, length - out.shape[-1]))


def stretch_and_shift(
    wav: torch.Tensor, sample_rate: int, rate: float = 1.0, ratio: float = 1.0
) -> torch.Tensor:
    """Time-stretch ``wav`` by ``rate`` and shift its pitch by the frequency ``ratio``.

    One phase-vocoder pass (torchaudio's) changes the duration without the pitch, then
    resampling by the pitch ratio, rounded to whole hundredths, moves every frequency by it:
    the output lasts ``T / rate`` samples, up to a frame. ``rate = ratio = 1`` returns
    ``wav`` itself.

    Args:
        wav: A waveform.
        sample_rate: Its rate (sets the vocoder's 32 ms window).
        rate: Speed factor (above 1: faster, shorter).
        ratio: Frequency ratio of the pitch shift (``2 ** (semitones / 12)``).

    Returns:
        torch.Tensor: The stretched and shifted waveform.

    Shape:
        - wav: :math:`(T,)` or :math:`(B, T)`
        - output: :math:`(T',)` or :math:`(B, T')`, ``T' ~ T / rate``

    Examples:
        >>> stretch_and_shift(torch.zeros(8000), 8000, rate=0.5).shape
        torch.Size([16000])
    """
    steps = max(int(round(ratio * PITCH_STEPS)), 1)
    if rate == 1.0 and steps == PITCH_STEPS:
        return wav
    vocoder_rate = rate * PITCH_STEPS / steps  # the resampling below shortens by steps / 100
    n_fft = 2 ** int(round(math.log2(0.032 * sample_rate)))
    hop = n_fft // 4
    window = torch.hann_window(n_fft, dtype=wav.dtype, device=wav.device)
    out = wav
    if vocoder_rate != 1.0:
        spec = torch.stft(wav, n_fft, hop, window=window, return_complex=True)
        advance = torch.linspace(0, math.pi * hop, n_fft // 2 + 1, dtype=wav.dtype)[:, None]
        spec = torchaudio.functional.phase_vocoder(spec, vocoder_rate, advance.to(wav.device))
        length = int(round(wav.shape[-1] / vocoder_rate))
        out = torch.istft(spec, n_fft, hop, window=window, length=length)
    if steps != PITCH_STEPS:
        out = torchaudio.functional.resample(out, steps, PITCH_STEPS)
    return out


def room_response(
    rng: np.random.Generator, sample_rate: int, rt60: float, drr_db: float
) -> torch.Tensor:
    """A generated room impulse response: a direct path, then exponentially decaying noise.

    The tail decays by 60 dB over ``rt60`` seconds (its length), its energy is
    ``drr_db`` below the direct path's, and the whole response has unit energy, so that a
    noise-like source keeps its level.

    Args:
        rng: Generator of the noise.
        sample_rate: Rate in Hz.
        rt60: Reverberation time in seconds.
        drr_db: Direct-to-reverberant energy ratio in dB.

    Returns:
        torch.Tensor: :math:`(L,)` float32, ``L = max(round(rt60 * sample_rate), 2)``.

    Examples:
        >>> h = room_response(np.random.default_rng(0), 8000, 0.5, 6.0)
        >>> h.shape, round(float(h.square().sum()), 4)
        (torch.Size([4000]), 1.0)
    """
    n = max(int(round(rt60 * sample_rate)), 2)
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * 10 ** (-3 * t / rt60)  # amplitude -60 dB at rt60
    tail[0] = 0.0
    tail *= math.sqrt(10 ** (-drr_db / 10) / max(float(np.sum(tail**2)), 1e-12))
    tail[0] = 1.0  # the direct path
    return torch.from_numpy(tail / math.sqrt(float(np.sum(tail**2)))).float()
