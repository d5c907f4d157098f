"""Issue 33, tracebacks: no Python traceback reaches a command-line user, whatever the input.

One test per case. Each asserts the exact last line on stderr, the exit status and the
files left afterwards. The command runs in this process (:func:`run_cli`), as the console
script runs it, so a ``SystemExit`` whose code is a string is the one line Python prints
with status 1; one test runs the real process to see the whole of stderr.
"""

import os
import subprocess
import sys

import pytest

from asteroid_wsas.cli import main, serve

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYNTHETIC = os.path.join(REPO, "recipes", "synthetic", "local", "conf.yml")
HINT = "(rerun with --debug for the traceback)"


def run_cli(argv, capsys):
    """Run ``asteroid-wsas argv``; return (exit status, stderr's last line, all of stderr)."""
    try:
        main([str(a) for a in argv])
        status, line = 0, None
    except SystemExit as stop:
        # Python prints a string code on stderr and exits with 1
        status, line = (1, stop.code) if isinstance(stop.code, str) else (stop.code, None)
    err = capsys.readouterr().err
    if line is None:
        line = err.rstrip("\n").splitlines()[-1] if err.strip() else ""
    else:
        err += line + "\n"
    return status, line, err


def _files(folder):
    return sorted(os.listdir(folder))


def _recipe(tmp_path, old, new, name="conf.yml"):
    """The synthetic recipe's config with one line changed."""
    with open(SYNTHETIC, encoding="utf-8") as f:
        text = f.read()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_train_with_a_yaml_syntax_error_names_the_file_and_line(tmp_path, capsys):
    conf = tmp_path / "conf.yml"
    conf.write_text("data:\n  dataset: music\n  root: a: b\n", encoding="utf-8")
    status, line, err = run_cli(["train", conf, "--exp-dir", tmp_path / "exp"], capsys)
    assert (status, line) == (
        1,
        f"error: {conf}, line 3: not valid YAML (mapping values are not allowed here); "
        "fix the file",
    )
    assert "Traceback" not in err
    assert _files(tmp_path) == ["conf.yml"]


def test_train_with_a_text_learning_rate_names_the_key_and_leaves_no_folder(tmp_path, capsys):
    conf = _recipe(tmp_path, "lr: 1.0e-3", 'lr: "abc"')
    (tmp_path / "root").mkdir()
    argv = ["train", conf, "--exp-dir", tmp_path / "exp", "--root", tmp_path / "root"]
    status, line, err = run_cli(argv, capsys)
    assert (status, line) == (1, f"error: {conf}: optim.lr must be a positive number, got 'abc'")
    assert _files(tmp_path) == ["conf.yml", "root"]  # no experiment folder


def test_train_max_steps_zero_is_refused(tmp_path, capsys):
    argv = ["train", SYNTHETIC, "--exp-dir", tmp_path / "exp", "--max-steps", "0"]
    status, line, _ = run_cli(argv, capsys)
    assert (status, line) == (
        1,
        "error: --max-steps must be a positive number of steps, got 0 "
        "(leave it out for the config's training.max_steps)",
    )
    assert _files(tmp_path) == []


def test_resume_after_a_config_change_is_refused_and_conf_yml_kept(tmp_path, capsys):
    from asteroid_wsas.engine.config import load_conf, save_conf

    exp, root = tmp_path / "exp", tmp_path / "root"
    root.mkdir()
    (exp / "checkpoints").mkdir(parents=True)
    (exp / "checkpoints" / "last.ckpt").write_bytes(b"a kill left it")
    save_conf(load_conf(SYNTHETIC, {"data": {"root": str(root)}}), exp / "conf.yml")
    saved = (exp / "conf.yml").read_bytes()
    argv = ["train", SYNTHETIC, "--exp-dir", exp, "--root", root]
    status, line, _ = run_cli(argv + ["--set", "training.batch_size=4"], capsys)
    assert (status, line) == (
        1,
        f"error: {exp} holds a run of another config (training.batch_size 8 -> 4); resume "
        "it with its own config, train into another folder, or start over (--restart)",
    )
    assert (exp / "conf.yml").read_bytes() == saved
    assert _files(exp) == ["checkpoints", "conf.yml"]


@pytest.mark.parametrize(
    "content, message",
    [
        (
            '{"format": "asteroid-wsas test set v1", "mixtures": 3}',
            ": not a valid test-set manifest (TypeError: 'int' object is not iterable); "
            "write it again with asteroid-wsas testset or prepare",
        ),
        (
            "[1, 2]",
            " is not an asteroid-wsas test-set manifest: write one with asteroid-wsas "
            "testset or prepare",
        ),
    ],
    ids=["wrong-mixtures", "a-list"],
)
def test_evaluate_a_manifest_of_the_wrong_shape_names_the_manifest(
    tmp_path, capsys, content, message
):
    manifest = tmp_path / "test.json"
    manifest.write_text(content)
    argv = ["evaluate", manifest, "--mixture", "-o", tmp_path / "scores"]
    status, line, _ = run_cli(argv, capsys)
    assert (status, line) == (1, f"error: {manifest}{message}")
    assert _files(tmp_path) == ["test.json"]


def test_evaluate_a_truncated_json_file_names_the_file(tmp_path):
    """The real process: stderr is exactly one line."""
    manifest = tmp_path / "test.json"
    manifest.write_text('{"format": "asteroid-wsas te')
    proc = subprocess.run(
        [sys.executable, "-m", "asteroid_wsas.cli", "evaluate", str(manifest), "--mixture"]
        + ["-o", str(tmp_path / "scores")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": REPO},
        timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"error: {manifest}: not valid JSON (Unterminated string starting at: line 1 column "
        "12 (char 11)); rewrite it or write it again"
    ]
    assert _files(tmp_path) == ["test.json"]


def _raising(error):
    def cmd(args):
        raise error

    return cmd


def test_export_to_a_json_path_is_refused_before_asking_for_force(tmp_path, capsys):
    (tmp_path / "x.json").write_text("{}")
    argv = ["export", tmp_path / "no-model", "--queries", "a dog barks", "-o", tmp_path / "x.json"]
    status, line, _ = run_cli(argv, capsys)
    x = tmp_path / "x"
    assert (status, line) == (
        1,
        f"error: -o must name the .onnx file (its .json goes beside it), got {x}.json; "
        f"e.g. -o {x}.onnx",
    )
    assert _files(tmp_path) == ["x.json"] and (tmp_path / "x.json").read_text() == "{}"


def test_evaluate_a_manifest_without_mixtures_writes_nothing(tmp_path, capsys):
    manifest = tmp_path / "empty.json"
    manifest.write_text(
        '{"format": "asteroid-wsas test set v1", "name": "x", "root": ".", "sample_rate": '
        '8000, "seconds": 1.0, "seed": 0, "mixtures": []}'
    )
    argv = ["evaluate", manifest, "--mixture", "-o", tmp_path / "scores"]
    status, line, _ = run_cli(argv, capsys)
    assert (status, line) == (
        1,
        f"error: {manifest} holds no mixtures: nothing to score; build it again with "
        "asteroid-wsas testset or prepare",
    )
    assert _files(tmp_path) == ["empty.json"]  # no final_metrics.json of nulls


def test_an_unexpected_error_is_one_line_with_a_debug_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(serve, "cmd", _raising(RuntimeError("the GPU caught fire")))
    status, line, err = run_cli(["serve", "--model", "random"], capsys)
    assert (status, line) == (1, f"error: unexpected RuntimeError: the GPU caught fire {HINT}")
    assert err.count("\n") == 1  # nothing but that line


def test_an_unexpected_error_of_several_lines_is_still_one_line(capsys, monkeypatch):
    error = OSError("We couldn't connect to the hub.\n\nCheck your internet connection.")
    monkeypatch.setattr(serve, "cmd", _raising(error))
    status, line, err = run_cli(["serve", "--model", "random"], capsys)
    assert (status, line) == (
        1,
        "error: unexpected OSError: We couldn't connect to the hub. Check your internet "
        f"connection. {HINT}",
    )
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "{conf} is a folder; give the file"),
        ("", "{conf} is empty: a recipe config is a mapping (data:, training:, ...)"),
        (
            "data:\n  dataset: music\n  dataset: vggsound\n",
            "{conf}, line 3: not valid YAML (key 'dataset' appears twice in one block; keep "
            "one); fix the file",
        ),
        (b"\xff\xfedata", "{conf} is not a UTF-8 text file (byte 0)"),
    ],
    ids=["folder", "empty", "twice", "not-utf8"],
)
def test_train_with_a_config_that_is_no_config_names_it(tmp_path, capsys, content, message):
    conf = tmp_path / "conf.yml"
    if content is None:
        conf.mkdir()
    elif isinstance(content, bytes):
        conf.write_bytes(content)
    else:
        conf.write_text(content, encoding="utf-8")
    status, line, _ = run_cli(["train", conf, "--exp-dir", tmp_path / "exp"], capsys)
    assert (status, line) == (1, "error: " + message.format(conf=conf))
    assert _files(tmp_path) == ["conf.yml"]


def test_a_full_disk_in_any_command_is_one_line_naming_the_file(capsys, monkeypatch):
    import errno

    full = OSError(errno.ENOSPC, "No space left on device", "exp/weak/checkpoints/last.ckpt")
    monkeypatch.setattr(serve, "cmd", _raising(full))
    status, line, err = run_cli(["serve", "--model", "random"], capsys)
    assert (status, line) == (
        1,
        "error: cannot write exp/weak/checkpoints/last.ckpt: No space left on device (free some "
        "space, or write to another disk)",
    )
    assert err.count("\n") == 1
    other = OSError(errno.EIO, "Input/output error")  # not the user's to fix: unexpected
    monkeypatch.setattr(serve, "cmd", _raising(other))
    status, line, _ = run_cli(["serve", "--model", "random"], capsys)
    assert (status, line) == (1, f"error: unexpected OSError: [Errno 5] Input/output error {HINT}")


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(capsys, monkeypatch, where):
    monkeypatch.setattr(serve, "cmd", _raising(RuntimeError("the GPU caught fire")))
    argv = ["serve", "--model", "random"]
    argv = ["--debug"] + argv if where == "before" else argv + ["--debug"]
    status, line, err = run_cli(argv, capsys)
    assert (status, line) == (1, "error: unexpected RuntimeError: the GPU caught fire")
    assert err.startswith("Traceback (most recent call last):")
    assert "raise error" in err


def test_ctrl_c_during_a_command_is_one_line_and_status_130(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(serve, "cmd", _raising(KeyboardInterrupt()))
    status, line, err = run_cli(["serve", "--model", "random"], capsys)
    assert (status, line, err) == (130, "interrupted", "interrupted\n")


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["generate", "music", "g", "--seconds", "nan"],
            "argument --seconds: must be a positive number, got 'nan'",
        ),
        (
            ["generate", "music", "g", "--seconds", "-1"],
            "argument --seconds: must be a positive number, got '-1'",
        ),
        (
            ["generate", "music", "g", "--sample-rate", "0"],
            "argument --sample-rate: must be a positive integer, got '0'",
        ),
        (
            ["generate", "music", "g", "--per-class", "0"],
            "argument --per-class: must be a positive integer, got '0'",
        ),
        (
            ["testset", "music", "r", "-o", "t.json", "--n-sources", "0"],
            "argument --n-sources: must be a positive integer, got '0'",
        ),
        (
            ["testset", "music", "r", "-o", "t.json", "--snr-range", "0", "inf"],
            "argument --snr-range: must be a finite number, got 'inf'",
        ),
        (
            ["evaluate", "m.json", "--mixture", "-o", "s", "--batch-size", "0"],
            "argument --batch-size: must be a positive integer, got '0'",
        ),
        (
            ["train-encoder", "-o", "e.pth", "--lr", "0"],
            "argument --lr: must be a positive number, got '0'",
        ),
        (
            ["train-encoder", "-o", "e.pth", "--seed", "-1"],
            "argument --seed: must be an integer >= 0, got '-1'",
        ),
    ],
    ids=[
        "nan",
        "negative",
        "rate-0",
        "per-class-0",
        "sources-0",
        "snr-inf",
        "batch-0",
        "lr-0",
        "seed<0",
    ],
)
def test_numbers_out_of_range_are_usage_errors_naming_the_option(
    tmp_path, capsys, monkeypatch, argv, message
):
    monkeypatch.chdir(tmp_path)
    status, line, err = run_cli(argv, capsys)
    assert (status, line) == (2, f"asteroid-wsas {argv[0]}: error: {message}")
    assert "Traceback" not in err and _files(tmp_path) == []


def test_generate_into_a_file_and_a_reversed_snr_range_are_named(tmp_path, capsys):
    (tmp_path / "x.json").write_text("{}")
    status, line, _ = run_cli(["generate", "music", tmp_path / "x.json"], capsys)
    assert (status, line) == (
        1,
        f"error: {tmp_path / 'x.json'} is a file; the dataset root is a folder to write",
    )
    argv = ["testset", "music", tmp_path, "-o", tmp_path / "t.json", "--snr-range", "10", "-10"]
    status, line, _ = run_cli(argv, capsys)
    assert (status, line) == (
        1,
        "error: --snr-range LOW HIGH: 10 is above -10; give the lower first",
    )
    assert _files(tmp_path) == ["x.json"]
