"""No mixture of mixtures asks the same phrase, or the same class, of two of its mixtures:
checked over many batches of the real training loaders of every dataset and the main job."""

from pathlib import Path

import pytest
import yaml

from asteroid_wsas.data import MixtureGroups, shared_sources
from asteroid_wsas.data.synthetic import (
    write_audiocaps_layout,
    write_music_layout,
    write_vggsound_layout,
)
from asteroid_wsas.engine import config as C
from asteroid_wsas.engine import training as T

MAIN_JOB = Path(__file__).resolve().parents[2] / "recipes" / "synthetic" / "local" / "conf.yml"


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("groups")
    roots = {
        "music": str(base / "music"),
        "vggsound": str(base / "vggsound"),
        "audiocaps": str(base / "audiocaps"),
        "main_job": str(base / "main"),
    }
    write_music_layout(roots["music"], 4, seconds=1.0, sample_rate=8000)
    write_vggsound_layout(roots["vggsound"], {"train": 4, "test": 2}, sample_rate=8000)
    write_audiocaps_layout(roots["audiocaps"], {"train": 24, "test": 4}, sample_rate=8000)
    # the main job's recipe reads MUSIC's layout (of rendered instruments: sounds differ,
    # the loader is the same)
    write_music_layout(roots["main_job"], 6, seconds=1.0, sample_rate=8000)
    return roots


def _conf(tmp_path, roots, name, objective):
    if name == "main_job":
        conf = yaml.safe_load(MAIN_JOB.read_text())
        conf["data"]["root"] = roots[name]
    else:
        conf = {
            "data": {"dataset": name, "root": roots[name], "sample_rate": 8000},
            "training": {"batch_size": 8, "seed": 0},
        }
    conf["data"].update(segment=0.25, num_workers=0, val_fraction=0.0, test_fraction=0.2)
    conf["objective"] = {"name": objective}
    conf["encoder"] = {"name": "tiny"}
    path = tmp_path / "conf.yml"
    path.write_text(yaml.safe_dump(conf))
    return C.load_conf(path)


def _groups_of(batch):
    """Each mixture of mixtures as N items with its phrases (and classes, via phrases)."""
    return [
        [{"phrases": phrases, "caption": caption} for phrases, caption in zip(item, captions)]
        for item, captions in zip(batch["phrases"], batch["captions"])
    ]


# semi: a clean batch and a weak one (AudioCaps has no clean sources of its own)
RUNS = [(name, "weak") for name in ("music", "vggsound", "audiocaps", "main_job")]
RUNS += [(name, "semi") for name in ("music", "vggsound", "main_job")]


@pytest.mark.parametrize("name, objective", RUNS)
def test_no_mixture_of_mixtures_shares_a_source(tmp_path, roots, name, objective):
    conf = _conf(tmp_path, roots, name, objective)
    loaders = T.train_loaders(conf, T.train_datasets(conf))
    assert isinstance(loaders["weak"].dataset, MixtureGroups)
    checked = 0
    for epoch in range(3):
        for loader in loaders.values():
            loader.sampler.set_epoch(epoch)
            for batch in loader:
                for group in _groups_of(batch):
                    assert not shared_sources(group), group
                    checked += 1
    assert checked >= 3 * len(loaders["weak"])


def test_consecutive_grouping_does_share_sources_and_says_so(tmp_path, roots):
    """The old grouping (kept only to measure the defect): the same data has repeats."""
    conf = _conf(tmp_path, roots, "main_job", "weak")
    conf["data"]["groups"] = "consecutive"
    with pytest.warns(UserWarning, match="the defect"):
        loader = T.train_loaders(conf, T.train_datasets(conf))["weak"]
    repeats = sum(bool(shared_sources(group)) for batch in loader for group in _groups_of(batch))
    assert repeats > 0
    conf["data"]["groups"] = "random"
    with pytest.raises(ValueError, match="data.groups must be"):
        T.train_loaders(conf, T.train_datasets(conf))
