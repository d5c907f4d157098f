"""The protocol switch: the authors' choices or ours, every departure its own config key."""

import pytest
import yaml

from asteroid_wsas.engine.config import load_conf, objective_args
from asteroid_wsas.protocol import (
    DEPARTURES,
    apply_protocol,
    departure,
    departures_table,
    get_path,
    set_path,
)


def test_authors_sets_every_departure_and_ours_leaves_the_file_as_it_is():
    file = {"training": {"precision": "auto", "batch_size": 8}, "optim": {"lr": 1e-3}}
    authors = apply_protocol(file, "authors")
    for dep in DEPARTURES:
        assert get_path(authors, dep.key) == dep.authors, dep.name
    assert authors["protocol"] == "authors"
    ours = apply_protocol(file)
    assert ours == {**file, "protocol": "ours"}  # nothing added, nothing changed
    assert file == {"training": {"precision": "auto", "batch_size": 8}, "optim": {"lr": 1e-3}}


def test_the_authors_values_are_their_codes():
    # arguments.py / scripts/train_music.sh of the authors' code, as read for this project
    assert departure("optimiser").authors == {
        "optimizer": "adam",
        "lr": 1e-4,
        "weight_decay": 1e-4,
    }
    assert departure("schedule").authors == {
        "name": "step",
        "step_size": 15,
        "gamma": 0.1,
        "interval": "epoch",
    }
    assert departure("batch").authors == 32  # 16 mixtures of mixtures of 2 items
    assert departure("epoch").authors == 50
    assert departure("clipping").authors is None
    assert departure("pooled BN").authors == "per_query"
    assert departure("pooled negatives").authors == "slot"
    assert departure("per-device batch").authors == 2  # 16 mixtures of mixtures on 8 GPUs
    with pytest.raises(ValueError, match="no departure 'nope'"):
        departure("nope")


def test_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match="protocol must be one of"):
        apply_protocol({"protocol": "theirs"})


def test_paths():
    conf = {"a": None}
    set_path(conf, "a.b.c", 1)
    assert conf == {"a": {"b": {"c": 1}}} and get_path(conf, "a.b.c") == 1
    assert get_path(conf, "a.x.y", "none") == "none"
    with pytest.raises(ValueError, match="not a mapping"):
        set_path(conf, "a.b.c.d", 2)


def test_table_lists_every_departure():
    table = departures_table()
    for dep in DEPARTURES:
        assert f"`{dep.key}`" in table


@pytest.fixture
def recipe_file(tmp_path):
    conf = {
        "data": {"dataset": "music", "root": str(tmp_path), "sample_rate": 8000},
        "objective": {"name": "weak", "weak": {"cnt_weight": 0.1}},
        "training": {"batch_size": 8, "precision": "auto", "gradient_clip_val": 5.0},
        "optim": {"optimizer": "adam", "lr": 1e-3},
        "scheduler": {"name": "cosine"},
    }
    path = tmp_path / "conf.yml"
    path.write_text(yaml.safe_dump(conf))
    return path


def test_load_conf_protocol_then_command_line(recipe_file):
    conf = load_conf(recipe_file, {"protocol": "authors", "training": {"precision": "bf16-mixed"}})
    assert conf["training"]["precision"] == "bf16-mixed"  # the command line wins
    assert conf["training"]["gradient_clip_val"] is None  # the authors' over the file's 5
    assert conf["scheduler"]["name"] == "step" and conf["optim"]["lr"] == 1e-4
    args = objective_args(conf)
    assert args["cnt_negatives"] == "slot" and args["cnt_weight"] == 0.5  # over the file's 0.1
    assert not args["cnt_text_mask"] and not args["cnt_row_weights"]
    # a protocol named in the file
    data = yaml.safe_load(recipe_file.read_text())
    recipe_file.write_text(yaml.safe_dump({**data, "protocol": "authors"}))
    assert load_conf(recipe_file)["data"]["crop"] == "authors"
    # ours with one of the authors' choices
    ours = load_conf(recipe_file, {"protocol": "ours", "training": {"bn_stats": "per_query"}})
    assert ours["training"]["bn_stats"] == "per_query" and ours["training"]["precision"] == "auto"
    assert "cnt_negatives" not in objective_args(ours)  # the code's default: ours
    assert objective_args(ours)["cnt_weight"] == 0.1  # the file's


def test_cli_protocol_option_reaches_the_config(recipe_file):
    from asteroid_wsas.cli import build_parser, recipe_conf

    args = build_parser().parse_args(
        ["train", str(recipe_file), "--exp-dir", "x", "--protocol", "authors"]
    )
    conf = recipe_conf(args)
    assert conf["protocol"] == "authors" and conf["training"]["bn_stats"] == "per_query"
    args = build_parser().parse_args(
        [
            "train",
            str(recipe_file),
            "--exp-dir",
            "x",
            "--protocol",
            "authors",
            "--set",
            "objective.weak.cnt_negatives=batch",
        ]
    )
    assert objective_args(recipe_conf(args))["cnt_negatives"] == "batch"
