"""Issue 33, inputs on the command line: window options, devices, named pipes, file names
that are not UTF-8, queries the encoder cannot read and a moved encoder. Each test asserts
the exact last line on stderr (or the warning line), the exit status and the files left.
"""

import os
import threading

import numpy as np
import pytest
import soundfile as sf
import torch

from asteroid_wsas.cli import main
from asteroid_wsas.encoders.tiny import save_encoder

from ..helpers import moved_encoder_run, named_pipe, tiny_separator
from .test_cli_errors import SYNTHETIC, run_cli

QUERY = "a dog barks"
CPU_ONLY = not torch.cuda.is_available() and not torch.backends.mps.is_available()


@pytest.fixture(scope="module")
def separator():
    return tiny_separator([QUERY, "a bell rings"])


@pytest.fixture(scope="module")
def model_dir(separator, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model") / "sep"
    separator.save_pretrained(folder)
    return folder


def _wav_bytes(tmp_path):
    """Half a second of 16-bit noise at 8 kHz, as a WAV file's bytes."""
    rng = np.random.default_rng(0)
    path = tmp_path / "source.wav"
    sf.write(path, 0.1 * rng.standard_normal(4000), 8000, subtype="PCM_16")
    data = path.read_bytes()
    path.unlink()
    return data


def _files(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def _separate(inputs, out, model, *more):
    return ["separate", *inputs, "-q", QUERY, "-o", out, "--model", model, *more]


# ------------------------------------------------------------------- 3. --chunk-seconds
@pytest.mark.parametrize(
    "options, message",
    [
        (
            ["--chunk-seconds", "0.01"],
            "error: --chunk-seconds=0.01 is 80 samples at the model's 8000 Hz, shorter than "
            "its STFT window (126 samples): give at least 0.016",
        ),
        (
            ["--chunk-seconds", "nan"],
            "error: --chunk-seconds must be a finite number of seconds > 0, got nan",
        ),
        (
            ["--chunk-seconds", "inf"],
            "error: --chunk-seconds must be a finite number of seconds > 0, got inf",
        ),
        (
            ["--chunk-seconds", "0"],
            "error: --chunk-seconds must be a finite number of seconds > 0, got 0.0",
        ),
        (
            ["--chunk-seconds", "-2"],
            "error: --chunk-seconds must be a finite number of seconds > 0, got -2.0",
        ),
        (
            ["--overlap-seconds", "nan"],
            "error: --overlap-seconds must be a finite number of seconds >= 0, got nan",
        ),
        (
            ["--overlap-seconds", "6"],
            "error: --chunk-seconds must be at least twice --overlap-seconds, got 10 and 6",
        ),
        (
            ["--chunk-seconds", "1e308"],
            "error: --chunk-seconds=1e+308 is too long to count in samples",
        ),
    ],
    ids=["0.01", "nan", "inf", "zero", "negative", "overlap-nan", "overlap-too-long", "1e308"],
)
def test_bad_window_options_are_named_not_blamed_on_the_input(
    model_dir, tmp_path, capsys, options, message
):
    (tmp_path / "in.wav").write_bytes(_wav_bytes(tmp_path))
    argv = _separate([tmp_path / "in.wav"], tmp_path / "out", model_dir, *options)
    status, line, err = run_cli(argv, capsys)
    assert (status, line) == (1, message)
    assert "Traceback" not in err and "in.wav" not in line
    assert _files(tmp_path / "out") == []


# ----------------------------------------------------------------------------- 7. --device
@pytest.mark.skipif(not CPU_ONLY, reason="the messages list a CPU-only machine's devices")
@pytest.mark.parametrize("device", ["cuda", "cuda:3", "mps"])
@pytest.mark.parametrize("command", ["separate", "evaluate", "serve", "train-encoder"])
def test_a_device_this_machine_lacks_is_one_line(model_dir, tmp_path, capsys, command, device):
    (tmp_path / "in.wav").write_bytes(_wav_bytes(tmp_path))
    out = tmp_path / "out"
    argv = {
        "separate": _separate([tmp_path / "in.wav"], out, model_dir),
        "evaluate": ["evaluate", "m.json", "--mixture", "-o", out],
        "serve": ["serve", "--model", model_dir],
        "train-encoder": ["train-encoder", "-o", out / "enc.pth", "--steps", "1"],
    }[command]
    status, line, err = run_cli(argv + ["--device", device], capsys)
    assert (status, line) == (
        1,
        f"error: --device {device}: not available here (this machine has: cpu)",
    )
    assert err.count("\n") == 1
    assert _files(tmp_path) == ["in.wav"]


@pytest.mark.parametrize("device, shown", [("foo", "foo"), ("", "''")])
def test_a_device_name_that_is_no_device_is_one_line(model_dir, tmp_path, capsys, device, shown):
    (tmp_path / "in.wav").write_bytes(_wav_bytes(tmp_path))
    argv = _separate([tmp_path / "in.wav"], tmp_path / "out", model_dir, "--device", device)
    status, line, _ = run_cli(argv, capsys)
    have = "cpu" if CPU_ONLY else "cpu, "
    assert status == 1 and line.startswith(
        f"error: --device {shown}: not a device (e.g. cpu, cuda, cuda:1, mps; this machine "
        f"has: {have}"
    )
    assert _files(tmp_path) == ["in.wav"]


@pytest.mark.skipif(not CPU_ONLY, reason="the message lists a CPU-only machine's devices")
def test_train_with_gpus_this_machine_lacks_is_one_line(tmp_path, capsys):
    argv = ["train", SYNTHETIC, "--exp-dir", tmp_path / "exp", "--gpus", "2"]
    status, line, _ = run_cli(argv, capsys)
    assert (status, line) == (
        1,
        "error: --gpus 2: not available here (this machine has: cpu); --gpus 0 trains on the CPU",
    )
    assert _files(tmp_path) == []


# --------------------------------------------------------------- 5. a named pipe, <(...)
def test_a_named_pipe_is_separated_like_a_file(model_dir, tmp_path, capsys):
    pipe = tmp_path / "pipe.wav"
    writer = named_pipe(pipe, _wav_bytes(tmp_path))
    status, _, err = run_cli(_separate([pipe], tmp_path / "out", model_dir), capsys)
    writer.join(10)
    assert status == 0, err
    assert _files(tmp_path / "out") == ["a_dog_barks.wav"]
    info = sf.info(tmp_path / "out" / "a_dog_barks.wav")
    assert (info.samplerate, info.frames, info.subtype) == (8000, 4000, "FLOAT")


def test_a_dev_fd_path_is_separated_like_a_file(model_dir, tmp_path, capsys):
    """What bash's <(cat in.wav) gives: /dev/fd/N, the read end of a pipe."""
    if not os.path.isdir("/dev/fd"):
        pytest.skip("no /dev/fd here")
    data = _wav_bytes(tmp_path)
    read, write = os.pipe()

    def feed():
        with os.fdopen(write, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        status, _, err = run_cli(
            _separate([f"/dev/fd/{read}"], tmp_path / "out", model_dir), capsys
        )
    finally:
        writer.join(10)
        os.close(read)
    assert status == 0, err
    assert _files(tmp_path / "out") == ["a_dog_barks.wav"]


def test_an_empty_pipe_or_dev_null_is_named_empty(model_dir, tmp_path, capsys):
    pipe = tmp_path / "pipe.wav"
    writer = named_pipe(pipe, b"")
    for source in (pipe, "/dev/null"):
        status, line, _ = run_cli(_separate([source], tmp_path / "out", model_dir), capsys)
        assert (status, line) == (1, f"error: audio file {source} is empty")
    writer.join(10)
    assert _files(tmp_path / "out") == []


# --------------------------------------------------------------- 6. a name not in UTF-8
def _bad_name(folder, name=b"\xff.wav"):
    """A file whose name is not valid UTF-8, as Python names it (surrogates)."""
    path = os.path.join(os.fsencode(folder), name)
    try:
        with open(path, "wb") as f:
            f.write(b"")
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    return os.fsdecode(path)


def test_a_file_name_that_is_not_utf8_is_separated(model_dir, tmp_path, capsysbinary):
    """Its outputs' folder and the lines printed carry the name's own bytes back out."""
    first = _bad_name(tmp_path, b"\xff.wav")
    second = _bad_name(tmp_path, b"caf\xe9.wav")  # Latin-1
    data = _wav_bytes(tmp_path)
    for path in (first, second):
        with open(path, "wb") as f:
            f.write(data)
    out = tmp_path / "out"
    main([str(a) for a in _separate([first, second], out, model_dir)])
    printed = capsysbinary.readouterr().out
    assert sorted(os.listdir(os.fsencode(out))) == [b"caf\xe9", b"\xff"]  # the same bytes
    assert os.listdir(os.path.join(os.fsencode(out), b"\xff")) == [b"a_dog_barks.wav"]
    assert os.fsencode(first) + b" -> " + os.fsencode(out) + b"/\xff: " in printed
    # alone: its outputs in -o, and the line that names them printed
    main([str(a) for a in _separate([first], tmp_path / "one", model_dir)])
    assert capsysbinary.readouterr().out.startswith(os.fsencode(tmp_path) + b"/one/a_dog_barks")
    assert _files(tmp_path / "one") == ["a_dog_barks.wav"]


def test_a_missing_file_whose_name_is_not_utf8_is_one_line(model_dir, tmp_path, capsys):
    missing = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"\xfe.wav"))
    status, line, err = run_cli(_separate([missing], tmp_path / "out", model_dir), capsys)
    assert (status, line) == (1, f"error: input(s) not found: {missing}")
    assert "Traceback" not in err and _files(tmp_path) == []


# --------------------------------------------------------- 4. a query read as nothing
def test_a_query_the_encoder_reads_as_nothing_is_one_warning_line(model_dir, tmp_path, capsys):
    (tmp_path / "in.wav").write_bytes(_wav_bytes(tmp_path))
    argv = ["separate", tmp_path / "in.wav", "-q", QUERY, "-q", "犬が吠える"]
    argv += ["-o", tmp_path / "out", "--model", model_dir]
    status, _, err = run_cli(argv, capsys)
    assert status == 0
    assert err.splitlines() == [
        "warning: query '犬が吠える' has no characters the text encoder reads (it reads a-z, "
        "0-9 and ', accents folded); its estimate will be a guess"
    ]
    assert _files(tmp_path / "out") == ["a_dog_barks.wav", "query.wav"]


# ----------------------------------------------------------------- 8. a moved encoder
def test_a_moved_encoder_is_named_with_its_conf_and_the_option(separator, tmp_path, capsys):
    run, gone = moved_encoder_run(separator, tmp_path)
    (tmp_path / "in.wav").write_bytes(_wav_bytes(tmp_path))
    argv = _separate([tmp_path / "in.wav"], tmp_path / "out", run / "best_model.pth")
    status, line, err = run_cli(argv, capsys)
    assert (status, line) == (
        1,
        f"error: the encoder file {gone} named in {run / 'conf.yml'} is not there; pass its "
        "new place (--encoder PATH)",
    )
    assert "hub" not in err and "CLAP" not in err
    assert _files(tmp_path / "out") == []
    # the advice works: --encoder with the file's new place
    save_encoder(separator.encoder, tmp_path / "moved.pth")
    status, _, err = run_cli(argv + ["--encoder", tmp_path / "moved.pth"], capsys)
    assert status == 0, err
    assert _files(tmp_path / "out") == ["a_dog_barks.wav"]
