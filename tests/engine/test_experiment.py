"""The recipe driver: configs, datasets per objective, tables and curves, the Mixture row."""

import csv
import json

import pytest
import torch
import yaml

from asteroid_wsas.cli import main
from asteroid_wsas.data.synthetic import write_audiocaps_layout, write_music_layout
from asteroid_wsas.engine import experiment as E


def _conf(tmp_path, **data):
    conf = {
        "data": {
            "dataset": "music",
            "root": str(tmp_path / "m"),
            "sample_rate": 8000,
            "segment": 0.5,
            "test_fraction": 0.2,
            "val_fraction": 0.2,
            **data,
        },
        "encoder": {"name": "tiny"},
        "objective": {"name": "weak"},
        "training": {"batch_size": 4},
    }
    path = tmp_path / "conf.yml"
    path.write_text(yaml.safe_dump(conf))
    return path


def test_load_conf_merges_and_checks(tmp_path):
    path = _conf(tmp_path)
    conf = E.load_conf(path, {"training": {"max_steps": 7}, "objective": {"name": "mixit"}})
    assert conf["training"] == {"batch_size": 4, "max_steps": 7}
    assert conf["objective"]["name"] == "mixit"
    with pytest.raises(ValueError, match="objective.name must be one of"):
        E.load_conf(path, {"objective": {"name": "pit"}})
    with pytest.raises(ValueError, match="data.dataset must be one of"):
        E.load_conf(path, {"data": {"dataset": "esc50"}})


def test_datasets_per_objective(tmp_path):
    write_music_layout(str(tmp_path / "m"), 5, ["beep", "hum", "bell"], 1.0, 8000)
    conf = E.load_conf(_conf(tmp_path))
    weak = E.train_datasets(conf)["weak"]
    item = weak[0]
    assert "sources" not in item and len(item["phrases"]) == 2  # weak never sees sources
    clean = E.train_datasets(E._merge(conf, {"objective": {"name": "supervised"}}))["clean"]
    assert clean[0]["sources"].shape[0] == 2  # split into single sources by clean_mixtures
    semi = E.train_datasets(E._merge(conf, {"objective": {"name": "semi"}}))
    assert set(semi) == {"clean", "weak"}
    clean_ids = {e.video_id for e in semi["clean"].entries}
    assert clean_ids.isdisjoint(e.video_id for e in semi["weak"].entries)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        E.dataset_paths({"dataset": "music", "root": str(tmp_path / "nowhere")})


def test_audiocaps_refuses_clean_objectives(tmp_path):
    write_audiocaps_layout(
        str(tmp_path / "a"), {"train": 4, "val": 2, "test": 2}, seconds=1.0, sample_rate=8000
    )
    conf = E.load_conf(
        _conf(tmp_path), {"data": {"dataset": "audiocaps", "root": str(tmp_path / "a")}}
    )
    assert len(E.train_datasets(conf)["weak"]) == 4
    with pytest.raises(ValueError, match="needs clean single sources"):
        E.train_datasets(E._merge(conf, {"objective": {"name": "supervised"}}))


def _summary(sdr):
    metrics = {m: {"mean": sdr, "std": 1.0, "median": sdr} for m in ("sdr", "sir", "sar")}
    metrics["sdri"] = {"mean": sdr - 1, "std": 1.0, "median": sdr - 1}
    return {"metrics": metrics, "counts": {"mixtures": 2, "sources_scored": 4}}


def test_format_table_rows_in_order():
    table = E.format_table({"Mixture": _summary(0.0), "weak": _summary(7.91)}, "T")
    lines = table.splitlines()
    assert lines[0] == "**T**"
    assert lines[-2].startswith("| Mixture | 0.00 ± 1.00")
    assert lines[-1] == "| weak | 7.91 ± 1.00 | 7.91 ± 1.00 | 7.91 ± 1.00 | 6.91 |"
    empty = {"metrics": {m: {"mean": None, "std": None} for m in ("sdr", "sir", "sar", "sdri")}}
    assert E.format_table({"silent": empty}).splitlines()[-1] == "| silent | - | - | - | - |"


def test_compare_writes_table_and_curves(tmp_path, capsys):
    runs = []
    for name, values in (("a", [1.0, 2.0]), ("b", [0.5, 3.5])):
        folder = tmp_path / name
        (folder / "logs").mkdir(parents=True)
        (folder / "final_metrics.json").write_text(json.dumps(_summary(values[-1])))
        with open(folder / "logs" / "metrics.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["step", "loss", "val_sdr"])
            writer.writerow([9, 0.5, ""])  # a training row: no val_sdr
            for step, value in zip((49, 99), values):
                writer.writerow([step, "", value])
        runs.append(f"{name.upper()}={folder}")
    assert E.read_curve(tmp_path / "b") == ([49, 99], [0.5, 3.5])
    out, png = tmp_path / "t.md", tmp_path / "c.png"
    main(["compare", *runs, "-o", str(out), "--curves", str(png)])
    assert "| B | 3.50 ± 1.00" in out.read_text() and "| B | 3.50" in capsys.readouterr().out
    assert png.stat().st_size > 1000
    with pytest.raises(SystemExit, match="exists"):
        main(["compare", *runs, "-o", str(out)])
    with pytest.raises(SystemExit, match="evaluate .* first"):
        main(["compare", str(tmp_path / "missing")])


def test_set_overrides_and_their_errors(tmp_path):
    import argparse

    from asteroid_wsas.cli import _conf as cli_conf

    args = argparse.Namespace(
        conf=str(_conf(tmp_path)),
        root=None,
        gpus="0",
        max_steps=3,
        set=["training.batch_size=16", "model.channels=[8, 16]"],
    )
    conf = cli_conf(args)
    assert conf["training"]["batch_size"] == 16 and conf["model"]["channels"] == [8, 16]
    assert conf["training"]["accelerator"] == "cpu" and conf["training"]["max_steps"] == 3
    args.set = ["training.batch_size"]
    with pytest.raises(ValueError, match="--set expects key.sub=value"):
        cli_conf(args)


def test_evaluate_needs_a_model_or_the_mixture(tmp_path):
    with pytest.raises(SystemExit, match="--model .* not found"):
        main(["evaluate", "m.json", "-o", str(tmp_path), "--model", str(tmp_path / "no.pth")])


def test_precision_choice():
    assert E._precision("32-true") == "32-true"
    assert E._precision("auto") in ("bf16-mixed", "16-mixed", "32-true")
    if not torch.cuda.is_available():
        bf16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()
        assert E._precision("auto") == ("bf16-mixed" if bf16 else "32-true")


def test_objective_args_per_objective():
    conf = {"objective": {"name": "weak", "args": {"a": 1}, "weak": {"cnt_weight": 0.1}}}
    assert E.objective_args(conf) == {"a": 1, "cnt_weight": 0.1}
    conf["objective"]["name"] = "mix_and_separate"
    assert E.objective_args(conf) == {"a": 1}


def test_resume_refuses_another_model(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"x")
    conf = {"model": {"channels": [8, 16]}, "objective": {"name": "weak"}, "encoder": {}}
    E.save_conf(conf, tmp_path / "conf.yml")
    E._check_resumable(tmp_path / "conf.yml", conf)  # the same run: fine
    other = E._merge(conf, {"model": {"channels": [16, 32]}})
    with pytest.raises(ValueError, match="another model config"):
        E._check_resumable(tmp_path / "conf.yml", other)
