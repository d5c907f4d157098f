"""Separation models of asteroid-wsas (Asteroid ``BaseModel`` subclasses)."""

from .base import SafeBaseModel
from .text_cond_unet import TextCondUNet

__all__ = ["SafeBaseModel", "TextCondUNet"]

# Asteroid finds our classes by name (BaseModel.from_pretrained, get_model_class): register
# them whenever they are loaded, also when the package's own import skipped it (the
# command-line launcher, asteroid_wsas_cli).
from .. import registry  # noqa: E402,F401  (registers on import)
