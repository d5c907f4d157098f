"""BertTextEncoder on a tiny random-initialised BertModel saved to a folder (no hub access)."""

import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizer

from asteroid_wsas.encoders import BertTextEncoder
from asteroid_wsas.encoders.loading import load_encoder

from .text_only_contract import PHRASES, WORDS, TextOnlyContract

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS.split() + ["##s", "##ing"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
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
def encoder(folder):
    return BertTextEncoder.from_pretrained(folder)


class TestBertContract(TextOnlyContract):
    KIND = "bert"
    ENCODER = BertTextEncoder
    EMBED_DIM = TOKEN_DIM = 32
    CONDITIONINGS = ("attention", "film")  # BertSep*, LASS-Net


def test_embedding_is_the_normalised_mean_of_real_token_states(encoder):
    embed, states, mask = encoder.encode_text(PHRASES[:2])
    mean = states.sum(1) / mask.sum(1, keepdim=True)
    assert torch.allclose(embed, torch.nn.functional.normalize(mean, dim=-1), atol=1e-3)


def test_missing_folder_is_named(tmp_path):
    missing = str(tmp_path / "no_bert_here")
    with pytest.raises(OSError, match="no_bert_here"):
        BertTextEncoder.from_pretrained(missing)
    with pytest.raises(OSError, match="no_bert_here"):
        load_encoder("bert:" + missing)
