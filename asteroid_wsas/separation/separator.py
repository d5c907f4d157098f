"""Separation for users: a trained TextCondUNet and its encoder, queried with text or images.

:class:`Separator` takes audio as a file, a numpy array or a tensor at any sample rate and
channel count, and any number of queries (texts; images too with CLIP as the encoder); it
returns one estimate per query at the input's rate and channel count, in one batched pass
per chunk. Each call encodes its queries once (:func:`~asteroid_wsas.separation.core.encode`)
and reuses them for every window and channel.
"""

import hashlib
import math
import os
from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np
import torch
import torchaudio
from torch import nn
from torchaudio.functional import resample

from ..encoders.loading import encoder_beside, load_encoder
from ..models import TextCondUNet
from ..models.registry import model_from_package
from ..utils import check_device, device_of, refuse_overwrite
from .audio_io import AudioLike, check_file_scale, load_audio, sf_path
from .contract import MissingEncoderError, check_sample_rate
from .core import (
    EncodedQueries,
    autocast_dtype,
    encode,
    fit_length,
    pick_outputs,
    separate_batch,
)
from .queries import QueryLike, resolve_queries, warn_queries
from .windows import (
    DEFAULT_CHUNK,
    FileWindows,
    ResampledReader,
    Stream,
    StreamResampler,
    chunk_sizes,
    overlap_add,
    overlap_add_blocks,
    resampled_length,
    stream_blocks,
    stream_latency,
)

__all__ = ["Separator", "Separation", "PixelSeparation", "SEPARATOR_FILE"]

SEPARATOR_FILE = "separator.pth"
# the folder beside SEPARATOR_FILE that holds an encoder saved with the package
BUNDLED_ENCODER = "encoder"
FORMAT_VERSION = 1


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
            at ``sample_rate``; numpy for file or numpy input, a tensor for tensor input;
            float32 in the [-1, 1] scale whatever the input's sample type (integer PCM
            input is scaled to it first: int16 / 32768, ...).
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
        if not os.path.exists(source) and os.path.isdir(os.fspath(pretrained)):
            raise ValueError(
                f"model folder {pretrained} holds no {SEPARATOR_FILE} (save_pretrained's) nor "
                "best_model.pth (a recipe's)"
            )
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
            raise ValueError(
                f"{path} is not a separator file (torch.load cannot read it: {_reason(err)})"
            ) from None
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
        else:  # a recipe's best_model.pth: the encoder its conf.yml names
            model_package, spec = package, None
            try:
                name = encoder_beside(path)
            except MissingEncoderError:
                if encoder is None:  # gone from where conf.yml says, and none given
                    raise
                name = None
            spec = None if name is None else {"name": name}
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
            ValueError: ``directory`` is a file.
        """
        from ..encoders.clap import ClapEncoder
        from ..encoders.clip import ClipEncoder
        from ..encoders.text_only import TextOnlyEncoder

        if os.path.exists(directory) and not os.path.isdir(directory):
            raise ValueError(f"{os.fspath(directory)} is a file; save_pretrained writes a folder")
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
                separated one by one (as a batch). Arrays hold floats, or integer PCM
                (int16, int32, int8, uint8), scaled to [-1, 1] as WAV readers do; the
                estimates are float32 in that scale. Complex, bool and other integer types
                are refused.
            queries: One query or a list; all are answered in one batched pass. A query is a
                text, or an image with an encoder of images (``clip_image:...``): a path as
                ``"image:PATH"`` or a ``pathlib.Path``, a PIL image, an array / tensor
                :math:`(H, W, 3)` or :math:`(3, H, W)` (uint8, or float in [0, 1]), or
                frames :math:`(F, 3, H, W)` (their mean embedding). Texts and images mix.
            sample_rate: The rate of an array or tensor (files carry theirs): a positive
                whole number of Hz (``16000.0`` is taken, ``44.1`` is refused).
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
            device: Where to run (default: the model's device); one this machine has.
            precision: ``"auto"`` (bf16 where the hardware runs it fast), ``"bf16"`` or
                ``"fp32"``.
            progress: Show a progress bar over the chunks; a callable is called as
                ``progress(chunks_done, chunks_total)`` after each chunk instead (the web
                page's bar).

        Returns:
            Separation: estimates in query order, presence scores, levels (and residual);
            its ``queries`` name images ``"image:PATH"`` or ``"image <k>"``.

        Raises:
            ValueError: Bad audio or sample rate, no query, empty query, unreadable image,
                bad chunk settings (not finite, or a chunk shorter than the model's STFT
                window), or a device this machine does not have.
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
        # checked whether or not the input is long enough to need them
        sizes = self.check_windows(chunk_seconds, overlap_seconds)
        wav, rate, kind, one_d, x, device, dtype = self._prepare(
            audio, sample_rate, device, precision
        )
        # once per call: every window and channel reuses them, and so do the presence scores
        tokens = self.model.wants_tokens and not self.learned_queries
        encoded = encode(self.encoder, [queries], negatives, with_tokens=tokens)
        if not self.learned_queries:
            warn_queries(self.encoder, names, queries, encoded.embed[0, : len(queries)])
        chunk, overlap = x.shape[-1], 0  # one pass
        if chunk_seconds is not None or x.shape[-1] > DEFAULT_CHUNK * self.sample_rate:
            chunk, overlap = sizes
        # a learned-query model gives all M outputs per chunk; the queries pick outputs
        # once, on the whole file (the same output in every chunk)
        asked = None if self.learned_queries else encoded

        def run(window: torch.Tensor, size: int) -> torch.Tensor:
            return self._separate_window(window, size, asked, dtype)

        out = overlap_add(x, chunk, overlap, run, progress)
        extras = {}
        if not getattr(self.encoder, "has_audio", True) and not self.learned_queries:
            # a text-only query encoder (BERT) separates but cannot judge what it separated
            presence = [float("nan")] * len(queries)
        else:
            audio_embed = self._audio_embeddings(out)
            text_embed = encoded.embed[0, : len(queries)].float()
            score = torch.nn.functional.normalize(text_embed, dim=-1) @ audio_embed.T
            # (K, K) text-queried: a query's own estimate; (K, M) learned: the closest output
            best = score.max(-1).values if self.learned_queries else score.diagonal()
            presence = [float(v) for v in best]
        if self.learned_queries:  # each query picks the closest of the M outputs
            out = pick_outputs(out.flatten(1).unsqueeze(0), score.unsqueeze(0))[0]
            out = out.unflatten(-1, x.shape)
            extras["mixit_output"] = [int(k) for k in score.argmax(-1)]
        out = self._to_input(out, rate, wav.shape[-1])
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
    def separate_file(
        self,
        path: Union[str, os.PathLike],
        queries: Union[QueryLike, Sequence[QueryLike]],
        write: Callable[[np.ndarray], Any],
        *,
        residual: bool = False,
        negative: Union[None, QueryLike, Sequence[QueryLike]] = None,
        chunk_seconds: Optional[float] = None,
        overlap_seconds: float = 1.0,
        device: Union[None, str, torch.device] = None,
        precision: str = "auto",
        progress: Union[bool, Callable[[int, int], Any]] = False,
    ) -> Separation:
        """:meth:`separate` of a file, read and given out block by block: memory stays flat
        however long the file.

        The file is read forward as the windows need it, and each block of estimates is
        handed to ``write`` as soon as no later window changes it. The windows, weights and
        sums are :meth:`separate`'s own (one generator,
        :func:`~asteroid_wsas.separation.windows.overlap_add_blocks`), so at the model's
        rate the blocks, concatenated, are ``separate(path, ...)``'s estimates (and
        residual) sample for sample, and so are the presence scores; the levels are summed
        block by block, equal to :meth:`separate`'s to about 1e-4 dB. At another rate the
        input and the estimates are resampled as streams with the kernel of
        ``torchaudio.functional.resample`` (as :meth:`stream` does), equal to
        :meth:`separate`'s resampling of the whole signals up to float rounding (1e-5).

        Args:
            path: A file libsndfile reads (WAV, FLAC, Ogg, ...), at any rate.
            queries: As :meth:`separate`.
            write: Called with each block :math:`(K, C, t)` (:math:`K + 1` rows with
                ``residual``: the residual last), numpy float32, in order.
            residual: Also give the input minus the sum of the estimates.
            negative: As :meth:`separate`.
            chunk_seconds: As :meth:`separate` (None: 10 s windows beyond 10 s).
            overlap_seconds: As :meth:`separate`.
            device: Where to run (default: the model's device).
            precision: ``"auto"``, ``"bf16"`` or ``"fp32"``.
            progress: As :meth:`separate`.

        Returns:
            Separation: presence scores and levels; ``estimates`` and ``residual`` are None
            (they went to ``write``).

        Raises:
            ValueError: A file libsndfile cannot read, empty or shorter than one STFT
                frame, or ending before its header says; a MixIT separator
                (it picks its outputs on the whole input: use :meth:`separate`); bad queries
                or chunk settings.

        Examples:
            >>> import soundfile as sf  # doctest: +SKIP
            >>> files = [sf.SoundFile(f, "w", 8000, 1)  # doctest: +SKIP
            ...          for f in ("dog.wav", "bell.wav")]
            >>> def write(block):  # doctest: +SKIP
            ...     for f, rows in zip(files, block):
            ...         f.write(rows.T)
            >>> result = separator.separate_file(  # doctest: +SKIP
            ...     "long.wav", ["a dog barks", "a bell rings"], write)
        """
        import soundfile as sf

        names, resolved = resolve_queries(queries, "queries")
        _, negatives = resolve_queries(negative, "negative", allow_empty=True)
        if self.learned_queries:
            raise ValueError(
                "separate_file needs a text-conditioned separator; a MixIT separator picks its "
                "outputs on the whole input (use separate)"
            )
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ValueError(f"audio file {path} not found")
        try:
            reader = sf.SoundFile(sf_path(path))  # bytes: a name that is not UTF-8 opens
        except Exception as err:  # soundfile raises its own error types
            raise ValueError(f"audio file {path} is not readable audio ({err})") from None
        with reader:
            rate, length = reader.samplerate, reader.frames
            if length <= 0:
                raise ValueError(f"audio file {path} is empty")
            check_file_scale(reader, path)  # integer PCM stored as float: as separate() says
            resampled = rate != self.sample_rate
            # separate() resamples the whole input: torchaudio's output length
            model_length = resampled_length(length, rate, self.sample_rate)
            self._refuse_short(model_length, length, rate)
            encoded, device, dtype = self._text_queries(
                names, resolved, negatives, device, precision
            )
            chunk, overlap = self._windows(model_length, chunk_seconds, overlap_seconds)
            n_q, n_ch = len(names), reader.channels
            if resampled:  # to the model's rate and back as streams, as stream() does
                inputs = ResampledReader(reader, length, self.sample_rate, path)
                back = StreamResampler(self.sample_rate, rate, device)
            source = FileWindows(inputs if resampled else reader, model_length, path)

            def window(start: int, stop: int) -> torch.Tensor:
                return source(start, stop).to(device)

            def run(piece: torch.Tensor, size: int) -> torch.Tensor:
                return self._separate_window(piece, size, encoded, dtype)

            loudest = LoudestFrames(n_q * n_ch, min(model_length, 10 * self.sample_rate), 3)
            # sums of squares, in float64: separate()'s means over the whole signals
            energy, energies, given = 0.0, torch.zeros(n_q, dtype=torch.float64), 0

            def give(est: torch.Tensor) -> None:
                """Out: estimates (K, C, n) at the input's rate, from sample ``given`` on."""
                nonlocal energy, energies, given
                n = est.shape[-1]
                wav = inputs.take(n) if resampled else source(given, given + n)
                energy += float(wav.double().square().sum())
                energies += est.double().square().sum((1, 2))
                if residual:
                    est = torch.cat([est, (wav - est.sum(0))[None]])
                write(est.numpy())
                given += n

            at = 0  # model samples done
            for block in overlap_add_blocks(window, model_length, chunk, overlap, run, progress):
                loudest.push(block.reshape(n_q * n_ch, -1))
                at += block.shape[-1]
                if not resampled:
                    give(block.cpu())
                    source.release(at)
                    continue
                source.release(at)
                back.push(block.reshape(n_q * n_ch, -1))
                give(back.pull()[:, : length - given].cpu().reshape(n_q, n_ch, -1))
            if resampled:  # the resampler's end, cut or zero-padded to the input's length
                rest = fit_length(
                    back.finish(n_q * n_ch)[:, : length - given].cpu(), length - given
                )
                give(rest.reshape(n_q, n_ch, -1))
        if not getattr(self.encoder, "has_audio", True):  # a text-only query encoder
            presence = [float("nan")] * n_q
        else:
            audio_embed = _embed_frames(self.encoder, self.sample_rate, loudest.picked(), n_q)
            text_embed = encoded.embed[0, :n_q].float()
            score = torch.nn.functional.normalize(text_embed, dim=-1) @ audio_embed.T
            presence = [float(v) for v in score.diagonal()]
        count = n_ch * length
        floor = max(energy / count, 1e-12)
        level = [10 * math.log10(max(float(e) / count, 1e-12) / floor) for e in energies]
        return Separation(names, None, rate, presence, level)

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
        check_scale: bool = True,
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
                fixed channel count, of any sizes (empty blocks are skipped); floats or
                integer PCM, as :meth:`separate` takes them (the output is float32 in the
                [-1, 1] scale).
            queries: As :meth:`separate`.
            sample_rate: The blocks' rate (None: the model's, ``separator.sample_rate``), a
                positive whole number of Hz.
            chunk_seconds: Window length (None: 10 s).
            overlap_seconds: Crossfade between windows.
            residual: Also give the input minus the sum of the estimates, as a last row.
            negative: As :meth:`separate`.
            precision: ``"auto"``, ``"bf16"`` or ``"fp32"``.
            device: Where to run (default: the model's device).
            check_scale: Warn (:class:`~asteroid_wsas.separation.audio_io.ScaleWarning`,
                once per stream) about float blocks of integer scale; False where the
                caller checks the source itself (a file's reader says it as the file's).

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
        chunk, overlap = self.check_windows(chunk_seconds, overlap_seconds)
        rate = self.sample_rate if sample_rate is None else check_sample_rate(sample_rate)
        # once per stream, not per window and channel
        encoded, device, dtype = self._text_queries(names, resolved, negatives, device, precision)

        def run(window: torch.Tensor, size: int) -> torch.Tensor:
            return self._separate_window(window, size, encoded, dtype)

        def start(channels: int) -> Stream:
            return Stream(
                run, len(names), channels, chunk, overlap, rate, self.sample_rate, device, residual
            )

        # pieces of at most a hop: a big block does not make any buffer bigger than that
        piece = max(1, (chunk - overlap) * rate // self.sample_rate)
        return self._stream_blocks(iter(chunks), start, piece, check_scale)

    @torch.inference_mode()
    def _stream_blocks(
        self, chunks: Iterator, start: Callable[[int], Stream], piece: int, check_scale: bool
    ) -> Iterator[Union[np.ndarray, torch.Tensor]]:
        """The generator of :meth:`stream` (arguments checked there, at the call), in
        inference mode."""
        yield from stream_blocks(chunks, start, piece, check_scale)

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
        chunk, _ = self.check_windows(chunk_seconds, 0.0)
        rate = self.sample_rate if sample_rate is None else check_sample_rate(sample_rate)
        return stream_latency(rate, self.sample_rate, chunk)

    def check_windows(
        self,
        chunk_seconds: Optional[float],
        overlap_seconds: float = 1.0,
        names: Tuple[str, str] = ("chunk_seconds", "overlap_seconds"),
    ) -> Tuple[int, int]:
        """The one check of :meth:`separate`'s and :meth:`stream`'s window settings against
        this model: finite numbers, a crossfade at most half the chunk, and a chunk at least
        the model's STFT window.

        Args:
            chunk_seconds: Window length (None: 10 s).
            overlap_seconds: Crossfade between windows.
            names: The settings' names in messages (``--chunk-seconds`` on the command line).

        Returns:
            tuple: ``(chunk, overlap)`` in samples at the model's rate.

        Raises:
            ValueError: A bad setting, naming it and the shortest chunk the model takes.
        """
        n_fft = int(getattr(self.model, "n_fft", 1))
        return chunk_sizes(chunk_seconds, overlap_seconds, self.sample_rate, n_fft, names)

    def _separate_window(
        self,
        window: torch.Tensor,
        size: int,
        queries: Optional[EncodedQueries],
        dtype: Optional[torch.dtype],
    ) -> torch.Tensor:
        """Estimates :math:`(K, C, L)` of one window :math:`(C, L)` at the model's rate (the
        channels are the batch; ``queries`` encoded once, None: a learned-query model's M
        outputs). A window shorter than ``size`` (a trailing one) is separated zero-padded
        to it: the model sees every window of a plan at one length, never a sliver."""
        length = window.shape[-1]
        if length < size:
            window = torch.nn.functional.pad(window, (0, size - length))
        est = separate_batch(self.model, self.encoder, window, queries, dtype=dtype)
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
        # every patch a query of the one batch that the channels share
        if self.model.wants_tokens:
            pixels = EncodedQueries(embed[None], tokens[None], mask[None])
        else:
            pixels = EncodedQueries(embed[None])
        out = separate_batch(self.model, self.encoder, x, pixels, dtype=dtype)
        out = out.transpose(0, 1).contiguous()  # (h w, C, T)
        out = self._to_input(out, rate, wav.shape[-1])
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
        device = check_device(device) if device is not None else device_of(self.model)
        dtype = autocast_dtype(device, precision)
        self.encoder.to(device)
        x = wav if rate == self.sample_rate else resample(wav, rate, self.sample_rate)
        self._refuse_short(x.shape[-1], wav.shape[-1], rate)
        return wav, rate, kind, one_d, x.to(device), device, dtype

    @torch.inference_mode()
    def _text_queries(self, names, resolved, negatives, device, precision):
        """A text-queried separator's queries encoded once (and warned about), with the
        device and the autocast dtype (:meth:`stream`, :meth:`separate_file`)."""
        device = check_device(device) if device is not None else device_of(self.model)
        dtype = autocast_dtype(device, precision)
        self.encoder.to(device)
        with torch.inference_mode():  # a generator's caller may run outside inference mode
            encoded = encode(self.encoder, [resolved], negatives, self.model.wants_tokens)
        warn_queries(self.encoder, names, resolved, encoded.embed[0, : len(resolved)])
        return encoded, device, dtype

    def _refuse_short(self, model_samples: int, samples: int, rate: int) -> None:
        """Raise for an input shorter than one STFT frame of the model."""
        n_fft = getattr(self.model, "n_fft", 0)
        if model_samples < n_fft:  # counted at the input's rate, which is what the user has
            # resample's output has ceil(n * model rate / rate) samples: the fewest n giving n_fft
            need = (n_fft - 1) * rate // self.sample_rate + 1
            raise ValueError(
                f"audio has {samples} samples at {rate} Hz, fewer than the {need} of one "
                f"STFT frame of the model ({n_fft} samples at {self.sample_rate} Hz)"
            )

    def _windows(
        self, length: int, chunk_seconds: Optional[float], overlap_seconds: float
    ) -> Tuple[int, int]:
        """:meth:`separate`'s window and crossfade (model samples) for ``length`` model
        samples: one pass up to 10 s unless ``chunk_seconds`` is given (checked either way:
        :meth:`check_windows`)."""
        sizes = self.check_windows(chunk_seconds, overlap_seconds)
        if chunk_seconds is None and length <= DEFAULT_CHUNK * self.sample_rate:
            return length, 0
        return sizes

    def _to_input(self, out: torch.Tensor, rate: int, length: int) -> torch.Tensor:
        """Estimates at the model's rate, back at the input's rate and length, on the CPU."""
        if rate != self.sample_rate:
            out = torchaudio.functional.resample(out, self.sample_rate, rate)
        return fit_length(out.cpu(), length)

    def _audio_embeddings(self, est: torch.Tensor, windows: int = 3) -> torch.Tensor:
        """Unit-norm encoder embedding :math:`(K, D)` of each estimate :math:`(K, C, T)`,
        from its ``windows`` loudest 10 s windows (mean over them and the channels): the
        cost does not grow with the length. Uses ``self.encoder`` and ``self.sample_rate``
        only (CLAPScore calls it on a stand-in)."""
        n_q, n_ch, length = est.shape
        loudest = LoudestFrames(n_q * n_ch, min(length, 10 * self.sample_rate), windows)
        loudest.push(est.reshape(n_q * n_ch, length))
        return _embed_frames(self.encoder, self.sample_rate, loudest.picked(), n_q)


class LoudestFrames:
    """The ``count`` loudest frames of ``size`` samples of each row of a signal that comes
    in blocks: what presence scores embed (:meth:`Separator._audio_embeddings`).

    Frames start at multiples of ``size``; a last, partial frame is left out. Each frame's
    level is computed once, on the frame alone, so the frames picked do not depend on how
    the signal was cut into blocks. The frame being filled and the ``count`` kept per row
    live in buffers allocated once: nothing is allocated per frame that outlives it, so a
    long signal does not scatter the heap (memory stays flat).

    Args:
        rows: Signals side by side (queries times channels).
        size: Frame length in samples.
        count: Frames picked per row (of equal levels, the earlier frame).

    Examples:
        >>> frames = LoudestFrames(1, 2, 1)
        >>> frames.push(torch.tensor([[0.1, 0.1, 1.0]])); frames.push(torch.tensor([[1.0, 0.0]]))
        >>> frames.picked()  # (rows, count, size): the second frame, [1, 1]
        tensor([[[1., 1.]]])
    """

    def __init__(self, rows: int, size: int, count: int):
        self.rows, self.size, self.count = rows, size, count
        self.partial: Optional[torch.Tensor] = None  # (rows, size): the frame being filled
        self.filled = 0
        self.kept: Optional[torch.Tensor] = None  # (rows, count, size)
        self.levels = [[-math.inf] * count for _ in range(rows)]  # of the kept frames
        self.indices = [[-1] * count for _ in range(rows)]  # their frame numbers
        self.frames = 0  # frames seen

    def push(self, block: torch.Tensor) -> None:
        """Take the next samples :math:`(rows, t)`."""
        if self.partial is None:
            self.partial = torch.zeros(self.rows, self.size, device=block.device)
            self.kept = torch.zeros(self.rows, self.count, self.size, device=block.device)
        at = 0
        while at < block.shape[-1]:
            take = min(self.size - self.filled, block.shape[-1] - at)
            self.partial[:, self.filled : self.filled + take] = block[:, at : at + take]
            self.filled += take
            at += take
            if self.filled == self.size:
                self._frame()
                self.filled = 0

    def _frame(self) -> None:
        level = self.partial.square().mean(-1).tolist()
        for row in range(self.rows):
            levels = self.levels[row]
            weakest = min(range(self.count), key=lambda k: (levels[k], -self.indices[row][k]))
            if level[row] > levels[weakest]:  # strictly: of equal ones, the earlier stays
                self.kept[row, weakest] = self.partial[row]
                levels[weakest], self.indices[row][weakest] = level[row], self.frames
        self.frames += 1

    def picked(self) -> torch.Tensor:
        """The loudest frames :math:`(rows, n, size)`, loudest first (the earlier of equal
        ones first; :math:`n` = ``min(count, frames)``)."""
        n = min(self.count, self.frames)
        order = [
            sorted(range(self.count), key=lambda k: (-levels[k], indices[k]))[:n]
            for levels, indices in zip(self.levels, self.indices)
        ]
        return torch.stack([self.kept[row, slots] for row, slots in enumerate(order)])


def _embed_frames(encoder, sample_rate: int, picked: torch.Tensor, n_q: int) -> torch.Tensor:
    """Unit-norm embedding :math:`(K, D)` of each query's picked frames :math:`(K C, n, L)`:
    the mean over its frames and channels."""
    audio = encoder.embed_audio(picked.flatten(0, 1), sample_rate).float()
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
    from ..serialization import cached_download

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
