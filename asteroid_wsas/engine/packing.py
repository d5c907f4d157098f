"""Packing training runs onto GPUs: how many run at once, where, and with how many threads.

``recipes/utils/jobs.sh`` asks this module once, when a recipe sources it, for its plan: the
number of runs trained at once (``jobs``), the ``OMP_NUM_THREADS`` of each (``threads``),
the ``--gpus`` each run's ``train.py`` gets and one device per slot. The rules
(:func:`plan_jobs`):

- **No GPU** (``--gpus 0``, or ``auto`` where none is found): the recipes' CPU rule,
  unchanged: ``jobs=auto`` is 2 on 2 or more cores, else 1.
- **N GPUs**: several runs share each GPU. Each run is pinned to one of them with
  ``CUDA_VISIBLE_DEVICES`` (slots go round robin over the GPUs) and trains with
  ``--gpus 1``: one device, no DDP. ``jobs=auto`` is the smallest of: ``max_per_gpu`` (8)
  per GPU; what each GPU's free memory holds, at :data:`RUN_MEMORY_MIB` per run, within
  :data:`MEMORY_MARGIN` of it (at least one run per GPU); one run per CPU core (each run's
  Python process keeps about one core busy launching kernels and mixing its batches, as
  the loaders run in the main process); and the number of runs, when known.
- A given ``jobs`` is kept as it is (its slots still go round robin over the GPUs).
- ``threads`` is ``cores // jobs``, at least 1.

This module imports neither torch nor the rest of the package (importing
``asteroid_wsas`` loads torch: seconds), so that jobs.sh can run it by path in a fraction of a
second. Only when ``nvidia-smi`` is missing does :func:`query_gpus` fall back on torch.

Examples:
    >>> plan = plan_jobs([80000.0], cores=16)  # one H100, 16 cores
    >>> plan.jobs, plan.threads, plan.devices
    (8, 2, ('0', '0', '0', '0', '0', '0', '0', '0'))
    >>> plan_jobs([], cores=2).jobs  # no GPU: the CPU rule
    2

From a shell (``--help`` lists the options)::

    python -m asteroid_wsas.engine.packing --gpus auto --cores 16
"""

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence, Tuple, Union

# Per-run GPU memory estimate of the synthetic recipe's runs (1 M-parameter TextCondUNet,
# batch 8 of 1 s at 8 kHz). Not measured on a GPU yet: on a CPU, autograd's saved tensors of
# one training forward are 67 MiB with 1 query per mixture and 398 MiB with the weak rows'
# 8 (2 captions + 2 x 3 phrases), fp32; the backward's transients and the caching allocator
# about double that, and a CUDA context with cuBLAS / cuDNN takes 0.5 to 1 GiB: about
# 1.5 GiB, kept at twice that for the semi rows' two batches and fragmentation.
RUN_MEMORY_MIB = 3072
# share of a GPU's free memory the packed runs may plan on (the rest: other processes,
# the estimate's error)
MEMORY_MARGIN = 0.9
# runs per GPU at most, for jobs=auto: beyond a few, small runs only queue on the GPU
MAX_RUNS_PER_GPU = 8
# CPU cores one packed run keeps busy (kernel launches, in-process data loading)
CORES_PER_RUN = 1
# For tests: a fake GPU inventory that replaces nvidia-smi and torch, e.g. "2:80000" (two
# GPUs with 80000 MiB free), "80000,16000" (two GPUs), "1:80000,40000", "" or "none" (no GPU)
FAKE_GPUS_ENV = "WSAS_FAKE_GPUS"


@dataclass(frozen=True)
class Gpu:
    """A GPU the runs may use.

    Args:
        device: What ``CUDA_VISIBLE_DEVICES`` names it by: an index, or the entry of the
            caller's own ``CUDA_VISIBLE_DEVICES`` (an index or a UUID).
        free_mib: Its free memory in MiB, or None when it could not be read (then only
            ``max_per_gpu`` and the cores bound its runs).
    """

    device: str
    free_mib: Optional[float]


@dataclass(frozen=True)
class Plan:
    """How a recipe's runs are trained: how many at once, with what, where.

    Args:
        jobs: Runs trained at once (the number of slots).
        threads: ``OMP_NUM_THREADS`` of each run.
        devices: The ``CUDA_VISIBLE_DEVICES`` of each slot, or None for each slot on the
            CPU (the environment is left as it is).
        reason: What set ``jobs``, in words (for the recipe's log).
    """

    jobs: int
    threads: int
    devices: Tuple[Optional[str], ...]
    reason: str

    @property
    def on_gpu(self) -> bool:
        """Whether the runs are pinned to GPUs (each then trains with ``--gpus 1``)."""
        return any(device is not None for device in self.devices)

    def train_gpus(self, requested: str) -> str:
        """The ``--gpus`` each run's ``train.py`` gets.

        Args:
            requested: The recipe's ``--gpus`` (``auto``, ``0`` or a count).

        Returns:
            str: ``"1"`` when the runs are pinned to GPUs (each sees one), else
            ``requested`` as it is.
        """
        return "1" if self.on_gpu else requested


def _positive_int(value: Union[int, str], name: str, allow_auto: bool = False) -> Union[int, str]:
    """``value`` as an int >= 1 (or ``"auto"`` when allowed); ValueError naming ``name``."""
    if allow_auto and value == "auto":
        return "auto"
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        expected = "a positive integer" + (" or auto" if allow_auto else "")
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def plan_jobs(
    free_mib: Sequence[Optional[float]],
    cores: int,
    runs: Optional[int] = None,
    jobs: Union[int, str] = "auto",
    devices: Optional[Sequence[str]] = None,
    run_memory_mib: float = RUN_MEMORY_MIB,
    max_per_gpu: int = MAX_RUNS_PER_GPU,
    memory_margin: float = MEMORY_MARGIN,
) -> Plan:
    """Decide how many runs train at once, on which GPU each slot is and its threads.

    Rules (the module's docstring says why):

    - no GPU (``free_mib`` empty): ``jobs="auto"`` is 2 on 2 or more cores, else 1 (the
      recipes' CPU rule, unchanged; ``runs`` is not used there);
    - N GPUs: ``jobs="auto"`` is the smallest of ``max_per_gpu`` per GPU, what each GPU's
      free memory holds (``floor(free * memory_margin / run_memory_mib)``, at least 1; a
      GPU of unknown memory counts ``max_per_gpu``), ``cores // CORES_PER_RUN`` and
      ``runs``. Slots go round robin over the GPUs, each GPU up to its own bound;
    - a given ``jobs`` is kept (round robin over the GPUs regardless of the bounds);
    - ``threads = max(1, cores // jobs)``.

    Args:
        free_mib: Free memory of each GPU in MiB (None: unknown); empty for the CPU.
        cores: CPU cores for all the runs together (``nproc``).
        runs: How many runs there are, when known: no more slots than runs.
        jobs: ``"auto"``, or the number of runs at once the user asked for.
        devices: The ``CUDA_VISIBLE_DEVICES`` value of each GPU (default: ``"0"``,
            ``"1"``, ...).
        run_memory_mib: GPU memory one run needs, in MiB (:data:`RUN_MEMORY_MIB`).
        max_per_gpu: Runs per GPU at most, for ``jobs="auto"``.
        memory_margin: Share of each GPU's free memory the runs may plan on, in (0, 1].

    Returns:
        Plan: ``jobs``, ``threads``, the device of each slot (None on the CPU) and the
        reason for ``jobs``.

    Raises:
        ValueError: A bad argument (named in the message): ``cores``, ``runs``, ``jobs``
            or ``max_per_gpu`` not a positive integer, a negative ``free_mib``,
            ``devices`` not one per GPU, ``run_memory_mib`` not positive, or
            ``memory_margin`` outside (0, 1].

    Examples:
        >>> plan_jobs([80000.0, 80000.0], cores=16).devices  # round robin
        ('0', '1', '0', '1', '0', '1', '0', '1', '0', '1', '0', '1', '0', '1', '0', '1')
        >>> plan_jobs([80000.0], cores=16, runs=3).threads  # 3 runs: 3 slots of 5 threads
        5
        >>> plan_jobs([80000.0], cores=16, jobs=4).jobs  # the user's jobs
        4
    """
    cores = _positive_int(cores, "cores")
    if runs is not None:
        runs = _positive_int(runs, "runs")
    jobs = _positive_int(jobs, "jobs", allow_auto=True)
    max_per_gpu = _positive_int(max_per_gpu, "max_per_gpu")
    if not run_memory_mib > 0:
        raise ValueError(f"run_memory_mib must be > 0 MiB, got {run_memory_mib!r}")
    if not 0 < memory_margin <= 1:
        raise ValueError(f"memory_margin must be in (0, 1], got {memory_margin!r}")
    free_mib = list(free_mib)
    if any(free is not None and not free >= 0 for free in free_mib):
        raise ValueError(f"free_mib must hold MiB >= 0 (or None), got {free_mib}")
    devices = [str(i) for i in range(len(free_mib))] if devices is None else list(devices)
    if len(devices) != len(free_mib):
        raise ValueError(
            f"devices must name each of the {len(free_mib)} GPU(s) of free_mib, got {devices}"
        )

    if not free_mib:  # the CPU rule of the recipes, as it was
        n = jobs if jobs != "auto" else (2 if cores >= 2 else 1)
        reason = "given" if jobs != "auto" else f"CPU rule: {n} on {cores} core(s)"
        return Plan(n, max(1, cores // n), (None,) * n, reason)

    if jobs != "auto":
        slots = [devices[i % len(devices)] for i in range(jobs)]
        return Plan(jobs, max(1, cores // jobs), tuple(slots), "given")

    # each GPU's own bound: the cap, and its memory
    per_gpu = []
    for free in free_mib:
        fits = max_per_gpu if free is None else int(free * memory_margin // run_memory_mib)
        per_gpu.append(max(1, min(max_per_gpu, fits)))
    slots = [  # round robin: one slot per GPU per round, while the GPU has room
        devices[g] for r in range(max(per_gpu)) for g in range(len(devices)) if per_gpu[g] > r
    ]
    bounds = [(len(slots), "GPU bound (per GPU: " + ", ".join(map(str, per_gpu)) + ")")]
    bounds.append((max(1, cores // CORES_PER_RUN), f"{cores} core(s), {CORES_PER_RUN} per run"))
    if runs is not None:
        bounds.append((runs, f"{runs} run(s)"))
    n, reason = min(bounds, key=lambda bound: bound[0])
    memory = ", ".join("?" if free is None else f"{free:.0f}" for free in free_mib)
    reason = (
        f"{reason}; at most {max_per_gpu} per GPU, {run_memory_mib:.0f} MiB per run in "
        f"{memory_margin:.0%} of the free MiB ({memory})"
    )
    return Plan(n, max(1, cores // n), tuple(slots[:n]), reason)


def parse_fake_gpus(spec: str) -> List[Gpu]:
    """The GPUs of a :data:`FAKE_GPUS_ENV` value (for tests).

    Args:
        spec: Comma-separated items, each ``FREE_MIB`` (one GPU) or ``COUNT:FREE_MIB``
            (COUNT alike); ``""`` or ``"none"``: no GPU.

    Returns:
        list: The GPUs, numbered ``"0"``, ``"1"``, ... in order.

    Raises:
        ValueError: A malformed item (the message names the variable).

    Examples:
        >>> [gpu.free_mib for gpu in parse_fake_gpus("2:80000,16000")]
        [80000.0, 80000.0, 16000.0]
    """
    frees: List[float] = []
    if spec.strip().lower() not in ("", "none"):
        for item in spec.split(","):
            count, _, free = item.strip().rpartition(":")
            try:
                n, mib = int(count or 1), float(free)
            except ValueError:
                n, mib = -1, -1.0
            if n < 0 or not mib >= 0:
                raise ValueError(
                    f"{FAKE_GPUS_ENV} items must be FREE_MIB or COUNT:FREE_MIB (e.g. "
                    f"'2:80000,16000'), got {item!r} in {spec!r}"
                )
            frees += [mib] * n
    return [Gpu(str(i), free) for i, free in enumerate(frees)]


def parse_nvidia_smi(text: str) -> List[Tuple[str, str, float]]:
    """Rows of ``nvidia-smi --query-gpu=index,uuid,memory.free --format=csv,noheader,nounits``.

    Args:
        text: Its output.

    Returns:
        list: ``(index, uuid, free MiB)`` of each GPU; rows that do not parse (e.g.
        ``[N/A]`` memory) are left out.

    Examples:
        >>> parse_nvidia_smi("0, GPU-1a2b, 80000\\n1, GPU-3c4d, [N/A]\\n")
        [('0', 'GPU-1a2b', 80000.0)]
    """
    rows = []
    for line in text.splitlines():
        parts = [part.strip() for part in line.split(",")]
        try:
            rows.append((parts[0], parts[1], float(parts[2])))
        except (IndexError, ValueError):
            continue
    return rows


def _visible(inventory: List[Tuple[str, str, Optional[float]]], env: Mapping[str, str]):
    """The GPUs of ``inventory`` (index, uuid, free) that CUDA_VISIBLE_DEVICES leaves."""
    if "CUDA_VISIBLE_DEVICES" not in env:
        return [Gpu(index, free) for index, _, free in inventory]
    gpus = []
    for entry in env["CUDA_VISIBLE_DEVICES"].split(","):
        entry = entry.strip()
        if not entry or entry.startswith("-"):  # CUDA stops at the first invalid entry
            break
        free = [f for index, uuid, f in inventory if entry in (index, uuid)]
        # a MIG or shortened UUID: the device exists for CUDA, its memory is unknown here
        gpus.append(Gpu(entry, free[0] if free else None))
    return gpus


def _torch_gpus(env: Mapping[str, str]) -> List[Gpu]:
    """GPUs torch sees (it applies CUDA_VISIBLE_DEVICES itself); [] on any failure."""
    try:
        import torch

        if not torch.cuda.is_available():
            return []
        names = [e.strip() for e in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if e.strip()]
        gpus = []
        for i in range(torch.cuda.device_count()):
            free, _ = torch.cuda.mem_get_info(i)
            gpus.append(Gpu(names[i] if i < len(names) else str(i), free / 2**20))
        return gpus
    except Exception:  # no usable CUDA is the CPU case, whatever the cause
        return []


def query_gpus(env: Optional[Mapping[str, str]] = None) -> List[Gpu]:
    """The GPUs here and their free memory, as the runs will see them.

    In order: :data:`FAKE_GPUS_ENV` when set (for tests); ``nvidia-smi`` when on the PATH;
    torch when importable. ``CUDA_VISIBLE_DEVICES``, when set, keeps only the GPUs it
    names, named as it names them. Any failure reads as no GPU (the CPU rules then apply).

    Args:
        env: The environment (default: ``os.environ``).

    Returns:
        list: One :class:`Gpu` per usable GPU; empty without one.

    Raises:
        ValueError: :data:`FAKE_GPUS_ENV` is malformed.
    """
    env = os.environ if env is None else env
    if FAKE_GPUS_ENV in env:
        fake = parse_fake_gpus(env[FAKE_GPUS_ENV])
        return _visible([(gpu.device, "", gpu.free_mib) for gpu in fake], env)
    smi = shutil.which("nvidia-smi", path=env.get("PATH"))
    if smi:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=index,uuid,memory.free", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        return _visible(parse_nvidia_smi(out), env)
    return _torch_gpus(env)


def select_gpus(requested: str, found: Sequence[Gpu]) -> List[Gpu]:
    """The GPUs a recipe's ``--gpus`` asks for among those found.

    Args:
        requested: ``"0"`` (the CPU), ``"auto"`` (every GPU found; none: the CPU) or a
            count N (the first N found).
        found: The GPUs here (:func:`query_gpus`).

    Returns:
        list: The GPUs the runs go on (empty: the CPU).

    Raises:
        ValueError: ``requested`` is not ``auto`` or a count, or asks for more GPUs than
            were found (the message names ``--gpus``).

    Examples:
        >>> select_gpus("1", [Gpu("0", 80000.0), Gpu("1", 80000.0)])
        [Gpu(device='0', free_mib=80000.0)]
    """
    if requested == "auto":
        return list(found)
    try:
        n = int(requested)
    except (TypeError, ValueError):
        n = -1
    if n < 0:
        raise ValueError(f"--gpus must be auto, 0 (the CPU) or a number of GPUs, got {requested!r}")
    if n > len(found):
        raise ValueError(
            f"--gpus {n}: {len(found)} GPU(s) found (nvidia-smi, else torch; "
            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '(unset)')})"
        )
    return list(found)[:n]


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m asteroid_wsas.engine.packing``."""
    p = argparse.ArgumentParser(
        prog="python -m asteroid_wsas.engine.packing",
        description=(
            "Plan how a recipe's training runs share this machine: how many run at once, "
            "each run's OMP_NUM_THREADS, and the GPU each slot is pinned to "
            "(CUDA_VISIBLE_DEVICES, round robin). recipes/utils/jobs.sh calls it. Without "
            "GPUs: 2 runs at once on 2+ cores, else 1. With GPUs (jobs auto): up to "
            f"--max-per-gpu per GPU, {CORES_PER_RUN} core per run, and what each GPU's free "
            f"memory holds at --run-memory MiB per run ({MEMORY_MARGIN:.0%} of it); each run "
            "then trains with --gpus 1. A given --jobs is kept."
        ),
        epilog=(
            f"{FAKE_GPUS_ENV} (for tests) replaces the GPU query with a fake inventory: "
            "'2:80000' is two GPUs with 80000 MiB free, '80000,16000' two GPUs, '' none."
        ),
    )
    p.add_argument(
        "--gpus", default="auto", help="0: CPU; auto (default): every GPU found; N: the first N"
    )
    p.add_argument("--jobs", default="auto", help="runs at once: auto (default) or a number")
    p.add_argument(
        "--cores", type=int, help="CPU cores for all the runs (default: those this process may use)"
    )
    p.add_argument("--runs", type=int, help="number of runs, when known (no more slots than runs)")
    p.add_argument(
        "--run-memory",
        type=float,
        default=RUN_MEMORY_MIB,
        metavar="MIB",
        help=f"GPU memory one run needs, MiB (default: {RUN_MEMORY_MIB}, the synthetic recipe's)",
    )
    p.add_argument(
        "--max-per-gpu",
        type=int,
        default=MAX_RUNS_PER_GPU,
        metavar="N",
        help=f"runs per GPU at most with --jobs auto (default: {MAX_RUNS_PER_GPU})",
    )
    p.add_argument(
        "--shell",
        action="store_true",
        help=(
            "print one line for jobs.sh: JOBS THREADS TRAIN_GPUS DEVICE... (a device per "
            "slot, - on the CPU); the plan in words goes to stderr when on GPUs"
        ),
    )
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the plan of :func:`plan_jobs` for this machine.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        int: 0, or 2 after a bad argument (its message on stderr).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cores = args.cores
        if cores is None:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
            cores = cores or os.cpu_count() or 1
        jobs = _positive_int(args.jobs, "--jobs", allow_auto=True)
        cores = _positive_int(cores, "--cores")
        runs = None if args.runs is None else _positive_int(args.runs, "--runs")
        max_per_gpu = _positive_int(args.max_per_gpu, "--max-per-gpu")
        if not args.run_memory > 0:
            raise ValueError(f"--run-memory must be > 0 MiB, got {args.run_memory}")
        found = [] if args.gpus == "0" else query_gpus()  # --gpus 0: no query at all
        gpus = select_gpus(args.gpus, found)
        plan = plan_jobs(
            [gpu.free_mib for gpu in gpus],
            cores=cores,
            runs=runs,
            jobs=jobs,
            devices=[gpu.device for gpu in gpus],
            run_memory_mib=args.run_memory,
            max_per_gpu=max_per_gpu,
        )
    except ValueError as err:
        parser.error(str(err))
    summary = (
        f"{plan.jobs} run(s) at once, {plan.threads} thread(s) each"
        + (
            f", on GPU(s) {' '.join(sorted(set(plan.devices), key=plan.devices.index))}"
            f" (--gpus 1 each)"
            if plan.on_gpu
            else " on the CPU"
        )
        + f" [{plan.reason}]"
    )
    if args.shell:
        devices = " ".join("-" if d is None else d for d in plan.devices)
        print(plan.jobs, plan.threads, plan.train_gpus(args.gpus), devices)
        if plan.on_gpu:
            print(f"packing: {summary}", file=sys.stderr)
    else:
        print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
