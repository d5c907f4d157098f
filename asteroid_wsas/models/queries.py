"""Learned queries: fixed text-side inputs of a separator trained without text (MixIT)."""

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LearnedQueries"]


class LearnedQueries(nn.Module):
    """M trainable stand-ins for text queries: a pooled embedding and one token state each.

    A text-queried separator trained with MixIT has no text to condition on; these vectors
    take the text's place, so the model gives M fixed outputs per mixture. They belong to
    the model (its state dict and ``serialize()`` carry them); a text query later picks one
    of the M outputs (:func:`asteroid_wsas.separator.separate_batch`).

    Args:
        n_queries: M, outputs per mixture.
        embed_dim: The model's ``text_embed_dim``.
        token_dim: The model's ``text_token_dim``.

    Shape:
        - output: ``embed`` :math:`(B, M, D)` and ``tokens`` :math:`(B, M, 1, E)`.

    Examples:
        >>> embed, tokens = LearnedQueries(4, 16, 12)(batch=2)
        >>> tuple(embed.shape), tuple(tokens.shape)
        ((2, 4, 16), (2, 4, 1, 12))
    """

    def __init__(self, n_queries: int, embed_dim: int, token_dim: int):
        super().__init__()
        if n_queries < 2:
            raise ValueError(f"n_queries must be >= 2, got {n_queries}")
        # fixed generator: the same initial queries for every run (seeds vary the model only)
        gen = torch.Generator().manual_seed(0)
        self.embed = nn.Parameter(
            F.normalize(torch.randn(n_queries, embed_dim, generator=gen), dim=-1)
        )
        self.tokens = nn.Parameter(torch.randn(n_queries, 1, token_dim, generator=gen))

    def __len__(self) -> int:
        return self.embed.shape[0]

    def forward(
        self, batch: int, with_tokens: bool = True
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The M queries for ``batch`` mixtures (token states None if not wanted)."""
        embed = self.embed.expand(batch, -1, -1)
        tokens = self.tokens.expand(batch, -1, -1, -1) if with_tokens else None
        return embed, tokens
