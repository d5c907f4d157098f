"""``asteroid-wsas``: command-line entry points, one module per command family.

Sub-commands (module: commands):
    data.py         prompts, download, generate, testset, prepare
    train.py        train-encoder, train-clip, train
    evaluate.py     evaluate, examples
    separate.py     separate
    serve.py        serve
    paper.py        compare, paper-runs, paper-tables
    export.py       export
    publish.py      publish
    common.py       the help formatter, one-line errors and warnings, the recipe config

Each module has ``add_parser(sub)`` (its commands' parsers; ``PARSERS`` maps each command
to the function that adds it) and thin handlers over the library (``cmd``, or
``cmd_<command>`` in a family). Every module is light: the handlers import torch when they
run, so ``asteroid-wsas --help`` starts without it.
"""

import argparse
import errno
import sys
import traceback
import warnings
from typing import List, Optional

from . import data, evaluate, export, paper, publish, separate, serve, train
from ..signals import Terminated, raise_on_stop_signals, restore_handlers
from .common import (
    DefaultsFormatter,
    check_devices,
    python_show_warning,
    recipe_conf,
    show_warning,
    user_errors,
)
from .data import DATASET_NAMES
from .evaluate import encoder_of, evaluate_args, print_scores, scoring_of, separator_of
from .train import OBJECTIVE_NAMES, refuse_finished_run

__all__ = [
    "main",
    "build_parser",
    "recipe_conf",
    "refuse_finished_run",
    "user_errors",
    "encoder_of",
    "evaluate_args",
    "separator_of",
    "print_scores",
    "scoring_of",
    "DATASET_NAMES",
    "OBJECTIVE_NAMES",
]

# (family, command) in the order --help lists them: a recipe's stages, then the tools
COMMANDS = (
    (data, "prompts"),
    (train, "train-encoder"),
    (train, "train-clip"),
    (data, "testset"),
    (data, "download"),
    (data, "generate"),
    (data, "prepare"),
    (train, "train"),
    (evaluate, "evaluate"),
    (evaluate, "examples"),
    (separate, "separate"),
    (serve, "serve"),
    (paper, "compare"),
    (paper, "paper-runs"),
    (paper, "paper-tables"),
    (export, "export"),
    (publish, "publish"),
)

_show_warning = show_warning  # the name earlier versions had


def build_parser() -> argparse.ArgumentParser:
    """The ``asteroid-wsas`` parser with every sub-command (``args.func`` runs one).

    Examples:
        >>> args = build_parser().parse_args(["serve", "--model", "random"])
        >>> args.command, args.func.__module__
        ('serve', 'asteroid_wsas.cli.serve')
    """
    parser = argparse.ArgumentParser(
        prog="asteroid-wsas",
        description="Text-queried audio separation trained without clean audio.",
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for family, command in COMMANDS:
        family.PARSERS[command](sub)
    for command in sub.choices.values():
        command.formatter_class = DefaultsFormatter
        # also after the command; SUPPRESS keeps a --debug given before it
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP
        )
    return parser


DEBUG_HELP = "on an unexpected error, show Python's traceback (default: one line)"
# the exit status of a command stopped by Ctrl+C (128 + SIGINT), as shells report it
INTERRUPTED = 130
# a full disk or quota: what the user can fix, said as such by every command
FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


def main(argv: Optional[List[str]] = None) -> None:
    """Run the ``asteroid-wsas`` command line: no traceback reaches the user.

    A user error ends with one ``error: ...`` line and status 1 (:func:`user_errors`); any
    other exception with one line naming it and a hint to rerun with ``--debug`` (which
    prints the traceback), status 1; a full disk (``OSError`` ENOSPC / EDQUOT, from any
    write: a checkpoint, a log, a manifest) with ``error: cannot write FILE: No space left on
    device (...)``, status 1; Ctrl+C with ``interrupted``, status 130; SIGTERM or
    SIGHUP with ``terminated (SIGTERM)``, status 128 + the signal (143, 129), after the same
    clean-up as Ctrl+C (no ``.part`` file left).

    Args:
        argv: The arguments (None: ``sys.argv[1:]``).

    Raises:
        SystemExit: on any failure, with status 1 (its ``error:`` line) or 130.
    """
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    _print_any_file_name()
    try:
        args = build_parser().parse_args(argv)
        debug = args.debug
        warnings.showwarning = show_warning
        handlers = raise_on_stop_signals()  # SIGTERM / SIGHUP clean up as Ctrl+C does
        try:
            with user_errors(encoder_option=hasattr(args, "encoder")):
                check_devices(args)  # --device / --gpus: one this machine has
                args.func(args)
        finally:
            warnings.showwarning = python_show_warning
            restore_handlers(handlers)
    except Terminated as stop:
        print(f"terminated ({stop.name})", file=sys.stderr)
        raise SystemExit(stop.status) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None
    except OSError as err:
        if err.errno not in FULL_DISK:
            _unexpected(err, debug)
        # a checkpoint, a log, a manifest: any command's write can meet a full disk
        where = f"cannot write {err.filename}: " if err.filename else ""
        print(
            f"error: {where}{err.strerror} (free some space, or write to another disk)",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    except Exception as err:  # noqa: BLE001 - the last line of defence: no traceback
        _unexpected(err, debug)


def _unexpected(err: BaseException, debug: bool) -> None:
    """One line naming an unexpected error (its traceback with ``--debug``); exits 1."""
    if debug:
        traceback.print_exc()
    hint = "" if debug else " (rerun with --debug for the traceback)"
    message = " ".join(str(err).split())  # one line, whatever the exception holds
    print(f"error: unexpected {type(err).__name__}: {message}{hint}", file=sys.stderr)
    raise SystemExit(1) from None


def _print_any_file_name() -> None:
    """Let stdout and stderr print any file name: a name that is not valid UTF-8 comes from
    the command line as surrogates (Python's ``surrogateescape``), and goes back out as the
    same bytes instead of failing with a codec error."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            try:
                reconfigure(errors="surrogateescape")
            except (ValueError, OSError):  # a stream that cannot change now: left as it is
                pass
