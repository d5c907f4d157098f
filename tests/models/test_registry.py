"""Registration of our models with asteroid.models."""

import importlib

import asteroid.models
import pytest
import torch

import asteroid_wsas
from asteroid_wsas.models import registry


def test_models_are_registered_on_import():
    assert asteroid.models.get("TextCondUNet") is asteroid_wsas.TextCondUNet
    assert asteroid.models.get("textcondunet") is asteroid_wsas.TextCondUNet


def test_registration_is_idempotent():
    registry.register_models()
    registry.register_models()
    importlib.reload(asteroid_wsas)  # re-running the package's import code
    assert asteroid.models.get("TextCondUNet") is asteroid_wsas.TextCondUNet


def test_reloaded_class_replaces_our_earlier_registration():
    module = importlib.import_module("asteroid_wsas.models.text_cond_unet")
    old_cls = asteroid.models.get("TextCondUNet")
    try:
        new_module = importlib.reload(module)
        registry.MODELS = (new_module.TextCondUNet,)
        registry.register_models()
        assert asteroid.models.get("TextCondUNet") is new_module.TextCondUNet
    finally:
        registry.MODELS = (old_cls,)
        setattr(asteroid.models, "TextCondUNet", old_cls)


def test_foreign_model_with_our_name_is_an_error(monkeypatch):
    class TextCondUNet:  # a different class that happens to share the name
        pass

    monkeypatch.setattr(asteroid.models, "TextCondUNet", TextCondUNet)
    with pytest.raises(ValueError, match="already has a model named TextCondUNet"):
        registry.register_models()


def test_models_by_name_and_from_packages():
    from asteroid_wsas.models import TextCondUNet

    assert registry.get_model_class("TextCondUNet") is TextCondUNet
    with pytest.raises(ValueError, match="'NoSuchNet' is not a registered separator"):
        registry.get_model_class("NoSuchNet")
    with pytest.raises(ValueError, match="no model inside"):
        registry.model_from_package({"state_dict": {}})
    with pytest.raises(TypeError, match="must subclass SafeBaseModel"):
        registry.register_model(torch.nn.Linear)


def test_named_registries_refuse_nameless_and_clashing_classes():
    from asteroid_wsas.losses.objectives import OBJECTIVES, Objective, register_objective

    class Nameless(Objective):
        pass

    with pytest.raises(TypeError, match="must subclass Objective and set name"):
        register_objective(Nameless)

    class Clash(Objective):
        name = "weak"

    with pytest.raises(ValueError, match="objective 'weak' is already registered"):
        register_objective(Clash)
    assert OBJECTIVES["weak"].__name__ == "WeakObjective"
