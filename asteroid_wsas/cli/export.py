"""``asteroid-wsas export``: an ONNX graph of a separator with its text queries built in.

The export itself is :func:`asteroid_wsas.export.export_onnx`; this half is kept light so
that ``asteroid-wsas --help`` starts without importing torch.
"""

import argparse
from typing import Any

from ..export_spec import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, check_onnx_path, sidecar_path
from ..separation.contract import check_queries
from ..utils import refuse_overwrite

__all__ = ["add_parser", "cmd"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``asteroid-wsas export`` on an argparse sub-parsers object.

    Args:
        sub: What ``parser.add_subparsers()`` returned.

    Returns:
        argparse.ArgumentParser: The ``export`` sub-parser (its ``func`` is
        :func:`cmd`).

    Examples:
        >>> parser = argparse.ArgumentParser(prog="asteroid-wsas")
        >>> _ = add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["export", "sep/", "--queries", "a dog", "-o", "m.onnx"])
        >>> args.queries, args.output, args.opset, args.func.__name__
        (['a dog'], 'm.onnx', 17, 'cmd')
    """
    p = sub.add_parser(
        "export",
        help="write an ONNX graph of a separator with its text queries built in",
        description="Export a text-queried separator to ONNX for fixed queries: the graph "
        "maps mono audio (batch, time) at the model's rate to (batch, queries, time) and "
        "needs no text encoder; a JSON beside it lists the queries and the shapes.",
    )
    p.add_argument(
        "model",
        metavar="MODEL",
        help="separator folder, separator.pth, recipe best_model.pth, URL or hub id "
        "(anything Separator.from_pretrained loads; required)",
    )
    p.add_argument(
        "--queries",
        nargs="+",
        required=True,
        metavar="TEXT",
        help="texts to answer, one output each in this order (required; images cannot be "
        "exported)",
    )
    p.add_argument(
        "--negative",
        nargs="+",
        default=[],
        metavar="TEXT",
        help="texts whose sounds are removed from every output (default: none)",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="the .onnx file to write; the .json goes beside it (required)",
    )
    p.add_argument(
        "--opset",
        type=int,
        default=DEFAULT_OPSET,
        help=f"ONNX opset, {MIN_OPSET} to {MAX_OPSET} (default: %(default)s)",
    )
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="skip running the file with onnxruntime against PyTorch (default: verify when "
        "onnxruntime is installed)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite the .onnx and .json files (default: refuse if they exist)",
    )
    p.set_defaults(func=cmd)
    return p


PARSERS = {"export": add_parser}


def cmd(args: argparse.Namespace) -> None:
    """``asteroid-wsas export``: load ``args.model`` and write ``args.output`` and its JSON.

    Raises:
        ValueError: Bad queries or model (see :func:`export_onnx`).
        FileExistsError: An output exists and ``--force`` was not given.
    """
    from ..export import export_onnx
    from ..separation.separator import Separator

    # checked before the model is loaded: a refusal costs nothing
    check_queries(args.queries, "--queries", texts_only=True)
    check_queries(args.negative, "--negative", allow_empty=True, texts_only=True)
    check_onnx_path(args.output, "-o")  # before --force is asked for a file it would refuse
    refuse_overwrite(args.output, sidecar_path(args.output), force=args.force)
    separator = Separator.from_pretrained(args.model)
    info = export_onnx(
        separator,
        args.queries,
        args.output,
        opset=args.opset,
        force=args.force,
        negatives=args.negative,
        verify=not args.no_verify,
    )
    print(f"{args.output}: {len(info['queries'])} queries at {info['sample_rate']} Hz")
    for k, query in enumerate(info["queries"]):
        print(f"  output {k}: {query!r}")
    snr = info.get("verified_snr_db")
    if snr is not None:
        print(f"onnxruntime vs PyTorch on 1 s of noise: SNR {snr:.1f} dB")
    elif not args.no_verify:
        print("not verified: pip install onnxruntime to check the file against PyTorch")
    print(f"{sidecar_path(args.output)}: queries, rate, shapes, limitations")
