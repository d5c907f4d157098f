"""BertTextEncoder on a tiny random-initialised BertModel saved to a folder (no hub access)."""

import os

import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizer

from asteroid_wsas import TextCondUNet
from asteroid_wsas.encoders import BertTextEncoder, encode_queries
from asteroid_wsas.encoders.loading import load_encoder
from asteroid_wsas.separator import Separator, separate_batch

WORDS = "a the dog cat barks meows man woman speaks talks while water runs rain falls on roof"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS.split() + ["##s", "##ing"]
PHRASES = ["a dog barks", "a man speaks while water runs on the roof", "rain falls", "a dog barks"]


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    """A folder in ``save_pretrained`` layout with a 2-layer, 32-wide BERT and its tokenizer."""
    folder = tmp_path_factory.mktemp("bert")
    vocab_file = folder / "source_vocab.txt"
    vocab_file.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab_file))
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def encoder(bert_dir):
    return BertTextEncoder.from_pretrained(bert_dir)


def test_shapes_norm_and_mask(encoder):
    embed, states, mask = encoder.encode_text(PHRASES)
    reference = encoder.tokenizer(PHRASES, padding=True, return_tensors="pt")["attention_mask"]
    assert encoder.embed_dim == encoder.token_dim == 32
    assert embed.shape == (4, 32) and embed.dtype == torch.float32
    assert states.shape == (4, reference.shape[1], 32)
    assert torch.equal(mask, reference.bool())
    assert torch.allclose(embed.norm(dim=-1), torch.ones(4), atol=1e-5)
    assert (states[~mask] == 0).all()  # padding is zero, as in the cached path


def test_embedding_is_the_normalised_mean_of_real_token_states(encoder):
    embed, states, mask = encoder.encode_text(PHRASES[:2])
    mean = states.sum(1) / mask.sum(1, keepdim=True)
    assert torch.allclose(embed, torch.nn.functional.normalize(mean, dim=-1), atol=1e-3)


def test_equal_and_different_phrases(encoder):
    embed = encoder.embed_text(PHRASES)
    assert torch.equal(embed[0], embed[3])
    assert not torch.allclose(embed[0], embed[1], atol=1e-3)
    assert not torch.allclose(embed[0], embed[2], atol=1e-3)


def test_padding_does_not_change_a_phrase(bert_dir):
    unfrozen = BertTextEncoder.from_pretrained(bert_dir, freeze=False).eval()
    with torch.no_grad():
        alone, states_alone, _ = unfrozen.encode_text(["rain falls"])
        batch, states_batch, mask = unfrozen.encode_text(["rain falls", PHRASES[1]])
    assert mask[0].sum() < mask.shape[1]  # the short phrase really is padded
    assert torch.allclose(alone[0], batch[0], atol=1e-5)
    length = states_alone.shape[1]
    assert torch.allclose(states_alone[0], states_batch[0, :length], atol=1e-5)


def test_cache_once_frozen(bert_dir):
    encoder = BertTextEncoder.from_pretrained(bert_dir)
    assert encoder.frozen and not encoder.training
    assert not any(p.requires_grad for p in encoder.parameters())
    first = encoder.embed_text(PHRASES)
    assert encoder.cache_stats() == {"entries": 3, "hits": 1, "misses": 3}
    again = encoder.embed_text(PHRASES[::-1])
    assert encoder.cache_stats()["hits"] == 5 and encoder.cache_stats()["misses"] == 3
    assert torch.equal(again, first.flip(0))


def test_unfrozen_encoder_is_trainable(bert_dir):
    encoder = BertTextEncoder.from_pretrained(bert_dir, freeze=False)
    encoder.embed_text(PHRASES[:2]).sum().backward()
    assert encoder.cache_stats()["entries"] == 0
    assert any(p.grad is not None for p in encoder.parameters())
    assert encoder.freeze().frozen


def test_text_only(encoder):
    with pytest.raises(NotImplementedError, match="text-only"):
        encoder.embed_audio(torch.zeros(1, 1000), 16000)
    with pytest.raises(NotImplementedError, match="text-only"):
        encoder.logit_scale


def test_missing_folder_is_named(tmp_path):
    missing = str(tmp_path / "no_bert_here")
    with pytest.raises(OSError, match="no_bert_here"):
        BertTextEncoder.from_pretrained(missing)
    with pytest.raises(OSError, match="no_bert_here"):
        load_encoder("bert:" + missing)


def test_load_encoder_spec_and_package_entry(bert_dir, encoder):
    expected = encoder.embed_text(PHRASES[:2])
    for spec, base in [
        ("bert:" + bert_dir, None),
        ({"kind": "bert", "name": bert_dir}, None),
        ({"kind": "bert", "name": os.path.basename(bert_dir)}, os.path.dirname(bert_dir)),
    ]:
        loaded = load_encoder(spec, base)
        assert isinstance(loaded, BertTextEncoder) and loaded.frozen
        assert torch.allclose(loaded.embed_text(PHRASES[:2]), expected, atol=1e-6)


def tiny_unet(conditioning="attention"):
    torch.manual_seed(0)
    return TextCondUNet(
        n_fft=62,
        hop_length=16,
        channels=[4, 8],
        n_heads=2,
        text_embed_dim=32,
        text_token_dim=32,
        conditioning=conditioning,
    ).eval()


@pytest.mark.parametrize("conditioning", ["attention", "film"])
def test_text_cond_unet_separates_with_bert_queries(encoder, conditioning):
    model = tiny_unet(conditioning)
    mix = torch.randn(2, 800)
    queries = [["a dog barks", "rain falls"], ["a man speaks", "a cat meows"]]
    embed, tokens, mask = encode_queries(encoder, queries, model.wants_tokens)
    assert embed.shape == (2, 2, 32)
    if model.wants_tokens:
        assert tokens.shape[:3] == mask.shape and tokens.shape[-1] == 32
    with torch.no_grad():
        out = model(mix, embed, tokens, mask)
        batch = separate_batch(model, encoder, mix, queries)
    assert out.shape[:2] == (2, 2) and out.shape[-1] == 800 and torch.isfinite(out).all()
    assert torch.allclose(batch, out.reshape(batch.shape), atol=1e-5)


def test_separator_package_keeps_a_bert_encoder(tmp_path, bert_dir, encoder):
    model = tiny_unet()
    queries = [["a dog barks", "rain falls"]]
    mix = torch.randn(1, 800)
    with torch.no_grad():
        expected = separate_batch(model, encoder, mix, queries)

    # loaded from nowhere else: the encoder is written into the package folder
    Separator(model, encoder).save_pretrained(tmp_path / "own")
    package = torch.load(tmp_path / "own" / "separator.pth", weights_only=True)
    assert package["encoder"] == {"kind": "bert", "name": "encoder"}
    # named: only the name is kept
    Separator(model, encoder, encoder_name="bert:" + bert_dir).save_pretrained(tmp_path / "named")
    package = torch.load(tmp_path / "named" / "separator.pth", weights_only=True)
    assert package["encoder"] == {"kind": "bert", "name": "bert:" + bert_dir}

    for folder in ("own", "named"):
        loaded = Separator.from_pretrained(tmp_path / folder)
        assert isinstance(loaded.encoder, BertTextEncoder)
        with torch.no_grad():
            got = separate_batch(loaded.model, loaded.encoder, mix, queries)
        assert torch.allclose(got, expected, atol=1e-5)
