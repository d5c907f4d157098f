"""Registration of our models with ``asteroid.models`` (safe to repeat)."""

import asteroid.models

from .models import TextCondUNet

MODELS = (TextCondUNet,)


def register_models() -> None:
    """Make ``asteroid.models.get(name)`` return our model classes.

    Idempotent: re-importing or reloading asteroid_wsas replaces our own earlier
    registration instead of failing like ``asteroid.models.register_model`` would.

    Raises:
        ValueError: If a different, foreign model is already registered under a name.
    """
    for cls in MODELS:
        try:
            existing = asteroid.models.get(cls.__name__)
        except ValueError:
            existing = None
        if existing is None:
            asteroid.models.register_model(cls)
        elif existing is not cls:
            ours = (existing.__module__, existing.__qualname__) == (
                cls.__module__,
                cls.__qualname__,
            )
            if not ours:
                raise ValueError(
                    f"asteroid.models already has a model named {cls.__name__} "
                    f"({existing.__module__}); cannot register {cls.__module__}.{cls.__name__}"
                )
            setattr(asteroid.models, cls.__name__, cls)
