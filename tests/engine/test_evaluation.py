"""Scoring a run on another set's test (check_classes_of, evaluate --classes-of), and what
scoring imports."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asteroid_wsas.cli import main
from asteroid_wsas.data import build_test_set, write_manifest
from asteroid_wsas.data.audio import probe
from asteroid_wsas.data.testsets import Candidate
from asteroid_wsas.engine.evaluation import check_classes_of
from asteroid_wsas.encoders.loading import _TEXT_ONLY
from tests.helpers import tiny_unet

ROOT = Path(__file__).resolve().parents[2]


def _manifest(folder, labels, rate=8000, seed=0):
    """A 2-source test set of noise clips, one clip per class label."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    candidates = []
    for label in labels:
        path = folder / f"{label}.wav"
        sf.write(path, 0.2 * rng.standard_normal(rate), rate, subtype="FLOAT")
        candidates.append(Candidate(label, probe(str(path)), label, f"The sound of {label}"))
    test_set = build_test_set("t", candidates, folder, seconds=0.5, sample_rate=rate, seed=seed)
    write_manifest(test_set, folder / "test_2mix.json")
    return folder / "test_2mix.json"


def test_a_set_of_the_same_or_fewer_classes_passes_and_another_class_is_named(tmp_path):
    own = _manifest(tmp_path / "own", ["beep", "hum", "bell"])
    other = _manifest(tmp_path / "other", ["bell", "beep", "hum"], seed=1)
    fewer = _manifest(tmp_path / "fewer", ["beep", "hum"], seed=2)
    assert check_classes_of(other, own) == ["beep", "bell", "hum"]
    assert check_classes_of(fewer, own) == ["beep", "hum"]
    new = _manifest(tmp_path / "new", ["beep", "siren", "whistle"], seed=3)
    with pytest.raises(ValueError) as err:
        check_classes_of(new, own)
    assert f"{new} asks 2 class(es) that {own} does not have: siren, whistle" in str(err.value)
    fast = _manifest(tmp_path / "fast", ["beep", "hum"], rate=16000)
    with pytest.raises(ValueError, match="is at 16000 Hz, .* at 8000 Hz"):
        check_classes_of(fast, own)


def test_evaluate_scores_another_set_into_its_own_folder_and_keeps_what_is_there(tmp_path):
    own = _manifest(tmp_path / "own", ["beep", "hum", "bell"])
    other = _manifest(tmp_path / "other", ["bell", "beep", "hum"], seed=1)
    out = tmp_path / "exp" / "on_other"
    argv = ["evaluate", str(other), "-o", str(out), "--mixture", "--classes-of", str(own)]
    main(argv)
    first = json.loads((out / "final_metrics.json").read_text())
    assert first["counts"]["mixtures"] == 3
    with pytest.raises(SystemExit, match="exists"):
        main(argv)
    main(argv + ["--force"])
    new = _manifest(tmp_path / "new", ["beep", "whistle"], seed=3)
    argv = ["evaluate", str(new), "-o", str(tmp_path / "on_new"), "--mixture"]
    with pytest.raises(SystemExit, match="does not have: whistle"):
        main(argv + ["--classes-of", str(own)])
    assert not (tmp_path / "on_new").exists()  # refused before anything is written
    main(argv)  # without the option: scored, whatever its classes
    audio = ["evaluate", "-o", str(tmp_path), "--model", "m", "--audio", "x.wav"]
    with pytest.raises(SystemExit, match="--classes-of"):
        main(audio + ["--classes-of", str(own)])


def test_a_device_this_machine_lacks_is_named_before_any_work(tmp_path):
    import torch

    from asteroid_wsas.engine.evaluation import evaluate, score_recordings

    manifest = _manifest(tmp_path / "set", ["violin", "drum"])
    have = "cpu" if not torch.cuda.is_available() else None
    for call in (
        lambda: evaluate(None, None, manifest, tmp_path / "out", device="cuda:7"),
        lambda: score_recordings("not-read", [tmp_path / "set"], ["a"], None, "o", device="cuda:7"),
    ):
        with pytest.raises(ValueError, match=r"^device cuda:7: not available here") as info:
            call()
        if have:
            assert info.value.args[0].endswith("(this machine has: cpu)")
    assert not (tmp_path / "out").exists()  # nothing written


def test_scoring_and_tables_import_neither_lightning_nor_transformers(tmp_path):
    """A recipe trains its small encoder, scores every run and prints its table in processes
    of their own (stages 2 and 4): Lightning (with torchmetrics, which imports transformers)
    would cost each seconds it does not use."""
    import torch

    manifest = _manifest(tmp_path / "set", ["beep", "hum"])
    torch.save(tiny_unet().serialize(), tmp_path / "model.pth")
    out = tmp_path / "out"
    code = (
        "import sys\n"
        "from asteroid_wsas.cli import main\n"
        "from asteroid_wsas.encoders.tiny import save_encoder\n"
        "from tests.helpers import tiny_encoder\n"
        "save_encoder(tiny_encoder(['The sound of beep', 'The sound of hum']), sys.argv[1])\n"
        "main(sys.argv[2:])\n"
        "scores = sys.argv[5]\n"
        "main(['compare', f'Mixture={scores}', f'run={scores}', '-o', sys.argv[1] + '.md'])\n"
        "print(','.join(m for m in ('pytorch_lightning', 'transformers') if m in sys.modules)"
        " or '-')\n"
    )
    argv = [str(tmp_path / "enc.pth"), "evaluate", str(manifest), "-o", str(out), "--model"]
    argv += [str(tmp_path / "model.pth"), "--encoder", str(tmp_path / "enc.pth")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "final_metrics.json").is_file()  # it did score
    assert "| run | 1 |" in (tmp_path / "enc.pth.md").read_text()  # and tabled
    assert proc.stdout.splitlines()[-1] == "-"


def test_the_encoder_kinds_by_name_are_those_of_their_classes():
    import importlib

    for kind, (module, name) in _TEXT_ONLY.items():
        cls = getattr(importlib.import_module(module, "asteroid_wsas.encoders"), name)
        assert cls.kind == kind
