"""Input checks of the text-queried separators: shapes, dtypes and values, with errors
that name the argument, and the batch / query dims a caller may leave out."""

from typing import Optional, Tuple

import torch

__all__ = ["check_inputs", "restore_dims"]


def check_inputs(
    wav: torch.Tensor,
    text_embed: torch.Tensor,
    text_tokens: Optional[torch.Tensor],
    text_mask: Optional[torch.Tensor],
    *,
    min_samples: int,
    embed_dim: int,
    token_dim: int,
    needs_tokens: bool,
    dtype: torch.dtype,
):
    """Validate a separator's inputs and bring them to (B, T), (B, K, D), (B, K, L, E),
    (B, K, L).

    Args:
        wav: :math:`(T,)`, :math:`(B, T)` or :math:`(B, 1, T)`.
        text_embed: ``wav``'s batch dims, an optional K dim, then D.
        text_tokens: ``text_embed``'s dims without D, then L and E (or None).
        text_mask: ``text_tokens``' dims without E (or None).
        min_samples: Fewest samples (one STFT frame).
        embed_dim: D.
        token_dim: E.
        needs_tokens: Whether ``text_tokens`` is required.
        dtype: The dtype the model computes in.

    Returns:
        tuple: ``wav``, ``embed``, ``tokens``, ``key_mask`` (bool) and which dims the caller
        left out, ``(no_batch, no_query)``, for :func:`restore_dims`.

    Raises:
        TypeError: A non-tensor input.
        ValueError: Naming the argument: bad shape, dtype, size or non-finite values.
    """
    if not isinstance(wav, torch.Tensor):
        raise TypeError(f"wav must be a torch.Tensor, got {type(wav).__name__}")
    if not isinstance(text_embed, torch.Tensor):
        raise TypeError(f"text_embed must be a torch.Tensor, got {type(text_embed).__name__}")
    if wav.ndim not in (1, 2, 3):
        raise ValueError(f"wav must be (T,), (B, T) or (B, 1, T), got shape {_shape(wav)}")
    if wav.ndim == 3:
        if wav.shape[1] != 1:
            raise ValueError(
                f"wav must be mono (B, 1, T), got {wav.shape[1]} channels: {_shape(wav)}"
            )
        wav = wav[:, 0]
    no_batch = wav.ndim == 1
    if no_batch:
        wav = wav.unsqueeze(0)
    if not torch.is_floating_point(wav):
        raise ValueError(f"wav must be a floating point tensor, got {wav.dtype}")
    if wav.shape[-1] < min_samples:
        raise ValueError(
            f"wav has {wav.shape[-1]} samples, shorter than one STFT frame "
            f"(n_fft={min_samples} samples)"
        )
    if not torch.isfinite(wav).all():
        raise ValueError("wav contains NaN or infinite samples")

    # Query dims: the embedding has the batch dims of wav plus an optional K dim.
    n_batch_dims = 0 if no_batch else 1
    if text_embed.ndim not in (n_batch_dims + 1, n_batch_dims + 2):
        expected = "(D,) or (K, D)" if no_batch else "(B, D) or (B, K, D)"
        raise ValueError(
            f"text_embed must be {expected} for wav of shape {_shape(wav)}, "
            f"got {_shape(text_embed)}"
        )
    no_query = text_embed.ndim == n_batch_dims + 1
    embed = text_embed
    if no_query:
        embed = embed.unsqueeze(-2)
    if no_batch:
        embed = embed.unsqueeze(0)
    if embed.shape[0] != wav.shape[0]:
        raise ValueError(f"text_embed has batch size {embed.shape[0]} but wav has {wav.shape[0]}")
    if embed.shape[-1] != embed_dim:
        raise ValueError(
            f"text_embed must have size {embed_dim} in its last dim, " f"got {_shape(text_embed)}"
        )
    if embed.shape[1] < 1:
        raise ValueError("text_embed holds no query (K = 0)")
    if not torch.isfinite(embed).all():
        raise ValueError("text_embed contains NaN or infinite values")
    embed = embed.to(dtype)
    lead = tuple(text_embed.shape[:-1])

    tokens = key_mask = None
    if text_tokens is None:
        if needs_tokens:
            raise ValueError(
                "text_tokens is required when conditioning='attention' "
                f"(expected shape {lead + ('L', token_dim)})"
            )
        if text_mask is not None:
            raise ValueError("text_mask was given without text_tokens")
    else:
        tokens = _match_lead(text_tokens, "text_tokens", lead, 2, no_query, no_batch)
        if tokens.shape[-1] != token_dim:
            raise ValueError(
                f"text_tokens must have size {token_dim} in its last dim, "
                f"got {_shape(text_tokens)}"
            )
        if not torch.isfinite(tokens).all():
            raise ValueError("text_tokens contains NaN or infinite values")
        tokens = tokens.to(dtype)
        if text_mask is not None:
            key_mask = _match_lead(text_mask, "text_mask", lead, 1, no_query, no_batch)
            if key_mask.shape[-1] != tokens.shape[-2]:
                raise ValueError(
                    f"text_mask must have {tokens.shape[-2]} tokens like text_tokens, "
                    f"got {_shape(text_mask)}"
                )
            key_mask = key_mask.bool()
            if not key_mask.any(-1).all():
                raise ValueError("text_mask marks every token of some query as padding")
    return wav, embed, tokens, key_mask, (no_batch, no_query)


def _shape(t: torch.Tensor) -> tuple:
    return tuple(t.shape)


def _match_lead(t, name, lead, n_trailing, no_query, no_batch):
    """Check that ``t`` has the query dims of text_embed, then add the missing ones."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.ndim != len(lead) + n_trailing:
        raise ValueError(
            f"{name} must have {len(lead) + n_trailing} dims (text_embed's {lead} + "
            f"{n_trailing} more), got {_shape(t)}"
        )
    if tuple(t.shape[: len(lead)]) != lead:
        if not no_batch and t.shape[0] != lead[0]:
            what = "batch size"
        else:
            what = "number of queries K"
        raise ValueError(
            f"{name} has shape {_shape(t)}: its {what} does not match text_embed {lead}"
        )
    if no_query:
        t = t.unsqueeze(len(lead))
    if no_batch:
        t = t.unsqueeze(0)
    return t


def restore_dims(est: torch.Tensor, squeeze: Tuple[bool, bool]) -> torch.Tensor:
    """Drop the batch / query dims that the caller did not give."""
    no_batch, no_query = squeeze
    if no_query:
        est = est.squeeze(1)
    if no_batch:
        est = est.squeeze(0)
    return est
