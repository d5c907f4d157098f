"""Issue 33, serve: an address the page cannot listen on is one line, and stopping the page
(Ctrl+C, SIGTERM) leaves no file behind, Gradio's copies of the results included.

The address tests run the command in this process (:func:`run_cli`); the stop tests run
the real ``asteroid-wsas serve`` with ``TMPDIR`` in the test's folder, separate one file
through the page's API and send the signal.
"""

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import pytest

from asteroid_wsas import webapp
from asteroid_wsas.webapp import server
from tests.helpers import default_signals

from .test_cli_errors import REPO, run_cli

EXAMPLE = os.path.join(REPO, "asteroid_wsas", "webapp_examples", "violin_and_drum.wav")
FREE_PORT_HINT = "(another server?); pass --port with a free port"


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """The system's temporary directory for this test: an empty folder of its own."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def taken_port():
    """A loopback port another server listens on."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def test_serve_on_a_port_in_use_is_one_line(temp_dir, taken_port, capsys):
    argv = ["serve", "--model", "random", "--port", taken_port]
    status, line, err = run_cli(argv, capsys)
    assert (status, line) == (
        1,
        f"error: --port {taken_port} on 127.0.0.1 is in use {FREE_PORT_HINT}",
    )
    assert err.count("\n") == 1
    assert os.listdir(temp_dir) == []  # checked before the page's folder is made


@pytest.mark.parametrize(
    "host, message",
    [
        # TEST-NET-1 (RFC 5737): never an address of a real machine
        ("192.0.2.1", "--host 192.0.2.1 is not an address of this machine"),
        # .invalid (RFC 6761): never resolves
        (
            "no-such-host.invalid",
            "--host no-such-host.invalid is neither an address nor a host name this machine knows",
        ),
    ],
    ids=["not-local", "unknown-name"],
)
def test_serve_on_a_host_it_cannot_listen_on_names_host(temp_dir, capsys, host, message):
    status, line, _ = run_cli(["serve", "--model", "random", "--host", host], capsys)
    hint = "; pass --host 127.0.0.1 (this machine only) or 0.0.0.0 (every network)"
    assert (status, line) == (1, f"error: {message}{hint}")
    assert os.listdir(temp_dir) == []


def test_serve_with_a_blank_host_is_refused(temp_dir, capsys):
    status, line, _ = run_cli(["serve", "--model", "random", "--host", " "], capsys)
    assert (status, line) == (
        1,
        "error: --host must be an address, e.g. 127.0.0.1 (this machine only)",
    )


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--max-size-mb", "nan", "--max-size-mb must be a positive number of MB, got nan"),
        ("--max-size-mb", "inf", "--max-size-mb must be a positive number of MB, got inf"),
        ("--max-size-mb", "0", "--max-size-mb must be a positive number of MB, got 0"),
        ("--max-queries", "0", "--max-queries must be 1 or more, got 0"),
        ("--port", "70000", "--port must be 1..65535, got 70000"),
    ],
)
def test_serve_options_out_of_range_are_one_line(temp_dir, capsys, option, value, message):
    """nan and inf once reached Gradio's launch: an error about converting a float."""
    status, line, _ = run_cli(["serve", "--model", "random", option, value], capsys)
    assert (status, line) == (1, f"error: {message}")
    assert os.listdir(temp_dir) == []


def test_a_port_taken_after_the_check_is_the_same_line_and_leaves_no_folder(
    temp_dir, taken_port, capsys, monkeypatch
):
    """Another server takes the port between the check and Gradio's launch: Gradio's own
    error (about ``launch()``) becomes the check's line, and the page's folder, already
    made, goes."""
    if importlib.util.find_spec("gradio") is None:  # not imported: serve chooses its cache first
        pytest.skip("gradio is not installed")
    real_check, calls = server.check_address, []

    def check_once_too_early(host, port):
        calls.append(port)
        if len(calls) > 1:  # the first call, before loading, finds the port free
            real_check(host, port)

    monkeypatch.setattr(server, "check_address", check_once_too_early)
    monkeypatch.setenv("GRADIO_TEMP_DIR", "/before")
    terminate = signal.getsignal(signal.SIGTERM)
    status, line, _ = run_cli(["serve", "--model", "random", "--port", taken_port], capsys)
    assert (status, line) == (
        1,
        f"error: --port {taken_port} on 127.0.0.1 is in use {FREE_PORT_HINT}",
    )
    assert calls == [taken_port, taken_port]
    assert os.listdir(temp_dir) == []
    # what serve changed while it ran is given back
    assert os.environ["GRADIO_TEMP_DIR"] == "/before"
    assert signal.getsignal(signal.SIGTERM) is terminate


@pytest.mark.parametrize("name, status", [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_stop_signal_raises_terminated_until_given_back(name, status):
    signum = getattr(signal, name, None)
    if signum is None or threading.current_thread() is not threading.main_thread():
        pytest.skip(f"no {name} here, or not in the main thread (where Python handles signals)")
    ignored = signal.getsignal(signum) is signal.SIG_IGN  # e.g. SIGHUP under nohup
    if ignored:  # serve keeps an ignored signal ignored; here: as from a terminal
        signal.signal(signum, signal.SIG_DFL)
    before = signal.getsignal(signum)
    handlers = server._raise_on_stop_signals()
    try:
        with pytest.raises(webapp.Terminated) as stop:
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler runs at the next bytecode; never sleeps this long
    finally:
        server._shutdown(None, None, handlers, os.environ.get("GRADIO_TEMP_DIR"))
    assert (stop.value.name, stop.value.status) == (name, status)
    assert isinstance(stop.value, KeyboardInterrupt)  # what does not know it stops as on Ctrl+C
    assert signal.getsignal(signum) is before
    if ignored:
        signal.signal(signum, signal.SIG_IGN)


def test_the_workspace_keeps_gradios_cache_while_it_runs(tmp_path):
    """Request folders older than an hour go at the next request; Gradio's cache, which
    Gradio ages file by file, stays until the server stops."""
    space = webapp.Workspace(tmp_path / "page", keep_seconds=60)
    space.cache.mkdir()
    old = space.new_request()
    hour_ago = time.time() - 3600
    for folder in (old, space.cache):
        os.utime(folder, (hour_ago, hour_ago))
    assert space.clean() == 1
    assert sorted(os.listdir(space.root)) == ["gradio"]
    space.close()
    assert not space.root.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _separate_one(url: str, cache: str) -> None:
    """One request through the page's API (Gradio copies the upload and the results into
    its cache); without gradio_client, a file put in the cache stands for them."""
    if importlib.util.find_spec("gradio_client") is None:
        with open(os.path.join(cache, "result.wav"), "wb") as f:
            f.write(b"RIFF")
        return
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=False)
    answer = client.predict(handle_file(EXAMPLE), "a violin\na drum", "", False, api_name="/run")
    assert answer[0].startswith("Separated 2 output(s)"), answer[0]


@pytest.mark.parametrize(
    "name, status, last_line",
    [("SIGTERM", 143, "terminated (SIGTERM)"), ("SIGINT", 130, "interrupted")],
)
def test_stopping_the_server_leaves_no_file(tmp_path, name, status, last_line):
    """The real process: its temporary directory is empty once it has stopped."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": REPO, "TMPDIR": str(tmp_path)}
    env.pop("GRADIO_TEMP_DIR", None)
    command = [sys.executable, "-m", "asteroid_wsas.cli", "serve", "--model", "random"]
    proc = subprocess.Popen(
        command + ["--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_signals,  # as from a terminal, even where the tests run under nohup
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 120  # imports torch and Gradio: seconds, more on a busy machine
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, proc.communicate()
                time.sleep(0.2)
        (page,) = os.listdir(tmp_path)
        assert page.startswith("asteroid-wsas-page-")
        cache = tmp_path / page / "gradio"
        if name == "SIGTERM":
            _separate_one(url, str(cache))
        assert any(files for _, _, files in os.walk(cache))  # Gradio's copies are in there
        proc.send_signal(getattr(signal, name))
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == status, err
    assert err.splitlines()[-1] == last_line
    assert "Traceback" not in err
    assert f"temporary files: {tmp_path / page} (removed when the server stops)" in out
    assert os.listdir(tmp_path) == []
