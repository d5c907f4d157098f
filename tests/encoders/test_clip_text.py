"""ClipTextEncoder on tiny random-initialised CLIP checkpoints saved to folders (no hub access)."""

import pytest
import torch
from transformers import (
    CLIPConfig,
    CLIPModel,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
)

from asteroid_wsas.encoders import ClipTextEncoder
from asteroid_wsas.encoders.loading import load_encoder
from asteroid_wsas.encoders.testing import clip_tokenizer

from .text_only_contract import PHRASES, WORDS, TextOnlyContract

TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)


def tiny_tokenizer(folder):
    tokenizer = clip_tokenizer(folder, WORDS)
    # the words really are single tokens (between start and end of text)
    assert len(tokenizer("a dog barks")["input_ids"]) == 5
    return tokenizer


def text_config(tokenizer, **kwargs):
    """The tiny text tower's settings; the special ids must be the tokenizer's, since CLIP
    pools the state at the first end-of-text id."""
    ids = dict(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return dict(vocab_size=len(tokenizer), max_position_embeddings=32, **TEXT, **ids, **kwargs)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder with a 2-layer, 32-wide CLIP text tower (projection 16) and its tokenizer."""
    folder = tmp_path_factory.mktemp("clip_text")
    tokenizer = tiny_tokenizer(folder)
    config = CLIPTextConfig(**text_config(tokenizer, projection_dim=16))
    torch.manual_seed(0)
    CLIPTextModelWithProjection(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def clip_model_dir(tmp_path_factory):
    """A full CLIPModel folder (text and vision towers), as OpenAI's checkpoints are. The
    projection width is only set at the top level: the text config keeps its default (512)."""
    folder = tmp_path_factory.mktemp("clip_full")
    tokenizer = tiny_tokenizer(folder)
    vision = dict(TEXT, image_size=32, patch_size=16)
    config = CLIPConfig(text_config=text_config(tokenizer), vision_config=vision, projection_dim=16)
    assert config.text_config.projection_dim != 16  # what a plain text-tower load would use
    torch.manual_seed(1)
    CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def encoder(folder):
    return ClipTextEncoder.from_pretrained(folder)


class TestClipContract(TextOnlyContract):
    KIND = "clip"
    ENCODER = ClipTextEncoder
    EMBED_DIM, TOKEN_DIM = 16, 32
    # "late" is CLIPSep's inner-product head; "attention" also takes the token states
    CONDITIONINGS = ("late", "attention")


def test_embedding_is_clips_normalised_projected_text_embedding(encoder):
    inputs = encoder.tokenizer(PHRASES[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        outputs = encoder.model(**inputs)
    expected = torch.nn.functional.normalize(outputs.text_embeds, dim=-1)
    embed, states, mask = encoder.encode_text(PHRASES[:2])
    assert torch.allclose(embed, expected, atol=1e-5)
    real = outputs.last_hidden_state[mask]
    assert torch.allclose(states[mask], real.half().float(), atol=1e-6)  # via the fp16 cache


def test_missing_folder_is_named(tmp_path):
    missing = str(tmp_path / "no_clip_here")
    with pytest.raises(OSError, match="CLIP folder .*no_clip_here"):
        ClipTextEncoder.from_pretrained(missing)
    with pytest.raises(OSError, match="no_clip_here"):
        load_encoder("clip:" + missing)


def test_text_tower_without_projection_is_refused(tmp_path, encoder):
    # CLIPTextModel has no text projection, hence no CLIP embedding to query with
    folder = tmp_path / "no_projection"
    torch.manual_seed(0)
    CLIPTextModel(CLIPTextConfig(**text_config(encoder.tokenizer))).save_pretrained(folder)
    encoder.tokenizer.save_pretrained(folder)
    with pytest.raises(OSError, match="no_projection.*text_projection"):
        ClipTextEncoder.from_pretrained(folder)
    with pytest.raises(ValueError, match="needs a CLIPTextModelWithProjection"):
        ClipTextEncoder(CLIPTextModel.from_pretrained(folder), encoder.tokenizer)


def test_full_clip_folder_loads_its_text_tower(clip_model_dir):
    full = CLIPModel.from_pretrained(clip_model_dir).eval()
    for loaded in (
        ClipTextEncoder.from_pretrained(clip_model_dir),
        load_encoder("clip:" + clip_model_dir),
    ):
        assert isinstance(loaded.model, CLIPTextModelWithProjection)
        assert loaded.embed_dim == 16 and loaded.token_dim == 32
        assert torch.equal(loaded.model.text_projection.weight, full.text_projection.weight)
        inputs = loaded.tokenizer(PHRASES[:3], padding=True, return_tensors="pt")
        with torch.no_grad():
            text = full.text_projection(full.text_model(**inputs).pooler_output)
        expected = torch.nn.functional.normalize(text, dim=-1)
        assert torch.allclose(loaded.embed_text(PHRASES[:3]), expected, atol=1e-5)
