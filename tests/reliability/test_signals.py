"""Issue 33, stop signals: SIGTERM stops any command as Ctrl+C does, after the same
clean-up, with one line and the status a shell reports (128 + the signal)."""

import os
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from asteroid_wsas.signals import Terminated, raise_on_stop_signals, restore_handlers
from tests.helpers import default_signals, tiny_separator
from tests.reliability.test_cli_errors import REPO

RATE = 8000


def _wav_header_of_unknown_length(rate: int) -> bytes:
    """A mono float WAV header whose sizes say "unknown", as ffmpeg writes to a pipe."""
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)  # IEEE float, mono, 32 bit
    return (
        b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", 0xFFFFFFFF)
    )  # fmt: skip


def test_stop_signals_raise_terminated_and_are_given_back():
    before = signal.getsignal(signal.SIGTERM)
    handlers = raise_on_stop_signals()
    try:
        with pytest.raises(Terminated) as stop:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs between bytecodes: well before this ends
        assert (stop.value.name, stop.value.status) == ("SIGTERM", 143)
        assert isinstance(stop.value, KeyboardInterrupt)  # cleaned up as Ctrl+C
    finally:
        restore_handlers(handlers)
    assert signal.getsignal(signal.SIGTERM) == before


def test_sigterm_while_streaming_leaves_no_part_file(tmp_path):
    model = tmp_path / "model"
    tiny_separator(["a dog barks"]).save_pretrained(model)
    out = tmp_path / "out"
    argv = ["separate", "-", "-o", out, "--model", model, "-q", "a dog barks"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "asteroid_wsas.cli", *map(str, argv)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": REPO},
        preexec_fn=default_signals,  # as from a terminal, even under nohup
    )
    try:
        noise = 0.1 * np.random.default_rng(0).standard_normal(4 * RATE).astype("<f4")
        proc.stdin.write(_wav_header_of_unknown_length(RATE) + noise.tobytes())
        proc.stdin.flush()  # and kept open: the stream goes on, the outputs are half written
        deadline = time.monotonic() + 120
        while not (out.is_dir() and any(n.endswith(".part") for n in os.listdir(out))):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no .part file appeared"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = err.decode().strip().splitlines()
    assert (proc.returncode, lines[-1]) == (143, "terminated (SIGTERM)")
    assert "Traceback" not in err.decode()
    assert not out.exists()  # the half-written outputs removed, and the folder made for them
