"""The one separation path: encoded queries in, estimates out.

Validation, evaluation, examples, the export's reference and :class:`Separator
<asteroid_wsas.separation.separator.Separator>` all answer queries through
:func:`separate_batch`. Queries are encoded once (:func:`encode`) and the encoded queries
are reused for every window and channel of a call; a text-queried model turns them into
masks (:func:`masks_to_waveforms` makes the estimates), a model with learned queries (MixIT)
gives fixed outputs that each query picks from (:func:`pick_outputs`,
:func:`assign_outputs`).
"""

import contextlib
from dataclasses import dataclass
from typing import ContextManager, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from ..encoders.base import BimodalEncoder, Query, encode_queries
from ..utils import fast_bf16

__all__ = [
    "SELECTIONS",
    "EncodedQueries",
    "encode",
    "separate_batch",
    "masks_to_waveforms",
    "pick_outputs",
    "assign_outputs",
    "autocast",
    "autocast_dtype",
    "fit_length",
]

SELECTIONS = ("text", "oracle", "assignment")


@dataclass(frozen=True)
class EncodedQueries:
    """Queries through the encoder once: what the model reads, for every window and channel.

    Attributes:
        embed: Query embeddings :math:`(B, K, D)`; :math:`B = 1` when every mixture of a
            batch asks the same queries (they are then expanded, not copied).
        tokens: Token states :math:`(B, K, L, E)` (None for a model without token
            attention).
        mask: Their mask :math:`(B, K, L)`, True for real tokens (None without tokens).
        negatives: How many of the K queries, the last ones, are negative: their masks are
            removed from every estimate.

    Examples:
        >>> q = EncodedQueries(torch.zeros(1, 3, 16), negatives=1)
        >>> q.positives, tuple(q.batch(2)[0].shape)
        (2, (2, 3, 16))
    """

    embed: torch.Tensor
    tokens: Optional[torch.Tensor] = None
    mask: Optional[torch.Tensor] = None
    negatives: int = 0

    @property
    def positives(self) -> int:
        """How many queries give an estimate."""
        return self.embed.shape[1] - self.negatives

    def batch(
        self, size: int
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        """``(embed, tokens, mask)`` for a batch of ``size`` mixtures.

        Raises:
            ValueError: Queries of another batch size (not 1, not ``size``).
        """
        if self.embed.shape[0] not in (1, size):
            raise ValueError(
                f"queries were encoded for {self.embed.shape[0]} mixtures, the batch has {size}"
            )

        def grow(part: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
            return None if part is None else part.expand(size, *part.shape[1:])

        return grow(self.embed), grow(self.tokens), grow(self.mask)


def encode(
    encoder: BimodalEncoder,
    queries: Sequence[Sequence[Query]],
    negatives: Sequence[Query] = (),
    with_tokens: bool = True,
) -> EncodedQueries:
    """Encode queries once, negatives after them, in one encoder call per kind.

    Args:
        encoder: A :class:`~asteroid_wsas.encoders.base.BimodalEncoder`.
        queries: B lists of K queries (texts, or image tensors for an encoder of images);
            one list for queries that every mixture of a batch shares.
        negatives: Queries whose masks are removed from every estimate.
        with_tokens: Also the token states (a model whose ``wants_tokens`` is True).

    Returns:
        EncodedQueries: on the encoder's device.

    Raises:
        ValueError: Lists of different lengths.
        TypeError: An image query for an encoder that embeds text only.
    """
    texts = [list(q) + list(negatives) for q in queries]
    embed, tokens, mask = encode_queries(encoder, texts, with_tokens)
    return EncodedQueries(embed, tokens, mask, len(negatives))


def separate_batch(
    model: nn.Module,
    encoder: Optional[BimodalEncoder],
    mix: torch.Tensor,
    queries: Union[None, EncodedQueries, Sequence[Sequence[Query]]] = None,
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
        queries: B lists of K texts, encoded here; or queries encoded already
            (:func:`encode`, negatives included), reused as they are; None with learned
            queries: all M outputs.
        negatives: Texts whose masks are removed from every estimate (text-queried only;
            with encoded queries they are encoded with them).
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
    encoded = isinstance(queries, EncodedQueries)
    if encoded and negatives:
        raise ValueError("encoded queries carry their negatives: encode them together")
    if getattr(model, "learned_queries", None) is not None:
        if negatives or (encoded and queries.negatives):
            raise ValueError(
                "negative queries need a text-conditioned separator; this one was trained "
                "with MixIT and answers a query by picking one of its fixed outputs"
            )
        return _learned_outputs(model, encoder, mix, queries, references, selection, dtype)
    if queries is None:
        raise ValueError("a text-queried separator needs queries")
    if not encoded:
        queries = encode(encoder, queries, negatives, model.wants_tokens)
    with autocast(mix.device, dtype):
        masks, spec = model.forward_masks(mix, *queries.batch(mix.shape[0]))
    return masks_to_waveforms(model, masks, spec, mix.shape[-1], queries.negatives)


def _learned_outputs(model, encoder, mix, queries, references, selection, dtype):
    """:func:`separate_batch` for a model with learned queries: its outputs, or the ones
    the queries pick."""
    learned = model.learned_queries
    with autocast(mix.device, dtype):
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
        if not isinstance(queries, EncodedQueries):
            queries = encode(encoder, queries, with_tokens=False)
        audio = encoder.embed_audio(outs.flatten(0, 1), int(model.sample_rate))
        score = queries.embed.float() @ audio.float().unflatten(0, outs.shape[:2]).mT
    return pick_outputs(outs, score)


def masks_to_waveforms(
    model: nn.Module, masks: torch.Tensor, spec: torch.Tensor, length: int, negatives: int = 0
) -> torch.Tensor:
    """Mask -> waveform: each positive query's mask on the mixture's spectrogram, without
    the union of the negative queries' masks (the last ``negatives``).

    Args:
        model: The separator (its ``istft``, and its STFT module's ``apply_masks`` where it
            has one: the exported graph's conv-STFT answers the same calls).
        masks: :math:`(B, K, F, N)` masks, negatives last.
        spec: The mixtures' spectrograms :math:`(B, F, N)`.
        length: Samples per estimate.
        negatives: How many of the K masks are negative.

    Returns:
        torch.Tensor: estimates :math:`(B, K - negatives, T)`.
    """
    masks = masks.float()
    keep = masks[:, : masks.shape[1] - negatives]
    if negatives:  # the union of the negatives' masks leaves every estimate
        keep = keep * torch.prod(1 - masks[:, -negatives:], dim=1, keepdim=True)
    # an STFT module knows its spectra's layout (complex, or the exported graph's real and
    # imaginary rows); a model with a plain stft method (the protocol) has complex spectra
    apply = getattr(model.stft, "apply_masks", None)
    return model.istft(apply(spec, keep) if apply else keep * spec.unsqueeze(1), length)


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


def autocast(device: torch.device, dtype: Optional[torch.dtype]) -> ContextManager:
    """Autocast to ``dtype`` on ``device`` (None: leave the caller's autocast as it is)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def autocast_dtype(device: torch.device, precision: str) -> Optional[torch.dtype]:
    """The autocast dtype of a ``precision`` (``"auto"``: bf16 where the hardware runs it
    fast, ``"bf16"`` or ``"fp32"``; None for float32).

    Raises:
        ValueError: Another precision.

    Examples:
        >>> autocast_dtype(torch.device("cpu"), "bf16")
        torch.bfloat16
    """
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if fast_bf16(device) else None


def fit_length(wav: torch.Tensor, length: int) -> torch.Tensor:
    """``wav`` cut or zero-padded to ``length`` samples (its last axis).

    Examples:
        >>> tuple(fit_length(torch.ones(2, 5), 8).shape)
        (2, 8)
    """
    if wav.shape[-1] >= length:
        return wav[..., :length]
    return torch.nn.functional.pad(wav, (0, length - wav.shape[-1]))
