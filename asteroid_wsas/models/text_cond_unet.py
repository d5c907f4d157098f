"""TextCondUNet: the text-queried spectrogram U-Net of Mahmud et al. (ICLR 2024)."""

import contextlib
import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from asteroid.masknn import activations
from torch import nn

from .base import SafeBaseModel
from .batchnorm import BN_STATS, QueryBatchNorm2d
from .blocks import DownBlock, InnerProductHead, TextAttention, UpBlock, repeat_queries
from .inputs import check_inputs, restore_dims
from .queries import LearnedQueries
from .stft import STFT

CONDITIONINGS = ("attention", "film", "late")
MASK_ACTIVATIONS = ("sigmoid", "relu", "leaky_relu", "linear")
# Queries per pass for CPU inference (bench/model_speed.py: fastest of 1, 2, 4, 8 on 2 cores).
CPU_QUERY_GROUP = 4


class TextCondUNet(SafeBaseModel):
    """Text-queried separator: STFT -> conditional U-Net -> ratio mask -> iSTFT.

    The "modified conditional U-Net" of Mahmud et al., "Weakly-supervised Audio Separation
    via Bi-modal Semantic Similarity" (ICLR 2024). Defaults reproduce the authors'
    configuration (87.7 M parameters): 16 kHz, STFT 1022 / 256 (Hann), 7 levels of
    64-128-256-512-512-512-512 channels, self- then cross-attention over the CLAP text token
    states at the three innermost levels, and an inner-product head driven by the pooled
    CLAP text embedding.

    Text enters the network in one of three ways (``conditioning``):

    - ``"attention"`` (default): self-attention then cross-attention to ``text_tokens`` after
      the down path of each level in ``attention_levels``, plus the inner-product head.
    - ``"film"``: FiLM from ``text_embed`` in every residual block (LASS-Net / AudioSep
      style), plus the inner-product head. ``text_tokens`` are not needed.
    - ``"late"``: the inner-product head only (CLIPSep); the U-Net itself sees no text.

    Levels above the first conditioned one see no text: the STFT, their down path and the
    skip half of their up convolutions run once per mixture and are shared by all K queries
    of that mixture. Conv weights are channels-last from construction on (faster
    convolutions on CPU and GPU).

    Args:
        sample_rate: Operating sample rate in Hz.
        n_fft: STFT size (Hann window of the same length).
        hop_length: STFT hop.
        channels: Channels of each U-Net level, outermost first; ``len(channels)`` is the
            number of levels (each halves both spectrogram axes).
        attention_levels: Level indices (0 = outermost, negatives count from the innermost)
            that get attention blocks when ``conditioning="attention"``. None: the three
            innermost levels.
        conditioning: ``"attention"``, ``"film"`` or ``"late"``.
        text_embed_dim: Size of the pooled text embedding (CLAP: 512).
        text_token_dim: Size of the text token states (CLAP RoBERTa: 768).
        n_heads: Attention heads.
        mlp_ratio: Hidden size of the attention blocks' MLPs relative to their width.
        n_res_layers: Conv layers per residual block.
        out_channels: Channels of the U-Net output mixed by the inner-product head.
        mask_activation: Mask nonlinearity, one of ``"sigmoid"`` (ratio mask in [0, 1]),
            ``"relu"``, ``"leaky_relu"``, ``"linear"``.
        n_learned_queries: M > 0 gives the model M learned queries
            (:class:`~asteroid_wsas.models.queries.LearnedQueries`, MixIT's fixed outputs)
            that take the text's place; 0 (default): text queries only.

    Shape:
        - wav: :math:`(T,)`, :math:`(B, T)` or :math:`(B, 1, T)`.
        - text_embed: :math:`(D,)` / :math:`(K, D)` for a 1-D ``wav``; :math:`(B, D)` or
          :math:`(B, K, D)` otherwise.
        - text_tokens: ``text_embed.shape[:-1] + (L, E)``.
        - text_mask: ``text_embed.shape[:-1] + (L,)``, 1/True for real tokens, 0/False for
          padding (the tokenizer's ``attention_mask``).
        - output: ``wav`` batch dims + ``text_embed`` query dim + :math:`(T,)`, e.g.
          :math:`(B, T)` for one query per mixture and :math:`(B, K, T)` for K.

    Examples:
        >>> model = TextCondUNet(n_fft=126, hop_length=32, channels=[8, 16, 16],
        ...                      text_embed_dim=16, text_token_dim=12, n_heads=2).eval()
        >>> wav = torch.randn(2, 8000)
        >>> embed, tokens = torch.randn(2, 3, 16), torch.randn(2, 3, 5, 12)
        >>> model(wav, embed, tokens).shape
        torch.Size([2, 3, 8000])
    """

    def __init__(
        self,
        sample_rate: float = 16000,
        n_fft: int = 1022,
        hop_length: int = 256,
        channels: Sequence[int] = (64, 128, 256, 512, 512, 512, 512),
        attention_levels: Optional[Sequence[int]] = None,
        conditioning: str = "attention",
        text_embed_dim: int = 512,
        text_token_dim: int = 768,
        n_heads: int = 8,
        mlp_ratio: float = 2.0,
        n_res_layers: int = 1,
        out_channels: int = 32,
        mask_activation: str = "sigmoid",
        n_learned_queries: int = 0,
    ):
        super().__init__(sample_rate=sample_rate, in_channels=1)
        channels = [int(c) for c in channels]
        n_levels = len(channels)
        if n_levels < 1 or min(channels) < 1:
            raise ValueError(f"channels must be a non-empty list of positive ints, got {channels}")
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        if mask_activation not in MASK_ACTIVATIONS:
            raise ValueError(
                f"mask_activation must be one of {MASK_ACTIVATIONS}, got {mask_activation!r}"
            )
        if n_fft < 2 or hop_length < 1 or hop_length > n_fft:
            raise ValueError(f"need 1 <= hop_length <= n_fft, got n_fft={n_fft}, hop={hop_length}")
        if n_res_layers < 0 or (conditioning == "film" and n_res_layers < 1):
            raise ValueError(
                f"n_res_layers must be >= 0, and >= 1 for FiLM (which sits in the residual "
                f"blocks), got {n_res_layers} with conditioning={conditioning!r}"
            )
        if attention_levels is None:
            attention_levels = list(range(max(n_levels - 3, 0), n_levels))
        if any(not -n_levels <= int(i) < n_levels for i in attention_levels):
            raise ValueError(
                f"attention_levels must index the {n_levels} levels, got {list(attention_levels)}"
            )
        resolved = sorted({int(i) % n_levels for i in attention_levels})

        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.channels = channels
        self.attention_levels = resolved
        self.conditioning = conditioning
        self.text_embed_dim = int(text_embed_dim)
        self.text_token_dim = int(text_token_dim)
        self.n_heads = int(n_heads)
        self.mlp_ratio = float(mlp_ratio)
        self.n_res_layers = int(n_res_layers)
        self.out_channels = int(out_channels)
        self.mask_activation = mask_activation

        if conditioning == "attention":
            conditioned = resolved
        elif conditioning == "film":
            conditioned = list(range(n_levels))
        else:
            conditioned = []
        # Everything above this level is text-free and shared by the queries of a mixture.
        self.first_conditioned_level = min(conditioned, default=n_levels)

        film_dim = self.text_embed_dim if conditioning == "film" else None
        self.input_norm = QueryBatchNorm2d(1)
        ins = [1] + channels[:-1]
        self.down = nn.ModuleList(
            DownBlock(i, o, n_res_layers, film_dim) for i, o in zip(ins, channels)
        )
        self.up = nn.ModuleList(
            UpBlock(
                2 * c if level < n_levels - 1 else c,
                out_channels if level == 0 else ins[level],
                n_res_layers,
                film_dim,
                is_output=level == 0,
            )
            for level, c in enumerate(channels)
        )
        self.attention = nn.ModuleDict(
            {
                str(level): TextAttention(channels[level], self.text_token_dim, n_heads, mlp_ratio)
                for level in (resolved if conditioning == "attention" else [])
            }
        )
        self.head = InnerProductHead(self.text_embed_dim, out_channels)
        self.mask_nl = activations.get(mask_activation)()
        self.learned_queries: Optional[LearnedQueries] = None
        if n_learned_queries:
            self.add_learned_queries(n_learned_queries)
        # behind a module of its own: the ONNX export puts a real-valued one in (with_stft)
        self.stft = STFT(self.n_fft, self.hop_length)
        # Runtime setting, not a model argument: queries per pass through the conditioned
        # levels. None = automatic: all at once in training mode (BatchNorm statistics over
        # the whole batch) and on GPU; groups of 4 for CPU inference, where smaller
        # activations are faster. The text-free upper levels are computed once either way.
        self.query_chunk_size: Optional[int] = None
        # Runtime setting, not a model argument (training.bn_stats): BatchNorm statistics in
        # training pooled over all (mixture, query) rows of a call, or per query over the
        # mixtures, as the authors' one call per query has them (QueryBatchNorm2d).
        self.bn_stats = "pooled"
        # ... and, per query, over all B mixtures (None) or per chunk of this many, as the
        # authors' 8 DDP processes of 2 mixtures of mixtures each have them (no SyncBN)
        self.bn_replica_batch: Optional[int] = None
        # Opt-in (compile_inference): the U-Net compiled with torch.compile, used without
        # autograd only; not saved, pickled or copied.
        self._compiled_unet = None
        # Channels-last conv weights: oneDNN (CPU) and cuDNN convolve NHWC maps without
        # re-ordering; 10-25 % faster here on CPU (bench/model_speed.py --layouts ...).
        self.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------------ public API
    def forward(
        self,
        wav: torch.Tensor,
        text_embed: torch.Tensor,
        text_tokens: Optional[torch.Tensor] = None,
        text_mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Separate the source described by each text query from each mixture.

        Args:
            wav: Mixture waveforms, :math:`(T,)`, :math:`(B, T)` or :math:`(B, 1, T)`.
            text_embed: Pooled text embeddings, one or K queries per mixture.
            text_tokens: Text token states, required for ``conditioning="attention"``.
            text_mask: 1/True for real tokens, 0/False for padding; None means no padding.

        Returns:
            torch.Tensor: Estimated waveforms of the same length as ``wav``; see the class
            docstring for the shape.
        """
        est, squeeze = self._separate(wav, text_embed, text_tokens, text_mask)
        return restore_dims(est, squeeze)

    def forward_masks(
        self,
        wav: torch.Tensor,
        text_embed: torch.Tensor,
        text_tokens: Optional[torch.Tensor] = None,
        text_mask: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Masks and mixture STFT, for losses on magnitudes (``masks * spec.abs()``).

        Args:
            wav: As in :meth:`forward`.
            text_embed: As in :meth:`forward`, with or without the query dim.
            text_tokens: As in :meth:`forward`.
            text_mask: As in :meth:`forward`.

        Returns:
            tuple: ``masks`` :math:`(B, K, F, N)` and the complex mixture STFT ``spec``
            :math:`(B, F, N)`, with ``F = n_fft // 2 + 1`` bins and ``N`` frames. A missing
            batch or query dim is inserted as size 1.
        """
        masks, spec, _ = self._masks(wav, text_embed, text_tokens, text_mask)
        return masks, spec

    def forward_wav(
        self,
        wav: torch.Tensor,
        text_embed: torch.Tensor,
        text_tokens: Optional[torch.Tensor] = None,
        text_mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Asteroid's separation entry point: the queries play the role of sources.

        ``asteroid.separate.separate(model, wav, text_embed=..., text_tokens=...)`` calls
        this. Unlike :meth:`forward`, a single query keeps its source dim, so the output is
        always :math:`(B, K, T)` (or :math:`(K, T)` for a 1-D ``wav``).

        Args:
            wav: As in :meth:`forward`.
            text_embed: As in :meth:`forward`.
            text_tokens: As in :meth:`forward`.
            text_mask: As in :meth:`forward`.

        Returns:
            torch.Tensor: :math:`(B, K, T)`, or :math:`(K, T)` for a 1-D ``wav``.
        """
        est, (no_batch, _) = self._separate(wav, text_embed, text_tokens, text_mask)
        return restore_dims(est, (no_batch, False))

    def compile_inference(self, enable: bool = True, **options: Any) -> "TextCondUNet":
        """Run the U-Net of inference calls (autograd off) through ``torch.compile``.

        Opt-in: the first call for each new input shape (clip length, batch size, number of
        queries) compiles for minutes, and later calls of that shape are faster. With the
        default ``freezing`` the weights are compiled in as constants: call this again
        after changing them (``load_state_dict``, training), or pass ``freezing=False``.
        Training (autograd on) always runs eagerly. On the project's 2-core CPU it made
        ``Separator.separate`` (bf16 autocast) 1.12x faster for one query and 1.09x for 8,
        after a 3 to 4 minute compile per shape (docs/performance.md).

        Args:
            enable: False goes back to eager.
            **options: Inductor options for ``torch.compile(options=...)``; default
                ``{"freezing": True}`` (BatchNorm folded into the convolutions, weights
                pre-packed).

        Returns:
            The model itself.

        Examples:
            >>> model = TextCondUNet(n_fft=62, hop_length=16, channels=[4, 8], n_heads=2)
            >>> model.eval().compile_inference() is model
            True
        """
        if not enable:
            self._compiled_unet = None
            return self
        # compiled as a module: inductor's freezing treats a module's parameters as constants
        core = torch.compile(_UNetCore(self), options=options or {"freezing": True})
        self.__dict__["_compiled_unet"] = core  # not a submodule: no state-dict entries
        return self

    def __getstate__(self) -> Dict[str, Any]:
        state = super().__getstate__()
        state["_compiled_unet"] = None  # a compiled function is tied to this object
        return state

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Inverse of ``self.stft`` (the :class:`~asteroid_wsas.models.stft.STFT` module that
        ``model.stft(wav)`` calls), cropped or padded to ``length`` samples."""
        return self.stft.inverse(spec, length)

    @property
    def window(self) -> torch.Tensor:
        """The STFT's Hann window."""
        return self.stft.window

    def with_stft(self, stft: nn.Module) -> "TextCondUNet":
        """This model with ``stft`` computing its spectra in place of its own STFT.

        A shallow copy: every other layer, parameter, buffer and setting is shared with
        this model, which is left as it is. ``stft`` provides what
        :class:`~asteroid_wsas.models.stft.STFT` does (``forward``, ``magnitude``,
        ``apply_masks``, ``inverse``) on spectra of its own form; the ONNX export gives it
        a real-valued convolutional STFT.

        Args:
            stft: The transform to use.

        Returns:
            TextCondUNet: The copy (no compiled U-Net: it runs eagerly).
        """
        view = copy.copy(self)  # __getstate__ drops the compiled U-Net
        view._modules = dict(self._modules)  # its own table of submodules, the same layers
        view.stft = stft
        return view

    @property
    def bn_stats(self) -> str:
        """``"pooled"`` or ``"per_query"``: BatchNorm statistics in training (see
        :class:`~asteroid_wsas.models.batchnorm.QueryBatchNorm2d`); no effect in eval mode."""
        return self.__dict__.get("_bn_stats", "pooled")

    @bn_stats.setter
    def bn_stats(self, value: str) -> None:
        if value not in BN_STATS:
            raise ValueError(
                f"bn_stats (training.bn_stats) must be one of {BN_STATS}, got {value!r}"
            )
        self.__dict__["_bn_stats"] = value

    @contextlib.contextmanager
    def _query_stats(self, kind: str, n_queries: int):
        """Per-query BatchNorm statistics for the calls inside (training with
        ``bn_stats="per_query"`` only)."""
        if not (self.training and self.bn_stats == "per_query"):
            yield
            return
        norms = [m for m in self.modules() if isinstance(m, QueryBatchNorm2d)]
        for norm in norms:
            norm.query_stats = (kind, n_queries, self.bn_replica_batch)
        try:
            yield
        finally:
            for norm in norms:
                norm.query_stats = None

    @property
    def wants_tokens(self) -> bool:
        """Whether queries must come with token states (attention conditioning)."""
        return self.conditioning == "attention"

    def add_learned_queries(self, n_queries: int) -> LearnedQueries:
        """Give the model ``n_queries`` learned queries (for MixIT); kept if it has them.

        Raises:
            ValueError: The model already has a different number of learned queries.
        """
        if self.learned_queries is not None:
            if len(self.learned_queries) != n_queries:
                raise ValueError(
                    f"the model has {len(self.learned_queries)} learned queries, not {n_queries}"
                )
            return self.learned_queries
        device = next(self.parameters()).device
        self.learned_queries = LearnedQueries(
            n_queries, self.text_embed_dim, self.text_token_dim
        ).to(device)
        return self.learned_queries

    @classmethod
    def upgrade_package(cls, package: Dict[str, Any]) -> Dict[str, Any]:
        """Files written before the learned queries moved into the model kept them beside
        it (``unconditioned_queries``): move them into its arguments and state dict."""
        learned = package.get("unconditioned_queries")
        if learned is None:
            return package
        package = dict(package)
        package.pop("unconditioned_queries")
        embed = torch.as_tensor(learned["embed"]).float()
        package["model_args"] = {**package["model_args"], "n_learned_queries": embed.shape[0]}
        package["state_dict"] = {
            **package["state_dict"],
            "learned_queries.embed": embed,
            "learned_queries.tokens": torch.as_tensor(learned["tokens"]).float(),
        }
        return package

    def get_model_args(self) -> dict:
        """Arguments that re-create this model (Asteroid convention)."""
        extra = (
            {} if self.learned_queries is None else {"n_learned_queries": len(self.learned_queries)}
        )
        return {
            "sample_rate": self.sample_rate,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "channels": list(self.channels),
            "attention_levels": list(self.attention_levels),
            "conditioning": self.conditioning,
            "text_embed_dim": self.text_embed_dim,
            "text_token_dim": self.text_token_dim,
            "n_heads": self.n_heads,
            "mlp_ratio": self.mlp_ratio,
            "n_res_layers": self.n_res_layers,
            "out_channels": self.out_channels,
            "mask_activation": self.mask_activation,
            **extra,
        }

    # ------------------------------------------------------------------ internals
    def _separate(self, wav, text_embed, text_tokens, text_mask):
        """Estimates (B, K, T) in wav's dtype, and which dims the caller left out."""
        masks, spec, squeeze = self._masks(wav, text_embed, text_tokens, text_mask)
        est = self.istft(self.stft.apply_masks(spec, masks), wav.shape[-1])
        return est.to(wav.dtype), squeeze

    def _masks(self, wav, text_embed, text_tokens, text_mask):
        wav, embed, tokens, key_mask, squeeze = self._check_inputs(
            wav, text_embed, text_tokens, text_mask
        )
        spec = self.stft(wav)
        magnitude = self.stft.magnitude(spec)  # (B, F, N)
        n_freq, n_frames = magnitude.shape[-2:]
        unet = self._unet
        if self._compiled_unet is not None and not torch.is_grad_enabled():
            unet = self._compiled_unet
        logits = unet(magnitude, embed, tokens, key_mask)
        masks = self.mask_nl(logits[..., :n_freq, :n_frames].float())
        return masks, spec, squeeze

    def _unet(self, magnitude, embed, tokens, key_mask):
        """Mask logits (B, K, H, W) of the padded spectrogram from its magnitude (B, F, N):
        real tensors only, the part :meth:`compile_inference` compiles and the ONNX export
        traces.

        Sizes are read from the inputs once, here, and passed down: a graph tracer keeps
        a size symbolic when read from an input, but may fix one read after reshapes to
        its traced value. K is a Python int (a graph's queries are fixed).
        """
        n_freq, n_frames = magnitude.shape[-2:]
        n_queries = int(embed.shape[1])
        # Once per mixture, shared by its queries (per-query BatchNorm: as K calls would).
        with self._query_stats("repeat", n_queries):
            # log-magnitude, input BatchNorm, padding to a multiple of 2^levels
            x = self.input_norm(torch.log1p(magnitude).unsqueeze(1).to(embed.dtype))
            stride = 2 ** len(self.channels)
            pad_f, pad_t = (-n_freq) % stride, (-n_frames) % stride
            x = F.pad(x, (0, pad_t, 0, pad_f))
            size = x.shape[-2:]  # (H, W): each level halves both

            # Levels above the first conditioned one see no text: once per mixture.
            first = self.first_conditioned_level
            shared_skips: List[torch.Tensor] = []
            for level in range(first):
                x = self.down[level](x)
                shared_skips.append(x)

            if first == len(self.channels):  # "late": only the head sees the text
                below = None
                for level in reversed(range(first)):
                    below = self.up[level](shared_skips[level], below)
                return self.head(below.unsqueeze(1), embed)
        step = self._query_group_size(n_queries, x.device)
        # Skip halves of the text-free up convolutions: once, for all groups of queries.
        shared = [up.prepare_shared(s) for up, s in zip(self.up, shared_skips)]
        return torch.cat(
            [
                self._query_path(
                    x,
                    size,
                    shared_skips,
                    shared,
                    embed[:, s : s + step],
                    None if tokens is None else tokens[:, s : s + step],
                    None if key_mask is None else key_mask[:, s : s + step],
                )
                for s in range(0, n_queries, step)
            ],
            dim=1,
        )

    def _query_group_size(self, n_queries: int, device: torch.device) -> int:
        if self.query_chunk_size is not None:
            if self.query_chunk_size < 1:
                raise ValueError(f"query_chunk_size must be >= 1, got {self.query_chunk_size}")
            return self.query_chunk_size
        if self.training or device.type != "cpu":
            return n_queries
        return CPU_QUERY_GROUP

    def _query_path(self, x, size, shared_skips, shared, embed, tokens, key_mask):
        """Conditioned levels for a group of queries: mask logits (B, k, H, W) of the padded
        map of ``size`` (H, W)."""
        n_queries = int(embed.shape[1])
        flat_embed = embed.flatten(0, 1)  # (B*k, D), query index fastest
        flat_tokens = None if tokens is None else tokens.flatten(0, 1)
        flat_mask = None if key_mask is None else key_mask.flatten(0, 1)
        first = len(shared_skips)

        x = repeat_queries(x, n_queries)
        skips: List[torch.Tensor] = []
        with self._query_stats("groups", n_queries):
            for level in range(first, len(self.channels)):
                x = self.down[level](x, flat_embed)
                if str(level) in self.attention:
                    scale = 2 ** (level + 1)
                    level_size = (size[0] // scale, size[1] // scale)
                    x = self.attention[str(level)](x, flat_tokens, flat_mask, level_size)
                skips.append(x)
            below = None
            for level in reversed(range(first, len(self.channels))):
                below = self.up[level](skips[level - first], below, flat_embed)
            for level in reversed(range(first)):  # shared skips, per-query input from below
                below = self.up[level](
                    shared_skips[level], below, shared=shared[level], n_queries=n_queries
                )
        return self.head(below.unflatten(0, (-1, n_queries)), embed)

    def _check_inputs(self, wav, text_embed, text_tokens, text_mask):
        """Validate and bring inputs to (B, T), (B, K, D), (B, K, L, E), (B, K, L)."""
        return check_inputs(
            wav,
            text_embed,
            text_tokens,
            text_mask,
            min_samples=self.n_fft,
            embed_dim=self.text_embed_dim,
            token_dim=self.text_token_dim,
            needs_tokens=self.conditioning == "attention",
            dtype=self.head.scale.dtype,  # compute in the model's dtype, return in wav's
        )


class _UNetCore(nn.Module):
    """``model._unet`` as a module of its own, for ``torch.compile`` (see
    :meth:`TextCondUNet.compile_inference`)."""

    def __init__(self, model: TextCondUNet):
        super().__init__()
        self.model = model

    def forward(self, magnitude, embed, tokens, key_mask):
        return self.model._unet(magnitude, embed, tokens, key_mask)
