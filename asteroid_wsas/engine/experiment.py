"""The recipe driver's functions in one namespace (kept for code written against it).

The work lives by job: :mod:`.config` (configs), :mod:`.training` (build and fit),
:mod:`.evaluation` (fixed test sets and scores); reporting in
:mod:`asteroid_wsas.reporting` (:mod:`~asteroid_wsas.reporting.examples`: wavs and PNGs;
:mod:`~asteroid_wsas.reporting.report`: tables, claims, curves). Datasets come from
:mod:`asteroid_wsas.data.registry`, models from :mod:`asteroid_wsas.models.registry`.
"""

from .config import load_conf, objective_args, save_conf
from .evaluation import build_manifest, evaluate, load_separator
from ..reporting.examples import examples, write_example
from .training import build_model, build_system, recipe_encoder, train, train_datasets

__all__ = [
    "load_conf",
    "save_conf",
    "objective_args",
    "build_manifest",
    "recipe_encoder",
    "build_model",
    "build_system",
    "train_datasets",
    "train",
    "load_separator",
    "evaluate",
    "examples",
    "write_example",
]
