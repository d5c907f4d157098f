"""bench/authors_way.py computes what TextCondUNet computes, so the benches compare like
with like (the authors' calling pattern, not another function)."""

import importlib
import sys
from pathlib import Path

import pytest
import torch

from asteroid_wsas import TextCondUNet
from tests.helpers import randomize_norm_stats

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def authors_way():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("authors_way")
    finally:
        sys.path.remove(str(BENCH))


def snr_db(ref: torch.Tensor, est: torch.Tensor) -> float:
    return float(
        10 * torch.log10(ref.double().square().sum() / (ref - est).double().square().sum())
    )


def tiny_model(**kwargs) -> TextCondUNet:
    torch.manual_seed(0)
    config = dict(
        sample_rate=8000,
        n_fft=126,
        hop_length=32,
        channels=[8, 16, 16, 16, 16],
        attention_levels=[3, 4],
        text_embed_dim=16,
        text_token_dim=12,
        n_heads=2,
        out_channels=4,
    )
    config.update(kwargs)
    return randomize_norm_stats(TextCondUNet(**config))


def inputs(n_queries: int, gen_seed: int = 1):
    gen = torch.Generator().manual_seed(gen_seed)
    wav = torch.randn(2, 4000, generator=gen)
    embed = torch.randn(2, n_queries, 16, generator=gen)
    tokens = torch.randn(2, n_queries, 5, 12, generator=gen)
    mask = torch.ones(2, n_queries, 5, dtype=torch.bool)
    mask[:, 0, 3:] = False  # some padding, which both must ignore
    return wav, embed, tokens, mask


def test_outputs_equal_the_models_in_fp32(authors_way):
    model = tiny_model().eval()
    theirs = authors_way.AuthorsWayUNet(model).eval()
    wav, embed, tokens, mask = inputs(3)
    with torch.no_grad():
        ours = model(wav, embed, tokens, mask)
        got = theirs(wav, embed, tokens, mask)
        masks_ours, spec_ours = model.forward_masks(wav, embed, tokens, mask)
        masks_theirs, spec_theirs = theirs.forward_masks(wav, embed, tokens, mask)
    assert got.shape == ours.shape == (2, 3, 4000)
    assert snr_db(ours, got) >= 80
    assert snr_db(masks_ours, masks_theirs) >= 80
    assert torch.equal(spec_ours, spec_theirs)


def test_one_query_in_training_mode_gives_the_same_gradients(authors_way):
    # one query per mixture: BatchNorm sees the same batch both ways, so training matches too
    model = tiny_model().train()
    theirs = authors_way.AuthorsWayUNet(model).train()
    wav, embed, tokens, mask = inputs(1)
    ours = model(wav, embed, tokens, mask)  # (B, 1, T): the query dim is kept
    got = theirs(wav, embed, tokens, mask)
    assert snr_db(ours.detach(), got.detach()) >= 80
    ours.square().sum().backward()
    got.square().sum().backward()
    theirs_params = dict(theirs.model.named_parameters())
    ours_grads = {n: p.grad for n, p in model.named_parameters()}
    # relative to the largest gradient: a gradient near zero is rounding noise both ways
    scale = max(g.abs().max() for g in ours_grads.values() if g is not None)
    for name, grad in ours_grads.items():
        other = theirs_params[name].grad
        assert (grad is None) == (other is None), name
        if grad is not None:
            assert (grad - other).abs().max() <= 1e-4 * scale, name


def test_it_holds_a_copy_in_nchw(authors_way):
    model = tiny_model()
    theirs = authors_way.AuthorsWayUNet(model)
    conv = theirs.model.up[0].res.convs[0].weight
    assert conv.is_contiguous() and not conv.is_contiguous(memory_format=torch.channels_last)
    assert model.up[0].res.convs[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert conv.data_ptr() != model.up[0].res.convs[0].weight.data_ptr()


def test_other_conditionings_are_refused(authors_way):
    with pytest.raises(ValueError, match="attention"):
        authors_way.AuthorsWayUNet(tiny_model(conditioning="film"))
