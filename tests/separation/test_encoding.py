"""Each call encodes its queries once: not again for every window and channel, nor for the
warnings or the presence scores (image queries, which the encoder does not cache, too:
tests/separation/test_separator_images.py)."""

import numpy as np
import pytest

from asteroid_wsas.separation.core import EncodedQueries, encode, separate_batch
from asteroid_wsas.separation.windows import chunk_sizes, crossfade_windows

from tests.helpers import count_calls, tiny_separator

QUERIES = ["a dog barks", "a bell rings", "a man speaks"]
RATE = 8000
WINDOWS = dict(chunk_seconds=0.25, overlap_seconds=0.0625)  # 2000 samples, a hop of 1500


@pytest.fixture(scope="module")
def separator():
    return tiny_separator(QUERIES)


def _stereo(seconds: float = 2.0) -> np.ndarray:
    return 0.1 * np.random.default_rng(0).standard_normal((2, int(seconds * RATE)), np.float32)


def _windows(length: int) -> int:
    chunk, overlap = chunk_sizes(WINDOWS["chunk_seconds"], WINDOWS["overlap_seconds"], RATE)
    return len(crossfade_windows(length, chunk, overlap))


def test_separate_encodes_its_queries_once(separator, monkeypatch):
    audio = _stereo()
    assert _windows(audio.shape[-1]) >= 10  # many windows, two channels
    texts = count_calls(monkeypatch, separator.encoder, "encode_text")
    windows = count_calls(monkeypatch, separator, "_separate_window")
    out = separator.separate(audio, QUERIES, negative="wind blows", sample_rate=RATE, **WINDOWS)
    assert out.estimates.shape == (3, *audio.shape) and np.isfinite(out.presence).all()
    assert len(windows) == _windows(audio.shape[-1])
    assert texts == [(QUERIES + ["wind blows"],)]  # the negatives in the same call


def test_stream_encodes_its_queries_once(separator, monkeypatch):
    audio = _stereo()
    texts = count_calls(monkeypatch, separator.encoder, "encode_text")
    blocks = np.split(audio, 16, axis=-1)
    out = list(separator.stream(blocks, QUERIES[:2], sample_rate=RATE, **WINDOWS))
    assert sum(block.shape[-1] for block in out) == audio.shape[-1] and len(out) > 5
    assert texts == [(QUERIES[:2],)]


def test_encoded_queries_give_what_texts_give(separator):
    import torch

    mix = torch.from_numpy(_stereo(0.5))
    model, encoder = separator.model, separator.encoder
    with torch.inference_mode():
        from_texts = separate_batch(
            model, encoder, mix, [QUERIES[:2]] * 2, negatives=["wind blows"]
        )
        encoded = encode(encoder, [QUERIES[:2]], ["wind blows"], model.wants_tokens)
        assert isinstance(encoded, EncodedQueries) and encoded.positives == 2
        assert encoded.embed.shape[:2] == (1, 3)  # one set, shared by the batch
        from_encoded = separate_batch(model, encoder, mix, encoded)
    torch.testing.assert_close(from_encoded, from_texts, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="encode them together"):
        separate_batch(model, encoder, mix, encoded, negatives=["wind blows"])
    with pytest.raises(ValueError, match="encoded for 3 mixtures, the batch has 2"):
        EncodedQueries(encoded.embed.expand(3, -1, -1)).batch(2)
