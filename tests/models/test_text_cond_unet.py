"""TextCondUNet: shapes, query sharing, text conditioning, variants and bad input."""

import math

import pytest
import torch
from asteroid.separate import separate

from asteroid_wsas import TextCondUNet
from tests.helpers import EMBED_DIM, TOKEN_DIM, queries, randomize_norm_stats, tiny_unet

CONDITIONINGS = ["attention", "film", "late"]


def eval_model(conditioning="attention", **kwargs):
    torch.manual_seed(0)
    return randomize_norm_stats(tiny_unet(conditioning, **kwargs)).eval()


# ----------------------------------------------------------------------------- defaults
def test_default_config_matches_the_authors():
    model = TextCondUNet()
    n_params = sum(p.numel() for p in model.parameters())
    n_attention = sum(p.numel() for p in model.attention.parameters())
    assert abs(n_params - 87.7e6) / 87.7e6 < 0.10
    assert 12e6 < n_attention < 15e6  # "~13 M attention"
    assert model.sample_rate == 16000
    assert (model.n_fft, model.hop_length) == (1022, 256)
    assert model.channels == [64, 128, 256, 512, 512, 512, 512]
    assert model.attention_levels == [4, 5, 6]  # 16x16, 8x8, 4x4 for 512 x 512 inputs
    assert model.first_conditioned_level == 4
    # 8.19 s at 16 kHz -> exactly a 512 x 512 magnitude spectrogram
    spec = model.stft(torch.zeros(131070))
    assert spec.shape == (512, 512)


@pytest.mark.parametrize("conditioning", ["film", "late"])
def test_variants_build_at_default_size(conditioning):
    model = TextCondUNet(conditioning=conditioning)
    assert len(model.attention) == 0
    n_film = sum(p.numel() for n, p in model.named_parameters() if ".film." in n)
    assert (n_film > 0) == (conditioning == "film")
    assert model.first_conditioned_level == (0 if conditioning == "film" else 7)


# ----------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("length", [126, 1000, 5001, 8191])
def test_output_length_equals_input_length(length):
    model = eval_model()
    embed, tokens = queries(2, 3)
    out = model(torch.randn(2, length), embed, tokens)
    assert out.shape == (2, 3, length)


def test_shapes_for_1d_2d_3d_input(wav):
    model = eval_model()
    embed, tokens = queries(2, 3)
    T = wav.shape[-1]
    assert model(wav, embed[:, 0], tokens[:, 0]).shape == (2, T)
    assert model(wav, embed, tokens).shape == (2, 3, T)
    assert model(wav.unsqueeze(1), embed[:, 0], tokens[:, 0]).shape == (2, T)
    assert model(wav.unsqueeze(1), embed, tokens).shape == (2, 3, T)
    assert model(wav[0], embed[0, 0], tokens[0, 0]).shape == (T,)
    assert model(wav[0], embed[0], tokens[0]).shape == (3, T)


def test_1d_input_equals_batched_row(wav):
    model = eval_model()
    embed, tokens = queries(2, 3)
    batched = model(wav, embed, tokens)
    assert torch.allclose(model(wav[1], embed[1], tokens[1]), batched[1], atol=1e-5)


def test_forward_masks_reconstruct_forward(wav):
    model = eval_model()
    embed, tokens = queries(2, 3)
    masks, spec = model.forward_masks(wav, embed, tokens)
    assert masks.shape == (2, 3, 64, 1 + wav.shape[-1] // 32)
    assert spec.shape == (2, 64, masks.shape[-1]) and spec.is_complex()
    assert masks.min() >= 0 and masks.max() <= 1  # sigmoid ratio mask
    est = model.istft(masks * spec.unsqueeze(1), wav.shape[-1])
    assert torch.allclose(est, model(wav, embed, tokens), atol=1e-6)


@pytest.mark.parametrize("length", [126, 4999, 16000])
def test_unit_mask_returns_the_mixture(length):
    """STFT -> mask 1 -> iSTFT with mixture phase is the identity (crop/pad are exact)."""
    model = eval_model(mask_activation="linear")
    with torch.no_grad():
        model.head.query.weight.zero_()
        model.head.query.bias.zero_()
        model.head.scale.zero_()
        model.head.bias.fill_(1.0)
    wav = torch.randn(2, length)
    out = model(wav, *queries(2, 2))
    assert torch.allclose(out, wav.unsqueeze(1).expand_as(out), atol=1e-5)


# ----------------------------------------------------------------------------- queries
@pytest.mark.parametrize("conditioning", CONDITIONINGS)
@pytest.mark.parametrize("chunk", [None, 1, 2, 3])
def test_k_queries_in_one_call_equal_k_single_calls(conditioning, chunk, wav):
    model = eval_model(conditioning)
    model.query_chunk_size = chunk
    embed, tokens = queries(2, 3)
    mask = torch.ones(2, 3, 5, dtype=torch.bool)
    mask[:, 1, 3:] = False
    with torch.no_grad():
        together = model(wav, embed, tokens, mask)
        alone = torch.stack(
            [model(wav, embed[:, k], tokens[:, k], mask[:, k]) for k in range(3)], dim=1
        )
    assert torch.allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_inference_mode_matches_autograd_path(conditioning, wav):
    """The in-place eval-mode BatchNorm and residuals give the same numbers."""
    model = eval_model(conditioning)
    embed, tokens = queries(2, 3)
    with_grad = model(wav, embed, tokens)
    with torch.inference_mode():
        no_grad = model(wav, embed, tokens)
    assert torch.allclose(with_grad, no_grad, atol=1e-5)


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_different_queries_give_different_outputs(conditioning, wav):
    model = eval_model(conditioning)
    embed, tokens = queries(2, 2)
    out = model(wav, embed, tokens)
    assert (out[:, 0] - out[:, 1]).abs().max() > 1e-4


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_gradients_reach_text_inputs(conditioning, wav):
    model = tiny_unet(conditioning)  # training mode
    embed, tokens = queries(2, 3)
    embed.requires_grad_(True)
    tokens.requires_grad_(True)
    model(wav, embed, tokens).square().mean().backward()
    assert embed.grad.abs().sum() > 0
    if conditioning == "attention":
        assert tokens.grad.abs().sum() > 0
    else:
        assert tokens.grad is None  # tokens are unused outside attention
    assert all(
        p.grad is not None for p in model.parameters()
    ), "every parameter must get a gradient (DDP fails on unused parameters)"


def test_tokens_change_the_output_only_with_attention(wav):
    embed, tokens = queries(2, 1)
    _, other_tokens = queries(2, 1, seed=5)
    for conditioning in CONDITIONINGS:
        model = eval_model(conditioning)
        diff = (model(wav, embed, tokens) - model(wav, embed, other_tokens)).abs().max()
        assert (diff > 1e-5) == (conditioning == "attention"), conditioning


def test_padding_tokens_do_not_change_the_output(wav):
    model = eval_model()
    embed, tokens = queries(2, 2, n_tokens=4)
    reference = model(wav, embed, tokens)
    garbage = 100 * torch.randn(2, 2, 3, TOKEN_DIM)
    padded = torch.cat([tokens, garbage], dim=2)
    mask = torch.cat([torch.ones(2, 2, 4), torch.zeros(2, 2, 3)], dim=2)
    assert torch.allclose(model(wav, embed, padded, mask), reference, atol=1e-5)
    assert torch.allclose(model(wav, embed, padded, mask.bool()), reference, atol=1e-5)
    # Without the mask the garbage tokens are attended to.
    assert not torch.allclose(model(wav, embed, padded), reference, atol=1e-3)


def test_training_mode_step_updates_weights(wav):
    model = tiny_unet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    embed, tokens = queries(2, 3)
    before = [p.detach().clone() for p in model.parameters()]
    loss = (model(wav, embed, tokens) - wav.unsqueeze(1)).abs().mean()
    loss.backward()
    opt.step()
    changed = sum(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    assert changed == len(before)
    assert torch.isfinite(loss)


def test_bfloat16_autocast_forward_backward(wav):
    model = tiny_unet()
    embed, tokens = queries(2, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(wav, embed, tokens)
    assert out.dtype == wav.dtype and torch.isfinite(out).all()
    out.abs().mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_double_precision_model(wav):
    model = eval_model().double()
    embed, tokens = queries(2, 2)
    out = model(wav.double(), embed.double(), tokens.double())
    assert out.dtype == torch.float64
    ref = eval_model()(wav, embed, tokens)
    assert torch.allclose(out.float(), ref, atol=1e-4)


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize("channels", [[8], [8, 16], [8, 16, 16, 16, 16]])
def test_number_of_levels(channels):
    model = eval_model(channels=channels, attention_levels=[-1])
    assert len(model.down) == len(channels) == len(model.up)
    assert model.attention_levels == [len(channels) - 1]
    embed, tokens = queries(1, 2)
    assert model(torch.randn(1, 3000), embed, tokens).shape == (1, 2, 3000)


def test_attention_levels_are_configurable():
    model = eval_model(attention_levels=[0, -1])
    assert sorted(model.attention.keys()) == ["0", "3"]
    assert model.first_conditioned_level == 0
    embed, tokens = queries(1, 2)
    assert model(torch.randn(1, 2000), embed, tokens).shape == (1, 2, 2000)


@pytest.mark.parametrize("activation", ["relu", "linear", "leaky_relu"])
def test_mask_activation(activation, wav):
    model = eval_model(mask_activation=activation)
    masks, _ = model.forward_masks(wav, *queries(2, 2))
    if activation == "relu":
        assert masks.min() >= 0
    else:
        assert masks.min() < 0  # not squashed into [0, 1]


def test_residual_blocks_can_be_removed(wav):
    model = eval_model(n_res_layers=0)
    assert not any(
        isinstance(m, torch.nn.Conv2d)
        and m.kernel_size == (3, 3)
        and m.in_channels == m.out_channels
        for m in model.down.modules()
    )
    assert model(wav, *queries(2, 2)).shape == (2, 2, wav.shape[-1])


def test_token_and_embedding_dims_are_configurable():
    model = eval_model(text_embed_dim=7, text_token_dim=9, n_heads=1)
    out = model(torch.randn(1, 1000), torch.randn(1, 2, 7), torch.randn(1, 2, 3, 9))
    assert out.shape == (1, 2, 1000)


# ----------------------------------------------------------------------------- asteroid
def test_asteroid_separate_calls_forward_wav():
    model = eval_model()
    embed, tokens = queries(1, 3)
    wav = torch.randn(1, 1, 3000)
    out = separate(model, wav, text_embed=embed, text_tokens=tokens)
    assert out.shape == (1, 3, 3000)
    # Asteroid rescales by a scalar: directions equal our forward's.
    direct = model(wav, embed, tokens)
    cos = torch.nn.functional.cosine_similarity(out.flatten(), direct.flatten(), dim=0)
    assert cos > 0.9999
    # A single query keeps its source dim for Asteroid.
    assert model.forward_wav(wav, embed[:, 0], tokens[:, 0]).shape == (1, 1, 3000)
    assert model.forward_wav(wav[0, 0], embed[0], tokens[0]).shape == (3, 3000)


# ----------------------------------------------------------------------------- bad input
def _call(model, wav=None, embed=None, tokens=None, mask=None):
    default_embed, default_tokens = queries(2, 3)
    wav = torch.randn(2, 2000) if wav is None else wav
    embed = default_embed if embed is None else embed
    tokens = default_tokens if tokens is None else tokens
    return model(wav, embed, tokens, mask)


BAD_INPUTS = {
    "wav rank 4": (dict(wav=torch.randn(2, 1, 1, 2000)), "wav"),
    "wav stereo": (dict(wav=torch.randn(2, 2, 2000)), "wav"),
    "wav scalar": (dict(wav=torch.tensor(1.0)), "wav"),
    "wav int": (dict(wav=torch.ones(2, 2000, dtype=torch.int64)), "wav"),
    "wav NaN": (dict(wav=torch.full((2, 2000), math.nan)), "wav"),
    "wav inf": (dict(wav=torch.randn(2, 2000).index_fill(1, torch.tensor([7]), math.inf)), "wav"),
    "wav shorter than a frame": (dict(wav=torch.randn(2, 100)), "wav"),
    "batch mismatch wav/text": (dict(wav=torch.randn(3, 2000)), "text_embed"),
    "text_embed rank 4": (dict(embed=torch.randn(2, 3, 1, EMBED_DIM)), "text_embed"),
    "text_embed size": (dict(embed=torch.randn(2, 3, EMBED_DIM + 1)), "text_embed"),
    "text_embed NaN": (dict(embed=torch.full((2, 3, EMBED_DIM), math.nan)), "text_embed"),
    "K mismatch embed/tokens": (dict(tokens=torch.randn(2, 4, 5, TOKEN_DIM)), "text_tokens"),
    "batch mismatch tokens": (dict(tokens=torch.randn(1, 3, 5, TOKEN_DIM)), "text_tokens"),
    "tokens rank": (dict(tokens=torch.randn(2, 3, TOKEN_DIM)), "text_tokens"),
    "tokens size": (dict(tokens=torch.randn(2, 3, 5, TOKEN_DIM + 2)), "text_tokens"),
    "tokens NaN": (dict(tokens=torch.full((2, 3, 5, TOKEN_DIM), math.nan)), "text_tokens"),
    "mask shape": (dict(mask=torch.ones(2, 3, 6)), "text_mask"),
    "mask K": (dict(mask=torch.ones(2, 2, 5)), "text_mask"),
    "mask all padding": (dict(mask=torch.zeros(2, 3, 5)), "text_mask"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_names_the_argument(case):
    kwargs, argument = BAD_INPUTS[case]
    with pytest.raises(ValueError, match=argument):
        _call(eval_model(), **kwargs)


def test_mismatch_messages_say_what_differs():
    model = eval_model()
    with pytest.raises(ValueError, match="number of queries"):
        _call(model, tokens=torch.randn(2, 4, 5, TOKEN_DIM))
    with pytest.raises(ValueError, match="batch size"):
        _call(model, tokens=torch.randn(1, 3, 5, TOKEN_DIM))


def test_attention_model_requires_tokens():
    model = eval_model()
    with pytest.raises(ValueError, match="text_tokens is required"):
        model(torch.randn(1, 2000), torch.randn(1, EMBED_DIM))
    # FiLM and late models work from the pooled embedding alone.
    for conditioning in ["film", "late"]:
        out = eval_model(conditioning)(torch.randn(1, 2000), torch.randn(1, EMBED_DIM))
        assert out.shape == (1, 2000)


def test_non_tensor_input_is_a_type_error():
    with pytest.raises(TypeError, match="wav"):
        eval_model()([0.0] * 2000, torch.randn(1, EMBED_DIM))


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        (dict(conditioning="cross"), "conditioning"),
        (dict(mask_activation="softmax"), "mask_activation"),
        (dict(attention_levels=[4]), "attention_levels"),
        (dict(channels=[]), "channels"),
        (dict(hop_length=0), "hop_length"),
        (dict(n_heads=3), "n_heads"),
        (dict(conditioning="film", n_res_layers=0), "n_res_layers"),
        (dict(n_res_layers=-1), "n_res_layers"),
    ],
)
def test_bad_constructor_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        tiny_unet(**kwargs)


def test_bad_query_chunk_size(wav):
    model = eval_model()
    model.query_chunk_size = 0
    with pytest.raises(ValueError, match="query_chunk_size"):
        model(wav, *queries(2, 2))
