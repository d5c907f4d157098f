"""Note makers: random melodies, chords, arpeggios, drum patterns and sound-effect timings.

Each draws its register, key, scale, tempo and dynamics from ``rng`` and returns the
:class:`~asteroid_wsas.data.rendered.synth.Note` list a :class:`Renderer` plays.
"""

from typing import List, Sequence, Tuple

import numpy as np

from .synth import Note

SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "blues": (0, 3, 5, 6, 7, 10),
}


def _scale_keys(rng: np.random.Generator, low: int, high: int) -> np.ndarray:
    tonic = int(rng.integers(0, 12))
    steps = SCALES[str(rng.choice(list(SCALES)))]
    keys = [k for k in range(low, high + 1) if (k - tonic) % 12 in steps]
    return np.array(keys or [low])


def _register(rng: np.random.Generator, low: int, high: int, span: int = 14) -> Tuple[int, int]:
    """A sub-range of ``span`` semitones of [low, high]: low, middle or high register."""
    span = min(span, high - low)
    start = int(rng.integers(low, high - span + 1))
    return start, start + span


def _velocity(rng: np.random.Generator, n: int) -> np.ndarray:
    """A dynamics contour: a base level, a crescendo or decrescendo, per-note jitter."""
    start, stop = rng.uniform(40, 118, size=2)
    return np.clip(np.linspace(start, stop, max(n, 1)) + rng.normal(0, 6, max(n, 1)), 20, 127)


def melody(rng, low: int, high: int, seconds: float, legato: bool) -> List[Note]:
    """A random-walk melody on a random scale, with rests (sustained or plucked phrasing)."""
    keys = _scale_keys(rng, *_register(rng, low, high))
    beat = 60.0 / rng.uniform(60, 150)
    lengths = (1, 2, 2, 3, 4) if legato else (0.5, 1, 1, 1, 2)
    notes, t, idx = [], float(rng.uniform(0, beat)), int(rng.integers(len(keys)))
    while t < seconds:
        dur = beat * float(rng.choice(lengths)) / 2
        if notes and rng.random() < 0.1:  # a rest (never before the first note)
            t += dur
            continue
        idx = int(np.clip(idx + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]), 0, len(keys) - 1))
        notes.append(Note(t, dur * (0.95 if legato else 0.8), int(keys[idx]), 0))
        t += dur
    vel = _velocity(rng, len(notes))
    return [Note(n.onset, n.length, n.key, int(v)) for n, v in zip(notes, vel)]


def chords(rng, low: int, high: int, seconds: float, arpeggio: bool) -> List[Note]:
    """Triads of a random progression, struck (block) or broken (arpeggio)."""
    keys = _scale_keys(rng, *_register(rng, low, high, span=19))
    beat = 60.0 / rng.uniform(60, 140)
    notes, t = [], float(rng.uniform(0, beat))
    while t < seconds:
        root = int(rng.integers(0, max(len(keys) - 4, 1)))
        triad = [int(keys[min(root + k, len(keys) - 1)]) for k in (0, 2, 4)]
        bar = beat * float(rng.choice([2, 4]))
        if arpeggio:
            step = bar / float(rng.choice([4, 6, 8]))
            for j in range(int(round(bar / step))):
                notes.append(Note(t + j * step, step * 1.5, triad[j % 3] + 12 * (j // 3 % 2), 0))
        else:
            notes += [Note(t + 0.012 * j, bar * 0.9, k, 0) for j, k in enumerate(triad)]
        t += bar
    vel = _velocity(rng, len(notes))
    return [Note(n.onset, n.length, n.key, int(v)) for n, v in zip(notes, vel)]


def drum_pattern(rng, kit: Sequence[Sequence[int]], seconds: float) -> List[Note]:
    """A looped one-bar pattern over 16 steps: per voice of ``kit`` a random rhythm."""
    step = 60.0 / rng.uniform(70, 150) / 4
    density = rng.uniform(0.2, 0.6, size=len(kit))
    pattern = [(rng.random(16) < d) for d in density]
    for hits in pattern:
        hits[0] = hits[0] or rng.random() < 0.5
    notes, t, i = [], 0.0, 0
    while t < seconds:
        for voice, hits in zip(kit, pattern):
            if hits[i % 16] or rng.random() < 0.03:  # ghost notes vary the loop
                notes.append(Note(t, step * 0.9, int(rng.choice(voice)), 0))
        t += step
        i += 1
    vel = _velocity(rng, len(notes))
    return [Note(n.onset, n.length, n.key, int(v)) for n, v in zip(notes, vel)]


def sparse_hits(rng, keys: Sequence[int], seconds: float, rate: Tuple[float, float], length=0.5):
    """Irregular single events (gunshots, bird calls, bells) at ``rate`` per second."""
    notes, t = [], float(rng.uniform(0, 0.5))
    mean_gap = 1.0 / rng.uniform(*rate)
    while t < seconds:
        notes.append(Note(t, length * rng.uniform(0.6, 1.4), int(rng.choice(keys)), 0))
        t += mean_gap * rng.uniform(0.4, 1.6)
    vel = _velocity(rng, len(notes))
    return [Note(n.onset, n.length, n.key, int(v)) for n, v in zip(notes, vel)]


def held(rng, keys: Sequence[int], seconds: float) -> List[Note]:
    """One long note (a drone: helicopter, sea shore, applause)."""
    return [Note(0.0, seconds + 1.0, int(rng.choice(keys)), int(rng.uniform(70, 120)))]


def rings(rng, key: int, seconds: float) -> List[Note]:
    """Telephone rings: on for about 1 to 2 s, off for 1 to 3 s."""
    notes, t = [], float(rng.uniform(0, 0.5))
    while t < seconds:
        on = rng.uniform(0.8, 2.0)
        notes.append(Note(t, on, key, int(rng.uniform(80, 120))))
        t += on + rng.uniform(1.0, 3.0)
    return notes
