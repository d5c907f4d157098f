"""Realistic sounds rendered offline from sampled instruments and a speech synthesiser.

The beeps of :mod:`~asteroid_wsas.data.synthetic` are easy to tell apart; real recordings
are not. This module renders recordings from sources a fresh machine can install from its
OS packages, with no download at run time:

- **instruments** from a General MIDI soundfont (sampled recordings of real instruments,
  FluidR3_GM by default) played by FluidSynth: random melodies, chords, arpeggios and drum
  patterns in each instrument's range, with a register, key, scale, tempo, dynamics
  (velocity contour) and room (reverberation) drawn per recording, and 1 to 3 presets per
  class (e.g. nylon / steel guitar) so that a class is not one timbre;
- **environmental events** from the same soundfont's recorded sound effects (birds,
  telephone, helicopter, applause, sea shore, gunshots) and instruments;
- **speech** from espeak-ng (male and female voices, random sentences, pitch and speed).

Three public layouts are written: MUSIC's (:func:`write_rendered_music_layout`, solo
"videos" of 17 of MUSIC21's instrument classes), AudioCaps' (
:func:`write_rendered_audiocaps_layout`, natural mixtures of 1 to 4 events with a written
caption, plus every clean event and its phrase for phrase-level scoring) and VGGSound's
(:func:`write_rendered_vggsound_layout`, single-event clips of the same 14 event classes
under VGGSound's labels).

Install (Debian / Ubuntu): ``apt-get install fluidsynth fluid-soundfont-gm espeak-ng``;
:func:`check_tools` names what is missing in one line. Everything is deterministic given
the seed and the soundfont file (recorded in the layout's ``generator.json``).
"""

import csv
import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .audiocaps import EVENTS_FIELDS
from .pictures import write_frames_info, write_video_frames

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


def _file_digest(path: str) -> str:
    """Short fingerprint of a soundfont (size + first MiB) to record what rendered the data."""
    h = hashlib.sha1(str(os.path.getsize(path)).encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
    return h.hexdigest()[:12]


# ------------------------------------------------------------------------------ the synth
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


# ---------------------------------------------------------------------------- note makers
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


# ----------------------------------------------------------------------------- instruments
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


def _normalise(wave: np.ndarray, rms: float = 0.1) -> np.ndarray:
    level = float(np.sqrt(np.mean(wave.astype(np.float64) ** 2)))
    if level < 1e-6:
        return wave.astype(np.float32)
    wave = wave * (rms / level)
    peak = float(np.abs(wave).max())
    return (wave * (0.99 / peak) if peak > 0.99 else wave).astype(np.float32)


def _write(path: str, wave: np.ndarray, sample_rate: int) -> None:
    import soundfile as sf

    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, wave, sample_rate, subtype="PCM_16")


def _progress(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not progress)


def _write_info(
    root: PathLike, layout: str, renderer: "Renderer", seed: int, seconds: float, **extra
) -> None:
    """``<root>/generator.json``: what rendered the layout (soundfont and its fingerprint,
    seed, rate, length and the layout's own settings)."""
    info = {
        "generator": f"asteroid_wsas.data.rendered ({layout} layout)",
        "soundfont": renderer.soundfont,
        "soundfont_digest": _file_digest(renderer.soundfont),
        "seed": seed,
        "sample_rate": renderer.sample_rate,
        "seconds": seconds,
        **extra,
    }
    with open(os.path.join(root, "generator.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1)


def _known_classes(
    classes: Optional[Sequence[str]], table: Dict, what: str, table_name: str
) -> List[str]:
    """``classes`` (default: all of ``table``), refusing any that ``table`` lacks.

    Raises:
        ValueError: naming the unknown ``what`` and the table to look in.
    """
    classes = list(classes or table)
    unknown = sorted(set(classes) - set(table))
    if unknown:
        raise ValueError(f"classes: unknown {what} {unknown}; see {table_name}")
    return classes


def _check_frames(frames: bool, fps: float, frame_size: int) -> None:
    """Refuse bad frame settings before any rendering (which takes minutes)."""
    if frames and not (fps > 0 and int(frame_size) == frame_size and frame_size >= 4):
        raise ValueError(f"need fps > 0 and frame_size >= 4, got {fps} and {frame_size}")


def write_rendered_music_layout(
    root: PathLike,
    videos_per_class: int = 20,
    classes: Optional[Sequence[str]] = None,
    seconds: float = 8.0,
    sample_rate: int = 16000,
    seed: int = 0,
    soundfont: Optional[PathLike] = None,
    progress: bool = True,
    frames: bool = False,
    fps: float = 2.0,
    frame_size: int = 64,
) -> str:
    """Rendered instrument solos in MUSIC's public layout.

    Writes ``<root>/MUSIC_solo_videos.json`` (``{"videos": {class: [ids]}}``),
    ``<root>/audio/<class>/<id>.wav`` (16-bit) and ``<root>/generator.json`` (what rendered
    them). Recording ``v`` of class ``c`` depends only on ``(seed, c, v)`` and the soundfont.

    With ``frames=True`` each recording also gets video frames: drawn pictures of its
    instrument (:mod:`~asteroid_wsas.data.pictures`, not real video) in
    ``<root>/frames/<class>/<id>/%06d.jpg`` at ``fps``, and ``<root>/frames/info.json``,
    for image-queried methods (:class:`~asteroid_wsas.data.frames.FrameStore`). They draw
    from a random stream of their own: the audio is the same with or without them.

    Args:
        root: Dataset root to write.
        videos_per_class: Recordings per instrument.
        classes: Instruments (default: all of :data:`INSTRUMENTS`, 17 classes).
        seconds: Length of each recording.
        sample_rate: Rate in Hz.
        seed: Base seed.
        soundfont: GM soundfont (default: :func:`find_soundfont`).
        progress: Show a progress bar.
        frames: Also write video frames.
        fps: Frames per second of the frames.
        frame_size: Side of the (square) frames in pixels.

    Returns:
        str: the JSON path.

    Raises:
        MissingTool: FluidSynth or a soundfont is missing (with the install command).
        ValueError: unknown class or non-positive sizes.
    """
    classes = _known_classes(classes, INSTRUMENTS, "instruments", "INSTRUMENTS")
    if videos_per_class < 1 or seconds <= 0:
        raise ValueError(
            f"videos_per_class must be >= 1 and seconds > 0, got {videos_per_class}, {seconds}"
        )
    _check_frames(frames, fps, frame_size)
    renderer = Renderer(sample_rate, soundfont)
    videos: Dict[str, List[str]] = {}
    bar = _progress(len(classes) * videos_per_class, "rendering solos", progress)
    try:
        for label in classes:
            c = sorted(INSTRUMENTS).index(label)  # stable per class whatever the subset
            videos[label] = []
            for v in range(videos_per_class):
                rng = np.random.default_rng([seed, c, v])
                wave = INSTRUMENTS[label].render(renderer, rng, seconds)
                video_id = f"{label[:4]}{v:03d}"
                wave = _normalise(wave, 0.1 * 10 ** (rng.uniform(-6, 0) / 20))
                _write(os.path.join(root, "audio", label, f"{video_id}.wav"), wave, sample_rate)
                if frames:  # a stream of their own (a longer key): the audio stays the same
                    frame_rng = np.random.default_rng([seed, c, v, 1])
                    write_video_frames(
                        root, label, video_id, seconds, fps, frame_rng, size=frame_size
                    )
                videos[label].append(video_id)
                bar.update()
    finally:
        bar.close()
        renderer.close()
    path = os.path.join(root, "MUSIC_solo_videos.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"videos": videos}, f, indent=1)
    extra = {}
    if frames:
        write_frames_info(root, fps)
        extra["frames"] = {"fps": fps, "size": frame_size}
    _write_info(root, "MUSIC", renderer, seed, seconds, **extra)
    return path


# ---------------------------------------------------------------------------------- speech
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


# ---------------------------------------------------------------------------- events (AudioCaps)
@dataclass(frozen=True)
class EventClass:
    """A sound event of the AudioCaps-layout generator: phrases and a renderer.

    ``phrases`` are written as present-tense clauses ("A telephone rings"); ``background``
    events (drones) tend to last the whole clip, the others cover part of it.
    """

    label: str
    phrases: Tuple[str, ...]
    background: bool
    make: Callable[[Renderer, np.random.Generator, float], np.ndarray]


def _fx(program: int, notes: Callable[[np.random.Generator, float], List[Note]]):
    def make(renderer, rng, seconds):
        return room(
            renderer.render(program, notes(rng, seconds), seconds), rng, renderer.sample_rate
        )

    return make


def _instrument(label: str):
    return lambda renderer, rng, seconds: INSTRUMENTS[label].render(renderer, rng, seconds)


def _speech(female: bool):
    return lambda renderer, rng, seconds: speak(rng, female, seconds, renderer.sample_rate)


EVENT_CLASSES: Dict[str, EventClass] = {
    e.label: e
    for e in [
        EventClass("man", ("A man speaks", "A man talks", "A man is speaking"), False, _speech(0)),
        EventClass(
            "woman", ("A woman speaks", "A woman talks", "A woman is speaking"), False, _speech(1)
        ),
        EventClass(
            "birds",
            ("Birds chirp", "A bird sings", "Birds are chirping"),
            False,
            _fx(123, lambda r, s: sparse_hits(r, range(60, 90), s, (1.0, 3.0), 0.4)),
        ),
        EventClass(
            "telephone",
            ("A telephone rings", "A phone rings"),
            False,
            _fx(124, lambda r, s: rings(r, int(r.integers(64, 80)), s)),
        ),
        EventClass(
            "helicopter",
            ("A helicopter flies overhead", "A helicopter engine roars"),
            True,
            _fx(125, lambda r, s: held(r, range(50, 70), s)),
        ),
        EventClass(
            "applause",
            ("People applaud", "A crowd claps", "An audience applauds"),
            True,
            _fx(126, lambda r, s: held(r, range(55, 70), s)),
        ),
        EventClass(
            "waves",
            ("Waves crash on the shore", "Ocean waves roll in"),
            True,
            _fx(122, lambda r, s: held(r, range(45, 70), s)),
        ),
        EventClass(
            "gunshots",
            ("Gunshots fire", "A gun is fired repeatedly"),
            False,
            _fx(127, lambda r, s: sparse_hits(r, range(45, 70), s, (0.7, 2.0), 0.6)),
        ),
        EventClass(
            "piano", ("A piano plays", "Someone plays the piano"), False, _instrument("piano")
        ),
        EventClass(
            "guitar",
            ("A guitar is strummed", "An acoustic guitar plays"),
            False,
            _instrument("acoustic_guitar"),
        ),
        EventClass(
            "violin", ("A violin plays", "A fiddle is played"), False, _instrument("violin")
        ),
        EventClass("drums", ("Drums beat", "A drummer plays a beat"), False, _instrument("drum")),
        EventClass(
            "bell",
            ("A bell rings", "Church bells ring"),
            False,
            _fx(14, lambda r, s: sparse_hits(r, range(55, 75), s, (0.4, 1.0), 2.0)),
        ),
        EventClass(
            "whistle",
            ("Someone whistles a tune", "A person whistles"),
            False,
            _fx(78, lambda r, s: melody(r, 72, 96, s, legato=True)),
        ),
    ]
}

# how one clause joins the next, by their timing (each keeps split_caption's cuts)
_OVERLAP = (" while ", " as ", " and ")
_AFTER = (" and then ", ", then ", " before ", ", and later ")


def write_caption(phrases: Sequence[str], spans: Sequence[Tuple[float, float]], rng) -> str:
    """One caption for events in onset order: overlapping events join with "while", "as" or
    "and", later ones with "and then", "then", "before" or "and later".

    Examples:
        >>> write_caption(["A man speaks", "A phone rings"], [(0, 2), (3, 4)],
        ...               np.random.default_rng(1))
        'A man speaks, then a phone rings'
    """
    text = phrases[0]
    for k in range(1, len(phrases)):
        overlap = spans[k][0] < max(stop for _, stop in spans[:k])
        joiner = str(rng.choice(_OVERLAP if overlap else _AFTER))
        text += joiner + phrases[k][0].lower() + phrases[k][1:]
    return text


def _event_span(rng, background: bool, seconds: float) -> Tuple[float, float]:
    if background or rng.random() < 0.35:
        return 0.0, seconds
    length = rng.uniform(0.4, 0.8) * seconds
    start = rng.uniform(0, seconds - length)
    return float(start), float(start + length)


def render_clip(
    renderer: Renderer,
    rng: np.random.Generator,
    seconds: float,
    n_events: int,
    classes: Sequence[str],
) -> dict:
    """One natural mixture: ``n_events`` events of distinct classes with their spans.

    Returns:
        dict: ``events`` (n, T) scaled clean events summing to ``mixture`` (T,), ``labels``,
        ``phrases``, ``spans`` (seconds) and ``caption``, events in onset order.
    """
    sr = renderer.sample_rate
    n = int(round(seconds * sr))
    labels = [str(x) for x in rng.choice(list(classes), size=n_events, replace=False)]
    drawn = []
    for label in labels:
        event = EVENT_CLASSES[label]
        start, stop = _event_span(rng, event.background, seconds)
        wave = _normalise(event.make(renderer, rng, stop - start))
        ramp = min(int(0.02 * sr), len(wave) // 2)
        if ramp:  # no click where the event starts or stops
            fade = np.linspace(0, 1, ramp, dtype=np.float32)
            wave[:ramp] *= fade
            wave[-ramp:] *= fade[::-1]
        full = np.zeros(n, np.float32)
        a = int(round(start * sr))
        full[a : a + len(wave)] = wave[: n - a]
        gain = 10 ** (rng.uniform(-8, 0) / 20)  # foreground and background levels
        drawn.append((start, stop, label, str(rng.choice(event.phrases)), full * gain))
    drawn.sort(key=lambda d: (d[0], d[1]))
    events = np.stack([d[4] for d in drawn])
    peak = float(np.abs(events.sum(0)).max())
    if peak > 0.99:
        events *= 0.99 / peak
    phrases = [d[3] for d in drawn]
    spans = [(d[0], d[1]) for d in drawn]
    return {
        "events": events,
        "mixture": events.sum(0),
        "labels": [d[2] for d in drawn],
        "phrases": phrases,
        "spans": spans,
        "caption": write_caption(phrases, spans, rng),
    }


def write_rendered_audiocaps_layout(
    root: PathLike,
    n_clips: Optional[Dict[str, int]] = None,
    seconds: float = 4.0,
    sample_rate: int = 16000,
    seed: int = 0,
    classes: Optional[Sequence[str]] = None,
    max_events: int = 4,
    soundfont: Optional[PathLike] = None,
    progress: bool = True,
) -> Dict[str, str]:
    """Natural mixtures of 1 to ``max_events`` rendered events in AudioCaps' public layout,
    with their clean events kept for phrase-level scoring.

    Writes per split ``<root>/<split>.csv`` (``audiocap_id, youtube_id, start_time,
    caption``) and ``<root>/audio/<youtube_id>.wav``, and beside them what AudioCaps does not
    have: ``<root>/<split>_events.csv`` (``youtube_id, index, label, phrase, onset, offset,
    file``) and ``<root>/events/<youtube_id>_<index>.wav``; the events of a clip sum to it.

    Args:
        root: Dataset root to write.
        n_clips: Clips per split (default ``{"train": 400, "val": 40, "test": 100}``).
        seconds: Clip length.
        sample_rate: Rate in Hz.
        seed: Base seed (each split draws from its own stream: no shared clip).
        classes: Event classes (default: all of :data:`EVENT_CLASSES`).
        max_events: Most events per clip (at least 1; AudioCaps: 1 to 6).
        soundfont: GM soundfont (default: :func:`find_soundfont`).
        progress: Show a progress bar.

    Returns:
        dict: split -> caption CSV path.
    """
    classes = _known_classes(classes, EVENT_CLASSES, "event classes", "EVENT_CLASSES")
    if not 1 <= max_events <= len(classes):
        raise ValueError(f"max_events must be in [1, {len(classes)}], got {max_events}")
    check_tools(speech=any(c in ("man", "woman") for c in classes))
    n_clips = n_clips or {"train": 400, "val": 40, "test": 100}
    renderer = Renderer(sample_rate, soundfont)
    os.makedirs(root, exist_ok=True)
    paths = {}
    bar = _progress(sum(n_clips.values()), "rendering clips", progress)
    try:
        for s, split in enumerate(sorted(n_clips)):
            csv_path = os.path.join(root, f"{split}.csv")
            events_path = os.path.join(root, f"{split}_events.csv")
            with open(csv_path, "w", newline="") as f, open(events_path, "w", newline="") as g:
                captions, events = csv.writer(f), csv.writer(g)
                captions.writerow(["audiocap_id", "youtube_id", "start_time", "caption"])
                events.writerow(EVENTS_FIELDS)
                for i in range(n_clips[split]):
                    rng = np.random.default_rng([seed, s, i])
                    clip = render_clip(
                        renderer, rng, seconds, int(rng.integers(1, max_events + 1)), classes
                    )
                    yid = f"{split[:2]}{s}{i:05d}r"
                    _write(os.path.join(root, "audio", f"{yid}.wav"), clip["mixture"], sample_rate)
                    captions.writerow([f"{s}{i:05d}", yid, 30, clip["caption"]])
                    for k, (wave, label, phrase, (on, off)) in enumerate(
                        zip(clip["events"], clip["labels"], clip["phrases"], clip["spans"])
                    ):
                        name = f"events/{yid}_{k}.wav"
                        _write(os.path.join(root, name), wave, sample_rate)
                        events.writerow([yid, k, label, phrase, f"{on:.3f}", f"{off:.3f}", name])
                    bar.update()
            paths[split] = csv_path
    finally:
        bar.close()
        renderer.close()
    _write_info(root, "AudioCaps", renderer, seed, seconds, max_events=max_events)
    return paths


# ------------------------------------------------------------------------ solos (VGGSound)
# the event classes under VGGSound's own label strings (its 309 classes include these)
VGGSOUND_LABELS: Dict[str, str] = {
    "man": "male speech, man speaking",
    "woman": "female speech, woman speaking",
    "birds": "bird chirping, tweeting",
    "telephone": "telephone bell ringing",
    "helicopter": "helicopter",
    "applause": "applause",
    "waves": "sea waves",
    "gunshots": "machine gun shooting",
    "piano": "playing piano",
    "guitar": "playing acoustic guitar",
    "violin": "playing violin, fiddle",
    "drums": "playing drum kit",
    "bell": "church bell ringing",
    "whistle": "people whistling",
}


def write_rendered_vggsound_layout(
    root: PathLike,
    clips_per_class: int = 20,
    classes: Optional[Sequence[str]] = None,
    seconds: float = 8.0,
    sample_rate: int = 16000,
    seed: int = 0,
    test_fraction: float = 0.2,
    soundfont: Optional[PathLike] = None,
    progress: bool = True,
    frames: bool = False,
    fps: float = 2.0,
    frame_size: int = 64,
) -> str:
    """Single-event clips of the rendered event classes in VGGSound's public layout: a
    second labelled-solo dataset beside the MUSIC layout (general sounds, four of them
    instruments that MUSIC has too), for the paper's cross-dataset rows.

    Writes ``<root>/vggsound.csv`` (no header: ``youtube_id, start_seconds, label, split``,
    labels in VGGSound's wording, :data:`VGGSOUND_LABELS`), ``<root>/audio/<id>_<start:06d>.wav``
    (16-bit) and ``<root>/generator.json``. Clip ``v`` of class ``c`` depends only on
    ``(seed, c, v)`` and the soundfont, and never equals a MUSIC-layout recording of the
    same seed. The last ``test_fraction`` of each class's clips are the CSV's test split.

    With ``frames=True`` each clip also gets drawn frames of its class (as
    :func:`write_rendered_music_layout`) in ``<root>/frames/<label>/<id>_<start>/%06d.jpg``,
    under the CSV's label and the clip's ``video_id`` in
    :func:`~asteroid_wsas.data.vggsound.vggsound_clips`; the audio stays the same.

    Args:
        root: Dataset root to write.
        clips_per_class: Clips per class (train and test together).
        classes: Event classes (default: all of :data:`EVENT_CLASSES`, 14).
        seconds: Length of each clip.
        sample_rate: Rate in Hz.
        seed: Base seed.
        test_fraction: Share of each class's clips in the test split (at least one).
        soundfont: GM soundfont (default: :func:`find_soundfont`).
        progress: Show a progress bar.
        frames: Also write video frames.
        fps: Frames per second of the frames.
        frame_size: Side of the (square) frames in pixels.

    Returns:
        str: the CSV path.

    Raises:
        MissingTool: FluidSynth, a soundfont or espeak-ng is missing (with the install
            command).
        ValueError: unknown class, fewer than 2 clips per class or a bad test fraction.

    Examples:
        >>> write_rendered_vggsound_layout("data/vgg", 10, ["piano", "birds"])  # doctest: +SKIP
        'data/vgg/vggsound.csv'
    """
    classes = _known_classes(classes, EVENT_CLASSES, "event classes", "EVENT_CLASSES")
    if clips_per_class < 2 or seconds <= 0:
        raise ValueError(
            f"clips_per_class must be >= 2 and seconds > 0, got {clips_per_class}, {seconds}"
        )
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    check_tools(speech=any(c in ("man", "woman") for c in classes))
    n_test = min(max(int(round(test_fraction * clips_per_class)), 1), clips_per_class - 1)
    _check_frames(frames, fps, frame_size)
    renderer = Renderer(sample_rate, soundfont)
    path = os.path.join(root, "vggsound.csv")
    os.makedirs(root, exist_ok=True)
    bar = _progress(len(classes) * clips_per_class, "rendering clips", progress)
    try:
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            for label in classes:
                c = sorted(EVENT_CLASSES).index(label)  # stable per class whatever the subset
                for v in range(clips_per_class):
                    # a 4-part seed: a stream of its own (the MUSIC writer draws 3-part ones)
                    rng = np.random.default_rng([seed, 1, c, v])
                    wave = EVENT_CLASSES[label].make(renderer, rng, seconds)
                    wave = _normalise(wave, 0.1 * 10 ** (rng.uniform(-6, 0) / 20))
                    yid, start = f"{label[:4]}{v:03d}vgg", 10 * v
                    _write(os.path.join(root, "audio", f"{yid}_{start:06d}.wav"), wave, sample_rate)
                    if frames:  # a stream of their own: the audio stays the same
                        frame_rng = np.random.default_rng([seed, 1, c, v, 1])
                        write_video_frames(
                            root,
                            VGGSOUND_LABELS[label],
                            f"{yid}_{start}",
                            seconds,
                            fps,
                            frame_rng,
                            size=frame_size,
                        )
                    split = "test" if v >= clips_per_class - n_test else "train"
                    writer.writerow([yid, start, VGGSOUND_LABELS[label], split])
                    bar.update()
    finally:
        bar.close()
        renderer.close()
    extra = {}
    if frames:
        write_frames_info(root, fps)
        extra["frames"] = {"fps": fps, "size": frame_size}
    _write_info(root, "VGGSound", renderer, seed, seconds, **extra)
    return path
