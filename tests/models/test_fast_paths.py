"""The speed paths of the blocks compute what the plain ones do: the in-place addition over
queries (with its own backward), the reduction over queries, and the weights kept between
inference calls (cast for autocast, split for the shared skip halves)."""

import copy
import pickle

import pytest
import torch

from asteroid_wsas.models.blocks import (
    Conv2d,
    InnerProductHead,
    InferenceCopies,
    Linear,
    ResBlock,
    add_per_mixture_,
    sum_over_queries,
)
from tests.helpers import randomize_norm_stats, tiny_unet

LAYOUTS = {"nchw": torch.contiguous_format, "nhwc": torch.channels_last}


def _copies(model: torch.nn.Module) -> int:
    return sum("_inference_copies" in m.__dict__ for m in model.modules())


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_sum_over_queries_equals_the_plain_sum(layout):
    x = torch.randn(6, 5, 4, 3).contiguous(memory_format=LAYOUTS[layout])
    expected = x.view(2, 3, 5, 4, 3).sum(1)
    assert torch.allclose(sum_over_queries(x, 2), expected, atol=1e-6)
    # a channel slice (what the backward of the residual sums)
    assert torch.allclose(sum_over_queries(x[:, :2], 2), expected[:, :2], atol=1e-6)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("with_per_query", [False, True])
def test_add_per_mixture_matches_the_concatenation_and_its_gradients(layout, with_per_query):
    torch.manual_seed(0)
    fmt = LAYOUTS[layout]
    n_shared = 3 if with_per_query else 5
    h0 = torch.randn(6, 5, 4, 4).contiguous(memory_format=fmt).requires_grad_()
    shared = torch.randn(2, n_shared, 4, 4).contiguous(memory_format=fmt).requires_grad_()
    per_query = None
    if with_per_query:
        per_query = torch.randn(6, 2, 4, 4).contiguous(memory_format=fmt).requires_grad_()
    inputs = [t for t in (h0, shared, per_query) if t is not None]

    plain = torch.cat([shared.repeat_interleave(3, 0)] + ([per_query] if with_per_query else []), 1)
    expected = h0 * 2 + plain
    fast = add_per_mixture_(h0 * 2, shared, 3, per_query)  # on a non-leaf, as in the blocks
    assert torch.allclose(fast, expected, atol=1e-6)
    weight = torch.randn_like(expected)
    g_fast = torch.autograd.grad((fast * weight).sum(), inputs)
    g_plain = torch.autograd.grad((expected * weight).sum(), inputs)
    for a, b in zip(g_fast, g_plain):
        assert torch.allclose(a, b, atol=1e-5)

    with torch.no_grad():  # without autograd: the same, in place
        h = h0.detach().clone()
        out = add_per_mixture_(
            h, shared.detach(), 3, None if per_query is None else per_query.detach()
        )
    assert out.data_ptr() == h.data_ptr()
    assert torch.allclose(out, h0.detach() + plain.detach(), atol=1e-6)


def test_add_per_mixture_refuses_a_leaf_that_needs_gradients():
    leaf = torch.zeros(2, 3, 2, 2, requires_grad=True)
    with pytest.raises(RuntimeError):
        add_per_mixture_(leaf, torch.ones(1, 3, 2, 2), 2)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_forward_split_keeps_its_split_weights_and_gives_the_same_output(layout):
    torch.manual_seed(0)
    block = randomize_norm_stats(ResBlock(10)).eval().to(memory_format=LAYOUTS[layout])
    shared = torch.randn(2, 4, 8, 8).contiguous(memory_format=LAYOUTS[layout])
    per_query = torch.randn(6, 6, 8, 8).contiguous(memory_format=LAYOUTS[layout])
    full = block(torch.cat([shared.repeat_interleave(3, 0), per_query], 1))
    with torch.no_grad():
        first = block.forward_split(shared, per_query, 3)
        kept = block.__dict__["_inference_copies"][1]
        second = block.forward_split(shared, per_query, 3)
        assert block.__dict__["_inference_copies"][1] is kept  # reused, not rebuilt
    assert torch.allclose(first, full, atol=1e-5) and torch.equal(first, second)
    assert all(w.is_contiguous(memory_format=LAYOUTS[layout]) for w in kept[:2])
    with torch.no_grad():  # a new weight is seen at once
        block.convs[0].weight.mul_(2)
        changed = block.forward_split(shared, per_query, 3)
    assert not torch.allclose(changed, first, atol=1e-3)
    assert torch.allclose(
        changed, block(torch.cat([shared.repeat_interleave(3, 0), per_query], 1)), atol=1e-5
    )


@pytest.mark.parametrize("module", [Conv2d(4, 6, 3, padding=1), Linear(4, 6)])
def test_cast_weights_are_kept_only_for_autocast_inference(module):
    torch.manual_seed(0)
    x = torch.randn(2, 4, 5, 5) if isinstance(module, Conv2d) else torch.randn(3, 4)
    plain = {}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain["grad"] = module(x)  # autograd on: nothing kept
        assert _copies(module) == 0
        with torch.no_grad():
            kept = module(x)
            assert _copies(module) == 1
            again = module(x)
    assert kept.dtype == torch.bfloat16 and torch.equal(kept, again)
    assert torch.equal(kept, plain["grad"].detach())  # the same values autocast casts to
    with torch.no_grad():  # fp32 inference uses the parameters themselves
        assert module(x).dtype == torch.float32
    # an optimiser step changes the weights: the kept cast follows
    opt = torch.optim.SGD(module.parameters(), lr=1.0)
    module(x).square().sum().backward()
    opt.step()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fresh = module(x)
        with torch.no_grad():
            assert torch.equal(module(x), fresh.detach())


def test_kept_copies_are_not_pickled_or_deep_copied_and_can_be_dropped():
    model = tiny_unet().eval()
    wav, embed, tokens = torch.randn(2, 4000), torch.randn(2, 3, 16), torch.randn(2, 3, 5, 12)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = model(wav, embed, tokens)
    assert _copies(model) > 0
    assert _copies(copy.deepcopy(model)) == 0
    assert _copies(pickle.loads(pickle.dumps(model))) == 0
    for module in model.modules():
        if isinstance(module, InferenceCopies):
            module.clear_inference_copies()
    assert _copies(model) == 0
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(model(wav, embed, tokens), expected)


def test_autocast_inference_with_kept_weights_equals_plain_autocast():
    torch.manual_seed(0)
    model = randomize_norm_stats(tiny_unet()).eval()
    plain_model = copy.deepcopy(model)
    for module in plain_model.modules():  # the torch classes: autocast casts on every call
        if isinstance(module, Conv2d):
            module.__class__ = torch.nn.Conv2d
        elif isinstance(module, Linear):
            module.__class__ = torch.nn.Linear
    wav, embed, tokens = torch.randn(2, 4000), torch.randn(2, 3, 16), torch.randn(2, 3, 5, 12)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        plain = plain_model(wav, embed, tokens)
        first = model(wav, embed, tokens)
        second = model(wav, embed, tokens)
    assert torch.equal(first, plain) and torch.equal(second, plain)


@pytest.mark.parametrize("shared", [True, False])
def test_head_reads_channels_last_features_in_place_with_the_same_result(shared):
    torch.manual_seed(0)
    head = InnerProductHead(6, 4)
    embed = torch.randn(2, 3, 6)
    maps = torch.randn(2 * (1 if shared else 3), 4, 5, 7)
    nchw = maps.unflatten(0, (2, -1))
    nhwc = maps.contiguous(memory_format=torch.channels_last).unflatten(0, (2, -1))
    assert nhwc.stride(2) == 1
    expected = head(nchw, embed)  # einsum
    got = head(nhwc, embed)  # matmul on the NHWC view
    assert got.shape == expected.shape == (2, 3, 5, 7)
    assert torch.allclose(got, expected, atol=1e-6)


def test_compile_inference_gives_the_eager_output_and_leaves_training_eager():
    """torch.compile of the U-Net (inductor, ~30 s for this tiny model on one CPU thread)."""
    import pickle

    from asteroid_wsas import TextCondUNet

    torch.manual_seed(0)
    model = TextCondUNet(
        8000, 126, 32, [8, 16], [1], text_embed_dim=16, text_token_dim=12, n_heads=2
    ).eval()
    wav, embed, tokens = torch.randn(1, 4000), torch.randn(1, 2, 16), torch.randn(1, 2, 5, 12)
    with torch.no_grad():
        eager = model(wav, embed, tokens)
        assert model.compile_inference() is model and model._compiled_unet is not None
        compiled = model(wav, embed, tokens)
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)
    trained = model(wav, embed, tokens)  # autograd on: the eager U-Net, with a graph
    assert trained.grad_fn is not None
    torch.testing.assert_close(trained.detach(), eager, rtol=1e-4, atol=1e-5)
    assert pickle.loads(pickle.dumps(model))._compiled_unet is None  # not carried along
    assert model.compile_inference(False)._compiled_unet is None
