"""Video frames of a dataset's recordings, and images given as queries.

Image-queried separators (CLIPSep-Img, Sound of Pixels, CoSep) look at frames of the video a
source was recorded with. :class:`FrameStore` finds the frames of one dataset's videos,
either extracted beforehand (as the CLIPSep and Sound-of-Pixels preprocessing writes them)
or in the video files themselves, and reads the frames of a clip's time span as square
uint8 images. :func:`load_image` turns a user's image (a file, a PIL image, an array) into
the same form.
"""

import json
import os
import re
import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from .audio import SkipCounter, UnreadableAudio

__all__ = [
    "UnreadableFrames",
    "MissingFrames",
    "FrameStore",
    "load_image",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "DEFAULT_FPS",
]

PathLike = Union[str, os.PathLike]

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png")
VIDEO_EXTENSIONS = ("mp4", "mkv", "webm", "avi", "mov")
# the rate at which the CLIPSep and Sound-of-Pixels scripts extract frames
DEFAULT_FPS = 8.0
# times like 0.3 * 10 land a hair below the integer in floating point: count them as there
_EPS = 1e-6


class UnreadableFrames(UnreadableAudio):
    """A video (or frame folder) that is missing, empty or cannot be decoded.

    A subclass of :class:`~asteroid_wsas.data.audio.UnreadableAudio`, so that a dataset that
    moves on to the next item when a file fails does the same for a bad video.
    """


class MissingFrames(UnreadableFrames, FileNotFoundError):
    """No frame folder and no video file for a recording (also a ``FileNotFoundError``)."""


def import_av():
    """The PyAV module, or an ImportError that says how to install it."""
    try:
        import av
    except ImportError as err:
        raise ImportError(
            "reading or writing video files needs PyAV: pip install av "
            "(or the extra: pip install 'asteroid-wsas[video]')"
        ) from err
    return av


def _natural_key(name: str) -> list:
    # "frame2.jpg" before "frame10.jpg"; zero-padded names sort as plain strings would
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _is_image(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in IMAGE_EXTENSIONS and not name.startswith(".")


def square_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Centre-crop uint8 images to a square and resize them to ``size`` x ``size``.

    Bilinear with antialiasing (so that downscaling does not alias), rounded back to uint8.

    Args:
        images: uint8 images.
        size: Side of the output.

    Returns:
        torch.Tensor: uint8, the input's leading dimensions and ``(size, size)``.

    Shape:
        - images: :math:`(..., 3, H, W)`
        - output: :math:`(..., 3, size, size)`
    """
    h, w = images.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    images = images[..., top : top + side, left : left + side]
    if side == size:
        return images.contiguous()
    lead = images.shape[:-3]
    flat = images.reshape(-1, *images.shape[-3:]).float()
    out = F.interpolate(flat, size=(size, size), mode="bilinear", antialias=True)
    return out.round_().clamp_(0, 255).to(torch.uint8).reshape(*lead, 3, size, size)


@dataclass(frozen=True)
class _Source:
    """Where the frames of one video are: a folder of images or a video file."""

    path: str
    files: Optional[Tuple[str, ...]] = None  # the sorted images; None for a video file


class FrameStore:
    """Frames of one dataset's videos, read as square uint8 images.

    Two layouts are accepted under the dataset ``root``; for each video the first one found
    in this order wins:

    1. Frames extracted beforehand, as the CLIPSep and Sound-of-Pixels preprocessing writes
       them: ``<root>/frames/<class>/<video_id>/`` or ``<root>/frames/<class>/<video_id>.mp4/``
       (Sound of Pixels names the folder after the video file; any extension of
       :data:`VIDEO_EXTENSIONS` is accepted), holding ``*.jpg``, ``*.jpeg`` or ``*.png``.
       The frames are sorted by file name (numbers compared as numbers) and frame ``k``
       shows time ``k / fps``. A folder without images does not count.
    2. Video files: ``<root>/video/<class>/<video_id>.<ext>`` or
       ``<root>/videos/<class>/<video_id>.<ext>`` with ``ext`` one of mp4, mkv, webm, avi,
       mov, decoded with PyAV (``pip install av``); times come from the container's own
       time stamps, counted from the video stream's start.
    3. The same without class folders, as VGGSound's downloads come
       (``<root>/frames/<video_id>/``, ``<root>/video/<video_id>.mp4``, e.g. a VGGSound id
       ``<youtube_id>_<start>``).

    The folder listing of each video is made once and kept, so repeated reads list nothing.

    Args:
        root: The dataset root (the folder holding ``frames/`` or ``video/``).
        fps: Frame rate of the extracted frames. Default: ``fps`` of
            ``<root>/frames/info.json`` (``{"fps": 8}``) when that file exists, else 8, the
            rate of the CLIPSep and Sound-of-Pixels extraction. Video files ignore it.
        size: Side of the square frames returned.

    Examples:
        >>> store = FrameStore("/no/such/root")
        >>> store.has("violin", "abc"), store.fps
        (False, 8.0)
    """

    def __init__(self, root: PathLike, fps: Optional[float] = None, size: int = 224):
        if int(size) != size or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        self.root = os.fspath(root)
        self.size = int(size)
        self.fps = float(fps) if fps is not None else self._info_fps()
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be positive, got {self.fps}")
        self._sources: Dict[Tuple[str, str], Optional[_Source]] = {}
        # videos that failed to decode: put aside for the rest of the run, as bad audio is
        self.bad_videos: Set[Tuple[str, str]] = set()
        self.load_failures = 0

    def _info_fps(self) -> float:
        path = os.path.join(self.root, "frames", "info.json")
        if not os.path.isfile(path):
            return DEFAULT_FPS
        try:
            with open(path, encoding="utf-8") as f:
                fps = float(json.load(f)["fps"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f'{path}: expected {{"fps": <frames per second>}}') from err
        return fps

    def _candidates(self, label: str, video_id: str) -> List[Tuple[str, bool]]:
        """(path, is a frame folder) of every place the video's frames could be, in order."""
        folder = os.path.join(self.root, "frames", label)
        places = [(os.path.join(folder, video_id), True)]
        places += [(os.path.join(folder, f"{video_id}.{ext}"), True) for ext in VIDEO_EXTENSIONS]
        for videos in ("video", "videos"):
            base = os.path.join(self.root, videos, label, video_id)
            places += [(f"{base}.{ext}", False) for ext in VIDEO_EXTENSIONS]
        # without class folders, as VGGSound's downloads and frame dumps come: last, so that
        # a class folder wins
        places.append((os.path.join(self.root, "frames", video_id), True))
        for videos in ("video", "videos"):
            base = os.path.join(self.root, videos, video_id)
            places += [(f"{base}.{ext}", False) for ext in VIDEO_EXTENSIONS]
        return places

    def _source(self, label: str, video_id: str) -> Optional[_Source]:
        key = (label, video_id)
        if key not in self._sources:
            self._sources[key] = self._find(label, video_id)
        return self._sources[key]

    def _find(self, label: str, video_id: str) -> Optional[_Source]:
        for path, is_folder in self._candidates(label, video_id):
            if is_folder and os.path.isdir(path):
                files = sorted((f for f in os.listdir(path) if _is_image(f)), key=_natural_key)
                if files:
                    return _Source(path, tuple(files))
            elif not is_folder and os.path.isfile(path):
                return _Source(path)
        return None

    def locate(self, label: str, video_id: str) -> Optional[str]:
        """The frame folder or video file of a recording, or None when there is none."""
        source = self._source(label, video_id)
        return source.path if source else None

    def has(self, label: str, video_id: str) -> bool:
        """Whether a recording has a frame folder with images or a video file.

        Only looks for the files: a corrupt video is found here and fails in :meth:`read`.
        """
        return self._source(label, video_id) is not None

    def times(self, start: float, seconds: float, n_frames: int = 1) -> np.ndarray:
        """The times (s) :meth:`read` shows: centres of ``n_frames`` equal parts of
        ``[start, start + seconds]``.

        Examples:
            >>> FrameStore("/none").times(1.0, 2.0, 4).tolist()
            [1.25, 1.75, 2.25, 2.75]
        """
        if int(n_frames) != n_frames or n_frames < 1:
            raise ValueError(f"n_frames must be a positive integer, got {n_frames!r}")
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        return start + (np.arange(int(n_frames)) + 0.5) * (seconds / n_frames)

    def read(
        self, label: str, video_id: str, start: float, seconds: float, n_frames: int = 1
    ) -> torch.Tensor:
        """Frames of a recording's span ``[start, start + seconds]`` (s).

        Frame ``i`` shows the centre of the span's ``i``-th of ``n_frames`` equal parts
        (:meth:`times`): extracted frame ``floor(t * fps)``, or the last video frame whose
        time stamp is at most ``t``; times past the end show the last frame, times before
        the start the first. Each frame is centre-cropped to a square and resized to
        ``size`` (bilinear, antialiased).

        Args:
            label: The recording's class (its folder).
            video_id: The recording's id.
            start: Start of the span in seconds.
            seconds: Length of the span (0 for the frame at ``start``).
            n_frames: Frames to return.

        Returns:
            torch.Tensor: uint8 RGB frames.

        Shape:
            - output: :math:`(n\\_frames, 3, size, size)`

        Raises:
            MissingFrames: No frame folder or video (the message lists where it looked).
            UnreadableFrames: The video or an image does not decode, or holds no frame.
        """
        times = self.times(start, seconds, n_frames)
        source = self._source(label, video_id)
        if source is None:
            raise MissingFrames(
                f"no frames of {label}/{video_id} in {self.root}: no images in "
                f"frames/{label}/{video_id}/ (or {video_id}.mp4/, ...) and no video file "
                f"video/{label}/{video_id}.mp4 (or videos/, .mkv, .webm, .avi, .mov)"
            )
        key = (label, video_id)
        if key in self.bad_videos:
            raise UnreadableFrames(f"{source.path}: put aside after it failed to decode")
        try:
            if source.files is not None:
                images = self._read_images(source, times)
            else:
                images = self._read_video(source.path, times)
        except UnreadableFrames as err:
            self.bad_videos.add(key)
            self.load_failures += 1
            if self.load_failures == 1:
                warnings.warn(
                    f"{err}; this video is skipped from now on (FrameStore.load_failures "
                    "counts such videos)"
                )
            raise
        return square_resize(torch.stack(images), self.size)

    def _read_images(self, source: _Source, times: np.ndarray) -> List[torch.Tensor]:
        last = len(source.files) - 1
        indices = [min(max(int(np.floor(t * self.fps + _EPS)), 0), last) for t in times]
        decoded: Dict[int, torch.Tensor] = {}
        for index in set(indices):
            path = os.path.join(source.path, source.files[index])
            try:
                with Image.open(path) as image:
                    array = np.asarray(image.convert("RGB"))
            except (OSError, UnidentifiedImageError, ValueError) as err:
                raise UnreadableFrames(f"{path}: {err}") from err
            decoded[index] = torch.from_numpy(array.copy()).permute(2, 0, 1)
        shapes = {tuple(d.shape) for d in decoded.values()}
        if len(shapes) > 1:  # a mix of resolutions cannot be stacked before cropping
            decoded = {i: square_resize(d, self.size) for i, d in decoded.items()}
        return [decoded[i] for i in indices]

    def _read_video(self, path: str, times: np.ndarray) -> List[torch.Tensor]:
        av = import_av()
        order = np.argsort(times, kind="stable")
        picked: List[Optional[np.ndarray]] = [None] * len(times)
        converted = (None, None)  # the last frame turned into an array, and that array

        def rgb(frame) -> np.ndarray:
            nonlocal converted
            if converted[0] is not frame:
                converted = (frame, frame.to_ndarray(format="rgb24"))
            return converted[1]

        try:
            with av.open(path) as container:
                if not container.streams.video:
                    raise UnreadableFrames(f"{path}: no video stream")
                stream = container.streams.video[0]
                origin = stream.start_time or 0
                first = float(times[order[0]])
                if first > 0 and stream.time_base is not None:
                    # to the key frame at or before the first time (PyAV flushes the decoder)
                    container.seek(
                        int(first / stream.time_base) + origin, stream=stream, backward=True
                    )
                pending, previous = 0, None
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    time = float((frame.pts - origin) * (frame.time_base or stream.time_base))
                    while pending < len(order) and times[order[pending]] + _EPS < time:
                        # the last frame at or before this time (the first if none is)
                        picked[order[pending]] = rgb(previous if previous is not None else frame)
                        pending += 1
                    if pending == len(order):
                        break
                    previous = frame
                if pending < len(order):
                    if previous is None:
                        raise UnreadableFrames(f"{path}: no frame decoded")
                    for i in order[pending:]:  # past the end: the last frame
                        picked[i] = rgb(previous)
        except UnreadableFrames:
            raise
        except (av.FFmpegError, OSError, ValueError, IndexError) as err:
            raise UnreadableFrames(f"{path}: {err}") from err
        return [torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1) for a in picked]

    def check(self, entries: Sequence, dataset: str = "video frames", decode: bool = False) -> list:
        """The entries whose recordings have frames; the others are left out and counted.

        One warning gives the count and reasons, as the datasets do for missing audio, e.g.
        ``MUSIC train frames: skipped 3 of 536 entries (3 missing frames)``.

        Args:
            entries: Objects with ``.label`` and ``.video_id`` (e.g.
                :class:`~asteroid_wsas.data.mixing.SoloEntry`).
            dataset: Name in the warning.
            decode: Also decode the first frame of each (finds corrupt videos; slow for
                long video files).

        Returns:
            list: The entries kept, in order.
        """
        skips = SkipCounter(dataset)
        kept = []
        for entry in entries:
            what = f"{entry.label}/{entry.video_id}"
            if not self.has(entry.label, entry.video_id):
                skips.skip(what, "missing frames")
                continue
            if decode:
                try:
                    self.read(entry.label, entry.video_id, 0.0, 0.0)
                except UnreadableFrames:
                    skips.skip(what, "unreadable frames")
                    continue
            kept.append(entry)
        skips.report(len(entries))
        return kept

    def __repr__(self) -> str:
        return f"FrameStore({self.root!r}, fps={self.fps}, size={self.size})"


def _from_array(array: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 from a uint8 or [0, 1] float array, after checking it."""
    if array.dtype == np.bool_ or not (
        array.dtype == np.uint8 or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"image: expected uint8 or float values in [0, 1], got {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3 or 0 in array.shape:
        raise ValueError(f"image: expected an (H, W, 3) or (H, W) image, got shape {array.shape}")
    if array.dtype != np.uint8:
        if not np.isfinite(array).all():
            raise ValueError("image: NaN or infinite values")
        if array.min() < 0 or array.max() > 1:
            raise ValueError(
                f"image: float values must be in [0, 1], got [{array.min():g}, {array.max():g}]"
            )
        array = np.round(array.astype(np.float64) * 255).astype(np.uint8)
    return array


def load_image(image, size: Optional[int] = None) -> torch.Tensor:
    """An image query as a uint8 RGB tensor.

    Args:
        image: One of
            - a path (``str`` or ``os.PathLike``) of a file Pillow can open;
            - a PIL image (any mode: converted to RGB);
            - a numpy array ``(H, W, 3)`` or ``(H, W)`` (grey), uint8 or float in [0, 1];
            - a torch tensor ``(3, H, W)`` or ``(H, W, 3)`` (or ``(H, W)``), uint8 or float
              in [0, 1]; a shape that reads both ways is taken as ``(3, H, W)``.
        size: Centre-crop to a square and resize to ``size`` x ``size`` (bilinear,
            antialiased, as :class:`FrameStore`); None keeps the image as it is.

    Returns:
        torch.Tensor: uint8 RGB image.

    Shape:
        - output: :math:`(3, H, W)`, or :math:`(3, size, size)` with ``size``

    Raises:
        FileNotFoundError: A path that does not exist.
        ValueError: An unreadable file, a wrong shape, NaN or floats outside [0, 1].
        TypeError: Anything else (another type, an integer dtype other than uint8).

    Examples:
        >>> load_image(np.zeros((4, 6, 3), np.uint8), size=2).shape
        torch.Size([3, 2, 2])
    """
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"image: no such file {path}")
        try:
            with Image.open(path) as opened:
                array = np.asarray(opened.convert("RGB")).copy()
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise ValueError(f"image: cannot read {path} as an image ({err})") from err
    elif isinstance(image, Image.Image):
        array = np.asarray(image.convert("RGB")).copy()
    elif isinstance(image, np.ndarray):
        array = _from_array(image)
    elif isinstance(image, torch.Tensor):
        tensor = image.detach().cpu()
        if tensor.ndim == 3 and tensor.shape[0] == 3:
            tensor = tensor.permute(1, 2, 0)
        if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16
            tensor = tensor.float()
        array = _from_array(tensor.numpy())
    else:
        raise TypeError(
            "image: expected a path, a PIL image, a numpy array or a torch tensor, "
            f"got {type(image).__name__}"
        )
    out = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous()
    if size is not None:
        if int(size) != size or size < 1:
            raise ValueError(f"size must be a positive integer or None, got {size!r}")
        out = square_resize(out, int(size))
    return out
