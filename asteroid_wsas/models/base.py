"""What a text-queried separator provides, and a base whose files load with
``torch.load(..., weights_only=True)``."""

from typing import Any, Dict, Optional, Protocol, Tuple, runtime_checkable

import torch
from asteroid.models import BaseModel

from ..serialization import PathOrConf, load_package, model_package


@runtime_checkable
class TextQueriedSeparator(Protocol):
    """The interface the objectives, the system and the :class:`~asteroid_wsas.Separator`
    rely on; :class:`~asteroid_wsas.TextCondUNet` provides it. A new model provides it too
    (subclass :class:`SafeBaseModel` for the file format) and registers itself
    (:func:`asteroid_wsas.models.register_model`).

    Attributes:
        sample_rate: The rate the model separates at.
        text_embed_dim: Size D of the pooled query embedding it takes.
        text_token_dim: Size E of the query token states it takes.
        wants_tokens: Whether queries need token states (and masks) besides the embedding.
        learned_queries: None, or the M learned queries of a model trained without text
            (:class:`~asteroid_wsas.models.queries.LearnedQueries`).

    Shape:
        - wav: :math:`(B, T)`; embed :math:`(B, K, D)`; tokens :math:`(B, K, L, E)`;
          mask :math:`(B, K, L)`.
        - ``forward``: estimates :math:`(B, K, T)`.
        - ``forward_masks``: masks :math:`(B, K, F, N)` and the complex mixture STFT
          :math:`(B, F, N)`; ``istft(masks * spec[:, None], T)`` gives the estimates.
    """

    sample_rate: float
    text_embed_dim: int
    text_token_dim: int
    learned_queries: Optional[torch.nn.Module]

    @property
    def wants_tokens(self) -> bool: ...

    def forward(self, wav, text_embed, text_tokens=None, text_mask=None) -> torch.Tensor: ...

    def forward_masks(
        self, wav, text_embed, text_tokens=None, text_mask=None
    ) -> Tuple[torch.Tensor, torch.Tensor]: ...

    def stft(self, wav: torch.Tensor) -> torch.Tensor: ...

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor: ...

    def serialize(self) -> Dict[str, Any]: ...


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
        conf = cls.upgrade_package(load_package(pretrained_model_conf_or_path))
        return super().from_pretrained(conf, *args, **kwargs)

    @classmethod
    def upgrade_package(cls, package: Dict[str, Any]) -> Dict[str, Any]:
        """Bring a package written by an older version to the current format (a new dict;
        the default keeps it as it is)."""
        return package
