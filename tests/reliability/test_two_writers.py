"""Issue 33, two writers: two ``separate`` processes that share an output folder never leave
one input's estimates beside another's, and neither fails for the other.

The real processes wait on a lock the test holds, so that both have planned their work
before either writes: the race the lock must win is then certain, not a matter of timing.
"""

import errno
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import soundfile as sf

from asteroid_wsas.separation.audio_io import LOCK_NAME, FolderBusyError, folder_lock
from asteroid_wsas.separation.jobs import pending_jobs, plan_jobs, run_jobs, stream_to_files
from tests.helpers import tiny_separator
from tests.reliability.test_cli_errors import REPO, run_cli

fcntl = pytest.importorskip("fcntl")  # Windows writes unlocked

QUERIES = ["a dog barks", "rain falls"]
STEMS = ["a_dog_barks", "rain_falls"]
NAMES = [f"{s}.wav" for s in STEMS]
RATE = 8000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A random tiny separator that knows the queries' words, saved as --model takes it."""
    folder = tmp_path_factory.mktemp("model") / "separator"
    tiny_separator(QUERIES).save_pretrained(folder)
    return folder


def _noise(path, seconds):
    """A mono WAV of ``seconds``; returns its path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    samples = 0.1 * np.random.default_rng(0).standard_normal(int(seconds * RATE))
    sf.write(path, samples, RATE)
    return str(path)


def _argv(inputs, out, model_dir, *more):
    argv = ["separate", *inputs, "-o", out, "--model", model_dir, *more]
    for query in QUERIES:
        argv += ["-q", query]
    return [str(a) for a in argv]


def _hold(folder):
    """Lock ``folder`` as another writer would; close the returned descriptor to let go."""
    os.makedirs(folder, exist_ok=True)
    fd = os.open(os.path.join(folder, LOCK_NAME), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _waiting(folder):
    return f"waiting for {folder} (another asteroid-wsas separate writes there)"


def _start(argv):
    return subprocess.Popen(
        [sys.executable, "-m", "asteroid_wsas.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": REPO},
    )


def _race(argvs, folder):
    """Start one process per argv while the test holds ``folder``, let go once every one
    waits for it; returns their (status, stdout, stderr)."""
    held = _hold(folder)
    procs = [_start(argv) for argv in argvs]
    try:  # each one says on stderr that it waits (after a batch's bar, if any)
        firsts = [_until_waiting(proc, folder) for proc in procs]
    finally:
        os.close(held)
    done = [proc.communicate(timeout=120) for proc in procs]
    return [
        (proc.returncode, out, first + err) for proc, first, (out, err) in zip(procs, firsts, done)
    ]


def _until_waiting(proc, folder):
    """What ``proc`` writes to stderr up to the line that says it waits for ``folder``."""
    lines = []
    while not lines or not lines[-1].rstrip("\n").endswith(_waiting(folder)):
        lines.append(proc.stderr.readline())
        assert lines[-1], f"ended without waiting: {lines}"
    return "".join(lines)


def _frames(path):
    return sf.info(str(path)).frames


def _tree(folder):
    """Every file below ``folder``, hidden ones too, relative to it."""
    return sorted(
        os.path.relpath(os.path.join(root, f), folder)
        for root, _, files in os.walk(folder)
        for f in files
    )


def test_two_inputs_into_one_folder_the_second_skips(model_dir, tmp_path):
    """The reported bug: two inputs of different lengths, one -o; each output set must be
    one input's."""
    short = _noise(tmp_path / "a.wav", 0.5)
    long = _noise(tmp_path / "b.wav", 2.0)
    out = tmp_path / "out"
    results = _race([_argv([short], out, model_dir), _argv([long], out, model_dir)], out)
    assert [status for status, _, _ in results] == [0, 0]
    for _, _, err in results:  # nothing else on stderr
        assert err.splitlines() == [_waiting(out)]
    skipped = [s for s, (_, stdout, _) in zip([short, long], results) if "skipped" in stdout]
    assert len(skipped) == 1
    winner = long if skipped == [short] else short
    loser_out = results[[short, long].index(skipped[0])][1]
    assert loser_out == f"skipped {skipped[0]}: another process wrote its outputs meanwhile\n"
    assert _tree(out) == NAMES  # no .part, no lock file
    assert [_frames(out / n) for n in NAMES] == [_frames(winner)] * 2


def test_two_batches_in_opposite_orders_keep_each_input_whole(model_dir, tmp_path):
    """Each input's outputs are its own, whichever process wrote them."""
    short = _noise(tmp_path / "short.wav", 0.5)
    long = _noise(tmp_path / "long.wav", 2.0)
    out = tmp_path / "out"
    # both wait for out/short: the one that took the long input first has done it by then
    argvs = [_argv([short, long], out, model_dir), _argv([long, short], out, model_dir)]
    results = _race(argvs, out / "short")
    assert [status for status, _, _ in results] == [0, 0], results
    assert _tree(out) == sorted(f"{stem}/{n}" for stem in ("long", "short") for n in NAMES)
    for stem, source in (("short", short), ("long", long)):
        assert [_frames(out / stem / n) for n in NAMES] == [_frames(source)] * 2


def _blocking_flock_calls(monkeypatch):
    """An event set when a writer starts to wait on a lock (a blocking ``flock``)."""
    waits = threading.Event()
    flock = fcntl.flock

    def watched(fd, operation):
        if not operation & fcntl.LOCK_NB and operation & fcntl.LOCK_EX:
            waits.set()
        return flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", watched)
    return waits


def test_a_held_folder_is_waited_for(model_dir, tmp_path, capsys, monkeypatch):
    source = _noise(tmp_path / "in.wav", 0.5)
    out = tmp_path / "out"
    held = _hold(out)
    waits = _blocking_flock_calls(monkeypatch)

    def let_go():
        waits.wait(60)
        os.close(held)

    releaser = threading.Thread(target=let_go)
    releaser.start()
    status, line, err = run_cli(_argv([source], out, model_dir), capsys)
    releaser.join()
    assert (status, err) == (0, _waiting(out) + "\n")
    assert _tree(out) == NAMES


def test_no_wait_fails_at_a_held_folder(model_dir, tmp_path, capsys):
    source = _noise(tmp_path / "in.wav", 0.5)
    out = tmp_path / "out"
    held = _hold(out)
    try:
        status, line, _ = run_cli(_argv([source], out, model_dir, "--no-wait"), capsys)
    finally:
        os.close(held)
    assert (status, line) == (
        1,
        f"error: {out} is in use by another asteroid-wsas separate (leave out --no-wait to "
        "wait for it)",
    )
    assert _tree(out) == [LOCK_NAME]  # the other writer's, untouched; nothing written


def test_a_stream_takes_the_lock_too(tmp_path):
    source = _noise(tmp_path / "in.wav", 0.5)
    out = tmp_path / "out"
    files = [str(out / n) for n in NAMES]
    held = _hold(out)
    try:
        with pytest.raises(FolderBusyError, match="is in use by another"):
            stream_to_files(
                tiny_separator(QUERIES), sf.SoundFile(source), files, QUERIES, "FLOAT", wait=False
            )
    finally:
        os.close(held)
    assert _tree(out) == [LOCK_NAME]


def test_a_stream_refuses_outputs_written_meanwhile(tmp_path):
    """Checked under the lock: another process may have written them since the command
    looked."""
    source = _noise(tmp_path / "in.wav", 0.5)
    out = tmp_path / "out"
    files = [str(out / n) for n in NAMES]
    out.mkdir()
    _noise(out / NAMES[1], 0.1)
    with pytest.raises(FileExistsError, match="rain_falls.wav exists"):
        stream_to_files(tiny_separator(QUERIES), sf.SoundFile(source), files, QUERIES, "FLOAT")
    assert _tree(out) == [NAMES[1]]


def _planned(tmp_path, seconds=0.5):
    source = _noise(tmp_path / "in.wav", seconds)
    todo, skipped = pending_jobs(plan_jobs([source], str(tmp_path / "out")), STEMS, False)
    assert skipped == 0
    return todo


def test_outputs_that_all_appeared_since_planning_are_skipped(tmp_path):
    """Before, this job crashed with 'need at least one array to stack'."""
    todo = _planned(tmp_path)
    for name in NAMES:  # another process, between the plan and the write
        _noise(tmp_path / "out" / name, 0.1)
    (outcome,) = run_jobs(tiny_separator(QUERIES), todo, QUERIES)
    assert (outcome.skipped, outcome.error, outcome.result) == (True, None, None)
    assert [_frames(tmp_path / "out" / n) for n in NAMES] == [800, 800]  # untouched


def test_outputs_of_which_some_appeared_since_planning_are_not_mixed(tmp_path):
    todo = _planned(tmp_path)
    _noise(tmp_path / "out" / NAMES[0], 0.1)
    (outcome,) = run_jobs(tiny_separator(QUERIES), todo, QUERIES)
    assert outcome.error == (
        f"{todo[0].source}: another process wrote a_dog_barks.wav in {tmp_path / 'out'} "
        "meanwhile; this input's other outputs would sit beside another input's (--force "
        "redoes them all)"
    )
    assert _tree(tmp_path / "out") == [NAMES[0]]


def test_outputs_missing_at_planning_are_still_written_beside_the_kept_ones(tmp_path):
    """An earlier run's output (there when planned) is no other process's: the rest is
    written beside it, as before."""
    out = tmp_path / "out"
    out.mkdir()
    _noise(out / NAMES[0], 0.1)
    todo = _planned(tmp_path)
    (outcome,) = run_jobs(tiny_separator(QUERIES), todo, QUERIES)
    assert outcome.error is None and not outcome.skipped
    assert [_frames(out / n) for n in NAMES] == [800, 4000]


def test_the_lock_file_and_the_folders_it_made_go_with_it(tmp_path):
    folder = tmp_path / "out" / "sub" / "song"
    with folder_lock(folder):
        assert os.listdir(folder) == [LOCK_NAME]
    assert os.listdir(tmp_path) == []  # made for the lock, left empty: removed
    with folder_lock(folder):
        (folder / "x.wav").write_bytes(b"")
    assert _tree(tmp_path) == ["out/sub/song/x.wav"]


def test_a_waiter_whose_lock_file_was_removed_takes_the_new_one(tmp_path, monkeypatch):
    """The holder removes the file as it lets go: whoever waited on it locks the new file,
    not the removed one (else two holders at once)."""
    out = tmp_path / "out"
    first_in, first_out = threading.Event(), threading.Event()
    holders = []

    def first():
        with folder_lock(out):
            holders.append("first")
            first_in.set()
            first_out.wait(60)
            holders.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(60)
    waits = _blocking_flock_calls(monkeypatch)
    threading.Timer(0, lambda: (waits.wait(60), first_out.set())).start()
    with folder_lock(out):
        holders.append("second")
        assert sorted(os.listdir(out)) == [LOCK_NAME]
    thread.join()
    assert holders == ["first", "first done", "second"]
    assert not os.path.exists(out)


def test_a_file_system_without_locks_is_written_unlocked(tmp_path, monkeypatch):
    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with folder_lock(tmp_path / "out"):
        (tmp_path / "out" / "x.wav").write_bytes(b"")
    assert _tree(tmp_path) == ["out/x.wav"]
