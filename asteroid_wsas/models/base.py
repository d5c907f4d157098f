"""Separation models whose files load with ``torch.load(..., weights_only=True)``."""

from typing import Any, Dict

from asteroid.models import BaseModel

from ..serialization import PathOrConf, load_package, model_package


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
        package = model_package(self, self.get_model_args())
        package["state_dict"] = self.get_state_dict()
        return package

    @classmethod
    def from_pretrained(
        cls, pretrained_model_conf_or_path: PathOrConf, *args, **kwargs
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
            >>> import os, tempfile, torch
            >>> from asteroid_wsas import TextCondUNet
            >>> model = TextCondUNet(n_fft=62, hop_length=16, channels=[4, 8], n_heads=2)
            >>> path = os.path.join(tempfile.mkdtemp(), "model.pth")
            >>> torch.save(model.serialize(), path)
            >>> type(TextCondUNet.from_pretrained(path)).__name__
            'TextCondUNet'
        """
        conf = load_package(pretrained_model_conf_or_path)
        return super().from_pretrained(conf, *args, **kwargs)
