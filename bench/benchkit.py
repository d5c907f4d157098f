"""Shared pieces of the speed benches against the authors' way: the machine, interleaved
timing with medians, the printed table and the JSON file.

Timings on a shared machine drift as other jobs come and go. The two sides of a ratio are
therefore timed in alternation (A B, B A, A B, ...), each after its own warm-up, and each
figure is the median of its runs: a burst of load hits both sides, not one.
"""

import json
import os
import platform
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

# paper's STFT (hop 256): 131070 samples = 8.19 s at 16 kHz give a 512 x 512 spectrogram
CLIP_SAMPLES = 131070
SAMPLE_RATE = 16000


def _cpu_info() -> Dict[str, str]:
    """``model name`` and ``flags`` of the first CPU in /proc/cpuinfo (Linux), if readable."""
    info: Dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "flags") and key not in info:
                    info[key] = value.strip()
    except OSError:
        pass
    return info


def machine() -> Dict[str, object]:
    """What the figures were measured on.

    Returns:
        dict: ``cpu`` (name), ``bf16_isa`` (``"AMX"``, ``"AVX512-BF16"`` or ``"none"``: what
        oneDNN's bf16 kernels can use), ``cpu_capability`` (PyTorch's vector ISA),
        ``threads``, ``torch``, ``gpu`` (name or None) and ``load_average`` (1 min, at the
        call: above the thread count means other jobs share the cores).
    """
    info = _cpu_info()
    flags = set(info.get("flags", "").split())
    if "amx_bf16" in flags:
        isa = "AMX"
    elif "avx512_bf16" in flags:
        isa = "AVX512-BF16"
    else:
        isa = "none"
    return {
        "cpu": info.get("model name") or platform.processor() or platform.machine(),
        "bf16_isa": isa,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def describe(info: Dict[str, object]) -> str:
    """One line for the top of a table."""
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ""
    return (
        f"machine: {info['cpu']}; bf16 ISA {info['bf16_isa']}; {info['threads']} threads; "
        f"torch {info['torch']}; load average {info['load_average']}{gpu}"
    )


def interleaved(
    fns: Dict[str, Callable[[], object]],
    repeats: int,
    sync: Optional[Callable[[], None]] = None,
    cpu_times: Optional[Dict[str, List[float]]] = None,
) -> Dict[str, List[float]]:
    """Wall times of each function, run in alternating order after one warm-up each.

    Args:
        fns: Name -> function to time.
        repeats: Timed runs of each.
        sync: Called before reading the clock (``torch.cuda.synchronize`` on a GPU).
        cpu_times: If given, filled with name -> CPU seconds of this process (all threads)
            per run: on a shared machine the wall time also counts waits for a core.

    Returns:
        dict: Name -> list of ``repeats`` times in seconds.

    Examples:
        >>> times = interleaved({"a": lambda: None, "b": lambda: None}, repeats=3)
        >>> sorted(times), len(times["a"])
        (['a', 'b'], 3)
    """
    sync = sync or (lambda: None)
    for fn in fns.values():  # warm-up: allocations, kernel choice, caches
        fn()
        sync()
    times: Dict[str, List[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            sync()
            start, cpu = time.perf_counter(), time.process_time()
            fns[name]()
            sync()
            times[name].append(time.perf_counter() - start)
            if cpu_times is not None:
                cpu_times.setdefault(name, []).append(time.process_time() - cpu)
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def row(
    name: str,
    authors: Sequence[float],
    ours: Sequence[float],
    goal: Optional[float] = None,
    cpu: Optional[Tuple[Sequence[float], Sequence[float]]] = None,
) -> Dict[str, object]:
    """One line of a table: medians, their ratio and whether it meets the goal (wall
    time); ``cpu``, the CPU seconds of each side's runs, adds their median ratio."""
    ratio = median(authors) / median(ours)
    extra = {}
    if cpu is not None:
        extra = {
            "cpu_ratio": median(cpu[0]) / median(cpu[1]),
            "authors_cpu_runs": list(cpu[0]),
            "ours_cpu_runs": list(cpu[1]),
        }
    return {
        "name": name,
        "authors_s": median(authors),
        "ours_s": median(ours),
        "ratio": ratio,
        "goal": goal,
        "met": None if goal is None else bool(ratio >= goal),
        "authors_runs": list(authors),
        "ours_runs": list(ours),
        **extra,
    }


def table(rows: Sequence[Dict[str, object]], title: str) -> str:
    """The rows as a Markdown table (it prints readably and pastes into the docs)."""
    lines = [
        title,
        "",
        "| | authors' way (s) | ours (s) | ratio | goal | met | ratio of CPU time |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        goal = "" if r["goal"] is None else f">= {r['goal']:g}x"
        met = "" if r["met"] is None else ("yes" if r["met"] else "no")
        cpu = f"{r['cpu_ratio']:.2f}x" if "cpu_ratio" in r else ""
        lines.append(
            f"| {r['name']} | {r['authors_s']:.3f} | {r['ours_s']:.3f} | "
            f"{r['ratio']:.2f}x | {goal} | {met} | {cpu} |"
        )
    return "\n".join(lines)


def write_json(path: str, payload: Dict[str, object]) -> None:
    """Write ``payload`` to ``path`` (folders made as needed) and say where."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")
    print(f"wrote {path}")
