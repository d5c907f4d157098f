"""Serialization: exact round trip, weights-only files, Asteroid's loader."""

import pickle

import pytest
import torch
from asteroid.models import BaseModel

from asteroid_wsas import TextCondUNet
from tests.helpers import queries, randomize_norm_stats, tiny_unet


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = randomize_norm_stats(tiny_unet("attention", mask_activation="relu")).eval()
    path = tmp_path / "model.pth"
    torch.save(model.serialize(), path)
    return model, path


def test_round_trip_is_exact(saved, wav):
    model, path = saved
    loaded = TextCondUNet.from_pretrained(str(path)).eval()
    assert loaded.get_model_args() == model.get_model_args()
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    embed, tokens = queries(2, 3)
    assert torch.equal(loaded(wav, embed, tokens), model(wav, embed, tokens))


def test_file_loads_with_weights_only(saved):
    _, path = saved
    conf = torch.load(path, weights_only=True)
    assert conf["model_name"] == "TextCondUNet"
    versions = conf["infos"]["software_versions"]
    assert all(type(v) is str for v in versions.values())  # no TorchVersion objects
    assert set(versions) >= {"torch_version", "asteroid_version", "asteroid_wsas_version"}


def test_asteroids_own_serialize_would_not_load(tmp_path):
    """Documents why SafeBaseModel exists: Asteroid stores a TorchVersion object."""
    model = tiny_unet()
    path = tmp_path / "asteroid.pth"
    torch.save(BaseModel.serialize(model), path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def test_asteroid_base_model_loads_registered_model(saved):
    _, path = saved
    loaded = BaseModel.from_pretrained(str(path))
    assert type(loaded) is TextCondUNet
    assert loaded.mask_activation == "relu"


def test_from_pretrained_accepts_dict_pathlike_and_overrides(saved):
    model, path = saved
    from_dict = TextCondUNet.from_pretrained(model.serialize())
    assert from_dict.get_model_args() == model.get_model_args()
    overridden = TextCondUNet.from_pretrained(path, mask_activation="sigmoid")
    assert overridden.mask_activation == "sigmoid"


def test_from_pretrained_rejects_other_types():
    with pytest.raises(ValueError, match="pretrained_model_conf_or_path"):
        TextCondUNet.from_pretrained(42)


def test_unserializable_model_argument_is_reported():
    class Odd(TextCondUNet):
        def get_model_args(self):
            return {**super().get_model_args(), "extra": object()}

    with pytest.raises(TypeError, match="cannot be serialized"):
        Odd(n_fft=62, hop_length=16, channels=[4], conditioning="late").serialize()
