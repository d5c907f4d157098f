"""ClapEncoder on random-initialised CLAP architectures: equal to transformers' own pipeline."""

import os
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
import torch
import torchaudio

from asteroid_wsas.encoders import ClapEncoder
from asteroid_wsas.encoders.testing import random_clap_encoder, save_random_clap

PHRASES = ["A dog barks", "A man talks while water runs", "Static noise", "A dog barks"]


@pytest.fixture(scope="module")
def encoder():
    return random_clap_encoder(crop="start")


@pytest.fixture(scope="module")
def fused():
    return random_clap_encoder(fusion=True, crop="start", seed=1)


def reference_audio_embedding(encoder, wav, rate):
    """transformers' way: resample, ClapFeatureExtractor (numpy), get_audio_features."""
    if rate != encoder.sample_rate:
        wav = torchaudio.functional.resample(wav, rate, encoder.sample_rate)
    fe = encoder.feature_extractor
    # Deterministic crops, as ClapEncoder(crop="start"): the first of every random range.
    with (
        mock.patch.object(np.random, "randint", lambda low, high=None, *a, **k: 0),
        mock.patch.object(np.random, "choice", lambda values, *a, **k: values[0]),
    ):
        inputs = fe(
            [w.numpy() for w in wav], sampling_rate=encoder.sample_rate, return_tensors="pt"
        )
    # The extractor marks a random clip "longer" when none is (a LAION training habit).
    longer = torch.full_like(inputs["is_longer"], wav.shape[-1] > fe.nb_max_samples)
    with torch.no_grad():
        out = encoder.model.get_audio_features(
            input_features=inputs["input_features"].float(), is_longer=longer
        )
    return out.pooler_output if hasattr(out, "pooler_output") else out


@pytest.mark.parametrize(
    "rate, seconds",
    [(16000, 8.19), (16000, 1.0), (44100, 3.0), (22050, 0.3), (48000, 10.0), (48000, 12.5)],
)
def test_audio_embedding_equals_transformers_pipeline(encoder, rate, seconds):
    torch.manual_seed(0)
    wav = 0.1 * torch.randn(2, int(rate * seconds))
    with torch.no_grad():
        ours = encoder.embed_audio(wav, rate)
    ref = reference_audio_embedding(encoder, wav, rate)
    assert ours.shape == (2, encoder.embed_dim)
    assert torch.allclose(ours.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert torch.allclose(ours, ref, atol=2e-4), (ours - ref).abs().max()


@pytest.mark.parametrize("seconds", [4.0, 13.0])
def test_fused_model_equals_transformers_pipeline(fused, seconds):
    torch.manual_seed(1)
    wav = 0.1 * torch.randn(2, int(48000 * seconds))
    with torch.no_grad():
        ours = fused.embed_audio(wav, 48000)
    ref = reference_audio_embedding(fused, wav, 48000)
    assert torch.allclose(ours, ref, atol=2e-4), (ours - ref).abs().max()


def test_audio_gradient_reaches_the_waveform(encoder):
    wav = (0.1 * torch.randn(2, 16000)).requires_grad_(True)
    encoder.embed_audio(wav, 16000)[:, 0].sum().backward()
    assert torch.isfinite(wav.grad).all() and wav.grad.abs().sum() > 0
    assert all(p.grad is None for p in encoder.parameters())


def test_silence_has_finite_gradient(encoder):
    wav = torch.zeros(1, 8000, requires_grad=True)
    encoder.embed_audio(wav, 16000).sum().backward()
    assert torch.isfinite(wav.grad).all()


def test_random_crop_of_long_audio_varies():
    enc = random_clap_encoder(crop="random")
    wav = torch.randn(1, 48000 * 20)
    torch.manual_seed(0)
    a = enc.embed_audio(wav, 48000)
    b = enc.embed_audio(wav, 48000)
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("cache_dtype, tol", [(torch.float32, 1e-5), (torch.float16, 2e-3)])
def test_text_equals_transformers(cache_dtype, tol):
    encoder = random_clap_encoder(cache_dtype=cache_dtype)
    tok = encoder.tokenizer(PHRASES, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = encoder.model.get_text_features(**tok)
    ref_embed = out.pooler_output if hasattr(out, "pooler_output") else out
    text_out = encoder.model.text_model(**tok)
    embed, states, mask = encoder.encode_text(PHRASES)
    assert torch.allclose(embed, ref_embed, atol=1e-5)
    assert torch.equal(mask, tok["attention_mask"].bool())
    real = mask[..., None]
    ref_states = text_out.last_hidden_state * real
    assert torch.allclose(states * real, ref_states, rtol=tol, atol=tol)
    assert states.shape[-1] == encoder.token_dim


def test_text_is_cached_per_phrase(encoder):
    encoder.clear_cache()
    before = encoder.cache_stats()
    encoder.embed_text(PHRASES)
    encoder.text_tokens(PHRASES[:2])
    stats = encoder.cache_stats()
    assert stats["entries"] == 3
    assert stats["misses"] - before["misses"] == 3


def test_text_under_bf16_autocast(encoder):
    encoder.clear_cache()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        embed = encoder.embed_text(["A dog barks"])
        audio = encoder.embed_audio(torch.randn(1, 16000), 16000)
    assert embed.dtype == torch.float32 and audio.dtype == torch.float32
    assert torch.isfinite(audio).all()
    encoder.clear_cache()
    assert torch.allclose(embed, encoder.embed_text(["A dog barks"]), atol=1e-6)


def test_logit_scale_is_clap_audio_scale(encoder):
    assert encoder.logit_scale == pytest.approx(float(encoder.model.logit_scale_a.exp()))


def test_encoder_is_frozen(encoder):
    assert not encoder.training and not encoder.model.training
    assert all(not p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.model.training


def test_optimizer_step_leaves_encoder_unchanged(encoder):
    head = torch.nn.Conv1d(1, 1, 9, padding=4)  # a stand-in separator
    opt = torch.optim.Adam(list(head.parameters()) + list(encoder.parameters()), lr=1e-2)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    wav = head(torch.randn(2, 1, 16000))[:, 0]
    text = encoder.embed_text(["A dog barks", "Static noise"])
    logits = encoder.logit_scale * encoder.embed_audio(wav, 16000) @ text.T
    torch.nn.functional.cross_entropy(logits, torch.arange(2)).backward()
    opt.step()
    assert head.weight.grad is not None
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_local_directory_loads_offline(tmp_path, encoder):
    directory = save_random_clap(tmp_path / "clap", crop="start")
    code = (
        "import sys, torch\n"
        "from asteroid_wsas.encoders import ClapEncoder\n"
        "enc = ClapEncoder.from_pretrained(sys.argv[1])\n"
        "print(enc.embed_text(['A dog barks']).shape[-1], enc.sample_rate, enc.fusion)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-c", code, directory], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["16", "48000", "False"]
    loaded = ClapEncoder.from_pretrained(directory)
    assert torch.allclose(loaded.embed_text(["A dog barks"]), encoder.embed_text(["A dog barks"]))
    assert loaded.feature_extractor.frequency_min == 50


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(OSError, match="could not load a CLAP model"):
        ClapEncoder.from_pretrained(tmp_path / "nothing-here")


def test_bad_crop_name():
    with pytest.raises(ValueError, match="crop"):
        random_clap_encoder(crop="middle")
