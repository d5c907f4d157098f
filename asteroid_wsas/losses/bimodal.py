"""L_CNT: the bi-modal contrastive loss between separated audio and single-source phrases.

Each phrase estimate is embedded by the frozen audio-language encoder (gradients flow through
the encoder into the separator) and classified among the text embeddings of all phrases in
the batch: cross-entropy from audio to text, scaled by the encoder's own (detached) logit
scale. Two refinements over a plain ``cross_entropy(scale * a @ t.T, arange)``:

- Identical phrases are not negatives of each other. A phrase repeated to pad P, or "The
  sound of violin" in two mixtures of a batch, would otherwise be pushed away from itself;
  rows with the same text id see the other copies masked out of their softmax.
- Rows can be weighted (phrase weights 1 / copies), and the negatives can come from every
  DDP rank (``gather=True``), which grows the set of negatives with the number of GPUs.
"""

import hashlib
from typing import Optional, Sequence, Union

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

__all__ = ["BimodalContrastiveLoss", "text_ids", "bimodal_contrastive_loss"]


def text_ids(texts: Sequence[str], device: Optional[torch.device] = None) -> torch.Tensor:
    """Stable 63-bit ids of texts (equal texts, equal ids, in every process).

    Python's ``hash`` of a string changes from one process to the next, so DDP ranks could
    not compare its values; a BLAKE2 digest does not.

    Examples:
        >>> ids = text_ids(["a dog barks", "rain", "a dog barks"])
        >>> bool(ids[0] == ids[2]), bool(ids[0] == ids[1])
        (True, False)
    """
    values = [
        int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") >> 1
        for t in texts
    ]
    return torch.tensor(values, dtype=torch.long, device=device)


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    parts = [torch.empty_like(x) for _ in range(_world())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def _gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x.contiguous()))


class BimodalContrastiveLoss(nn.Module):
    r"""Audio -> text InfoNCE between phrase estimates and their phrases.

    Row i of ``audio`` is the embedding of the estimate separated with phrase i; its target
    is row i of ``text``; every other distinct phrase in the batch (and on every rank with
    ``gather=True``) is a negative.

    Args:
        symmetric: Also add the text -> audio direction (CLIP's symmetric loss) and average
            the two.
        gather: Take negatives from all DDP ranks (all-gather; audio keeps its gradient in
            the symmetric form). Every rank must pass the same number of rows.

    Shape:
        - audio: :math:`(M, D)`, L2-normalised embeddings of the estimates.
        - text: :math:`(M, D)`, L2-normalised embeddings of their phrases.
        - weights: :math:`(M,)`, optional row weights (weighted mean over rows).
        - ids: :math:`(M,)` long, optional text ids (:func:`text_ids`); equal ids are not
          negatives of each other.
        - output: a scalar.

    Examples:
        >>> text = F.normalize(torch.randn(4, 8), dim=-1)
        >>> loss = BimodalContrastiveLoss()
        >>> bool(loss(text, text, 20.0) < loss(text.roll(1, 0), text, 20.0))
        True
    """

    def __init__(self, symmetric: bool = False, gather: bool = False):
        super().__init__()
        self.symmetric = bool(symmetric)
        self.gather = bool(gather)

    def forward(
        self,
        audio: torch.Tensor,
        text: torch.Tensor,
        logit_scale: Union[float, torch.Tensor],
        weights: Optional[torch.Tensor] = None,
        ids: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        if audio.ndim != 2 or audio.shape != text.shape:
            raise ValueError(
                f"audio and text must both be (M, D), got {tuple(audio.shape)} and "
                f"{tuple(text.shape)}"
            )
        n_rows = audio.shape[0]
        if n_rows == 0:
            raise ValueError("audio holds no rows (M = 0)")
        for name, value in (("weights", weights), ("ids", ids)):
            if value is not None and value.shape != (n_rows,):
                raise ValueError(f"{name} must be ({n_rows},), got {tuple(value.shape)}")
        if weights is not None and not bool((weights >= 0).all() and weights.sum() > 0):
            raise ValueError("weights must be non-negative with a positive sum")
        scale = torch.as_tensor(logit_scale, dtype=torch.float32, device=audio.device).detach()
        audio, text = audio.float(), text.detach().float()
        if ids is None:
            ids = torch.arange(n_rows, device=audio.device)
        ids = ids.to(audio.device)

        rank = 0
        all_text, all_ids, all_audio = text, ids, audio
        if self.gather and _world() > 1:
            rank = dist.get_rank()
            all_text, all_ids = _gather_no_grad(text), _gather_no_grad(ids)
            if self.symmetric:
                all_audio = _gather_with_grad(audio)
        target = torch.arange(n_rows, device=audio.device) + rank * n_rows
        # other copies of a row's own phrase are not negatives
        same = ids[:, None] == all_ids[None, :]
        same[torch.arange(n_rows, device=audio.device), target] = False

        logits = (scale * audio @ all_text.T).masked_fill(same, float("-inf"))
        losses = F.cross_entropy(logits, target, reduction="none")
        if self.symmetric:
            back = (scale * text @ all_audio.T).masked_fill(same, float("-inf"))
            losses = 0.5 * (losses + F.cross_entropy(back, target, reduction="none"))
        if weights is None:
            return losses.mean()
        weights = weights.to(losses.dtype)
        return (weights * losses).sum() / weights.sum()


bimodal_contrastive_loss = BimodalContrastiveLoss()
