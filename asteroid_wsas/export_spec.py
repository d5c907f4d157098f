"""What an ONNX export is, without torch: the opset range, the rule for its queries and
the JSON file beside it. :mod:`asteroid_wsas.export` (the export) and
:mod:`asteroid_wsas.export_cli` (the command, light enough for ``--help``) both read it.
"""

import os
from typing import Any, List

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "MAX_OPSET", "check_text_queries", "sidecar_path"]

# 17: LayerNorm is one ONNX op from 17 on; the TorchScript exporter goes up to 20
DEFAULT_OPSET = 17
MIN_OPSET = 14  # scaled_dot_product_attention exports from 14 on
MAX_OPSET = 20


def check_text_queries(queries: Any, argument: str, allow_empty: bool = False) -> List[str]:
    """Text queries as a list, or a ValueError naming the argument."""
    if queries is None:
        queries = []
    elif isinstance(queries, str):
        queries = [queries]
    else:
        queries = list(queries)
    if not queries and not allow_empty:
        raise ValueError(f"{argument} must hold at least one query")
    for k, query in enumerate(queries):
        if not isinstance(query, str):
            raise ValueError(
                f"{argument}[{k}] must be a text; image queries cannot be exported, got "
                f"{type(query).__name__}"
            )
        if not query.strip():
            raise ValueError(f"{argument}[{k}] is an empty text")
        if query.startswith("image:"):
            raise ValueError(f"{argument}[{k}] is an image query ({query!r}); export takes texts")
    return queries


def sidecar_path(path: str) -> str:
    """The JSON file beside an exported model (its queries, rates and versions)."""
    return os.path.splitext(path)[0] + ".json"
