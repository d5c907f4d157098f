"""Pretrained language models as text-only query encoders of supervised baselines.

Supervised text-queried separators embed their queries with a pretrained language model and
no audio tower: a BERT for LASS-Net (Liu et al., 2022) and the BertSep rows of Mahmud et al.
(ICLR 2024), CLIP's text tower for CLIPSep-Text (Dong et al., ICLR 2023). Such an encoder
gives a model the :class:`BimodalEncoder` text interface, so the same separators, objectives
and :class:`~asteroid_wsas.separator.Separator` take its queries; without an audio
embedding it cannot be the teacher of the weak objective. :class:`TextOnlyEncoder` holds what
they share (loading, tokenising, masking, the text-only errors); a subclass picks the model
class and how one vector per phrase is pooled.
"""

import os
from typing import List, Optional, Union

import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, PreTrainedModel
from transformers.utils import ModelOutput

from .base import BimodalEncoder, TextBatch

__all__ = ["TextOnlyEncoder", "NoAudioTower"]


class NoAudioTower:
    """What query encoders without an audio tower share (BERT, CLIP): no audio embedding nor
    temperature (they query separators but cannot teach the weak objective), and a
    transformers model + tokenizer saved side by side. ``modality`` names what they embed."""

    has_audio = False
    sample_rate = 0  # no audio side; nothing reads an encoder's rate without embed_audio
    modality = "text only"

    def save_pretrained(self, directory: Union[str, os.PathLike]) -> None:
        """Write model and tokenizer for :meth:`from_pretrained`."""
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)

    @property
    def logit_scale(self) -> float:
        """Not defined: the audio -> text temperature needs an audio side."""
        raise NotImplementedError(self._no_audio_message())

    def embed_audio(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Not defined: the encoder has no audio tower.

        Raises:
            NotImplementedError: Always.
        """
        raise NotImplementedError(self._no_audio_message())

    def _no_audio_message(self) -> str:
        return (
            f"{type(self).__name__} embeds {self.modality}, no audio: it can query a separator "
            "but cannot be the teacher of the weak objective; use a CLAP or small bimodal "
            "encoder"
        )


class TextOnlyEncoder(NoAudioTower, BimodalEncoder):
    """A ``transformers`` text model and its tokenizer as a query encoder (abstract).

    Token states are the model's ``last_hidden_state`` (zero at padding); the pooled,
    L2-normalised embedding comes from :meth:`_pool`. Subclasses set :attr:`kind` and
    :attr:`family` and implement :meth:`_load_model`, :meth:`_embed_dim` and :meth:`_pool`.

    Text only: ``has_audio`` is False, :meth:`embed_audio` and :attr:`logit_scale` raise
    ``NotImplementedError``, and ``sample_rate`` is 0 (no audio side).

    Args:
        model: An encoder-only ``transformers`` model whose output has ``last_hidden_state``.
        tokenizer: Its tokenizer.
        max_text_length: Longest token sequence, longer phrases are truncated (default: the
            tokenizer's ``model_max_length`` or the model's ``max_position_embeddings``,
            whichever is smaller).
        freeze: Freeze the encoder (the usual case: the separator is trained, the language
            model is not).
        cache_size: Phrases kept in the text cache once frozen (see :class:`BimodalEncoder`).
        cache_dtype: Storage dtype of cached token states.

    Attributes:
        kind (str): Its name in :func:`~asteroid_wsas.encoders.loading.load_encoder` specs
            (``"<kind>:<folder or hub id>"``) and in separator packages' encoder entries.
        family (str): Model family named in messages (``"BERT"``).
        embed_dim (int): Size of the pooled embedding.
        token_dim (int): ``hidden_size`` of the model.

    Raises:
        ValueError: The model is an encoder-decoder, has no ``hidden_size``, or is not one
            the subclass can pool.
    """

    kind: str
    family: str

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer,
        max_text_length: Optional[int] = None,
        freeze: bool = True,
        cache_size: Optional[int] = 65536,
        cache_dtype: torch.dtype = torch.float16,
    ):
        super().__init__(cache_size=cache_size, cache_dtype=cache_dtype)
        config = model.config
        if getattr(config, "is_encoder_decoder", False):
            raise ValueError(
                f"{type(self).__name__} needs an encoder-only model, got {type(model).__name__}"
            )
        hidden = getattr(config, "hidden_size", None)
        if hidden is None:
            raise ValueError(f"{type(model).__name__}'s config has no hidden_size")
        self.model = model
        self.tokenizer = tokenizer
        if max_text_length is None:
            # An unset model_max_length is a huge sentinel; the position table bounds it.
            limits = [getattr(config, "max_position_embeddings", None), tokenizer.model_max_length]
            max_text_length = min(int(v) for v in limits if v)
        self.max_text_length = int(max_text_length)
        self.token_dim = int(hidden)
        self.embed_dim = int(self._embed_dim(model))
        if freeze:
            self.freeze()

    # ------------------------------------------------------------------ to implement
    @classmethod
    def _load_model(cls, source: str) -> PreTrainedModel:
        """The model saved at ``source`` (folder or hub id).

        Raises:
            OSError, ValueError: Nothing of this family there (:meth:`from_pretrained` adds
                the source to the message).
        """
        raise NotImplementedError

    def _embed_dim(self, model: PreTrainedModel) -> int:
        """Size of what :meth:`_pool` returns for ``model``; raise ValueError if it cannot
        pool that model."""
        raise NotImplementedError

    def _pool(self, outputs: ModelOutput, states: torch.Tensor, mask: torch.Tensor):
        """One vector per phrase (normalised by the caller).

        Args:
            outputs: The model's output.
            states: ``last_hidden_state`` in float32, zero at padding, :math:`(N, L, H)`.
            mask: Attention mask, bool, :math:`(N, L)`.

        Returns:
            torch.Tensor: :math:`(N, D)`.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    @classmethod
    def from_pretrained(cls, name_or_path: Union[str, os.PathLike], **kwargs) -> "TextOnlyEncoder":
        """Load model and tokenizer from a directory or a hub id.

        Args:
            name_or_path: Local directory (transformers' ``save_pretrained`` layout) or hub
                id (only when online or already in the HF cache).
            **kwargs: Passed to the constructor (``max_text_length``, ``freeze``, ...).

        Returns:
            An encoder of the class it is called on: frozen, in eval mode (unless
            ``freeze=False``).

        Raises:
            OSError: Nothing loadable there (offline: only local files count); the message
                names ``name_or_path``.

        Examples:
            >>> from asteroid_wsas.encoders import BertTextEncoder
            >>> encoder = BertTextEncoder.from_pretrained("/models/bert")  # doctest: +SKIP
        """
        source = os.fspath(name_or_path)
        if os.path.isabs(source) and not os.path.exists(source):
            # say so now: transformers would call it an invalid hub id
            raise OSError(f"{cls.family} folder {source!r} not found")
        try:
            model = cls._load_model(source)
            tokenizer = AutoTokenizer.from_pretrained(source)
        except (OSError, ValueError) as err:  # missing files / unrecognised config
            raise OSError(
                f"could not load a {cls.family} model and tokenizer from {source!r} (a local "
                "directory in transformers' save_pretrained layout, or a hub id when online): "
                f"{err}"
            ) from err
        return cls(model, tokenizer, **kwargs)

    def _encode_text(self, phrases: List[str]) -> TextBatch:
        """Pooled, normalised embeddings and the last hidden states of ``phrases``.

        Shape:
            - embed: :math:`(N, D)`, float32, unit norm.
            - states: :math:`(N, L, H)`, zero at padded positions (as the cached path
              returns them).
            - mask: :math:`(N, L)`, bool, the tokenizer's attention mask.
        """
        inputs = self._tokenize(phrases)
        mask = inputs["attention_mask"].bool()
        with torch.autocast(self._device().type, enabled=False):
            outputs = self.model(**inputs)
        states = outputs.last_hidden_state.float() * mask.unsqueeze(-1)
        pooled = self._pool(outputs, states, mask).float()
        return F.normalize(pooled, dim=-1), states, mask
