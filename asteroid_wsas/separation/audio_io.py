"""Audio in and out of a separator: files, arrays and tensors in; WAV files out.

:func:`load_audio` reads what :meth:`Separator.separate
<asteroid_wsas.separation.separator.Separator.separate>` takes (any format libsndfile reads,
and more with PyAV); :func:`audio_files` finds the audio below a folder;
:class:`OutputFiles` writes estimates whole or not at all, in the sample format
:func:`output_subtype` picks, and names the output file when the disk fails
(:class:`OutputWriteError`); :func:`folder_lock` keeps a second writer out of a folder.
"""

import contextlib
import errno
import io
import math
import os
import sys
import warnings
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..utils import atomic_path
from .contract import ClippingWarning, ScaleWarning, check_sample_rate

__all__ = [
    "AudioLike",
    "AUDIO_EXTENSIONS",
    "WAV_SUBTYPES",
    "PCM_SCALES",
    "float_samples",
    "load_audio",
    "output_subtype",
    "audio_files",
    "OutputFiles",
    "OutputWriteError",
    "FolderBusyError",
    "LOCK_NAME",
    "folder_lock",
    "missing_folders",
]

AudioLike = Union[str, os.PathLike, np.ndarray, torch.Tensor]


# integer PCM as WAV keeps it, and the divisor (and offset) that brings it to [-1, 1): what
# soundfile does when it reads a PCM file as float
PCM_SCALES = {
    "int8": (2.0**7, 0.0),
    "uint8": (2.0**7, 128.0),  # WAV's 8-bit samples are unsigned, silence at 128
    "int16": (2.0**15, 0.0),
    "int32": (2.0**31, 0.0),
}
_PCM_TORCH = {torch.int8: "int8", torch.uint8: "uint8", torch.int16: "int16", torch.int32: "int32"}


def float_samples(audio: Any, argument: str = "audio", check_scale: bool = True) -> torch.Tensor:
    """Samples of an array or a tensor as float32 on the CPU, in the [-1, 1] scale: the one
    rule for every array a separator takes (:func:`load_audio`, a stream's blocks).

    Floats are taken as they are. Integer PCM (int8, int16, int32, uint8) is scaled as a WAV
    reader scales it: int16 / 32768, int32 / 2**31, int8 / 128, (uint8 - 128) / 128. Other
    types are refused rather than guessed: complex (its imaginary part would be dropped),
    bool, int64 and the other integer types (no PCM format says their full scale), and
    anything that is not a number.

    Args:
        audio: A numpy array, a tensor, or a sequence of numbers.
        argument: Its name, for messages.
        check_scale: Warn (:class:`ScaleWarning`) about floats that are integer PCM cast to
            float without its scaling (a stream checks its blocks once, itself).

    Returns:
        torch.Tensor: float32, the shape of ``audio``.

    Raises:
        ValueError: A type that is not audio, naming ``argument`` and the type.

    Examples:
        >>> float_samples(np.array([-32768, 16384], dtype=np.int16)).tolist()
        [-1.0, 0.5]
        >>> float_samples(np.zeros(4, np.complex64))
        Traceback (most recent call last):
            ...
        ValueError: audio is complex (complex64); pass the real signal, e.g. audio.real
    """
    if isinstance(audio, torch.Tensor):
        wav = audio.detach().cpu()
        name = str(wav.dtype).replace("torch.", "")
        if wav.is_floating_point():
            wav = wav.float()
            return _warn_integer_scale(wav, argument) if check_scale else wav
        scale = PCM_SCALES.get(_PCM_TORCH.get(wav.dtype, ""))
        kind = "complex" if wav.is_complex() else "bool" if wav.dtype == torch.bool else "int"
    else:
        try:
            array = np.asarray(audio)
        except Exception as err:  # ragged lists and the like
            raise ValueError(f"{argument} is not an array of samples ({err})") from None
        name = array.dtype.name
        if array.dtype.kind == "f":
            wav = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
            return _warn_integer_scale(wav, argument) if check_scale else wav
        scale = PCM_SCALES.get(name)
        kind = {"c": "complex", "b": "bool", "i": "int", "u": "int"}.get(array.dtype.kind, "other")
        wav = torch.from_numpy(array.astype(np.float64)) if scale is not None else None
    if scale is not None:  # exact: every int32 is a float64, then one rounding to float32
        return ((wav.double() - scale[1]) / scale[0]).float()
    example = argument if argument.isidentifier() else "block"  # "block 3" is no name
    if isinstance(audio, (bytes, bytearray)):
        message = (
            f"{argument} is bytes; pass a file path, or the samples (e.g. "
            "soundfile.read(io.BytesIO(data)))"
        )
    elif kind == "complex":
        message = f"{argument} is complex ({name}); pass the real signal, e.g. {example}.real"
    elif kind == "bool":
        message = f"{argument} is boolean; pass samples: floats in [-1, 1] or integer PCM"
    elif kind == "int":
        message = (
            f"{argument} is {name}, which has no PCM full scale; pass floats in [-1, 1], or "
            "int16 / int32 / int8 / uint8 PCM"
        )
    else:
        what = "text" if name.startswith(("str", "bytes")) else f"{name} values"
        message = f"{argument} holds {what}, not samples; pass numbers (floats in [-1, 1])"
    raise ValueError(message)


def whole_peak(samples: Union[np.ndarray, torch.Tensor]) -> Optional[float]:
    """The peak magnitude of samples that are all whole numbers, else None (also for no
    samples, or NaN): the one test behind every integer-scale warning.

    Examples:
        >>> whole_peak(np.array([0.0, -3.0, 1.0])), whole_peak(np.array([0.5, 1.0]))
        (3.0, None)
    """
    x = samples.numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    return float(np.abs(x).max()) if x.size and np.array_equal(x, np.round(x)) else None


def integer_scale_peak(wav: torch.Tensor) -> Optional[float]:
    """The peak of float samples that are all whole numbers reaching past 2 (integer PCM
    cast to float without its scaling, e.g. ``int16.astype(float)``), else None. Float audio
    a little over full scale (a loud mix) is not whole numbers.

    Examples:
        >>> integer_scale_peak(torch.tensor([0.0, -12000.0, 3.0]))
        12000.0
        >>> integer_scale_peak(torch.tensor([0.0, 1.5, -2.25])) is None
        True
    """
    peak = whole_peak(wav)
    return peak if peak is not None and 2.0 < peak < float("inf") else None


def warn_integer_scale(argument: str, peak: float, fix: str, stacklevel: int = 2) -> None:
    """One :class:`ScaleWarning`: ``argument``'s float samples are whole numbers up to
    ``peak``; ``fix`` says what to do (an array's or a file's remedy)."""
    warnings.warn(
        f"{argument}: float samples that are all whole numbers, up to {peak:g}, look like "
        "integer PCM cast to float; they are separated as they are (floats are taken in "
        f"[-1, 1]): {fix}",
        ScaleWarning,
        stacklevel=stacklevel + 1,
    )


ARRAY_FIX = "pass the integer array itself, or divide by its full scale (32768 for int16)"
FILE_FIX = "write the file in the [-1, 1] scale (divide by 32768 for 16-bit values)"


def _warn_integer_scale(wav: torch.Tensor, argument: str, fix: str = ARRAY_FIX) -> torch.Tensor:
    """``wav``, after a :class:`ScaleWarning` when :func:`integer_scale_peak` finds it
    integer PCM cast to float, which the separator would take at 30000 times full scale."""
    peak = integer_scale_peak(wav)
    if peak is not None:
        warn_integer_scale(argument, peak, fix, stacklevel=3)
    return wav


def check_file_scale(reader: Any, path: str) -> None:
    """A :class:`ScaleWarning` when a float sound file's samples are all whole numbers
    reaching past 2 (integer PCM stored as float), for a file read block by block: one pass
    that stops at the first sample that is not a whole number (at once for float audio),
    then back to the start. PCM files are scaled by libsndfile and never warned about.

    Args:
        reader: A seekable ``soundfile.SoundFile`` open for reading, at its start.
        path: The file's name, for the message.
    """
    if reader.subtype not in ("FLOAT", "DOUBLE") or not reader.seekable():
        return
    peak = 0.0
    try:
        for block in reader.blocks(4096, dtype="float32", always_2d=True):  # memory: flat
            whole = whole_peak(block)
            if whole is None:
                return
            peak = max(peak, whole)
    finally:
        reader.seek(0)
    if 2.0 < peak < float("inf"):
        warn_integer_scale(f"audio file {path}", peak, FILE_FIX, stacklevel=3)


def load_audio(
    audio: AudioLike, sample_rate: Optional[int] = None
) -> Tuple[torch.Tensor, int, str, bool]:
    """Audio as a float32 tensor :math:`(C, T)` in the [-1, 1] scale, its rate, and how the
    input was shaped.

    Args:
        audio: A file path (any format soundfile reads; a named pipe or ``/dev/fd/N``, as
            bash's ``<(...)`` gives, is read once into memory), or an array / tensor
            :math:`(T,)` or :math:`(C, T)` (channels first): floats, or integer PCM
            (int16, int32, int8, uint8) scaled to [-1, 1] as WAV readers do
            (:func:`float_samples`).
        sample_rate: The rate of an array or tensor (required for them): a positive whole
            number of Hz.

    Returns:
        tuple: ``(wav, rate, kind, one_d)``: ``wav`` :math:`(C, T)`, its rate, ``kind``
        ``"file"``, ``"numpy"`` or ``"torch"``, and whether the input was 1-D.

    Raises:
        ValueError: Unreadable or empty file, missing or bad rate, bad shape or sample type;
            the message names the argument.
    """
    import soundfile as sf

    if isinstance(audio, (str, os.PathLike)):
        path = os.fspath(audio)
        if not os.path.exists(path):
            raise ValueError(f"audio file {path} not found")
        if os.path.isdir(path):
            raise ValueError(f"audio file {path} is a folder, not a file")
        if os.path.isfile(path):
            source: Any = sf_path(path)
            if os.path.getsize(path) == 0:
                raise ValueError(f"audio file {path} is empty")
        else:  # a named pipe, <(...)'s /dev/fd/N: it can be read once, never sought
            with open(path, "rb") as f:
                source = io.BytesIO(f.read())
            if not source.getbuffer().nbytes:
                raise ValueError(f"audio file {path} is empty")
        try:
            data, rate = sf.read(source, dtype="float32", always_2d=True)
            data = data.T
        except Exception as err:  # soundfile raises its own error types
            if isinstance(source, io.BytesIO):
                source.seek(0)
            data, rate = _decode_with_av(path, err, source)
        if data.shape[1] == 0:
            raise ValueError(f"audio file {path} is empty")
        wav = torch.from_numpy(np.ascontiguousarray(data))
        # PCM files come scaled: only a float file's samples can be of integer scale
        return _warn_integer_scale(wav, f"audio file {path}", FILE_FIX), int(rate), "file", False
    if sample_rate is None:
        raise ValueError("sample_rate is required when audio is an array or a tensor")
    rate = check_sample_rate(sample_rate)
    kind = "torch" if isinstance(audio, torch.Tensor) else "numpy"
    wav = float_samples(audio, "audio")
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
    return wav, rate, kind, one_d


def sf_path(path: Union[str, os.PathLike]) -> Union[str, bytes]:
    """A path as soundfile opens it: its bytes on POSIX, so that a name that is not valid
    UTF-8 (Python keeps its bytes as surrogates) opens, where soundfile's own encoding
    refuses it."""
    path = os.fspath(path)
    return path if sys.platform == "win32" else os.fsencode(path)


def _decode_with_av(
    path: str, soundfile_error: Exception, source: Any = None
) -> Tuple[np.ndarray, int]:
    """Formats libsndfile does not read (AAC / M4A, Opus in WebM, video files' sound), decoded
    with PyAV when it is installed (``pip install av``, the ``video`` extra): float32
    ``(C, T)`` and the rate. ``source``: the file's bytes when it was read already (a
    pipe), else the path."""
    try:
        import av
    except ImportError:
        raise ValueError(
            f"audio file {path} is not readable audio ({soundfile_error}); for formats "
            "libsndfile does not read (m4a, webm, ...): pip install av"
        ) from None
    try:
        opened = source if isinstance(source, io.BytesIO) else path
        with av.open(opened) as container:
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
    # a regular file only: a pipe read once already would block, and has no format to keep
    if subtype is None and isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        try:
            subtype = sf.info(sf_path(source)).subtype
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

        for path in self.paths:
            try:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                # a unique name beside it (mkstemp would make the file private: mode 600)
                part = self.commits.enter_context(atomic_path(path))
                self.files.append(
                    sf.SoundFile(
                        sf_path(part),
                        "w",
                        self.sample_rate,
                        self.channels,
                        self.subtype,
                        format="WAV",  # the .part name says nothing of the format
                    )
                )
            except (OSError, RuntimeError) as err:  # libsndfile's errors are RuntimeErrors
                self._close(keep=False)
                raise OutputWriteError(path, err) from None
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
        for path, f, rows in zip(self.paths, self.files, data):
            try:
                f.write(np.ascontiguousarray(rows.T, dtype=np.float32))
            except (OSError, RuntimeError) as err:
                raise OutputWriteError(path, err) from None

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
        """Close every file, then rename them all into place (``keep``) or remove them all.

        Raises:
            OutputWriteError: With ``keep``, a file whose end did not fit (its header is
                written last); every temporary file is removed then, and none renamed.
        """
        failure = None
        for path, f in zip(self.paths, self.files):
            try:
                f.close()
            except (OSError, RuntimeError) as err:  # each file is closed, whatever failed
                failure = failure or OutputWriteError(path, err)
        self.files = []
        commits, self.commits = self.commits, contextlib.ExitStack()
        if keep and failure is None:  # every file renamed into place
            try:
                commits.close()
            except OSError as err:
                raise OutputWriteError(err.filename2 or self.paths[0], err) from None
            return
        # every temporary file removed
        commits.__exit__(RuntimeError, RuntimeError("not kept"), None)
        if keep and failure is not None:  # else an error is on its way already
            raise failure


# errors of a full disk (or quota), where freeing space or another disk helps
_NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


class OutputWriteError(ValueError):
    """An output file that could not be written: the disk, not the input, failed.

    The message names the output file and the reason, with advice when the disk is full:
    ``cannot write out/a_dog.wav: No space left on device (free some space, or pass -o on
    another disk)``. A ``ValueError``, so that the command line shows it as one ``error:``
    line.

    Args:
        path: The output file.
        error: What failed: an ``OSError``, or libsndfile's error (whose "System error."
            is told apart by the C ``errno`` it leaves).

    Attributes:
        path: The output file.
        reason: Why, in words.
        no_space: Whether the disk (or the quota) is full.

    Examples:
        >>> import errno
        >>> str(OutputWriteError("out/x.wav", OSError(errno.EROFS, "Read-only file system")))
        'cannot write out/x.wav: Read-only file system'
    """

    def __init__(self, path: Union[str, os.PathLike], error: BaseException):
        code = getattr(error, "errno", None)
        if code is None and hasattr(error, "error_string"):  # soundfile's LibsndfileError
            from soundfile import _ffi

            code = _ffi.errno if _ffi.errno in _NO_SPACE else None
        if code:
            reason = os.strerror(code)
        else:
            reason = getattr(error, "error_string", None) or str(error) or type(error).__name__
        self.path, self.reason, self.no_space = os.fspath(path), reason, code in _NO_SPACE
        advice = " (free some space, or pass -o on another disk)" if self.no_space else ""
        super().__init__(f"cannot write {self.path}: {reason}{advice}")


# the hidden file in an output folder that its writer holds locked (removed as it lets go)
LOCK_NAME = ".asteroid-wsas.lock"


class FolderBusyError(ValueError):
    """Another process writes to the folder, and the caller would not wait for it."""


@contextlib.contextmanager
def folder_lock(
    folder: Union[str, os.PathLike],
    wait: bool = True,
    holder: str = "asteroid-wsas separate",
    busy_advice: str = "leave out --no-wait to wait for it",
) -> Iterator[None]:
    """Hold ``folder`` (made if needed) for one writer: another process that asks for it
    waits until this one ends (``wait``) or fails at once.

    Two processes that separate into one folder would otherwise both find its outputs
    missing and both write them, leaving one input's estimates beside another's. Waiting is
    the default: the second process then finds the first one's outputs and skips them (or
    writes its own), as if the two commands had run one after the other; a Ctrl+C stops
    the wait. The lock is an advisory ``flock`` on :data:`LOCK_NAME` in the folder: the
    system lets go of it when its process ends, even killed, so no stale lock can stop a
    later run. The file is removed, and the folders the lock made if they are still empty,
    when the block ends; a waiter that finds its file removed takes the new one. Without
    ``fcntl`` (Windows), or on a file system without locks, nothing is locked.

    Args:
        folder: The output folder.
        wait: When another process holds the folder: wait for it, with a one-line message
            on stderr (``waiting for FOLDER (another asteroid-wsas separate writes there)``),
            or raise.
        holder: What the other process is, in the messages (``another HOLDER``).
        busy_advice: What to do, in :class:`FolderBusyError`'s message (not ``wait``).

    Raises:
        FolderBusyError: Not ``wait``, and another process holds the folder.
        OutputWriteError: The lock file could not be made (a full disk, a read-only
            folder).

    Examples:
        >>> import tempfile
        >>> out = os.path.join(tempfile.mkdtemp(), "out")
        >>> with folder_lock(out):
        ...     sorted(os.listdir(out))
        ['.asteroid-wsas.lock']
        >>> os.path.exists(out)  # made for the block, empty again: removed
        False
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock a holder can remove; write unlocked
        yield
        return
    folder = os.fspath(folder)
    path = os.path.join(folder, LOCK_NAME)
    made: List[str] = []  # folders made here: removed if left empty
    told = False
    while True:
        made += [f for f in missing_folders(folder) if f not in made]
        try:
            os.makedirs(folder, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # its last holder removed the folder meanwhile
            continue
        except OSError as err:
            raise OutputWriteError(folder, err) from None
        try:
            told = _flock(fcntl, fd, folder, (wait, told, holder, busy_advice))
            if _same_file(fd, path):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # its holder removed it as it let go: a lock on nothing; again
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # while held: a waiter sees it gone, takes anew
            os.remove(path)
        os.close(fd)
        for made_folder in sorted(made, key=len, reverse=True):
            try:
                os.rmdir(made_folder)
            except OSError:  # outputs in it, or another writer's lock
                break


# flock's errors where a file system has no locks (some network and FUSE ones)
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)


def _flock(fcntl: Any, fd: int, folder: str, how: Tuple[bool, bool, str, str]) -> bool:
    """Lock ``fd`` for this process, waiting for its holder if ``wait`` (saying so once:
    ``told`` says whether it was said); returns ``told``. ``how`` is ``(wait, told, holder,
    busy_advice)`` of :func:`folder_lock`. A file system without locks is written unlocked,
    as on Windows."""
    wait, told, holder, busy_advice = how
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if not wait:
            raise FolderBusyError(
                f"{folder} is in use by another {holder} ({busy_advice})"
            ) from None
        if not told:
            from tqdm.auto import tqdm  # above a batch's bar, not through it

            tqdm.write(f"waiting for {folder} (another {holder} writes there)", sys.stderr)
            sys.stderr.flush()
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True
    except OSError as err:
        if err.errno not in _NO_LOCKS:
            raise
    return told


def missing_folders(folder: Union[str, os.PathLike]) -> List[str]:
    """``folder`` and its parents that do not exist, deepest first (those a ``makedirs``
    would make).

    Examples:
        >>> missing_folders("/no/such/place")
        ['/no/such/place', '/no/such', '/no']
    """
    missing = []
    folder = os.path.abspath(folder)
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        missing.append(folder)
        folder = os.path.dirname(folder)
    return missing


def _same_file(fd: int, path: str) -> bool:
    """Whether the open ``fd`` is the file at ``path`` now (not one removed meanwhile)."""
    try:
        there = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)
