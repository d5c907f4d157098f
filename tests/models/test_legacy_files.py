"""Separator files written by main before the query path moved into the model still load
and separate as they did (fixtures: tests/models/make_legacy_fixtures.py)."""

import os

import pytest
import torch

from asteroid_wsas import Separator, TextCondUNet
from asteroid_wsas.engine.experiment import load_separator
from asteroid_wsas.separator import separate_batch
from tests.helpers import tiny_encoder

LEGACY = os.path.join(os.path.dirname(__file__), "data", "legacy")
QUERIES = ["a dog barks", "a bell rings"]


@pytest.fixture(scope="module")
def expected():
    return torch.load(os.path.join(LEGACY, "expected.pt"), weights_only=True)


@pytest.mark.parametrize("name", ["text", "mixit"])
def test_old_packages_separate_as_before(name, expected):
    sep = Separator.from_pretrained(os.path.join(LEGACY, f"{name}_pkg"))
    assert sep.learned_queries == (name == "mixit")
    out = sep.separate(expected["audio"], QUERIES, sample_rate=8000, precision="fp32")
    torch.testing.assert_close(out.estimates, expected[f"{name}_separate"], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name, old", [("weak", "text"), ("mixit", "mixit")])
def test_old_best_models_load_and_answer_as_before(name, old, expected):
    path = os.path.join(LEGACY, f"{name}_best_model.pth")
    model = load_separator(path)
    assert isinstance(model, TextCondUNet)
    assert (model.learned_queries is not None) == (name == "mixit")
    encoder = tiny_encoder(QUERIES + ["rain falls"]).freeze()
    with torch.no_grad():
        est = separate_batch(model, encoder, expected["audio"], [QUERIES])
    torch.testing.assert_close(est, expected[f"{old}_batch"], atol=1e-6, rtol=1e-5)
    # and through the user path, with the encoder given
    sep = Separator.from_pretrained(path, encoder=encoder)
    out = sep.separate(expected["audio"], QUERIES, sample_rate=8000, precision="fp32")
    torch.testing.assert_close(out.estimates, expected[f"{old}_separate"], atol=1e-6, rtol=1e-5)


def test_an_upgraded_file_saves_in_the_new_format(tmp_path):
    sep = Separator.from_pretrained(os.path.join(LEGACY, "mixit_pkg"))
    package = torch.load(sep.save_pretrained(tmp_path / "new"), weights_only=True)
    assert "unconditioned_queries" not in package
    assert package["model"]["model_args"]["n_learned_queries"] == 3
    assert "learned_queries.tokens" in package["model"]["state_dict"]
