"""The ``asteroid-wsas`` command: :func:`asteroid_wsas.cli.main`, started light.

Importing ``asteroid_wsas`` registers its models with Asteroid, which imports torch and
Asteroid (2 to 4 s). Started from here, the package skips that step: ``--help`` and
argument errors answer at once, and the sub-commands import torch and register the
models when they load one (``asteroid_wsas.models`` does it on import).
"""

import os
import sys

# read by asteroid_wsas/__init__.py while the package is imported from main()
LAUNCHING = False


def main() -> None:
    """Run the command line (the console script's entry point)."""
    global LAUNCHING
    LAUNCHING = True
    try:
        from asteroid_wsas.cli import main as run
    except KeyboardInterrupt:  # Ctrl+C while importing: one line and 130, as in main()
        print("interrupted", file=sys.stderr, flush=True)
        sys.stdout.flush()
        # not SystemExit: at exit, half-imported modules (numpy) could print tracebacks
        os._exit(130)
    finally:
        LAUNCHING = False
    run()


if __name__ == "__main__":
    main()
