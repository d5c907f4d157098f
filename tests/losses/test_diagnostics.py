"""losses.diagnostics: the gradient of each loss part, its norm, the cosine between parts."""

import math

import pytest
import torch

from asteroid_wsas.data import mixture_of_mixtures
from asteroid_wsas.losses import WeakObjective
from asteroid_wsas.losses.diagnostics import gradient_parts, weak_loss_parts
from tests.helpers import tiny_encoder, tiny_unet, weak_items


def test_norms_and_cosines_are_those_of_the_parts_gradients():
    w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    unused = torch.zeros(2, requires_grad=True)  # reached by no part: zeros, not an error
    u, v = torch.tensor([1.0, 2.0, 2.0]), torch.tensor([0.0, 3.0, 4.0])
    parts = {"a": w @ u, "b": w @ v, "sq": (w**2).sum()}
    norms, cos = gradient_parts(parts, [w, unused])
    assert norms["a"] == pytest.approx(3.0) and norms["b"] == pytest.approx(5.0)
    assert norms["sq"] == pytest.approx(float((2 * w.detach()).norm()))
    assert cos[("a", "b")] == pytest.approx(14 / 15)
    g = 2 * w.detach()
    assert cos[("a", "sq")] == pytest.approx(float(u @ g) / (3.0 * float(g.norm())))
    assert set(cos) == {("a", "b"), ("a", "sq"), ("b", "sq")}
    norms, cos = gradient_parts({"a": w @ u, "none": unused.sum() * 0}, [w])
    assert norms["none"] == 0.0 and cos[("a", "none")] == 0.0


def test_the_weak_loss_splits_into_its_teacher_and_reconstruction_parts():
    items = weak_items(4)
    batch = mixture_of_mixtures([items[i] for i in range(4)])
    texts = [c for cs in batch["captions"] for c in cs]
    texts += [p for item in batch["phrases"] for g in item for p in g]
    encoder = tiny_encoder(texts).freeze()
    model = tiny_unet().eval()  # the same masks for both weights
    params = [p for p in model.parameters() if p.requires_grad]
    norms = {}
    for weight in (0.1, 0.5):
        objective = WeakObjective(cnt_weight=weight)
        terms = objective(model, encoder, batch)
        parts = weak_loss_parts(objective, terms)
        value = {k: float(v.detach()) for k, v in {**terms, **parts}.items()}
        assert value["teacher"] + value["reconstruction"] == pytest.approx(value["loss"], rel=1e-6)
        assert value["teacher"] == pytest.approx(weight * value["cnt"], rel=1e-5)
        norms[weight], cos = gradient_parts(parts, params)
        assert -1.0 <= cos[("teacher", "reconstruction")] <= 1.0
    # the teacher's pull scales with its weight; the reconstruction's does not move
    assert norms[0.5]["teacher"] == pytest.approx(5 * norms[0.1]["teacher"], rel=1e-4)
    assert norms[0.5]["reconstruction"] == pytest.approx(norms[0.1]["reconstruction"], rel=1e-6)
    assert all(math.isfinite(n) and n > 0 for n in norms[0.1].values())
