"""The config schema (issue 33): unknown keys and wrong types are errors naming the file
and the dotted key; the keyword blocks follow their classes' constructors."""

import glob
import os

import pytest
import yaml

from asteroid_wsas.engine.config import load_conf, recipe_overrides
from asteroid_wsas.engine.schema import ConfigError, check_conf
from asteroid_wsas.models import TextCondUNet

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPE_CONFS = sorted(glob.glob(os.path.join(REPO, "recipes", "*", "local", "*.yml")))
SYNTHETIC = os.path.join(REPO, "recipes", "synthetic", "local", "conf.yml")


def _synthetic():
    with open(SYNTHETIC, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _error(conf, source="conf.yml"):
    with pytest.raises(ConfigError) as err:
        check_conf(conf, source)
    return str(err.value)


@pytest.mark.parametrize("path", RECIPE_CONFS, ids=lambda p: os.path.relpath(p, REPO))
def test_every_recipe_config_validates(path):
    assert RECIPE_CONFS
    load_conf(path)


@pytest.mark.parametrize(
    "conf, message",
    [
        ({"trainig": {}}, "unknown key 'trainig' in conf.yml; did you mean 'training'?"),
        (
            {"training": {"bach_size": 4}},
            "unknown key 'training.bach_size' in conf.yml; did you mean 'training.batch_size'?",
        ),
        (
            {"data": {"dataset": "music", "sample_rte": 8000}},
            "unknown key 'data.sample_rte' in conf.yml; did you mean 'data.sample_rate'?",
        ),
        ({"optim": {"lr": "abc"}}, "conf.yml: optim.lr must be a positive number, got 'abc'"),
        (
            {"training": {"batch_size": 2.5}},
            "conf.yml: training.batch_size must be a positive integer, got 2.5",
        ),
        ({"training": [1, 2]}, "conf.yml: training must be a mapping, got [1, 2]"),
        ({"optim": {"lr": -1}}, "conf.yml: optim.lr must be a positive number, got -1"),
        (
            {"training": {"batch_size": 0}},
            "conf.yml: training.batch_size must be a positive integer, got 0",
        ),
        (
            {"training": {"max_steps": 0}},
            "conf.yml: training.max_steps must be a positive integer or -1 (no limit), got 0",
        ),
        (
            {"data": {"dataset": "music", "val_fraction": 1.5}},
            "conf.yml: data.val_fraction must be a number from 0 to 1, got 1.5",
        ),
        (
            {"data": {"dataset": "music", "sample_rate": 44.1}},
            "conf.yml: data.sample_rate must be a positive integer, got 44.1",
        ),
    ],
    ids=[
        "top-level",
        "training",
        "data",
        "lr",
        "batch_size",
        "section",
        "lr<0",
        "batch 0",
        "steps 0",
        "fraction",
        "rate",
    ],
)
def test_unknown_keys_and_wrong_types_name_the_file_and_key(conf, message):
    assert _error(conf) == message


def test_null_means_the_default_and_passes():
    check_conf({"training": {"max_steps": None, "batch_size": None}}, "conf.yml")


def test_the_model_block_follows_the_model_signature():
    conf = _synthetic()
    conf["model"]["conditioning"] = "late"  # a TextCondUNet argument the recipe leaves out
    check_conf(conf, "conf.yml")
    conf["model"]["chanels"] = [8]
    assert _error(conf) == (
        "unknown key 'model.chanels' in conf.yml; did you mean 'model.channels'?"
    )
    assert "channels" in TextCondUNet.__init__.__code__.co_varnames  # the source of truth


def test_objective_blocks_follow_the_objectives_signatures():
    conf = _synthetic()
    conf["objective"]["weak"]["cnt_wieght"] = 0.5
    assert _error(conf) == (
        "unknown key 'objective.weak.cnt_wieght' in conf.yml; "
        "did you mean 'objective.weak.cnt_weight'?"
    )
    conf = _synthetic()
    conf["objective"]["semi"] = {"weak": {"cnt_weight": "high"}}
    assert _error(conf) == "conf.yml: objective.semi.weak.cnt_weight must be a number, got 'high'"


def test_optim_and_scheduler_follow_torch():
    conf = _synthetic()
    conf["optim"]["betas"] = [0.9, 0.99]  # Adam's own argument
    conf["scheduler"] = {"name": "step", "step_size": 3, "gamma": 0.5}
    check_conf(conf, "conf.yml")
    conf["scheduler"]["gama"] = 0.5
    assert _error(conf) == (
        "unknown key 'scheduler.gama' in conf.yml; did you mean 'scheduler.gamma'?"
    )


def test_load_conf_names_the_file_and_the_command_line(tmp_path):
    path = tmp_path / "conf.yml"
    conf = _synthetic()
    conf["trainig"] = {"batch_size": 4}
    path.write_text(yaml.safe_dump(conf))
    with pytest.raises(ConfigError, match=f"unknown key 'trainig' in {path}; did you mean"):
        load_conf(path)
    with pytest.raises(ConfigError) as err:
        load_conf(SYNTHETIC, recipe_overrides(["training.batch_size=2.5"]))
    assert str(err.value) == (
        "the command line's overrides: training.batch_size must be a positive integer, got 2.5"
    )


def test_a_config_that_is_not_a_mapping_is_refused(tmp_path):
    path = tmp_path / "conf.yml"
    path.write_text("- data\n- training\n")
    with pytest.raises(ConfigError, match="a recipe config is a mapping"):
        load_conf(path)


@pytest.mark.parametrize(
    "option, kwargs",
    [("--max-steps", {"max_steps": 0}), ("--num-nodes", {"num_nodes": 0})],
)
def test_zero_overrides_are_refused_not_ignored(option, kwargs):
    with pytest.raises(ValueError, match=f"{option} must be a positive number"):
        recipe_overrides(**kwargs)


@pytest.mark.parametrize("option, key", [("--root", "root"), ("--encoder", "encoder")])
def test_empty_overrides_are_refused_not_ignored(option, key):
    with pytest.raises(ValueError, match=f"{option} is empty"):
        recipe_overrides(**{key: ""})


def test_train_segment_and_augment_are_checked_by_name():
    conf = _synthetic()
    conf["data"]["train_segment"] = 2.0
    conf["data"]["augment"] = {"pitch_prob": 0.5, "stretch_rate": [0.8, 1.25], "room_prob": 0}
    check_conf(conf, "conf.yml")
    conf["data"]["train_segment"] = 0
    assert _error(conf) == "conf.yml: data.train_segment must be a positive number, got 0"
    conf["data"]["train_segment"] = None
    conf["data"]["augment"]["room_prob"] = 2
    assert _error(conf) == ("conf.yml: data.augment.room_prob must be a number from 0 to 1, got 2")
    conf["data"]["augment"] = {"room_rt6": [0.1, 0.2]}
    assert _error(conf) == (
        "conf.yml: unknown key 'data.augment.room_rt6'; did you mean 'data.augment.room_rt60'?"
    )
    conf["data"]["augment"] = "pitch"
    assert _error(conf) == "conf.yml: data.augment must be a mapping, got 'pitch'"
    with pytest.raises(ConfigError) as err:  # one key of the block, on the command line
        load_conf(SYNTHETIC, recipe_overrides(["data.augment.stretch_rate=[0.1, 1]"]))
    assert str(err.value).startswith(
        "the command line's overrides: data.augment.stretch_rate must be [low, high] with 0.5"
    )
