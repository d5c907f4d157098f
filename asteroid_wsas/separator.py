"""Separation for users: a trained TextCondUNet and its encoder, queried with text or images.

:class:`Separator` takes audio as a file, a numpy array or a tensor at any sample rate and
channel count, and any number of queries (texts; images too with CLIP as the encoder); it
returns one estimate per query at the input's rate and channel count, in one batched pass
per chunk.
"""

import contextlib
import hashlib
import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torchaudio
from torchaudio.functional import resample
from torch import nn

from .encoders.base import Query, encode_queries
from .encoders.loading import encoder_beside, load_encoder
from .models import TextCondUNet
from .models.registry import model_from_package
from .utils import atomic_path, device_of, fast_bf16, refuse_overwrite

__all__ = [
    "Separator",
    "Separation",
    "PixelSeparation",
    "separate_batch",
    "pick_outputs",
    "assign_outputs",
    "load_audio",
    "resolve_queries",
    "SEPARATOR_FILE",
    "AUDIO_EXTENSIONS",
    "WAV_SUBTYPES",
    "audio_files",
    "OutputFiles",
    "QueryWarning",
    "query_warnings",
]

SEPARATOR_FILE = "separator.pth"
# the folder beside SEPARATOR_FILE that holds an encoder saved with the package
BUNDLED_ENCODER = "encoder"
AudioLike = Union[str, os.PathLike, np.ndarray, torch.Tensor]
# a text, or an image: "image:PATH", a Path, a PIL image, an array or a tensor
QueryLike = Union[str, os.PathLike, np.ndarray, torch.Tensor, Any]
FORMAT_VERSION = 1
DEFAULT_CHUNK = 10.0  # seconds: about the training clips' length, and flat memory


@dataclass
class PixelSeparation:
    """What :meth:`Separator.sound_of_pixels` returns.

    Attributes:
        estimates: One estimate per patch, :math:`(h, w, C, T)` (:math:`(h, w, T)` for 1-D
            input), at ``sample_rate``; numpy unless the input was a tensor.
        sample_rate: The input's rate.
        level_db: :math:`(h, w)`, each patch's estimate level relative to the input (dB):
            where the picture's sounds are.
    """

    estimates: Any
    sample_rate: int
    level_db: Any


@dataclass
class Separation:
    """What :meth:`Separator.separate` returns.

    Attributes:
        queries: The queries, in order.
        estimates: One estimate per query, :math:`(K, C, T)` (:math:`(K, T)` for 1-D input),
            at ``sample_rate``; numpy for file or numpy input, a tensor for tensor input.
        sample_rate: The input's rate.
        presence: Per query, the encoder's cosine similarity between the estimate and the
            query text (mean over channels; NaN with a text-only query encoder); compare
            with other queries' and with :attr:`level_db` to tell "not present".
        level_db: Per query, the estimate's level relative to the input, in dB (a query
            that matches nothing gives a quiet estimate).
        residual: Input minus the sum of the estimates (with ``residual=True``).
        extras: More about how the estimates were made; for a MixIT separator,
            ``"mixit_output"``: the index of the learned output each query picked.
    """

    queries: List[str]
    estimates: Any
    sample_rate: int
    presence: List[float]
    level_db: List[float]
    residual: Any = None
    extras: Dict[str, Any] = field(default_factory=dict)


def load_audio(audio: AudioLike, sample_rate: Optional[int] = None):
    """Audio as a float32 tensor :math:`(C, T)`, its rate, and how the input was shaped.

    Args:
        audio: A file path (any format soundfile reads), or an array / tensor :math:`(T,)`
            or :math:`(C, T)` (channels first).
        sample_rate: The rate of an array or tensor (required for them).

    Returns:
        tuple: ``(wav (C, T), rate, kind)`` with kind ``"file"``, ``"numpy"`` or ``"torch"``
        and whether the input was 1-D.

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


def _decode_with_av(path: str, soundfile_error: Exception):
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


IMAGE_PREFIX = "image:"


class MissingEncoderError(ValueError):
    """A separator file without its query encoder: a bare ``best_model.pth`` whose run's
    ``conf.yml`` is not beside it.

    Args:
        path: The file.
    """

    def __init__(self, path: str):
        self.path = path
        super().__init__(
            f"{path} {self.what}: put its training run's conf.yml beside it, or pass encoder="
        )

    what = "holds no encoder and no conf.yml beside it names one"


class ClippingWarning(UserWarning):
    """Samples past full scale were clipped to fit an integer WAV format."""


class QueryWarning(UserWarning):
    """A query the separator cannot tell apart from another, or whose words its encoder does
    not know (the command line prints these as one ``warning:`` line each)."""


def query_warnings(encoder, names: Sequence[str], queries: Sequence[Query]) -> List[str]:
    """What is wrong with queries that the encoder cannot read or tell apart.

    Two checks: words a small encoder's vocabulary lacks (they are all read as one
    ``<unk>`` token), and queries whose text embeddings are the same vector (their
    estimates are then identical). Encoders of free text (CLAP, BERT, CLIP) have no
    unknown words; only the second check applies to them.

    Args:
        encoder: The separator's query encoder.
        names: The queries' names (texts, or ``image:...``).
        queries: The resolved queries (:func:`resolve_queries`).

    Returns:
        list[str]: One message per problem (empty when every query is fine).

    Examples:
        >>> from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab
        >>> enc = TinyBimodalEncoder(build_vocab(["a dog barks"]), embed_dim=16, token_dim=12)
        >>> print(query_warnings(enc, ["a cat meows"], ["a cat meows"])[0])
        query 'a cat meows': words unknown to the encoder ('cat', 'meows'; its vocabulary has 3 words) are all read as one <unk> token
    """
    messages = []
    index = getattr(encoder, "index", None)  # the small encoder's vocabulary
    if index is not None:
        from .encoders.tiny import SPECIALS, words

        known = len(index) - len(SPECIALS)
        for name, query in zip(names, queries):
            if isinstance(query, str):
                unknown = [w for w in words(query) if w not in index]
                if unknown:
                    listed = ", ".join(repr(w) for w in dict.fromkeys(unknown))
                    messages.append(
                        f"query {name!r}: words unknown to the encoder ({listed}; its "
                        f"vocabulary has {known} words) are all read as one <unk> token"
                    )
    if len(queries) > 1:
        with torch.inference_mode():
            embed, _, _ = encode_queries(encoder, [list(queries)], with_tokens=False)
        embed = torch.nn.functional.normalize(embed[0].float(), dim=-1)
        same = (embed @ embed.T) > 1 - 1e-6
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                if same[i, j]:
                    messages.append(
                        f"queries {names[i]!r} and {names[j]!r} encode to the same vector: "
                        "their estimates will be identical"
                    )
    return messages


def _warn_queries(encoder, names: Sequence[str], queries: Sequence[Query]) -> None:
    import warnings

    for message in query_warnings(encoder, names, queries):
        warnings.warn(message, QueryWarning, stacklevel=3)


def resolve_queries(
    queries: Union[None, QueryLike, Sequence[QueryLike]], argument: str, allow_empty: bool = False
) -> Tuple[List[str], List[Query]]:
    """Names and encoder inputs of user queries: texts stay texts, images become tensors.

    Args:
        queries: One query or a list (see :meth:`Separator.separate`).
        argument: The argument's name, for messages.
        allow_empty: Accept None / an empty list.

    Returns:
        tuple: names (the text, ``"image:PATH"`` or ``"image <k>"``) and queries (texts and
        uint8 image tensors :math:`(3, H, W)` / :math:`(F, 3, H, W)`).

    Raises:
        ValueError: No query (unless allowed), an empty text, or an unreadable image.

    Examples:
        >>> resolve_queries("a dog barks", "queries")
        (['a dog barks'], ['a dog barks'])
        >>> names, qs = resolve_queries(["a cello", np.zeros((4, 4, 3), np.uint8)], "queries")
        >>> names, tuple(qs[1].shape)
        (['a cello', 'image 1'], (3, 4, 4))
    """
    from .data.frames import load_image

    if queries is None:
        items = []
    elif isinstance(queries, (str, os.PathLike, np.ndarray, torch.Tensor)) or _is_pil(queries):
        items = [queries]
    else:
        items = list(queries)
    if not items and not allow_empty:
        raise ValueError(f"{argument} must hold at least one query")
    names, out = [], []
    for k, query in enumerate(items):
        if isinstance(query, str):
            if not query.strip():
                raise ValueError(f"{argument}[{k}] is an empty text")
            if not query.startswith(IMAGE_PREFIX):
                names.append(query)
                out.append(query)
                continue
            path = query[len(IMAGE_PREFIX) :]
        elif isinstance(query, os.PathLike):
            path = os.fspath(query)
        elif isinstance(query, torch.Tensor) and query.ndim == 4:  # frames of one query
            out.append(torch.stack([load_image(frame) for frame in query]))
            names.append(f"image {k}")
            continue
        elif isinstance(query, (np.ndarray, torch.Tensor)) or _is_pil(query):
            out.append(load_image(query))
            names.append(f"image {k}")
            continue
        else:
            raise ValueError(
                f"{argument}[{k}] must be a text or an image (path as 'image:PATH', PIL "
                f"image, array or tensor), got {type(query).__name__}"
            )
        if not os.path.isfile(path):
            raise ValueError(f"{argument}[{k}]: image file not found: {path!r}")
        out.append(load_image(path))
        names.append(IMAGE_PREFIX + path)
    return names, out


def _is_pil(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.")


def _fade_weights(size: int, overlap: int, first: bool, last: bool) -> Optional[torch.Tensor]:
    """Weights of one window of ``size`` samples: a linear fade-in over its first ``overlap``
    samples (unless ``first``) and a fade-out over its last (unless ``last``); None for a
    window with no neighbour. A fade-out and the next window's fade-in sum to one."""
    if first and last:
        return None
    weight = torch.ones(size)
    if overlap and not first:
        weight[:overlap] = torch.linspace(0, 1, overlap + 2)[1:-1]
    if overlap and not last:
        weight[size - overlap :] = torch.linspace(1, 0, overlap + 2)[1:-1]
    return weight


def _crossfade_windows(
    length: int, chunk: int, overlap: int
) -> List[Tuple[int, int, Optional[torch.Tensor]]]:
    """(start, stop, weights) of the windows that cover ``length`` samples.

    One window every ``chunk - overlap`` samples; the last one ends at ``length`` and is
    shorter than a chunk unless the length falls on a window's end (it is separated
    zero-padded to the chunk). Where a window starts depends only on the ones before it, so
    a stream (:class:`_Stream`) is cut into the same windows as the whole input.
    """
    if length <= chunk:
        return [(0, length, None)]
    hop = chunk - overlap
    out, start = [], 0
    while True:
        stop = min(start + chunk, length)
        last = stop == length
        out.append((start, stop, _fade_weights(stop - start, overlap, start == 0, last)))
        if last:
            return out
        start += hop


class _Fifo:
    """Samples :math:`(R, T)` appended at the end and dropped from the front. The buffer is
    compacted in place before it grows, so its size follows the largest backlog, not the
    number of samples that went through."""

    def __init__(self, rows: int, device: torch.device):
        self.data = torch.zeros(rows, 0, device=device)
        self.start = self.stop = 0

    def __len__(self) -> int:
        return self.stop - self.start

    def append(self, x: torch.Tensor) -> None:
        n = x.shape[-1]
        if self.stop + n > self.data.shape[-1]:
            held = self.data[:, self.start : self.stop].clone()
            if len(self) + n > self.data.shape[-1]:  # doubling: amortised O(1) per sample
                size = max(2 * self.data.shape[-1], len(self) + n)
                self.data = torch.zeros(self.data.shape[0], size, device=self.data.device)
            self.data[:, : held.shape[-1]] = held
            self.start, self.stop = 0, held.shape[-1]
        self.data[:, self.stop : self.stop + n] = x
        self.stop += n

    def view(self, n: Optional[int] = None) -> torch.Tensor:
        return self.data[:, self.start : self.stop if n is None else self.start + n]

    def drop(self, n: int) -> None:
        self.start = min(self.start + n, self.stop)


def _sinc_width(orig: int, new: int) -> int:
    """Half-length (in ``orig`` samples) of torchaudio's default sinc resampling kernel
    (``lowpass_filter_width=6``, ``rolloff=0.99``), for the latency without the kernel."""
    g = math.gcd(orig, new)
    base = min(orig // g, new // g) * 0.99
    return math.ceil(6 * (orig // g) / base)


class _StreamResampler:
    """``torchaudio.functional.resample`` (same kernel, same zero padding at both ends) block
    by block: the concatenated output equals resampling the whole signal, to rounding.

    The signal goes in frames of ``orig / gcd`` samples, each giving ``new / gcd`` samples;
    a frame needs ``width`` samples of look-ahead, so an output lags the input by at most
    ``width + orig / gcd`` input samples.
    """

    def __init__(self, orig: int, new: int, device: torch.device):
        transform = torchaudio.transforms.Resample(orig, new, dtype=torch.float32)
        self.kernel = transform.kernel.to(device)  # (new / g, 1, 2 width + orig / g)
        self.width = transform.width
        g = math.gcd(orig, new)
        self.orig, self.new = orig // g, new // g
        self.device = device
        self.fifo: Optional[_Fifo] = None  # padded input from the next frame's first sample
        self.received = 0
        self.frames = 0

    def push(self, x: torch.Tensor) -> None:
        """Take :math:`(R, t)`; :meth:`pull` gives what is complete."""
        if self.fifo is None:
            self.fifo = _Fifo(x.shape[0], self.device)
            self.fifo.append(torch.zeros(x.shape[0], self.width, device=self.device))
        self.fifo.append(x.to(self.device))
        self.received += x.shape[-1]

    def ready(self) -> int:
        """How many output samples :meth:`pull` would give now."""
        frames = max(0, (self.received - self.width - self.orig) // self.orig + 1)
        return (frames - self.frames) * self.new

    def pull(self) -> torch.Tensor:
        """The :math:`(R, t')` output samples complete now (a convolution per call: call it
        when enough is ready, not for every small block)."""
        return self._frames(self.ready() // self.new)

    def finish(self, rows: int) -> torch.Tensor:
        """The rest, with torchaudio's zero padding, cut to its output length."""
        if self.fifo is None:
            return torch.zeros(rows, 0, device=self.device)
        self.fifo.append(torch.zeros(rows, self.width + self.orig, device=self.device))
        done = self.frames * self.new
        rest = self._frames(self.received // self.orig + 1 - self.frames)
        # torchaudio's own expression (a float32 ceil), so the lengths agree exactly
        total = int(torch.ceil(torch.as_tensor(self.new * self.received / self.orig)))
        return rest[:, : max(0, total - done)]

    def _frames(self, count: int) -> torch.Tensor:
        rows = self.fifo.data.shape[0]
        if count <= 0:
            return torch.zeros(rows, 0, device=self.device)
        size = (count - 1) * self.orig + self.kernel.shape[-1]
        out = torch.nn.functional.conv1d(
            self.fifo.view(size)[:, None], self.kernel, stride=self.orig
        )  # (R, new, count): frame by frame, as torchaudio interleaves them
        self.fifo.drop(count * self.orig)
        self.frames += count
        return out.transpose(1, 2).reshape(rows, -1)


class _Stream:
    """State of one :meth:`Separator.stream`: resampler to the model's rate, the current
    window, the previous window's end awaiting its fade-out, the resampler back, and what
    is ready but not yet given out. Every buffer holds at most about a chunk (a piece of a
    block is at most a hop; the input is resampled only when a window can run).

    Args:
        run: ``run(window (C, L), size) -> (K, C, L)`` at the model's rate.
        outputs: K, the estimates per window.
        channels: C.
        chunk: Window length (model samples).
        overlap: Crossfade (model samples).
        rate: The stream's rate.
        model_rate: The model's rate.
        device: Where the model runs.
        residual: Also give the input minus the sum of the estimates (a last row).
    """

    def __init__(self, run, outputs, channels, chunk, overlap, rate, model_rate, device, residual):
        self.run = run
        self.outputs, self.channels = outputs, channels
        self.chunk, self.overlap, self.hop = chunk, overlap, chunk - overlap
        self.device = device
        cpu = torch.device("cpu")
        # separate() resamples the input on the CPU and the estimates on the device: so here
        self.to_model = None if rate == model_rate else _StreamResampler(rate, model_rate, cpu)
        self.to_input = None if rate == model_rate else _StreamResampler(model_rate, rate, device)
        self.window = _Fifo(channels, device)  # model-rate input from the next window's start
        self.index = 0  # the next window's number
        self.tail: Optional[torch.Tensor] = None  # (K, C, overlap) end of the last window
        self.tail_weight: Optional[torch.Tensor] = None
        self.pending = _Fifo(outputs * channels, cpu)  # ready, not given out (input rate)
        self.inputs = _Fifo(channels, cpu) if residual else None  # for the residual
        self.received = self.given = 0  # input samples

    def held(self) -> Dict[str, int]:
        """Samples each buffer holds now (memory stays flat: none grows with the stream)."""
        held = {"window": len(self.window), "pending": len(self.pending)}
        if self.tail is not None:
            held["tail"] = self.tail.shape[-1]
        if self.inputs is not None:
            held["inputs"] = len(self.inputs)
        for name, resampler in (("to_model", self.to_model), ("to_input", self.to_input)):
            if resampler is not None and resampler.fifo is not None:
                held[name] = len(resampler.fifo)
        return held

    def push(self, block: torch.Tensor) -> Optional[torch.Tensor]:
        """A block :math:`(C, t)` at the stream's rate in; what is ready out (or None)."""
        self.received += block.shape[-1]
        if self.inputs is not None:
            self.inputs.append(block)
        if self.to_model is None:
            x = block
        else:  # resampled when a window can run: a few big convolutions, not one per block
            self.to_model.push(block)
            if self.to_model.ready() >= self.chunk - len(self.window):
                x = self.to_model.pull()
            else:
                x = torch.zeros(self.channels, 0)
        return self._give(self._separate(x.to(self.device), final=False), final=False)

    def finish(self) -> Optional[torch.Tensor]:
        """The end of the stream: the last windows, and everything still held."""
        if self.to_model is None:
            x = torch.zeros(self.channels, 0)
        else:
            x = self.to_model.finish(self.channels)  # all frames still to come
        return self._give(self._separate(x.to(self.device), final=True), final=True)

    def _separate(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        """Model-rate estimates :math:`(K, C, t)` that no later window changes."""
        self.window.append(x)
        done = []
        while len(self.window) >= self.chunk:  # a full window: all but its end is final
            est = self.run(self.window.view(self.chunk), self.chunk)
            # whether this window is the last is unknown; its end waits for the next one
            weight = _fade_weights(self.chunk, self.overlap, self.index == 0, False)
            weight = weight.to(self.device)
            head = est[..., : self.hop] * weight[: self.hop]
            if self.index:  # the previous window's faded end first, as separate() adds it
                head[..., : self.overlap] = self._faded_tail() + head[..., : self.overlap]
            done.append(head)
            self.tail, self.tail_weight = est[..., self.hop :], weight[self.hop :]
            self.window.drop(self.hop)
            self.index += 1
        if final:
            rest = len(self.window)
            if self.index == 0 and rest:  # shorter than a chunk: one pass, no crossfade
                done.append(self.run(self.window.view(rest), rest))
            elif self.index and rest > self.overlap:  # a shorter trailing window
                est = self.run(self.window.view(rest), self.chunk)
                est = est * _fade_weights(rest, self.overlap, False, True).to(self.device)
                est[..., : self.overlap] = self._faded_tail() + est[..., : self.overlap]
                done.append(est)
            elif self.index:  # the last full window ended the stream: no fade-out
                done.append(self.tail)
            self.window.drop(rest)
            self.tail = None
        if not done:
            return torch.zeros(self.outputs, self.channels, 0, device=self.device)
        return torch.cat(done, -1)

    def _faded_tail(self) -> torch.Tensor:
        return self.tail * self.tail_weight

    def _give(self, y: torch.Tensor, final: bool) -> Optional[torch.Tensor]:
        """Model-rate estimates to the input's rate; out what the input has reached."""
        rows = self.outputs * self.channels
        z = y.reshape(rows, -1)
        if self.to_input is not None:
            self.to_input.push(z)
            z = self.to_input.pull()
            if final:
                z = torch.cat([z, self.to_input.finish(rows)], -1)
        self.pending.append(z.cpu())
        # the output is as long as the input (separate() cuts or pads the resampled end)
        n = self.received - self.given
        if not final:
            n = min(n, len(self.pending))
        if n <= 0:
            return None
        out = self.pending.view(n).clone()  # the buffer's memory is reused
        if out.shape[-1] < n:
            out = torch.nn.functional.pad(out, (0, n - out.shape[-1]))
        out = out.reshape(self.outputs, self.channels, n)
        self.pending.drop(n)
        self.given += n
        if self.inputs is not None:
            res = self.inputs.view(n) - out.sum(0)
            self.inputs.drop(n)
            out = torch.cat([out, res[None]])
        return out


SELECTIONS = ("text", "oracle", "assignment")


def separate_batch(
    model: nn.Module,
    encoder,
    mix: torch.Tensor,
    queries: Optional[Sequence[Sequence[str]]] = None,
    *,
    negatives: Sequence[str] = (),
    references: Optional[torch.Tensor] = None,
    selection: str = "text",
    dtype: Optional[torch.dtype] = None,
) -> torch.Tensor:
    """The one separation path: validation, evaluation, examples and :class:`Separator`.

    A text-queried model answers each query with its mask; negative queries remove the
    union of their masks from every estimate. A model with learned queries (MixIT) gives
    its M outputs; each query then picks one (:func:`pick_outputs`): by the encoder's
    audio-text similarity (``selection="text"``), by SI-SDR against ``references``
    (``"oracle"``, an upper bound), or by the best one-to-one assignment of outputs to
    references (``"assignment"``, how unconditional PIT separators are scored).

    Args:
        model: A :class:`~asteroid_wsas.models.base.TextQueriedSeparator` at its own rate.
        encoder: Its frozen bimodal encoder (embeds the queries).
        mix: Mixtures :math:`(B, T)` at the model's rate.
        queries: B lists of K texts; None with learned queries: all M outputs.
        negatives: Texts whose masks are removed from every estimate (text-queried only).
        references: :math:`(B, K, T)`, for ``selection="oracle"``.
        selection: How a learned-query model picks outputs: ``"text"``, ``"oracle"`` or
            ``"assignment"``.
        dtype: Autocast to this dtype (None: leave the caller's autocast as it is).

    Returns:
        torch.Tensor: estimates :math:`(B, K, T)` (:math:`(B, M, T)` for ``queries=None``).

    Raises:
        ValueError: Bad selection, negatives for a learned-query model, no queries for a
            text-queried one, or oracle selection without references.
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    learned = getattr(model, "learned_queries", None)
    autocast = (
        torch.autocast(mix.device.type, dtype=dtype)
        if dtype is not None
        else contextlib.nullcontext()
    )
    if learned is not None:
        if negatives:
            raise ValueError(
                "negative queries need a text-conditioned separator; this one was trained "
                "with MixIT and answers a query by picking one of its fixed outputs"
            )
        with autocast:
            outs = model(mix, *learned(mix.shape[0], model.wants_tokens)).float()
        if queries is None:
            return outs
        if selection in ("oracle", "assignment"):
            if references is None:
                raise ValueError(f"selection={selection!r} needs the references")
            score = _si_sdr_matrix(references.to(outs.dtype), outs)
            if selection == "assignment":
                return assign_outputs(outs, score)
        else:
            embed, _, _ = encode_queries(encoder, queries, with_tokens=False)
            audio = encoder.embed_audio(outs.flatten(0, 1), int(model.sample_rate))
            score = embed.float() @ audio.float().unflatten(0, outs.shape[:2]).mT
        return pick_outputs(outs, score)
    if queries is None:
        raise ValueError("a text-queried separator needs queries")
    texts = [list(q) + list(negatives) for q in queries]
    n_q = len(texts[0]) - len(negatives)
    embed, tokens, mask = encode_queries(encoder, texts, model.wants_tokens)
    with autocast:
        masks, spec = model.forward_masks(mix, embed, tokens, mask)
    masks = masks.float()
    keep = masks[:, :n_q]
    if negatives:  # the union of the negatives' masks leaves every estimate
        keep = keep * torch.prod(1 - masks[:, n_q:], dim=1, keepdim=True)
    return model.istft(keep * spec.unsqueeze(1), mix.shape[-1])


def pick_outputs(outputs: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    """For each query the output it scores highest: :math:`(B, M, T)`, :math:`(B, K, M)`
    -> :math:`(B, K, T)`."""
    pick = score.argmax(-1)
    return outputs.gather(1, pick.unsqueeze(-1).expand(-1, -1, outputs.shape[-1]))


def assign_outputs(outputs: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    """For each mixture, the one-to-one assignment of outputs to queries with the highest
    total score in dB (Hungarian algorithm): :math:`(B, M, T)`, :math:`(B, K, M)` ->
    :math:`(B, K, T)`, ``K <= M``; the score is a ratio (SI-SDR not in dB)."""
    from scipy.optimize import linear_sum_assignment

    gain = 10 * torch.log10(score.double().clamp_min(1e-12)).cpu().numpy()
    picks = []
    for row in gain:
        queries, chosen = linear_sum_assignment(row, maximize=True)
        picks.append(torch.as_tensor(chosen[queries.argsort()], device=outputs.device))
    pick = torch.stack(picks)  # (B, K)
    return outputs.gather(1, pick.unsqueeze(-1).expand(-1, -1, outputs.shape[-1]))


def _si_sdr_matrix(refs: torch.Tensor, outs: torch.Tensor) -> torch.Tensor:
    """SI-SDR ratio (not in dB: only its order is used) of every output against every
    reference: :math:`(B, K, T)`, :math:`(B, M, T)` -> :math:`(B, K, M)`."""
    refs = refs - refs.mean(-1, keepdim=True)
    cent = outs - outs.mean(-1, keepdim=True)
    proj = (refs @ cent.mT) / refs.square().sum(-1, keepdim=True).clamp_min(1e-12)
    target = proj.unsqueeze(-1) * refs.unsqueeze(2)
    noise = cent.unsqueeze(1) - target
    return target.square().sum(-1) / noise.square().sum(-1).clamp_min(1e-12)


class Separator(nn.Module):
    """A text-queried separator ready for use: TextCondUNet + frozen encoder (+ queries).

    Args:
        model: A trained :class:`~asteroid_wsas.TextCondUNet`.
        encoder: Its bimodal encoder (the one it was trained with: its text embeds queries).
        encoder_name: How to load the encoder again (CLAP hub id or folder) when it is not
            saved inside the package; None for small encoders, which are saved inside.
        unconditioned_queries: Learned queries ``{"embed": (M, D), "tokens": (M, 1, E)}``
            of a model trained with MixIT, as files of earlier versions kept them beside the
            model; today the model carries them (``model.learned_queries``). Such a model
            gives M fixed outputs and each text query picks the one the encoder finds
            closest to it; negative queries are not available.

    Examples:
        >>> import torch
        >>> from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab
        >>> enc = TinyBimodalEncoder(build_vocab(["a dog barks", "a bell rings"]), 8000,
        ...                          embed_dim=16, token_dim=12).freeze()
        >>> model = TextCondUNet(8000, 126, 32, [8, 16, 16], [2], text_embed_dim=16,
        ...                      text_token_dim=12, n_heads=2, out_channels=4)
        >>> sep = Separator(model, enc)
        >>> out = sep.separate(torch.randn(2, 8000), ["a dog barks", "a bell rings"],
        ...                    sample_rate=16000)
        >>> tuple(out.estimates.shape)  # (queries, channels, time) at the input's rate
        (2, 2, 8000)
    """

    def __init__(
        self,
        model: TextCondUNet,
        encoder,
        encoder_name: Optional[str] = None,
        unconditioned_queries: Optional[Dict[str, torch.Tensor]] = None,
    ):
        super().__init__()
        self.model = model.eval()
        self.encoder = encoder.freeze() if hasattr(encoder, "freeze") else encoder
        self.encoder_name = encoder_name
        self.sample_rate = int(model.sample_rate)
        if unconditioned_queries is not None:
            embed = torch.as_tensor(unconditioned_queries["embed"]).float()
            if embed.dim() != 2 or embed.shape[-1] != model.text_embed_dim:
                raise ValueError(
                    f"unconditioned_queries['embed'] must be (M, {model.text_embed_dim}), "
                    f"got {tuple(embed.shape)}"
                )
            learned = model.add_learned_queries(embed.shape[0])
            with torch.no_grad():
                learned.embed.copy_(embed)
                learned.tokens.copy_(torch.as_tensor(unconditioned_queries["tokens"]).float())

    @property
    def learned_queries(self) -> bool:
        """Whether the model answers through learned queries (MixIT) instead of text."""
        return getattr(self.model, "learned_queries", None) is not None

    # ------------------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(
        cls,
        pretrained: Union[str, os.PathLike],
        *,
        sha256: Optional[str] = None,
        encoder=None,
    ) -> "Separator":
        """Load a separator package: a folder from :meth:`save_pretrained`, its
        ``separator.pth``, a URL or a Hugging Face hub id (Asteroid's hub utilities cache
        downloads), or a recipe's ``best_model.pth`` or its experiment folder (the encoder
        from the ``conf.yml`` beside it, or ``encoder``).

        Args:
            pretrained: Where the package is.
            sha256: Expected SHA-256 of the file; a mismatch raises.
            encoder: Use this encoder instead of the package's.

        Raises:
            ValueError: Missing file, failed download, checksum mismatch, or not a separator
                file.
        """
        source = os.fspath(pretrained)
        if os.path.isdir(source):
            recipe_file = os.path.join(source, "best_model.pth")
            source = os.path.join(source, SEPARATOR_FILE)
            if not os.path.exists(source) and os.path.exists(recipe_file):
                source = recipe_file  # a recipe's experiment folder
        if not os.path.exists(source) and not _looks_remote(source):
            raise ValueError(f"model {pretrained} not found (a folder, file, URL or hub id)")
        if os.path.exists(source):
            path = source
        else:
            try:
                path = _fetch(source)
            except Exception as err:  # offline, unknown repo, HTTP error: name the model
                raise ValueError(f"model {pretrained} could not be fetched ({err})") from None
        if sha256 is not None:
            digest = _sha256(path)
            if digest != sha256.lower():
                raise ValueError(f"sha256 of {path} is {digest}, expected {sha256}")
        try:
            package = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(f"{path} is not a separator file ({_reason(err)})") from None
        if not isinstance(package, dict):
            raise ValueError(
                f"{path} is not a separator file (it holds a {type(package).__name__}, not the "
                "dict that save_pretrained or a recipe writes)"
            )
        if "separator" in package:  # save_pretrained's package
            missing = [key for key in ("model", "encoder") if key not in package]
            if missing or not isinstance(package["model"], dict):
                what = f"no {' or '.join(missing)} entry" if missing else "its model is no dict"
                raise ValueError(f"{path} is not a separator file ({what})")
            model_package = dict(package["model"])
            if "unconditioned_queries" in package:  # written before the model carried them
                model_package["unconditioned_queries"] = package["unconditioned_queries"]
            spec = package["encoder"]
        else:  # a recipe's best_model.pth
            name = encoder_beside(path)
            model_package, spec = package, None if name is None else {"name": name}
        try:
            model = model_from_package(model_package)
        except ValueError as err:
            raise ValueError(f"{path} is not a separator file ({err})") from None
        if encoder is None:
            if spec is None:
                raise MissingEncoderError(path)
            encoder = load_encoder(spec, os.path.dirname(os.path.abspath(path)))
        name = spec.get("name") if isinstance(spec, dict) else None
        return cls(model, encoder, encoder_name=name)

    def save_pretrained(self, directory: Union[str, os.PathLike], force: bool = False) -> str:
        """Write ``<directory>/separator.pth``: the model, and the encoder (small ones
        inside the file; CLAP or a text-only encoder (BERT, CLIP) by its name, or saved to
        ``<directory>/encoder/`` when it was loaded from nowhere else).

        Returns:
            str: the file written.

        Raises:
            FileExistsError: The file exists and ``force`` is False.
        """
        from .encoders.clap import ClapEncoder
        from .encoders.clip import ClipEncoder
        from .encoders.text_only import TextOnlyEncoder

        os.makedirs(directory, exist_ok=True)
        path = os.path.join(os.fspath(directory), SEPARATOR_FILE)
        refuse_overwrite(path, force=force)
        if isinstance(self.encoder, (ClapEncoder, TextOnlyEncoder, ClipEncoder)):
            name = self.encoder_name
            if name is None:
                self.encoder.save_pretrained(os.path.join(directory, BUNDLED_ENCODER))
                name = BUNDLED_ENCODER  # relative to the package folder
            # a text-only / CLIP encoder's kind is the prefix load_encoder knows it by
            kind = "clap" if isinstance(self.encoder, ClapEncoder) else self.encoder.kind
            pooling = getattr(self.encoder, "pooling", "cls")
            if pooling != "cls" and "?pooling=" not in name:
                name += f"?pooling={pooling}"
            spec = {"kind": kind, "name": name}
        else:
            spec = {"kind": "small", "package": self.encoder.serialize()}
        package = {
            "separator": FORMAT_VERSION,
            "model": self.model.serialize(),
            "encoder": spec,
        }
        torch.save(package, path)
        return path

    # ---------------------------------------------------------------------- separation
    @torch.inference_mode()
    def separate(
        self,
        audio: AudioLike,
        queries: Union[QueryLike, Sequence[QueryLike]],
        *,
        sample_rate: Optional[int] = None,
        residual: bool = False,
        negative: Union[None, QueryLike, Sequence[QueryLike]] = None,
        chunk_seconds: Optional[float] = None,
        overlap_seconds: float = 1.0,
        device: Union[None, str, torch.device] = None,
        precision: str = "auto",
        progress: Union[bool, Callable[[int, int], Any]] = False,
    ) -> Separation:
        """Separate what each query describes.

        Args:
            audio: A file, or an array / tensor :math:`(T,)` or :math:`(C, T)`; channels are
                separated one by one (as a batch).
            queries: One query or a list; all are answered in one batched pass. A query is a
                text, or an image with an encoder of images (``clip_image:...``): a path as
                ``"image:PATH"`` or a ``pathlib.Path``, a PIL image, an array / tensor
                :math:`(H, W, 3)` or :math:`(3, H, W)` (uint8, or float in [0, 1]), or
                frames :math:`(F, 3, H, W)` (their mean embedding). Texts and images mix.
            sample_rate: The rate of an array or tensor (files carry theirs).
            residual: Also return the input minus the sum of the estimates.
            negative: Query (or queries) of what to remove: each estimate's mask is
                multiplied by one minus the mask of the negative query (several: their
                union).
            chunk_seconds: Separate in chunks of this length with ``overlap_seconds`` of
                linear crossfade (long files at flat memory); None: 10 s chunks for inputs
                longer than 10 s, one pass otherwise. Audio shorter than a chunk is
                separated in one pass. A chunk starts every ``chunk_seconds -
                overlap_seconds``; the last one, shorter, is separated zero-padded to a
                chunk (the windows :meth:`stream` cuts a stream into).
            overlap_seconds: Crossfade between chunks.
            device: Where to run (default: the model's device).
            precision: ``"auto"`` (bf16 where the hardware runs it fast), ``"bf16"`` or
                ``"fp32"``.
            progress: Show a progress bar over the chunks; a callable is called as
                ``progress(chunks_done, chunks_total)`` after each chunk instead (the web
                page's bar).

        Returns:
            Separation: estimates in query order, presence scores, levels (and residual);
            its ``queries`` name images ``"image:PATH"`` or ``"image <k>"``.

        Raises:
            ValueError: Bad audio, no query, empty query, unreadable image, or bad chunk
                settings.
            TypeError: An image query with an encoder that embeds text only.

        Examples:
            >>> result = separator.separate(  # doctest: +SKIP
            ...     "mix.wav", ["a violin", "image:frames/cello.jpg"])
        """
        names, queries = resolve_queries(queries, "queries")
        _, negatives = resolve_queries(negative, "negative", allow_empty=True)
        if not self.learned_queries:
            _warn_queries(self.encoder, names, queries)
        if negatives and self.learned_queries:
            raise ValueError(
                "negative needs a text-conditioned separator; this one was trained with MixIT "
                "and answers a query by picking one of its fixed outputs"
            )
        wav, rate, kind, one_d, x, device, dtype = self._prepare(
            audio, sample_rate, device, precision
        )
        chunk = x.shape[-1]
        if chunk_seconds is not None or x.shape[-1] > DEFAULT_CHUNK * self.sample_rate:
            chunk, overlap = self._chunk_sizes(chunk_seconds, overlap_seconds)
            windows = _crossfade_windows(x.shape[-1], chunk, overlap)
        else:
            windows = _crossfade_windows(chunk, chunk, 0)  # one pass

        # a learned-query model gives all M outputs per chunk; the queries pick outputs
        # once, on the whole file (the same output in every chunk)
        per_channel = None if self.learned_queries else [queries] * x.shape[0]
        out = None
        iterator = windows
        if progress is True and len(windows) > 1:
            from tqdm.auto import tqdm

            iterator = tqdm(windows, desc="separating", unit="chunk")
        for done, (start, stop, weight) in enumerate(iterator, 1):
            # a window after the first one pads to the chunk; the first is whole or a chunk
            size = chunk if start else stop - start
            est = self._separate_window(x[:, start:stop], size, per_channel, negatives, dtype)
            if out is None:
                out = torch.zeros(est.shape[0], *x.shape, device=device)
            if weight is not None:
                est = est * weight.to(device)
            out[:, :, start:stop] += est
            if callable(progress):
                progress(done, len(windows))

        extras = {}
        if not getattr(self.encoder, "has_audio", True) and not self.learned_queries:
            # a text-only query encoder (BERT) separates but cannot judge what it separated
            presence = [float("nan")] * len(queries)
        else:
            audio_embed = self._audio_embeddings(out)
            query_embed, _, _ = encode_queries(self.encoder, [queries], with_tokens=False)
            text_embed = torch.nn.functional.normalize(query_embed[0].float(), dim=-1)
            score = text_embed @ audio_embed.T  # (K, K) text-queried, (K, M) learned
            # a query's own estimate, or the closest of the M learned outputs
            best = score.max(-1).values if self.learned_queries else score.diagonal()
            presence = [float(v) for v in best]
        if self.learned_queries:  # each query picks the closest of the M outputs
            out = pick_outputs(out.flatten(1).unsqueeze(0), score.unsqueeze(0))[0]
            out = out.unflatten(-1, x.shape)
            extras["mixit_output"] = [int(k) for k in score.argmax(-1)]
        if rate != self.sample_rate:
            out = torchaudio.functional.resample(out, self.sample_rate, rate)
        out = _fit(out.cpu(), wav.shape[-1])
        energy = wav.square().mean().clamp_min(1e-12)
        level = [float(10 * torch.log10(e.square().mean().clamp_min(1e-12) / energy)) for e in out]
        res = wav - out.sum(0) if residual else None
        if one_d:
            out = out[:, 0]
            res = None if res is None else res[0]
        if kind != "torch":
            out = out.numpy()
            res = None if res is None else res.numpy()
        return Separation(names, out, rate, presence, level, res, extras)

    def stream(
        self,
        chunks: Iterable[Union[np.ndarray, torch.Tensor]],
        queries: Union[QueryLike, Sequence[QueryLike]],
        *,
        sample_rate: Optional[int] = None,
        chunk_seconds: Optional[float] = DEFAULT_CHUNK,
        overlap_seconds: float = 1.0,
        residual: bool = False,
        negative: Union[None, QueryLike, Sequence[QueryLike]] = None,
        precision: str = "auto",
        device: Union[None, str, torch.device] = None,
    ) -> Iterator[Union[np.ndarray, torch.Tensor]]:
        r"""Separate a stream block by block, at a fixed latency and flat memory.

        The stream is cut into the windows :meth:`separate` uses (a chunk every
        ``chunk_seconds - overlap_seconds``, linear crossfades, the last window shorter
        and zero-padded to a chunk), so the concatenated output equals ``separate()`` of
        the concatenated input with the same ``chunk_seconds``, ``overlap_seconds`` and
        ``precision``: to rounding at the model's rate; at another rate the input and the
        estimates are resampled as a stream with ``torchaudio.functional.resample``'s
        kernel (a few milliseconds of look-ahead), equal to resampling the whole signal up
        to float rounding. Each buffer (the window, the resamplers' queues, the input kept
        for the residual) holds at most about a chunk, whatever the stream's length.

        Latency: an output sample is given out at most ``stream_latency(sample_rate,
        chunk_seconds)`` input samples after its input sample arrived: ``chunk_seconds``
        at the model's rate, plus the two resamplers' look-ahead at another rate (see
        :meth:`stream_latency`). Blocks come out whenever a window is done (about every
        ``chunk_seconds - overlap_seconds``), not one per block in.

        Presence scores and levels are not computed (they need the whole estimates):
        use :meth:`separate` for them. A MixIT separator, which picks its outputs on the
        whole input, does not stream.

        Args:
            chunks: Blocks of audio, numpy or torch, :math:`(T,)` or :math:`(C, T)` with a
                fixed channel count, of any sizes (empty blocks are skipped).
            queries: As :meth:`separate`.
            sample_rate: The blocks' rate (None: the model's, ``separator.sample_rate``).
            chunk_seconds: Window length (None: 10 s).
            overlap_seconds: Crossfade between windows.
            residual: Also give the input minus the sum of the estimates, as a last row.
            negative: As :meth:`separate`.
            precision: ``"auto"``, ``"bf16"`` or ``"fp32"``.
            device: Where to run (default: the model's device).

        Returns:
            Iterator: blocks of estimates at the stream's rate, numpy for numpy blocks.

        Shape:
            - chunks: :math:`(C, t_i)` or :math:`(t_i,)`.
            - output blocks: :math:`(K, C, t_j)`, or :math:`(K, t_j)` for 1-D blocks
              (:math:`K + 1` rows with ``residual``); :math:`\sum_j t_j = \sum_i t_i`.

        Raises:
            ValueError: No query, bad chunk settings, a MixIT separator (at the call);
                a bad block or an empty stream (while iterating).

        Examples:
            >>> import soundfile as sf  # doctest: +SKIP
            >>> with sf.SoundFile("long.wav") as f, sf.SoundFile(  # doctest: +SKIP
            ...         "dog.wav", "w", f.samplerate, f.channels) as out:
            ...     blocks = (b.T for b in f.blocks(4096, always_2d=True, dtype="float32"))
            ...     for est in separator.stream(blocks, "a dog barks",
            ...                                 sample_rate=f.samplerate):
            ...         out.write(est[0].T)
        """
        names, resolved = resolve_queries(queries, "queries")
        _, negatives = resolve_queries(negative, "negative", allow_empty=True)
        if self.learned_queries:
            raise ValueError(
                "stream needs a text-conditioned separator; a MixIT separator picks its "
                "outputs on the whole input (use separate)"
            )
        _warn_queries(self.encoder, names, resolved)
        chunk, overlap = self._chunk_sizes(chunk_seconds, overlap_seconds)
        rate = self.sample_rate if sample_rate is None else int(sample_rate)
        if rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        device = torch.device(device) if device is not None else device_of(self.model)
        dtype = _autocast_dtype(device, precision)
        self.encoder.to(device)

        def run(window: torch.Tensor, size: int) -> torch.Tensor:
            queries_per_channel = [resolved] * window.shape[0]
            return self._separate_window(window, size, queries_per_channel, negatives, dtype)

        def start(channels: int) -> _Stream:
            return _Stream(
                run, len(names), channels, chunk, overlap, rate, self.sample_rate, device, residual
            )

        # pieces of at most a hop: a big block does not make any buffer bigger than that
        piece = max(1, (chunk - overlap) * rate // self.sample_rate)
        return self._stream_blocks(iter(chunks), start, piece)

    @torch.inference_mode()
    def _stream_blocks(
        self, chunks: Iterator, start: Callable[[int], _Stream], piece: int
    ) -> Iterator[Union[np.ndarray, torch.Tensor]]:
        """The generator of :meth:`stream` (arguments checked there, at the call)."""
        state, kind, one_d = None, None, False
        for index, block in enumerate(chunks):
            if not isinstance(block, (np.ndarray, torch.Tensor)):
                raise ValueError(f"block {index} is a {type(block).__name__}, not an array")
            wav = torch.as_tensor(block).detach().float().cpu()
            if wav.dim() == 1:
                wav = wav[None]
            if wav.dim() != 2 or (wav.shape[0] > 16 and wav.shape[1] <= 16):
                raise ValueError(
                    f"block {index} has shape {tuple(block.shape)}; blocks are (time,) or "
                    "(channels, time), channels first"
                )
            if wav.shape[-1] == 0:
                continue
            if not torch.isfinite(wav).all():
                raise ValueError(f"block {index} holds NaN or infinite values")
            if state is None:
                kind = "numpy" if isinstance(block, np.ndarray) else "torch"
                one_d = block.ndim == 1
                state = start(wav.shape[0])
            elif wav.shape[0] != state.channels:
                raise ValueError(
                    f"block {index} has {wav.shape[0]} channels, the stream {state.channels}"
                )
            for part in wav.split(piece, dim=-1):
                out = state.push(part)
                if out is not None:
                    yield _as_output(out, kind, one_d)
        if state is None:
            raise ValueError("the stream held no audio")
        out = state.finish()
        if out is not None:
            yield _as_output(out, kind, one_d)

    def stream_latency(
        self, sample_rate: Optional[int] = None, chunk_seconds: Optional[float] = DEFAULT_CHUNK
    ) -> int:
        r"""The most input samples :meth:`stream`'s output lags behind its input.

        Once the stream has taken :math:`n` samples (and the blocks before have been
        consumed), at least :math:`n - \text{latency}` output samples have come out. At the
        model's rate the latency is the chunk, :math:`c` samples; at another rate
        :math:`r` (model rate :math:`s`, :math:`g = \gcd(r, s)`) it adds the look-ahead
        of the two sinc resamplers, :math:`w_{in} + r/g` input samples and
        :math:`w_{out} + s/g` model samples (:math:`w`: the kernel's half-width):

        .. math::

            \text{latency} = \lceil w_{in} + r/g + (c + w_{out} + s/g) \, r / s \rceil

        Args:
            sample_rate: The stream's rate (None: the model's).
            chunk_seconds: As :meth:`stream`.

        Returns:
            int: the latency in samples at ``sample_rate``.

        Examples:
            >>> separator.stream_latency(44100, 10.0)  # an 8 kHz model  # doctest: +SKIP
            441955
        """
        chunk, _ = self._chunk_sizes(chunk_seconds, 0.0)
        rate = self.sample_rate if sample_rate is None else int(sample_rate)
        if rate == self.sample_rate:
            return chunk
        g = math.gcd(rate, self.sample_rate)
        look_in = _sinc_width(rate, self.sample_rate) + rate // g
        look_out = _sinc_width(self.sample_rate, rate) + self.sample_rate // g
        return math.ceil(look_in + (chunk + look_out) * rate / self.sample_rate)

    def _chunk_sizes(self, chunk_seconds: Optional[float], overlap_seconds: float):
        """Chunk and crossfade in model samples (the crossfade at most half a chunk)."""
        seconds = DEFAULT_CHUNK if chunk_seconds is None else float(chunk_seconds)
        if seconds <= 0 or overlap_seconds < 0 or overlap_seconds * 2 > seconds:
            raise ValueError(
                f"chunk_seconds must be > 2 * overlap_seconds > 0, got {chunk_seconds} "
                f"and {overlap_seconds}"
            )
        chunk = int(round(seconds * self.sample_rate))
        if chunk < 1:
            raise ValueError(f"chunk_seconds={chunk_seconds} is shorter than one sample")
        return chunk, min(int(round(overlap_seconds * self.sample_rate)), chunk // 2)

    def _separate_window(self, window, size, queries, negatives, dtype) -> torch.Tensor:
        """Estimates :math:`(K, C, L)` of one window :math:`(C, L)` at the model's rate. A
        window shorter than ``size`` (a trailing one) is separated zero-padded to it: the
        model sees every window of a plan at one length, never a sliver."""
        length = window.shape[-1]
        if length < size:
            window = torch.nn.functional.pad(window, (0, size - length))
        est = separate_batch(
            self.model, self.encoder, window, queries, negatives=negatives, dtype=dtype
        )
        return est.transpose(0, 1)[..., :length]

    @torch.inference_mode()
    def sound_of_pixels(
        self,
        audio: AudioLike,
        image: QueryLike,
        *,
        sample_rate: Optional[int] = None,
        device: Union[None, str, torch.device] = None,
        precision: str = "auto",
    ) -> "PixelSeparation":
        """Sound of Pixels at test time: every patch of a picture queries its own estimate.

        Each patch's projected CLIP feature (``ClipEncoder.encode_pixels``) is a query; the
        level of its estimate maps where in the picture the sound comes from. Meant for
        separators trained on the pooled feature map (SOP*, ``pooling=patch_max``); any
        separator with a CLIP encoder answers. One pass over the whole input (no chunks).

        Args:
            audio: As :meth:`separate`.
            image: One picture (``"image:PATH"``, a Path, a PIL image, an array or tensor) or
                frames :math:`(F, 3, H, W)`.
            sample_rate: The rate of an array or tensor.
            device: Where to run (default: the model's device).
            precision: ``"auto"``, ``"bf16"`` or ``"fp32"``.

        Returns:
            PixelSeparation: estimates :math:`(h, w, C, T)` ((h, w, T) for 1-D input) and
            the level map :math:`(h, w)` in dB relative to the input.

        Raises:
            TypeError: The encoder does not embed images.
            ValueError: A text instead of a picture, a MixIT separator, or bad audio.
        """
        if not getattr(self.encoder, "has_image", False):
            raise TypeError(
                "sound_of_pixels needs CLIP as the encoder (clip_image:...), "
                f"{type(self.encoder).__name__} embeds no images"
            )
        if self.learned_queries:
            raise ValueError("sound_of_pixels needs a query-conditioned separator, not MixIT's")
        _, resolved = resolve_queries([image], "image")
        if isinstance(resolved[0], str):
            raise ValueError(f"image must be a picture (e.g. 'image:PATH'), got text {image!r}")
        wav, rate, kind, one_d, x, device, dtype = self._prepare(
            audio, sample_rate, device, precision
        )
        embed, tokens, mask = self.encoder.encode_pixels(resolved[0])
        grid = int(round(embed.shape[0] ** 0.5))
        channels = x.shape[0]
        autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
        with autocast:
            masks, spec = self.model.forward_masks(
                x.to(device),
                embed.expand(channels, -1, -1),
                tokens.expand(channels, -1, -1, -1) if self.model.wants_tokens else None,
                mask.expand(channels, -1, -1) if self.model.wants_tokens else None,
            )
        out = self.model.istft(masks.float() * spec.unsqueeze(1), x.shape[-1])
        out = out.transpose(0, 1).contiguous()  # (h w, C, T)
        if rate != self.sample_rate:
            out = torchaudio.functional.resample(out, self.sample_rate, rate)
        out = _fit(out.cpu(), wav.shape[-1])  # (h w, C, T)
        energy = wav.square().mean().clamp_min(1e-12)
        level = 10 * torch.log10(out.square().mean((-1, -2)).clamp_min(1e-12) / energy)
        out = out.unflatten(0, (grid, grid))
        if one_d:
            out = out[:, :, 0]
        if kind != "torch":
            out = out.numpy()
        return PixelSeparation(out, rate, level.view(grid, grid).numpy())

    def _prepare(self, audio, sample_rate, device, precision):
        """The input as read, and at the model's rate on ``device`` (channels are the batch),
        with the device and the autocast dtype."""
        wav, rate, kind, one_d = load_audio(audio, sample_rate)
        device = torch.device(device) if device is not None else device_of(self.model)
        dtype = _autocast_dtype(device, precision)
        self.encoder.to(device)
        x = wav if rate == self.sample_rate else resample(wav, rate, self.sample_rate)
        n_fft = getattr(self.model, "n_fft", 0)
        if x.shape[-1] < n_fft:  # counted at the input's rate, which is what the user has
            # resample's output has ceil(n * model rate / rate) samples: the fewest n giving n_fft
            need = (n_fft - 1) * rate // self.sample_rate + 1
            raise ValueError(
                f"audio has {wav.shape[-1]} samples at {rate} Hz, fewer than the {need} of one "
                f"STFT frame of the model ({n_fft} samples at {self.sample_rate} Hz)"
            )
        return wav, rate, kind, one_d, x.to(device), device, dtype

    def _audio_embeddings(self, est: torch.Tensor, windows: int = 3) -> torch.Tensor:
        """Unit-norm encoder embedding :math:`(K, D)` of each estimate :math:`(K, C, T)`,
        from its ``windows`` loudest 10 s windows (mean over them and the channels): the
        cost does not grow with the length."""
        n_q, n_ch, length = est.shape
        size = min(length, 10 * self.sample_rate)
        pieces = est.reshape(n_q * n_ch, length)
        n_win = length // size
        frames = pieces[:, : n_win * size].reshape(n_q * n_ch, n_win, size)
        loudest = frames.square().mean(-1).topk(min(windows, n_win), dim=1).indices
        picked = torch.gather(frames, 1, loudest.unsqueeze(-1).expand(-1, -1, size))
        audio = self.encoder.embed_audio(picked.flatten(0, 1), self.sample_rate).float()
        audio = audio.reshape(n_q, -1, audio.shape[-1]).mean(1)
        return torch.nn.functional.normalize(audio, dim=-1)


def _reason(err: BaseException) -> str:
    """An exception as a short reason: its first line, with its type when that says more."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if len(text) < 20 or text.isdigit():  # e.g. KeyError's "101", an empty message
        return f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text


def _fetch(source: str) -> str:
    """A local copy of a URL (Asteroid's cache) or of a hub repo's separator.pth."""
    from .serialization import cached_download

    if source.startswith(("http://", "https://")):
        return cached_download(source)
    import huggingface_hub

    repo, _, revision = source.partition("@")
    try:  # a repo written by save_pretrained
        path = huggingface_hub.hf_hub_download(repo, SEPARATOR_FILE, revision=revision or None)
    except huggingface_hub.utils.EntryNotFoundError:  # Asteroid's naming (pytorch_model.bin)
        return cached_download(source)
    # an encoder saved beside the file (save_pretrained / publish: encoder/): into the same
    # snapshot folder, where from_pretrained looks for it
    package = torch.load(path, map_location="cpu", weights_only=True)
    spec = package.get("encoder") if isinstance(package, dict) else None
    name = spec.get("name") if isinstance(spec, dict) else None
    if isinstance(name, str) and name.split("?")[0] == BUNDLED_ENCODER:
        folder = huggingface_hub.snapshot_download(
            repo, revision=revision or None, allow_patterns=[f"{BUNDLED_ENCODER}/*"]
        )
        path = os.path.join(folder, SEPARATOR_FILE)
    return path


def _looks_remote(source: str) -> bool:
    return source.startswith(("http://", "https://")) or (
        source.count("/") == 1 and not source.startswith((".", "/")) and not source.endswith(".pth")
    )


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _autocast_dtype(device: torch.device, precision: str) -> Optional[torch.dtype]:
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if fast_bf16(device) else None


def _as_output(out: torch.Tensor, kind: str, one_d: bool) -> Union[np.ndarray, torch.Tensor]:
    """A stream's block as its input came: 1-D blocks give :math:`(K, t)`, numpy gives numpy."""
    if one_d:
        out = out[:, 0]
    return out.numpy() if kind == "numpy" else out


def _fit(wav: torch.Tensor, length: int) -> torch.Tensor:
    if wav.shape[-1] >= length:
        return wav[..., :length]
    return torch.nn.functional.pad(wav, (0, length - wav.shape[-1]))
