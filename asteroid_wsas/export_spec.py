"""What an ONNX export is, without torch: the opset range, the rule for its queries and
the JSON file beside it. :mod:`asteroid_wsas.export` (the export) and
:mod:`asteroid_wsas.cli.export` (the command, light enough for ``--help``) both read it.
"""

import os
from typing import Any, List

from .separation.contract import check_queries

__all__ = [
    "DEFAULT_OPSET",
    "MIN_OPSET",
    "MAX_OPSET",
    "check_text_queries",
    "check_onnx_path",
    "sidecar_path",
]

# 17: LayerNorm is one ONNX op from 17 on; the TorchScript exporter goes up to 20
DEFAULT_OPSET = 17
MIN_OPSET = 14  # scaled_dot_product_attention exports from 14 on
MAX_OPSET = 20


def check_text_queries(queries: Any, argument: str, allow_empty: bool = False) -> List[str]:
    """Text queries as a list, or a ValueError naming the argument: the one query check
    (:func:`~asteroid_wsas.separation.contract.check_queries`) for texts only, since an
    export bakes text embeddings in.

    Examples:
        >>> check_text_queries("a dog barks", "queries")
        ['a dog barks']
    """
    return check_queries(queries, argument, allow_empty=allow_empty, texts_only=True)


def check_onnx_path(path: str, name: str = "path") -> str:
    """The ONNX file's path, refused when it names the JSON sidecar: a ``.json`` path would
    be the sidecar of itself.

    Args:
        path: The output path.
        name: The argument's name in the message (``-o`` for the command line).

    Returns:
        str: ``path``.

    Raises:
        ValueError: ``path`` ends in ``.json``.

    Examples:
        >>> check_onnx_path("out/model.onnx")
        'out/model.onnx'
    """
    if path.lower().endswith(".json"):
        onnx_name = os.path.splitext(path)[0] + ".onnx"
        raise ValueError(
            f"{name} must name the .onnx file (its .json goes beside it), got {path}; "
            f"e.g. {name} {onnx_name}"
        )
    return path


def sidecar_path(path: str) -> str:
    """The JSON file beside an exported model (its queries, rates and versions)."""
    return os.path.splitext(path)[0] + ".json"
