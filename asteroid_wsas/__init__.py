"""asteroid-wsas: text-queried audio separation trained without clean audio.

Importing the package registers its models with ``asteroid.models`` so that
``asteroid.models.BaseModel.from_pretrained(path)`` can rebuild them.
"""

from .models import SafeBaseModel, TextCondUNet
from .registry import register_models
from .separator import Separation, Separator
from .version import __version__

register_models()

__all__ = [
    "TextCondUNet",
    "Separator",
    "Separation",
    "SafeBaseModel",
    "register_models",
    "__version__",
]
