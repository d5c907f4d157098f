"""One way to load the frozen encoder: by name, file, folder, package or beside a model."""

import importlib
import os
from typing import Any, Dict, Optional, Union

from ..utils import conf_beside

# kind -> (module, class) of the encoders named "<kind>:<name>"; imported only when asked
# for: the small encoder loads without paying for transformers' import (seconds per process)
_TEXT_ONLY = {
    "bert": (".bert", "BertTextEncoder"),
    "clip": (".clip_text", "ClipTextEncoder"),
    "clip_image": (".clip", "ClipEncoder"),
}

__all__ = ["load_encoder", "encoder_beside", "encoder_named"]

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
    from .tiny import TinyBimodalEncoder

    kind = None
    if isinstance(spec, dict):
        if spec.get("kind") == "small":
            return TinyBimodalEncoder.from_pretrained(spec["package"]).freeze()
        kind = spec.get("kind")
        spec = spec["name"]
    name = os.fspath(spec)
    prefix, colon, rest = name.partition(":")
    if colon and prefix in _TEXT_ONLY:  # also inside an entry: the name a conf.yml gave
        kind, name = prefix, rest
    options = {}
    if kind == "clip_image" and "?pooling=" in name:
        name, _, options["pooling"] = name.partition("?pooling=")
    if base_dir is not None and os.path.exists(os.path.join(base_dir, name)):
        name = os.path.join(os.fspath(base_dir), name)
    if kind in _TEXT_ONLY:
        module, cls = _TEXT_ONLY[kind]
        encoder = getattr(importlib.import_module(module, __package__), cls)
        return encoder.from_pretrained(name, **options).freeze()
    if os.path.isfile(name):
        return TinyBimodalEncoder.from_pretrained(name).freeze()
    from .clap import ClapEncoder

    return ClapEncoder.from_pretrained(name).freeze()


def encoder_beside(model_path: Union[str, os.PathLike]) -> Optional[str]:
    """The encoder a recipe trained a ``best_model.pth`` with: ``encoder.name`` of the
    ``conf.yml`` beside it, as :func:`encoder_named` resolves it (None without a conf.yml,
    or one that names no encoder).

    Raises:
        MissingEncoderError: The conf.yml names an encoder file that is not there.
    """
    conf = conf_beside(model_path)
    if conf is None or not (conf.get("encoder") or {}).get("name"):
        return None
    conf_path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "conf.yml")
    return encoder_named(conf, conf_path, os.fspath(model_path))


def encoder_named(
    conf: Dict[str, Any], conf_path: str, model_path: Optional[str] = None
) -> Optional[str]:
    """The encoder a recipe config's ``encoder.name`` names, as :func:`load_encoder` takes
    it: the recipe's ``tiny`` is its stage-2 file (``<run>/encoder/tiny.pth``, training's
    rule); a local path that is gone (a moved or copied experiment) is said so, not met with
    an error about CLAP hub ids.

    Args:
        conf: The config.
        conf_path: Its file (``tiny`` is found beside it).
        model_path: The separator file it belongs to (None: the config's own).

    Returns:
        str: the name; None when the config names none.

    Raises:
        MissingEncoderError: ``the encoder file X named in conf.yml is not there; ...``.
    """
    from ..separation.contract import MissingEncoderError

    name = (conf.get("encoder") or {}).get("name")
    if not name:
        return None
    name = str(name)
    if name == "tiny":
        name = os.path.join(os.path.dirname(os.path.abspath(conf_path)), "encoder", "tiny.pth")
    # a local path, not a hub id: a small-encoder file, or an absolute / relative folder
    # (a text-only or CLIP encoder's kind prefix and options apart)
    prefix, colon, rest = name.partition(":")
    path = rest if colon and prefix in ("bert", "clip", "clip_image") else name
    path = path.split("?")[0]
    local = path.endswith(".pth") or os.path.isabs(path) or path.startswith(("./", "../", "~"))
    if local and not os.path.exists(os.path.expanduser(path)):
        raise MissingEncoderError(model_path or conf_path, conf_path, path)
    return name
