"""What the ``asteroid-wsas`` commands share: the help formatter, one-line errors and
warnings, and the recipe config with the command line's overrides.

Light on purpose (no torch, no numpy): ``asteroid-wsas --help`` imports every command's
parser through this module.
"""

import argparse
import contextlib
import math
import sys
import warnings
from typing import Any, Iterator, Optional, TextIO, Type, Union

from ..separation.contract import ClippingWarning, MissingEncoderError, QueryWarning, ScaleWarning

__all__ = [
    "DefaultsFormatter",
    "user_errors",
    "check_devices",
    "show_warning",
    "recipe_conf",
    "conf_options",
    "count",
    "count0",
    "positive",
    "finite",
]


class DefaultsFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" to an option's help unless the help already says its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        # identity, not ==: a default of 0 is worth stating, False (a flag's) is not
        quiet = any(action.default is q for q in (None, False, argparse.SUPPRESS))
        if quiet or action.default == "" or "default" in text.lower() or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


@contextlib.contextmanager
def user_errors(encoder_option: bool = False) -> Iterator[None]:
    """Bad input ends the command with ``error: ...`` and status 1, not a traceback.

    Args:
        encoder_option: The command has ``--encoder``: a separator without its encoder is
            answered with that option, not with Python's ``encoder=``.
    """
    try:
        yield
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        if isinstance(err, MissingEncoderError):  # the command's option, not encoder=
            err = err.message("--encoder" if encoder_option else None, command_line=True)
        raise SystemExit(f"error: {err}") from None


def _number(text: str, kind: type, what: str, ok) -> Any:
    """``text`` as ``kind`` when ``ok`` holds, else argparse's error (the option named)."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def count(text: str) -> int:
    """argparse type: an integer >= 1 (sizes, steps, counts).

    Examples:
        >>> count("3")
        3
    """
    return _number(text, int, "a positive integer", lambda v: v >= 1)


def count0(text: str) -> int:
    """argparse type: an integer >= 0 (seeds, optional counts)."""
    return _number(text, int, "an integer >= 0", lambda v: v >= 0)


def positive(text: str) -> float:
    """argparse type: a finite number > 0 (seconds, rates, learning rates): ``nan``, ``inf``
    and 0 would fail later, far from the option.

    Examples:
        >>> positive("0.5")
        0.5
    """
    return _number(text, float, "a positive number", lambda v: math.isfinite(v) and v > 0)


def finite(text: str) -> float:
    """argparse type: a finite number (levels in dB)."""
    return _number(text, float, "a finite number", math.isfinite)


def check_devices(args: argparse.Namespace) -> None:
    """The devices a command asks for (``--device``, ``--gpus N``) are ones this machine
    has, before any work: the one check (:func:`~asteroid_wsas.utils.check_device`) for
    every command, in one line that lists the devices there are.

    Raises:
        ValueError: ``--device cuda: not available here (this machine has: cpu)``.
    """
    from ..utils import available_devices, check_device

    device = getattr(args, "device", None)
    if device is not None:
        check_device(device, "--device")
    gpus = getattr(args, "gpus", None)
    if gpus is not None and str(gpus).strip().isdigit() and int(gpus) > 0:
        have = available_devices()
        if sum(name.startswith("cuda") for name in have) < int(gpus):
            raise ValueError(
                f"--gpus {gpus}: not available here (this machine has: {', '.join(have)}); "
                "--gpus 0 trains on the CPU"
            )


def show_warning(
    message: Union[Warning, str],
    category: Type[Warning],
    filename: str,
    lineno: int,
    file: Optional[TextIO] = None,
    line: Optional[str] = None,
) -> None:
    """Query, clipping and scale warnings as one ``warning: ...`` line; other warnings as Python
    shows them (``warnings.showwarning`` while a command runs)."""
    if issubclass(category, (QueryWarning, ClippingWarning, ScaleWarning)):
        print(f"warning: {message}", file=file or sys.stderr)
    else:
        python_show_warning(message, category, filename, lineno, file, line)


python_show_warning = warnings.showwarning


def conf_options(p: argparse.ArgumentParser) -> None:
    """The options of the commands that read a recipe config: the config and what
    overrides it."""
    p.add_argument("conf", help="recipe config (local/conf.yml)")
    p.add_argument("--root", help="dataset root (overrides data.root)")
    p.add_argument(
        "--protocol",
        choices=("ours", "authors"),
        help="ours, or the authors' code's choices for every departure (docs/objective.md; "
        "--set still changes one of them) (default: the config's protocol, else ours)",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override any config key, e.g. --set training.batch_size=4 (repeatable)",
    )


# the command-line options recipe_overrides reads (--set and --method apart)
_OVERRIDES = ("root", "protocol", "objective", "encoder", "max_steps", "gpus", "num_nodes")


def recipe_conf(args: argparse.Namespace) -> dict:
    """The recipe config (``args.conf``) with the command line's overrides (``--set``,
    ``--root``, ``--objective``, ``--encoder``, ``--max-steps``, ``--gpus``, ...)."""
    from ..engine.config import load_conf, recipe_overrides

    method = getattr(args, "method", None)
    over = recipe_overrides(
        args.set,
        **{key: getattr(args, key, None) for key in _OVERRIDES},
        method=method,
    )
    return load_conf(args.conf, over, method=method)
