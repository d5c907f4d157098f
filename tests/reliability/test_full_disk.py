"""Issue 33, a full disk: an output that cannot be written is one ``error:`` line naming the
output file and why, not a traceback and not a blame on the input; no ``.part`` file and no
half set of outputs is left, and the inputs done before it keep theirs.

The disk fills up as soundfile writes (or closes: a WAV header is written last), as a
full disk makes libsndfile fail: "System error." with ``errno`` ENOSPC, or an ``OSError``.
"""

import errno
import os

import pytest
import soundfile as sf

from asteroid_wsas.separation.audio_io import OutputWriteError
from tests.reliability.test_cli_errors import run_cli
from tests.reliability.test_two_writers import (  # noqa: F401 - model_dir is a fixture
    _argv,
    _noise,
    _tree,
    model_dir,
)

ADVICE = "No space left on device (free some space, or pass -o on another disk)"


def _disk_fills(monkeypatch, method, after, kind="libsndfile"):
    """``SoundFile.<method>`` of files open for writing fails as on a full disk once
    ``after`` calls went through (a failed close has closed the file)."""
    real = getattr(sf.SoundFile, method)
    calls = []

    def failing(self, *args):
        if self.mode != "w" or self.closed:  # reading, or a second close (__del__'s)
            return real(self, *args)
        calls.append(self.name)
        if len(calls) <= after:
            return real(self, *args)
        if method == "close":
            real(self)
        if kind == "libsndfile":  # what libsndfile raises, with the errno the system left
            sf._ffi.errno = errno.ENOSPC
            raise sf.LibsndfileError(2)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(sf.SoundFile, method, failing)


@pytest.mark.parametrize(
    "method, kind, failing",
    [
        ("write", "libsndfile", "rain_falls.wav"),  # its second file, the first half written
        ("write", "oserror", "rain_falls.wav"),
        ("close", "libsndfile", "a_dog_barks.wav"),  # its first file's header
    ],
)
def test_a_full_disk_in_a_batch_names_the_output_and_stops(
    model_dir, tmp_path, capsys, monkeypatch, method, kind, failing
):
    for name in ("a", "b", "c"):
        _noise(tmp_path / "in" / f"{name}.wav", 0.5)
    out = tmp_path / "out"
    # input a: 2 files written and closed; input b: 1, then the disk is full
    _disk_fills(monkeypatch, method, after=3 if method == "write" else 2, kind=kind)
    status, line, err = run_cli(_argv([tmp_path / "in"], out, model_dir), capsys)
    assert (status, line) == (1, f"error: cannot write {out / 'b' / failing}: {ADVICE}")
    assert "failed:" not in err and "Traceback" not in err  # no input is blamed
    # a's outputs stay; b's are gone with their folder; c was not tried
    assert _tree(out) == ["a/a_dog_barks.wav", "a/rain_falls.wav"]


def test_a_full_disk_while_streaming_from_stdin(model_dir, tmp_path, capsys, monkeypatch):
    stream = _noise(tmp_path / "live.wav", 3.0)
    out = tmp_path / "out"
    monkeypatch.setattr("sys.stdin", open(stream, "rb"))
    _disk_fills(monkeypatch, "write", after=3)  # in the second block
    argv = _argv(["-"], out, model_dir, "--chunk-seconds", "0.5")
    status, line, err = run_cli(argv, capsys)
    assert (status, line) == (1, f"error: cannot write {out / 'rain_falls.wav'}: {ADVICE}")
    assert "Traceback" not in err
    assert _tree(out) == []  # no .part, no lock file
    assert capsys.readouterr().out == ""  # no line says it was written


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_real_full_device_reads_as_no_space():
    """libsndfile's own error on /dev/full: the errno it leaves gives the reason."""
    with pytest.raises(sf.LibsndfileError) as failure:
        sf.SoundFile("/dev/full", "w", 8000, 1, "FLOAT", format="WAV")
    error = OutputWriteError("out/x.wav", failure.value)
    assert (str(error), error.no_space) == (f"cannot write out/x.wav: {ADVICE}", True)


def test_other_write_errors_give_the_system_reason_and_no_advice():
    error = OutputWriteError("out/x.wav", PermissionError(errno.EACCES, "Permission denied"))
    assert (str(error), error.no_space) == ("cannot write out/x.wav: Permission denied", False)
    quota = OutputWriteError("out/x.wav", OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert str(quota).endswith("(free some space, or pass -o on another disk)")
