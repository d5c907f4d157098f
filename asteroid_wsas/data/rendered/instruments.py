"""The instrument classes: soundfont presets and the note maker each plays (17 of MUSIC21's)."""

from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

import numpy as np

from .notes import chords, drum_pattern, melody
from .synth import DRUMS, Note, Renderer, room

NoteMaker = Callable[[np.random.Generator, float], List[Note]]


@dataclass(frozen=True)
class Instrument:
    """A sound class rendered from the soundfont: presets (bank, program) and a note maker."""

    label: str
    presets: Tuple[Tuple[int, int], ...]  # (bank, program); bank 128 = drum kits
    notes: NoteMaker

    def render(self, renderer: Renderer, rng: np.random.Generator, seconds: float) -> np.ndarray:
        bank, program = self.presets[int(rng.integers(len(self.presets)))]
        channel = DRUMS if bank == 128 else 0
        dry = renderer.render(program, self.notes(rng, seconds), seconds, bank, channel)
        return room(dry, rng, renderer.sample_rate)


def _melodic(low, high, legato):
    return lambda rng, s: melody(rng, low, high, s, legato)


def _harmonic(low, high):
    def make(rng, s):
        if rng.random() < 0.4:
            return melody(rng, low + 12, high, s, legato=False)
        return chords(rng, low, high, s, arpeggio=bool(rng.random() < 0.5))

    return make


_KIT = ((35, 36), (38, 40), (42, 42, 44, 46), (41, 43, 45, 47, 48, 50), (49, 51, 57, 59))
_CONGAS = ((62, 63), (64,), (60, 61))  # congas and bongos

# 17 of MUSIC21's 21 classes (erhu, guzheng, pipa and ukulele have no GM preset)
INSTRUMENTS: Dict[str, Instrument] = {
    i.label: i
    for i in [
        Instrument("accordion", ((0, 21), (0, 23)), _harmonic(53, 84)),
        Instrument("acoustic_guitar", ((0, 24), (0, 25)), _harmonic(40, 76)),
        Instrument("bagpipe", ((0, 109),), _melodic(57, 76, legato=True)),
        Instrument("banjo", ((0, 105),), _harmonic(48, 79)),
        Instrument("bassoon", ((0, 70),), _melodic(34, 67, legato=True)),
        Instrument("cello", ((0, 42),), _melodic(36, 72, legato=True)),
        Instrument("clarinet", ((0, 71),), _melodic(50, 86, legato=True)),
        Instrument("congas", ((128, 0),), lambda rng, s: drum_pattern(rng, _CONGAS, s)),
        Instrument("drum", ((128, 0), (128, 8), (128, 16)), lambda r, s: drum_pattern(r, _KIT, s)),
        Instrument("electric_bass", ((0, 33), (0, 34)), _melodic(28, 55, legato=False)),
        Instrument("flute", ((0, 73),), _melodic(60, 93, legato=True)),
        Instrument("piano", ((0, 0), (0, 1)), _harmonic(33, 96)),
        Instrument("saxophone", ((0, 65), (0, 66)), _melodic(49, 81, legato=True)),
        Instrument("trumpet", ((0, 56),), _melodic(54, 82, legato=True)),
        Instrument("tuba", ((0, 58),), _melodic(28, 58, legato=True)),
        Instrument("violin", ((0, 40),), _melodic(55, 93, legato=True)),
        Instrument("xylophone", ((0, 13),), _melodic(65, 96, legato=False)),
    ]
}
