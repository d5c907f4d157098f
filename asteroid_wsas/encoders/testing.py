"""Offline stand-ins for hub downloads: random-initialised CLAP and a locally trained tokenizer.

Real architectures with random weights let tests, benches and examples exercise the real
loading and embedding code on a machine that cannot reach the Hugging Face hub. Nothing
here is useful for separating real audio.
"""

import os
from typing import Iterable, Optional, Union

import torch
from transformers import ClapConfig, ClapModel, PreTrainedTokenizerFast, RobertaTokenizerFast

from .clap import ClapEncoder, laion_feature_extractor

DEFAULT_TEXTS = (
    "A man talks",
    "A woman speaks while a dog barks",
    "Water runs from a faucet",
    "Birds chirp in the distance followed by a car passing by",
    "The sound of an acoustic guitar",
    "The sound mixture of violin and cello",
    "Rain falls on a roof as thunder rumbles",
    "Static noise and a high beep",
)


def bpe_tokenizer(
    texts: Iterable[str] = DEFAULT_TEXTS, vocab_size: int = 500, max_length: int = 77
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with RoBERTa's special tokens, trained on ``texts``.

    Args:
        texts: Training text.
        vocab_size: Target vocabulary size.
        max_length: ``model_max_length`` of the tokenizer.

    Returns:
        A ``RobertaTokenizerFast`` (ids ``<s>`` = 0, ``<pad>`` = 1, ``</s>`` = 2).

    Examples:
        >>> tok = bpe_tokenizer()
        >>> ids = tok(["A dog barks"])["input_ids"][0]
        >>> ids[0], ids[-1]
        (0, 2)
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer)
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>"))
    )
    return RobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=max_length,
    )


def clap_config(size: str = "tiny", vocab_size: int = 512, fusion: bool = False) -> ClapConfig:
    """A CLAP configuration: ``"tiny"`` (about 0.1 M parameters, for tests) or
    ``"htsat-base"`` (the architecture of the paper's teacher: HTSAT-base + RoBERTa-base).

    Args:
        size: ``"tiny"`` or ``"htsat-base"``.
        vocab_size: Text vocabulary size (at least the tokenizer's).
        fusion: Whether the audio tower has LAION's feature-fusion branch.

    Returns:
        ClapConfig
    """
    if size == "tiny":
        text = dict(
            vocab_size=vocab_size,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=80,
            type_vocab_size=1,
        )
        audio = dict(
            hidden_size=32,
            patch_embeds_hidden_size=16,
            depths=[1, 1],
            num_attention_heads=[2, 4],
        )
        projection_dim = 16
    elif size == "htsat-base":
        text = dict(vocab_size=max(vocab_size, 50265), type_vocab_size=1)
        audio = dict(
            hidden_size=1024,
            patch_embeds_hidden_size=128,
            depths=[2, 2, 12, 2],
            num_attention_heads=[4, 8, 16, 32],
        )
        projection_dim = 512
    else:
        raise ValueError(f"size must be 'tiny' or 'htsat-base', got {size!r}")
    audio.update(enable_fusion=fusion, fusion_type="aff_2d" if fusion else None)
    return ClapConfig(text_config=text, audio_config=audio, projection_dim=projection_dim)


def random_clap_encoder(
    size: str = "tiny",
    fusion: bool = False,
    seed: int = 0,
    tokenizer: Optional[PreTrainedTokenizerFast] = None,
    **kwargs,
) -> ClapEncoder:
    """A :class:`ClapEncoder` around a random-initialised ``ClapModel``.

    Args:
        size: See :func:`clap_config`.
        fusion: Fused audio tower.
        seed: Seed of the initialisation.
        tokenizer: Defaults to :func:`bpe_tokenizer`.
        **kwargs: Passed to :class:`ClapEncoder`.

    Returns:
        ClapEncoder: frozen.

    Examples:
        >>> encoder = random_clap_encoder()
        >>> encoder.embed_text(["A dog barks"]).shape
        torch.Size([1, 16])
    """
    tokenizer = tokenizer or bpe_tokenizer()
    torch.manual_seed(seed)
    model = ClapModel(clap_config(size, vocab_size=len(tokenizer), fusion=fusion)).eval()
    return ClapEncoder(model, tokenizer, laion_feature_extractor(fusion), **kwargs)


def save_random_clap(directory: Union[str, os.PathLike], **kwargs) -> str:
    """Write a random CLAP (model, tokenizer, feature extractor) in ``save_pretrained`` layout.

    Args:
        directory: Where to write; created if needed.
        **kwargs: Passed to :func:`random_clap_encoder`.

    Returns:
        str: ``directory``, loadable with ``ClapEncoder.from_pretrained`` offline.
    """
    random_clap_encoder(**kwargs).save_pretrained(directory)
    return os.fspath(directory)
