"""Model files as plain dicts of tensors and Python values (loadable with weights_only=True).

Shared by the separators (:class:`asteroid_wsas.models.SafeBaseModel`) and the trainable
encoders, so that every file this package writes opens with ``torch.load(path,
weights_only=True)`` and can never run code when loaded.
"""

import os
from typing import Any, Dict, Union

import torch
from asteroid.utils.hub_utils import cached_download

from .version import __version__ as wsas_version

PathOrConf = Union[str, os.PathLike, Dict[str, Any]]


def to_plain(value: Any) -> Any:
    """Turn a config value into types the weights-only unpickler accepts.

    Args:
        value: A config value: dicts, lists, tuples, str, int, float, bool or None.

    Returns:
        The same value with tuples as lists and str subclasses (such as torch's
        ``TorchVersion``) as plain ``str``.

    Raises:
        TypeError: For any other type.

    Examples:
        >>> to_plain({"channels": (8, 16), "version": torch.__version__})["channels"]
        [8, 16]
    """
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    raise TypeError(f"model argument of type {type(value).__name__} cannot be serialized")


def software_versions() -> Dict[str, str]:
    """Versions of the libraries a model file was written with, as plain strings."""
    from importlib.metadata import PackageNotFoundError, version

    from asteroid import __version__ as asteroid_version

    try:  # the installed version, without importing Lightning (seconds) to ask it
        lightning_version = version("pytorch-lightning")
    except PackageNotFoundError:
        lightning_version = "not installed"
    return {
        "torch_version": str(torch.__version__),
        "pytorch_lightning_version": lightning_version,
        "asteroid_version": str(asteroid_version),
        "asteroid_wsas_version": str(wsas_version),
    }


def model_package(model: torch.nn.Module, model_args: Dict[str, Any]) -> Dict[str, Any]:
    """The dict that ``serialize()`` returns: name, state dict, arguments and versions."""
    return {
        "model_name": model.__class__.__name__,
        "state_dict": model.state_dict(),
        "model_args": to_plain(model_args),
        "infos": {"software_versions": software_versions()},
    }


def load_package(conf: PathOrConf) -> Dict[str, Any]:
    """Read a model package from a dict, a local file, a URL or a Hugging Face hub id.

    Args:
        conf: A dict as returned by ``serialize()``, or where to find one.

    Returns:
        dict: the package, loaded with ``weights_only=True``.

    Raises:
        ValueError: If ``conf`` is neither a dict nor a path-like / string.
    """
    if isinstance(conf, os.PathLike):
        conf = os.fspath(conf)
    if isinstance(conf, str):
        conf = torch.load(cached_download(conf), map_location="cpu", weights_only=True)
    if not isinstance(conf, dict):
        raise ValueError(
            "pretrained_model_conf_or_path must be a dict from serialize() or a path to one, "
            f"got {type(conf).__name__}"
        )
    return conf
