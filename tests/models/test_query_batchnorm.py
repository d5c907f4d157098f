"""Per-query BatchNorm statistics in one batched call (the authors' one call per query)."""

import copy
import importlib
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from asteroid_wsas import TextCondUNet
from asteroid_wsas.models.batchnorm import QueryBatchNorm2d
from tests.helpers import randomize_norm_stats

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _norm(channels=3, seed=0):
    torch.manual_seed(seed)
    norm = QueryBatchNorm2d(channels)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
    return norm


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_groups_equal_one_plain_batchnorm_call_per_query_in_order(layout):
    n_batch, k = 3, 4
    x = torch.randn(n_batch * k, 3, 5, 6).contiguous(memory_format=layout).requires_grad_()
    ours = _norm()
    plain = nn.BatchNorm2d(3)
    plain.load_state_dict(ours.state_dict())
    ours.query_stats = ("groups", k, None)
    out = ours(x)
    # reference: the rows of query q are x[q::k] (query index fastest); one call each
    x_ref = x.detach().clone().requires_grad_()
    parts = [plain(x_ref[q::k]) for q in range(k)]
    ref = torch.stack(parts, 1).flatten(0, 1)
    assert torch.allclose(out, ref, atol=1e-5)
    gen = torch.randn_like(out)
    (out * gen).sum().backward()
    (ref * gen).sum().backward()
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-5)
    assert torch.allclose(ours.weight.grad, plain.weight.grad, atol=1e-4)
    assert torch.allclose(ours.bias.grad, plain.bias.grad, atol=1e-4)
    for name in ("running_mean", "running_var"):
        assert torch.allclose(getattr(ours, name), getattr(plain, name), atol=1e-6), name
    assert int(ours.num_batches_tracked) == int(plain.num_batches_tracked) == k


@pytest.mark.parametrize("size", [(5, 6), (1, 1)])
def test_bf16_and_tiny_maps_follow_the_fp32_reference(size):
    n_batch, k = 4, 3
    x = torch.randn(n_batch * k, 8, *size) * 3 + 2
    x = x.contiguous(memory_format=torch.channels_last)
    ours, plain = _norm(8), nn.BatchNorm2d(8)
    plain.load_state_dict(ours.state_dict())
    ours.query_stats = ("groups", k, None)
    low = x.to(torch.bfloat16).requires_grad_()
    out = ours(low)
    assert out.dtype == torch.bfloat16
    assert out.is_contiguous(memory_format=torch.channels_last)  # the input's layout kept
    ref_in = low.detach().float().requires_grad_()
    ref = torch.stack([plain(ref_in[q::k]) for q in range(k)], 1).flatten(0, 1)
    assert torch.allclose(out.float(), ref, atol=3e-2, rtol=3e-2)
    gen = torch.randn_like(ref)
    (out.float() * gen).sum().backward()
    (ref * gen).sum().backward()
    assert torch.allclose(low.grad.float(), ref_in.grad, atol=5e-2, rtol=5e-2)


@pytest.mark.parametrize("kind", ["groups", "repeat"])
def test_replica_chunks_are_normalised_apart_and_the_first_keeps_the_running_stats(kind):
    """The authors' 8 GPUs hold 2 mixtures of mixtures each, without synchronised BatchNorm:
    each GPU's queries are normalised over its own 2 mixtures, and rank 0's running
    statistics are the ones saved."""
    n_batch, k, replica = 6, 3, 2
    groups = k if kind == "groups" else 1
    x = torch.randn(n_batch * groups, 4, 3, 5).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    ours, plain = _norm(4, seed=3), nn.BatchNorm2d(4)
    plain.load_state_dict(ours.state_dict())
    ours.query_stats = (kind, k, replica)
    out = ours(x)
    ref_in = x.detach().clone().requires_grad_()
    ranks = []
    for chunk in range(n_batch // replica):  # one "GPU" each, its own copy of the module
        gpu = copy.deepcopy(plain)
        rows = ref_in[chunk * replica * groups : (chunk + 1) * replica * groups]
        calls = [gpu(rows[q::groups]) for q in range(groups)]
        if kind == "repeat":  # k calls on the same input: k updates of the running stats
            for _ in range(k - 1):
                gpu(rows.detach())
        ranks.append((gpu, torch.stack(calls, 1).flatten(0, 1)))
    ref = torch.cat([r[1] for r in ranks])
    assert torch.allclose(out, ref, atol=1e-5)
    gen = torch.randn_like(ref)
    (out * gen).sum().backward()
    (ref * gen).sum().backward()
    assert torch.allclose(x.grad, ref_in.grad, atol=1e-5)
    rank0 = ranks[0][0]
    assert torch.allclose(ours.running_mean, rank0.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, rank0.running_var, atol=1e-6)
    with pytest.raises(ValueError, match="multiple of training.replica_batch"):
        ours.query_stats = (kind, k, 4)
        ours(x)


def test_repeat_updates_the_running_statistics_as_k_calls_on_the_same_input():
    x = torch.randn(4, 3, 5, 6)
    ours, plain = _norm(seed=1), nn.BatchNorm2d(3)
    plain.load_state_dict(ours.state_dict())
    ours.query_stats = ("repeat", 5, None)
    out = ours(x)
    for _ in range(5):
        ref = plain(x)
    assert torch.allclose(out, ref, atol=1e-6)
    assert torch.allclose(ours.running_mean, plain.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, plain.running_var, atol=1e-6)
    assert int(ours.num_batches_tracked) == 5


def test_outside_training_or_without_stats_it_is_plain_batchnorm():
    x = torch.randn(6, 3, 4, 4)
    ours, plain = _norm(seed=2), nn.BatchNorm2d(3)
    plain.load_state_dict(ours.state_dict())
    ours.query_stats = ("groups", 3, None)
    assert torch.allclose(ours.eval()(x), plain.eval()(x))
    ours.train().query_stats = None
    assert torch.allclose(ours(x), plain.train()(x), atol=1e-6)
    ours.query_stats = ("groups", 4, None)
    with pytest.raises(ValueError, match="do not fit a batch of 6 rows"):
        ours(x)


@pytest.fixture(scope="module")
def authors_way():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("authors_way")
    finally:
        sys.path.remove(str(BENCH))


def _snr(ref: torch.Tensor, est: torch.Tensor) -> float:
    ref, est = ref.detach().double(), est.detach().double()
    return float(10 * torch.log10(ref.square().sum() / (ref - est).square().sum()))


def _model():
    torch.manual_seed(0)
    return randomize_norm_stats(
        TextCondUNet(
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
    )


def test_per_query_model_equals_one_call_per_query_in_training(authors_way):
    """bench/authors_way.py runs the same weights one query per call (independent code:
    nested blocks, NCHW, nn.BatchNorm2d): per-query statistics must give its outputs, its
    gradients and its running statistics; pooled statistics must not."""
    gen = torch.Generator().manual_seed(1)
    wav = torch.randn(3, 4000, generator=gen)
    embed = torch.randn(3, 4, 16, generator=gen)
    tokens = torch.randn(3, 4, 5, 12, generator=gen)
    model = _model().train()
    theirs = authors_way.AuthorsWayUNet(model).train()
    pooled = copy.deepcopy(model)
    model.bn_stats = "per_query"
    ours = model(wav, embed, tokens)
    got = theirs(wav, embed, tokens)
    assert _snr(got, ours) >= 80
    assert _snr(got, pooled(wav, embed, tokens)) < 40  # the setting matters
    ours.square().mean().backward()
    got.square().mean().backward()
    mine = dict(model.named_parameters())
    grads = [(mine[n].grad, p.grad) for n, p in theirs.model.named_parameters()]
    ours_all = torch.cat([g.flatten() for g, _ in grads if g is not None])
    theirs_all = torch.cat([g.flatten() for g, t in grads if g is not None])
    assert _snr(theirs_all, ours_all) >= 50
    buffers = dict(theirs.model.named_buffers())
    for name, value in model.named_buffers():
        if "running" in name or "num_batches" in name:
            assert torch.allclose(value.float(), buffers[name].float(), atol=1e-5), name


def test_bn_stats_is_a_runtime_setting():
    model = _model()
    with pytest.raises(ValueError, match="bn_stats"):
        model.bn_stats = "per_batch"
    model.bn_stats = "per_query"
    assert "bn_stats" not in model.get_model_args()  # not saved: a training choice
    wav, embed, tokens = torch.randn(2, 4000), torch.randn(2, 3, 16), torch.randn(2, 3, 5, 12)
    model.eval()
    with torch.no_grad():
        a = model(wav, embed, tokens)
        model.bn_stats = "pooled"
        b = model(wav, embed, tokens)
    assert torch.equal(a, b)  # eval mode: the running statistics either way
