"""TextCondUNet run the way the authors' code runs it: the baseline of the speed benches.

:class:`AuthorsWayUNet` holds a copy of a :class:`~asteroid_wsas.TextCondUNet` (same
architecture, same weights) and computes the same function in the calling pattern of the
authors' code (microsoft/BiModalAudioSeparation, ``models/cond_unet_attn.py``):

- one query per network call: K queries cost K calls, each redoing the STFT, the text-free
  upper levels and both halves of every up convolution;
- the U-Net as nested blocks, each returning ``cat([its input, its up output], 1)`` to the
  level above, which upsamples it and runs its residual block on it;
- NCHW conv weights and maps (PyTorch's default layout), fp32;
- ``nn.BatchNorm2d`` modules (no in-place inference shortcut), out-of-place residual adds;
- attention as ``softmax((q * d^-1/2) @ k^T) @ v`` with explicit tensors (no fused
  ``scaled_dot_product_attention``); a padding mask, which the authors' blocks do not take,
  is applied by filling masked logits with -inf so that the outputs can be compared.

Every line here is written for this repository; none is copied from the authors' code.
``tests/bench/test_authors_way.py`` checks that its outputs equal the model's (>= 80 dB SNR
in fp32), so the benches compare like with like.

Examples:
    >>> from asteroid_wsas import TextCondUNet
    >>> model = TextCondUNet(n_fft=126, hop_length=32, channels=[8, 16, 16],
    ...                      text_embed_dim=16, text_token_dim=12, n_heads=2).eval()
    >>> theirs = AuthorsWayUNet(model).eval()
    >>> theirs(torch.randn(2, 4000), torch.randn(2, 3, 16), torch.randn(2, 3, 5, 12)).shape
    torch.Size([2, 3, 4000])
"""

import copy
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from asteroid_wsas import TextCondUNet
from asteroid_wsas.models.blocks import InferenceCopies


class AuthorsWayUNet(nn.Module):
    """A TextCondUNet's weights, run one query per call in NCHW fp32 (see the module doc).

    Args:
        model: The model to mirror; it is deep-copied (its own weights stay untouched), so
            the two can be trained side by side from the same start.

    Shape:
        - wav: :math:`(B, T)`; text_embed :math:`(B, K, D)`; text_tokens
          :math:`(B, K, L, E)`; text_mask :math:`(B, K, L)` or None.
        - output: :math:`(B, K, T)`.

    Raises:
        ValueError: A model with FiLM or late conditioning, or with learned queries: the
            authors' network conditions by attention on text only.
    """

    def __init__(self, model: TextCondUNet):
        super().__init__()
        if model.conditioning != "attention" or model.learned_queries is not None:
            raise ValueError("the authors' network conditions by attention on text queries")
        self.model = copy.deepcopy(model)
        for module in self.model.modules():  # the copy never runs our inference paths
            if isinstance(module, InferenceCopies):
                module.clear_inference_copies()
        # PyTorch's default layout, as the authors' modules have it
        self.model.to(memory_format=torch.contiguous_format)

    # --------------------------------------------- what the objectives use of a model
    @property
    def sample_rate(self) -> float:
        return self.model.sample_rate

    @property
    def wants_tokens(self) -> bool:
        return True

    def stft(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model.stft(wav)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return self.model.istft(spec, length)

    # ------------------------------------------------------------------ the network
    def forward(
        self,
        wav: torch.Tensor,
        text_embed: torch.Tensor,
        text_tokens: torch.Tensor,
        text_mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Estimates, one network call and one iSTFT per query."""
        estimates = []
        for k in range(text_embed.shape[1]):
            mask, spec = self._one_query(
                wav, text_embed[:, k], text_tokens[:, k], _pick(text_mask, k)
            )
            estimates.append(self.istft(mask * spec, wav.shape[-1]))
        return torch.stack(estimates, 1)

    def forward_masks(
        self,
        wav: torch.Tensor,
        text_embed: torch.Tensor,
        text_tokens: torch.Tensor,
        text_mask: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Masks :math:`(B, K, F, N)` and the mixture STFT :math:`(B, F, N)`, one network
        call per query (as :meth:`TextCondUNet.forward_masks` returns them)."""
        masks = []
        for k in range(text_embed.shape[1]):
            mask, spec = self._one_query(
                wav, text_embed[:, k], text_tokens[:, k], _pick(text_mask, k)
            )
            masks.append(mask)
        return torch.stack(masks, 1), spec

    def _one_query(self, wav, embed, tokens, mask) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mask :math:`(B, F, N)` of one query and the mixture STFT, from scratch."""
        model = self.model
        spec = model.stft(wav)  # recomputed for every query, as a per-query call does
        n_freq, n_frames = spec.shape[-2:]
        x = model.input_norm(torch.log1p(spec.abs()).unsqueeze(1))
        stride = 2 ** len(model.channels)
        x = F.pad(x, (0, (-n_frames) % stride, 0, (-n_freq) % stride))
        key_mask = None if mask is None else mask.bool()
        features = self._level(0, x, tokens, key_mask)
        logits = _head(model.head, features, embed)
        return model.mask_nl(logits[..., :n_freq, :n_frames]), spec

    def _level(self, level: int, x, tokens, key_mask) -> torch.Tensor:
        """One nested U-Net block: down, (attention), the blocks inside, up.

        Returns ``cat([down output, up output], 1)`` to the level above, except at the
        outermost level, which returns its up output (the features of the head).
        """
        model = self.model
        down, up = model.down[level], model.up[level]
        h = F.leaky_relu(down.norm(_conv(down.conv, x)), 0.2)
        h = _res_block(down.res, h)
        if str(level) in model.attention:
            h = _text_attention(model.attention[str(level)], h, tokens, key_mask)
        inner = h
        if level + 1 < len(model.channels):
            inner = self._level(level + 1, h, tokens, key_mask)
        y = _res_block(
            up.res, F.interpolate(inner, scale_factor=2.0, mode="bilinear", align_corners=True)
        )
        y = _conv(up.conv, y)
        if up.norm is None:  # the outermost level: its output feeds the head
            return y
        return torch.cat([x, F.relu(up.norm(y))], 1)


def _pick(mask: Optional[torch.Tensor], k: int) -> Optional[torch.Tensor]:
    return None if mask is None else mask[:, k]


def _conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding)


def _res_block(block, x: torch.Tensor) -> torch.Tensor:
    """conv + BatchNorm layers (LeakyReLU between), out-of-place residual add, LeakyReLU."""
    if len(block.convs) == 0:
        return x
    h = x
    for i, (conv, norm) in enumerate(zip(block.convs, block.norms)):
        if i > 0:
            h = F.leaky_relu(h, 0.2)
        h = norm(_conv(conv, h))
    return F.leaky_relu(h + x, 0.2)


def _text_attention(block, x: torch.Tensor, tokens, key_mask) -> torch.Tensor:
    """Self-attention then cross-attention blocks on the map as a token sequence."""
    n, c, height, width = x.shape
    seq = x.reshape(n, c, height * width).permute(0, 2, 1)
    for layer, context, mask in (
        (block.self_attn, None, None),
        (block.cross_attn, tokens, key_mask),
    ):
        seq = seq + _attention(layer.attn, layer.norm1(seq), context, mask)
        seq = seq + _linear(layer.mlp.fc2, F.gelu(_linear(layer.mlp.fc1, layer.norm2(seq))))
    return seq.permute(0, 2, 1).reshape(n, c, height, width)


def _attention(attn, x: torch.Tensor, context, key_mask) -> torch.Tensor:
    """Multi-head attention with the logits and the softmax as explicit tensors."""
    context = x if context is None else context
    n, length, dim = x.shape
    heads = attn.n_heads
    q = _linear(attn.q, x).reshape(n, length, heads, dim // heads).permute(0, 2, 1, 3)
    kv = _linear(attn.kv, context).reshape(n, context.shape[1], 2, heads, dim // heads)
    k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)
    logits = (q * (dim // heads) ** -0.5) @ k.transpose(-2, -1)
    if key_mask is not None:
        logits = logits.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    out = logits.softmax(dim=-1) @ v
    return _linear(attn.proj, out.permute(0, 2, 1, 3).reshape(n, length, dim))


def _linear(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, layer.weight, layer.bias)


def _head(head, features: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
    """Inner-product head: a text-weighted sum of the U-Net's output channels, (B, H, W)."""
    weights = torch.sigmoid(_linear(head.query, embed)) * head.scale  # (B, C)
    return (weights[:, :, None, None] * features).sum(1) + head.bias
