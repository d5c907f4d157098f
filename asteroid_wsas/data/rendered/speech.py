"""Speech from espeak-ng: random English sentences in male and female voices."""

import os
import shutil
import subprocess
import tempfile
from typing import List

import numpy as np

from .synth import INSTALL_HINT, MissingTool

_SUBJECTS = (
    "the weather",
    "my brother",
    "the old house",
    "our neighbour",
    "the train",
    "this recipe",
    "the meeting",
    "the garden",
    "your friend",
    "the river",
    "that film",
    "the market",
    "the new road",
    "a small dog",
    "the children",
    "the engine",
    "the letter",
    "the doctor",
)
_PREDICATES = (
    "was much better than we expected",
    "will arrive late again tomorrow",
    "has been closed since last winter",
    "needs a little more salt",
    "is on the other side",
    "looked tired after the long walk",
    "should be finished by friday",
    "sounds very strange",
    "made everyone laugh at dinner",
    "is going to need some help",
    "was painted bright yellow",
    "never answers the phone",
    "moved to the city last year",
    "keeps getting louder",
    "left the door open all night",
    "is too far to walk",
    "won the prize this morning",
)


def sentence(rng: np.random.Generator) -> str:
    """A random English sentence for the speech synthesiser."""
    text = f"{rng.choice(_SUBJECTS)} {rng.choice(_PREDICATES)}"
    if rng.random() < 0.5:
        text += f", and {rng.choice(_SUBJECTS)} {rng.choice(_PREDICATES)}"
    return text[0].upper() + text[1:] + "."


def speak(rng: np.random.Generator, female: bool, seconds: float, sample_rate: int) -> np.ndarray:
    """espeak-ng speech of random sentences (one voice per call), ``seconds`` long.

    Raises:
        MissingTool: espeak-ng is not installed.
    """
    import soundfile as sf
    import torch
    import torchaudio

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise MissingTool(f"speech needs espeak-ng: {INSTALL_HINT}")
    variant = f"f{int(rng.integers(1, 6))}" if female else f"m{int(rng.integers(1, 8))}"
    pitch = int(rng.uniform(55, 85) if female else rng.uniform(25, 55))
    speed = int(rng.uniform(135, 185))
    n = int(round(seconds * sample_rate))
    parts: List[np.ndarray] = []
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = os.path.join(tmp, "s.wav")
        while total < n:
            cmd = [exe, "-v", f"en-us+{variant}", "-p", str(pitch), "-s", str(speed)]
            subprocess.run(
                cmd + ["-w", wav_path, sentence(rng)], check=True, capture_output=True, timeout=60
            )
            wave, rate = sf.read(wav_path, dtype="float32", always_2d=True)
            wave = torch.from_numpy(wave.mean(1))
            if rate != sample_rate:
                wave = torchaudio.functional.resample(wave, rate, sample_rate)
            pause = np.zeros(int(rng.uniform(0.1, 0.5) * sample_rate), np.float32)
            parts += [wave.numpy(), pause]
            total += len(parts[-2]) + len(pause)
    return np.concatenate(parts)[:n]
