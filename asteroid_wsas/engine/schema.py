"""The keys a recipe config may hold and their types: a misspelt or mistyped key is an
error that names the file and the dotted key, never silently ignored or a traceback later.

The schema follows the code that reads the config: the keys of each block that the
package reads (``training``, ``data``, ``optim``, ``scheduler``, ``eval``, ``encoder``),
the protocol's departures (their key and the types of both values), and for the blocks
passed on as keyword arguments the constructor of the class they go to
(:func:`inspect.signature`): ``model`` (the registered model class), ``objective.args``
and ``objective.<name>`` (the registered objectives), ``scheduler`` (the torch
scheduler), so the schema does not drift from the code.

A null value is always accepted: in a recipe config it means "the code's default".

Examples:
    >>> check_conf({"trainig": {}}, "conf.yml")
    Traceback (most recent call last):
    ...
    asteroid_wsas.engine.schema.ConfigError: unknown key 'trainig' in conf.yml; did you mean 'training'?
"""

import difflib
import inspect
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from ..protocol import DEPARTURES

__all__ = ["ConfigError", "check_conf", "SECTIONS"]


class ConfigError(ValueError):
    """A config key that is unknown or of the wrong type (a user error)."""


# a type: (what the message calls it, the check)
Type = Tuple[str, Callable[[Any], bool]]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


INT: Type = ("an integer", _is_int)
NUMBER: Type = ("a number", lambda v: _is_int(v) or isinstance(v, float))
STR: Type = ("a string", lambda v: isinstance(v, str))
BOOL: Type = ("true or false", lambda v: isinstance(v, bool))
LIST: Type = ("a list", lambda v: isinstance(v, list))
DICT: Type = ("a mapping", lambda v: isinstance(v, dict))
ANY: Type = ("anything", lambda v: True)
# sizes, counts and rates: a zero or a negative one fails only later, or never (a loss of
# nothing, a learning rate that climbs the loss)
COUNT: Type = ("a positive integer", lambda v: _is_int(v) and v > 0)
COUNT0: Type = ("an integer >= 0", lambda v: _is_int(v) and v >= 0)
BUDGET: Type = ("a positive integer or -1 (no limit)", lambda v: _is_int(v) and (v > 0 or v == -1))
POSITIVE: Type = ("a positive number", lambda v: NUMBER[1](v) and v > 0)
POSITIVE0: Type = ("a number >= 0", lambda v: NUMBER[1](v) and v >= 0)
FRACTION: Type = ("a number from 0 to 1", lambda v: NUMBER[1](v) and 0 <= v <= 1)


def _either(*types: Type) -> Type:
    return (" or ".join(t[0] for t in types), lambda v: any(t[1](v) for t in types))


# the keys each block's readers take (grep conf[...] / .get(...) over asteroid_wsas/)
SECTIONS: Dict[str, Dict[str, Type]] = {
    "training": {
        "batch_size": COUNT,
        "max_epochs": BUDGET,
        "max_steps": BUDGET,
        "precision": _either(STR, INT),
        "gradient_clip_val": POSITIVE0,
        "accelerator": STR,
        "devices": _either(STR, INT, LIST),
        "num_nodes": COUNT,
        "checkpoint_every_n_steps": COUNT,
        "log_every_n_steps": COUNT,
        "progress_every": COUNT,
        "seed": INT,
        "val_check_interval": POSITIVE,
        "check_val_every_n_epoch": COUNT,
        "bn_stats": STR,
        "replica_batch": INT,
    },
    "data": {
        "dataset": STR,
        "root": STR,
        "list": STR,
        "sample_rate": COUNT,
        "segment": POSITIVE,
        "train_segment": POSITIVE,  # training crops; validation and test keep segment
        "augment": DICT,  # its keys: data.augment.SoloAugment
        "n_sources": COUNT,
        "n_phrases": COUNT,
        "phrases": STR,
        "instruments": LIST,
        "test_passes": COUNT,
        "test_seed": INT,
        "val_mixtures": COUNT0,
        "val_fraction": FRACTION,
        "test_fraction": FRACTION,
        "clean_fraction": FRACTION,
        "supervised_fraction": FRACTION,
        "clean_data": DICT,
        "frames": _either(DICT, BOOL),
        "split_seed": INT,
        "seed": INT,
        "num_workers": COUNT0,
        "crop": STR,
        "epoch_repeat": COUNT,
        "groups": STR,  # distinct (every protocol), or consecutive: only to measure the defect
    },
    "optim": {"optimizer": STR, "lr": POSITIVE, "weight_decay": POSITIVE0},
    "scheduler": {"name": STR, "interval": STR},
    "eval": {},
    "encoder": {"name": STR, "bert": STR, "clip": STR, "clip_image": STR},
    "model": {"name": STR},
    "objective": {"name": STR, "args": DICT},
}
TOP: Dict[str, Type] = {"protocol": STR, "method": STR, "queries": STR}
TOP.update({name: DICT for name in SECTIONS})


def _departure_types() -> None:
    """Each departure's key, typed by its two values (a float default takes integers)."""
    for dep in DEPARTURES:
        section, *rest = dep.key.split(".")
        if section not in SECTIONS or len(rest) != 1:
            continue  # objective.<name>.* is checked against the objective's signature
        types = []
        for value in (dep.ours, dep.authors):
            if value is None:
                continue
            kind = {bool: BOOL, int: INT, float: NUMBER, str: STR}.get(type(value), ANY)
            types.append(kind)
        if types:
            SECTIONS[section].setdefault(rest[0], _either(*dict.fromkeys(types)))


_departure_types()

# what a default's type says of a constructor parameter's values
# (an integer default may mean a number: a weight of 1 takes 0.1)
_DEFAULT_TYPES = {bool: BOOL, int: NUMBER, float: NUMBER, str: STR, list: LIST, tuple: LIST}


def _signature_keys(cls: Any, skip: Iterable[str] = ()) -> Optional[Dict[str, Type]]:
    """The keyword arguments of ``cls``'s constructor, typed by their defaults (None: it
    takes ``**kwargs``, so any key may be meant)."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    keys: Dict[str, Type] = {}
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind is p.VAR_POSITIONAL or p.name in skip:
            continue
        keys[p.name] = _DEFAULT_TYPES.get(type(p.default), ANY)
    return keys


def _fail_unknown(key: str, known: Iterable[str], where: str, source: str) -> None:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean '{where}{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
    raise ConfigError(f"unknown key '{where}{key}' in {source}{hint}")


def _check_block(block: Any, keys: Optional[Dict[str, Type]], where: str, source: str) -> None:
    """Check one mapping: its keys against ``keys`` (None: any key), their types."""
    if block is None:
        return
    if not isinstance(block, dict):
        what = where.rstrip(".") or "a recipe config"
        raise ConfigError(f"{source}: {what} must be a mapping, got {block!r}")
    for key, value in block.items():
        if keys is None:
            continue
        if key not in keys:
            _fail_unknown(str(key), sorted(keys), where, source)
        what, ok = keys[key]
        if value is not None and not ok(value):
            raise ConfigError(f"{source}: {where}{key} must be {what}, got {value!r}")


def _registered(lookup: Callable[[str], Any], name: Any) -> Any:
    """The class registered as ``name``, None if there is none (load_conf says which)."""
    try:
        return lookup(name)
    except (ValueError, KeyError, TypeError):
        return None


def check_conf(conf: Dict[str, Any], source: str, final: Optional[Dict[str, Any]] = None) -> None:
    """Check a config (a file's content, or the command line's overrides) against the
    schema.

    Args:
        conf: The nested keys to check.
        source: What the message names (the file, or ``--set``).
        final: The resolved config (method, protocol and overrides applied), whose names
            pick the classes the keyword blocks go to (default: ``conf``).

    Raises:
        ConfigError: ``unknown key 'training.bach_size' in conf.yml; did you mean
            'batch_size'?`` or ``conf.yml: optim.lr must be a number, got 'abc'``.
    """
    from ..data.registry import get_dataset_class
    from ..losses.objectives import OBJECTIVES
    from ..models.registry import get_model_class

    final = final or conf
    _check_block(conf, TOP, "", source)

    def block_of(name: str) -> Dict[str, Any]:
        return final.get(name) if isinstance(final.get(name), dict) else {}

    # data: a dataset registered from outside may read keys of its own
    data_keys = dict(SECTIONS["data"])
    dataset = _registered(get_dataset_class, block_of("data").get("dataset"))
    own = getattr(dataset, "conf_keys", None)
    # keys of its own are untyped; the shared ones keep their types
    extra = {key: ANY for key in own or () if key not in data_keys}
    if dataset is not None and dataset.__module__.startswith("asteroid_wsas."):
        data_keys.update(extra)
    else:
        data_keys = None if own is None else {**data_keys, **extra}
    _check_block(conf.get("data"), data_keys, "data.", source)
    _check_augment(conf.get("data"), source)

    for name in ("training", "eval", "encoder"):
        _check_block(conf.get(name), SECTIONS[name], f"{name}.", source)

    # model: the registered class's arguments (the code sets the rates and text sizes)
    model = _registered(get_model_class, block_of("model").get("name") or "TextCondUNet")
    model_keys = _signature_keys(model, skip=("self",)) if model is not None else None
    _check_block(
        conf.get("model"),
        None if model_keys is None else {**model_keys, **SECTIONS["model"]},
        "model.",
        source,
    )

    _check_optim(conf.get("optim"), block_of("optim"), source)
    _check_scheduler(conf.get("scheduler"), block_of("scheduler"), source)

    # objective: name, args (the objective's arguments) and a block per objective
    objective = conf.get("objective")
    blocks = {name: DICT for name in OBJECTIVES}
    _check_block(objective, {**SECTIONS["objective"], **blocks}, "objective.", source)
    if not isinstance(objective, dict):
        return
    for name, cls in OBJECTIVES.items():
        _check_objective(objective.get(name), cls, f"objective.{name}.", source, OBJECTIVES)
    chosen = OBJECTIVES.get(block_of("objective").get("name"))
    if chosen is not None:
        _check_objective(objective.get("args"), chosen, "objective.args.", source, OBJECTIVES)


def _check_augment(data: Any, source: str) -> None:
    """``data.augment``: its keys, probabilities and ranges
    (:class:`~asteroid_wsas.data.augment.SoloAugment` checks them where it is built)."""
    from ..data.augment import SoloAugment

    if not isinstance(data, dict):
        return
    try:
        SoloAugment.from_conf(data.get("augment"))
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None


def _check_objective(block: Any, cls: Any, where: str, source: str, objectives) -> None:
    """An objective's block: its constructor's arguments; semi's ``weak`` and
    ``supervised`` parts are checked against those objectives in turn."""
    keys = _signature_keys(cls, skip=("self",))
    if keys is not None:
        keys["selection"] = ANY  # how outputs answer queries: read by the separator
    _check_block(block, keys, where, source)
    for part in ("weak", "supervised"):
        if keys is not None and part in keys and isinstance((block or {}).get(part), dict):
            _check_objective(block[part], objectives[part], f"{where}{part}.", source, objectives)


def _check_optim(block: Any, final: Dict[str, Any], source: str) -> None:
    """``optim``: the optimiser's name, then its torch class's arguments."""
    import torch

    name = str(final.get("optimizer") or "adam").lower()
    cls = next((c for n, c in vars(torch.optim).items() if n.lower() == name), None)
    extra = _signature_keys(cls, skip=("self", "params")) if inspect.isclass(cls) else None
    keys = None if extra is None else {**extra, **SECTIONS["optim"]}
    _check_block(block, keys, "optim.", source)


def _check_scheduler(block: Any, final: Dict[str, Any], source: str) -> None:
    """``scheduler``: ``name`` (step or cosine), ``interval``, then the torch scheduler's
    arguments."""
    import torch

    schedulers = {
        "step": torch.optim.lr_scheduler.StepLR,
        "cosine": torch.optim.lr_scheduler.CosineAnnealingLR,  # T_max: the budget
    }
    cls = schedulers.get(final.get("name") or "step")  # another name: refused when built
    skip = ("self", "optimizer", "T_max", "verbose")
    extra = _signature_keys(cls, skip=skip) if cls is not None else None
    keys = None if extra is None else {**extra, **SECTIONS["scheduler"]}
    _check_block(block, keys, "scheduler.", source)
