"""Building blocks of the text-conditioned U-Net.

Residual convolution blocks, the U-Net's down and up levels, FiLM, self-/cross-attention
over text tokens and the CLIPSep-style inner-product head. Every block works on ``(N, C, H, W)`` feature maps where
``N`` is the number of (mixture, query) pairs in the batch.
"""

from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .batchnorm import QueryBatchNorm2d


def _exporting() -> bool:
    """Whether the ONNX exporter (TorchScript's tracer) is tracing: the blocks then add out
    of place (no in-place adds into slices of a map) and repeat by concatenation, the
    forms whose graphs hold for any batch size and length."""
    return torch.jit.is_tracing()


def _compiling() -> bool:
    """Whether torch.compile or the ONNX exporter is tracing: compile folds BatchNorm and
    casts weights itself, the exporter bakes shapes computed in Python into the graph, and
    the shortcuts below (``out=`` into a channels-last map, storage pointers, reshapes to
    computed sizes) break either graph."""
    return torch.compiler.is_compiling() or _exporting()


def repeat_queries(x: torch.Tensor, n_queries: int) -> torch.Tensor:
    """Each mixture's row once per query: ``x.repeat_interleave(n_queries, 0)``.

    Shape:
        - x: :math:`(B, ...)`
        - output: :math:`(B K, ...)`, query index fastest

    Examples:
        >>> repeat_queries(torch.tensor([1, 2]), 2)
        tensor([1, 1, 2, 2])
    """
    if _exporting():  # the exporter's repeat_interleave fixes B; a concatenation does not
        return torch.cat([x.unsqueeze(1)] * n_queries, 1).flatten(0, 1)
    return x.repeat_interleave(n_queries, 0)


def batch_norm(norm: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """``norm(x)``, done in place on ``x`` when nothing needs gradients.

    In eval mode without autograd, BatchNorm is a per-channel affine map; applying it in
    place on a fresh conv output saves a full-size allocation and is several times faster
    on CPU for large spectrogram feature maps. The result is the same as ``norm(x)`` (to the
    rounding of ``x``'s dtype under bf16 autocast).
    """
    if norm.training or torch.is_grad_enabled() or not norm.track_running_stats or _compiling():
        return norm(x)
    scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
    shift = norm.bias - norm.running_mean * scale
    # in x's dtype: a bf16 map with fp32 coefficients takes a slow mixed-dtype path that
    # costs more than the bf16 convolutions save
    scale, shift = scale.to(x.dtype)[:, None, None], shift.to(x.dtype)[:, None, None]
    return torch.addcmul(shift, x, scale, out=x)


def inference_cast_dtype(device_type: str) -> Optional[torch.dtype]:
    """The autocast dtype while ``device_type`` runs autocast inference, else None.

    Inference here means autograd off (``torch.no_grad`` or ``torch.inference_mode``): only
    then may the weights be reused across calls in their cast form.
    """
    if torch.is_grad_enabled() or _compiling() or not torch.is_autocast_enabled(device_type):
        return None
    return torch.get_autocast_dtype(device_type)


_COPIES = "_inference_copies"


def _cached(module: nn.Module, tag: tuple, params: Sequence[Optional[torch.Tensor]], make):
    """``make()``, kept on ``module`` until one of ``params`` changes (or ``tag`` does).

    A parameter's storage and version counter say whether it changed: ``load_state_dict``
    and optimiser steps bump the version, ``.to()`` moves the storage. One entry per
    module, so the memory held is at most one copy of its weights.
    """
    key = tag + tuple(
        None if p is None else (p.data_ptr(), p._version, p.dtype, p.device) for p in params
    )
    hit = module.__dict__.get(_COPIES)
    if hit is None or hit[0] != key:
        hit = (key, make())
        module.__dict__[_COPIES] = hit
    return hit[1]


class InferenceCopies:
    """Mixin: the copies :func:`_cached` keeps are neither pickled nor deep-copied."""

    def __getstate__(self):
        state = super().__getstate__()
        state.pop(_COPIES, None)
        return state

    def clear_inference_copies(self) -> None:
        """Drop the kept copies (they come back at the next inference call)."""
        self.__dict__.pop(_COPIES, None)

    def kept_weights(self, x: torch.Tensor) -> Optional[Tuple[torch.Tensor, ...]]:
        """(weight, bias) cast to the autocast dtype, kept between inference calls; None
        when ``x`` is not run under autocast inference (use the parameters themselves)."""
        dtype = inference_cast_dtype(x.device.type)
        if dtype is None or dtype == self.weight.dtype:
            return None
        params = (self.weight, self.bias)
        return _cached(self, ("cast", dtype), params, lambda: _cast(params, dtype))


def _cast(params: Sequence[Optional[torch.Tensor]], dtype: torch.dtype):
    return tuple(None if p is None else p.detach().to(dtype) for p in params)


class Conv2d(InferenceCopies, nn.Conv2d):
    """``nn.Conv2d`` that keeps its autocast-cast weights between inference calls.

    Autocast casts every conv's weights to bf16 on each call (its own cache lives only as
    long as one ``autocast`` region): for the 87.7 M-parameter model that is 350 MB read
    and 175 MB written per forward, about a sixth of a bf16 forward on CPU. Here the cast
    is done once and reused until the weights change (same values, so the same outputs);
    it costs memory: a half-size copy of the weights while kept. Training (autograd on) and
    fp32 inference use the parameters directly.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept = self.kept_weights(x)
        return super().forward(x) if kept is None else self._conv_forward(x, *kept)


class Linear(InferenceCopies, nn.Linear):
    """``nn.Linear`` that keeps its autocast-cast weights between inference calls (see
    :class:`Conv2d`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept = self.kept_weights(x)
        return super().forward(x) if kept is None else F.linear(x, *kept)


def sum_over_queries(x: torch.Tensor, n_batch: int) -> torch.Tensor:
    """Sum of a per-query map over the K queries of each mixture.

    On channels-last maps the 5-D view ``x.unflatten(0, (B, K)).sum(1)`` walks the
    channels with a large stride and is about 30x slower on CPU than the same sum over the
    NHWC view, which is a plain outer reduction. Autograd's own backward of a broadcast add
    over K takes the slow route; :func:`add_per_mixture_` takes this one.

    Args:
        x: Per-query map.
        n_batch: Number of mixtures B.

    Returns:
        torch.Tensor: The sum over each mixture's K rows, in ``x``'s memory format.

    Shape:
        - x: :math:`(B K, C, H, W)`, query index fastest
        - output: :math:`(B, C, H, W)`

    Examples:
        >>> sum_over_queries(torch.ones(6, 2, 3, 3), 2)[:, 0, 0, 0]
        tensor([3., 3.])
    """
    if x.stride(1) == 1 and x.shape[1] > 1:  # channels innermost (NHWC, or a slice of it)
        nhwc = x.permute(0, 2, 3, 1).unflatten(0, (n_batch, -1))
        return nhwc.sum(1).permute(0, 3, 1, 2)
    return x.unflatten(0, (n_batch, -1)).sum(1)


def _add_per_mixture(h: torch.Tensor, shared: torch.Tensor, per_query: Optional[torch.Tensor]):
    n_batch, n_shared = shared.shape[:2]
    h.unflatten(0, (n_batch, -1))[:, :, :n_shared].add_(shared.unsqueeze(1))
    if per_query is not None:
        h[:, n_shared:].add_(per_query)


class _AddPerMixture(torch.autograd.Function):
    """Autograd form of :func:`add_per_mixture_`, with the fast reduction over K."""

    @staticmethod
    def forward(ctx, h, shared, per_query):
        _add_per_mixture(h, shared, per_query)
        ctx.mark_dirty(h)
        ctx.n_batch, ctx.n_shared = shared.shape[:2]
        return h

    @staticmethod
    def backward(ctx, grad):
        grad_shared = grad_per_query = None
        if ctx.needs_input_grad[1]:
            grad_shared = sum_over_queries(grad[:, : ctx.n_shared], ctx.n_batch)
        if ctx.needs_input_grad[2]:
            grad_per_query = grad[:, ctx.n_shared :]
        return grad, grad_shared, grad_per_query


def add_per_mixture_(
    h: torch.Tensor,
    shared: torch.Tensor,
    n_queries: int,
    per_query: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """``h += cat([shared repeated K times, per_query], 1)``, in place, autograd-safe.

    Neither the repeated ``shared`` map nor the concatenation is built: on a 512 x 512
    map each would be a fresh full-size tensor, and allocating and filling those cost more
    than the additions. With autograd, the in-place update is one node whose backward sums
    the gradient over K in NHWC order (:func:`sum_over_queries`) and hands ``per_query``
    its channel slice, instead of the copies that in-place adds into channel slices make
    autograd do (CopySlices). ``h`` must not be needed by the backward of what made it
    (true of conv, BatchNorm and FiLM outputs).

    While the ONNX exporter traces, it is that sum out of place (a new tensor).

    Args:
        h: Per-query map, modified in place.
        shared: Per-mixture map added to the first ``Cs`` channels of each of its K rows.
        n_queries: K.
        per_query: Added to the remaining channels; None when ``Cs`` is all of them.

    Returns:
        torch.Tensor: ``h``.

    Shape:
        - h: :math:`(B K, C, H, W)`, query index fastest
        - shared: :math:`(B, C_s, H, W)`
        - per_query: :math:`(B K, C - C_s, H, W)`

    Examples:
        >>> h = add_per_mixture_(torch.zeros(4, 3, 2, 2), torch.ones(2, 1, 2, 2), 2,
        ...                      torch.full((4, 2, 2, 2), 2.0))
        >>> h[:, :, 0, 0]
        tensor([[1., 2., 2.],
                [1., 2., 2.],
                [1., 2., 2.],
                [1., 2., 2.]])
    """
    if _exporting():
        added = repeat_queries(shared, n_queries)
        return h + (added if per_query is None else torch.cat([added, per_query], 1))
    if torch.is_grad_enabled():
        return _AddPerMixture.apply(h, shared, per_query)
    _add_per_mixture(h, shared, per_query)
    return h


class FiLM(nn.Module):
    """Feature-wise linear modulation from a pooled text embedding.

    ``x * (1 + gamma) + beta`` with ``gamma, beta = Linear(embed)``: the ``1 +`` keeps a
    freshly initialised layer close to the identity.

    Args:
        embed_dim: Size of the conditioning embedding.
        channels: Number of feature channels to modulate.

    Shape:
        - x: :math:`(N, C, H, W)`
        - embed: :math:`(N, D)`
        - output: :math:`(N, C, H, W)`

    Examples:
        >>> film = FiLM(16, 8)
        >>> film(torch.randn(2, 8, 4, 4), torch.randn(2, 16)).shape
        torch.Size([2, 8, 4, 4])
    """

    def __init__(self, embed_dim: int, channels: int):
        super().__init__()
        self.proj = Linear(embed_dim, 2 * channels)

    def forward(self, x: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(embed)[..., None, None].chunk(2, dim=1)
        return x * (1 + gamma) + beta


class ResBlock(InferenceCopies, nn.Module):
    """Residual block of ``n_layers`` conv3x3 + BatchNorm layers (LeakyReLU between them).

    ``y = LeakyReLU(x + body(x))``, optionally FiLM-modulated after the last BatchNorm.

    Args:
        channels: Number of input and output channels.
        n_layers: Number of conv layers in the body; 0 makes the block an identity.
        film_dim: If given, the size of the text embedding used for FiLM.

    Shape:
        - x: :math:`(N, C, H, W)`
        - embed: :math:`(N, D)` when ``film_dim`` is set
        - output: :math:`(N, C, H, W)`

    Examples:
        >>> block = ResBlock(8, n_layers=1)
        >>> block(torch.randn(2, 8, 4, 4)).shape
        torch.Size([2, 8, 4, 4])
    """

    def __init__(self, channels: int, n_layers: int = 1, film_dim: Optional[int] = None):
        super().__init__()
        self.convs = nn.ModuleList(
            [Conv2d(channels, channels, 3, padding=1) for _ in range(n_layers)]
        )
        self.norms = nn.ModuleList([QueryBatchNorm2d(channels) for _ in range(n_layers)])
        self.film = FiLM(film_dim, channels) if (film_dim and n_layers) else None

    @property
    def n_layers(self) -> int:
        return len(self.convs)

    def forward(self, x: torch.Tensor, embed: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.n_layers == 0:
            return x
        h = self._finish(self.convs[0](x), embed)
        return F.leaky_relu_(h.add_(x), 0.2)

    def shared_conv(self, shared: torch.Tensor) -> Optional[torch.Tensor]:
        """The first conv's contribution from the leading ``shared`` channels (plus bias).

        Compute it once per mixture and pass it to :meth:`forward_split` for every group of
        queries. None for a block without layers.
        """
        if self.n_layers == 0:
            return None
        weight, _, bias = self._first_conv_parts(shared.shape[1])
        return F.conv2d(shared, weight, bias, padding=1)

    def _first_conv_parts(self, n_shared: int):
        """The first conv's weight on the first ``n_shared`` input channels, on the others,
        and its bias.

        Slices of a weight are not contiguous, and the conv would copy them on every call:
        without autograd they are kept contiguous (in the autocast dtype under autocast)
        until the weight changes.
        """
        conv = self.convs[0]
        weight, bias = conv.weight, conv.bias
        if torch.is_grad_enabled() or _compiling():
            return weight[:, :n_shared], weight[:, n_shared:], bias
        dtype = inference_cast_dtype(weight.device.type) or weight.dtype
        nhwc = weight.is_contiguous(memory_format=torch.channels_last)
        layout = torch.channels_last if nhwc else torch.contiguous_format

        def make():
            parts = (weight[:, :n_shared], weight[:, n_shared:])
            parts = tuple(w.detach().to(dtype).contiguous(memory_format=layout) for w in parts)
            return parts + _cast((bias,), dtype)

        return _cached(self, ("split", n_shared, dtype, layout), (weight, bias), make)

    def forward_split(
        self,
        shared: torch.Tensor,
        per_query: torch.Tensor,
        n_queries: int,
        embed: Optional[torch.Tensor] = None,
        shared_conv: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Same as ``forward(cat([shared repeated K times, per_query], 1))``, cheaper.

        The first convolution is linear in its input channels, so its share of the work on
        the ``shared`` channels (identical for the K queries of a mixture) is done once per
        mixture instead of once per query. Neither the repeated ``shared`` channels nor the
        concatenation is ever built: both additions go into the per-query map in place.

        Args:
            shared: Channels that are the same for all queries of a mixture, ``(B, Cs, H, W)``.
            per_query: Query-dependent channels, ``(B * K, Cq, H, W)``, query index fastest.
            n_queries: K, given rather than read from the shapes (which an ONNX trace
                would fix to the example's batch size).
            embed: FiLM embedding ``(B * K, D)`` if the block uses FiLM.
            shared_conv: ``self.shared_conv(shared)`` if already computed.

        Returns:
            torch.Tensor: ``(B * K, Cs + Cq, H, W)``.
        """
        if self.n_layers == 0:
            return torch.cat([repeat_queries(shared, n_queries), per_query], 1)
        if shared_conv is None:
            shared_conv = self.shared_conv(shared)
        h = F.conv2d(per_query, self._first_conv_parts(shared.shape[1])[1], None, padding=1)
        h = add_per_mixture_(h, shared_conv, n_queries)
        h = self._finish(h, embed)
        return F.leaky_relu_(add_per_mixture_(h, shared, n_queries, per_query), 0.2)

    def _finish(self, h: torch.Tensor, embed: Optional[torch.Tensor]) -> torch.Tensor:
        """Rest of the body after the first conv (all in-place-safe for autograd)."""
        for i in range(self.n_layers):
            if i > 0:
                h = self.convs[i](F.leaky_relu_(h, 0.2))
            h = batch_norm(self.norms[i], h)
        if self.film is not None:
            h = self.film(h, embed)
        return h


class Mlp(nn.Module):
    """Two-layer GELU MLP of a transformer block.

    Args:
        dim: Input and output size.
        hidden_dim: Hidden size.
    """

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.fc1 = Linear(dim, hidden_dim)
        self.fc2 = Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class MultiHeadAttention(nn.Module):
    """Multi-head attention with fused scaled-dot-product kernels.

    Queries come from ``x``; keys and values from ``context`` (``x`` itself when omitted,
    i.e. self-attention).

    Args:
        dim: Size of ``x`` tokens (and of the output).
        n_heads: Number of heads; must divide ``dim``.
        context_dim: Size of ``context`` tokens (defaults to ``dim``).

    Shape:
        - x: :math:`(N, S, C)`
        - context: :math:`(N, L, E)`
        - key_mask: :math:`(N, L)`, True for tokens to attend to
        - output: :math:`(N, S, C)`
    """

    def __init__(self, dim: int, n_heads: int, context_dim: Optional[int] = None):
        super().__init__()
        if dim % n_heads != 0:
            raise ValueError(f"n_heads={n_heads} must divide the attention width {dim}")
        self.n_heads = n_heads
        self.q = Linear(dim, dim)
        self.kv = Linear(context_dim or dim, 2 * dim)
        self.proj = Linear(dim, dim)

    def forward(
        self,
        x: torch.Tensor,
        context: Optional[torch.Tensor] = None,
        key_mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        context = x if context is None else context
        q = self.q(x).unflatten(-1, (self.n_heads, -1)).transpose(1, 2)
        k, v = self.kv(context).unflatten(-1, (2, self.n_heads, -1)).permute(2, 0, 3, 1, 4)
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.proj(out.transpose(1, 2).flatten(2))


class TransformerBlock(nn.Module):
    """Pre-norm attention + MLP block (self-attention, or cross-attention with a context).

    Args:
        dim: Token size.
        n_heads: Number of attention heads.
        context_dim: Size of context tokens for cross-attention; None for self-attention.
        mlp_ratio: Hidden size of the MLP relative to ``dim``.
    """

    def __init__(
        self,
        dim: int,
        n_heads: int,
        context_dim: Optional[int] = None,
        mlp_ratio: float = 2.0,
    ):
        super().__init__()
        self.is_cross = context_dim is not None
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, n_heads, context_dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(
        self,
        x: torch.Tensor,
        context: Optional[torch.Tensor] = None,
        key_mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        if self.is_cross:
            x = x + self.attn(self.norm1(x), context, key_mask)
        else:
            x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TextAttention(nn.Module):
    """Self-attention over the feature map, then cross-attention to text token states.

    Args:
        dim: Number of feature channels (attention width).
        token_dim: Size of the text token states.
        n_heads: Number of heads.
        mlp_ratio: Hidden size of each MLP relative to ``dim``.

    Shape:
        - x: :math:`(N, C, H, W)`
        - tokens: :math:`(N, L, E)`
        - token_mask: :math:`(N, L)` bool, True for real tokens (None: all real)
        - size: ``(H, W)``; None: read from ``x``
        - output: :math:`(N, C, H, W)`

    Examples:
        >>> block = TextAttention(16, token_dim=8, n_heads=2)
        >>> block(torch.randn(2, 16, 4, 4), torch.randn(2, 5, 8)).shape
        torch.Size([2, 16, 4, 4])
    """

    def __init__(self, dim: int, token_dim: int, n_heads: int = 8, mlp_ratio: float = 2.0):
        super().__init__()
        self.self_attn = TransformerBlock(dim, n_heads, None, mlp_ratio)
        self.cross_attn = TransformerBlock(dim, n_heads, token_dim, mlp_ratio)

    def forward(
        self,
        x: torch.Tensor,
        tokens: torch.Tensor,
        token_mask: Optional[torch.Tensor] = None,
        size: Optional[Tuple[int, int]] = None,
    ) -> torch.Tensor:
        # the model gives the size: an ONNX trace fixes one read from x after reshapes
        height, width = x.shape[-2:] if size is None else size
        seq = x.flatten(2).transpose(1, 2)
        seq = self.self_attn(seq)
        seq = self.cross_attn(seq, tokens, token_mask)
        return seq.transpose(1, 2).unflatten(2, (height, width))


class InnerProductHead(nn.Module):
    """CLIPSep / Sound-of-Pixels head: a text-weighted sum of the U-Net's output channels.

    ``logit = sum_c q_c * a_c * U_c + b`` with ``q = sigmoid(Linear(embed))``; the caller
    applies the mask activation.

    Args:
        embed_dim: Size of the pooled text embedding.
        channels: Number of U-Net output channels ``C``.

    Shape:
        - features: :math:`(B, K_f, C, H, W)` with :math:`K_f` either K or 1 (shared by all
          queries of a mixture)
        - embed: :math:`(B, K, D)`
        - output: :math:`(B, K, H, W)` mask logits

    Examples:
        >>> head = InnerProductHead(16, 4)
        >>> head(torch.randn(2, 1, 4, 8, 8), torch.randn(2, 3, 16)).shape
        torch.Size([2, 3, 8, 8])
    """

    def __init__(self, embed_dim: int, channels: int):
        super().__init__()
        self.query = Linear(embed_dim, channels)
        self.scale = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, features: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.query(embed)) * self.scale
        if features.stride(2) == 1 and features.shape[2] > 1 and not _compiling():
            # channels-last features: a matmul on their NHWC view reads them in place
            # (einsum would first copy them to NCHW, a full-resolution copy)
            n_batch, n_feat, channels, height, width = features.shape
            nhwc = features.permute(0, 1, 3, 4, 2).reshape(n_batch, n_feat * height * width, -1)
            if n_feat == 1:  # (B, HW, C) @ (B, C, K)
                logits = (nhwc @ weights.transpose(1, 2)).transpose(1, 2)
            else:  # per query: (B K, HW, C) @ (B K, C, 1)
                nhwc = nhwc.view(n_batch * n_feat, height * width, channels)
                logits = nhwc @ weights.flatten(0, 1).unsqueeze(-1)
            logits = logits.reshape(n_batch, -1, height, width)
        elif features.shape[1] == 1:
            logits = torch.einsum("bkc,bchw->bkhw", weights, features[:, 0])
        else:
            logits = torch.einsum("bkc,bkchw->bkhw", weights, features)
        return logits + self.bias


class DownBlock(nn.Module):
    """conv4x4 stride 2 + BatchNorm + LeakyReLU(0.2) + residual block."""

    def __init__(self, in_ch: int, out_ch: int, n_res_layers: int, film_dim: Optional[int]):
        super().__init__()
        self.conv = Conv2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False)
        self.norm = QueryBatchNorm2d(out_ch)
        self.res = ResBlock(out_ch, n_res_layers, film_dim)

    def forward(self, x: torch.Tensor, embed: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.res(F.leaky_relu_(batch_norm(self.norm, self.conv(x)), 0.2), embed)


class UpBlock(nn.Module):
    """Bilinear x2 + residual block + conv3x3 (+ BatchNorm + ReLU except at the output).

    The input is the level's own (skip) features concatenated with the output of the level
    below. When the skip features are shared by the K queries of a mixture and the features
    from below are per query, the concatenation is never built before the first convolution
    (see :meth:`ResBlock.forward_split`).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        n_res_layers: int,
        film_dim: Optional[int],
        is_output: bool = False,
    ):
        super().__init__()
        self.res = ResBlock(in_ch, n_res_layers, film_dim)
        self.conv = Conv2d(in_ch, out_ch, 3, padding=1, bias=is_output)
        self.norm = None if is_output else QueryBatchNorm2d(out_ch)

    def forward(
        self,
        skip: torch.Tensor,
        below: Optional[torch.Tensor] = None,
        embed: Optional[torch.Tensor] = None,
        shared: Optional[Tuple[torch.Tensor, Optional[torch.Tensor]]] = None,
        n_queries: int = 1,
    ) -> torch.Tensor:
        """Args: ``shared`` is :meth:`prepare_shared`'s output when ``skip`` is shared by
        the queries of each mixture; ``n_queries`` is how many rows of ``below`` each row
        of ``skip`` serves (K when shared; 1: the same rows)."""
        if below is None:
            h = self.res(_upsample(skip), embed)
        elif shared is None and n_queries == 1:
            h = self.res(_upsample(torch.cat([skip, below], 1)), embed)
        else:  # skip shared by the queries of each mixture, ``below`` per query
            skip_up, skip_conv = self.prepare_shared(skip) if shared is None else shared
            h = self.res.forward_split(skip_up, _upsample(below), n_queries, embed, skip_conv)
        h = self.conv(h)
        return h if self.norm is None else F.relu_(batch_norm(self.norm, h))

    def prepare_shared(self, skip: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Work on the shared skip features that all groups of queries reuse."""
        skip_up = _upsample(skip)
        return skip_up, self.res.shared_conv(skip_up)


def _upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)
