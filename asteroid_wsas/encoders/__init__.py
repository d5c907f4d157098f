"""Bimodal (audio-text) encoders: the frozen teacher of the weak objective and the source of
the separator's text queries."""

from .base import BimodalEncoder, encode_queries
from .clap import ClapEncoder, laion_feature_extractor
from .laion import load_laion_clap

__all__ = [
    "BimodalEncoder",
    "encode_queries",
    "ClapEncoder",
    "laion_feature_extractor",
    "load_laion_clap",
]
