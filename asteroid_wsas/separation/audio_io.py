"""Audio in and out of a separator: files, arrays and tensors in; WAV files out.

:func:`load_audio` reads what :meth:`Separator.separate
<asteroid_wsas.separation.separator.Separator.separate>` takes (any format libsndfile reads,
and more with PyAV); :func:`audio_files` finds the audio below a folder;
:class:`OutputFiles` writes estimates whole or not at all, in the sample format
:func:`output_subtype` picks.
"""

import contextlib
import math
import os
import warnings
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..utils import atomic_path
from .contract import ClippingWarning

__all__ = [
    "AudioLike",
    "AUDIO_EXTENSIONS",
    "WAV_SUBTYPES",
    "load_audio",
    "output_subtype",
    "audio_files",
    "OutputFiles",
    "FileWindows",
    "ResampledReader",
]

AudioLike = Union[str, os.PathLike, np.ndarray, torch.Tensor]


def load_audio(
    audio: AudioLike, sample_rate: Optional[int] = None
) -> Tuple[torch.Tensor, int, str, bool]:
    """Audio as a float32 tensor :math:`(C, T)`, its rate, and how the input was shaped.

    Args:
        audio: A file path (any format soundfile reads), or an array / tensor :math:`(T,)`
            or :math:`(C, T)` (channels first).
        sample_rate: The rate of an array or tensor (required for them).

    Returns:
        tuple: ``(wav, rate, kind, one_d)``: ``wav`` :math:`(C, T)`, its rate, ``kind``
        ``"file"``, ``"numpy"`` or ``"torch"``, and whether the input was 1-D.

    Raises:
        ValueError: Unreadable or empty file, missing rate, bad shape; the message names
            the argument.
    """
    import soundfile as sf

    if isinstance(audio, (str, os.PathLike)):
        path = os.fspath(audio)
        if not os.path.isfile(path):
            raise ValueError(f"audio file {path} not found")
        if os.path.getsize(path) == 0:
            raise ValueError(f"audio file {path} is empty")
        try:
            data, rate = sf.read(path, dtype="float32", always_2d=True)
            data = data.T
        except Exception as err:  # soundfile raises its own error types
            data, rate = _decode_with_av(path, err)
        if data.shape[1] == 0:
            raise ValueError(f"audio file {path} is empty")
        return torch.from_numpy(np.ascontiguousarray(data)), int(rate), "file", False
    if sample_rate is None:
        raise ValueError("sample_rate is required when audio is an array or a tensor")
    kind = "numpy" if isinstance(audio, np.ndarray) else "torch"
    wav = torch.as_tensor(audio).detach().float().cpu()
    one_d = wav.dim() == 1
    if one_d:
        wav = wav.unsqueeze(0)
    if wav.dim() != 2:
        raise ValueError(f"audio must be (time,) or (channels, time), got {tuple(wav.shape)}")
    if wav.shape[0] > 16 and wav.shape[1] <= 16:
        raise ValueError(
            f"audio of shape {tuple(wav.shape)} looks like (time, channels); pass it "
            "channels first, e.g. audio.T"
        )
    if wav.shape[-1] == 0:
        raise ValueError("audio is empty")
    if not torch.isfinite(wav).all():
        raise ValueError("audio holds NaN or infinite values")
    return wav, int(sample_rate), kind, one_d


def _decode_with_av(path: str, soundfile_error: Exception) -> Tuple[np.ndarray, int]:
    """Formats libsndfile does not read (AAC / M4A, Opus in WebM, video files' sound), decoded
    with PyAV when it is installed (``pip install av``, the ``video`` extra): float32
    ``(C, T)`` and the rate."""
    try:
        import av
    except ImportError:
        raise ValueError(
            f"audio file {path} is not readable audio ({soundfile_error}); for formats "
            "libsndfile does not read (m4a, webm, ...): pip install av"
        ) from None
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise ValueError("no audio stream")
            stream = container.streams.audio[0]
            # planar float at the stream's own rate and layout
            resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=stream.rate)
            blocks = []
            for frame in container.decode(stream):
                blocks += [f.to_ndarray() for f in resampler.resample(frame)]
            blocks += [f.to_ndarray() for f in resampler.resample(None)]
            rate = stream.rate
    except Exception as err:  # PyAV raises its own error types
        raise ValueError(f"audio file {path} is not readable audio ({err})") from None
    if not blocks:
        return np.zeros((1, 0), dtype=np.float32), rate
    return np.concatenate(blocks, axis=1).astype(np.float32), rate


# what a folder walk picks up: libsndfile's formats (not RAW or MATLAB files, which are
# rarely sound), their usual other extensions, and what PyAV decodes
AUDIO_EXTENSIONS = frozenset(
    "aif aifc aiff au avr caf flac htk ircam mp3 mpc2k nist oga ogg paf pvf rf64 sd2 sds snd "
    "svx voc w64 wav wave wavex wve xi m4a aac mp4 webm opus mka wma".split()
)
# WAV sample formats soundfile writes (the CLI's --subtype), float first
WAV_SUBTYPES = ("FLOAT", "DOUBLE", "PCM_16", "PCM_24", "PCM_32", "PCM_U8", "ULAW", "ALAW")


def output_subtype(requested: str, source: Any = None) -> str:
    """The WAV sample format of the outputs of ``source``.

    Args:
        requested: A :data:`WAV_SUBTYPES` entry, or ``"input"``: the input file's own
            format when WAV can hold it (a 16-bit FLAC gives 16-bit WAVs), else ``FLOAT``
            (MP3, Ogg, AAC, a stream or an array: their samples are no integers).
        source: The input: a path, an open ``soundfile.SoundFile``, or anything else.

    Returns:
        str: a :data:`WAV_SUBTYPES` entry.

    Examples:
        >>> output_subtype("PCM_24", "any.flac")
        'PCM_24'
        >>> output_subtype("input", None)
        'FLOAT'
    """
    import soundfile as sf

    if requested != "input":
        if requested not in WAV_SUBTYPES:
            raise ValueError(f"subtype must be input or one of {', '.join(WAV_SUBTYPES)}")
        return requested
    subtype = getattr(source, "subtype", None)
    if subtype is None and isinstance(source, (str, os.PathLike)):
        try:
            subtype = sf.info(os.fspath(source)).subtype
        except (RuntimeError, TypeError, OSError):  # a format soundfile does not read
            subtype = None
    if subtype == "PCM_S8":  # WAV keeps 8 bits unsigned
        subtype = "PCM_U8"
    return subtype if subtype in WAV_SUBTYPES else "FLOAT"


def audio_files(
    folder: Union[str, os.PathLike], exclude: Optional[Union[str, os.PathLike]] = None
) -> List[str]:
    """The audio files below ``folder``, recursively, sorted, by extension
    (:data:`AUDIO_EXTENSIONS`, any case).

    Hidden files and folders (``.name``: macOS' ``._song.wav`` are no audio) are left
    out, and so is ``exclude`` and what is below it (an output folder inside the input).

    Args:
        folder: Where to look.
        exclude: A folder to leave out.

    Returns:
        list: paths, starting with ``folder``.

    Examples:
        >>> audio_files("/no/such/folder")
        []
    """
    skip = os.path.realpath(exclude) if exclude is not None else None
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and os.path.realpath(os.path.join(root, d)) != skip
        )
        for name in sorted(files):
            ext = os.path.splitext(name)[1][1:].lower()
            if not name.startswith(".") and ext in AUDIO_EXTENSIONS:
                found.append(os.path.join(root, name))
    return found


class OutputFiles:
    """WAV files written under a temporary name beside each (``.<name>.*.part``) and renamed
    into place (``os.replace``) once all are complete: an interrupted or failed job leaves no
    half-written ``<query>.wav``. Blocks can be written one after another (a stream).

    Args:
        paths: The files, one per row of the blocks.
        sample_rate: Their rate.
        channels: Their channel count.
        subtype: A WAV sample format (:data:`WAV_SUBTYPES`); integer formats are clipped to
            full scale first (an estimate can go slightly past it), with one
            :class:`UserWarning` per set of files that says by how much.

    Examples:
        >>> with OutputFiles(["out/dog.wav", "out/bell.wav"], 8000, 2) as out:  # doctest: +SKIP
        ...     out.write(block)  # (2, channels, time)
    """

    def __init__(
        self,
        paths: Sequence[Union[str, os.PathLike]],
        sample_rate: int,
        channels: int,
        subtype: str = "FLOAT",
    ):
        if subtype not in WAV_SUBTYPES:
            raise ValueError(f"subtype must be one of {', '.join(WAV_SUBTYPES)}, got {subtype}")
        self.paths = [os.fspath(p) for p in paths]
        self.sample_rate, self.channels, self.subtype = int(sample_rate), int(channels), subtype
        self.commits = contextlib.ExitStack()  # one atomic_path per file, renamed together
        self.files: List[Any] = []
        self.peak = 0.0  # the largest magnitude written (clipped above 1 in integer formats)

    def __enter__(self) -> "OutputFiles":
        import soundfile as sf

        try:
            for path in self.paths:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                # a unique name beside it (mkstemp would make the file private: mode 600)
                part = self.commits.enter_context(atomic_path(path))
                self.files.append(
                    sf.SoundFile(
                        part,
                        "w",
                        self.sample_rate,
                        self.channels,
                        self.subtype,
                        format="WAV",  # the .part name says nothing of the format
                    )
                )
        except BaseException:
            self._close(keep=False)
            raise
        return self

    def write(self, block: Union[np.ndarray, torch.Tensor]) -> None:
        """Append :math:`(N, C, t)` (or :math:`(N, t)` mono): row n to file n."""
        data = block.cpu().numpy() if isinstance(block, torch.Tensor) else np.asarray(block)
        if data.ndim == 2:
            data = data[:, None]
        if data.shape[:2] != (len(self.files), self.channels):
            raise ValueError(
                f"block of shape {data.shape} for {len(self.files)} files of "
                f"{self.channels} channels"
            )
        if data.size:
            self.peak = max(self.peak, float(np.abs(data).max()))
        if self.subtype not in ("FLOAT", "DOUBLE"):
            data = np.clip(data, -1.0, 1.0)  # integer samples wrap around past full scale
        for f, rows in zip(self.files, data):
            f.write(np.ascontiguousarray(rows.T, dtype=np.float32))

    def __exit__(self, kind, value, traceback) -> None:
        self._close(keep=kind is None)
        if kind is None and self.peak > 1.0 and self.subtype not in ("FLOAT", "DOUBLE"):
            where = os.path.dirname(self.paths[0]) or "."
            warnings.warn(
                f"{where}: samples up to {20 * math.log10(self.peak):+.1f} dB over full scale "
                f"were clipped to fit {self.subtype} (--subtype FLOAT keeps them)",
                ClippingWarning,
                stacklevel=2,
            )

    def _close(self, keep: bool) -> None:
        for f in self.files:
            f.close()
        self.files = []
        if keep:  # every file renamed into place
            self.commits.close()
        else:  # every temporary file removed
            self.commits.__exit__(RuntimeError, RuntimeError("not kept"), None)
        self.commits = contextlib.ExitStack()


class FileWindows:
    """An open sound file read forward, as the windows of a separation ask for it: only the
    samples from the first one still wanted to the last one read are held (about a chunk),
    never the whole file.

    Args:
        reader: A ``soundfile.SoundFile`` open for reading, at its start.
        length: How many frames it has (``reader.frames``).
        name: The file's name, for errors.

    Examples:
        >>> import soundfile as sf  # doctest: +SKIP
        >>> with sf.SoundFile("long.wav") as f:  # doctest: +SKIP
        ...     windows = FileWindows(f, f.frames, "long.wav")
        ...     first = windows(0, 80000)  # (channels, 80000)
        ...     windows.release(72000)  # nothing before sample 72000 is asked for again
    """

    def __init__(self, reader: Any, length: int, name: str):
        self.reader, self.length, self.name = reader, int(length), name
        self.data = torch.zeros(reader.channels, 0)
        self.start = 0  # the file's sample that data[:, 0] holds
        self.largest_read = 0  # the most frames read at once (memory stays flat)

    def __call__(self, start: int, stop: int) -> torch.Tensor:
        """The samples :math:`[start, stop)`, :math:`(C, stop - start)` (a view: copy it to
        keep it); ``start`` is at or after the last :meth:`release`."""
        if start < self.start:
            raise ValueError(f"samples from {start} on were released (now from {self.start})")
        need = stop - self.start - self.data.shape[-1]
        if need > 0:
            block = self.reader.read(need, dtype="float32", always_2d=True)
            self.largest_read = max(self.largest_read, need)
            if len(block) < need:  # the header promised more
                got = self.start + self.data.shape[-1] + len(block)
                raise ValueError(
                    f"audio file {self.name} ended after {got} of its {self.length} samples"
                )
            self.data = torch.cat([self.data, torch.from_numpy(np.ascontiguousarray(block.T))], -1)
        return self.data[:, start - self.start : stop - self.start]

    def release(self, until: int) -> None:
        """Forget the samples before ``until``."""
        drop = min(until - self.start, self.data.shape[-1])
        if drop > 0:
            self.data = self.data[:, drop:]
            self.start += drop


class ResampledReader:
    """An open sound file read forward at another rate: ``read`` as a ``soundfile.SoundFile``
    reads, through :class:`~asteroid_wsas.separation.windows.StreamResampler`
    (``torchaudio.functional.resample``'s kernel, block by block), keeping what was read at
    the file's own rate until :meth:`take` gives it out (the residual and levels need it).

    Args:
        reader: A ``soundfile.SoundFile`` open for reading, at its start.
        length: Its frames.
        rate: The rate to read at.
        name: The file's name, for errors.
    """

    def __init__(self, reader: Any, length: int, rate: int, name: str):
        from .windows import Fifo, StreamResampler

        self.reader, self.name, self.channels = reader, name, reader.channels
        self.length, self.left = int(length), int(length)
        cpu = torch.device("cpu")
        self.resampler = StreamResampler(reader.samplerate, int(rate), cpu)
        self.ready = Fifo(self.channels, cpu)  # resampled, not read yet
        self.inputs = Fifo(self.channels, cpu)  # at the file's rate, not taken yet
        self.step = max(4096, reader.samplerate // 10)
        self.ended = False

    def read(self, frames: int, dtype: str = "float32", always_2d: bool = True) -> np.ndarray:
        """Up to ``frames`` resampled frames :math:`(t, C)` (fewer only at the end)."""
        while len(self.ready) < frames and not self.ended:
            if self.left == 0:  # torchaudio's zero padding at the end
                self.ready.append(self.resampler.finish(self.channels))
                self.ended = True
                continue
            block = self.reader.read(min(self.step, self.left), dtype="float32", always_2d=True)
            if not len(block):
                raise ValueError(
                    f"audio file {self.name} ended after {self.length - self.left} of its "
                    f"{self.length} samples"
                )
            self.left -= len(block)
            x = torch.from_numpy(np.ascontiguousarray(block.T))
            self.inputs.append(x)
            self.resampler.push(x)
            self.ready.append(self.resampler.pull())
        n = min(frames, len(self.ready))
        out = self.ready.view(n).T.numpy().copy()
        self.ready.drop(n)
        return out

    def take(self, n: int) -> torch.Tensor:
        """The next ``n`` samples :math:`(C, n)` at the file's rate (read already)."""
        out = self.inputs.view(n).clone()
        self.inputs.drop(n)
        return out
