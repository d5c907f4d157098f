"""One way to load the frozen encoder: by name, file, folder, package or beside a model."""

import os
from typing import Any, Dict, Optional, Union

from ..utils import conf_beside

__all__ = ["load_encoder", "encoder_beside"]

Spec = Union[str, os.PathLike, Dict[str, Any]]


def load_encoder(spec: Spec, base_dir: Optional[Union[str, os.PathLike]] = None):
    """The frozen bimodal encoder that ``spec`` names.

    Args:
        spec: A transformers CLAP folder or hub id (``laion/clap-htsat-unfused``), a small
            encoder file (``.pth`` from ``asteroid-wsas train-encoder`` or a recipe's stage
            2), a text-only encoder as ``"<kind>:<folder or hub id>"`` (a BERT,
            ``bert:bert-base-uncased``, :class:`~asteroid_wsas.encoders.bert.BertTextEncoder`;
            CLIP's text tower, ``clip:openai/clip-vit-base-patch32``,
            :class:`~asteroid_wsas.encoders.clip_text.ClipTextEncoder`), CLIP's text and image
            towers as ``clip_image:<folder or hub id>``
            (:class:`~asteroid_wsas.encoders.clip.ClipEncoder`, image queries; a
            ``?pooling=patch_max`` suffix picks its patch-maximum pooling), or a separator
            package's encoder entry (``{"kind": "small", "package": ...}`` or ``{"kind":
            "clap" | "bert" | "clip" | "clip_image" | "named", "name": ...}``).
        base_dir: Folder that relative names are tried against first (a package's own).

    Returns:
        The encoder, frozen.

    Examples:
        >>> encoder = load_encoder("bert:bert-base-uncased")  # doctest: +SKIP
        >>> encoder = load_encoder("clip:openai/clip-vit-base-patch32")  # doctest: +SKIP
    """
    from .bert import BertTextEncoder
    from .clap import ClapEncoder
    from .clip import ClipEncoder
    from .clip_text import ClipTextEncoder
    from .tiny import TinyBimodalEncoder

    text_only = {cls.kind: cls for cls in (BertTextEncoder, ClipTextEncoder, ClipEncoder)}
    kind = None
    if isinstance(spec, dict):
        if spec.get("kind") == "small":
            return TinyBimodalEncoder.from_pretrained(spec["package"]).freeze()
        kind = spec.get("kind")
        spec = spec["name"]
    name = os.fspath(spec)
    prefix, colon, rest = name.partition(":")
    if colon and prefix in text_only:  # also inside an entry: the name a conf.yml gave
        kind, name = prefix, rest
    options = {}
    if kind == ClipEncoder.kind and "?pooling=" in name:
        name, _, options["pooling"] = name.partition("?pooling=")
    if base_dir is not None and os.path.exists(os.path.join(base_dir, name)):
        name = os.path.join(os.fspath(base_dir), name)
    if kind in text_only:
        return text_only[kind].from_pretrained(name, **options).freeze()
    if os.path.isfile(name):
        return TinyBimodalEncoder.from_pretrained(name).freeze()
    return ClapEncoder.from_pretrained(name).freeze()


def encoder_beside(model_path: Union[str, os.PathLike]) -> Optional[str]:
    """The encoder a recipe trained a ``best_model.pth`` with: ``encoder.name`` of the
    ``conf.yml`` beside it (None without one)."""
    conf = conf_beside(model_path)
    return None if conf is None else (conf.get("encoder") or {}).get("name")
