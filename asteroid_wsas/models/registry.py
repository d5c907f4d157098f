"""Models by name: our classes registered with ``asteroid.models`` (once, when
:mod:`asteroid_wsas.models` is imported; safe to repeat).

A separator file names its class (``model_name``); the config's ``model: {name: ...}``
names the class to train. Both are looked up through Asteroid's own model registry, so a
model registered here is also ``asteroid.models.get(name)``.
"""

from typing import Any, Dict, Type

import asteroid.models

from .base import SafeBaseModel
from .text_cond_unet import TextCondUNet

__all__ = ["MODELS", "register_model", "register_models", "get_model_class", "model_from_package"]

MODELS = (TextCondUNet,)


def register_model(cls: Type[SafeBaseModel]) -> Type[SafeBaseModel]:
    """Make ``asteroid.models.get(cls.__name__)`` return ``cls`` (usable as a decorator).

    Idempotent: registering the same class again, or a reloaded copy of it, replaces the
    earlier registration instead of failing like ``asteroid.models.register_model`` would.

    Raises:
        TypeError: ``cls`` is not a :class:`~asteroid_wsas.models.SafeBaseModel` subclass.
        ValueError: A different, foreign model is already registered under its name.

    Examples:
        >>> from asteroid_wsas.models import TextCondUNet
        >>> register_model(TextCondUNet) is TextCondUNet
        True
    """
    if not (isinstance(cls, type) and issubclass(cls, SafeBaseModel)):
        raise TypeError(f"a model class must subclass SafeBaseModel, got {cls!r}")
    try:
        existing = asteroid.models.get(cls.__name__)
    except ValueError:
        existing = None
    if existing is None:
        asteroid.models.register_model(cls)
    elif existing is not cls:
        ours = (existing.__module__, existing.__qualname__) == (cls.__module__, cls.__qualname__)
        if not ours:
            raise ValueError(
                f"asteroid.models already has a model named {cls.__name__} "
                f"({existing.__module__}); cannot register {cls.__module__}.{cls.__name__}"
            )
        setattr(asteroid.models, cls.__name__, cls)
    return cls


def register_models() -> None:
    """Register the package's own models (:data:`MODELS`)."""
    for cls in MODELS:
        register_model(cls)


def get_model_class(name: str) -> Type[SafeBaseModel]:
    """The registered separator class called ``name``.

    Raises:
        ValueError: No such model, or one that is not a text-queried separator of ours.
    """
    try:
        cls = asteroid.models.get(name)
    except ValueError:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, SafeBaseModel)):
        raise ValueError(
            f"model {name!r} is not a registered separator (register it with "
            "asteroid_wsas.models.register_model)"
        )
    return cls


def model_from_package(package: Dict[str, Any]) -> SafeBaseModel:
    """The model of a ``serialize()`` dict, whatever registered class wrote it.

    Raises:
        ValueError: The dict names no model, or an unregistered one, or its weights or
            arguments do not fit the named class (e.g. an unexpected key in the state dict).
    """
    name = package.get("model_name") if isinstance(package, dict) else None
    if not isinstance(name, str):
        raise ValueError("no model inside (no model_name)")
    cls = get_model_class(name)
    try:
        return cls.from_pretrained(package)
    except (RuntimeError, KeyError, TypeError) as err:
        # load_state_dict's message: a header line, then one line per kind of mismatch
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        detail = " ".join(lines[1:] if len(lines) > 1 else lines) or type(err).__name__
        if len(detail) > 300:  # a whole foreign state dict would fill the screen
            detail = detail[:300] + " ..."
        raise ValueError(f"its weights do not fit a {name}: {detail}") from None


# On import: whoever loads the models (the package, or a command started by the light
# launcher) finds them registered.
register_models()


register_models()  # once, when the models package is imported
