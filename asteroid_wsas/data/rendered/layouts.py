"""The three public layouts written from rendered sounds: MUSIC's, AudioCaps' and VGGSound's.

Each writer checks its arguments before rendering (which takes minutes), draws every
recording from a random stream of its own seed, and records what rendered the data in
``<root>/generator.json``.
"""

import csv
import hashlib
import json
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..audiocaps import EVENTS_FIELDS
from ..pictures import write_frames_info, write_video_frames
from .events import EVENT_CLASSES, render_clip
from .instruments import INSTRUMENTS
from .synth import PathLike, Renderer, _normalise, check_tools


def _file_digest(path: str) -> str:
    """Short fingerprint of a soundfont (size + first MiB) to record what rendered the data."""
    h = hashlib.sha1(str(os.path.getsize(path)).encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
    return h.hexdigest()[:12]


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


def _frames_info(root: PathLike, frames: bool, fps: float, frame_size: int) -> Dict:
    """Write ``<root>/frames/info.json`` when frames were drawn; what generator.json adds."""
    if not frames:
        return {}
    write_frames_info(root, fps)
    return {"frames": {"fps": fps, "size": frame_size}}


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
    _write_info(
        root, "MUSIC", renderer, seed, seconds, **_frames_info(root, frames, fps, frame_size)
    )
    return path


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
    _write_info(
        root, "VGGSound", renderer, seed, seconds, **_frames_info(root, frames, fps, frame_size)
    )
    return path
