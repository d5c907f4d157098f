"""Serialization that stays loadable with ``torch.load(..., weights_only=True)``."""

import os
from typing import Any, Dict, Union

import torch
from asteroid.models import BaseModel
from asteroid.utils.hub_utils import cached_download


def _plain(value: Any) -> Any:
    """Turn config values into types the weights-only unpickler accepts."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)  # also strips str subclasses such as torch's TorchVersion
    raise TypeError(f"model argument of type {type(value).__name__} cannot be serialized")


class SafeBaseModel(BaseModel):
    """``asteroid.models.BaseModel`` whose saved files load with ``weights_only=True``.

    Asteroid's ``serialize`` stores ``torch.__version__``, a ``TorchVersion`` object that the
    weights-only unpickler (the default of ``torch.load`` since torch 2.6) refuses. Here
    every non-tensor entry is a plain Python type, and ``from_pretrained`` loads with
    ``weights_only=True`` explicitly, so a model file can never run code when opened.
    """

    def serialize(self) -> Dict[str, Any]:
        """Serialize the model to a dict of plain types and tensors.

        Returns:
            dict: keys ``model_name``, ``state_dict``, ``model_args`` and ``infos``.
        """
        import pytorch_lightning as pl
        from asteroid import __version__ as asteroid_version

        from .. import __version__ as wsas_version

        return {
            "model_name": self.__class__.__name__,
            "state_dict": self.get_state_dict(),
            "model_args": _plain(self.get_model_args()),
            "infos": {
                "software_versions": {
                    "torch_version": str(torch.__version__),
                    "pytorch_lightning_version": str(pl.__version__),
                    "asteroid_version": str(asteroid_version),
                    "asteroid_wsas_version": str(wsas_version),
                }
            },
        }

    @classmethod
    def from_pretrained(
        cls, pretrained_model_conf_or_path: Union[str, os.PathLike, dict], *args, **kwargs
    ) -> "SafeBaseModel":
        """Instantiate a model from ``serialize()``'s dict, a local file, a URL or a hub id.

        Args:
            pretrained_model_conf_or_path: A dict as returned by ``serialize``, or a path /
                URL / Hugging Face hub id of a file saved with ``torch.save(serialize())``.
            *args: Positional arguments for the model class.
            **kwargs: Keyword arguments overriding the stored ``model_args``.

        Returns:
            The model, in training mode as Asteroid leaves it; call ``.eval()`` to separate.

        Examples:
            >>> import tempfile, os
            >>> from asteroid_wsas import TextCondUNet
            >>> model = TextCondUNet(n_fft=62, hop_length=16, channels=[4, 8], n_heads=2)
            >>> path = os.path.join(tempfile.mkdtemp(), "model.pth")
            >>> torch.save(model.serialize(), path)
            >>> type(TextCondUNet.from_pretrained(path)).__name__
            'TextCondUNet'
        """
        conf = pretrained_model_conf_or_path
        if isinstance(conf, os.PathLike):
            conf = os.fspath(conf)
        if isinstance(conf, str):
            conf = torch.load(cached_download(conf), map_location="cpu", weights_only=True)
        if not isinstance(conf, dict):
            raise ValueError(
                "pretrained_model_conf_or_path must be a dict from serialize() or a path to one, "
                f"got {type(conf).__name__}"
            )
        return super().from_pretrained(conf, *args, **kwargs)
