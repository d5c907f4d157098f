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
    for command in commands + [
        "train",
        "evaluate",
        "examples",
        "compare",
        "serve",
        "export",
        "publish",
    ]:
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


# --------------------------------------------------------------------- separate: folders
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A random tiny separator saved as a package (what --model takes)."""
    import torch

    from asteroid_wsas import Separator, TextCondUNet
    from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab

    torch.manual_seed(0)
    queries = ["a dog barks", "a man speaks"]
    enc = TinyBimodalEncoder(build_vocab(queries), 8000, embed_dim=16, token_dim=12)
    model = TextCondUNet(
        8000, 126, 32, [8, 16, 16], [2], text_embed_dim=16, text_token_dim=12, n_heads=2
    )
    folder = tmp_path_factory.mktemp("model") / "my_separator"
    Separator(model, enc).save_pretrained(folder)
    return folder


def _noise(path, seconds=0.5, rate=8000, channels=1, seed=0):
    import numpy as np
    import soundfile as sf

    gen = np.random.default_rng(seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, 0.1 * gen.standard_normal((int(seconds * rate), channels)), rate)


def _folders_example():
    """The commands of docs/separate.md's Folders section, with the outputs its comments
    list per input and the line it says the second run prints."""
    import shlex
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "separate.md").read_text()
    section = text[text.index("## Folders\n") :]
    block = section.split("```bash\n")[1].split("```")[0].strip().splitlines()
    commands = [shlex.split(line)[1:] for line in block if line.startswith("asteroid-wsas ")]
    outputs = {}
    for line in block:
        if " -> " in line:
            source, files = line.lstrip("# ").split(" -> ")
            outputs[source] = files.split()
    said = [line.lstrip("# ") for line in block if line.startswith("# skipped")]
    return commands, outputs, said


def _separate(args, model_dir):
    main([a if a != "my_separator" else str(model_dir) for a in args])


def test_separate_a_folder_as_the_docs_show(model_dir, tmp_path, monkeypatch, capsys):
    import soundfile as sf

    monkeypatch.chdir(tmp_path)
    (first, again), outputs, said = _folders_example()
    assert first == again and set(outputs) == {
        "recordings/park/dog.wav",
        "recordings/street.flac",
    }
    _noise("recordings/park/dog.wav", channels=2, rate=16000)
    _noise("recordings/street.flac", seconds=0.7, seed=1)
    os.makedirs("recordings/.cache")
    _noise("recordings/.cache/old.wav")  # hidden: left out
    _noise("recordings/._street.wav")
    (tmp_path / "recordings" / "notes.txt").write_text("not audio")  # no audio extension
    _separate(first, model_dir)
    written = sorted(
        os.path.relpath(os.path.join(root, f), "separated")
        for root, _, files in os.walk("separated")
        for f in files
    )
    expected = sorted(os.path.relpath(f, "separated") for f in sum(outputs.values(), []))
    assert written == expected  # the tree is kept; nothing else (no .part file)
    wav, rate = sf.read("separated/park/dog/a_dog_barks.wav")
    assert rate == 16000 and wav.shape == (8000, 2)
    # 16-bit in (sf.write's WAV default), 16-bit out: the input's format is kept
    assert sf.info("separated/park/dog/a_dog_barks.wav").subtype == "PCM_16"
    assert "2 of 2 inputs separated" in capsys.readouterr().out
    stamps = {f: os.stat(os.path.join("separated", f)).st_mtime_ns for f in written}

    _separate(again, model_dir)  # nothing to do: said so, nothing rewritten
    assert capsys.readouterr().out.strip() == said[0]
    assert stamps == {f: os.stat(os.path.join("separated", f)).st_mtime_ns for f in written}

    os.remove("separated/street/a_man_speaks.wav")  # one output gone: only it is written
    _separate(again, model_dir)
    assert "skipped 1 input(s)" in capsys.readouterr().out
    assert os.path.exists("separated/street/a_man_speaks.wav")
    assert (
        os.stat("separated/street/a_dog_barks.wav").st_mtime_ns == stamps["street/a_dog_barks.wav"]
    )
    _separate(again + ["--force"], model_dir)
    assert "2 of 2 inputs separated" in capsys.readouterr().out
    assert (
        os.stat("separated/park/dog/a_dog_barks.wav").st_mtime_ns
        != stamps["park/dog/a_dog_barks.wav"]
    )


def test_unreadable_files_are_listed_at_the_end(model_dir, tmp_path, capsys):
    root = tmp_path / "in"
    _noise(str(root / "a_good.wav"))
    (root / "b_broken.wav").write_bytes(b"junk")
    _noise(str(root / "c_empty.wav"), seconds=0)
    _noise(str(root / "d_good.flac"), seed=2)
    out = tmp_path / "out"
    args = ["separate", str(root), "-q", "a dog barks", "-o", str(out), "--model", str(model_dir)]
    with pytest.raises(SystemExit) as stop:
        main(args)
    message = str(stop.value.code)
    assert message.startswith("error: 2 input(s) failed: ") and "\n" not in message
    assert "b_broken.wav" in message and "c_empty.wav" in message
    captured = capsys.readouterr()
    assert "2 of 4 inputs separated" in captured.out
    assert "not readable audio" in captured.err and "is empty" in captured.err
    assert sorted(os.listdir(out)) == ["a_good", "d_good"]  # the batch went on
    # run again: the good ones are skipped, the bad ones fail again
    with pytest.raises(SystemExit, match="2 input.s. failed"):
        main(args)
    assert "skipped 2 input(s)" in capsys.readouterr().out
    # --fail-fast stops at the first failure, which it names
    fresh = tmp_path / "fresh"
    with pytest.raises(SystemExit, match="b_broken.wav is not readable audio"):
        main(args[:5] + [str(fresh)] + args[6:] + ["--fail-fast"])
    assert os.listdir(fresh) == ["a_good"]  # a_good done, d_good not reached


def test_files_and_folders_mix_and_collisions_are_refused(model_dir, tmp_path, capsys):
    import soundfile as sf

    _noise(str(tmp_path / "one.wav"))
    _noise(str(tmp_path / "dir" / "sub" / "two.wav"))
    _noise(str(tmp_path / "three.wav"), seconds=1.2)
    out = tmp_path / "out"
    args = ["-q", "a dog barks", "-o", str(out), "--model", str(model_dir)]
    # --chunk-seconds: each file has several chunks, yet one bar: the files'
    main(
        ["separate", str(tmp_path / "one.wav"), str(tmp_path / "dir"), str(tmp_path / "three.wav")]
        + args
        + ["--chunk-seconds", "0.4", "--subtype", "PCM_16"]
    )
    assert os.path.exists(out / "one" / "a_dog_barks.wav")  # a file: <stem>/
    assert os.path.exists(out / "sub" / "two" / "a_dog_barks.wav")  # a folder: its tree
    assert sf.info(str(out / "three" / "a_dog_barks.wav")).subtype == "PCM_16"
    err = capsys.readouterr().err
    assert "file" in err and "chunk" not in err
    # two inputs landing in one folder: an error naming both, before any work
    _noise(str(tmp_path / "dir" / "sub" / "two.flac"))
    with pytest.raises(SystemExit, match=r"two\.flac and .*two\.wav would both be written"):
        main(["separate", str(tmp_path / "dir")] + args[:3] + [str(tmp_path / "o2")] + args[4:])
    assert not os.path.exists(tmp_path / "o2" / "sub")
    with pytest.raises(SystemExit, match="input.s. not found: .*nowhere"):
        main(["separate", str(tmp_path / "nowhere")] + args)
    os.makedirs(tmp_path / "silent")
    with pytest.raises(SystemExit, match="no audio files in"):
        main(["separate", str(tmp_path / "silent")] + args)


def test_an_unwritable_output_folder_fails_before_any_work(tmp_path):
    _noise(str(tmp_path / "in.wav"))
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    for out in (blocker, blocker / "out"):
        # the model is not even loaded: the folder is checked first
        with pytest.raises(SystemExit, match=f"output folder {out} is not writable"):
            main(
                ["separate", str(tmp_path / "in.wav"), "-q", "x", "-o", str(out)]
                + ["--model", str(tmp_path / "no_model")]
            )


def test_an_output_folder_inside_the_input_is_not_read(model_dir, tmp_path, capsys):
    _noise(str(tmp_path / "music" / "song.wav"))
    args = ["separate", str(tmp_path / "music"), "-q", "a dog barks", "-o"]
    args += [str(tmp_path / "music" / "separated"), "--model", str(model_dir)]
    main(args)
    main(args)  # the outputs of the first run are not inputs of the second
    assert "skipped 1 input(s)" in capsys.readouterr().out
    assert os.listdir(tmp_path / "music" / "separated") == ["song"]


def test_subtypes_are_soundfiles():
    import soundfile as sf

    from asteroid_wsas.cli import build_parser
    from asteroid_wsas.separator import WAV_SUBTYPES

    parser = build_parser()
    action = next(
        a
        for a in parser._subparsers._group_actions[0].choices["separate"]._actions
        if a.dest == "subtype"
    )
    assert action.default == "input" and tuple(action.choices) == ("input",) + WAV_SUBTYPES
    assert set(WAV_SUBTYPES) <= set(sf.available_subtypes("WAV"))


def test_every_option_has_help_that_states_its_default():
    import argparse

    from asteroid_wsas.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        formatter = command._get_formatter()
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            where = f"{name} {action.option_strings or action.dest}"
            assert action.help, f"{where}: no help"
            silent = action.default is None or action.default is False or action.default == ""
            if action.option_strings and not silent:  # a default of 0 is stated too
                shown = formatter._expand_help(action)  # what --help prints for it
                assert "default" in shown.lower(), f"{where}: default not stated: {shown}"


def _launch(argv, cwd):
    """``asteroid-wsas ARGV`` through the console script's launcher, in a fresh interpreter;
    returns its exit code, output and the heavy modules it had imported."""
    import subprocess
    import sys

    code = (
        "import sys, asteroid_wsas_cli\n"
        f"sys.argv = ['asteroid-wsas'] + {list(argv)!r}\n"
        "try:\n    asteroid_wsas_cli.main()\nexcept SystemExit as e:\n    rc = e.code\n"
        "else:\n    rc = 0\n"
        "heavy = [m for m in ('torch', 'asteroid', 'numpy') if m in sys.modules]\n"
        "print('RC', rc, 'HEAVY', ','.join(heavy) or '-')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    *lines, last = done.stdout.strip().splitlines()
    _, rc, _, heavy = last.split()
    return rc, "\n".join(lines) + done.stderr, heavy


@pytest.mark.parametrize("argv", [["--help"], ["separate", "--help"], ["train", "-h"], []])
def test_help_and_usage_errors_start_without_torch(argv, tmp_path):
    """Issue 19.7: help starts in well under 1 s because nothing heavy is imported."""
    rc, out, heavy = _launch(argv, tmp_path)
    assert heavy == "-"
    assert rc in ("0", "2") and "usage: asteroid-wsas" in out


def test_the_launcher_registers_the_models_when_a_command_loads_one(model_dir, tmp_path):
    _noise(str(tmp_path / "in.wav"))
    argv = ["separate", "in.wav", "--model", str(model_dir), "-q", "a dog barks", "-o", "out"]
    rc, out, heavy = _launch(argv, tmp_path)
    assert rc == "0", out
    assert "torch" in heavy.split(",") and (tmp_path / "out" / "a_dog_barks.wav").is_file()


# ------------------------------------------------ protocols: eval.composition and eval.scoring
@pytest.fixture(scope="module")
def small_music(tmp_path_factory):
    """A MUSIC layout of 3 classes x 4 solos of 5.3 s, and a recipe config of it."""
    from asteroid_wsas.data.synthetic import write_music_layout

    root = tmp_path_factory.mktemp("small_music")
    write_music_layout(
        str(root / "data"), videos_per_class=4, classes=["beep", "hum", "hiss"], seconds=5.3
    )
    conf = root / "conf.yml"
    conf.write_text(
        "data:\n  dataset: music\n  sample_rate: 8000\n  segment: 1.0\n  test_fraction: 0.5\n"
        "  val_fraction: 0.25\n  test_passes: 1\n  val_mixtures: 2\n"
        "objective:\n  name: weak\n"
    )
    return root


def test_prepare_protocol_authors_builds_the_authors_composition(small_music, tmp_path, capsys):
    from asteroid_wsas.data import read_manifest

    argv = ["prepare", str(small_music / "conf.yml"), "--root", str(small_music / "data")]
    main(argv + ["-o", str(tmp_path / "ours")])
    assert "composition" not in capsys.readouterr().out
    main(argv + ["-o", str(tmp_path / "theirs"), "--protocol", "authors"])
    assert "the authors' composition" in capsys.readouterr().out
    main(argv + ["-o", str(tmp_path / "set"), "--set", "eval.composition=authors"])
    ours = read_manifest(tmp_path / "ours" / "test_2mix.json")
    theirs = read_manifest(tmp_path / "theirs" / "test_2mix.json")
    assert ours.composition is None and theirs.composition == "authors"
    assert read_manifest(tmp_path / "theirs" / "val_2mix.json").composition == "authors"
    assert len(read_manifest(tmp_path / "theirs" / "val_2mix.json").mixtures) == 2
    # 5.3 s solos: the MUSIC test crop is centred at (5 // 2 + 1 - 0.5) s = 2.5 s
    assert {(s.crop, s.offset) for m in theirs.mixtures for s in m.sources} == {("music", 2.0)}
    assert len(theirs.mixtures) == len(ours.mixtures) == 6  # 2 test solos x 3 classes, 1 pass
    assert (tmp_path / "set" / "test_2mix.json").read_bytes() == (
        tmp_path / "theirs" / "test_2mix.json"
    ).read_bytes()


@pytest.fixture(scope="module")
def manifest_with_silence(tmp_path_factory):
    """5 mixtures of 2 noise solos; the solo of class 'quiet' is all zeros (a silent
    reference), so the mixtures it is in are dropped by the authors' scoring."""
    import numpy as np
    import soundfile as sf

    from asteroid_wsas.data import build_test_set, write_manifest
    from asteroid_wsas.data.audio import probe
    from asteroid_wsas.data.testsets import Candidate

    root = tmp_path_factory.mktemp("silence")
    rng = np.random.default_rng(0)
    candidates = []
    for name, scale in (("a", 0.3), ("b", 0.2), ("c", 0.1), ("d", 0.25), ("quiet", 0.0)):
        sf.write(root / f"{name}.wav", scale * rng.standard_normal(8000), 8000, subtype="FLOAT")
        candidates.append(Candidate(name, probe(str(root / f"{name}.wav")), name, f"the {name}"))
    test_set = build_test_set("S", candidates, root, seconds=0.5, sample_rate=8000, seed=1)
    write_manifest(test_set, root / "m.json")
    return root / "m.json"


def test_evaluate_scoring_follows_protocol_and_batches(manifest_with_silence, tmp_path, capsys):
    import csv

    from asteroid_wsas.data import read_manifest

    quiet = sum(
        any(s.id == "quiet" for s in m.sources)
        for m in read_manifest(manifest_with_silence).mixtures
    )
    assert 0 < quiet < 5
    base = ["evaluate", str(manifest_with_silence), "--mixture", "--batch-size", "2"]
    runs = {
        "plain": [],
        "ours": ["--protocol", "authors", "--scoring", "ours"],
        "authors": ["--protocol", "authors"],
        "scoring": ["--scoring", "authors"],
    }
    summaries, files = {}, {}
    for name, extra in runs.items():
        main(base + ["-o", str(tmp_path / name)] + extra)
        summaries[name] = json.loads((tmp_path / name / "final_metrics.json").read_text())
        files[name] = (tmp_path / name / "all_metrics.csv").read_bytes()
    out = capsys.readouterr().out
    # --protocol names the composition the manifest was not built with
    assert "holds our test composition, not the authors'" in out
    assert summaries["plain"] == summaries["ours"] and files["plain"] == files["ours"]
    assert summaries["authors"] == summaries["scoring"]
    theirs = summaries["authors"]
    assert theirs["settings"]["scoring"] == "authors"
    assert theirs["counts"]["mixtures_dropped"] == quiet
    assert theirs["counts"]["batches"] == 3 and theirs["settings"]["batch_mixtures"] == 2
    # the reported SDR is the mean over batches of 2 consecutive mixtures of their means
    with open(tmp_path / "authors" / "all_metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    per_mixture = {}
    for r in rows:
        if r["skipped"] == "0":
            per_mixture.setdefault(r["mixture_id"], []).append(float(r["sdr"]))
    ids = [m.id for m in read_manifest(manifest_with_silence).mixtures]
    batch_means = []
    for first in range(0, len(ids), 2):
        kept = [sum(per_mixture[i]) / 2 for i in ids[first : first + 2] if i in per_mixture]
        batch_means.append(sum(kept) / len(kept) if kept else 0.0)
    assert theirs["metrics"]["sdr"]["mean"] == pytest.approx(sum(batch_means) / len(batch_means))
    assert theirs["metrics"]["sdr"]["mean"] != pytest.approx(
        summaries["plain"]["metrics"]["sdr"]["mean"]
    )


def test_evaluate_refuses_scoring_flags_for_recordings(tmp_path):
    argv = ["evaluate", "-o", str(tmp_path), "--model", "m", "--audio", "x.wav"]
    for extra in (["--scoring", "authors"], ["--protocol", "authors"]):
        with pytest.raises(SystemExit, match=extra[0]):
            main(argv + extra)
    with pytest.raises(SystemExit):
        main(["evaluate", "m.json", "-o", str(tmp_path), "--mixture", "--scoring", "theirs"])


def test_prepare_names_a_bad_composition(small_music, tmp_path):
    argv = ["prepare", str(small_music / "conf.yml"), "--root", str(small_music / "data")]
    with pytest.raises(SystemExit, match="eval.composition"):
        main(argv + ["-o", str(tmp_path), "--set", "eval.composition=theirs"])
