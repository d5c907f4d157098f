"""``asteroid-wsas serve``: a local web page to separate audio with text queries."""

import argparse
import importlib.util
import math
import sys
from typing import Any

__all__ = ["add_parser", "cmd"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """``serve``'s options (the page's model, address, limits) on a new sub-parser of
    ``sub``, which is returned.

    Examples:
        >>> top = argparse.ArgumentParser(prog="asteroid-wsas")
        >>> add_parser(top.add_subparsers()).parse_args(["--model", "random"]).port
        7860
    """
    p = sub.add_parser("serve", help="a local web page to separate audio with text queries")
    p.add_argument(
        "--model",
        required=True,
        help="separator folder / file / URL / hub id, or 'random' (random weights, to try the page)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 opens the page to the network (default: %(default)s)",
    )
    p.add_argument("--port", type=int, default=7860, help="port (default: %(default)s)")
    p.add_argument(
        "--max-size-mb",
        type=float,
        default=50.0,
        help="largest audio file accepted, in MB (default: %(default)g)",
    )
    p.add_argument(
        "--max-queries", type=int, default=6, help="most queries per request (default: %(default)s)"
    )
    p.add_argument(
        "--encoder",
        help="CLAP folder or hub id, or a small-encoder .pth (default: the one bundled with "
        "--model, or named by the conf.yml beside it)",
    )
    p.add_argument("--device", help="torch device, e.g. cuda (default: cpu)")
    p.set_defaults(func=cmd)
    return p


PARSERS = {"serve": add_parser}


def cmd(args: argparse.Namespace) -> None:
    """``asteroid-wsas serve``: the web page (:func:`asteroid_wsas.webapp.serve`), after
    checking the options.

    Ctrl+C ends it with ``interrupted`` and status 130 (the command line's handler);
    SIGTERM or SIGHUP with ``terminated (SIGTERM)`` and 143, or ``(SIGHUP)`` and 129 (128 +
    the signal, as a shell reports a process the signal stops). Either way the page's
    files, Gradio's copies included, are removed first.
    """
    from ..webapp import Terminated, serve

    # found, not imported: Gradio reads where its cache goes when first imported (serve)
    if importlib.util.find_spec("gradio") is None:
        raise ValueError("the web page needs Gradio: pip install 'asteroid-wsas[app]'")
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be 1..65535, got {args.port}")
    if not args.host.strip():
        raise ValueError("--host must be an address, e.g. 127.0.0.1 (this machine only)")
    if not 0 < args.max_size_mb < math.inf:  # nan fails both comparisons
        raise ValueError(f"--max-size-mb must be a positive number of MB, got {args.max_size_mb:g}")
    if args.max_queries < 1:
        raise ValueError(f"--max-queries must be 1 or more, got {args.max_queries}")
    try:
        serve(
            args.model,
            args.host,
            args.port,
            args.max_size_mb,
            args.max_queries,
            args.device,
            encoder=args.encoder,
        )
    except Terminated as stop:
        print(f"terminated ({stop.name})", file=sys.stderr)
        raise SystemExit(stop.status) from None
