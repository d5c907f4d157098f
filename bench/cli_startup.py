"""Start-up time of the ``asteroid-wsas`` command (issue 19: help in under 1 s).

Times, in fresh interpreters, ``asteroid-wsas --help`` and ``asteroid-wsas separate --help``
through the console script's launcher (``asteroid_wsas_cli``), beside a plain
``import asteroid_wsas`` (which registers the models with Asteroid, hence imports torch):
the difference is what the launcher saves. Medians of ``--repeats`` runs.

Usage:
    python bench/cli_startup.py
    python bench/cli_startup.py --repeats 3
"""

import argparse
import statistics
import subprocess
import sys
import time

GOAL_S = 1.0

CASES = {
    "asteroid-wsas --help": "import sys, asteroid_wsas_cli; sys.argv = ['asteroid-wsas', '--help']",
    "asteroid-wsas separate --help": (
        "import sys, asteroid_wsas_cli; sys.argv = ['asteroid-wsas', 'separate', '--help']"
    ),
    "import asteroid_wsas (for comparison)": "import asteroid_wsas",
}


def timed(code: str) -> float:
    """Wall seconds of a fresh interpreter running ``code`` (``main()`` for the launcher)."""
    if "asteroid_wsas_cli" in code:
        code += "\ntry:\n    asteroid_wsas_cli.main()\nexcept SystemExit:\n    pass"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each case")
    args = parser.parse_args()
    results = {}
    for name, code in CASES.items():
        timed(code)  # the first run fills the OS file cache
        results[name] = statistics.median(timed(code) for _ in range(args.repeats))
    width = max(map(len, results))
    for name, seconds in results.items():
        verdict = ""
        if "--help" in name:
            verdict = f"  goal < {GOAL_S:.0f} s: {'yes' if seconds < GOAL_S else 'no'}"
        print(f"{name:<{width}}  {seconds:6.3f} s{verdict}")
    full = results["import asteroid_wsas (for comparison)"]
    print(f"ratio import / --help: {full / results['asteroid-wsas --help']:.1f}x")


if __name__ == "__main__":
    main()
