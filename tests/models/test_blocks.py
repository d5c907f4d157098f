"""Building blocks: split residual block, in-place BatchNorm, attention masking, head."""

import pytest
import torch

from asteroid_wsas.models.blocks import (
    FiLM,
    InnerProductHead,
    MultiHeadAttention,
    ResBlock,
    TextAttention,
    batch_norm,
)
from tests.helpers import randomize_norm_stats


@pytest.mark.parametrize("n_layers", [0, 1, 2])
@pytest.mark.parametrize("film", [False, True])
@pytest.mark.parametrize("training", [False, True])
def test_forward_split_equals_concatenated_forward(n_layers, film, training):
    torch.manual_seed(0)
    block = ResBlock(10, n_layers=n_layers, film_dim=6 if film else None)
    randomize_norm_stats(block)
    block.train(training)
    shared = torch.randn(2, 4, 8, 8, requires_grad=True)
    per_query = torch.randn(6, 6, 8, 8, requires_grad=True)  # K = 3 queries per mixture
    embed = torch.randn(6, 6) if film else None

    split = block.forward_split(shared, per_query, 3, embed)
    full_input = torch.cat([shared.repeat_interleave(3, 0), per_query], 1)
    full = block(full_input, embed)
    assert split.shape == (6, 10, 8, 8)
    assert torch.allclose(split, full, atol=1e-5)

    params = [shared, per_query] + list(block.parameters())
    g_split = torch.autograd.grad(split.square().sum(), params, allow_unused=True)
    g_full = torch.autograd.grad(full.square().sum(), params, allow_unused=True)
    scale = max(g.abs().max() for g in g_full if g is not None)
    for a, b in zip(g_split, g_full):
        assert (a is None) == (b is None)
        if a is not None:
            # Relative to the largest gradient: in training mode the conv bias before
            # BatchNorm has a true gradient of zero, i.e. rounding noise only.
            assert (a - b).abs().max() <= 1e-5 * scale


def test_batch_norm_in_place_only_without_autograd():
    norm = torch.nn.BatchNorm2d(3)
    norm.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
    norm.running_var.copy_(torch.tensor([2.0, 0.5, 1.5]))
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.5, 0.5, -1.0]))
        norm.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    norm.eval()
    x = torch.randn(2, 3, 4, 4)
    expected = norm(x)
    with torch.no_grad():
        y = x.clone()
        out = batch_norm(norm, y)
    assert out.data_ptr() == y.data_ptr()  # in place
    assert torch.allclose(out, expected, atol=1e-6)
    # With autograd, or in training mode, the module itself runs (input untouched).
    z = x.clone()
    assert torch.allclose(batch_norm(norm, z), expected) and torch.equal(z, x)
    norm.train()
    with torch.no_grad():
        z = x.clone()
        batch_norm(norm, z)
    assert torch.equal(z, x)
    # bf16 maps (autocast inference) stay bf16, in place, and match the module in bf16
    norm.eval()  # (train mode above updated the running statistics)
    with torch.no_grad():
        expected = norm(x)
        y = x.to(torch.bfloat16)
        out = batch_norm(norm, y)
    assert out.dtype == torch.bfloat16 and out.data_ptr() == y.data_ptr()
    assert torch.allclose(out.float(), expected, atol=0.05, rtol=0.02)


def test_attention_ignores_masked_tokens():
    torch.manual_seed(0)
    block = TextAttention(16, token_dim=8, n_heads=4).eval()
    x = torch.randn(2, 16, 4, 4)
    tokens = torch.randn(2, 3, 8)
    padded = torch.cat([tokens, 50 * torch.randn(2, 2, 8)], 1)
    mask = torch.tensor([[True] * 3 + [False] * 2] * 2)
    assert torch.allclose(block(x, padded, mask), block(x, tokens), atol=1e-5)
    assert not torch.allclose(block(x, padded), block(x, tokens), atol=1e-3)


def test_multi_head_attention_matches_reference_math():
    torch.manual_seed(0)
    attn = MultiHeadAttention(8, n_heads=2, context_dim=6)
    x, ctx = torch.randn(1, 5, 8), torch.randn(1, 3, 6)
    q = attn.q(x).view(1, 5, 2, 4).transpose(1, 2)
    k, v = attn.kv(ctx).view(1, 3, 2, 2, 4).permute(2, 0, 3, 1, 4)
    weights = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1)
    expected = attn.proj((weights @ v).transpose(1, 2).reshape(1, 5, 8))
    assert torch.allclose(attn(x, ctx), expected, atol=1e-5)


def test_film_is_identity_with_zero_projection():
    film = FiLM(4, 3)
    torch.nn.init.zeros_(film.proj.weight)
    torch.nn.init.zeros_(film.proj.bias)
    x = torch.randn(2, 3, 5, 5)
    assert torch.equal(film(x, torch.randn(2, 4)), x)


def test_inner_product_head_shared_and_per_query_features_agree():
    torch.manual_seed(0)
    head = InnerProductHead(6, 4)
    features = torch.randn(2, 1, 4, 5, 7)
    embed = torch.randn(2, 3, 6)
    shared = head(features, embed)
    per_query = head(features.expand(2, 3, 4, 5, 7).contiguous(), embed)
    assert shared.shape == (2, 3, 5, 7)
    assert torch.allclose(shared, per_query, atol=1e-6)
    # logit = sum_c sigmoid(Wq e)_c * a_c * U_c + b
    weights = torch.sigmoid(head.query(embed[1, 2])) * head.scale
    manual = (weights[:, None, None] * features[1, 0]).sum(0) + head.bias
    assert torch.allclose(shared[1, 2], manual, atol=1e-6)
