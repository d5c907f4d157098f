"""asteroid-wsas command line."""

import json
import os
import subprocess
import sys

import pytest

from asteroid_wsas.cli import main


def test_help_lists_every_subcommand():
    out = subprocess.run(
        [sys.executable, "-m", "asteroid_wsas.cli", "--help"], capture_output=True, text=True
    ).stdout
    commands = ["prompts", "train-encoder", "train-clip", "testset", "download", "generate"]
    commands.append("prepare")
    for command in commands + ["train", "evaluate", "examples", "compare", "serve"]:
        assert f"    {command} " in out or f"    {command}\n" in out, command


def test_console_script_is_installed():
    import shutil

    script = shutil.which("asteroid-wsas")
    if script is None:  # venv not activated: look beside the interpreter
        from pathlib import Path

        script = str(Path(sys.executable).with_name("asteroid-wsas"))
    out = subprocess.run([script, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "prompts" in out.stdout


def test_prompts_writes_phrases_and_refuses_to_overwrite(tmp_path, capsys):
    csv = tmp_path / "captions.csv"
    csv.write_text(
        "audiocap_id,youtube_id,start_time,caption\n"
        '1,a,0,"A man talks while wood clanks on a metal pan, followed by gravel crunching"\n'
        "2,b,0,A dog barks and a woman speaks\n"
    )
    out = tmp_path / "phrases.json"
    main(["prompts", str(csv), "-o", str(out)])
    assert json.loads(out.read_text()) == {
        "1": ["A man talks", "Wood clanks on a metal pan", "Gravel crunching"],
        "2": ["A dog barks", "A woman speaks"],
    }
    assert "2 captions -> 5 phrases" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--force"):
        main(["prompts", str(csv), "-o", str(out)])
    overrides = tmp_path / "llm.json"
    overrides.write_text(json.dumps({"2": ["Barking", "Speech"]}))
    main(["prompts", str(csv), "-o", str(out), "--overrides", str(overrides), "--force"])
    assert json.loads(out.read_text())["2"] == ["Barking", "Speech"]


def test_prompts_errors_are_one_line(tmp_path):
    with pytest.raises(SystemExit, match="not found"):
        main(["prompts", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "x.json")])
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\n1,hello\n")
    with pytest.raises(SystemExit, match="audiocap_id"):
        main(["prompts", str(bad), "-o", str(tmp_path / "x.json")])


def test_train_encoder_on_generated_data(tmp_path, capsys):
    out = tmp_path / "enc.pth"
    main(
        [
            "train-encoder",
            "--synthetic",
            "64",
            "--val-items",
            "16",
            "--steps",
            "4",
            "--batch-size",
            "16",
            "--seconds",
            "0.5",
            "--log-every",
            "2",
            "-o",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert "held-out caption retrieval: R@1" in text and "chance 0.062" in text
    from asteroid_wsas.encoders.tiny import TinyBimodalEncoder

    assert TinyBimodalEncoder.from_pretrained(out).sample_rate == 16000
    with pytest.raises(SystemExit, match="--force"):
        main(["train-encoder", "--steps", "1", "-o", str(out)])


@pytest.mark.parametrize("dataset", ["music", "vggsound", "audiocaps"])
def test_testset_builds_each_dataset(dataset, tmp_path, capsys):
    from asteroid_wsas.data import TestSetDataset
    from asteroid_wsas.data.synthetic import (
        write_audiocaps_layout,
        write_music_layout,
        write_vggsound_layout,
    )

    root = tmp_path / dataset
    {
        "music": lambda: write_music_layout(str(root), videos_per_class=10, seconds=1.5),
        "vggsound": lambda: write_vggsound_layout(str(root), {"test": 1}, seconds=1.5),
        "audiocaps": lambda: write_audiocaps_layout(str(root), {"test": 6}, seconds=1.5),
    }[dataset]()
    out = tmp_path / "m.json"
    main(["testset", dataset, str(root), "-o", str(out), "--seconds", "1", "--passes", "1"])
    assert "mixtures of 2 sources" in capsys.readouterr().out
    item = TestSetDataset(out)[0]
    assert item["references"].shape == (2, 16000)
    with pytest.raises(SystemExit, match="--force"):
        main(["testset", dataset, str(root), "-o", str(out)])


def test_testset_missing_list(tmp_path):
    with pytest.raises(SystemExit, match="not found"):
        main(["testset", "music", str(tmp_path), "-o", str(tmp_path / "m.json")])


@pytest.mark.parametrize("dataset", ["music", "vggsound", "audiocaps"])
def test_generate_writes_a_readable_layout(dataset, tmp_path):
    from asteroid_wsas.data import get_dataset

    root = tmp_path / dataset
    args = ["--per-class", "10", "--seconds", "0.5", "--sample-rate", "8000"]
    main(["generate", dataset, str(root), *args])
    data = {"dataset": dataset, "root": str(root), "sample_rate": 8000, "segment": 0.5}
    listing, audio = get_dataset(data).paths()
    assert os.path.isfile(listing) and os.listdir(audio)
    assert len(get_dataset(data).candidates()) >= 2  # a test split to build a test set from
    with pytest.raises(SystemExit, match="exists; pass --force"):
        main(["generate", dataset, str(root), *args])


def test_the_cli_lists_the_registered_datasets_and_objectives():
    # constants, so that building the parser imports no dataset or loss module
    from asteroid_wsas import cli
    from asteroid_wsas.data import DATASETS
    from asteroid_wsas.losses.objectives import OBJECTIVES

    assert set(cli.DATASET_NAMES) == set(DATASETS)
    assert set(cli.OBJECTIVE_NAMES) == set(OBJECTIVES)
