"""L_CNT: audio -> text contrastive loss with duplicate-aware negatives."""

import math

import pytest
import torch
import torch.nn.functional as F

from asteroid_wsas.losses import BimodalContrastiveLoss, text_ids


def unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_matches_plain_cross_entropy_without_duplicates():
    audio, text = unit(6, 16), unit(6, 16, seed=1)
    expected = F.cross_entropy(20.0 * audio @ text.T, torch.arange(6))
    got = BimodalContrastiveLoss()(audio, text, 20.0)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


def test_falls_when_each_estimate_matches_its_own_phrase():
    text = unit(8, 32)
    loss = BimodalContrastiveLoss()
    near = F.normalize(text + 0.5 * unit(8, 32, seed=2), dim=-1)
    wrong = near.roll(1, 0)
    values = [loss(a, text, 5.0).item() for a in (text, near, wrong)]
    assert values[0] < values[1] < values[2]
    assert values[2] > math.log(8)  # worse than chance once matched to the wrong phrase


def test_copies_of_a_phrase_are_not_negatives_of_each_other():
    text = unit(3, 16)
    dup_text = torch.cat([text, text[:1]])  # phrase 0 repeated to pad P
    audio = dup_text.clone()
    ids = text_ids(["dog", "rain", "car", "dog"])
    loss = BimodalContrastiveLoss()
    naive = loss(audio, dup_text, 50.0)
    aware = loss(audio, dup_text, 50.0, ids=ids)
    assert aware < naive  # the naive loss pushes "dog" away from "dog"
    assert naive.item() == pytest.approx(0.5 * math.log(2), abs=1e-3)  # log 2 per copy
    assert aware.item() == pytest.approx(loss(text, text, 50.0).item(), abs=1e-6)


def test_weights_and_symmetric_form():
    audio, text = unit(4, 8), unit(4, 8, seed=3)
    per_row = F.cross_entropy(10.0 * audio @ text.T, torch.arange(4), reduction="none")
    weights = torch.tensor([0.5, 1.0, 0.5, 2.0])
    got = BimodalContrastiveLoss()(audio, text, 10.0, weights=weights)
    assert got.item() == pytest.approx(((weights * per_row).sum() / weights.sum()).item())
    back = F.cross_entropy(10.0 * text @ audio.T, torch.arange(4))
    sym = BimodalContrastiveLoss(symmetric=True)(audio, text, 10.0)
    assert sym.item() == pytest.approx(0.5 * (per_row.mean() + back).item(), rel=1e-6)


def test_gradient_reaches_audio_only_and_scale_is_detached():
    audio = unit(4, 8).requires_grad_()
    text = unit(4, 8, seed=1).requires_grad_()
    scale = torch.tensor(20.0, requires_grad=True)
    BimodalContrastiveLoss(symmetric=True)(audio, text, scale).backward()
    assert audio.grad.abs().sum() > 0
    assert text.grad is None and scale.grad is None


def test_gather_without_a_process_group_is_the_local_loss():
    audio, text = unit(4, 8), unit(4, 8, seed=1)
    local = BimodalContrastiveLoss()(audio, text, 10.0)
    assert BimodalContrastiveLoss(gather=True)(audio, text, 10.0).item() == local.item()


def test_text_ids_are_stable_across_processes():
    import subprocess
    import sys

    code = "from asteroid_wsas.losses import text_ids; print(text_ids(['a dog barks']).item())"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert runs == {f"{text_ids(['a dog barks']).item()}\n"}


def test_bad_inputs():
    a = unit(4, 8)
    loss = BimodalContrastiveLoss()
    with pytest.raises(ValueError, match=r"audio and text must both be \(M, D\)"):
        loss(a, a[:3], 1.0)
    with pytest.raises(ValueError, match="no rows"):
        loss(a[:0], a[:0], 1.0)
    with pytest.raises(ValueError, match=r"weights must be \(4,\)"):
        loss(a, a, 1.0, weights=torch.ones(3))
    with pytest.raises(ValueError, match=r"ids must be \(4,\)"):
        loss(a, a, 1.0, ids=torch.arange(5))
    with pytest.raises(ValueError, match="non-negative"):
        loss(a, a, 1.0, weights=torch.zeros(4))
