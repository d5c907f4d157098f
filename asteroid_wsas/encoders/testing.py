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


# ------------------------------------------------------------------------------------ CLIP
CLIP_WORDS = (
    "a the sound of and mixture dog barks man speaks water runs rain falls violin cello "
    "guitar piano flute trumpet drum accordion photo"
)


def clip_tokenizer(folder: Union[str, os.PathLike], words: str = CLIP_WORDS):
    """A ``CLIPTokenizer`` over a minimal byte-level BPE written to ``folder``.

    Every byte is a symbol (alone and word-final, ``</w>``), so any phrase tokenises; each
    of ``words`` is also one token, made by merging its symbols left to right. The special
    tokens come last, as in OpenAI's vocabulary (end-of-text has the largest id, where CLIP
    pools).

    Args:
        folder: Where ``vocab.json`` and ``merges.txt`` are written.
        words: Space-separated words that become single tokens.

    Returns:
        CLIPTokenizer
    """
    import json

    from transformers import CLIPTokenizer

    # GPT-2's byte table: printable Latin-1 bytes stand for themselves, others move past 255
    kept = [*range(33, 127), *range(161, 173), *range(174, 256)]
    moved = [b for b in range(256) if b not in kept]
    symbols = [chr(b) for b in kept] + [chr(256 + i) for i in range(len(moved))]
    vocab = symbols + [s + "</w>" for s in symbols]
    merges = []
    for word in dict.fromkeys(words.split()):
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        merged = pieces[0]
        for piece in pieces[1:]:
            merges.append(f"{merged} {piece}")
            merged += piece
            if merged not in vocab:
                vocab.append(merged)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    os.makedirs(folder, exist_ok=True)
    vocab_file = os.path.join(folder, "bpe_vocab.json")
    merges_file = os.path.join(folder, "bpe_merges.txt")
    with open(vocab_file, "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f)
    with open(merges_file, "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return CLIPTokenizer(vocab_file, merges_file)


def clip_config(tokenizer, size: str = "tiny", image_size: int = 32, patch_size: int = 8):
    """A ``CLIPConfig``: ``"tiny"`` (2 x 2 layers of width 32, projection 16, for tests and
    offline recipes) or ``"vit-b-32"`` (OpenAI's ViT-B/32 architecture).

    Args:
        tokenizer: Its special ids become the text tower's (CLIP pools at end-of-text).
        size: ``"tiny"`` or ``"vit-b-32"``.
        image_size: Side of the images the tiny vision tower sees.
        patch_size: Its patch side.
    """
    from transformers import CLIPConfig

    ids = dict(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    if size == "tiny":
        tower = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2)
        text = dict(tower, num_attention_heads=2, max_position_embeddings=32, **ids)
        vision = dict(tower, num_attention_heads=2, image_size=image_size, patch_size=patch_size)
        return CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    if size == "vit-b-32":
        return CLIPConfig(text_config=ids, vision_config={"patch_size": 32}, projection_dim=512)
    raise ValueError(f"size must be 'tiny' or 'vit-b-32', got {size!r}")


def save_random_clip(
    directory: Union[str, os.PathLike], size: str = "tiny", seed: int = 0, **kwargs
) -> str:
    """Write a random-initialised ``CLIPModel`` and its tokenizer in ``save_pretrained`` layout.

    Loadable offline as ``clip_image:<directory>`` (text and image queries) or
    ``clip:<directory>`` (its text tower). Its embeddings are fixed random features: image
    and text queries of one class are *not* close, as they are in a trained CLIP.

    Args:
        directory: Where to write; created if needed.
        size: See :func:`clip_config`.
        seed: Seed of the initialisation.
        **kwargs: ``image_size`` / ``patch_size`` of the tiny vision tower.

    Returns:
        str: ``directory``.

    Examples:
        >>> import tempfile
        >>> from asteroid_wsas.encoders.clip import ClipEncoder
        >>> folder = save_random_clip(tempfile.mkdtemp())
        >>> ClipEncoder.from_pretrained(folder).embed_dim
        16
    """
    import tempfile

    from transformers import CLIPModel

    directory = os.fspath(directory)
    with tempfile.TemporaryDirectory() as scratch:  # the BPE files live on in tokenizer.json
        tokenizer = clip_tokenizer(scratch)
    torch.manual_seed(seed)
    CLIPModel(clip_config(tokenizer, size, **kwargs)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
