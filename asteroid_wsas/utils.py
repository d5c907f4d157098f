"""Small shared rules: overwriting files, and where bf16 is fast."""

import os
from typing import TYPE_CHECKING, Any, Dict, MutableMapping, Optional, Union

if TYPE_CHECKING:
    import torch

__all__ = ["refuse_overwrite", "fast_bf16", "query_slug", "register_named"]


def refuse_overwrite(*paths: Union[str, os.PathLike], force: bool = False) -> None:
    """Raise for the first of ``paths`` that exists, unless ``force``: no user file is
    overwritten without ``--force`` (``force=True`` in Python).

    Raises:
        FileExistsError: naming the file.

    Examples:
        >>> refuse_overwrite("/no/such/file")  # nothing there: fine
    """
    if force:
        return
    for path in paths:
        if os.path.exists(path):
            raise FileExistsError(
                f"{os.fspath(path)} exists; pass --force (force=True in Python) to overwrite it"
            )


def fast_bf16(device: Union[str, "torch.device"]) -> bool:
    """Whether bf16 runs fast on ``device``: CUDA with bf16, or a CPU with AVX512-BF16 / AMX
    (oneDNN's bf16 kernels; without them bf16 is emulated and slower than fp32)."""
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_bf16_supported()
    return kind == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def conf_beside(model_path: Union[str, os.PathLike]) -> Optional[Dict[str, Any]]:
    """The recipe config a ``best_model.pth`` was trained with: the ``conf.yml`` beside it
    (None without one)."""
    import yaml

    conf_path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "conf.yml")
    if not os.path.isfile(conf_path):
        return None
    with open(conf_path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def query_slug(query: str) -> str:
    """A file-name-safe form of a query.

    Examples:
        >>> query_slug("A dog barks!")
        'a_dog_barks'
        >>> query_slug("image:shots/cello.jpg")
        'image_cello'
    """
    import re

    if query.startswith("image:"):
        stem = os.path.splitext(os.path.basename(query[len("image:") :]))[0]
        return "image_" + query_slug(stem)
    slug = re.sub(r"[^a-z0-9]+", "_", query.lower()).strip("_")
    return slug[:60] or "query"


def register_named(table: MutableMapping[str, type], cls: type, base: type, kind: str) -> type:
    """Add ``cls`` to ``table`` under ``cls.name`` (the datasets' and objectives' registries).

    Re-registering a class of the same qualified name (a reloaded module) replaces it.

    Raises:
        TypeError: ``cls`` does not subclass ``base`` or has no name of its own.
        ValueError: Another class already has the name.
    """
    name = getattr(cls, "name", None)
    if not (isinstance(cls, type) and issubclass(cls, base)) or name in (None, "", base.name):
        raise TypeError(f"a {kind} must subclass {base.__name__} and set name, got {cls!r}")
    existing = table.get(name)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"{kind} {name!r} is already registered ({existing.__qualname__})")
    table[name] = cls
    return cls
