"""Small shared rules: overwriting files, writing them whole, where bf16 is fast, devices,
registries by name."""

import contextlib
import csv
import os
import uuid
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    Dict,
    Iterator,
    List,
    MutableMapping,
    Optional,
    Tuple,
    Union,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "refuse_overwrite",
    "atomic_path",
    "atomic_write",
    "read_metrics_file",
    "fast_bf16",
    "device_of",
    "available_devices",
    "check_device",
    "query_slug",
    "register_named",
]


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


@contextlib.contextmanager
def atomic_path(path: Union[str, os.PathLike], suffix: str = ".part") -> Iterator[str]:
    """A temporary name beside ``path`` to write to; renamed to ``path`` when the block ends
    without an error, removed when it raises: a kill or a failure mid-write leaves the old
    file (or none) whole, never a half-written one under the final name.

    The name is unique per call (``.<name>.<random>.part``), so two processes writing one
    folder never write into the same temporary file.

    Args:
        path: The final file.
        suffix: End of the temporary name (tools that infer the format from it: ``.wav``).

    Examples:
        >>> import tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
        >>> with atomic_path(target) as tmp:
        ...     _ = open(tmp, "w").write("whole")
        >>> open(target).read(), os.listdir(os.path.dirname(target))
        ('whole', ['out.txt'])
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: Union[str, os.PathLike], mode: str = "w", **open_args: Any) -> Iterator[IO]:
    """``open(path, mode)`` through :func:`atomic_path`: the file appears whole or not at
    all.

    Examples:
        >>> import tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "rows.csv")
        >>> with atomic_write(target, newline="") as f:
        ...     _ = f.write("a,b\\n")
        >>> open(target).read()
        'a,b\\n'
    """
    with atomic_path(path) as tmp:
        with open(tmp, mode, **open_args) as f:
            yield f


def fast_bf16(device: Union[str, "torch.device"]) -> bool:
    """Whether bf16 runs fast on ``device``: CUDA with bf16, or a CPU with AVX512-BF16 / AMX
    (oneDNN's bf16 kernels; without them bf16 is emulated and slower than fp32)."""
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_bf16_supported()
    return kind == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def device_of(module: Any) -> "torch.device":
    """The device of a module's parameters (the CPU for a module without any)."""
    import torch

    param = next(module.parameters(), None)
    return torch.device("cpu") if param is None else param.device


def available_devices() -> list:
    """The torch devices this machine has, by name: ``cpu``, then ``cuda:0``, ..., ``mps``
    and ``xpu:0``, ... where they are."""
    import torch

    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{k}" for k in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        names += [f"xpu:{k}" for k in range(xpu.device_count())]
    return names


def check_device(device: Union[str, "torch.device"], argument: str = "device") -> "torch.device":
    """The one check of a device a user asks for: one that this machine has, refused in
    one line that lists the ones it has (not torch's assertion deep in the first copy).

    ``cuda`` means ``cuda:0`` (and so on for the other kinds with an index).

    Args:
        device: A torch device or its name (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
        argument: Its name in the message (``device``, ``--device``).

    Returns:
        torch.device: the device.

    Raises:
        ValueError: ``<argument> cuda:3: not available here (this machine has: cpu, cuda:0)``,
            or a name that is no device.

    Examples:
        >>> check_device("cpu")
        device(type='cpu')
    """
    import torch

    have = available_devices()
    shown = device if str(device).strip() else repr(device)  # --device "" shows as ''
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"{argument} {shown}: not a device (e.g. cpu, cuda, cuda:1, mps; this machine "
            f"has: {', '.join(have)})"
        ) from None
    name = parsed.type if parsed.type in ("cpu", "mps") else f"{parsed.type}:{parsed.index or 0}"
    if name not in have:
        raise ValueError(
            f"{argument} {shown}: not available here (this machine has: {', '.join(have)})"
        )
    return parsed


def shuffled_loader(data: Any, batch_size: int, collate_fn: Any, seed: int) -> Any:
    """A training DataLoader over ``data``: shuffled in the order of ``seed``, whole batches
    only (but the one partial batch of a dataset smaller than ``batch_size``)."""
    import torch
    from torch.utils.data import DataLoader

    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=True,
        drop_last=len(data) >= batch_size,
        collate_fn=collate_fn,
        generator=torch.Generator().manual_seed(seed),
    )


def conf_beside(model_path: Union[str, os.PathLike]) -> Optional[Dict[str, Any]]:
    """The recipe config a ``best_model.pth`` was trained with: the ``conf.yml`` beside it
    (None without one)."""
    from .separation.contract import read_yaml

    conf_path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "conf.yml")
    if not os.path.isfile(conf_path):
        return None
    return read_yaml(conf_path) or {}


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


def read_metrics_file(path: Union[str, os.PathLike]) -> Tuple[List[str], List[Dict[str, str]]]:
    """The header and rows of a Lightning ``metrics.csv`` (nothing when there is no file).

    Args:
        path: The CSV file.

    Returns:
        tuple: (column names, rows as dicts of strings; empty cells are ``""``).

    Examples:
        >>> read_metrics_file("/no/such/metrics.csv")
        ([], [])
    """
    if not os.path.isfile(path):
        return [], []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows
