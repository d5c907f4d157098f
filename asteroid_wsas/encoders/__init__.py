"""Bimodal (audio-text) encoders: the frozen teacher of the weak objective and the source of
the separator's text queries (and text-only BERT and CLIP encoders for the supervised LASS-Net,
BertSep and CLIPSep-Text baselines; CLIP's text and image towers for the image-queried rows).

The classes built on ``transformers`` are imported on first use: importing the package (and
every command, recipe stage and test that does) does not pay for loading transformers."""

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
