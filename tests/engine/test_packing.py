"""Packing training runs onto GPUs: the plan (engine/packing.py) and recipes/utils/jobs.sh.

No GPU is needed: WSAS_FAKE_GPUS fakes the inventory, a fake nvidia-smi / nproc on the PATH
stands in for the real ones, and jobs.sh runs short `sleep` commands that write down what
they saw.
"""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from asteroid_wsas.engine import packing
from asteroid_wsas.engine.packing import Gpu, main, parse_fake_gpus, plan_jobs, query_gpus

JOBS_SH = Path(__file__).resolve().parents[2] / "recipes" / "utils" / "jobs.sh"
H100 = 81559.0  # MiB free on an idle 80 GB card


# ------------------------------------------------------------------------------ plan_jobs
@pytest.mark.parametrize(
    "cores, jobs, expected",
    [(1, "auto", (1, 1)), (2, "auto", (2, 1)), (16, "auto", (2, 8)), (16, 3, (3, 5))],
)
def test_cpu_rule_is_the_recipes_old_one(cores, jobs, expected):
    plan = plan_jobs([], cores=cores, jobs=jobs, runs=1)  # runs: not used on the CPU
    assert (plan.jobs, plan.threads) == expected
    assert plan.devices == (None,) * plan.jobs and not plan.on_gpu
    assert plan.train_gpus("0") == "0" and plan.train_gpus("auto") == "auto"


def test_one_h100_and_16_cores_packs_8_runs_of_2_threads():
    plan = plan_jobs([H100], cores=16)
    assert (plan.jobs, plan.threads, plan.devices) == (8, 2, ("0",) * 8)
    assert plan.on_gpu and plan.train_gpus("auto") == "1" and plan.train_gpus("2") == "1"


@pytest.mark.parametrize(
    "free, cores, runs, jobs, threads, devices",
    [
        ([H100], 4, None, 4, 1, "0000"),  # one core per run
        ([H100, H100], 8, None, 8, 1, "01010101"),  # round robin, bounded by cores
        ([H100, H100], 64, None, 16, 4, "01" * 8),  # 8 per GPU at most
        ([10000.0], 16, None, 2, 8, "00"),  # memory: floor(9000 / 3072) = 2
        ([1000.0], 16, None, 1, 16, "0"),  # less than one run's estimate: still one
        ([H100, 10000.0], 16, None, 10, 1, "0101000000"),  # each GPU to its own bound
        ([H100], 16, 3, 3, 5, "000"),  # no more slots than runs
        ([None, None], 16, None, 16, 1, "01" * 8),  # unknown memory: the cap only
    ],
)
def test_gpu_rule(free, cores, runs, jobs, threads, devices):
    plan = plan_jobs(free, cores=cores, runs=runs)
    assert (plan.jobs, plan.threads, "".join(plan.devices)) == (jobs, threads, devices)


def test_given_jobs_are_kept_round_robin_beyond_the_bounds():
    plan = plan_jobs([10000.0, 10000.0], cores=4, jobs=5, runs=2)
    assert (plan.jobs, plan.threads, plan.devices) == (5, 1, ("0", "1", "0", "1", "0"))
    assert plan.reason == "given"


def test_devices_and_options_are_used():
    plan = plan_jobs([H100, H100], cores=16, devices=["3", "GPU-x"], max_per_gpu=2)
    assert plan.devices == ("3", "GPU-x", "3", "GPU-x")
    assert plan_jobs([H100], cores=16, run_memory_mib=20000).jobs == 3  # 73403 // 20000
    assert plan_jobs([10000.0], cores=16, memory_margin=1.0).jobs == 3  # 10000 // 3072


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"cores": 0}, "cores"),
        ({"cores": "many"}, "cores"),
        ({"jobs": 0}, "jobs"),
        ({"jobs": "some"}, "jobs"),
        ({"jobs": 2.5}, "jobs"),
        ({"runs": 0}, "runs"),
        ({"max_per_gpu": 0}, "max_per_gpu"),
        ({"run_memory_mib": 0}, "run_memory_mib"),
        ({"memory_margin": 1.5}, "memory_margin"),
        ({"free_mib": [-1.0]}, "free_mib"),
        ({"devices": ["0", "1"]}, "devices"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    args = {"free_mib": [H100], "cores": 16, **kwargs}
    with pytest.raises(ValueError, match=name):
        plan_jobs(**args)


# --------------------------------------------------------------------- the GPU inventory
def test_fake_gpus_parse():
    assert [g.free_mib for g in parse_fake_gpus("2:80000, 16000")] == [80000, 80000, 16000]
    assert [g.device for g in parse_fake_gpus("3:1")] == ["0", "1", "2"]
    assert parse_fake_gpus("") == [] and parse_fake_gpus("none") == []
    for bad in ("x", "2:x", "-1:5", "1:-5", "2:80000,"):
        with pytest.raises(ValueError, match="WSAS_FAKE_GPUS"):
            parse_fake_gpus(bad)


def test_cuda_visible_devices_limits_and_names_the_gpus():
    env = {"WSAS_FAKE_GPUS": "1000,2000,3000"}
    assert query_gpus(env) == [Gpu("0", 1000), Gpu("1", 2000), Gpu("2", 3000)]
    assert query_gpus({**env, "CUDA_VISIBLE_DEVICES": "2,0"}) == [Gpu("2", 3000), Gpu("0", 1000)]
    assert query_gpus({**env, "CUDA_VISIBLE_DEVICES": "1,-1,2"}) == [Gpu("1", 2000)]
    assert query_gpus({**env, "CUDA_VISIBLE_DEVICES": ""}) == []


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_nvidia_smi_is_read(tmp_path):
    _executable(
        tmp_path / "nvidia-smi",
        "#!/bin/sh\nprintf '0, GPU-aa, 80000\\n1, GPU-bb, 40000\\n2, GPU-cc, [N/A]\\n'\n",
    )
    env = {"PATH": str(tmp_path)}
    assert query_gpus(env) == [Gpu("0", 80000), Gpu("1", 40000)]
    # by UUID, and a MIG device nvidia-smi does not list: its memory is unknown
    visible = {**env, "CUDA_VISIBLE_DEVICES": "GPU-bb,MIG-1"}
    assert query_gpus(visible) == [Gpu("GPU-bb", 40000), Gpu("MIG-1", None)]


def test_a_failing_or_missing_nvidia_smi_reads_as_no_gpu(tmp_path, monkeypatch):
    _executable(tmp_path / "nvidia-smi", "#!/bin/sh\necho 'driver mismatch' >&2\nexit 9\n")
    assert query_gpus({"PATH": str(tmp_path)}) == []
    monkeypatch.setattr(packing, "_torch_gpus", lambda env: [Gpu("0", 5000.0)])
    assert query_gpus({"PATH": str(tmp_path / "empty")}) == [Gpu("0", 5000.0)]  # torch's


def test_select_gpus():
    found = [Gpu("0", H100), Gpu("1", H100)]
    assert packing.select_gpus("0", found) == []
    assert packing.select_gpus("auto", found) == found
    assert packing.select_gpus("1", found) == found[:1]
    with pytest.raises(ValueError, match="--gpus 3: 2 GPU"):
        packing.select_gpus("3", found)
    with pytest.raises(ValueError, match="--gpus must be"):
        packing.select_gpus("one", found)


# ------------------------------------------------------------------------- command line
def test_command_line(monkeypatch, capsys):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("WSAS_FAKE_GPUS", "2:80000")
    assert main(["--shell", "--cores", "6"]) == 0
    out, err = capsys.readouterr()
    assert out == "6 1 1 0 1 0 1 0 1\n" and "6 core(s), 1 per run" in err
    main(["--shell", "--gpus", "0", "--cores", "6"])  # no query, no words
    assert capsys.readouterr() == ("2 3 0 - -\n", "")
    main(["--gpus", "1", "--jobs", "3", "--cores", "6"])
    assert capsys.readouterr().out.startswith("3 run(s) at once, 2 thread(s) each, on GPU(s) 0")
    for args, message in [
        (["--jobs", "0"], "--jobs must be"),
        (["--cores", "0"], "--cores must be"),
        (["--runs", "0"], "--runs must be"),
        (["--gpus", "4"], "--gpus 4: 2 GPU"),
        (["--run-memory", "0"], "--run-memory must be"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            main(args)
        assert exit_.value.code == 2 and message in capsys.readouterr().err


# ------------------------------------------------------------------------------- jobs.sh
# Sources jobs.sh as a recipe does, then runs N fake runs: each notes when it starts and
# ends, with the CUDA_VISIBLE_DEVICES and OMP_NUM_THREADS a child process of it sees.
DRIVER = r"""
set -euo pipefail
say() { echo "[say] $*"; }
gpus=$1 jobs=$2 runs=$3
. "$JOBS_SH"
echo "plan $jobs $threads $run_gpus ${slot_devices[*]}"
fake_run() {
  local dev
  dev=$(bash -c 'echo "${CUDA_VISIBLE_DEVICES-unset}"')
  echo "start $1 $dev" >>"$OUT/events"
  bash -c 'echo "$OMP_NUM_THREADS"' >"$OUT/threads$1"
  sleep "$PAUSE"
  echo "end $1 $dev" >>"$OUT/events"
  [ "$1" != "${FAIL:-}" ]
}
for ((i = 0; i < runs; i++)); do run_jobs "run $i" "$OUT/logs/run$i.log" fake_run "$i"; done
check_jobs
echo "all done"
"""


def _jobs_sh(tmp_path, gpus, jobs, runs, cores=8, pause=1.0, **env_vars):
    """Run DRIVER; return the process, the plan line's words and the runs' events."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    _executable(bin_dir / "nproc", f"#!/bin/sh\necho {cores}\n")  # this many cores, always
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    path = os.pathsep.join([str(bin_dir), os.path.dirname(sys.executable), env["PATH"]])
    env.update(PATH=path, JOBS_SH=str(JOBS_SH), OUT=str(out), PAUSE=str(pause), **env_vars)
    proc = subprocess.run(
        ["bash", "-c", DRIVER, "driver", gpus, jobs, str(runs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    plan = next((line.split()[1:] for line in proc.stdout.splitlines() if line[:5] == "plan "), [])
    events_file = out / "events"
    events = [line.split() for line in events_file.read_text().splitlines()] if runs else []
    return proc, plan, events


def _most_at_once(events, device=None):
    """The most runs running together (on ``device``, or anywhere)."""
    running = most = 0
    for kind, _, dev in events:
        if device is None or dev == device:
            running += 1 if kind == "start" else -1
            most = max(most, running)
    return most


def test_jobs_sh_packs_runs_round_robin_on_fake_gpus(tmp_path):
    # 2 GPUs with 7000 MiB free: floor(6300 / 3072) = 2 runs each; 8 cores: 2 threads each
    proc, plan, events = _jobs_sh(tmp_path, "auto", "auto", 8, WSAS_FAKE_GPUS="2:7000")
    assert proc.returncode == 0, proc.stderr
    assert plan == ["4", "2", "1", "0", "1", "0", "1"]
    assert "packing: 4 run(s) at once" in proc.stderr
    assert "[say] run 0 (GPU 0)" in proc.stdout and "[say] run 1 (GPU 1)" in proc.stdout
    starts = [(int(run), dev) for kind, run, dev in events if kind == "start"]
    assert sorted(run for run, _ in starts) == list(range(8))
    # the first wave fills the slots in order: one device each, round robin
    assert sorted(starts[:4]) == [(0, "0"), (1, "1"), (2, "0"), (3, "1")]
    assert {dev for _, dev in starts} == {"0", "1"}
    assert _most_at_once(events) == 4  # packed, and no more than planned
    assert _most_at_once(events, "0") <= 2 and _most_at_once(events, "1") <= 2
    assert {(tmp_path / "out" / f"threads{i}").read_text() for i in range(8)} == {"2\n"}
    assert proc.stdout.rstrip().endswith("all done")


def test_jobs_sh_keeps_the_cpu_rule_and_the_environment(tmp_path):
    # gpus=0: 2 at once on 2+ cores, cores / 2 threads, CUDA_VISIBLE_DEVICES left alone
    proc, plan, events = _jobs_sh(
        tmp_path, "0", "auto", 5, cores=6, pause=0.5, CUDA_VISIBLE_DEVICES="7"
    )
    assert proc.returncode == 0, proc.stderr
    assert plan == ["2", "3", "0", "-", "-"]
    assert "packing" not in proc.stderr and "(GPU" not in proc.stdout
    assert {dev for _, _, dev in events} == {"7"}
    assert _most_at_once(events) == 2
    assert {(tmp_path / "out" / f"threads{i}").read_text() for i in range(5)} == {"3\n"}


def test_jobs_sh_gives_user_jobs_and_reports_failures(tmp_path):
    proc, plan, events = _jobs_sh(
        tmp_path, "2", "3", 4, pause=0.3, WSAS_FAKE_GPUS="2:80000", FAIL="2"
    )
    assert plan == ["3", "2", "1", "0", "1", "0"]  # 8 cores / 3 jobs: 2 threads
    assert _most_at_once(events) <= 3
    assert proc.returncode == 1 and "all done" not in proc.stdout
    assert "failed: the end of" in proc.stderr and "run2.log" in proc.stderr


def test_jobs_sh_stops_on_a_bad_option(tmp_path):
    proc, _, _ = _jobs_sh(tmp_path, "0", "many", 0)
    assert proc.returncode != 0 and "--jobs must be a positive integer" in proc.stderr
    proc, _, _ = _jobs_sh(tmp_path, "3", "auto", 0, WSAS_FAKE_GPUS="1:80000")
    assert proc.returncode != 0 and "--gpus 3: 1 GPU(s) found" in proc.stderr
