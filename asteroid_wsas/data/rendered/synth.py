"""The synthesiser: finding FluidSynth and a soundfont, rendering notes, the room and level.

Everything a recording goes through, whatever its class: :class:`Renderer` plays notes on a
soundfont preset, :func:`room` adds a reverberation drawn per recording and
:func:`_normalise` sets its level.
"""

import ctypes
import os
import shutil
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

PathLike = Union[str, os.PathLike]

INSTALL_HINT = "apt-get install fluidsynth fluid-soundfont-gm espeak-ng"
# searched in order; the first that exists is the default soundfont
SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)
DRUMS = 9  # General MIDI percussion channel


class MissingTool(RuntimeError):
    """A system tool the renderer needs is not installed (the message says how to)."""


def find_soundfont(soundfont: Optional[PathLike] = None) -> str:
    """The soundfont file to render with: ``soundfont``, ``$WSAS_SOUNDFONT`` or a GM default.

    Raises:
        MissingTool: no soundfont found.
    """
    candidates = [soundfont] if soundfont else []
    candidates += [os.environ.get("WSAS_SOUNDFONT")] if os.environ.get("WSAS_SOUNDFONT") else []
    if soundfont and not os.path.isfile(soundfont):
        raise MissingTool(f"soundfont {soundfont!r} not found")
    for path in candidates + list(SOUNDFONTS):
        if path and os.path.isfile(path):
            return os.fspath(path)
    raise MissingTool(f"no General MIDI soundfont found; install one: {INSTALL_HINT}")


def check_tools(speech: bool = False) -> None:
    """Raise :class:`MissingTool` with a one-line install hint if a renderer is missing."""
    missing = []
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth; needs the system libfluidsynth)
    except ImportError:
        missing.append("libfluidsynth")
    try:
        find_soundfont()
    except MissingTool:
        missing.append("a GM soundfont")
    if speech and shutil.which("espeak-ng") is None:
        missing.append("espeak-ng")
    if missing:
        raise MissingTool(f"rendering needs {', '.join(missing)}: {INSTALL_HINT}")


@dataclass(frozen=True)
class Note:
    """One note (or drum hit): onset and length in seconds, MIDI key and velocity."""

    onset: float
    length: float
    key: int
    velocity: int


class Renderer:
    """A FluidSynth instance with one soundfont, rendering note lists to mono float arrays.

    Args:
        sample_rate: Output rate (FluidSynth renders at it directly, 8 to 96 kHz).
        soundfont: A ``.sf2`` / ``.sf3`` file (default: :func:`find_soundfont`).

    Examples:
        >>> r = Renderer(16000)  # doctest: +SKIP
        >>> wav = r.render(40, [Note(0.0, 0.5, 67, 100)], seconds=1.0)  # violin  # doctest: +SKIP
    """

    def __init__(self, sample_rate: int, soundfont: Optional[PathLike] = None):
        check_tools()
        import fluidsynth

        self.sample_rate = int(sample_rate)
        self.soundfont = find_soundfont(soundfont)
        # one core, no chorus and no reverb: FluidSynth's effects keep state from one
        # recording to the next; the room is added per recording by :func:`room`
        self.synth = fluidsynth.Synth(gain=0.5, samplerate=float(self.sample_rate))
        self.synth.setting("synth.chorus.active", 0)
        self.synth.setting("synth.reverb.active", 0)
        self.sfid = self.synth.sfload(self.soundfont)
        if self.sfid < 0:
            raise MissingTool(f"FluidSynth could not load the soundfont {self.soundfont}")
        # float output (the 16-bit one is dithered with a running noise sequence)
        self._write = fluidsynth._fl.fluid_synth_write_float
        self._write.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        self._write.argtypes += [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self._warm: set = set()

    def close(self) -> None:
        self.synth.delete()

    def _warm_up(self, channel: int, bank: int, program: int) -> None:
        """Play every key of a preset once, softly and loudly, and discard the sound.

        FluidSynth prepares a sample the first time a voice plays it, and that first note
        sounds slightly different: without this, a recording would depend on which ones
        were rendered before it.
        """
        for velocity in (1, 64, 127):
            for first in range(0, 128, 16):
                for key in range(first, first + 16):
                    self.synth.noteon(channel, key, velocity)
                self._samples(64)
                self.synth.all_sounds_off(channel)
                self._samples(self.sample_rate // 20 + (-(self.sample_rate // 20)) % 64)
        self._warm.add((bank, program))

    def _samples(self, n: int) -> np.ndarray:
        if n <= 0:
            return np.zeros(0, np.float32)
        buf = (ctypes.c_float * (2 * n))()
        self._write(self.synth.synth, n, buf, 0, 2, buf, 1, 2)  # interleaved stereo
        return np.frombuffer(buf, dtype=np.float32).reshape(-1, 2).mean(1)

    def render(
        self,
        program: int,
        notes: Sequence[Note],
        seconds: float,
        bank: int = 0,
        channel: int = 0,
    ) -> np.ndarray:
        """Play ``notes`` on a preset and return ``seconds`` of dry mono audio (float32).

        The synth is silenced and flushed afterwards, so a recording does not depend on the
        ones rendered before it.
        """
        self.synth.program_select(channel, self.sfid, bank, program)
        if (bank, program) not in self._warm:
            self._warm_up(channel, bank, program)
        events: List[Tuple[int, int, int, int]] = []  # (sample, order, key, velocity)
        for note in notes:
            start = int(round(note.onset * self.sample_rate))
            stop = start + max(int(round(note.length * self.sample_rate)), 1)
            events.append((start, 1, note.key, note.velocity))
            events.append((stop, 0, note.key, 0))  # offs before ons at the same sample
        events.sort()
        total = int(round(seconds * self.sample_rate))
        out, pos = [], 0
        for at, is_on, key, velocity in events:
            at = min(at, total)
            out.append(self._samples(at - pos))
            pos = at
            if is_on and at < total:
                self.synth.noteon(channel, key, int(np.clip(velocity, 1, 127)))
            else:
                self.synth.noteoff(channel, key)
        out.append(self._samples(total - pos))
        self.synth.all_sounds_off(channel)
        # let the released voices end, and start the next recording on a 64-sample block of
        # the synth (events are processed per block: a shifted start shifts every note)
        flush = self.sample_rate // 10
        self._samples(flush + (-(total + flush)) % 64)
        return np.concatenate(out)[:total].astype(np.float32)


def room(wave: np.ndarray, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A room drawn per recording: exponentially decaying noise as the impulse response
    (reverberation time 0.15 to 1.2 s) mixed with the dry sound (wet share 0 to 40 %)."""
    import torch
    import torchaudio

    rt60, wet = rng.uniform(0.15, 1.2), rng.uniform(0.0, 0.4)
    n = int(rt60 * sample_rate)
    t = np.arange(n) / sample_rate
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    ir = ir / np.sqrt(np.sum(ir**2))
    tail = torchaudio.functional.fftconvolve(
        torch.from_numpy(wave.astype(np.float64)), torch.from_numpy(ir)
    ).numpy()[: len(wave)]
    return ((1 - wet) * wave + wet * tail).astype(np.float32)


def _normalise(wave: np.ndarray, rms: float = 0.1) -> np.ndarray:
    level = float(np.sqrt(np.mean(wave.astype(np.float64) ** 2)))
    if level < 1e-6:
        return wave.astype(np.float32)
    wave = wave * (rms / level)
    peak = float(np.abs(wave).max())
    return (wave * (0.99 / peak) if peak > 0.99 else wave).astype(np.float32)
