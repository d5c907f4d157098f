"""The README and the docs tell the truth: their Python examples run, the site builds."""

import functools
import re
import subprocess
import tempfile
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


@functools.lru_cache(maxsize=None)
def run_block(code: str) -> subprocess.CompletedProcess:
    """Run one example as a user would, in a fresh interpreter and an empty directory."""
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run(
            [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300
        )


@pytest.mark.parametrize("code", list(python_blocks()))
def test_python_examples_run(code):
    if code.startswith("# needs:"):  # an example that needs the hub or a user's files
        pytest.skip(code.splitlines()[0][2:])
    result = run_block(code)
    assert result.returncode == 0, result.stderr[-3000:]


def test_only_examples_marked_as_needing_resources_are_skipped():
    skipped = [c for c in (p.values[0] for p in python_blocks()) if c.startswith("# needs:")]
    assert len(skipped) <= 2  # the CLAP hub and LAION checkpoint examples


def test_readme_states_install_and_test_commands():
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[dev]"' in readme
    assert "python -m pytest" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[dev]"' in ci and "python -m pytest" in ci


def test_readme_example_prints_what_it_claims():
    separate_example, save_example = FENCE.findall((ROOT / "README.md").read_text())[:2]
    assert "torch.Size([1, 2, 32000])" in run_block(separate_example).stdout
    assert run_block(save_example).stdout.strip() == "TextCondUNet"


def test_docs_build_offline(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "models" / "text_cond_unet" / "index.html").exists()
