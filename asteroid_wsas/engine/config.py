"""Recipe configs: YAML files with nested overrides, checked against the registries."""

import copy
import os
from typing import Any, Dict, Optional, Union

import yaml

from ..data.registry import get_dataset_class
from ..losses.objectives import OBJECTIVES
from ..protocol import apply_protocol

__all__ = ["load_conf", "save_conf", "objective_args"]

PathLike = Union[str, os.PathLike]


def _merge(base: Dict[str, Any], update: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_conf(
    path: PathLike, overrides: Optional[Dict[str, Any]] = None, method: Optional[str] = None
) -> Dict[str, Any]:
    """A recipe config (YAML), the method of a table row applied, the protocol's choices
    (:func:`~asteroid_wsas.protocol.apply_protocol`: ``protocol: authors`` in the file or
    in ``overrides``), then nested overrides (``{"training": {...}}``), which win over all.
    The method reads the overridden config (e.g. ``encoder.clip_image`` or ``data.frames``
    set on the command line).

    Args:
        path: The YAML file.
        overrides: Nested keys to set.
        method: A registered method (:mod:`asteroid_wsas.methods`); default: the file's
            top-level ``method:`` if any.

    Raises:
        ValueError: unknown dataset, objective or method, or a missing dataset root.
    """
    from ..methods import apply_method

    with open(path, encoding="utf-8") as f:
        conf = yaml.safe_load(f) or {}
    method = method or conf.get("method")
    if method:
        conf = apply_method(_merge(conf, overrides or {}), method)
    protocol = (overrides or {}).get("protocol") or conf.get("protocol")
    conf = _merge(apply_protocol(conf, protocol), overrides or {})
    get_dataset_class((conf.get("data") or {}).get("dataset"))  # names the known ones
    if conf.get("objective", {}).get("name") not in OBJECTIVES:
        raise ValueError(
            f"objective.name must be one of {list(OBJECTIVES)}, "
            f"got {conf.get('objective', {}).get('name')!r}"
        )
    return conf


def save_conf(conf: Dict[str, Any], path: PathLike) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(conf, f, sort_keys=False)


def objective_args(conf: Dict[str, Any]) -> Dict[str, Any]:
    """``objective.args`` updated by the block named after the objective, e.g.
    ``objective: {name: weak, weak: {cnt_weight: 0.1}}``: one config serves every objective.
    """
    objective = conf["objective"]
    args = {**(objective.get("args") or {}), **(objective.get(objective["name"]) or {})}
    if objective["name"] == "semi":
        # semi's parts start from the weak / supervised blocks (the same cnt_weight as the
        # weak row), then take semi's own settings of them
        for part in ("weak", "supervised"):
            merged = {**(objective.get(part) or {}), **(args.get(part) or {})}
            if merged:
                args[part] = merged
    return args
