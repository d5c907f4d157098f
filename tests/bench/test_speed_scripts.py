"""The side-by-side speed scripts run and print their tables (tiny runs, one repeat; no
assertion on time). They run in this process: a Python start-up with torch costs more
than the runs themselves."""

import importlib
import json
import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
ROW = r"\| {name} \| [\d.]+ \| [\d.]+ \| [\d.]+x \| {goal} \| (yes|no)? \| [\d.]+x \|"


@pytest.fixture()
def run_main(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCH))

    def run(script: str, *args: str) -> str:
        module = importlib.import_module(script)
        monkeypatch.setattr(sys, "argv", [script, *args])
        module.main()
        return capsys.readouterr().out

    return run


def test_query_speed_prints_each_row(run_main, tmp_path):
    path = tmp_path / "q.json"
    out = run_main(
        "query_speed",
        *("--small", "--seconds", "0.5", "--repeats", "1", "--queries", "1,8"),
        *("--no-gpu", "--json", str(path)),
    )
    assert re.search(r"machine: .*; bf16 ISA \S+; \d+ threads; torch ", out)
    for name, goal in [
        ("forward fp32, 1 query", r">= 1\.5x"),
        ("Separator.separate default, 1 query", r">= 5x"),
        ("forward fp32, 8 queries", ""),
        ("Separator.separate default, 8 queries", r">= 8x"),
    ]:
        assert re.search(ROW.format(name=re.escape(name), goal=goal), out), name
    payload = json.loads(path.read_text())
    assert {"machine", "cpu"} <= set(payload) and len(payload["cpu"]) == 4
    assert payload["machine"]["threads"] >= 1


def test_weak_step_speed_checks_the_math_and_prints_its_row(run_main, tmp_path):
    path = tmp_path / "w.json"
    out = run_main(
        "weak_step_speed",
        *("--small", "--seconds", "0.25", "--repeats", "1", "--phrases", "1"),
        *("--no-gpu", "--json", str(path)),
    )
    diff = float(re.search(r"\|diff\| (\S+)", out).group(1))
    assert diff < 1e-4  # the two ways compute the same loss
    assert re.search(ROW.format(name=r"weak step, ours fp32, 1 x 4 queries", goal=r">= 1\.5x"), out)
    assert json.loads(path.read_text())["cpu"]["row"]["goal"] == 1.5
