"""A pretrained BERT as the text-only query encoder of supervised baselines (LASS-Net, BertSep).

LASS-Net (Liu et al., 2022) and the BertSep rows of Mahmud et al. (ICLR 2024, Table 1) train
a separator with clean sources and embed its queries with a pretrained BERT, without any audio
tower. :class:`BertTextEncoder` gives such a model the :class:`BimodalEncoder` text interface,
so the same separators, objectives and :class:`~asteroid_wsas.separator.Separator` take its
queries; it has no audio embedding, so it cannot be the teacher of the weak objective.
"""

import torch
from transformers import AutoModel, PreTrainedModel
from transformers.utils import ModelOutput

from .text_only import TextOnlyEncoder

__all__ = ["BertTextEncoder"]


class BertTextEncoder(TextOnlyEncoder):
    """A BERT-family ``transformers`` model (``AutoModel`` + ``AutoTokenizer``) as query encoder.

    The token states are BERT's last hidden states, which is what LASS-Net conditions on. The
    pooled embedding is their mean over the real tokens ([CLS] and [SEP] included, padding
    excluded), L2-normalised: the FiLM and inner-product heads of our separators take one
    vector per query, and BERT's own pooler output (a [CLS] head trained for next-sentence
    prediction) is a poor sentence vector, while mean pooling is how sentence models built on
    BERT (e.g. all-MiniLM-L6-v2) are trained to be used.

    Text only: :meth:`embed_audio` and :attr:`logit_scale` raise ``NotImplementedError``, and
    ``sample_rate`` is 0 (no audio side). :meth:`from_pretrained` takes a folder in
    ``save_pretrained`` layout (e.g. a sentence-transformers folder, whose root holds the
    BERT) or a hub id (``bert-base-uncased``); ``load_encoder("bert:<folder or hub id>")``
    loads one too.

    Args:
        model: An encoder-only ``transformers`` model whose output has ``last_hidden_state``
            (``BertModel``, ``DistilBertModel``, ``RobertaModel``, ...).
        tokenizer: Its tokenizer.
        max_text_length: Longest token sequence, longer phrases are truncated (default: the
            tokenizer's ``model_max_length`` or the model's ``max_position_embeddings``,
            whichever is smaller).
        freeze: Freeze the encoder (the usual case: the separator is trained, BERT is not).
        cache_size: Phrases kept in the text cache once frozen (see :class:`BimodalEncoder`).
        cache_dtype: Storage dtype of cached token states.

    Attributes:
        embed_dim (int): ``hidden_size`` of the model.
        token_dim (int): ``hidden_size`` of the model (the embedding is a mean of the states).

    Raises:
        ValueError: The model is an encoder-decoder or has no ``hidden_size``.

    Examples:
        >>> encoder = BertTextEncoder.from_pretrained("bert-base-uncased")  # doctest: +SKIP
        >>> embed, states, mask = encoder.encode_text(["A dog barks"])  # doctest: +SKIP
        >>> embed.shape, states.shape, mask.shape  # doctest: +SKIP
        (torch.Size([1, 768]), torch.Size([1, 5, 768]), torch.Size([1, 5]))
    """

    kind = "bert"
    family = "BERT"

    @classmethod
    def _load_model(cls, source: str) -> PreTrainedModel:
        return AutoModel.from_pretrained(source)

    def _embed_dim(self, model: PreTrainedModel) -> int:
        return self.token_dim  # a mean of the token states

    def _pool(self, outputs: ModelOutput, states: torch.Tensor, mask: torch.Tensor):
        """Mean of the real tokens' states (``states`` is already zero at padding)."""
        return states.sum(1) / mask.sum(1, keepdim=True)
