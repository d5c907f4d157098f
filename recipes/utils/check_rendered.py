"""Stage 0's check of a rendered set that is already there: it must have been rendered with
this run's settings (rate, seed and, for MUSIC's layout, recordings per class).

A set rendered at 8 kHz is otherwise reused silently by a run whose config asks 16 kHz (the
recordings are then resampled on reading and the sweep compares nothing). Exit status 1
with one line naming the difference and the ways out.

Usage:
    python ../utils/check_rendered.py data/rendered --dataset music --sample-rate 8000 \\
        --seed 1 --per-class 20
"""

import argparse
import json
import os
import sys
from typing import List, Optional


def differences(root: str, dataset: str, sample_rate: int, seed: int, per_class: int) -> List[str]:
    """What differs between the set at ``root`` and the asked settings, as phrases.

    Args:
        root: The rendered set (with its ``generator.json``).
        dataset: Its layout's name (``music`` counts recordings per class).
        sample_rate: The config's rate.
        seed: The recipe's ``--render_seed``.
        per_class: The recipe's ``--per_class``.

    Returns:
        list: e.g. ``["8000 Hz, not 16000 Hz"]``; empty when the set fits (or when it
        records nothing to compare: sets of earlier versions).
    """
    info_path = os.path.join(root, "generator.json")
    if not os.path.isfile(info_path):
        return []
    with open(info_path, encoding="utf-8") as f:
        info = json.load(f)
    found = []
    if info.get("sample_rate") not in (None, sample_rate):
        found.append(f"{info['sample_rate']} Hz, not {sample_rate} Hz")
    if info.get("seed") not in (None, seed):
        found.append(f"render seed {info['seed']}, not {seed}")
    audio = os.path.join(root, "audio")
    if dataset == "music" and os.path.isdir(audio):
        counts = {
            len([n for n in os.listdir(os.path.join(audio, c)) if n.endswith(".wav")])
            for c in os.listdir(audio)
            if os.path.isdir(os.path.join(audio, c))
        }
        if counts and counts != {per_class}:
            held = "/".join(str(n) for n in sorted(counts))
            found.append(f"{held} recordings per class, not {per_class}")
    return found


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--dataset", default="music")
    parser.add_argument("--sample-rate", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--per-class", type=int, required=True)
    args = parser.parse_args(argv)
    found = differences(args.root, args.dataset, args.sample_rate, args.seed, args.per_class)
    if found:
        print(
            f"stage 0: {args.root} was rendered with other settings ({'; '.join(found)}): "
            "pass --set_name NAME for a set of its own, or --force true to render it again",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
