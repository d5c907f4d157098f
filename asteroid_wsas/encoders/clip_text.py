"""CLIP's text tower as the text-only query encoder of CLIPSep-Text (Dong et al., ICLR 2023).

CLIPSep queries its separator with the projected, normalised text embedding of a pretrained
CLIP (``openai/clip-vit-base-patch32``); its text-queried variant, CLIPSep-Text, is trained
with text queries only, so here CLIP is a text encoder like BERT in
:mod:`~asteroid_wsas.encoders.bert`: it queries a separator but cannot be the teacher of the
weak objective.
"""

from contextlib import contextmanager
from typing import Iterator

import torch
from transformers import (
    AutoConfig,
    CLIPConfig,
    CLIPTextConfig,
    CLIPTextModelWithProjection,
    PreTrainedModel,
)
from transformers.utils import ModelOutput
from transformers.utils import logging as hf_logging

from .text_only import TextOnlyEncoder

__all__ = ["ClipTextEncoder"]


class ClipTextEncoder(TextOnlyEncoder):
    """CLIP's text tower (``CLIPTextModelWithProjection`` + ``AutoTokenizer``) as query encoder.

    The pooled embedding is CLIP's own ``text_embeds`` (the final state of the end-of-text
    token through the text projection), L2-normalised: the vector CLIP matches images with
    and CLIPSep queries with. The token states are the last hidden states, masked by the
    tokenizer's attention mask. CLIP's text transformer is causal, so padding after a phrase
    changes neither its states nor its embedding.

    Text only: :meth:`embed_audio` and :attr:`logit_scale` raise ``NotImplementedError``, and
    ``sample_rate`` is 0 (no audio side). :meth:`from_pretrained` takes a folder or hub id of
    a ``CLIPTextModelWithProjection`` or of a full ``CLIPModel`` (only its text tower and text
    projection are loaded); ``load_encoder("clip:<folder or hub id>")`` loads one too.

    Args:
        model: A ``CLIPTextModelWithProjection``.
        tokenizer: Its tokenizer (``CLIPTokenizer`` or ``CLIPTokenizerFast``).
        max_text_length: Longest token sequence, longer phrases are truncated (default: the
            tokenizer's ``model_max_length`` or the model's ``max_position_embeddings``,
            whichever is smaller: 77 for OpenAI's CLIPs).
        freeze: Freeze the encoder (the usual case: the separator is trained, CLIP is not).
        cache_size: Phrases kept in the text cache once frozen (see :class:`BimodalEncoder`).
        cache_dtype: Storage dtype of cached token states.

    Attributes:
        embed_dim (int): ``projection_dim`` of the model.
        token_dim (int): ``hidden_size`` of the model.

    Raises:
        ValueError: The model is not a ``CLIPTextModelWithProjection`` (a ``CLIPTextModel``
            has no projected embedding).

    Examples:
        >>> encoder = ClipTextEncoder.from_pretrained(
        ...     "openai/clip-vit-base-patch32")  # doctest: +SKIP
        >>> embed, states, mask = encoder.encode_text(["A dog barks"])  # doctest: +SKIP
        >>> embed.shape, states.shape, mask.shape  # doctest: +SKIP
        (torch.Size([1, 512]), torch.Size([1, 5, 512]), torch.Size([1, 5]))
    """

    kind = "clip"
    family = "CLIP"

    @classmethod
    def _load_model(cls, source: str) -> PreTrainedModel:
        """The text tower saved at ``source``, from a text-only or a full CLIP checkpoint.

        Raises:
            ValueError: Not a CLIP checkpoint, or one without the text projection.
        """
        config = AutoConfig.from_pretrained(source)
        if isinstance(config, CLIPConfig):
            # A full CLIP keeps the projection width at its top level; its text config has a
            # projection_dim of its own that defaults to 512, and a text tower built from
            # that would not fit the checkpoint's projection.
            text_config = config.text_config
            text_config.projection_dim = config.projection_dim
        elif isinstance(config, CLIPTextConfig):
            text_config = config
        else:
            raise ValueError(f"not a CLIP checkpoint (model_type {config.model_type!r})")
        with _quiet_transformers():
            model, info = CLIPTextModelWithProjection.from_pretrained(
                source, config=text_config, output_loading_info=True
            )
        # transformers would only warn and initialise missing weights at random
        missing = sorted(info["missing_keys"])
        if missing:
            raise ValueError(f"the checkpoint has no weights for {missing}")
        return model

    def _embed_dim(self, model: PreTrainedModel) -> int:
        if not isinstance(model, CLIPTextModelWithProjection):
            raise ValueError(
                "ClipTextEncoder needs a CLIPTextModelWithProjection (CLIP's projected text "
                f"embedding), got {type(model).__name__}"
            )
        return int(model.config.projection_dim)

    def _pool(self, outputs: ModelOutput, states: torch.Tensor, mask: torch.Tensor):
        """CLIP's projected text embedding."""
        return outputs.text_embeds


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' warnings for a while.

    Loading the text tower of a full CLIP checkpoint reports every vision weight as unused,
    a long warning on each load that is expected here; the report that matters, missing
    text weights, is checked by the caller.
    """
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
