"""Recipe configs: YAML files with nested overrides, checked against the registries."""

import copy
import os
from typing import Any, Dict, Iterable, Optional, Union

import yaml

from ..data.registry import LabelledSolos, frames_block, get_dataset, get_dataset_class
from ..losses.objectives import OBJECTIVES
from ..protocol import apply_protocol
from ..separation.contract import read_yaml, yaml_loader
from .schema import ConfigError, check_conf

__all__ = ["load_conf", "recipe_overrides", "save_conf", "objective_args", "query_frames"]

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
        ConfigError: an unknown key (the closest known one suggested) or a value of the
            wrong type, in the file or the overrides (:mod:`~asteroid_wsas.engine.schema`).
        ValueError: unknown dataset, objective or method, or a missing dataset root.
    """
    from ..methods import apply_method

    conf = read_yaml(path)
    if not isinstance(conf, dict) or not conf:
        empty = " is empty" if not conf else ""
        raise ConfigError(
            f"{os.fspath(path)}{empty}: a recipe config is a mapping (data:, training:, ...)"
        )
    # the file's and the command line's keys, before anything reads them
    final = _merge(conf, overrides or {})
    check_conf(conf, os.fspath(path), final)
    check_conf(overrides or {}, "the command line's overrides", final)
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


def recipe_overrides(
    sets: Optional[Iterable[str]] = None,
    *,
    root: Optional[str] = None,
    protocol: Optional[str] = None,
    objective: Optional[str] = None,
    method: Optional[str] = None,
    encoder: Optional[str] = None,
    max_steps: Optional[int] = None,
    gpus: Optional[str] = None,
    num_nodes: Optional[int] = None,
) -> Dict[str, Any]:
    """The nested overrides of a recipe's command line, for :func:`load_conf`.

    ``--objective`` and ``--encoder`` set only ``name`` in their blocks, so the
    ``--set objective.*`` / ``encoder.*`` keys of the same command stay.

    Args:
        sets: ``key.sub=value`` items (``--set``); values are read as YAML.
        root: The dataset root (``data.root``), made absolute.
        protocol: ``ours`` or ``authors`` (the top-level ``protocol``).
        objective: ``objective.name``.
        method: Only checked against ``objective`` (a method sets the objective itself:
            pass it to :func:`load_conf`).
        encoder: ``encoder.name``; a file is made absolute, for eval.py from anywhere.
        max_steps: ``training.max_steps`` (the budget).
        gpus: GPUs per node: ``auto`` (Lightning's choice), ``0`` (the CPU) or a number.
        num_nodes: ``training.num_nodes`` (DDP over nodes).

    Returns:
        dict: nested keys to set, e.g. ``{"training": {"max_steps": 600}}``.

    Raises:
        ValueError: a ``--set`` item without ``=``, ``gpus`` not a number, both an
            objective and a method, an empty ``root`` or ``encoder``, or ``max_steps`` or
            ``num_nodes`` below 1.

    Examples:
        >>> recipe_overrides(["training.batch_size=4"], gpus="0")
        {'data': {}, 'training': {'batch_size': 4, 'accelerator': 'cpu', 'devices': 1}}
    """
    over: Dict[str, Any] = {"data": {}, "training": {}}
    if protocol:
        over["protocol"] = protocol
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key.sub=value, got {item!r}")
        node = over
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.load(value, Loader=yaml_loader())  # noqa: S506 - a SafeLoader
    # "is not None": an empty or zero value is refused, never silently the config's
    if root is not None:
        over["data"]["root"] = os.path.abspath(_given("--root", root))
    if method and objective:
        raise ValueError("give --method or --objective, not both (a method sets the objective)")
    if objective:
        over.setdefault("objective", {})["name"] = objective
    if encoder is not None:
        _given("--encoder", encoder)
        name = os.path.abspath(encoder) if os.path.isfile(encoder) else encoder
        over.setdefault("encoder", {})["name"] = name
    if max_steps is not None:
        over["training"]["max_steps"] = _positive("--max-steps", max_steps, "training.max_steps")
    if gpus not in (None, "auto"):
        try:
            n = int(gpus)
        except ValueError:
            raise ValueError(
                f"--gpus must be auto, 0 (the CPU) or a number, got {gpus!r}"
            ) from None
        over["training"].update(accelerator="gpu" if n else "cpu", devices=n if n else 1)
    if num_nodes is not None:
        over["training"]["num_nodes"] = _positive("--num-nodes", num_nodes, "training.num_nodes")
    return over


def _given(option: str, value: str) -> str:
    """``value``, unless it is empty (``--root ""``, an unset shell variable)."""
    if not value.strip():
        raise ValueError(f"{option} is empty: give a value, or leave the option out")
    return value


def _positive(option: str, value: int, key: str) -> int:
    """``value``, unless it is below 1 (0 would otherwise mean the config's own value)."""
    if value < 1:
        raise ValueError(
            f"{option} must be a positive number of {option.split('-')[-1]}, got {value} "
            f"(leave it out for the config's {key})"
        )
    return value


def save_conf(conf: Dict[str, Any], path: PathLike) -> None:
    """Write a run's whole config as YAML (``exp/<tag>/conf.yml``, which eval.py and the
    separator files' loaders read back)."""
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


def query_frames(conf: Dict[str, Any]) -> Dict[str, Any]:
    """How a config's separator is queried on fixed test sets: ``{}`` for text, or the
    ``frames`` / ``n_frames`` arguments of
    :class:`~asteroid_wsas.data.TestSetDataset` for image-queried ones (``queries: image``,
    frames from ``data.frames``).

    Raises:
        ValueError: ``queries`` is neither text nor image, or image without ``data.frames``
            or without a dataset that has videos.
    """
    queries = conf.get("queries", "text")
    if queries == "text":
        return {}
    if queries != "image":
        raise ValueError(f"queries must be 'text' or 'image', got {queries!r}")
    data = conf["data"]
    block = frames_block(data)
    dataset = get_dataset(data)
    if block is None or not isinstance(dataset, LabelledSolos):
        raise ValueError(
            "queries: image needs data.frames and a dataset of labelled videos (MUSIC, "
            f"VGGSound); data.dataset is {data.get('dataset')!r}"
        )
    return dataset.frame_args()
