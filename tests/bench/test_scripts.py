"""The bench/ scripts keep working (tiny runs; no assertions on time)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_script(name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_model_speed_script_reports_its_figures():
    out = run_script(
        "model_speed.py",
        "--samples",
        "2048",
        "--queries",
        "2",
        "--repeats",
        "1",
        "--layouts",
        "nchw",
    )
    assert "parameters: 87.69 M" in out
    ideal = float(re.search(r"ideal ratio for 2 queries ([\d.]+)x", out).group(1))
    assert 1.0 < ideal < 2.0  # shared work exists, and 2 queries cannot beat 2x
    assert re.search(r"\[nchw\] ratio 2 queries in one call vs 2 calls: [\d.]+x", out)


def test_text_cache_script_reports_its_figures():
    out = run_script(
        "text_cache.py", "--clap", "tiny", "--steps", "2", "--pool", "20", "--seconds", "0.5"
    )
    assert re.search(r"text per step: [\d.]+ ms re-run every step, [\d.]+ ms cached", out)
    assert "(20 cached)" in out


def test_eval_speed_script_reports_its_figures():
    out = run_script(
        "eval_speed.py", "--n-mixtures", "3", "--seconds", "0.5", "--mir-eval-subset", "2"
    )
    assert re.search(r"ours: [\d.]+ s for 3 mixtures", out)
    assert re.search(r"ratio mir_eval / ours \(per mixture\): [\d.]+x", out)
    diffs = re.search(r"max \|ours - mir_eval\|.*: SDR (\S+) dB, SIR (\S+) dB", out)
    assert float(diffs.group(1)) < 1e-6 and float(diffs.group(2)) < 1e-6


def test_train_step_script_checks_the_math_and_reports_the_ratio():
    out = run_script(
        "train_step.py",
        *("--clap", "tiny", "--seconds", "0.5", "--steps", "1", "--batch", "1"),
        *("--phrases", "2", "--precision", "fp32"),
    )
    diff = float(re.search(r"\|diff\| (\S+)", out).group(1))
    assert diff < 1e-4  # ours and the authors'-way step compute the same loss
    assert re.search(r"speedup ours vs reference: [\d.]+x", out)


def test_inference_script_reports_its_figures():
    out = run_script(
        "inference.py", "--small", "--lengths", "1,3", "--repeats", "1", "--speed-seconds", "1"
    )
    rows = re.findall(r"(\d+) s of audio: real-time factor ([\d.]+), peak RSS (\d+) MB", out)
    assert [r[0] for r in rows] == ["1", "3"]
    assert re.search(r"speedup vs plain: [\d.]+", out)


def test_cli_startup_script_reports_each_case():
    out = run_script("cli_startup.py", "--repeats", "1")
    for case in ("asteroid-wsas --help", "asteroid-wsas separate --help", "import asteroid_wsas"):
        assert re.search(rf"{re.escape(case)}.* [\d.]+ s", out)
    assert re.search(r"ratio import / --help: [\d.]+x", out)
