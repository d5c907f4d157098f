"""Separation for users: a trained TextCondUNet and its encoder, queried with text or images.

:class:`Separator` takes audio as a file, a numpy array or a tensor at any sample rate and
channel count, and any number of queries (texts; images too with CLIP as the encoder); it
returns one estimate per query at the input's rate and channel count, in one batched pass
per chunk.
"""

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torchaudio
from torchaudio.functional import resample
from torch import nn

from .encoders.base import Query, encode_queries
from .encoders.loading import encoder_beside, load_encoder
from .models import TextCondUNet
from .registry import model_from_package
from .utils import fast_bf16, refuse_overwrite

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
]

SEPARATOR_FILE = "separator.pth"
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


IMAGE_PREFIX = "image:"


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


def _crossfade_windows(length: int, chunk: int, overlap: int) -> List[tuple]:
    """(start, stop, weights) of chunks covering ``length`` whose weights sum to one."""
    if length <= chunk:
        return [(0, length, None)]
    hop = chunk - overlap
    starts = list(range(0, length - chunk, hop)) + [length - chunk]
    out = []
    for i, start in enumerate(starts):
        w = torch.ones(chunk)
        if i > 0:  # fade in over the overlap with the previous chunk
            fade = starts[i - 1] + chunk - start
            w[:fade] = torch.linspace(0, 1, fade + 2)[1:-1]
        if i < len(starts) - 1:
            fade = start + chunk - starts[i + 1]
            w[chunk - fade :] = torch.linspace(1, 0, fade + 2)[1:-1]
        out.append((start, start + chunk, w))
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
            raise ValueError(f"{path} is not a separator file ({err})") from None
        if "separator" in package:  # save_pretrained's package
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
                raise ValueError(
                    f"{path} holds no encoder and no conf.yml names one; pass encoder="
                )
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
                self.encoder.save_pretrained(os.path.join(directory, "encoder"))
                name = "encoder"  # relative to the package folder
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
                separated in one pass.
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
            seconds = DEFAULT_CHUNK if chunk_seconds is None else float(chunk_seconds)
            if seconds <= 0 or overlap_seconds < 0 or overlap_seconds * 2 > seconds:
                raise ValueError(
                    f"chunk_seconds must be > 2 * overlap_seconds > 0, got {chunk_seconds} "
                    f"and {overlap_seconds}"
                )
            chunk = min(x.shape[-1], int(round(seconds * self.sample_rate)))
        overlap = min(int(round(overlap_seconds * self.sample_rate)), chunk // 2)
        windows = _crossfade_windows(x.shape[-1], chunk, overlap)

        # a learned-query model gives all M outputs per chunk; the queries pick outputs
        # once, on the whole file (the same output in every chunk)
        per_channel = None if self.learned_queries else [queries] * x.shape[0]
        out = None
        iterator = windows
        if progress is True and len(windows) > 1:
            from tqdm.auto import tqdm

            iterator = tqdm(windows, desc="separating", unit="chunk")
        for done, (start, stop, weight) in enumerate(iterator, 1):
            est = separate_batch(
                self.model,
                self.encoder,
                x[:, start:stop],
                per_channel,
                negatives=negatives,
                dtype=dtype,
            ).transpose(
                0, 1
            )  # (K, C, L)
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
        device = torch.device(device) if device is not None else _device_of(self.model)
        dtype = _autocast_dtype(device, precision)
        self.encoder.to(device)
        x = wav if rate == self.sample_rate else resample(wav, rate, self.sample_rate)
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


def _fetch(source: str) -> str:
    """A local copy of a URL (Asteroid's cache) or of a hub repo's separator.pth."""
    from .serialization import cached_download

    if source.startswith(("http://", "https://")):
        return cached_download(source)
    import huggingface_hub

    repo, _, revision = source.partition("@")
    try:  # a repo written by save_pretrained
        return huggingface_hub.hf_hub_download(repo, SEPARATOR_FILE, revision=revision or None)
    except huggingface_hub.utils.EntryNotFoundError:  # Asteroid's naming (pytorch_model.bin)
        return cached_download(source)


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


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def _autocast_dtype(device: torch.device, precision: str) -> Optional[torch.dtype]:
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if fast_bf16(device) else None


def _fit(wav: torch.Tensor, length: int) -> torch.Tensor:
    if wav.shape[-1] >= length:
        return wav[..., :length]
    return torch.nn.functional.pad(wav, (0, length - wav.shape[-1]))
