"""The recipes' train.py: one file a user forks, which takes every option run.sh passes and
answers bad input in one line. Its whole run (kill, resume, rerun) is compared with
train()'s in tests/reliability/test_kill_resume.py; run.sh's stage 3 runs it in
tests/recipes/test_recipes.py."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
COPIES = sorted(p for p in RECIPES.glob("*/train.py") if p.parent.name != "utils")
SHELL = sorted(RECIPES.glob("*/run.sh")) + sorted((RECIPES / "utils").glob("*.sh"))


def _train_py():
    spec = importlib.util.spec_from_file_location("recipe_train", COPIES[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the parser and main; __main__ does not run
    return module


@pytest.mark.parametrize("script", ["train.py", "eval.py"])
def test_the_five_recipes_link_one_script(script):
    # their data differ in local/conf.yml only: one file in recipes/utils, a relative link
    # in each recipe (cp -rL forks a recipe with real copies)
    links = sorted(p for p in RECIPES.glob(f"*/{script}") if p.parent.name != "utils")
    assert [p.parent.name for p in links] == [
        "audiocaps",
        "music",
        "paper_tables",
        "synthetic",
        "vggsound",
    ]
    target = RECIPES / "utils" / script
    assert target.is_file() and not target.is_symlink()
    for link in links:
        assert link.is_symlink() and os.readlink(link) == f"../utils/{script}", link
        assert link.resolve() == target.resolve()
    if script == "train.py":  # library functions, not the command line's
        assert "asteroid_wsas.cli" not in target.read_text()


def _options_run_sh_passes():
    """The options of each ``python train.py`` command of the recipes' shell files, with
    those of the arrays the function that runs it builds (extra, what, ...)."""
    found = set()
    for path in SHELL:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if "python train.py" not in line:
                continue
            start = max(j for j in range(i + 1) if re.match(r"^\s*[\w]+\(\) \{", lines[j]))
            end = i
            while lines[end].rstrip().endswith("\\"):
                end += 1
            for j in range(start, end + 1):
                if j >= i or re.search(r"\w=\(|\+=\(", lines[j]):
                    code = lines[j].split("#")[0] if j < i else lines[j]
                    found |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", code))
    return found


def test_train_py_takes_every_option_run_sh_passes():
    passed = _options_run_sh_passes()
    assert {"--exp-dir", "--method", "--objective", "--num-nodes", "--protocol"} <= passed
    known = set(_train_py().parser._option_string_actions)
    assert passed <= known, passed - known


def test_the_command_line_reaches_the_config(tmp_path):
    train_py = _train_py()
    args = train_py.parser.parse_args(
        ["conf.yml", "--exp-dir", "exp/x", "--set", "training.seed=1", "--set", "data.seed=1"]
        + ["--max-steps", "5", "--gpus", "0", "--restart", "--force", "--protocol", "authors"]
    )
    assert args.set == ["training.seed=1", "data.seed=1"] and args.max_steps == 5
    assert args.restart and args.force and not args.trust_checkpoint
    with pytest.raises(FileNotFoundError):  # the steps run up to the config
        train_py.main(args)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, str(COPIES[0]), *args], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_bad_input_ends_in_one_line(tmp_path):
    conf = RECIPES / "music" / "local" / "conf.yml"
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "best_model.pth").write_bytes(b"x")  # a finished run without checkpoints
    train_py = _train_py()
    cases = {  # in this process: each error the script turns into its one line
        ("--set", "training.batch_size"): "--set expects key.sub=value",
        ("--objective", "wek"): "objective.name must be one of",
        ("--gpus", "all"): "--gpus must be auto, 0 (the CPU) or a number",
    }
    for extra, message in cases.items():
        args = train_py.parser.parse_args([str(conf), "--exp-dir", str(exp), *extra])
        with pytest.raises(
            (ValueError, FileExistsError, FileNotFoundError), match=re.escape(message)
        ):
            train_py.main(args)
    # and the script itself: one line, exit status 1
    proc = _run(str(conf), "--exp-dir", str(exp), "--root", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
    assert "error: " in proc.stderr and "best_model.pth exists; pass --force" in proc.stderr
    assert sorted(p.name for p in exp.iterdir()) == ["best_model.pth"]  # nothing written


def test_the_links_run_from_the_recipe_folder(tmp_path):
    # run.sh's `python train.py local/conf.yml`: through the link, local/ is the recipe's
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "best_model.pth").write_bytes(b"x")  # refused after the config has loaded
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for recipe in ("synthetic",):  # every recipe's train.py is the same link (test above)
        cwd = RECIPES / recipe
        proc = subprocess.run(
            [sys.executable, "train.py", "local/conf.yml", "--exp-dir", str(exp)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
        )
        assert proc.returncode == 1 and "best_model.pth exists" in proc.stderr, proc.stderr
        proc = subprocess.run(
            [sys.executable, "eval.py", "--help"], capture_output=True, text=True, cwd=cwd, env=env
        )
        assert proc.returncode == 0 and "--model" in proc.stdout, proc.stderr[-2000:]
