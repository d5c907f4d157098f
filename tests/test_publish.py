"""asteroid-wsas publish: an evaluated experiment folder as a hub-ready model folder."""

import argparse
import hashlib
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from asteroid_wsas import Separator
from asteroid_wsas.data.testsets import TestMixture, TestSet, TestSource, write_manifest
from asteroid_wsas.encoders.tiny import save_encoder
from asteroid_wsas.engine import WeakSupSystem
from asteroid_wsas.engine.config import save_conf
from asteroid_wsas.engine.evaluation import evaluate
from asteroid_wsas.metrics.bss_eval import LABELS
from asteroid_wsas.cli.publish import add_parser as add_publish_parser
from asteroid_wsas.cli.publish import cmd as cmd_publish
from asteroid_wsas.publish import DEFAULT_LICENSE, publish_experiment
from tests.helpers import randomize_norm_stats, tiny_encoder, tiny_unet

RATE = 8000
TONES = {"violin": 440.0, "cello": 220.0, "flute": 1320.0}
QUERIES = {label: f"the sound of {label}" for label in TONES}
REQUIRED_TAGS = ["asteroid", "audio", "source-separation", "text-queried-separation"]


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    block, sep, _ = card[4:].partition("\n---\n")
    assert sep, "front matter is not closed"
    return yaml.safe_load(block)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """A real experiment folder, written by the engine's own functions: the training
    stage's conf.yml (save_conf), encoder file (save_encoder) and best_model.pth
    (WeakSupSystem.save_separator), and the evaluation stage's files (evaluate) on a fixed
    two-mixture test set of generated tones."""
    root = tmp_path_factory.mktemp("data")
    exp = tmp_path_factory.mktemp("exp") / "weak_tiny"
    t = np.arange(RATE) / RATE
    for label, freq in TONES.items():
        sf.write(root / f"{label}.wav", 0.4 * np.sin(2 * np.pi * freq * t), RATE)

    def source(label):
        return TestSource(f"{label}.wav", 0.0, 0.5, QUERIES[label], label, label)

    test_set = TestSet(
        "tones-2mix-test",
        str(root),
        RATE,
        0.5,
        0,
        [
            TestMixture("m0", [source("violin"), source("cello")]),
            TestMixture("m1", [source("cello"), source("flute")]),
        ],
    )
    manifest = root / "test_2mix.json"
    write_manifest(test_set, manifest)

    encoder = tiny_encoder(list(QUERIES.values()))
    (exp / "encoder").mkdir(parents=True)
    save_encoder(encoder, exp / "encoder" / "tiny.pth")
    conf = {
        "data": {
            "dataset": "music",
            "root": str(root),
            "sample_rate": RATE,
            "segment": 0.5,
            "n_sources": 2,
        },
        "encoder": {"name": str(exp / "encoder" / "tiny.pth")},
        "model": {"n_fft": 126, "hop_length": 32, "channels": [8, 16, 16, 16]},
        "objective": {"name": "weak", "args": {}, "weak": {"cnt_weight": 0.1}},
        "training": {"batch_size": 2, "max_steps": 3, "seed": 0, "precision": "32-true"},
        "optim": {"optimizer": "adam", "lr": 1.0e-3},
        "scheduler": {"name": "cosine"},
    }
    save_conf(conf, exp / "conf.yml")
    model = randomize_norm_stats(tiny_unet())
    WeakSupSystem(model, encoder, "weak").save_separator(exp / "best_model.pth")
    # what Lightning's CSVLogger and the best-val_sdr checkpoint leave (names only are read)
    (exp / "logs").mkdir()
    (exp / "logs" / "metrics.csv").write_text("epoch,loss,step,val_sdr\n0,1.0,0,\n0,,2,1.25\n")
    (exp / "checkpoints").mkdir()
    (exp / "checkpoints" / "epoch=0-step=3-val_sdr=1.25.ckpt").write_bytes(b"")
    evaluate(
        exp / "best_model.pth", encoder, manifest, exp, batch_size=2, device="cpu", progress=False
    )
    return exp


@pytest.fixture(scope="module")
def published(experiment, tmp_path_factory):
    out = tmp_path_factory.mktemp("pub") / "TextCondUNet_tones_weak"
    card = publish_experiment(experiment, out, intended_queries=["the sound of violin"])
    return out, card


def test_folder_holds_the_package_config_scores_and_card(experiment, published):
    out, card = published
    assert card == str(out / "README.md")
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["separator.pth", "conf.yml", "final_metrics.json", "all_metrics.csv", "scores.png"]
        + ["README.md"]
    )
    for name in ("conf.yml", "final_metrics.json", "all_metrics.csv"):
        assert (out / name).read_bytes() == (experiment / name).read_bytes()
    package = torch.load(out / "separator.pth", weights_only=True)
    assert package["encoder"]["kind"] == "small"  # the small encoder travels inside


def test_published_model_separates_bit_identically(experiment, published, tmp_path):
    out, _ = published
    original = Separator.from_pretrained(experiment / "best_model.pth")
    # the folder stands alone: copied elsewhere, with the experiment's encoder file gone
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    hidden = experiment.parent / "encoder_hidden"
    (experiment / "encoder").rename(hidden)
    try:
        again = Separator.from_pretrained(moved)
    finally:
        hidden.rename(experiment / "encoder")
    gen = torch.Generator().manual_seed(3)
    audio = 0.1 * torch.randn(2, 12000, generator=gen)  # stereo at another rate
    queries = list(QUERIES.values()) + ["a word it never saw"]
    a = original.separate(audio, queries, sample_rate=16000, precision="fp32", residual=True)
    b = again.separate(audio, queries, sample_rate=16000, precision="fp32", residual=True)
    assert torch.equal(a.estimates, b.estimates) and torch.equal(a.residual, b.residual)
    assert a.presence == b.presence and a.level_db == b.level_db
    for x, y in zip(original.state_dict().values(), again.state_dict().values()):
        assert torch.equal(x, y)


def test_card_front_matter_is_hub_metadata_with_the_scores(experiment, published):
    out, card = published
    meta = _front_matter(open(card, encoding="utf-8").read())
    assert {"tags", "library_name", "datasets", "license", "pipeline_tag", "model-index"} <= set(
        meta
    )
    assert set(REQUIRED_TAGS + ["asteroid-wsas", "weak"]) <= set(meta["tags"])
    assert meta["library_name"] == "asteroid" and meta["pipeline_tag"] == "audio-to-audio"
    assert meta["license"] == DEFAULT_LICENSE and meta["datasets"] == ["music"]
    final = json.loads((experiment / "final_metrics.json").read_text())
    (entry,) = meta["model-index"]
    (result,) = entry["results"]
    assert entry["name"] == "TextCondUNet_music_weak"
    assert result["dataset"]["name"] == "music-2mix-test"  # prepare's name, 2 sources each
    scores = {m["type"]: m["value"] for m in result["metrics"]}
    assert scores == {k: v["mean"] for k, v in final["metrics"].items()}  # exact floats
    assert {m["name"] for m in result["metrics"]} == {LABELS[k] for k in final["metrics"]}

    # the hub's own reader of model cards accepts it (offline: a local file)
    from huggingface_hub import ModelCard

    data = ModelCard.load(card).data
    assert data.license == DEFAULT_LICENSE and data.library_name == "asteroid"
    hub_scores = {r.metric_type: r.metric_value for r in data.eval_results}
    assert hub_scores == scores


def test_card_describes_model_training_scores_queries_use_and_citation(experiment, published):
    out, card = published
    text = open(card, encoding="utf-8").read()
    for section in ("Model", "Training", "Results", "Intended use and queries", "How to use"):
        assert f"\n## {section}\n" in text, section
    assert "\n## Limitations\n" in text and "\n## Citation\n" in text
    again = Separator.from_pretrained(out)
    n_params = sum(p.numel() for p in again.model.parameters())
    assert f"TextCondUNet, {n_params:,} parameters, working at 8000 Hz" in text
    assert "`weak`" in text and '`{"cnt_weight": 0.1}`' in text  # objective and its args
    assert "step 3, best validation SDR (1.25 dB)" in text
    final = json.loads((experiment / "final_metrics.json").read_text())
    for key, value in final["metrics"].items():
        row = (
            f"| {LABELS[key]} | {value['mean']:.2f} | {value['std']:.2f} | {value['median']:.2f} |"
        )
        assert row in text
    assert f"{final['counts']['mixtures']} mixtures" in text
    # queries: the small encoder's words, the test set's queries, the publisher's
    assert "\n> of, sound, the, cello, flute, violin\n" in text  # by frequency, then a-z
    assert all(f"`{q}`" in text for q in QUERIES.values())
    # usage with this folder, pinned to the checksum of the file written
    digest = hashlib.sha256((out / "separator.pth").read_bytes()).hexdigest()
    assert f'Separator.from_pretrained("TextCondUNet_tones_weak", sha256="{digest}")' in text
    assert '-q "the sound of violin"' in text and "--model TextCondUNet_tones_weak" in text
    assert "Weakly-supervised Audio Separation via Bi-modal Semantic Similarity" in text
    assert "Mahmud, Tanvir and Amizadeh, Saeed and Koishida, Kazuhito and Marculescu, Diana" in text
    assert "@SHA256@" not in text


def test_refuses_a_non_empty_folder_unless_forced(experiment, tmp_path):
    out = tmp_path / "pub"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty.*--force"):
        publish_experiment(experiment, out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    publish_experiment(experiment, out, force=True)
    assert (out / "notes.txt").read_text() == "mine" and (out / "separator.pth").is_file()
    publish_experiment(experiment, out, force=True, license="mit")  # rewrites its own files
    assert _front_matter((out / "README.md").read_text())["license"] == "mit"

    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(FileExistsError, match="--force"):
        publish_experiment(experiment, a_file)
    with pytest.raises(ValueError, match="is a file"):
        publish_experiment(experiment, a_file, force=True)
    assert a_file.read_text() == "x"
    with pytest.raises(ValueError, match="another folder than the experiment"):
        publish_experiment(experiment, experiment, force=True)


@pytest.mark.parametrize(
    "missing, stage",
    [
        ("best_model.pth", "asteroid-wsas train"),
        ("conf.yml", "asteroid-wsas train"),
        ("final_metrics.json", "asteroid-wsas evaluate"),
    ],
)
def test_missing_file_names_the_stage_that_writes_it(experiment, tmp_path, missing, stage):
    partial = tmp_path / "exp"
    shutil.copytree(experiment, partial)
    (partial / missing).unlink()
    with pytest.raises(ValueError, match=f"{missing} not found.*{stage}"):
        publish_experiment(partial, tmp_path / "pub")
    assert not (tmp_path / "pub").exists()  # nothing written before the checks pass


def test_bad_inputs_are_named(experiment, tmp_path):
    with pytest.raises(ValueError, match="experiment folder .* not found"):
        publish_experiment(tmp_path / "nowhere", tmp_path / "pub")
    broken = tmp_path / "exp"
    shutil.copytree(experiment, broken)
    (broken / "final_metrics.json").write_text('{"rows": []}')
    with pytest.raises(ValueError, match="not a final_metrics.json"):
        publish_experiment(broken, tmp_path / "pub")
    (broken / "final_metrics.json").write_text('{"metrics": {"sdr": {"mea')  # cut short
    with pytest.raises(ValueError) as err:
        publish_experiment(broken, tmp_path / "pub")
    assert str(err.value) == (
        f"{broken / 'final_metrics.json'}: not valid JSON (Unterminated string starting at: "
        "line 1 column 22 (char 21)); rewrite it or write it again"
    )
    with pytest.raises(ValueError, match="license"):
        publish_experiment(experiment, tmp_path / "pub", license=" ")
    # a moved experiment: its conf.yml names an encoder file that is gone
    moved = tmp_path / "moved"
    shutil.copytree(experiment, moved)
    shutil.move(moved / "encoder", tmp_path / "elsewhere")
    conf = yaml.safe_load((moved / "conf.yml").read_text())
    conf["encoder"]["name"] = str(moved / "encoder" / "tiny.pth")
    (moved / "conf.yml").write_text(yaml.safe_dump(conf))
    with pytest.raises(ValueError, match="tiny.pth named in .* is not there.*--encoder"):
        publish_experiment(moved, tmp_path / "pub")
    assert not (tmp_path / "pub").exists()
    publish_experiment(moved, tmp_path / "pub", encoder=str(tmp_path / "elsewhere" / "tiny.pth"))
    vocab = Separator.from_pretrained(tmp_path / "pub").encoder.vocab
    assert vocab == Separator.from_pretrained(experiment / "best_model.pth").encoder.vocab


def test_command_line_through_add_publish_parser(experiment, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="asteroid-wsas")
    sub = parser.add_subparsers(dest="command", required=True)
    publish_parser = add_publish_parser(sub)
    # every option says what it does and its default (or that it is required)
    for action in publish_parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help and ("default" in action.help or "required" in action.help)
    out = tmp_path / "pub"
    args = parser.parse_args(["publish", str(experiment), "-o", str(out)])
    assert args.func is cmd_publish and args.license == DEFAULT_LICENSE and not args.force
    args = parser.parse_args(
        ["publish", str(experiment), "-o", str(out), "--license", "apache-2.0"]
        + ["--dataset", "rendered-music", "--dataset", "music", "--test-set", "tones-2mix-test"]
        + ["--query", "the sound of cello"]
    )
    args.func(args)
    printed = capsys.readouterr().out
    assert f"model card: {out / 'README.md'}" in printed and "hf upload <user>/<repo>" in printed
    text = (out / "README.md").read_text()
    meta = _front_matter(text)
    assert meta["license"] == "apache-2.0" and meta["datasets"] == ["rendered-music", "music"]
    assert meta["model-index"][0]["results"][0]["dataset"]["name"] == "tones-2mix-test"
    assert "Queries the publisher intends it for:\n\n- `the sound of cello`" in text
    with pytest.raises(FileExistsError):  # a second run without --force
        args.func(parser.parse_args(["publish", str(experiment), "-o", str(out)]))
    with pytest.raises(SystemExit):  # -o is required
        parser.parse_args(["publish", str(experiment)])


def test_encoder_in_a_local_folder_is_copied_into_the_package(experiment, tmp_path):
    """A CLAP read from a folder of this machine would not load elsewhere: the package
    folder gets its own copy (encoder/), and still separates as the experiment does."""
    from asteroid_wsas.encoders.testing import random_clap_encoder

    clap_dir = tmp_path / "clap"
    clap = random_clap_encoder()
    clap.save_pretrained(clap_dir)
    exp = tmp_path / "exp"
    exp.mkdir()
    conf = yaml.safe_load((experiment / "conf.yml").read_text())
    conf["encoder"]["name"] = str(clap_dir)
    save_conf(conf, exp / "conf.yml")
    model = tiny_unet(text_embed_dim=clap.embed_dim, text_token_dim=clap.token_dim)
    WeakSupSystem(randomize_norm_stats(model), clap, "weak").save_separator(exp / "best_model.pth")
    shutil.copy(experiment / "final_metrics.json", exp)  # the scores are not the point here
    audio = 0.1 * torch.randn(8000, generator=torch.Generator().manual_seed(5))
    queries = ["a dog barks", "rain falls"]
    before = Separator.from_pretrained(exp / "best_model.pth").separate(
        audio, queries, sample_rate=RATE, precision="fp32"
    )

    out = tmp_path / "pub"
    card = publish_experiment(exp, out)
    assert (out / "encoder" / "config.json").is_file()
    assert torch.load(out / "separator.pth", weights_only=True)["encoder"]["name"] == "encoder"
    text = open(card, encoding="utf-8").read()
    assert "copied to `encoder/` in this folder" in text and "Queries are free text" in text
    assert "the encoder in `encoder/` comes with `separator.pth`" in text
    shutil.rmtree(clap_dir)  # gone from this machine: the folder has its own copy
    after = Separator.from_pretrained(out).separate(
        audio, queries, sample_rate=RATE, precision="fp32"
    )
    assert torch.equal(before.estimates, after.estimates) and before.presence == after.presence


def test_an_encoder_named_by_hub_id_stays_a_name():
    from types import SimpleNamespace

    from asteroid_wsas.publish import _bundle_local_encoder

    for name in ("laion/clap-htsat-unfused", "bert:bert-base-uncased"):
        separator = SimpleNamespace(encoder_name=name)
        assert _bundle_local_encoder(separator) is None and separator.encoder_name == name
