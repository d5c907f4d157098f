"""Protocols: the authors' training and evaluation choices, or ours, as settings of one code.

``protocol: authors`` in a recipe config (``--protocol authors`` on the command line)
reproduces what the authors' released code (microsoft/BiModalAudioSeparation) does;
``protocol: ours`` (the default) keeps this package's choices. Every choice where the two
differ is a **departure**: one named config key, which can be set on its own under either
protocol (``--protocol authors --set training.precision=bf16-mixed`` is the authors'
protocol with one of our choices; ``--set objective.weak.cnt_negatives=slot`` is ours with
one of theirs).

How a config is resolved (:func:`apply_protocol`, called by
:func:`~asteroid_wsas.engine.config.load_conf`): the recipe's YAML file, then the
authors' values for every departure under ``protocol: authors`` (they overwrite the
file's values, since a recipe file holds our choices; under ``ours`` the file is left as it
is, and a key it leaves out takes the code's default, which is ours), then the command
line's overrides, which win over both.

Some choices are fixed in every protocol, because the other way is a defect: a mixture of
mixtures never asks the same phrase, or the same class, of two of its mixtures (the
authors' MUSIC and VGGSound batches have this property; see
:class:`~asteroid_wsas.data.mixing.MixtureGroups`). The authors' double division of MUSIC
and VGGSound mixture targets (``_mix_n`` applied twice: targets sum to mix / P) is
reproduced only on request (``objective.weak.targets_over_p: true``), under either protocol.

This module imports neither torch nor the rest of the package: the command line reads it
for its help.

Examples:
    >>> conf = apply_protocol({"protocol": "authors", "training": {"precision": "bf16-mixed"}})
    >>> conf["training"]["precision"], conf["objective"]["weak"]["cnt_negatives"]
    ('32-true', 'slot')
    >>> apply_protocol({"training": {"precision": "auto"}})
    {'training': {'precision': 'auto'}, 'protocol': 'ours'}
"""

import copy
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

__all__ = [
    "PROTOCOLS",
    "Departure",
    "DEPARTURES",
    "departure",
    "apply_protocol",
    "protocol_of",
    "get_path",
    "set_path",
    "departures_table",
]

PROTOCOLS = ("ours", "authors")


@dataclass(frozen=True)
class Departure:
    """One choice where our protocol and the authors' differ.

    Attributes:
        name: Short name (tables, docs, the ablation).
        key: Dotted config key that holds it (``objective.weak.cnt_negatives``).
        ours: Its value under ``protocol: ours`` (the code's default, and the main job's).
        authors: Its value under ``protocol: authors``.
        what: One line: what the two values do.
        stage: ``"train"`` or ``"eval"``: which command reads it.
    """

    name: str
    key: str
    ours: Any
    authors: Any
    what: str
    stage: str = "train"

    def value(self, protocol: str) -> Any:
        """The value of this departure under ``protocol``."""
        return copy.deepcopy(self.ours if protocol == "ours" else self.authors)


# The authors' optimiser and schedule (arguments.py / scripts/train_*.sh of their code):
# Adam 1e-4 with weight decay 1e-4, StepLR x0.1 every 15 epochs stepped per epoch, 200
# epochs, a global batch of 16 mixtures of mixtures (2 per GPU x 8 GPUs), fp32, no clipping.
_AUTHORS_OPTIM = {"optimizer": "adam", "lr": 1.0e-4, "weight_decay": 1.0e-4}
_AUTHORS_SCHEDULER = {"name": "step", "step_size": 15, "gamma": 0.1, "interval": "epoch"}

DEPARTURES: List[Departure] = [
    Departure(
        "pooled negatives",
        "objective.weak.cnt_negatives",
        "batch",
        "slot",
        "L_CNT: one cross-entropy over all B*N*P phrases of the batch, times N (batch), or one "
        "per mixture slot n over that slot's B*P phrases, summed over n (slot)",
    ),
    Departure(
        "text masking",
        "objective.weak.cnt_text_mask",
        True,
        False,
        "L_CNT: other copies of a row's own phrase are left out of its softmax (true), or "
        "are negatives like any other phrase (false)",
    ),
    Departure(
        "row weights",
        "objective.weak.cnt_row_weights",
        True,
        False,
        "L_CNT: rows weighted by their phrase weight (1 / copies of a padded phrase), or all "
        "rows weighted equally",
    ),
    Departure(
        "L_CNT weight",
        "objective.weak.cnt_weight",
        0.1,
        0.5,
        "the weight of L_CNT in the total: 0.1 in the main job, whose 254-point STFT has 2-4x "
        "smaller magnitudes than the authors' 1022-point one (the paper-scale recipes keep "
        "0.5), or the authors' 0.5",
    ),
    Departure(
        "pooled BN",
        "training.bn_stats",
        "pooled",
        "per_query",
        "BatchNorm statistics in training over all (mixture, query) rows of the one U-Net "
        "call (pooled), or per query over the B mixtures, as one call per query computes "
        "them (per_query)",
    ),
    Departure(
        "per-device batch",
        "training.replica_batch",
        None,
        2,
        "BatchNorm statistics and L_CNT's negatives over the whole batch of a step (null), or "
        "per chunk of 2 mixtures of mixtures, as each of the authors' 8 DDP processes (2 per "
        "GPU, no synchronised BatchNorm, no gathered negatives) has them",
    ),
    Departure(
        "bf16",
        "training.precision",
        "auto",
        "32-true",
        "bf16 mixed precision where the device runs it fast (auto), or fp32 throughout "
        "(32-true)",
    ),
    Departure(
        "clipping",
        "training.gradient_clip_val",
        5.0,
        None,
        "gradient norm clipped at 5, or not clipped (null)",
    ),
    Departure(
        "optimiser",
        "optim",
        {"optimizer": "adam", "lr": 1.0e-3, "weight_decay": 0.0},
        _AUTHORS_OPTIM,
        "Adam at 1e-3 without weight decay, or Adam at 1e-4 with weight decay 1e-4",
    ),
    Departure(
        "schedule",
        "scheduler",
        {"name": "cosine"},
        _AUTHORS_SCHEDULER,
        "cosine decay to zero over training.max_steps, or StepLR x0.1 every 15 epochs",
    ),
    Departure(
        "budget",
        "training.max_steps",
        1000,
        -1,
        "a fixed number of optimiser steps (the main job's 1,000), or none: the epochs decide",
    ),
    Departure(
        "epochs",
        "training.max_epochs",
        10000,
        200,
        "epochs are not the budget (10,000), or 200 epochs are",
    ),
    Departure(
        "epoch",
        "data.epoch_repeat",
        1,
        50,
        "an epoch is one pass over the training list (1), or the list repeated 50 times "
        "(the authors' MUSIC epoch; their StepLR counts these epochs)",
    ),
    Departure(
        "batch",
        "training.batch_size",
        8,
        32,
        "items per step: 8 (4 mixtures of mixtures), or 32 (16 mixtures of mixtures, the "
        "authors' 2 per GPU on 8 GPUs)",
    ),
    Departure(
        "crops",
        "data.crop",
        "non_silent",
        "authors",
        "training crops random and non-silent (non_silent), or the authors' (authors): MUSIC "
        "/ VGGSound centred on a random time biased early, zero-padded at the file's ends, "
        "short files tiled; AudioCaps the fixed centre crop",
    ),
    Departure(
        "test composition",
        "eval.composition",
        "ours",
        "authors",
        "fixed test mixtures from random non-silent windows, one caption per AudioCaps clip "
        "(ours), or the authors' (centred crops; every caption row of AudioCaps' test list, "
        "each with a random validation clip as partner)",
        stage="eval",
    ),
    Departure(
        "scoring",
        "eval.scoring",
        "ours",
        "authors",
        "per-reference silence rules and the mean over mixtures (ours), or the authors': a "
        "mixture is dropped when any reference or estimate is silent (sum |x| <= 1e-5), and "
        "the figure is the mean of per-batch means",
        stage="eval",
    ),
]

_BY_NAME = {d.name: d for d in DEPARTURES}


def departure(name: str) -> Departure:
    """The departure called ``name``.

    Raises:
        ValueError: No such departure (the message lists them).
    """
    if name not in _BY_NAME:
        raise ValueError(f"no departure {name!r}; known: {sorted(_BY_NAME)}")
    return _BY_NAME[name]


def get_path(conf: Dict[str, Any], key: str, default: Any = None) -> Any:
    """The value at dotted ``key`` of a nested config, or ``default``.

    Examples:
        >>> get_path({"a": {"b": 1}}, "a.b"), get_path({"a": {}}, "a.c", 2)
        (1, 2)
    """
    node: Any = conf
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def set_path(conf: Dict[str, Any], key: str, value: Any) -> None:
    """Set dotted ``key`` of a nested config in place (intermediate mappings are made;
    a ``None`` on the way becomes a mapping).

    Raises:
        ValueError: A part of the way holds a value that is not a mapping.
    """
    parts = key.split(".")
    node = conf
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}
        if not isinstance(node[part], dict):
            raise ValueError(f"config key {key!r}: {part!r} holds {node[part]!r}, not a mapping")
        node = node[part]
    node[parts[-1]] = value


def protocol_of(conf: Dict[str, Any]) -> str:
    """The config's ``protocol`` (``ours`` when absent).

    Raises:
        ValueError: Neither ``ours`` nor ``authors``.
    """
    protocol = conf.get("protocol") or "ours"
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    return protocol


def apply_protocol(
    conf: Dict[str, Any],
    protocol: Optional[str] = None,
    stages: Sequence[str] = ("train", "eval"),
) -> Dict[str, Any]:
    """A copy of ``conf`` with the departures of its protocol set.

    ``authors`` overwrites every departure's key (a recipe file states our choices);
    ``ours`` leaves them as they are (the code's defaults are ours). Apply command-line
    overrides after this.

    Args:
        conf: A recipe config (its YAML file, before the command line's overrides).
        protocol: ``ours`` or ``authors``; default: the config's own ``protocol``.
        stages: Which departures to set: ``train`` ones, ``eval`` ones or both.

    Returns:
        dict: The config with ``protocol`` and the departures' keys set.

    Raises:
        ValueError: An unknown protocol.
    """
    out = copy.deepcopy(conf)
    if protocol is not None:
        out["protocol"] = protocol
    protocol = protocol_of(out)
    out["protocol"] = protocol
    for dep in DEPARTURES:
        if dep.stage not in stages:
            continue
        if protocol == "authors":
            set_path(out, dep.key, dep.value(protocol))
    return out


def departures_table() -> str:
    """The departures as a Markdown table (docs and ``--help``).

    Examples:
        >>> departures_table().splitlines()[0]
        '| Departure | Config key | ours | authors |'
    """

    def show(value: Any) -> str:
        if isinstance(value, dict):
            return ", ".join(f"{k}: {v}" for k, v in value.items())
        return (
            "null"
            if value is None
            else str(value).lower() if isinstance(value, bool) else str(value)
        )

    rows = ["| Departure | Config key | ours | authors |", "|---|---|---|---|"]
    for dep in DEPARTURES:
        rows.append(f"| {dep.name} | `{dep.key}` | {show(dep.ours)} | {show(dep.authors)} |")
    return "\n".join(rows)
