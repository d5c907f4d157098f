"""Peak memory of ``asteroid-wsas separate`` in file mode against stdin streaming (issue 33).

For each length (default 1 min and 10 min of 8 kHz mono: tones and noise, written to a
temporary folder) the command separates the file twice, each time in a fresh process: once
given the file (file mode) and once given ``-`` with the file piped into stdin (streaming).
Each child's peak RSS is its own (``os.wait4``'s resource usage; this process imports no
torch, so a child does not start from its pages). The table gives both, their
ratio and whether file mode is within 10 % of streaming: the goal is that file mode's memory
does not grow with the file's length, as streaming's does not.

The separator has random weights: by default the one ``asteroid-wsas serve --model random``
builds (:func:`~asteroid_wsas.webapp.demo_separator`), at 8 kHz; ``--model tiny`` the tests'
3-level U-Net (what grows with the length is the same, and an hour takes minutes);
``--model full`` the authors' default ``TextCondUNet`` at 8 kHz (87.69 M parameters, slower
than real time on a shared CPU) and a small encoder with CLAP's output sizes. It is saved
with ``save_pretrained`` in the temporary folder. Its estimates are meaningless; the memory
is what is measured.

Usage:
    python bench/separate_memory.py                       # 1 min and 10 min
    OMP_NUM_THREADS=1 python bench/separate_memory.py --model tiny --minutes 1 10 60 --together
    python bench/separate_memory.py --minutes 0.05 --model full   # the authors' model
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

RATE = 8000
GOAL = 0.10  # file mode within 10 % of streaming
QUERIES = ["a dog barks", "a man speaks"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(folder: str, size: str) -> str:
    """Save a random-weight separator in ``folder`` and return it.

    ``size``: ``"random"``, ``serve --model random``'s (:func:`~asteroid_wsas.webapp.
    demo_separator`) at 8 kHz; ``"tiny"``, the tests' 3-level U-Net (the buffers that grow
    with the length are the same, the model's time is not: an hour in minutes); ``"full"``,
    the authors' default ``TextCondUNet`` (87.69 M parameters) with a small encoder of
    CLAP's sizes.
    """
    import torch

    from asteroid_wsas import Separator, TextCondUNet
    from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab
    from asteroid_wsas.webapp import demo_separator

    if size == "random":
        demo_separator(sample_rate=RATE).save_pretrained(folder)
        return folder
    torch.manual_seed(0)
    dims = (
        dict(embed_dim=16, token_dim=12) if size == "tiny" else dict(embed_dim=512, token_dim=768)
    )
    encoder = TinyBimodalEncoder(build_vocab(QUERIES), RATE, **dims)
    args = dict(text_embed_dim=dims["embed_dim"], text_token_dim=dims["token_dim"])
    if size == "tiny":
        args.update(n_fft=126, hop_length=32, channels=[8, 16, 16], attention_levels=[2])
        args.update(n_heads=2, out_channels=4)
    Separator(TextCondUNet(RATE, **args), encoder).save_pretrained(folder)
    return folder


def write_input(path: str, seconds: float) -> None:
    """``seconds`` of 8 kHz mono (tones and noise, 16-bit), written a minute at a time."""
    import soundfile as sf

    gen = np.random.default_rng(0)
    total, done = int(seconds * RATE), 0
    with sf.SoundFile(path, "w", RATE, 1, "PCM_16") as f:
        while done < total:
            n = min(60 * RATE, total - done)
            t = (done + np.arange(n)) / RATE
            tone = 0.2 * np.sin(2 * np.pi * (220 + 110 * np.sin(2 * np.pi * t / 7)) * t)
            f.write((tone + 0.05 * gen.standard_normal(n)).astype(np.float32))
            done += n


def command(model: str, out: str, source: str) -> List[str]:
    """``asteroid-wsas separate`` through the console script's launcher."""
    cli = [sys.executable, "-c", "import asteroid_wsas_cli; asteroid_wsas_cli.main()"]
    args = ["separate", source, "--model", model, "-o", out, "--force"]
    for query in QUERIES:
        args += ["-q", query]
    return cli + args


def start(model: str, wav: str, out: str, stream: bool) -> Tuple[subprocess.Popen, float]:
    """Start one child: the file, or ``-`` with the file piped in by a thread."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    argv = command(model, out, "-" if stream else wav)
    began = time.perf_counter()
    # stderr (the progress bar) to a file: a full pipe would stall a child run beside another
    with open(out + ".log", "wb") as log:
        child = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE if stream else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    child.log = out + ".log"
    if stream:

        def feed() -> None:
            with open(wav, "rb") as f:
                try:
                    for block in iter(lambda: f.read(1 << 16), b""):
                        child.stdin.write(block)
                except BrokenPipeError:  # the child failed: finish() says why
                    pass
                finally:
                    try:
                        child.stdin.close()
                    except BrokenPipeError:
                        pass

        threading.Thread(target=feed, daemon=True).start()
    return child, began


def finish(child: subprocess.Popen, began: float) -> Dict[str, float]:
    """Wait for ``child``: its own peak RSS (MB) and wall time; raise if it failed."""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        with open(child.log, encoding="utf-8", errors="replace") as f:
            raise RuntimeError(f"separate failed ({child.returncode}): {f.read()[-2000:]}")
    return {"peak_rss_mb": usage.ru_maxrss / 1024, "wall_s": time.perf_counter() - began}


def measure(model: str, folder: str, minutes: float, together: bool) -> Dict[str, object]:
    """Both modes on one generated file (one after the other, or side by side)."""
    wav = os.path.join(folder, f"in_{minutes:g}min.wav")
    write_input(wav, minutes * 60)
    runs = {}
    modes = [("file", False), ("stream", True)]
    outs = {name: os.path.join(folder, f"out_{name}") for name, _ in modes}
    if together:  # two children at once: each one's peak is still its own
        started = {name: start(model, wav, outs[name], stream) for name, stream in modes}
        runs = {name: finish(*started[name]) for name, _ in modes}
    else:
        for name, stream in modes:
            runs[name] = finish(*start(model, wav, outs[name], stream))
    os.remove(wav)
    file_mb, stream_mb = runs["file"]["peak_rss_mb"], runs["stream"]["peak_rss_mb"]
    return {
        "minutes": minutes,
        "file": runs["file"],
        "stream": runs["stream"],
        "ratio": file_mb / stream_mb,
        "within_goal": abs(file_mb / stream_mb - 1) <= GOAL,
    }


def table(rows: List[Dict[str, object]]) -> str:
    lines = [
        "| Audio (8 kHz mono) | File mode peak RSS | Streaming peak RSS | Ratio | Within 10 % "
        "| Wall (file / stream) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        f, s = row["file"], row["stream"]
        lines.append(
            f"| {row['minutes']:g} min | {f['peak_rss_mb']:,.0f} MB | {s['peak_rss_mb']:,.0f} MB "
            f"| {row['ratio']:.3f} | {'yes' if row['within_goal'] else 'NO'} "
            f"| {f['wall_s']:.0f} s / {s['wall_s']:.0f} s |"
        )
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=float, nargs="+", default=[1, 10], help="lengths (default: 1 10)"
    )
    parser.add_argument(
        "--model",
        choices=("random", "tiny", "full"),
        default="random",
        help="serve --model random's separator, the tests' tiny one (fast), or the authors' "
        "default (slow on a CPU) (default: %(default)s)",
    )
    parser.add_argument(
        "--together", action="store_true", help="run the two modes side by side (saves time)"
    )
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--build", help=argparse.SUPPRESS)  # the child that saves the model
    args = parser.parse_args(argv)
    if args.build:
        build(args.build, args.model)
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="separate_memory_") as folder:
        # built in a child: this process stays small (no torch), so a child it starts
        # cannot inherit its peak (Linux counts the forking process' pages until exec)
        model = os.path.join(folder, "model")
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        builder = [sys.executable, os.path.abspath(__file__), "--build", model]
        subprocess.run(builder + ["--model", args.model], check=True, env=env)
        for minutes in args.minutes:
            rows.append(measure(model, folder, minutes, args.together))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"\nmodel {args.model}, OMP_NUM_THREADS={threads}, queries {QUERIES}")
    print(table(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
