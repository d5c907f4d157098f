"""The recipe driver: configs, datasets per objective, tables and curves, the Mixture row."""

import pytest
import torch
import yaml

from asteroid_wsas.cli import main
from asteroid_wsas.data.synthetic import write_audiocaps_layout, write_music_layout
from asteroid_wsas.data.registry import get_dataset
from asteroid_wsas.engine import config as C
from asteroid_wsas.engine import training as T
from asteroid_wsas.losses.objectives import make_objective
from tests.helpers import tiny_encoder
from tests.reliability.test_cli_errors import run_cli


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
    conf = C.load_conf(path, {"training": {"max_steps": 7}, "objective": {"name": "mixit"}})
    assert conf["training"] == {"batch_size": 4, "max_steps": 7}
    assert conf["objective"]["name"] == "mixit"
    with pytest.raises(ValueError, match="objective.name must be one of"):
        C.load_conf(path, {"objective": {"name": "no_such_objective"}})
    with pytest.raises(ValueError, match="data.dataset must be one of"):
        C.load_conf(path, {"data": {"dataset": "esc50"}})


def test_exponent_floats_are_numbers_in_configs_and_set(tmp_path):
    # PyYAML reads YAML 1.1, where 1e-4 is a string: the schema then refused `lr: 1e-4`
    path = _conf(tmp_path)
    path.write_text(path.read_text() + "optim:\n  lr: 1e-4\n  weight_decay: 5E-6\n")
    conf = C.load_conf(path, C.recipe_overrides(["training.gradient_clip_val=2e0"]))
    assert conf["optim"]["lr"] == 1e-4 and conf["optim"]["weight_decay"] == 5e-6
    assert conf["training"]["gradient_clip_val"] == 2.0
    assert C.recipe_overrides(["optim.lr=3e-3", "data.root=1e-3x"]) == {
        "data": {"root": "1e-3x"},  # not a number: a string, as before
        "training": {},
        "optim": {"lr": 0.003},
    }
    with pytest.raises(ValueError, match="optim.lr must be a positive number"):
        C.load_conf(path, C.recipe_overrides(["optim.lr=-1e-3"]))


def test_datasets_per_objective(tmp_path):
    write_music_layout(str(tmp_path / "m"), 5, ["beep", "hum", "bell"], 1.0, 8000)
    conf = C.load_conf(_conf(tmp_path))
    weak = T.train_datasets(conf)["weak"]
    item = weak[0]
    assert "sources" not in item and len(item["phrases"]) == 2  # weak never sees sources
    clean = T.train_datasets(C._merge(conf, {"objective": {"name": "supervised"}}))["clean"]
    assert clean[0]["sources"].shape[0] == 2  # split into single sources by clean_mixtures
    semi = T.train_datasets(C._merge(conf, {"objective": {"name": "semi"}}))
    assert set(semi) == {"clean", "weak"}
    clean_ids = {e.video_id for e in semi["clean"].entries}
    assert clean_ids.isdisjoint(e.video_id for e in semi["weak"].entries)
    assert len({e.label for e in semi["clean"].entries}) == 2  # enough for 2-source mixtures
    # supervised on semi's clean share: the same videos, nothing else
    few = C._merge(
        conf, {"objective": {"name": "supervised"}, "data": {"supervised_fraction": 0.05}}
    )
    assert {e.video_id for e in T.train_datasets(few)["clean"].entries} == clean_ids
    with pytest.raises(FileNotFoundError, match="not a folder"):
        get_dataset({"dataset": "music", "root": str(tmp_path / "nowhere")}).paths()


def test_clean_sources_from_a_second_dataset(tmp_path):
    """data.clean_data: semi's clean part from another dataset, every clip of data mixed."""
    from asteroid_wsas.data.synthetic import write_vggsound_layout

    write_music_layout(str(tmp_path / "m"), 5, ["beep", "hum", "bell"], 1.0, 8000)
    write_vggsound_layout(
        str(tmp_path / "v"), {"train": 4, "test": 1}, ["chirp", "siren"], 1.0, 8000
    )
    other = {"dataset": "vggsound", "root": str(tmp_path / "v")}
    conf = C.load_conf(_conf(tmp_path, clean_data=other), {"objective": {"name": "semi"}})
    sets = T.train_datasets(conf)
    assert {e.label for e in sets["clean"].entries} == {"chirp sound", "siren sound"}
    # all of its training split (fraction 1 by default; val_fraction 0.2 is shared: 3 of 4)
    assert len(sets["clean"]) == 6
    music = T.train_datasets(C._merge(conf, {"data": {"clean_data": None}}))
    assert len(sets["weak"]) == len(music["weak"]) + len(music["clean"])  # nothing held back
    assert sets["clean"][0]["sources"].shape == (2, 4000)  # data.segment 0.5 s at 8 kHz
    half = C._merge(conf, {"data": {"clean_data": {"fraction": 0.5}}})
    assert len(T.train_datasets(half)["clean"]) == 3
    supervised = T.train_datasets(C._merge(conf, {"objective": {"name": "supervised"}}))
    assert set(supervised) == {"clean"} and len(supervised["clean"]) == 6
    with pytest.raises(ValueError, match="trains on mixtures only"):
        T.train_datasets(C._merge(conf, {"objective": {"name": "weak"}}))
    with pytest.raises(ValueError, match="fraction must be in"):
        T.train_datasets(C._merge(conf, {"data": {"clean_data": {"fraction": 0}}}))
    with pytest.raises(ValueError, match="mapping with dataset and root"):
        T.train_datasets(C._merge(conf, {"data": {"clean_data": {"dataset": "music", "root": ""}}}))
    write_audiocaps_layout(
        str(tmp_path / "a"), {"train": 4, "val": 2, "test": 2}, seconds=1.0, sample_rate=8000
    )
    captions = {"clean_data": {"dataset": "audiocaps", "root": str(tmp_path / "a")}}
    with pytest.raises(ValueError, match="data.clean_data needs clean single sources"):
        T.train_datasets(C._merge(conf, {"data": captions}))


def test_small_encoder_learns_the_captions_of_both_datasets(tmp_path):
    from asteroid_wsas.data.synthetic import write_vggsound_layout
    from asteroid_wsas.encoders.loading import load_encoder

    write_music_layout(str(tmp_path / "m"), 5, ["beep", "hum", "bell"], 1.0, 8000)
    write_vggsound_layout(
        str(tmp_path / "v"), {"train": 4, "test": 1}, ["chirp", "siren"], 1.0, 8000
    )
    out = tmp_path / "enc.pth"
    args = ["train-encoder", "--conf", str(_conf(tmp_path)), "-o", str(out), "--steps", "2"]
    main(args + ["--set", f"data.clean_data={{dataset: vggsound, root: {tmp_path / 'v'}}}"])
    vocab = load_encoder(str(out)).vocab
    assert {"chirp", "siren", "beep", "hum"} <= set(vocab)


def test_audiocaps_refuses_clean_objectives(tmp_path):
    write_audiocaps_layout(
        str(tmp_path / "a"), {"train": 4, "val": 2, "test": 2}, seconds=1.0, sample_rate=8000
    )
    conf = C.load_conf(
        _conf(tmp_path), {"data": {"dataset": "audiocaps", "root": str(tmp_path / "a")}}
    )
    assert len(T.train_datasets(conf)["weak"]) == 4
    with pytest.raises(ValueError, match="needs clean single sources"):
        T.train_datasets(C._merge(conf, {"objective": {"name": "supervised"}}))


def test_set_overrides_and_their_errors(tmp_path):
    import argparse

    from asteroid_wsas.cli import recipe_conf as cli_conf

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


def test_objective_and_encoder_options_keep_their_set_keys(tmp_path):
    """--objective weak used to replace the objective block, dropping --set objective.*."""
    import argparse

    from asteroid_wsas.cli import recipe_conf as cli_conf

    args = argparse.Namespace(
        conf=str(_conf(tmp_path)),
        set=["objective.weak.cnt_weight=0.3", "objective.semi.lambda_s=0.5"],
        objective="semi",
        encoder="tiny",
    )
    conf = cli_conf(args)
    assert conf["objective"]["name"] == "semi" and conf["encoder"]["name"] == "tiny"
    assert C.objective_args(conf) == {"lambda_s": 0.5, "weak": {"cnt_weight": 0.3}}


def test_evaluate_needs_a_model_or_the_mixture(tmp_path):
    with pytest.raises(SystemExit, match="--model .* not found"):
        main(["evaluate", "m.json", "-o", str(tmp_path), "--model", str(tmp_path / "no.pth")])


def test_precision_choice():
    assert T._precision("32-true") == "32-true"
    assert T._precision("auto") in ("bf16-mixed", "16-mixed", "32-true")
    if not torch.cuda.is_available():
        bf16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()
        assert T._precision("auto") == ("bf16-mixed" if bf16 else "32-true")


def test_objective_args_per_objective():
    conf = {"objective": {"name": "weak", "args": {"a": 1}, "weak": {"cnt_weight": 0.1}}}
    assert C.objective_args(conf) == {"a": 1, "cnt_weight": 0.1}
    conf["objective"]["name"] = "mix_and_separate"
    assert C.objective_args(conf) == {"a": 1}


def test_semi_takes_the_weak_rows_settings():
    """semi's weak part used the default cnt_weight 0.5 while the weak row ran with 0.1."""
    conf = {"objective": {"name": "semi", "weak": {"cnt_weight": 0.1}}}
    assert C.objective_args(conf) == {"weak": {"cnt_weight": 0.1}}
    conf["objective"]["semi"] = {"lambda_s": 2.0, "weak": {"url_weight": 1.0}}
    args = C.objective_args(conf)
    assert args == {"lambda_s": 2.0, "weak": {"cnt_weight": 0.1, "url_weight": 1.0}}
    objective = make_objective("semi", **args)
    assert objective.weak.cnt_weight == 0.1 and objective.lambda_s == 2.0


def test_resume_refuses_another_model(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"x")
    conf = {"model": {"channels": [8, 16]}, "objective": {"name": "weak"}, "encoder": {}}
    C.save_conf(conf, tmp_path / "conf.yml")
    T._check_resumable(tmp_path / "conf.yml", conf)  # the same run: fine
    other = C._merge(conf, {"model": {"channels": [16, 32]}})
    with pytest.raises(ValueError, match=r"another config \(model.channels \[8, 16\] -> \[16"):
        T._check_resumable(tmp_path / "conf.yml", other)


def test_resume_refuses_another_batch_size_and_allows_a_longer_budget(tmp_path, capsys):
    conf = {
        "data": {"root": "/data/a", "sample_rate": 8000},
        "training": {"batch_size": 8, "max_steps": 10, "precision": "auto"},
        "optim": {"lr": 1e-3},
    }
    C.save_conf(conf, tmp_path / "conf.yml")
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    torch.save({"global_step": 4, "epoch": 0}, last)
    saved = (tmp_path / "conf.yml").read_bytes()
    assert T.resume_point(tmp_path, conf) == T.ResumePoint(last, 4)
    assert capsys.readouterr().out == ""  # the same config: nothing to say
    bigger = C._merge(conf, {"training": {"batch_size": 16}, "optim": {"lr": 2e-3}})
    with pytest.raises(ValueError) as err:
        T.resume_point(tmp_path, bigger)
    assert str(err.value) == (
        f"{tmp_path} holds a run of another config (optim.lr 0.001 -> 0.002; "
        "training.batch_size 8 -> 16); resume it with its own config, train into "
        "another folder, or start over (--restart)"
    )
    assert (tmp_path / "conf.yml").read_bytes() == saved
    longer = C._merge(conf, {"training": {"max_steps": 20}, "data": {"root": "/data/b"}})
    assert T.resume_point(tmp_path, longer) == T.ResumePoint(last, 4)
    assert capsys.readouterr().out == (
        f"{tmp_path}: resuming at step 4 with data.root '/data/a' -> '/data/b', "
        "training.max_steps 10 -> 20\n"
    )
    new_key = C._merge(conf, {"training": {"seed": 3}})  # a key the saved run did not have
    with pytest.raises(ValueError, match=r"training.seed None -> 3\)"):
        T.resume_point(tmp_path, new_key)


def test_pit_through_the_config_path_is_scored_by_assignment(tmp_path):
    write_music_layout(str(tmp_path / "m"), videos_per_class=5, seconds=0.5, sample_rate=8000)
    conf = C.load_conf(_conf(tmp_path), {"objective": {"name": "pit"}})
    (tmp_path / "encoder").mkdir()
    torch.save(tiny_encoder(["the sound of"]).serialize(), tmp_path / "encoder" / "tiny.pth")
    system = T.build_system(conf, tmp_path, None)
    assert system.loss_func.name == "pit" and system.config["selection"] == "assignment"
    assert set(T.train_datasets(conf)) == {"clean"}


def test_the_authors_protocol_reaches_the_model_and_the_objective(tmp_path):
    write_music_layout(str(tmp_path / "m"), videos_per_class=5, seconds=0.5, sample_rate=8000)
    (tmp_path / "encoder").mkdir()
    torch.save(tiny_encoder(["the sound of"]).serialize(), tmp_path / "encoder" / "tiny.pth")
    path = _conf(tmp_path)
    conf = C.load_conf(path, {"protocol": "authors", "training": {"batch_size": 8}})
    for name in ("weak", "semi"):
        conf["objective"]["name"] = name
        system = T.build_system(conf, tmp_path, None)
        model = system.model
        assert model.bn_stats == "per_query" and model.bn_replica_batch == 2
        weak = system.loss_func if name == "weak" else system.loss_func.weak
        assert weak.replica_batch == 2 and weak.cnt_negatives == "slot"
        assert not weak.cnt_text_mask and not weak.cnt_row_weights
        assert system.config["scheduler"]["name"] == "step"
    ours = T.build_system(C.load_conf(path), tmp_path, None)
    assert ours.model.bn_stats == "pooled" and ours.model.bn_replica_batch is None
    assert ours.loss_func.replica_batch is None and ours.loss_func.cnt_negatives == "batch"
    conf["training"]["replica_batch"] = 3  # 4 mixtures of mixtures per step
    with pytest.raises(ValueError, match="training.replica_batch must be a positive integer"):
        T.build_system(conf, tmp_path, None)


# ------------------------------------------------------------ the steps of a recipe's train.py
def test_recipe_overrides_are_the_command_line_of_train_py(tmp_path):
    over = C.recipe_overrides(
        ["training.batch_size=16", "model.channels=[8, 16]", "objective.weak.cnt_weight=0.3"],
        root="data/x",
        protocol="authors",
        objective="semi",
        max_steps=3,
        gpus="0",
        num_nodes=2,
    )
    assert over["training"] == {
        "batch_size": 16,
        "max_steps": 3,
        "accelerator": "cpu",
        "devices": 1,
        "num_nodes": 2,
    }
    assert over["model"] == {"channels": [8, 16]} and over["protocol"] == "authors"
    # --objective sets the name only: the --set objective.* keys stay
    assert over["objective"] == {"name": "semi", "weak": {"cnt_weight": 0.3}}
    assert over["data"]["root"] == str(tmp_path.cwd() / "data" / "x")
    assert C.recipe_overrides(gpus="2")["training"] == {"accelerator": "gpu", "devices": 2}
    assert C.recipe_overrides(gpus="auto", encoder="tiny") == {
        "data": {},
        "training": {},
        "encoder": {"name": "tiny"},
    }
    encoder = tmp_path / "tiny.pth"
    encoder.write_bytes(b"")
    assert C.recipe_overrides(encoder=str(encoder))["encoder"]["name"] == str(encoder)
    with pytest.raises(ValueError, match="--set expects key.sub=value"):
        C.recipe_overrides(["training.batch_size"])
    with pytest.raises(ValueError, match="--gpus must be auto, 0"):
        C.recipe_overrides(gpus="all")
    with pytest.raises(ValueError, match="give --method or --objective, not both"):
        C.recipe_overrides(objective="weak", method="lassnet")
    conf = C.load_conf(_conf(tmp_path), C.recipe_overrides(["training.seed=3"], max_steps=5))
    assert conf["training"] == {"batch_size": 4, "seed": 3, "max_steps": 5}


def test_trainer_args_of_the_training_block():
    conf = {"training": {"max_steps": 600, "precision": "32-true", "gradient_clip_val": 5.0}}
    args = T.trainer_args(conf)
    assert (args["max_steps"], args["max_epochs"], args["precision"]) == (600, 200, "32-true")
    assert args["gradient_clip_val"] == 5.0 and args["limit_val_batches"] == 1.0
    assert args["strategy"] == "auto" and args["devices"] == "auto"
    off = T.trainer_args(conf, validate=False, progress=False)
    assert off["limit_val_batches"] == 0 and off["enable_progress_bar"] is False
    assert T.trainer_args({"training": {"num_nodes": 2}})["strategy"] == "ddp"
    assert T.trainer_args({"training": {}})["precision"] == T._precision("auto")


@pytest.mark.parametrize(
    "devices, gpus_here, ok",
    [
        (1, 0, False),
        ("auto", 0, False),
        (-1, 0, False),
        (2, 1, False),
        ([1], 1, False),
        ("0,1", 1, False),
        (1, 1, True),
        ([0], 1, True),
        ("auto", 2, True),
    ],
)
def test_gpus_a_config_asks_for_are_checked_first(monkeypatch, devices, gpus_here, ok):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus_here)
    conf = {"training": {"accelerator": "gpu", "devices": devices, "precision": "32-true"}}
    if ok:
        assert T.trainer_args(conf)["devices"] == devices
        return
    with pytest.raises(ValueError) as err:
        T.trainer_args(conf)
    assert str(err.value).startswith(
        f"training.accelerator gpu with training.devices {devices}: not available here"
    )
    assert str(err.value).endswith("training.accelerator: cpu (or --gpus 0) trains on the CPU")


def test_a_config_asking_for_a_missing_gpu_fails_in_one_line(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    conf = _conf(tmp_path)  # no data or encoder needed: refused before them
    exp = tmp_path / "exp"
    for accelerator, devices in [("cuda", 1), ("gpu", "auto")]:
        argv = ["train", conf, "--exp-dir", exp, "--set", f"training.accelerator={accelerator}"]
        status, line, err = run_cli(argv + ["--set", f"training.devices={devices}"], capsys)
        assert status == 1 and "Traceback" not in err
        assert line == (
            f"error: training.accelerator {accelerator} with training.devices {devices}: not "
            "available here (this machine has: cpu); training.accelerator: cpu (or --gpus 0) "
            "trains on the CPU"
        )
        assert not exp.exists()


def test_resume_point_and_a_finished_run(tmp_path, capsys):
    conf = {"model": {}, "objective": {"name": "weak"}, "encoder": {}, "training": {}}
    conf["training"]["max_steps"] = 4
    assert T.resume_point(tmp_path, conf) == T.ResumePoint()  # nothing there: from scratch
    (tmp_path / "best_model.pth").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="best_model.pth exists; pass --force"):
        T.refuse_finished_run(tmp_path)  # a separator and no last.ckpt to resume
    T.refuse_finished_run(tmp_path, force=True)
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    torch.save({"global_step": 2, "epoch": 0}, last)
    T.refuse_finished_run(tmp_path)  # something to resume: not refused
    assert T.resume_point(tmp_path, conf) == T.ResumePoint(last, 2)
    assert T.resume_point(tmp_path, conf, resume=False) == T.ResumePoint()  # --restart
    torch.save({"global_step": 4, "epoch": 0}, last)
    assert T.resume_point(tmp_path, conf) == T.ResumePoint(last, 4, finished=True)
    assert "finished (step 4, training.max_steps 4); nothing to train" in capsys.readouterr().out
    (tmp_path / "best_model.pth").unlink()  # killed before it was written: write it
    assert T.resume_point(tmp_path, conf) == T.ResumePoint(last, 4)
    C.save_conf(C._merge(conf, {"model": {"channels": [8]}}), tmp_path / "conf.yml")
    with pytest.raises(ValueError, match="another config"):
        T.resume_point(tmp_path, conf)


def test_the_steps_of_build_system(tmp_path):
    write_music_layout(str(tmp_path / "m"), videos_per_class=5, seconds=0.5, sample_rate=8000)
    conf = C.load_conf(_conf(tmp_path), {"objective": {"name": "semi"}})
    sets = T.train_datasets(conf)
    loaders = T.train_loaders(conf, sets)
    combined = T.combine_loaders(loaders)
    assert type(combined).__name__ == "CombinedLoader" and set(combined.flattened) <= {
        *loaders.values()
    }
    assert T.combine_loaders({"weak": loaders["weak"]}) is loaders["weak"]
    assert T.val_loader(conf, None) is None
    encoder = tiny_encoder(["the sound of"])
    model = T.build_model(conf, encoder)
    objective = T.build_objective(conf, model, sets)
    assert objective.name == "semi" and model.bn_stats == "pooled"
    assert T.system_config(conf) == {"selection": "text"}
    pit = C._merge(conf, {"objective": {"name": "pit"}, "optim": {"lr": 1e-3}})
    assert T.system_config(pit) == {"optim": {"lr": 1e-3}, "selection": "assignment"}
    # a MixIT model's outputs answer queries as the config says (a separation setting,
    # not an argument of the objective)
    mixit = C._merge(conf, {"objective": {"name": "mixit", "mixit": {"selection": "assignment"}}})
    assert T.system_config(mixit)["selection"] == "assignment"
    assert T.build_objective(mixit, model, sets).name == "mixit"


def test_fit_raises_what_stopped_lightning_not_its_exit_1():
    import signal as signals

    from asteroid_wsas.signals import Terminated

    class StoppedTrainer:  # what Lightning's fit does on Ctrl+C: tear down, then sys.exit(1)
        def __init__(self, stop):
            self.stop = stop

        def fit(self, *args, **kwargs):
            try:
                raise self.stop
            except KeyboardInterrupt:
                raise SystemExit(1)

    with pytest.raises(Terminated) as stop:
        T.fit(StoppedTrainer(Terminated(signals.SIGTERM)), None)
    assert stop.value.status == 143
    with pytest.raises(KeyboardInterrupt):
        T.fit(StoppedTrainer(KeyboardInterrupt()), None)
    with pytest.raises(SystemExit):  # any other exit stays one

        class Exiting:
            def fit(self, *args, **kwargs):
                raise SystemExit(3)

        T.fit(Exiting(), None)


@pytest.mark.parametrize("objective", ["weak", "supervised"])
def test_training_clips_longer_than_the_validation_mixtures(tmp_path, objective):
    """data.train_segment: 1 s training clips (and longer spectrograms through the U-Net's
    attention and the objective), 0.5 s validation and test mixtures (data.segment)."""
    from asteroid_wsas.data import TestSetDataset, collate_test_items
    from asteroid_wsas.engine.evaluation import build_manifest
    from asteroid_wsas.separation.core import separate_batch

    write_music_layout(str(tmp_path / "m"), 5, ["beep", "hum", "bell", "siren"], 2.0, 8000)
    conf = C.load_conf(_conf(tmp_path, train_segment=1.0), {"objective": {"name": objective}})
    conf["model"] = {"n_fft": 126, "hop_length": 32, "channels": [8, 16], "n_heads": 2}
    conf["model"].update(attention_levels=[1], out_channels=4)
    sets = T.train_datasets(conf)
    batch = next(iter(T.combine_loaders(T.train_loaders(conf, sets))))
    assert batch["mix"].shape == (2, 8000)  # 2 mixtures of mixtures of 1 s
    encoder = tiny_encoder(["the sound of beep hum bell siren mixture and"])
    model = T.build_model(conf, encoder)
    loss = T.build_objective(conf, model, sets)(model, encoder, batch)["loss"]
    loss.backward()
    assert torch.isfinite(loss) and all(
        torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None
    )
    val = TestSetDataset(build_manifest(conf["data"], tmp_path / "val.json", split="val"))
    item = collate_test_items([val[0]])
    assert item["mixture"].shape == (1, 4000)  # data.segment, whatever the training clips
    with torch.no_grad():
        est = separate_batch(model.eval(), encoder, item["mixture"], item["queries"])
    assert est.shape == item["references"].shape
