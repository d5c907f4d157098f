"""Drawn pictures of sound classes: stand-in video frames for the offline data.

The generated datasets have no camera, but image-queried separators need a picture of
what makes each sound. Each class gets a scene of its own, fixed by its label (a shape
kind, a hue and a second, smaller mark beside it), and each video draws its own version
of that scene (position, scale, a little colour and brightness jitter, background colour
and texture, pixel noise) that moves slowly over time. So a class can be told from its
pictures, but no class is one constant image, much like frames of different videos of
one instrument.
"""

import colorsys
import hashlib
import json
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Optional, Union

import numpy as np
from PIL import Image, ImageDraw

from .frames import import_av

__all__ = [
    "SHAPES",
    "MARKS",
    "Scene",
    "scene",
    "video_style",
    "draw_frame",
    "write_video_frames",
    "write_frames_info",
    "write_video",
    "frame_count",
]

PathLike = Union[str, os.PathLike]

SHAPES = ("disc", "ring", "square", "triangle", "cross", "stripes", "star", "bars")
MARKS = ("dot", "box", "hoop", "line")
# drawn at twice the size and scaled down: smooth edges without an antialiasing renderer
_SUPERSAMPLE = 2


@dataclass(frozen=True)
class Scene:
    """What every picture of a class shows: a shape and a mark beside it, in set hues."""

    shape: str
    hue: float
    mark: str
    mark_hue: float
    angle: float  # the shape's turn (radians)
    mark_angle: float  # direction of the mark from the shape's centre (radians)
    saturation: float
    value: float


def scene(label: str) -> Scene:
    """The class's scene, a deterministic function of the label (a SHA-256 of it).

    Examples:
        >>> scene("violin") == scene("violin"), scene("violin") == scene("cello")
        (True, False)
    """
    digest = hashlib.sha256(label.encode("utf-8")).digest()

    def unit(i: int) -> float:  # a number in [0, 1) from two bytes of the digest
        return int.from_bytes(digest[i : i + 2], "big") / 65536

    hue = unit(0)
    return Scene(
        shape=SHAPES[digest[2] % len(SHAPES)],
        hue=hue,
        mark=MARKS[digest[3] % len(MARKS)],
        mark_hue=(hue + 0.25 + 0.5 * unit(4)) % 1.0,  # well away from the shape's hue
        angle=2 * np.pi * unit(12),
        mark_angle=2 * np.pi * unit(6),
        saturation=0.75 + 0.25 * unit(8),
        value=0.8 + 0.2 * unit(10),
    )


def video_style(label: str, rng: np.random.Generator) -> dict:
    """One video's version of the class's scene (what stays fixed over its frames).

    Args:
        label: The class.
        rng: Draws the video's position, scale, colour jitter, background, texture,
            motion and noise level.

    Returns:
        dict: Pass it as ``style`` to :func:`draw_frame` for every frame of the video.
    """
    return {
        "label": label,
        "centre": rng.uniform(0.4, 0.6, size=2),  # fraction of the side
        "scale": float(rng.uniform(0.8, 1.1)),
        "angle": float(rng.uniform(-0.3, 0.3)),  # about the class's own turn
        "hue_jitter": float(rng.uniform(-0.03, 0.03)),
        "brightness": float(rng.uniform(0.8, 1.0)),
        # muted backgrounds, so that the class's saturated colours stand out
        "background": (
            float(rng.uniform(0, 1)),
            float(rng.uniform(0.05, 0.2)),
            float(rng.uniform(0.38, 0.55)),
        ),
        "texture": str(rng.choice(["gradient", "checker", "blotches"])),
        "texture_strength": float(rng.uniform(0.04, 0.15)),
        "texture_angle": float(rng.uniform(0, 2 * np.pi)),
        "texture_period": float(rng.uniform(0.15, 0.4)),
        "blotches": rng.uniform(0, 1, size=(4, 3)),  # x, y, radius of soft spots
        "motion": float(rng.uniform(0.03, 0.08)),  # radius of the drift, fraction of side
        "speed": float(rng.uniform(0.4, 1.0)) * float(rng.choice([-1, 1])),  # rad/s
        "phase": float(rng.uniform(0, 2 * np.pi)),
        "spin": float(rng.uniform(-0.2, 0.2)),  # rad/s
        "noise": float(rng.uniform(2.0, 8.0)),  # std of the pixel noise (of 255)
    }


def _rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value)) * 255


def _background(style: dict, size: int) -> np.ndarray:
    """(size, size, 3) float background: a muted colour and a soft texture."""
    base = _rgb(*style["background"])
    y, x = np.mgrid[0:size, 0:size] / size
    kind, strength = style["texture"], style["texture_strength"]
    if kind == "gradient":
        a = style["texture_angle"]
        shade = (np.cos(a) * (x - 0.5) + np.sin(a) * (y - 0.5)) * 2
    elif kind == "checker":
        period = style["texture_period"]
        shade = np.where((np.floor(x / period) + np.floor(y / period)) % 2 == 0, 0.5, -0.5)
    else:
        shade = -0.5 + sum(
            np.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * (0.05 + 0.15 * br) ** 2))
            for bx, by, br in style["blotches"]
        )
    return base[None, None, :] * (1 + strength * shade[:, :, None])


def _turn(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def _star(n: int, inner: float) -> np.ndarray:
    a = np.pi / n * np.arange(2 * n) - np.pi / 2
    r = np.where(np.arange(2 * n) % 2 == 0, 1.0, inner)
    return np.stack([r * np.cos(a), r * np.sin(a)], axis=1)


def _shape_mask(kind: str, centre, radius: float, angle: float, t: float, side: int):
    """An 'L' image with ``kind`` drawn in white (255) on black."""
    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    cx, cy = centre

    def polygon(points: np.ndarray) -> None:
        xy = _turn(points, angle) * radius + np.array([cx, cy])
        draw.polygon([tuple(p) for p in xy], fill=255)

    def box(x0, y0, x1, y1) -> None:
        polygon(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float))

    def ellipse(r: float, fill: int) -> None:
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)

    if kind in ("disc", "dot"):
        ellipse(radius, 255)
    elif kind in ("ring", "hoop"):
        ellipse(radius, 255)
        ellipse(0.6 * radius, 0)
    elif kind in ("square", "box"):
        box(-0.8, -0.8, 0.8, 0.8)
    elif kind == "triangle":
        polygon(_star(3, 1.0)[::2] + np.array([0.0, 0.15]))
    elif kind == "cross":
        box(-1, -0.3, 1, 0.3)
        box(-0.3, -1, 0.3, 1)
    elif kind == "stripes":
        for k in (-1, 0, 1):
            box(-0.9, 0.6 * k - 0.17, 0.9, 0.6 * k + 0.17)
    elif kind == "star":
        polygon(_star(5, 0.45))
    elif kind == "bars":  # an equaliser: bar heights pulse slowly over time
        for k, (height, rate) in enumerate(((0.6, 1.3), (1.0, 0.9), (0.45, 1.7), (0.8, 1.1))):
            h = height * (0.85 + 0.15 * np.sin(rate * t + k))
            x0 = -1 + 0.52 * k
            box(x0, 1 - 2 * h, x0 + 0.4, 1)
    elif kind == "line":
        box(-1, -0.22, 1, 0.22)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    return mask


def draw_frame(
    label: str,
    rng: np.random.Generator,
    size: int = 64,
    t: float = 0.0,
    style: Optional[dict] = None,
) -> np.ndarray:
    """A picture of class ``label`` at time ``t`` (s) of a video.

    The class fixes the scene (:func:`scene`); ``style`` fixes the video's version of it
    (:func:`video_style`; drawn from ``rng`` when None). Over time the shape drifts on a
    small circle and turns slowly (a few pixels per second). ``rng`` also draws the
    frame's pixel noise, so the same generator state gives the same picture.

    Args:
        label: The sound class.
        rng: Random generator.
        size: Side of the picture in pixels.
        t: Time in the video (s).
        style: The video's style; pass the same one for every frame of a video.

    Returns:
        np.ndarray: uint8 RGB picture.

    Shape:
        - output: :math:`(size, size, 3)`

    Examples:
        >>> draw_frame("violin", np.random.default_rng(0), size=32).shape
        (32, 32, 3)
    """
    if int(size) != size or size < 4:
        raise ValueError(f"size must be an integer >= 4, got {size!r}")
    size = int(size)
    look = scene(label)
    style = video_style(label, rng) if style is None else style
    side = size * _SUPERSAMPLE
    swing = style["speed"] * t + style["phase"]
    radius = 0.27 * style["scale"] * side
    towards = np.array([np.cos(look.mark_angle), np.sin(look.mark_angle)])
    # the shape and its mark are centred together, so that the mark stays in the picture
    group = style["centre"] + style["motion"] * np.array([np.cos(swing), np.sin(swing)])
    centre = group * side - 0.6 * radius * towards
    bob = 0.15 * np.sin(0.8 * swing)  # the mark sways around the shape
    mark_at = centre + 1.6 * radius * np.array(
        [np.cos(look.mark_angle + bob), np.sin(look.mark_angle + bob)]
    )
    angle = look.angle + style["angle"] + style["spin"] * t
    image = np.kron(
        _background(style, size), np.ones((_SUPERSAMPLE, _SUPERSAMPLE, 1))
    )  # the texture is smooth: compute it small, repeat its pixels

    def paint(kind, where, r, hue):
        colour = _rgb(
            hue + style["hue_jitter"],
            look.saturation,
            min(look.value * style["brightness"], 1.0),
        )
        mask = _shape_mask(kind, where.tolist(), r, angle, t, side)
        alpha = np.asarray(mask, dtype=float)[..., None] / 255
        return image * (1 - alpha) + colour * alpha

    image = paint(look.shape, centre, radius, look.hue)
    image = paint(look.mark, mark_at, 0.6 * radius, look.mark_hue)
    small = image.reshape(size, _SUPERSAMPLE, size, _SUPERSAMPLE, 3).mean(axis=(1, 3))
    small = small + rng.normal(0.0, style["noise"], size=small.shape)
    return np.clip(np.round(small), 0, 255).astype(np.uint8)


def frame_count(seconds: float, fps: float) -> int:
    """Frames of a video of ``seconds`` at ``fps`` (frame ``k`` at ``k / fps``; at least 1).

    Examples:
        >>> frame_count(3.0, 2.0), frame_count(0.2, 2.0)
        (6, 1)
    """
    if not (seconds > 0 and fps > 0):
        raise ValueError(f"seconds and fps must be positive, got {seconds}, {fps}")
    return max(int(np.ceil(seconds * fps - 1e-9)), 1)


def write_video(
    path: PathLike, frames: Iterable[np.ndarray], fps: float, codec: Optional[str] = None
) -> str:
    """Encode uint8 RGB frames ``(H, W, 3)`` to a video file with PyAV.

    Frame ``k`` gets time stamp ``k / fps``. The codec is H.264 (libx264) when the PyAV
    build has it, else MPEG-4 part 2 (``mpeg4``, in every FFmpeg build).

    Args:
        path: Output file (its extension picks the container, e.g. ``.mp4``).
        frames: The frames, all of one even height and width (yuv420p needs even sides).
        fps: Frames per second.
        codec: Force an encoder name (e.g. ``"mpeg4"``).

    Returns:
        str: ``path``.
    """
    av = import_av()
    path = os.fspath(path)
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if codec is None:
        codec = "mpeg4"
        for name in ("libx264", "h264"):
            try:
                av.codec.Codec(name, "w")
            except Exception:  # PyAV raises different types across versions for "no codec"
                continue
            codec = name
            break
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with av.open(path, "w") as container:
        stream = None
        for k, frame in enumerate(frames):
            frame = np.ascontiguousarray(frame, dtype=np.uint8)
            if frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(f"frames must be (H, W, 3) uint8, got shape {frame.shape}")
            if stream is None:
                h, w = frame.shape[:2]
                if h % 2 or w % 2:
                    raise ValueError(f"frames need an even height and width, got {h} x {w}")
                stream = container.add_stream(codec, rate=rate)
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                if codec == "mpeg4":  # its default bit rate smears small frames
                    stream.bit_rate = 4_000_000
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = k
            for packet in stream.encode(picture):
                container.mux(packet)
        if stream is None:
            raise ValueError("frames: no frame to write")
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_video_frames(
    root: PathLike,
    label: str,
    video_id: str,
    seconds: float,
    fps: float,
    rng: np.random.Generator,
    size: int = 64,
    video: bool = False,
) -> str:
    """Drawn frames of one generated video, in a layout :class:`~.frames.FrameStore` reads.

    Writes ``<root>/frames/<label>/<video_id>/%06d.jpg`` (frame ``k``, numbered from 0,
    shows time ``k / fps``) or, with ``video=True``, ``<root>/video/<label>/<video_id>.mp4``
    (needs PyAV). :func:`frame_count` frames cover ``seconds``. The video's style is drawn
    from ``rng`` first, then the frames' noise.

    Args:
        root: Dataset root.
        label: Sound class (the pictures' scene and the folder).
        video_id: The recording's id.
        seconds: Length of the recording.
        fps: Frames per second.
        rng: The video's random generator.
        size: Side of the frames (even, for ``video=True``).
        video: Write an mp4 instead of a folder of JPEGs.

    Returns:
        str: The folder or video file written.
    """
    n = frame_count(seconds, fps)
    style = video_style(label, rng)
    frames = (draw_frame(label, rng, size, k / fps, style) for k in range(n))
    if video:
        return write_video(os.path.join(root, "video", label, f"{video_id}.mp4"), frames, fps)
    folder = os.path.join(root, "frames", label, video_id)
    os.makedirs(folder, exist_ok=True)
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(os.path.join(folder, f"{k:06d}.jpg"), quality=90)
    return folder


def write_frames_info(root: PathLike, fps: float) -> str:
    """Write ``<root>/frames/info.json`` (``{"fps": fps}``), the frame folders' rate.

    Returns:
        str: The file written.
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    path = os.path.join(root, "frames", "info.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"fps": float(fps)}, f)
    return path
