"""Names of a package imported on first use (PEP 562), for packages whose modules pull heavy
libraries (transformers, Lightning) that most commands never need."""

import importlib
import sys
from typing import Any, Callable, Dict, List, Tuple


def lazy_names(package: str, names: Dict[str, str]) -> Tuple[Callable[[str], Any], Callable]:
    """The module-level ``__getattr__`` and ``__dir__`` of a package whose ``names`` are
    imported when first asked for.

    Args:
        package: The package's ``__name__``.
        names: Each lazy name -> the submodule (relative to ``package``) that defines it.

    Returns:
        ``(__getattr__, __dir__)``, to assign in the package's ``__init__``.

    Examples:
        >>> __getattr__, __dir__ = lazy_names("asteroid_wsas.engine", {"WeakSupSystem": "system"})
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(f".{names[name]}", package), name)
            setattr(sys.modules[package], name, value)  # later look-ups skip this function
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> List[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
