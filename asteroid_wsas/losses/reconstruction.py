"""Reconstruction losses on STFT magnitudes: weighted L1, mix-and-separate (L_URL), consistency
(L_CRL).

All three compare magnitudes with the authors' weighted L1,
``mean(W * |est - ref|)`` with ``W = clamp(log1p(|weight source|), 1e-3, 10)``: loud
time-frequency bins count more, silent ones still a little. The two hierarchical terms of the
weak objective differ in what is compared and where the weight comes from:

- L_URL (mix-and-separate, "unsupervised reconstruction"): the estimate for each mixture's
  caption, queried on the mixture of mixtures X, against that mixture; weight from ``|X|``.
- L_CRL (consistency): the weighted sum of a mixture's phrase estimates against that
  mixture; weight from the mixture itself.

Both are summed over the N mixtures of a mixture of mixtures, as in the authors' code.
"""

from typing import Optional

import torch
from torch import nn

__all__ = [
    "magnitude_weight",
    "WeightedMagnitudeL1",
    "MixAndSeparateLoss",
    "ConsistencyLoss",
    "weighted_mag_l1",
    "mix_and_separate_loss",
    "consistency_loss",
]

WEIGHT_FLOOR = 1e-3
WEIGHT_CEIL = 10.0


def magnitude_weight(
    magnitude: torch.Tensor, floor: float = WEIGHT_FLOOR, ceil: float = WEIGHT_CEIL
) -> torch.Tensor:
    """The authors' loss weight ``clamp(log1p(|S|), floor, ceil)`` (no gradient).

    Args:
        magnitude: An STFT magnitude (or any non-negative tensor).
        floor: Smallest weight (silent bins still count a little).
        ceil: Largest weight.

    Returns:
        The weight, same shape, detached.

    Examples:
        >>> magnitude_weight(torch.tensor([0.0, 1.0, 1e9]))
        tensor([1.0000e-03, 6.9315e-01, 1.0000e+01])
    """
    return torch.log1p(magnitude.detach()).clamp(floor, ceil)


def _check_same_shape(est: torch.Tensor, ref: torch.Tensor, est_name: str, ref_name: str):
    if est.shape != ref.shape:
        raise ValueError(
            f"{est_name} has shape {tuple(est.shape)} but {ref_name} has {tuple(ref.shape)}; "
            "they must match"
        )


class WeightedMagnitudeL1(nn.Module):
    r"""Weighted L1 between magnitudes: ``mean(W * |est - ref|)``.

    ``W = clamp(log1p(weight_source), 1e-3, 10)``; the caller chooses the weight source
    (the mixture of mixtures for L_URL, the mixture for L_CRL). Without one, ``W = 1``.

    Args:
        floor: Smallest weight.
        ceil: Largest weight.

    Shape:
        - est, ref: :math:`(*)`, any shape, equal.
        - weight_source: broadcastable to ``est``.
        - output: a scalar.

    Examples:
        >>> loss = WeightedMagnitudeL1()
        >>> ref = torch.rand(2, 65, 40)
        >>> loss(ref, ref, weight_source=ref).item()
        0.0
        >>> bool(loss(ref + 0.1, ref, weight_source=ref) > 0)
        True
    """

    def __init__(self, floor: float = WEIGHT_FLOOR, ceil: float = WEIGHT_CEIL):
        super().__init__()
        if not 0 <= floor <= ceil:
            raise ValueError(f"need 0 <= floor <= ceil, got floor={floor}, ceil={ceil}")
        self.floor = float(floor)
        self.ceil = float(ceil)

    def forward(
        self,
        est: torch.Tensor,
        ref: torch.Tensor,
        weight_source: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Args: est, ref: magnitudes; weight_source: magnitude the weight is computed from."""
        _check_same_shape(est, ref, "est", "ref")
        err = (est - ref).abs()
        if weight_source is None:
            return err.mean()
        weight = magnitude_weight(weight_source, self.floor, self.ceil)
        try:
            return (torch.broadcast_to(weight, err.shape) * err).mean()
        except RuntimeError:
            raise ValueError(
                f"weight_source of shape {tuple(weight_source.shape)} does not broadcast to "
                f"est {tuple(est.shape)}"
            ) from None


class MixAndSeparateLoss(nn.Module):
    r"""L_URL: each mixture-level estimate against its mixture, weight from the mixture of
    mixtures (CLIPSep-Text's mix-and-separate objective, on magnitudes).

    ``sum_n mean(W_X * | est_n - |M_n| |)`` with ``W_X`` from ``|X|``, X the mixture of
    mixtures. With clean single sources in place of the mixtures M_n this is the supervised
    mix-and-separate loss.

    Args:
        floor: Smallest weight.
        ceil: Largest weight.

    Shape:
        - est: :math:`(B, N, F, T)`, estimated magnitudes, one per mixture-level query.
        - targets: :math:`(B, N, F, T)`, magnitudes of the N mixtures (or sources).
        - mix: :math:`(B, F, T)`, magnitude of the mixture of mixtures.
        - output: a scalar.

    Examples:
        >>> mags = torch.rand(2, 2, 33, 10)
        >>> loss = MixAndSeparateLoss()
        >>> loss(mags, mags, mags.sum(1)).item()
        0.0
        >>> bool(loss(mags.flip(1), mags, mags.sum(1)) > 0)  # swapped queries
        True
    """

    def __init__(self, floor: float = WEIGHT_FLOOR, ceil: float = WEIGHT_CEIL):
        super().__init__()
        self.l1 = WeightedMagnitudeL1(floor, ceil)

    def forward(self, est: torch.Tensor, targets: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        if est.ndim != 4:
            raise ValueError(f"est must be (B, N, F, T), got shape {tuple(est.shape)}")
        _check_same_shape(est, targets, "est", "targets")
        if mix.shape != est.shape[:1] + est.shape[2:]:
            raise ValueError(
                f"mix must be (B, F, T) = {tuple(est.shape[:1] + est.shape[2:])}, "
                f"got {tuple(mix.shape)}"
            )
        # sum over the N mixtures of per-mixture means (the authors' reduction)
        return est.shape[1] * self.l1(est, targets, mix.unsqueeze(1))


class ConsistencyLoss(nn.Module):
    r"""L_CRL: the weighted sum of a mixture's phrase estimates must rebuild that mixture.

    ``sum_n mean(W_n * | sum_k w_nk est_nk - |M_n| |)`` with ``W_n`` from ``|M_n|`` and
    ``w_nk`` the phrase weights (1 / copies, so a phrase repeated to pad P counts once).

    Args:
        floor: Smallest weight.
        ceil: Largest weight.

    Shape:
        - est: :math:`(B, N, P, F, T)`, estimated magnitudes of the P phrases of each mixture.
        - weights: :math:`(B, N, P)`, phrase weights.
        - targets: :math:`(B, N, F, T)`, magnitudes of the mixtures.
        - output: a scalar.

    Examples:
        >>> parts = torch.rand(1, 2, 3, 33, 10)
        >>> weights = torch.ones(1, 2, 3)
        >>> ConsistencyLoss()(parts, weights, parts.sum(2)).item()
        0.0
    """

    def __init__(self, floor: float = WEIGHT_FLOOR, ceil: float = WEIGHT_CEIL):
        super().__init__()
        self.l1 = WeightedMagnitudeL1(floor, ceil)

    def forward(
        self, est: torch.Tensor, weights: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        if est.ndim != 5:
            raise ValueError(f"est must be (B, N, P, F, T), got shape {tuple(est.shape)}")
        if weights.shape != est.shape[:3]:
            raise ValueError(
                f"weights must be (B, N, P) = {tuple(est.shape[:3])}, got {tuple(weights.shape)}"
            )
        if targets.shape != est.shape[:2] + est.shape[3:]:
            raise ValueError(
                f"targets must be (B, N, F, T) = {tuple(est.shape[:2] + est.shape[3:])}, "
                f"got {tuple(targets.shape)}"
            )
        rebuilt = (weights.to(est.dtype)[..., None, None] * est).sum(2)
        return est.shape[1] * self.l1(rebuilt, targets, targets)


# Asteroid-style ready-made instances.
weighted_mag_l1 = WeightedMagnitudeL1()
mix_and_separate_loss = MixAndSeparateLoss()
consistency_loss = ConsistencyLoss()
