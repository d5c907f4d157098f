"""Build laion_clap models offline (tests only): its hub calls get local stand-ins."""

import os
from contextlib import ExitStack
from unittest import mock

import torch
import transformers

from asteroid_wsas.encoders.testing import bpe_tokenizer


def laion_version() -> str:
    from importlib.metadata import version

    return version("laion_clap")


def build_laion_clap(amodel: str, fusion: bool, text_layers: int = 2, seed: int = 0):
    """``laion_clap.CLAP_Module`` with random weights, built without network access.

    ``laion_clap`` loads three tokenizers when imported and ``RobertaModel`` from the hub
    when built; here they are a local BPE tokenizer and a random RoBERTa-base layout with
    ``text_layers`` layers. Returns the module in eval mode.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokenizer = bpe_tokenizer()

    def local_tokenizer(cls, *args, **kwargs):
        return tokenizer

    def random_roberta(cls, *args, **kwargs):
        config = transformers.RobertaConfig(
            num_hidden_layers=text_layers, max_position_embeddings=514, type_vocab_size=1
        )
        return transformers.RobertaModel(config)

    with ExitStack() as stack:
        for owner in (
            transformers.BertTokenizer,
            transformers.RobertaTokenizer,
            transformers.BartTokenizer,
        ):
            stack.enter_context(
                mock.patch.object(owner, "from_pretrained", classmethod(local_tokenizer))
            )
        stack.enter_context(
            mock.patch.object(
                transformers.RobertaModel, "from_pretrained", classmethod(random_roberta)
            )
        )
        import laion_clap

        torch.manual_seed(seed)
        module = laion_clap.CLAP_Module(
            enable_fusion=fusion, amodel=amodel, tmodel="roberta", device="cpu"
        )
    module.model.eval()
    return module, tokenizer
