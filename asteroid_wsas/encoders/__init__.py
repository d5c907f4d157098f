"""Bimodal (audio-text) encoders: the frozen teacher of the weak objective and the source of
the separator's text queries (and text-only BERT and CLIP encoders for the supervised LASS-Net,
BertSep and CLIPSep-Text baselines; CLIP's text and image towers for the image-queried rows).

The classes built on ``transformers`` are imported on first use: importing the package (and
every command, recipe stage and test that does) does not pay for loading transformers."""

from ..lazy import lazy_names
from .base import BimodalEncoder, encode_queries, is_image_query

# name -> module that defines it (imported when the name is first asked for)
_LAZY = {
    "TextOnlyEncoder": "text_only",
    "BertTextEncoder": "bert",
    "ClipTextEncoder": "clip_text",
    "ClipEncoder": "clip",
    "ClapEncoder": "clap",
    "laion_feature_extractor": "clap",
    "load_laion_clap": "laion",
}

__all__ = ["BimodalEncoder", "encode_queries", "is_image_query", *_LAZY]


__getattr__, __dir__ = lazy_names(__name__, _LAZY)
