"""Smoke tests of the recipes: stages 1-5 on tiny generated data, stage 0's messages, options.

Each test copies the recipes to a temporary folder (run.sh writes data/ and exp/ beside
itself) and gives them a tiny config: a small model at 8 kHz, half-second clips, a few steps.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from asteroid_wsas.data import read_events
from asteroid_wsas.data.rendered import MissingTool, check_tools, write_rendered_audiocaps_layout
from asteroid_wsas.data.synthetic import write_music_layout, write_vggsound_layout

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
TINY = {
    "data": {
        "sample_rate": 8000,
        "segment": 0.5,
        "val_mixtures": 4,
        "test_passes": 1,
        "num_workers": 0,
        "val_fraction": 0.2,
        "test_fraction": 0.2,
    },
    "model": {
        "n_fft": 126,
        "hop_length": 32,
        "channels": [8, 16, 16],
        "attention_levels": [2],
        "n_heads": 2,
        "out_channels": 4,
    },
    "training": {
        "batch_size": 4,
        "precision": "32-true",
        "log_every_n_steps": 1,
        "checkpoint_every_n_steps": None,
        "val_check_interval": 1,  # a validation curve within a 3-step budget
        "check_val_every_n_epoch": None,
    },
}
CLASSES = ["beep", "hum", "siren", "bell"]


def _merge(base, update):
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _recipe(tmp_path: Path, name: str) -> Path:
    """A copy of recipes/<name> (and utils) with a tiny config in local/tiny.yml."""
    shutil.copytree(RECIPES / "utils", tmp_path / "utils")
    # not the outputs of a run in this checkout
    shutil.copytree(RECIPES / name, tmp_path / name, ignore=shutil.ignore_patterns("data", "exp"))
    conf = yaml.safe_load((tmp_path / name / "local" / "conf.yml").read_text())
    conf = _merge(conf, TINY)
    if conf["data"]["dataset"] == "audiocaps":
        conf["data"]["n_phrases"] = 2
    (tmp_path / name / "local" / "tiny.yml").write_text(yaml.safe_dump(conf))
    return tmp_path / name


def _run(recipe: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)  # this interpreter's environment first: run.sh calls `python`
    env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env['PATH']}"
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(
        ["bash", str(recipe / "run.sh"), *args], capture_output=True, text=True, env=env
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"run.sh {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def _layout(name: str, root: Path) -> None:
    if name == "music":
        write_music_layout(str(root), 5, CLASSES, seconds=1.0, sample_rate=8000)
    elif name == "vggsound":
        write_vggsound_layout(str(root), {"train": 6, "test": 2}, CLASSES, 1.0, 8000)
    else:  # rendered events beside the clips: stage 1 also builds the phrase-level set
        _render_tools_or_skip()
        sizes = {"train": 24, "val": 6, "test": 10}
        write_rendered_audiocaps_layout(root, sizes, 1.0, 8000, seed=0, progress=False)


# the longest first: tests/conftest.py keeps this order for pytest-xdist's workers
def test_main_job_tiny_with_seeds_and_3_source_rows(tmp_path):
    _render_tools_or_skip()
    recipe = _recipe(tmp_path, "synthetic")
    args = ["--conf", "local/tiny.yml", "--encoder_steps", "3", "--max_steps", "2"]
    args += ["--per_class", "5", "--seeds", "0 1", "--methods", "mix_and_separate weak"]
    proc = _run(recipe, *args, "--methods_3src", "weak", "--stop_stage", "4")
    exp = recipe / "exp"
    table = (exp / "results.md").read_text()
    assert table.strip() in proc.stdout  # printed as written
    rows = [line.split("|")[1:3] for line in table.splitlines() if line.startswith("| ")]
    rows = [(name.strip(), seeds.strip()) for name, seeds in rows]
    assert rows[:5] == [
        ("Method", "seeds"),
        ("Mixture", "1"),
        ("mix_and_separate", "2"),
        ("weak", "2"),
        ("weak_3src", "2"),
    ]
    report = json.loads((exp / "results.json").read_text())
    assert [c["claim"] for c in report["claims"]] == [
        "sdri: weak / mix_and_separate >= 1.5",
        "weak - mix_and_separate > 0",
    ]
    assert report["mixtures"] == 17 and "Machine:" in table and "Wall time" in table
    assert "(2 seed(s) per row, 2 steps)" in table  # the budget it ran is in the title
    assert (exp / "val_sdr.png").stat().st_size > 1000
    for run in ("2src/mix_and_separate/seed0", "2src/weak/seed1", "3src/weak/seed1"):
        assert (exp / run / "best_model.pth").is_file() and (
            exp / run / "all_metrics.csv"
        ).is_file()
    conf = yaml.safe_load((exp / "3src/weak/seed1/conf.yml").read_text())
    assert conf["data"]["n_sources"] == 3 and conf["training"]["seed"] == 1
    assert conf["encoder"]["name"].endswith("tiny_3src.pth")
    assert (exp / "encoder" / "tiny_2src.pth").is_file()
    mixture = json.loads((exp / "mixture" / "final_metrics.json").read_text())
    assert abs(mixture["metrics"]["sdri"]["mean"]) < 1e-6  # the mixture improves on nothing


TIMGM = "/usr/share/sounds/sf2/TimGM6mb.sf2"


def test_main_job_under_the_authors_protocol_on_a_second_soundfont(tmp_path):
    """--protocol authors trains and scores the authors' way (their test composition in its
    own folder); --soundfont renders a second set with its own data/ and exp/; --variant
    keeps runs apart while the set's encoder serves them all."""
    _render_tools_or_skip()
    if not os.path.isfile(TIMGM):
        if os.environ.get("WSAS_REQUIRE_RENDER") == "1":
            raise AssertionError(f"{TIMGM} missing: apt-get install timgm6mb-soundfont")
        pytest.skip(f"{TIMGM} missing (apt-get install timgm6mb-soundfont)")
    recipe = _recipe(tmp_path, "synthetic")
    args = ["--conf", "local/tiny.yml", "--encoder_steps", "3", "--max_steps", "2"]
    args += ["--per_class", "5", "--methods", "weak", "--soundfont", TIMGM]
    _run(recipe, *args, "--protocol", "authors", "--variant", "theirs", "--stop_stage", "4")
    data, exp = recipe / "data", recipe / "exp" / "timgm6mb"
    assert (data / "rendered_timgm6mb" / "generator.json").is_file()
    assert "TimGM6mb" in (data / "rendered_timgm6mb" / "generator.json").read_text()
    manifest = json.loads((data / "timgm6mb" / "authors" / "test_2mix.json").read_text())
    assert manifest["composition"] == "authors"
    run = exp / "theirs" / "2src" / "weak" / "seed0"
    conf = yaml.safe_load((run / "conf.yml").read_text())
    assert conf["protocol"] == "authors" and conf["training"]["bn_stats"] == "per_query"
    assert conf["objective"]["weak"]["cnt_negatives"] == "slot"
    assert conf["training"]["max_steps"] == 2  # the command line over the protocol's budget
    scores = json.loads((run / "final_metrics.json").read_text())
    assert scores["settings"]["scoring"] == "authors"
    assert (exp / "encoder" / "tiny_2src.pth").is_file()  # shared by every variant
    assert not (exp / "theirs" / "encoder").exists()


def test_main_job_scores_its_runs_on_another_sets_test_without_touching_their_own(tmp_path):
    """--test_on: stage 4 scores the trained runs on a second set's test into on_<set>/,
    refuses to overwrite those scores without --force true, and refuses a set that asks a
    class the runs never learnt."""
    recipe = _recipe(tmp_path, "synthetic")
    data = recipe / "data"
    # generated sets in place of the rendered ones: stage 0 finds them and renders nothing
    write_music_layout(str(data / "rendered"), 5, CLASSES, seconds=1.0, sample_rate=8000)
    write_music_layout(str(data / "rendered_other"), 5, CLASSES, 1.0, 8000, seed=1)
    other = ["bell", "beep", "hum", "whistle"]  # whistle: a class the runs never heard
    write_music_layout(str(data / "rendered_fewer"), 5, other, 1.0, 8000, seed=2)
    args = ["--conf", "local/tiny.yml", "--encoder_steps", "3", "--max_steps", "2"]
    args += ["--per_class", "5", "--methods", "weak"]
    _run(recipe, *args, "--stop_stage", "4")
    for name in ("other", "fewer"):  # their test sets (stage 1 of a second set)
        _run(recipe, *args, "--soundfont", f"/sf2/{name}.sf2", "--stage", "1", "--stop_stage", "1")
    exp, run = recipe / "exp", recipe / "exp" / "2src" / "weak" / "seed0"
    own = {f: (run / f).read_bytes() for f in ("all_metrics.csv", "final_metrics.json")}
    table = (exp / "results.md").read_bytes()

    on = ["--stage", "4", "--stop_stage", "4", "--test_on"]
    proc = _run(recipe, *args, *on, "data/other")
    scored = exp / "on_other" / "2src" / "weak" / "seed0"
    assert (scored / "all_metrics.csv").read_bytes() != own["all_metrics.csv"]
    assert (exp / "on_other" / "mixture" / "final_metrics.json").is_file()
    report = (exp / "on_other" / "results.md").read_text()
    assert "| weak | 1 |" in report and "test set of data/other (runs of data/rendered)" in report
    assert report.strip() in proc.stdout
    assert {f: (run / f).read_bytes() for f in own} == own  # the run's own scores stay
    assert (exp / "results.md").read_bytes() == table
    assert not (exp / "on_other" / "val_sdr.png").exists()

    again = _run(recipe, *args, *on, "data/other", check=False)
    assert again.returncode != 0 and "exists" in again.stdout + again.stderr
    # stage 4 alone, without --max_steps: the title says the budget the runs trained with
    rescore = [a for a in args if a not in ("--max_steps", "2")]
    _run(recipe, *rescore, *on, "data/other", "--force", "true")
    assert "(1 seed(s) per row, 2 steps)" in (exp / "on_other" / "results.md").read_text()

    fewer = _run(recipe, *args, *on, "data/fewer", check=False)
    assert fewer.returncode != 0 and not (exp / "on_fewer" / "2src").exists()
    assert "asks 1 class(es) that data/test_2mix.json does not have: whistle" in (
        fewer.stdout + fewer.stderr
    )
    missing = _run(recipe, *args, *on, "data/none", check=False)
    assert missing.returncode == 1 and "no data/none/test_2mix.json" in missing.stderr
    ablation = _run(recipe, *args, "--ablation", "true", "--test_on", "data/other", check=False)
    assert ablation.returncode == 1 and "not those of --ablation" in ablation.stderr


def test_main_job_ablation_and_sweep_train_their_variants_on_one_set(tmp_path):
    _render_tools_or_skip()
    recipe = _recipe(tmp_path, "synthetic")
    args = ["--conf", "local/tiny.yml", "--encoder_steps", "3", "--max_steps", "2"]
    proc = _run(recipe, *args, "--per_class", "5", "--seeds", "0", "--ablation", "true")
    exp = recipe / "exp"
    table = (exp / "ablation.md").read_text()
    for name in ("consecutive", "distinct", "authors_cnt", "per_query_bn", "authors"):
        assert f"| {name} | 1 |" in table, name
    assert "SDR: distinct - consecutive" in table and "SDR: authors - distinct" in table
    assert "Validation SDR (dB) of each run's chosen checkpoint" in proc.stdout
    conf = yaml.safe_load((exp / "abl_authors/2src/weak/seed0/conf.yml").read_text())
    assert conf["protocol"] == "authors" and conf["training"]["batch_size"] == 8
    scores = json.loads((exp / "abl_authors/2src/weak/seed0/final_metrics.json").read_text())
    assert scores["settings"].get("scoring", "ours") == "ours"  # one test set and scoring
    bn = yaml.safe_load((exp / "abl_bn/2src/weak/seed0/conf.yml").read_text())
    assert bn["training"]["bn_stats"] == "per_query" and bn["protocol"] == "ours"
    assert (
        yaml.safe_load((exp / "abl_consecutive/2src/weak/seed0/conf.yml").read_text())["data"][
            "groups"
        ]
        == "consecutive"
    )
    # the sweep in the same folder: the set's recordings and encoder serve it too
    bad = _run(recipe, *args, "--sweep", "true", "--sweep_rows", "base widest", check=False)
    assert bad.returncode == 1 and "--sweep_rows: no row widest (the rows: base" in bad.stderr
    # CI time: four rows of different kinds (the base, options passed to training, one of
    # them following the budget, a set of its own); --set values and data.train_segment are
    # tested in tests/engine
    rows = ["--sweep_rows", "base step aug rate2x"]
    proc = _run(recipe, *args, "--per_class", "5", "--sweep", "true", *rows)
    exp = recipe / "exp"
    table = (exp / "sweep.md").read_text()
    names = ["base", "lr x0.1 at 3/4", "augmented", "16 kHz"]
    for name in names:
        assert f"| {name} | 1 |" in table, name  # every setting trained and validated
    listed = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")]
    assert listed == ["Setting"] + names  # the rows asked, in order, nothing else
    assert "not trained yet" not in table and (exp / "sweep_val_sdri.png").is_file()
    assert table in proc.stdout
    runs = {
        "conv": ("optim", "lr", 1e-3),
        "sw_aug": ("data", "augment", {"pitch_prob": 0.5, "room_prob": 0.5, "stretch_prob": 0.3}),
        # the cut at 3/4 of the budget: step 1 of 2 (never step 0, which StepLR refuses)
        "sw_step": ("scheduler", "step_size", 1),
    }
    for variant, (block, key, value) in runs.items():
        conf = yaml.safe_load((exp / variant / "2src/supervised/seed0/conf.yml").read_text())
        assert conf["training"]["max_steps"] == 2 and conf["objective"]["name"] == "supervised"
        got = conf[block][key]
        assert (
            {k: got[k] for k in value} == value if isinstance(value, dict) else got == value
        ), variant
    step = yaml.safe_load((exp / "sw_step/2src/supervised/seed0/conf.yml").read_text())
    assert step["scheduler"] == {"name": "step", "interval": "step", "step_size": 1, "gamma": 0.1}
    fast = yaml.safe_load((exp / "r16k/2src/supervised/seed0/conf.yml").read_text())
    assert fast["data"]["sample_rate"] == 16000 and fast["model"]["n_fft"] == 254
    assert fast["data"]["root"].endswith("/data/rendered_r16k")
    assert not (exp / "sw_deep").exists() and not (recipe / "data/rendered_pc10").exists()
    # runs are not scored on the test set: a sweep chooses on validation
    for folder in [exp / "conv", exp / "r16k", *exp.glob("sw_*")]:
        assert not list(folder.glob("**/final_metrics.json")), folder


def test_paper_tables_tiny_fills_a_methods_columns_and_a_cross_dataset_row(tmp_path):
    # four runs only (CI time): the tables' own logic, every Table 2 row included, is
    # tested on generated scores in tests/reporting/test_paper.py
    _render_tools_or_skip()
    recipe = _recipe(tmp_path, "paper_tables")
    args = ["--conf", "local/tiny.yml", "--encoder_steps", "3", "--max_steps", "2"]
    args += ["--per_class", "5", "--counts", "2", "--fractions", "5", "--quick", "true"]
    args += ["--clip_steps", "3", "--frame_size", "32"]
    only = "table1/lassnet/* table1/sop_star/2src table2/semi_music_clean_* table2/audiocaps/semi_*"
    methods = ["--methods", "sop_star lassnet"]
    proc = _run(recipe, *args, *methods, "--only", only, "--stop_stage", "4")
    exp = recipe / "exp"
    text = (exp / "results.md").read_text()
    assert text.strip() in proc.stdout  # printed as written
    rows = [ln for ln in text.splitlines() if ln.startswith("| ")]
    assert rows[0] == "| Method | group | seeds | Single-source (supervised) | 2-source |"
    # an image row (its 2-source cell only) before the text rows, as in the seed
    assert rows[1].startswith("| SOP* | Image conditional | 1 | - | ")
    assert rows[2].startswith("| LASS-Net | Language conditional | 1 | ")
    assert "| - |" not in rows[2]
    # Table 2: a cross-dataset row (MUSIC solos clean, VGGSound-layout mixtures) and the
    # AudioCaps-layout clips with VGGSound-layout solos clean, each on its own test set
    assert rows[4].startswith(
        "| Semi-supervised | MUSIC-2Mix | MUSIC 100 % | VGGSound 100 % | 2 | 1 | "
    )
    assert rows[5].startswith(
        "| Semi-supervised | AudioCaps-2Mix | VGGSound 100 % | AudioCaps 100 % | 1-N | 1 | "
    )
    assert len(rows) == 6
    # SOP*: trained and scored with frame queries through the small CLIP's patch features
    sop = yaml.safe_load((exp / "table1/sop_star/2src/seed0/conf.yml").read_text())
    assert sop["queries"] == "image" and sop["data"]["frames"] == {"size": 32}
    assert sop["encoder"]["name"] == (
        f"clip_image:{exp.resolve()}/encoder/small_clip?pooling=patch_max"
    )
    assert (exp / "encoder" / "small_clip" / "training.json").is_file()
    assert "no pretrained CLIP here" in text
    caps = yaml.safe_load((exp / "table2/audiocaps/semi_vggsound_clean/seed0/conf.yml").read_text())
    assert caps["encoder"]["name"].endswith("tiny_2src_audiocaps+vggsound.pth")
    assert (
        caps["data"]["dataset"] == "audiocaps"
        and caps["data"]["clean_data"]["dataset"] == "vggsound"
    )
    scored = json.loads(
        (exp / "table2/audiocaps/semi_vggsound_clean/seed0/final_metrics.json").read_text()
    )
    # AudioCaps-2Mix: each of the rendered test clips with another (per_class 5: 70 / 4)
    assert scored["counts"]["mixtures"] == len(
        json.loads((recipe / "data" / "audiocaps" / "test_2mix.json").read_text())["mixtures"]
    )
    # offline: LASS-Net's BERT is replaced by the small encoder's text tower, and says so
    assert "no BERT here" in text and "Machine:" in text and "Wall time" in text
    conf = yaml.safe_load((exp / "table1/lassnet/2src/seed0/conf.yml").read_text())
    assert conf["method"] == "lassnet:mixtures" and conf["model"]["conditioning"] == "film"
    assert conf["objective"]["name"] == "mix_and_separate"
    assert conf["encoder"]["name"].endswith("tiny_2src.pth")  # MUSIC's mixtures only
    cross_conf = yaml.safe_load(
        (exp / "table2/semi_music_clean_vggsound_2src/seed0/conf.yml").read_text()
    )
    assert cross_conf["encoder"]["name"].endswith("tiny_2src_music+vggsound.pth")
    cross = cross_conf["data"]
    assert cross["dataset"] == "vggsound" and cross["root"].endswith("data/rendered_vggsound")
    assert cross["clean_data"]["dataset"] == "music"
    assert cross["clean_data"]["root"].endswith("data/rendered")
    # its teacher knows both datasets' words (VGGSound's labels, MUSIC's instruments)
    vocab = torch.load(exp / "encoder" / "tiny_2src_music+vggsound.pth", weights_only=True)
    assert {"chirping", "helicopter", "accordion", "xylophone"} <= set(vocab["model_args"]["vocab"])
    for table in (1, 2):
        assert (exp / f"results_table{table}.png").stat().st_size > 1000


@pytest.mark.parametrize("name", ["music", "vggsound", "audiocaps"])
def test_stages_1_to_5_on_tiny_data(name, tmp_path):
    recipe = _recipe(tmp_path, name)
    root = tmp_path / "dataset"
    _layout(name, root)
    args = [f"--{name}_root", str(root), "--conf", "local/tiny.yml", "--encoder", "tiny"]
    args += ["--encoder_steps", "3", "--max_steps", "3", "--gpus", "0", "--n_examples", "1"]
    proc = _run(recipe, *args)  # stage 0 finds the data in place and fetches nothing
    assert "nothing to fetch" in proc.stdout

    exp = recipe / "exp" / "weak_tiny"
    assert (recipe / "exp" / "encoder" / "tiny.pth").is_file()
    for f in ["conf.yml", "best_model.pth", "all_metrics.csv", "scores.png", "val_sdr.png"]:
        assert (exp / f).is_file(), f
    assert (exp / "checkpoints" / "last.ckpt").is_file()
    assert any((exp / "examples").glob("*.png")) and any((exp / "examples").glob("*.wav"))
    conf = yaml.safe_load((exp / "conf.yml").read_text())
    assert conf["data"]["root"] == str(root) and conf["training"]["max_steps"] == 3
    summary = json.loads((exp / "final_metrics.json").read_text())
    assert summary["counts"]["sources_scored"] > 0
    assert {"sdr", "sir", "sar", "sdri"} <= set(summary["metrics"])
    model_args = torch.load(exp / "best_model.pth", weights_only=True)["model_args"]
    assert model_args["channels"] == [8, 16, 16]
    manifests = sorted(p.name for p in (recipe / "data").iterdir())
    if name == "audiocaps":  # stage 1's phrases, which stage 3 trained on
        assert manifests == [
            "test_2mix.json",
            "test_events.json",
            "train_phrases.json",
            "val_2mix.json",
        ]
        assert conf["data"]["phrases"] == str(recipe / "data" / "train_phrases.json")
        _assert_phrase_level_scores(proc, recipe, root)
    else:
        assert manifests == ["test_2mix.json", "val_2mix.json"]

    if name != "music":  # the resume below is the recipes' shared stages.sh: once is enough
        return
    # a rerun of stage 3 with a larger budget resumes from last.ckpt (step 3 -> 5)
    _run(recipe, *args[:-6], "--max_steps", "5", "--gpus", "0", "--stage", "3", "--stop_stage", "3")
    last = torch.load(exp / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 5


def _render_tools_or_skip():
    try:
        check_tools(speech=True)
    except MissingTool as err:
        if os.environ.get("WSAS_REQUIRE_RENDER") == "1":
            raise
        pytest.skip(str(err))


def _assert_phrase_level_scores(proc, recipe: Path, root: Path) -> None:
    """With clean events beside the clips, stage 1 builds the phrase-level set and stage 4
    scores each event's phrase against its event, beside the paper's clip-level 2Mix."""
    assert "phrase-level set" in proc.stdout
    manifest = json.loads((recipe / "data" / "test_events.json").read_text())
    events = read_events(root / "test_events.csv")
    multi = [clip for clip, rows in events.items() if len(rows) >= 2]
    assert len(manifest["mixtures"]) == len(multi) > 0
    first = manifest["mixtures"][0]
    clip = first["id"].split("-")[-1]
    assert [s["query"] for s in first["sources"]] == [r["phrase"] for r in events[clip]]
    scored = recipe / "exp" / "weak_tiny" / "events"
    with open(scored / "all_metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(len(m["sources"]) for m in manifest["mixtures"])
    assert {r["query"] for r in rows} <= {r["phrase"] for rs in events.values() for r in rs}


def test_stage0_without_data_or_tools_says_what_to_fetch(tmp_path):
    recipe = _recipe(tmp_path, "audiocaps")
    env_path = os.environ["PATH"]
    try:  # hide any yt-dlp / ffmpeg of the machine
        os.environ["PATH"] = os.pathsep.join(
            p for p in env_path.split(os.pathsep) if not (Path(p) / "yt-dlp").exists()
        )
        proc = _run(
            recipe, "--audiocaps_root", str(tmp_path / "none"), "--stop_stage", "0", check=False
        )
    finally:
        os.environ["PATH"] = env_path
    assert proc.returncode != 0
    if shutil.which("ffmpeg") is None:
        assert "not found on the PATH" in proc.stderr
    assert "train.csv" in proc.stderr and "stage 0 failed" in proc.stderr


def test_a_python_without_the_package_is_named_at_once(tmp_path):
    """run.sh finds the package without importing it (seconds per call): a Python that
    lacks it is still named, before any work."""
    system = shutil.which("python3", path="/usr/bin:/bin")
    if (
        system is None
        or subprocess.run([system, "-I", "-c", "import asteroid_wsas"]).returncode == 0
    ):
        pytest.skip("no Python without asteroid_wsas on this machine")
    recipe = _recipe(tmp_path, "synthetic")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {system} -I "$@"\n')
    (bin_dir / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(recipe / "run.sh")], capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and "cannot import asteroid_wsas; activate" in proc.stderr
    assert not (recipe / "data").exists()


def test_options_are_checked(tmp_path):
    recipe = _recipe(tmp_path, "music")
    proc = _run(recipe, "--music-root", "x", "--stage", "9", "--help")
    assert "--music_root" in proc.stdout and "MUSIC recipe" in proc.stdout
    bad = _run(recipe, "--musik_root", "x", check=False)
    assert bad.returncode == 2 and "unknown option --musik_root" in bad.stderr
    bad = _run(recipe, "--stage", check=False)
    assert bad.returncode == 2 and "needs a value" in bad.stderr


@pytest.mark.parametrize(
    "path", sorted(RECIPES.glob("*/local/*.yml")), ids=lambda p: p.parent.parent.name + "/" + p.name
)
def test_every_recipe_config_loads(path):
    from asteroid_wsas.engine.experiment import load_conf, objective_args
    from asteroid_wsas.losses.objectives import make_objective

    conf = load_conf(path)
    make_objective(conf["objective"]["name"], **objective_args(conf))  # valid arguments
    assert conf["training"]["batch_size"] >= 1 and conf["data"]["sample_rate"] > 0


def test_a_rendered_set_of_other_settings_is_not_reused(tmp_path):
    recipe = _recipe(tmp_path, "synthetic")
    root = recipe / "data" / "rendered_r16k"
    for label in ("violin", "drum"):
        (root / "audio" / label).mkdir(parents=True)
        for k in range(3):
            sf.write(root / "audio" / label / f"{label}{k}.wav", np.zeros(800), 8000)
    (root / "MUSIC_solo_videos.json").write_text("{}")
    (root / "generator.json").write_text(json.dumps({"sample_rate": 8000, "seed": 1}))
    conf = yaml.safe_load((recipe / "local" / "tiny.yml").read_text())
    conf["data"]["sample_rate"] = 16000
    (recipe / "local" / "r16k.yml").write_text(yaml.safe_dump(conf))
    stage0 = ["--set_name", "r16k", "--stage", "0", "--stop_stage", "0", "--per_class", "3"]
    bad = _run(recipe, *stage0, "--conf", "local/r16k.yml", check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1] == (
        "stage 0: data/rendered_r16k was rendered with other settings (8000 Hz, not 16000 Hz):"
        " pass --set_name NAME for a set of its own, or --force true to render it again"
    )
    bad = _run(recipe, *stage0[:-1], "5", "--conf", "local/tiny.yml", check=False)
    assert bad.returncode == 1 and "3 recordings per class, not 5" in bad.stderr
    fits = _run(recipe, *stage0, "--conf", "local/tiny.yml")  # the set's own settings
    assert "stage 0: data/rendered_r16k exists" in fits.stdout
    bad = _run(recipe, "--set_name", "../x", "--stage", "0", "--stop_stage", "0", check=False)
    assert bad.returncode == 1 and "--set_name ../x: letters, digits" in bad.stderr


def test_full_is_the_evidence_mode_at_the_converged_budget(tmp_path):
    recipe = _recipe(tmp_path, "synthetic")
    nothing = ["--stage", "9", "--stop_stage", "9", "--conf", "local/tiny.yml"]  # no stage runs
    line = "--full: the evidence mode, 4000 separator steps per run (--max_steps changes it)"
    assert line in _run(recipe, *nothing, "--full", "true").stdout
    assert (
        "evidence mode" not in _run(recipe, *nothing, "--full", "true", "--max_steps", "7").stdout
    )
    assert "evidence mode" not in _run(recipe, *nothing).stdout  # the main job: its own budget
