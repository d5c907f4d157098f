"""Generated captioned sounds: natural-looking mixtures with captions, made offline.

Ten sound classes (beeps, hums, hisses, sirens, clicks, bells, chirps, drums, trickling
water, whistles), each drawn with random parameters, are mixed 1 to N at a time and
described by a caption made of one clause per source ("A bell rings while static noise
hisses"), the way AudioCaps captions describe natural mixtures. The clean sources come
along for evaluation and for the supervised baselines. Everything is deterministic given
``(seed, index)``: no file, no download.
"""

import json
import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .pictures import write_frames_info, write_video_frames

Generator = Callable[[np.random.Generator, int, int], np.ndarray]


@dataclass(frozen=True)
class SoundClass:
    """A synthetic sound class: its label, caption clauses and waveform generator."""

    label: str
    phrases: Sequence[str]
    generate: Generator  # (rng, sample_rate, n_samples) -> waveform


def _time(sr: int, n: int) -> np.ndarray:
    return np.arange(n) / sr


def _gate(rng, sr, n, on=(0.08, 0.25), off=(0.05, 0.3)) -> np.ndarray:
    """On/off envelope with 5 ms ramps, starting at a random phase."""
    env = np.zeros(n)
    pos = -int(rng.uniform(0, on[1] + off[1]) * sr)
    ramp = max(int(0.005 * sr), 1)
    while pos < n:
        length = int(rng.uniform(*on) * sr)
        seg = np.ones(length)
        seg[:ramp] = np.linspace(0, 1, min(ramp, length))
        seg[-ramp:] = np.linspace(1, 0, min(ramp, length))
        start, stop = max(pos, 0), min(pos + length, n)
        if stop > start:
            env[start:stop] = seg[start - pos : stop - pos]
        pos += length + int(rng.uniform(*off) * sr)
    return env


def _events(rng, sr, n, rate, make_event) -> np.ndarray:
    """Events at roughly ``rate`` per second (jittered), each ``make_event(rng)`` long.

    The first event starts in the first half of the clip, so no clip is silent.
    """
    out = np.zeros(n)
    period = sr / rate
    pos = rng.uniform(0, min(period, n / 2))
    while pos < n:
        event = make_event(rng)
        start = int(pos)
        stop = min(start + len(event), n)
        out[start:stop] += event[: stop - start]
        pos += period * rng.uniform(0.7, 1.3)
    return out


def beep(rng, sr, n):
    return np.sin(2 * np.pi * rng.uniform(1200, 2400) * _time(sr, n)) * _gate(rng, sr, n)


def hum(rng, sr, n):
    t = _time(sr, n)
    f0 = rng.uniform(55, 140)
    wave = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) / k for k in range(1, 8))
    return wave * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))


def hiss(rng, sr, n):
    white = rng.standard_normal(n + 1)
    return np.diff(white) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.2, 1) * _time(sr, n)))


def siren(rng, sr, n):
    t = _time(sr, n)
    center, depth, rate = rng.uniform(650, 1100), rng.uniform(200, 400), rng.uniform(0.4, 1.5)
    phase = 2 * np.pi * (center * t - depth / (2 * np.pi * rate) * np.cos(2 * np.pi * rate * t))
    return np.sin(phase)


def click(rng, sr, n):
    length = max(int(0.003 * sr), 2)

    def event(r):
        return r.standard_normal(length) * np.exp(-np.arange(length) / (length / 4))

    return _events(rng, sr, n, rng.uniform(5, 14), event)


def bell(rng, sr, n):
    f = rng.uniform(400, 900)
    decay = rng.uniform(0.25, 0.6)
    length = int(1.5 * sr)
    t = _time(sr, length)
    partials = [(1.0, 1.0), (2.76, 0.6), (5.4, 0.4), (8.93, 0.25)]
    strike = sum(a * np.sin(2 * np.pi * f * k * t) for k, a in partials) * np.exp(-t / decay)
    return _events(rng, sr, n, rng.uniform(0.8, 1.6), lambda r: strike)


def chirp(rng, sr, n):
    f_start, f_stop = rng.uniform(900, 1800), rng.uniform(3000, 5000)
    duration = rng.uniform(0.12, 0.3)
    t = _time(sr, int(duration * sr))
    sweep = np.sin(2 * np.pi * (f_start * t + (f_stop - f_start) / (2 * duration) * t**2))
    sweep *= np.hanning(len(t))
    return _events(rng, sr, n, rng.uniform(2, 4), lambda r: sweep)


def drum(rng, sr, n):
    f = rng.uniform(55, 110)
    t = _time(sr, int(0.35 * sr))
    hit = np.sin(2 * np.pi * f * t * (1 + 0.5 * np.exp(-t / 0.03))) * np.exp(-t / 0.08)
    return _events(rng, sr, n, rng.uniform(1.5, 3.5), lambda r: hit)


def water(rng, sr, n):
    length = int(0.02 * sr)
    t = _time(sr, length)

    def drop(r):
        return np.sin(2 * np.pi * r.uniform(1000, 4000) * t) * np.exp(-t / 0.004)

    return _events(rng, sr, n, rng.uniform(30, 70), drop)


def whistle(rng, sr, n):
    t = _time(sr, n)
    f = rng.uniform(2500, 3400)
    vibrato = 40 * np.sin(2 * np.pi * rng.uniform(4, 7) * t)
    phase = 2 * np.pi * np.cumsum(f + vibrato) / sr
    return np.sin(phase) * _gate(rng, sr, n, on=(0.3, 0.8), off=(0.1, 0.3))


SOUND_CLASSES: Dict[str, SoundClass] = {
    c.label: c
    for c in [
        SoundClass("beep", ("A high tone beeps", "An alarm beeps", "A device beeps"), beep),
        SoundClass("hum", ("A low hum drones", "A motor hums", "An engine idles"), hum),
        SoundClass("hiss", ("Static noise hisses", "Steam hisses"), hiss),
        SoundClass("siren", ("A siren wails", "An emergency siren wails"), siren),
        SoundClass("click", ("Something clicks rapidly", "A clock ticks"), click),
        SoundClass("bell", ("A bell rings", "A chime rings"), bell),
        SoundClass("chirp", ("A tone sweeps upward", "A bird chirps"), chirp),
        SoundClass("drum", ("A drum beats", "Someone knocks on a door"), drum),
        SoundClass("water", ("Water trickles", "Rain falls"), water),
        SoundClass("whistle", ("A whistle blows", "Someone whistles"), whistle),
    ]
}

CONNECTIVES = (" and ", " while ", " as ", ", then ", " and then ")


def make_caption(phrases: Sequence[str], rng: np.random.Generator) -> str:
    """Join one clause per source the way AudioCaps captions do.

    Examples:
        >>> make_caption(["A bell rings", "A drum beats"], np.random.default_rng(0))
        'A bell rings and then a drum beats'
    """
    parts = [phrases[0]] + [p[0].lower() + p[1:] for p in phrases[1:]]
    if len(parts) > 2:  # "A, b and c"
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    return parts[0] if len(parts) == 1 else parts[0] + str(rng.choice(CONNECTIVES)) + parts[1]


def render(label: str, rng: np.random.Generator, sample_rate: int, n_samples: int) -> np.ndarray:
    """One source of class ``label`` at unit RMS, float32."""
    wave = SOUND_CLASSES[label].generate(rng, sample_rate, n_samples)
    return (wave / (np.sqrt(np.mean(wave**2)) + 1e-8)).astype(np.float32)


class SyntheticCaptionedMixtures(Dataset):
    """Captioned mixtures of generated sounds, deterministic per index.

    Args:
        n_items: Number of items.
        min_sources: Fewest sources per mixture.
        max_sources: Most sources per mixture (distinct classes).
        seconds: Duration.
        sample_rate: Rate in Hz.
        seed: Base seed; item ``i`` uses the generator ``default_rng([seed, i])``.
        classes: Labels to draw from (default: all of :data:`SOUND_CLASSES`).

    Items are dicts with ``mixture`` :math:`(T,)`, ``sources`` :math:`(n, T)` (the scaled
    clean sources, summing to the mixture), ``labels``, ``phrases`` (one clause per source,
    in order) and ``caption``.

    Examples:
        >>> data = SyntheticCaptionedMixtures(4, seconds=1.0, seed=3)
        >>> item = data[0]
        >>> item["mixture"].shape, len(item["phrases"]) == len(item["labels"])
        (torch.Size([16000]), True)
    """

    def __init__(
        self,
        n_items: int,
        min_sources: int = 1,
        max_sources: int = 3,
        seconds: float = 2.0,
        sample_rate: int = 16000,
        seed: int = 0,
        classes: Optional[Sequence[str]] = None,
    ):
        self.classes = list(classes) if classes is not None else list(SOUND_CLASSES)
        unknown = [c for c in self.classes if c not in SOUND_CLASSES]
        if unknown:
            raise ValueError(f"classes: unknown sound classes {unknown}; see SOUND_CLASSES")
        if not 1 <= min_sources <= max_sources <= len(self.classes):
            raise ValueError(
                f"need 1 <= min_sources <= max_sources <= {len(self.classes)} classes, "
                f"got min_sources={min_sources}, max_sources={max_sources}"
            )
        if n_items < 0 or seconds <= 0 or sample_rate <= 0:
            raise ValueError("n_items must be >= 0, seconds and sample_rate > 0")
        self.n_items = int(n_items)
        self.min_sources, self.max_sources = int(min_sources), int(max_sources)
        self.sample_rate = int(sample_rate)
        self.n_samples = int(round(seconds * sample_rate))
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.n_items

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.n_items:
            raise IndexError(f"index {index} out of range for {self.n_items} items")
        rng = np.random.default_rng([self.seed, index])
        n_sources = int(rng.integers(self.min_sources, self.max_sources + 1))
        labels = [str(x) for x in rng.choice(self.classes, size=n_sources, replace=False)]
        gains = rng.uniform(0.5, 1.5, size=n_sources) * 0.1
        sources = np.stack(
            [
                g * render(lab, rng, self.sample_rate, self.n_samples)
                for g, lab in zip(gains, labels)
            ]
        )
        peak = np.abs(sources.sum(0)).max()
        if peak > 0.99:  # keep the mixture in [-1, 1]; same factor for every source
            sources *= 0.99 / peak
        phrases = [str(rng.choice(SOUND_CLASSES[lab].phrases)) for lab in labels]
        sources = sources.astype(np.float32)
        return {
            "mixture": torch.from_numpy(sources.sum(0)),
            "sources": torch.from_numpy(sources),
            "labels": labels,
            "phrases": phrases,
            "caption": make_caption(phrases, rng),
        }

    def captions(self) -> List[str]:
        """All captions (renders every item: use for vocabularies of small sets)."""
        return [self[i]["caption"] for i in range(len(self))]


# ---------------------------------------------------------------------------- public layouts
def _write(path: str, wave: np.ndarray, sample_rate: int) -> None:
    import soundfile as sf

    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, wave, sample_rate)


def write_audiocaps_layout(
    root: str,
    n_clips: Dict[str, int] = None,
    seconds: float = 3.0,
    sample_rate: int = 16000,
    seed: int = 0,
    formats: Sequence[str] = ("wav",),
) -> Dict[str, str]:
    """Generated captioned clips in AudioCaps' public layout (tests, offline main job).

    Writes ``<root>/<split>.csv`` (``audiocap_id, youtube_id, start_time, caption``) and
    ``<root>/audio/<youtube_id>.<ext>``, formats cycling through ``formats``. Each split
    draws from its own seed, so no clip is shared between splits.

    Returns:
        dict: split -> CSV path.
    """
    import csv

    n_clips = n_clips or {"train": 40, "val": 8, "test": 8}
    paths = {}
    for s, (split, count) in enumerate(sorted(n_clips.items())):
        data = SyntheticCaptionedMixtures(
            count, seconds=seconds, sample_rate=sample_rate, seed=seed * 100 + s
        )
        csv_path = os.path.join(root, f"{split}.csv")
        os.makedirs(root, exist_ok=True)
        with open(csv_path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["audiocap_id", "youtube_id", "start_time", "caption"])
            for i in range(count):
                item = data[i]
                yid = f"{split[:2]}{s}{i:05d}x"
                ext = formats[i % len(formats)]
                _write(
                    os.path.join(root, "audio", f"{yid}.{ext}"),
                    item["mixture"].numpy(),
                    sample_rate,
                )
                writer.writerow([f"{s}{i:05d}", yid, 30, item["caption"]])
        paths[split] = csv_path
    return paths


def write_music_layout(
    root: str,
    videos_per_class: int = 6,
    classes: Optional[Sequence[str]] = None,
    seconds: float = 3.0,
    sample_rate: int = 16000,
    seed: int = 0,
    frames: bool = False,
    fps: float = 2.0,
    frame_size: int = 64,
) -> str:
    """Generated solos in MUSIC's public layout: ``<root>/MUSIC_solo_videos.json`` and
    ``<root>/audio/<class>/<id>.wav`` (generated sound classes play the instruments).

    With ``frames=True`` each solo also gets video frames, drawn pictures of its class
    (:mod:`~asteroid_wsas.data.pictures`, not real video), in
    ``<root>/frames/<class>/<id>/%06d.jpg`` at ``fps``, with ``<root>/frames/info.json``:
    what :class:`~asteroid_wsas.data.frames.FrameStore` reads. They come from a random
    stream of their own, so the audio is the same with or without them.

    Args:
        root: Dataset root to write.
        videos_per_class: Solos per class.
        classes: Sound classes (default: all of :data:`SOUND_CLASSES`).
        seconds: Length of each solo.
        sample_rate: Rate in Hz.
        seed: Base seed; solo ``v`` of class ``c`` depends only on ``(seed, c, v)``.
        frames: Also write video frames.
        fps: Frames per second of the frames.
        frame_size: Side of the (square) frames in pixels.

    Returns:
        str: the JSON path.
    """
    classes = list(classes or SOUND_CLASSES)
    videos = {}
    for c, label in enumerate(classes):
        videos[label] = []
        for v in range(videos_per_class):
            rng = np.random.default_rng([seed, c, v])
            video_id = f"{label[:3]}{v:03d}"
            wave = 0.1 * render(label, rng, sample_rate, int(seconds * sample_rate))
            _write(os.path.join(root, "audio", label, f"{video_id}.wav"), wave, sample_rate)
            if frames:
                _write_frames(root, label, video_id, seconds, fps, frame_size, [seed, c, v])
            videos[label].append(video_id)
    if frames:
        write_frames_info(root, fps)
    path = os.path.join(root, "MUSIC_solo_videos.json")
    with open(path, "w") as f:
        json.dump({"videos": videos}, f, indent=1)
    return path


def _write_frames(
    root: str, label: str, video_id: str, seconds: float, fps: float, size: int, key: list
) -> None:
    # a stream apart from the audio's (a longer key): the audio stays what it was without
    write_video_frames(
        root, label, video_id, seconds, fps, np.random.default_rng([*key, 1]), size=size
    )


def write_vggsound_layout(
    root: str,
    clips_per_class: Dict[str, int] = None,
    classes: Optional[Sequence[str]] = None,
    seconds: float = 3.0,
    sample_rate: int = 16000,
    seed: int = 0,
    frames: bool = False,
    fps: float = 2.0,
    frame_size: int = 64,
) -> str:
    """Generated clips in VGGSound's public layout: ``<root>/vggsound.csv`` (no header:
    ``youtube_id, start_seconds, label, split``) and ``<root>/audio/<id>_<start:06d>.flac``.

    With ``frames=True`` each clip also gets drawn frames of its class in
    ``<root>/frames/<label>/<id>_<start>/%06d.jpg`` (the CSV's label, the clip's
    ``video_id`` in :func:`~asteroid_wsas.data.vggsound.vggsound_clips`), as
    :func:`write_music_layout` does; the audio is the same with or without them.

    Returns:
        str: the CSV path.
    """
    import csv

    clips_per_class = clips_per_class or {"train": 4, "test": 2}
    classes = list(classes or SOUND_CLASSES)
    path = os.path.join(root, "vggsound.csv")
    os.makedirs(root, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        for c, label in enumerate(classes):
            for split, count in sorted(clips_per_class.items()):
                for v in range(count):
                    key = [seed, c, v, len(split)]
                    rng = np.random.default_rng(key)
                    yid, start = f"{label[:3]}{split[:2]}{v:04d}", 10 * v
                    wave = 0.1 * render(label, rng, sample_rate, int(seconds * sample_rate))
                    _write(
                        os.path.join(root, "audio", f"{yid}_{start:06d}.flac"), wave, sample_rate
                    )
                    if frames:
                        _write_frames(
                            root, f"{label} sound", f"{yid}_{start}", seconds, fps, frame_size, key
                        )
                    writer.writerow([yid, start, f"{label} sound", split])
    if frames:
        write_frames_info(root, fps)
    return path
