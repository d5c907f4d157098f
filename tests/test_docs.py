"""The README and the docs tell the truth: their Python examples run, the site builds."""

import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks():
    for page in PAGES:
        for i, code in enumerate(FENCE.findall(page.read_text())):
            yield pytest.param(code, id=f"{page.relative_to(ROOT)}#{i}")


# Runs each example in a fresh namespace and an empty directory. All examples share one
# interpreter: starting one per example (torch + transformers imports) took minutes.
DRIVER = """
import contextlib, io, json, os, sys, tempfile, traceback
blocks = json.load(sys.stdin)
results = []
for code in blocks:
    out = io.StringIO()
    with tempfile.TemporaryDirectory() as cwd:
        os.chdir(cwd)
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, "<example>", "exec"), {"__name__": "__main__"})
            error = None
        except BaseException:
            error = traceback.format_exc()
        os.chdir("/")
    results.append({"stdout": out.getvalue(), "error": error})
print(json.dumps(results))
"""


@functools.lru_cache(maxsize=None)
def run_all() -> dict:
    codes = [p.values[0] for p in python_blocks() if not p.values[0].startswith("# needs:")]
    result = subprocess.run(
        [sys.executable, "-c", DRIVER],
        input=json.dumps(codes),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(zip(codes, json.loads(result.stdout.splitlines()[-1])))


def run_block(code: str) -> dict:
    """stdout and error (traceback or None) of one example."""
    return run_all()[code]


@pytest.mark.parametrize("code", list(python_blocks()))
def test_python_examples_run(code):
    if code.startswith("# needs:"):  # an example that needs the hub or a user's files
        pytest.skip(code.splitlines()[0][2:])
    result = run_block(code)
    assert result["error"] is None, result["error"][-3000:]


def test_only_examples_marked_as_needing_resources_are_skipped():
    skipped = [c for c in (p.values[0] for p in python_blocks()) if c.startswith("# needs:")]
    assert len(skipped) <= 2  # the CLAP hub and LAION checkpoint examples


def test_readme_states_install_and_test_commands():
    readme = (ROOT / "README.md").read_text()
    install = 'pip install -e ".[dev]" -c constraints.txt'
    assert install in readme and "python -m pytest" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert install in ci and "python -m pytest" in ci
    # the constraints pin a torch / torchaudio pair inside setup.py's ranges
    pins = dict(
        line.split("==")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins["torch"] == pins["torchaudio"]
    # the system packages of the README's set-up are the ones CI installs
    apt = re.search(r"apt-get install ([a-z0-9 -]+?)\s*$", readme, re.M).group(1).split()
    ci_packages = re.search(r"packages=\(([^)]*)\)", ci).group(1).split()
    assert apt == ci_packages
    assert {"fluidsynth", "fluid-soundfont-gm", "espeak-ng", "chromium"} <= set(apt)


def test_readme_example_prints_what_it_claims():
    separate_example, save_example = FENCE.findall((ROOT / "README.md").read_text())[:2]
    assert "torch.Size([1, 2, 32000])" in run_block(separate_example)["stdout"]
    assert run_block(save_example)["stdout"].strip() == "TextCondUNet"


def test_docs_build_offline(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "models" / "text_cond_unet" / "index.html").exists()
