"""Weighted magnitude L1, L_URL and L_CRL on hand-built magnitudes."""

import pytest
import torch

from asteroid_wsas.losses import (
    ConsistencyLoss,
    MixAndSeparateLoss,
    WeightedMagnitudeL1,
    magnitude_weight,
)


def mags(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * 3.0


def test_weight_is_the_authors_clamped_log1p_and_carries_no_gradient():
    mag = torch.tensor([0.0, 1e-4, 1.0, 5.0, 1e6], requires_grad=True)
    weight = magnitude_weight(mag)
    expected = torch.tensor([1e-3, 1e-3, 0.6931472, 1.7917595, 10.0])
    torch.testing.assert_close(weight, expected)
    assert not weight.requires_grad


def test_weighted_l1_by_hand():
    est = torch.tensor([[1.0, 2.0], [0.0, 4.0]])
    ref = torch.tensor([[0.0, 2.0], [1.0, 1.0]])
    source = torch.tensor([[0.0, 1.0], [3.0, 1e5]])
    w = torch.log1p(source).clamp(1e-3, 10)
    expected = (w * (est - ref).abs()).mean()
    assert WeightedMagnitudeL1()(est, ref, source).item() == pytest.approx(expected.item())
    assert WeightedMagnitudeL1()(est, ref).item() == pytest.approx(5 / 4)  # no weight: L1


def test_loud_bins_count_more_than_silent_ones():
    ref = torch.zeros(2, 4)
    source = torch.tensor([[0.0] * 4, [100.0] * 4])
    err_silent = ref.clone()
    err_silent[0] += 1.0
    err_loud = ref.clone()
    err_loud[1] += 1.0
    loss = WeightedMagnitudeL1()
    assert loss(err_loud, ref, source) > 100 * loss(err_silent, ref, source)


def test_mix_and_separate_minimum_at_perfect_estimates_and_swaps_score_worse():
    targets = mags(2, 2, 33, 12)
    mix = mags(2, 33, 12, seed=1) + targets.sum(1)
    loss = MixAndSeparateLoss()
    assert loss(targets, targets, mix).item() == 0.0
    noisy = targets + 0.05 * mags(2, 2, 33, 12, seed=2)
    assert 0 < loss(noisy, targets, mix) < loss(targets.flip(1), targets, mix)


def test_mix_and_separate_sums_per_mixture_means_and_weights_by_the_mixture_of_mixtures():
    targets = mags(1, 2, 5, 4)
    est = targets + mags(1, 2, 5, 4, seed=3)
    mix = mags(1, 5, 4, seed=4)
    w = torch.log1p(mix).clamp(1e-3, 10)
    by_hand = sum((w * (est[:, n] - targets[:, n]).abs()).mean() for n in range(2))
    assert MixAndSeparateLoss()(est, targets, mix).item() == pytest.approx(by_hand.item())


def test_consistency_minimum_when_weighted_parts_rebuild_each_mixture():
    parts = mags(2, 2, 3, 17, 6)
    weights = torch.tensor([[1.0, 1.0, 1.0], [0.5, 1.0, 0.5]]).expand(2, 2, 3)
    targets = (weights[..., None, None] * parts).sum(2)
    loss = ConsistencyLoss()
    assert loss(parts, weights, targets).item() == pytest.approx(0.0, abs=1e-7)
    # a repeated phrase counted twice (weights 1) over-shoots the mixture
    assert loss(parts, torch.ones(2, 2, 3), targets) > 0
    # parts of the other mixture do not rebuild this one
    assert loss(parts.flip(1), weights, targets) > 0


def test_consistency_weight_comes_from_the_mixture():
    parts = mags(1, 1, 2, 5, 4)
    targets = mags(1, 1, 5, 4, seed=5)
    weights = torch.ones(1, 1, 2)
    w = torch.log1p(targets).clamp(1e-3, 10)
    by_hand = (w * (parts.sum(2) - targets).abs()).mean()
    assert ConsistencyLoss()(parts, weights, targets).item() == pytest.approx(by_hand.item())


def test_gradients_reach_the_estimates():
    est = mags(1, 2, 9, 4).requires_grad_()
    MixAndSeparateLoss()(est, mags(1, 2, 9, 4, seed=1), mags(1, 9, 4, seed=2)).backward()
    assert est.grad is not None and est.grad.abs().sum() > 0


def test_shape_errors_name_the_argument():
    t = mags(1, 2, 9, 4)
    with pytest.raises(ValueError, match="est has shape"):
        WeightedMagnitudeL1()(t, t[:, :1])
    with pytest.raises(ValueError, match="weight_source"):
        WeightedMagnitudeL1()(t, t, t[..., :3])
    with pytest.raises(ValueError, match=r"est must be \(B, N, F, T\)"):
        MixAndSeparateLoss()(t[0], t[0], t[0, 0])
    with pytest.raises(ValueError, match=r"mix must be \(B, F, T\)"):
        MixAndSeparateLoss()(t, t, t)
    parts = mags(1, 2, 3, 9, 4)
    with pytest.raises(ValueError, match=r"weights must be \(B, N, P\)"):
        ConsistencyLoss()(parts, torch.ones(1, 2), t)
    with pytest.raises(ValueError, match=r"targets must be \(B, N, F, T\)"):
        ConsistencyLoss()(parts, torch.ones(1, 2, 3), t[:, :1])
    with pytest.raises(ValueError, match="floor"):
        WeightedMagnitudeL1(floor=2.0, ceil=1.0)
