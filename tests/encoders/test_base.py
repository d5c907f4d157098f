"""BimodalEncoder: the text cache, padding, freezing and input checks."""

import pytest
import torch
from torch import nn

from asteroid_wsas.encoders import BimodalEncoder


class CountingEncoder(BimodalEncoder):
    """Deterministic toy encoder: one token per word, records the phrases it computes."""

    sample_rate = 8000
    embed_dim = 4
    token_dim = 3

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.proj = nn.Linear(3, 4)
        self.computed = []

    @property
    def logit_scale(self):
        return 10.0

    def _encode_text(self, phrases):
        self.computed.extend(phrases)
        lengths = [len(p.split()) for p in phrases]
        length = max(lengths)
        states = torch.zeros(len(phrases), length, 3)
        for i, phrase in enumerate(phrases):
            for j, word in enumerate(phrase.split()):
                states[i, j] = torch.tensor([len(word), j, len(phrase) % 3], dtype=torch.float)
        mask = torch.arange(length)[None] < torch.tensor(lengths)[:, None]
        pooled = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return nn.functional.normalize(self.proj(pooled), dim=-1), states, mask

    def embed_audio(self, wav, sample_rate):
        wav = self._check_audio(wav, sample_rate)
        return nn.functional.normalize(self.proj(wav[:, :3]), dim=-1)


PHRASES = ["A dog barks", "Rain", "A man talks while cars pass", "A dog barks"]


def test_cached_outputs_equal_uncached():
    fresh = CountingEncoder()
    torch.manual_seed(0)
    cached = CountingEncoder(cache_dtype=torch.float32).freeze()
    cached.load_state_dict(fresh.state_dict())
    for phrases in (PHRASES, PHRASES[::-1], ["Rain"]):
        a, b = fresh.encode_text(phrases), cached.encode_text(phrases)
        for x, y in zip(a, b):
            assert x.shape == y.shape
            assert torch.allclose(x.float(), y.float())


def test_cache_computes_each_phrase_once():
    enc = CountingEncoder().freeze()
    enc.encode_text(PHRASES)
    enc.encode_text(PHRASES)
    enc.encode_text(["Rain", "Thunder"])
    assert sorted(enc.computed) == sorted(set(PHRASES) | {"Thunder"})
    # hits: the repeated phrase of the first call, all 4 of the second, "Rain" of the third
    assert enc.cache_stats() == {"entries": 4, "hits": 1 + 4 + 1, "misses": 4}


def test_unfrozen_encoder_does_not_cache():
    enc = CountingEncoder()
    enc.encode_text(PHRASES)
    enc.encode_text(PHRASES)
    assert len(enc.computed) == 2 * len(PHRASES)
    assert enc.cache_stats()["entries"] == 0


def test_full_cache_keeps_what_it_has():
    enc = CountingEncoder(cache_size=2).freeze()
    enc.encode_text(["One", "Two"])
    enc.encode_text(["Three"])  # computed, not stored: the cache is full
    assert enc.cache_stats()["entries"] == 2
    enc.computed.clear()
    enc.encode_text(["One", "Three", "Two", "Three"])
    assert enc.computed == ["Three"]


def test_unbounded_cache():
    enc = CountingEncoder(cache_size=None).freeze()
    enc.encode_text([f"Phrase {i}" for i in range(300)])
    assert enc.cache_stats()["entries"] == 300


def test_half_precision_cache_is_consistent():
    """Token states are stored in float16; hits and misses return the same rounded values."""
    enc = CountingEncoder().freeze()
    first = enc.encode_text(PHRASES)  # all misses
    again = enc.encode_text(PHRASES)  # all hits
    for a, b in zip(first, again):
        assert torch.equal(a, b)
    exact = CountingEncoder()
    exact.load_state_dict(enc.state_dict())
    assert torch.allclose(first[1], exact.encode_text(PHRASES)[1], rtol=1e-3, atol=1e-3)
    assert first[1].dtype == torch.float32  # returned in float32 whatever the storage


def test_loading_weights_clears_the_cache():
    enc = CountingEncoder().freeze()
    before = enc.embed_text(["A dog barks"])
    other = CountingEncoder()
    with torch.no_grad():
        other.proj.weight.mul_(-1)
    enc.load_state_dict(other.state_dict())
    assert enc.cache_stats()["entries"] == 0
    assert not torch.allclose(enc.embed_text(["A dog barks"]), before)


def test_token_states_are_padded_and_masked():
    enc = CountingEncoder().freeze()
    states, mask = enc.text_tokens(["Rain", "A man talks while cars pass"])
    assert states.shape == (2, 6, 3) and mask.dtype == torch.bool
    assert mask.sum(1).tolist() == [1, 6]
    assert states[0, 1:].abs().sum() == 0  # padding is zeros


def test_frozen_means_no_grad_and_eval_forever():
    enc = CountingEncoder().freeze()
    assert all(not p.requires_grad for p in enc.parameters())
    parent = nn.Sequential(enc)
    parent.train()
    assert not enc.training
    wav = torch.randn(2, 100, requires_grad=True)
    enc.embed_audio(wav, 8000).sum().backward()
    assert wav.grad is not None and wav.grad.abs().sum() > 0
    assert all(p.grad is None for p in enc.parameters())


def test_empty_phrase_list():
    embed, states, mask = CountingEncoder().freeze().encode_text([])
    assert embed.shape == (0, 4) and states.shape == (0, 0, 3) and mask.shape == (0, 0)


@pytest.mark.parametrize(
    "phrases, error, match",
    [
        ("A dog barks", TypeError, "phrases must be a list"),
        (["A dog", 3], TypeError, r"phrases\[1\]"),
        (["A dog", "  "], ValueError, r"phrases\[1\] is empty"),
    ],
)
def test_bad_phrases(phrases, error, match):
    with pytest.raises(error, match=match):
        CountingEncoder().encode_text(phrases)


@pytest.mark.parametrize(
    "wav, rate, match",
    [
        (torch.randn(1, 2, 100), 8000, "wav must be"),
        (torch.full((1, 100), float("nan")), 8000, "NaN"),
        (torch.zeros(1, 0), 8000, "empty"),
        (torch.ones(1, 100, dtype=torch.int16), 8000, "floating"),
        (torch.randn(1, 100), 0, "sample_rate"),
        (torch.randn(1, 100), 16000.5, "sample_rate"),
    ],
)
def test_bad_audio(wav, rate, match):
    with pytest.raises(ValueError, match=match):
        CountingEncoder().embed_audio(wav, rate)


def test_negative_cache_size():
    with pytest.raises(ValueError, match="cache_size"):
        CountingEncoder(cache_size=-1)
