"""Datasets, mixers and test sets."""

from .synthetic import SOUND_CLASSES, SyntheticCaptionedMixtures

__all__ = ["SOUND_CLASSES", "SyntheticCaptionedMixtures"]
