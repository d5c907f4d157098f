"""docs/extending.md: its dataset, model and objective, registered from here, train one step
through the ordinary config path and separate through the one query path."""

import re
from pathlib import Path

import pytest
import torch
import yaml

from asteroid_wsas import Separator
from asteroid_wsas.data import DATASETS
from asteroid_wsas.data.synthetic import write_music_layout
from asteroid_wsas.engine.config import load_conf
from asteroid_wsas.engine.evaluation import load_separator
from asteroid_wsas.engine.training import build_system, train, train_datasets
from asteroid_wsas.losses.objectives import OBJECTIVES
from tests.helpers import tiny_encoder

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def _blocks(language: str):
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.fixture(scope="module")
def registered():
    namespace = {"__name__": "extending_doc"}
    for code in _blocks("python"):
        exec(compile(code, str(DOC), "exec"), namespace)
    yield namespace
    DATASETS.pop("class_folders", None)
    OBJECTIVES.pop("weak_no_cnt", None)


@pytest.fixture()
def conf_path(tmp_path):
    root = tmp_path / "folders"
    write_music_layout(str(root), videos_per_class=5, seconds=1.0, sample_rate=8000)
    (conf_yaml,) = _blocks("yaml")
    conf = yaml.safe_load(conf_yaml)
    conf["data"].update(root=str(root), num_workers=0)
    encoder = tiny_encoder(["the sound mixture of", "a dog barks"]).freeze()
    torch.save(encoder.serialize(), tmp_path / "tiny.pth")
    conf["encoder"] = {"name": str(tmp_path / "tiny.pth")}
    conf["training"] = {
        "batch_size": 4,
        "max_steps": 2,
        "max_epochs": 1,
        "precision": "32-true",
        "accelerator": "cpu",
        "devices": 1,
        "log_every_n_steps": 1,
    }
    path = tmp_path / "conf.yml"
    path.write_text(yaml.safe_dump(conf))
    return path


def test_the_docs_dataset_model_and_objective_are_found_by_name(registered, conf_path):
    conf = load_conf(conf_path)
    dataset = DATASETS["class_folders"](conf["data"])
    train_solos = dataset.solos("train")
    test_solos = dataset.solos("test")
    assert train_solos and test_solos
    assert not {e.video_id for e in train_solos} & {e.video_id for e in test_solos}
    assert len(dataset.candidates("test")) == len(test_solos)
    (weak,) = train_datasets(conf).values()
    assert weak[0]["mixture"].shape == (8000,)
    system = build_system(conf, conf_path.parent, None)
    assert type(system.model).__name__ == "FiLMMasker"
    assert system.loss_func.name == "weak_no_cnt" and system.loss_func.cnt_weight == 0.0


def test_the_docs_example_trains_and_separates(registered, conf_path, tmp_path):
    conf = load_conf(conf_path)
    torch.manual_seed(0)
    before = build_system(conf, conf_path.parent, None).model.state_dict()
    best = train(conf, tmp_path / "exp", progress=False)
    model = load_separator(best)
    assert type(model).__name__ == "FiLMMasker"
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed  # the optimizer stepped the registered model's weights
    metrics = (tmp_path / "exp" / "logs" / "metrics.csv").read_text()
    assert "loss_url" in metrics.splitlines()[0]
    encoder = tiny_encoder(["the sound mixture of", "a dog barks"]).freeze()
    sep = Separator.from_pretrained(best, encoder=encoder)
    out = sep.separate(torch.randn(2, 12000), ["a dog barks", "a bell"], sample_rate=16000)
    assert out.estimates.shape == (2, 2, 12000)
    assert all(torch.isfinite(torch.as_tensor(out.estimates)).ravel())
