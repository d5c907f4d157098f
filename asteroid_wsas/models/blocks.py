"""Building blocks of the text-conditioned U-Net.

Residual convolution blocks, the U-Net's down and up levels, FiLM, self-/cross-attention
over text tokens and the CLIPSep-style inner-product head. Every block works on ``(N, C, H, W)`` feature maps where
``N`` is the number of (mixture, query) pairs in the batch.
"""

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn


def batch_norm(norm: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """``norm(x)``, done in place on ``x`` when nothing needs gradients.

    In eval mode without autograd, BatchNorm is a per-channel affine map; applying it in
    place on a fresh conv output saves a full-size allocation and is several times faster
    on CPU for large spectrogram feature maps. The result is the same as ``norm(x)`` (to the
    rounding of ``x``'s dtype under bf16 autocast).
    """
    if norm.training or torch.is_grad_enabled() or not norm.track_running_stats:
        return norm(x)
    scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
    shift = norm.bias - norm.running_mean * scale
    # in x's dtype: a bf16 map with fp32 coefficients takes a slow mixed-dtype path that
    # costs more than the bf16 convolutions save
    scale, shift = scale.to(x.dtype)[:, None, None], shift.to(x.dtype)[:, None, None]
    return torch.addcmul(shift, x, scale, out=x)


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
        self.proj = nn.Linear(embed_dim, 2 * channels)

    def forward(self, x: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(embed)[..., None, None].chunk(2, dim=1)
        return x * (1 + gamma) + beta


class ResBlock(nn.Module):
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
            [nn.Conv2d(channels, channels, 3, padding=1) for _ in range(n_layers)]
        )
        self.norms = nn.ModuleList([nn.BatchNorm2d(channels) for _ in range(n_layers)])
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
        conv = self.convs[0]
        return F.conv2d(shared, conv.weight[:, : shared.shape[1]], conv.bias, padding=1)

    def forward_split(
        self,
        shared: torch.Tensor,
        per_query: torch.Tensor,
        embed: Optional[torch.Tensor] = None,
        shared_conv: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Same as ``forward(cat([shared repeated K times, per_query], 1))``, cheaper.

        The first convolution is linear in its input channels, so its share of the work on
        the ``shared`` channels (identical for the K queries of a mixture) is done once per
        mixture instead of once per query.

        Args:
            shared: Channels that are the same for all queries of a mixture, ``(B, Cs, H, W)``.
            per_query: Query-dependent channels, ``(B * K, Cq, H, W)``, query index fastest.
            embed: FiLM embedding ``(B * K, D)`` if the block uses FiLM.
            shared_conv: ``self.shared_conv(shared)`` if already computed.

        Returns:
            torch.Tensor: ``(B * K, Cs + Cq, H, W)``.
        """
        n_batch, n_shared = shared.shape[:2]
        n_queries = per_query.shape[0] // n_batch
        if self.n_layers == 0:
            return torch.cat([shared.repeat_interleave(n_queries, 0), per_query], 1)
        if shared_conv is None:
            shared_conv = self.shared_conv(shared)
        h = F.conv2d(per_query, self.convs[0].weight[:, n_shared:], None, padding=1)
        h = (h.unflatten(0, (n_batch, n_queries)) + shared_conv.unsqueeze(1)).flatten(0, 1)
        h = self._finish(h, embed)
        # The residual as one out-of-place add: in-place adds into channel slices make
        # autograd copy the whole gradient twice (CopySlices) in the backward pass.
        skip = shared.unsqueeze(1).expand(-1, n_queries, -1, -1, -1).flatten(0, 1)
        return F.leaky_relu_(h + torch.cat([skip, per_query], 1), 0.2)

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
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)

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
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim or dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

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
    ) -> torch.Tensor:
        height, width = x.shape[-2:]
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
        self.query = nn.Linear(embed_dim, channels)
        self.scale = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, features: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.query(embed)) * self.scale
        if features.shape[1] == 1:
            logits = torch.einsum("bkc,bchw->bkhw", weights, features[:, 0])
        else:
            logits = torch.einsum("bkc,bkchw->bkhw", weights, features)
        return logits + self.bias


class DownBlock(nn.Module):
    """conv4x4 stride 2 + BatchNorm + LeakyReLU(0.2) + residual block."""

    def __init__(self, in_ch: int, out_ch: int, n_res_layers: int, film_dim: Optional[int]):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(out_ch)
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
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=is_output)
        self.norm = None if is_output else nn.BatchNorm2d(out_ch)

    def forward(
        self,
        skip: torch.Tensor,
        below: Optional[torch.Tensor] = None,
        embed: Optional[torch.Tensor] = None,
        shared: Optional[Tuple[torch.Tensor, Optional[torch.Tensor]]] = None,
    ) -> torch.Tensor:
        """Args: ``shared`` is :meth:`prepare_shared`'s output when ``skip`` is shared."""
        if below is None:
            h = self.res(_upsample(skip), embed)
        elif shared is None and below.shape[0] == skip.shape[0]:
            h = self.res(_upsample(torch.cat([skip, below], 1)), embed)
        else:  # skip shared by the queries of each mixture, ``below`` per query
            skip_up, skip_conv = self.prepare_shared(skip) if shared is None else shared
            h = self.res.forward_split(skip_up, _upsample(below), embed, skip_conv)
        h = self.conv(h)
        return h if self.norm is None else F.relu_(batch_norm(self.norm, h))

    def prepare_shared(self, skip: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Work on the shared skip features that all groups of queries reuse."""
        skip_up = _upsample(skip)
        return skip_up, self.res.shared_conv(skip_up)


def _upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)
