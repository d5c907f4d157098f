"""Separation models of asteroid-wsas (Asteroid ``BaseModel`` subclasses)."""

from .base import SafeBaseModel
from .text_cond_unet import TextCondUNet

__all__ = ["SafeBaseModel", "TextCondUNet"]
