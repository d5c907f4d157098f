"""ClipTextEncoder on tiny random-initialised CLIP checkpoints saved to folders (no hub access)."""

import json
import os

import pytest
import torch
from transformers import (
    CLIPConfig,
    CLIPModel,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
)

from asteroid_wsas import TextCondUNet
from asteroid_wsas.encoders import ClipTextEncoder, encode_queries
from asteroid_wsas.encoders.loading import load_encoder
from asteroid_wsas.separator import Separator, separate_batch

WORDS = "a the dog cat barks meows man woman speaks talks while water runs rain falls on roof"
PHRASES = ["a dog barks", "a man speaks while water runs on the roof", "rain falls", "a dog barks"]
TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)


def byte_symbols():
    """The 256 printable characters byte-level BPE writes bytes as (GPT-2's table): printable
    Latin-1 bytes stand for themselves, the others are shifted past 255."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    kept += range(ord("®"), ord("ÿ") + 1)
    shifted = [b for b in range(256) if b not in kept]
    return [chr(b) for b in kept] + [chr(256 + i) for i in range(len(shifted))]


def write_bpe_files(folder):
    """vocab.json and merges.txt of a minimal byte-level BPE in CLIP's format.

    The vocabulary holds every byte symbol alone and word-final (``</w>``), so any phrase
    tokenises, plus each word of WORDS, built by merging its symbols left to right; the two
    special tokens come last, as in OpenAI's vocabulary (the end-of-text id is the largest).
    """
    symbols = byte_symbols()
    vocab = symbols + [s + "</w>" for s in symbols]
    merges = []
    for word in WORDS.split():
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        merged = pieces[0]
        for piece in pieces[1:]:
            merges.append(f"{merged} {piece}")
            merged += piece
            if merged not in vocab:
                vocab.append(merged)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    vocab_file, merges_file = folder / "source_vocab.json", folder / "source_merges.txt"
    vocab_file.write_text(json.dumps({t: i for i, t in enumerate(vocab)}), encoding="utf-8")
    merges_file.write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return str(vocab_file), str(merges_file)


def tiny_tokenizer(folder):
    tokenizer = CLIPTokenizer(*write_bpe_files(folder))
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
def clip_dir(tmp_path_factory):
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
def encoder(clip_dir):
    return ClipTextEncoder.from_pretrained(clip_dir)


def test_shapes_norm_and_mask(encoder):
    embed, states, mask = encoder.encode_text(PHRASES)
    reference = encoder.tokenizer(PHRASES, padding=True, return_tensors="pt")["attention_mask"]
    assert encoder.embed_dim == 16 and encoder.token_dim == 32
    assert embed.shape == (4, 16) and embed.dtype == torch.float32
    assert states.shape == (4, reference.shape[1], 32)
    assert torch.equal(mask, reference.bool())
    assert torch.allclose(embed.norm(dim=-1), torch.ones(4), atol=1e-5)
    assert (states[~mask] == 0).all()  # padding is zero, as in the cached path


def test_embedding_is_clips_normalised_projected_text_embedding(encoder):
    inputs = encoder.tokenizer(PHRASES[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        outputs = encoder.model(**inputs)
    expected = torch.nn.functional.normalize(outputs.text_embeds, dim=-1)
    embed, states, mask = encoder.encode_text(PHRASES[:2])
    assert torch.allclose(embed, expected, atol=1e-5)
    real = outputs.last_hidden_state[mask]
    assert torch.allclose(states[mask], real.half().float(), atol=1e-6)  # via the fp16 cache


def test_equal_and_different_phrases(encoder):
    embed = encoder.embed_text(PHRASES)
    assert torch.equal(embed[0], embed[3])
    assert not torch.allclose(embed[0], embed[1], atol=1e-3)
    assert not torch.allclose(embed[0], embed[2], atol=1e-3)


def test_padding_does_not_change_a_phrase(clip_dir):
    unfrozen = ClipTextEncoder.from_pretrained(clip_dir, freeze=False).eval()
    with torch.no_grad():
        alone, states_alone, _ = unfrozen.encode_text(["rain falls"])
        batch, states_batch, mask = unfrozen.encode_text(["rain falls", PHRASES[1]])
    assert mask[0].sum() < mask.shape[1]  # the short phrase really is padded
    assert torch.allclose(alone[0], batch[0], atol=1e-5)
    length = states_alone.shape[1]
    assert torch.allclose(states_alone[0], states_batch[0, :length], atol=1e-5)


def test_cache_once_frozen(clip_dir):
    encoder = ClipTextEncoder.from_pretrained(clip_dir)
    assert encoder.frozen and not encoder.training
    assert not any(p.requires_grad for p in encoder.parameters())
    first = encoder.embed_text(PHRASES)
    assert encoder.cache_stats() == {"entries": 3, "hits": 1, "misses": 3}
    again = encoder.embed_text(PHRASES[::-1])
    assert encoder.cache_stats()["hits"] == 5 and encoder.cache_stats()["misses"] == 3
    assert torch.equal(again, first.flip(0))


def test_unfrozen_encoder_is_trainable(clip_dir):
    encoder = ClipTextEncoder.from_pretrained(clip_dir, freeze=False)
    encoder.embed_text(PHRASES[:2]).sum().backward()
    assert encoder.cache_stats()["entries"] == 0
    assert encoder.model.text_projection.weight.grad is not None
    assert encoder.freeze().frozen


def test_text_only(encoder):
    assert not encoder.has_audio and encoder.sample_rate == 0
    with pytest.raises(NotImplementedError, match="ClipTextEncoder is text-only"):
        encoder.embed_audio(torch.zeros(1, 1000), 16000)
    with pytest.raises(NotImplementedError, match="ClipTextEncoder is text-only"):
        encoder.logit_scale


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


def test_load_encoder_spec_and_package_entry(clip_dir, encoder):
    expected = encoder.embed_text(PHRASES[:2])
    for spec, base in [
        ("clip:" + clip_dir, None),
        ({"kind": "clip", "name": clip_dir}, None),
        ({"kind": "clip", "name": "clip:" + clip_dir}, None),  # a conf.yml's name
        ({"kind": "clip", "name": os.path.basename(clip_dir)}, os.path.dirname(clip_dir)),
    ]:
        loaded = load_encoder(spec, base)
        assert isinstance(loaded, ClipTextEncoder) and loaded.frozen
        assert torch.allclose(loaded.embed_text(PHRASES[:2]), expected, atol=1e-6)


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


def tiny_unet(conditioning="late"):
    torch.manual_seed(0)
    return TextCondUNet(
        n_fft=62,
        hop_length=16,
        channels=[4, 8],
        n_heads=2,
        conditioning=conditioning,
        text_embed_dim=16,
        text_token_dim=32,
    ).eval()


# "late" is CLIPSep's inner-product head; "attention" also takes the 32-wide token states
@pytest.mark.parametrize("conditioning", ["late", "attention"])
def test_text_cond_unet_separates_with_clip_queries(encoder, conditioning):
    model = tiny_unet(conditioning)
    mix = torch.randn(2, 800)
    queries = [["a dog barks", "rain falls"], ["a man speaks", "a cat meows"]]
    embed, tokens, mask = encode_queries(encoder, queries, model.wants_tokens)
    assert embed.shape == (2, 2, 16)
    if model.wants_tokens:
        assert tokens.shape[:3] == mask.shape and tokens.shape[-1] == 32
    with torch.no_grad():
        out = model(mix, embed, tokens, mask)
        batch = separate_batch(model, encoder, mix, queries)
    assert out.shape[:2] == (2, 2) and out.shape[-1] == 800 and torch.isfinite(out).all()
    assert torch.allclose(batch, out.reshape(batch.shape), atol=1e-5)


def test_separator_package_keeps_a_clip_encoder(tmp_path, clip_dir, encoder):
    model = tiny_unet()
    queries = [["a dog barks", "rain falls"]]
    mix = torch.randn(1, 800)
    with torch.no_grad():
        expected = separate_batch(model, encoder, mix, queries)

    # loaded from nowhere else: the encoder is written into the package folder
    Separator(model, encoder).save_pretrained(tmp_path / "own")
    package = torch.load(tmp_path / "own" / "separator.pth", weights_only=True)
    assert package["encoder"] == {"kind": "clip", "name": "encoder"}
    # named: only the name is kept
    Separator(model, encoder, encoder_name="clip:" + clip_dir).save_pretrained(tmp_path / "named")
    package = torch.load(tmp_path / "named" / "separator.pth", weights_only=True)
    assert package["encoder"] == {"kind": "clip", "name": "clip:" + clip_dir}

    for folder in ("own", "named"):
        loaded = Separator.from_pretrained(tmp_path / folder)
        assert isinstance(loaded.encoder, ClipTextEncoder)
        with torch.no_grad():
            got = separate_batch(loaded.model, loaded.encoder, mix, queries)
        assert torch.allclose(got, expected, atol=1e-5)
