"""Separation models of asteroid-wsas (Asteroid ``BaseModel`` subclasses)."""

from .base import SafeBaseModel
from .text_cond_unet import TextCondUNet

# Asteroid finds our classes by name (BaseModel.from_pretrained, get_model_class): the
# registry registers them when it is imported, here, whoever loads the models first.
from .registry import get_model_class, model_from_package, register_model, register_models

__all__ = [
    "SafeBaseModel",
    "TextCondUNet",
    "register_model",
    "register_models",
    "get_model_class",
    "model_from_package",
]
