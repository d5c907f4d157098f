"""asteroid-wsas: text-queried audio separation trained without clean audio.

Importing the package registers its models with ``asteroid.models`` so that
``asteroid.models.BaseModel.from_pretrained(path)`` can rebuild them. The public names
(``TextCondUNet``, ``Separator``, ...) are imported on first use, so that the
``asteroid-wsas`` command starts without torch when it only prints help; started that way
(``asteroid_wsas_cli``), the registration happens when a command imports the models.
"""

import importlib
import sys

from .lazy import lazy_names
from .version import __version__

# public name -> the submodule that defines it
_LAZY = {
    "TextCondUNet": "models",
    "SafeBaseModel": "models",
    "Separator": "separation.separator",
    "Separation": "separation.separator",
    "register_models": "models",
}

__all__ = ["TextCondUNet", "Separator", "Separation", "SafeBaseModel", "register_models"]
__all__ += ["__version__"]


__getattr__, __dir__ = lazy_names(__name__, _LAZY)


def _started_by_the_launcher() -> bool:
    launcher = sys.modules.get("asteroid_wsas_cli")
    return bool(getattr(launcher, "LAUNCHING", False))


if not _started_by_the_launcher():
    importlib.import_module(".models", __name__)  # registers the models with Asteroid
