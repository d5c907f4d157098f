"""asteroid-wsas: text-queried audio separation trained without clean audio.

Importing the package registers its models with ``asteroid.models`` so that
``asteroid.models.BaseModel.from_pretrained(path)`` can rebuild them.
"""

__version__ = "0.1.0.dev0"

from .models import SafeBaseModel, TextCondUNet  # noqa: E402
from .registry import register_models  # noqa: E402
from .separator import Separation, Separator  # noqa: E402

register_models()

__all__ = [
    "TextCondUNet",
    "Separator",
    "Separation",
    "SafeBaseModel",
    "register_models",
    "__version__",
]
