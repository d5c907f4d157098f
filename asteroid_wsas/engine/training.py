"""Training a recipe's run: config -> data -> model -> objective -> system -> trainer.

Each step is a function a recipe's ``train.py`` calls in this order (:func:`train` is the
same assembly, for the ``asteroid-wsas train`` command): :func:`train_datasets`,
:func:`train_loaders` / :func:`combine_loaders`, :func:`val_loader`, :func:`recipe_encoder`,
:func:`build_model`, :func:`build_objective`, :func:`system_config` (for
:class:`~asteroid_wsas.engine.WeakSupSystem`), :func:`trainer_args` (for Lightning's
``Trainer``), then :func:`resume_point`, :func:`fit` and :func:`save_best_model`.

:func:`train` writes an experiment folder in Asteroid's layout::

    exp/<tag>/
      conf.yml            the full config of the run
      logs/metrics.csv    every logged value (losses per step, val_sdr per validation), the
                          whole history of the run across kills and resumes
      checkpoints/        best val_sdr checkpoint and last.ckpt (resume after a kill), read
                          with weights_only=True
      best_model.pth      the separator alone (weights_only-safe), from the best checkpoint
"""

import contextlib
import functools
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple, Union

import torch
import yaml

from ..data import (
    MixtureGroups,
    ResumableLoader,
    TestSetDataset,
    clean_mixtures,
    collate_groups,
    collate_test_items,
    mixture_of_mixtures,
)
from ..data.mixing import Repeated
from ..data.registry import LabelledSolos, clean_data, frames_block, get_dataset
from ..encoders.loading import load_encoder
from ..losses.objectives import OBJECTIVES, WeakObjective, make_objective
from ..models.classifier import dataset_classes
from ..separation.contract import read_yaml
from ..utils import available_devices, fast_bf16, refuse_overwrite
from .callbacks import (
    CHECKPOINT_EVERY_N_STEPS,
    HistoryCSVLogger,
    LastCheckpoint,
    checkpoint_callbacks,
    read_checkpoint,
    run_finished,
)
from .config import objective_args, query_frames, save_conf

__all__ = [
    "train_datasets",
    "train_loaders",
    "combine_loaders",
    "val_loader",
    "recipe_encoder",
    "build_model",
    "build_objective",
    "system_config",
    "build_system",
    "pretrained_classifier",
    "query_frames",
    "refuse_finished_run",
    "hold_experiment",
    "check_training_devices",
    "ResumePoint",
    "resume_point",
    "trainer_args",
    "fit",
    "save_best_model",
    "train",
]

PathLike = Union[str, os.PathLike]


def train_datasets(conf: Dict[str, Any]) -> Dict[str, Any]:
    """The training dataset(s) the configured objective declares (``Objective.batches``):
    ``{"weak": mixtures}``, ``{"clean": mixtures with their sources}`` or both.

    Their clips last ``data.train_segment`` seconds when it is set (else ``data.segment``,
    which the validation and test mixtures keep), and their solos are augmented as
    ``data.augment`` says (:class:`~asteroid_wsas.data.augment.SoloAugment`).

    The clean part is a share of the data's own clips, or, with ``data.clean_data``
    (:func:`~asteroid_wsas.data.registry.clean_data`), clips of a second dataset; then every
    clip of ``data`` is a mixture.

    Raises:
        ValueError: ``data.clean_data`` is set for an objective without clean batches,
            the data has no clean single sources where the objective needs them, or
            ``data.augment`` is set for data that are not labelled solos.
    """
    data, name = conf["data"], conf["objective"]["name"]
    needs = OBJECTIVES[name].batches
    dataset = get_dataset(data)
    n_sources = data.get("n_sources", 2)
    if frames_block(data) is not None and not isinstance(dataset, LabelledSolos):
        raise ValueError(
            f"data.frames: {data.get('dataset')!r} has no videos here; frames are read for "
            "datasets of labelled videos (MUSIC, VGGSound)"
        )
    if data.get("augment") and not isinstance(dataset, LabelledSolos):
        raise ValueError(
            f"data.augment: {data.get('dataset')!r} clips are not single sources to augment "
            "before a mixing; augmentation applies to labelled solos (MUSIC, VGGSound)"
        )
    other = clean_data(data)
    if other is not None and "clean" not in needs:
        raise ValueError(
            f"data.clean_data is set but objective {name!r} trains on mixtures only; "
            "remove it (or train semi / supervised)"
        )
    # the share of training clips that keep clean audio: data.clean_fraction for semi (5 %
    # by default), data.supervised_fraction for supervised (all by default; the same share
    # and seed pick the same clips as semi's, to compare the two)
    key, default = ("clean_fraction", 0.05) if "weak" in needs else ("supervised_fraction", 1.0)
    source, fraction = other or (dataset, data.get(key, default))
    clean = rest = None
    if "clean" in needs:
        source.require_clean_sources(f"objective {name!r}")
        if fraction < 1.0:
            clean, rest = source.clean_split(fraction, min_classes=n_sources)
    out = {}
    if "clean" in needs:
        out["clean"] = source.mixtures(n_sources=n_sources, entries=clean, return_sources=True)
    if "weak" in needs:  # with clean data too: the rest of the clips, as mixtures only
        out["weak"] = dataset.mixtures(n_sources=n_sources, entries=None if other else rest)
    return out


def recipe_encoder(spec: str, exp_dir: Optional[PathLike] = None):
    """The frozen encoder of a recipe's ``encoder.name``: ``tiny`` is the small encoder of
    stage 2 (``<exp_dir>/encoder/tiny.pth``); anything else goes to
    :func:`~asteroid_wsas.encoders.loading.load_encoder`."""
    if spec == "tiny":
        if exp_dir is None:
            raise ValueError("encoder 'tiny' needs the experiment folder")
        spec = os.path.join(os.fspath(exp_dir), "encoder", "tiny.pth")
        if not os.path.isfile(spec):
            raise FileNotFoundError(f"{spec} not found: run stage 2 (train the small encoder)")
    return load_encoder(spec)


def build_model(conf: Dict[str, Any], encoder):
    """The separator of ``conf["model"]``: ``name`` (a registered class, default
    ``TextCondUNet``) and its arguments, with the encoder's text sizes and the data rate.

    The training block's BatchNorm statistics go on the model: ``training.bn_stats``
    (``pooled`` by default, ``per_query``) and ``training.replica_batch`` (the statistics of
    each chunk of so many mixtures of mixtures, as the authors' DDP processes had them).

    Raises:
        ValueError: ``training.replica_batch`` does not divide the step's mixtures of
            mixtures.
    """
    from ..models.registry import get_model_class

    args = dict(conf.get("model") or {})
    cls = get_model_class(args.pop("name", "TextCondUNet"))
    args.update(
        sample_rate=conf["data"]["sample_rate"],
        text_embed_dim=encoder.embed_dim,
        text_token_dim=encoder.token_dim,
    )
    training = conf.get("training") or {}
    replica = training.get("replica_batch")
    if replica is not None:
        _check_replica(conf, replica)
    model = cls(**args)
    model.bn_stats = training.get("bn_stats", "pooled")
    model.bn_replica_batch = replica
    return model


def _loader(dataset, conf: Dict[str, Any], shuffle: bool, collate_fn, batch_size=None):
    training = conf["training"]
    return ResumableLoader(
        dataset,
        batch_size=batch_size or training["batch_size"],
        shuffle=shuffle,
        seed=training.get("seed", 0),
        drop_last=shuffle,
        collate_fn=collate_fn,
        num_workers=conf["data"].get("num_workers", 0),
    )


# mixtures per mixture of mixtures (the paper's N)
N_MIX = 2


def train_loaders(conf: Dict[str, Any], sets: Dict[str, Any]) -> Dict[str, ResumableLoader]:
    """The training loaders of :func:`train_datasets`' sets, by batch kind.

    The same number of mixtures per step: ``training.batch_size`` B items make B / 2
    mixtures of mixtures (weak: :class:`~asteroid_wsas.data.MixtureGroups`, whose two
    mixtures never ask the same phrase or class) or B / 2 clean mixtures of their sources
    (supervised). ``data.epoch_repeat`` passes over the training data make one epoch.

    ``data.groups: consecutive`` brings back the grouping of earlier versions (consecutive
    items of the shuffled data, whether or not they share a source: about a quarter of the
    groups did), only to measure that defect; it warns.
    """
    batch = conf["training"]["batch_size"]
    repeat = int(conf["data"].get("epoch_repeat", 1) or 1)
    seed = conf["training"].get("seed", 0)
    grouping = conf["data"].get("groups", "distinct")
    if grouping not in ("distinct", "consecutive"):
        raise ValueError(f"data.groups must be 'distinct' or 'consecutive', got {grouping!r}")
    loaders = {}
    for kind, dataset in sets.items():
        if kind == "clean":
            data = Repeated(dataset, repeat) if repeat > 1 else dataset
            loaders[kind] = _loader(data, conf, True, clean_mixtures, max(batch // N_MIX, 1))
        elif grouping == "consecutive":
            warnings.warn(
                "data.groups: consecutive: mixtures of mixtures may ask the same phrase of both "
                "their mixtures (the defect this setting exists to measure)"
            )
            data = Repeated(dataset, repeat) if repeat > 1 else dataset
            collate = functools.partial(mixture_of_mixtures, n_mix=N_MIX, distinct=False)
            loaders[kind] = _loader(data, conf, True, collate, max(batch // N_MIX, 1) * N_MIX)
        else:
            groups = MixtureGroups(dataset, n_mix=N_MIX, seed=seed, repeat=repeat)
            loaders[kind] = _loader(groups, conf, True, collate_groups, max(batch // N_MIX, 1))
    return loaders


def combine_loaders(loaders: Dict[str, Any]):
    """The one training loader Lightning iterates over :func:`train_loaders`' loaders: the
    loader itself when there is one, else a ``CombinedLoader`` that cycles the shorter ones
    (semi: a clean and a weak batch each step)."""
    from pytorch_lightning.utilities import CombinedLoader

    if len(loaders) == 1:
        return next(iter(loaders.values()))
    return CombinedLoader(loaders, "max_size_cycle")


def val_loader(conf: Dict[str, Any], manifest: Optional[PathLike]):
    """The validation loader of a fixed set (:class:`~asteroid_wsas.data.TestSetDataset`:
    mixtures, their references and queries; frames for image-queried configs), whose
    ``val_sdr`` picks the best checkpoint; None without a manifest."""
    if not manifest:
        return None
    val_set = TestSetDataset(manifest, **query_frames(conf))
    return _loader(val_set, conf, False, collate_test_items, batch_size=4)


def build_objective(
    conf: Dict[str, Any], model, sets: Dict[str, Any], exp_dir: Optional[PathLike] = None
):
    """The configured objective over ``model`` (``objective.name``, its arguments from
    :func:`~asteroid_wsas.engine.config.objective_args`).

    An objective class with ``needs_classes = True`` (a classifier teacher) also gets
    ``classes``, the sorted distinct phrases of the training data ``sets``
    (:func:`~asteroid_wsas.models.classifier.dataset_classes`: the labels' prompts for
    labelled solos, every clip's phrases for captioned clips), and the data's
    ``sample_rate``, unless the config sets them; its ``pretrained`` mode trains the
    classifier first (:func:`pretrained_classifier`, in ``exp_dir``). An image-queried
    config (``queries: image``) passes ``query``; ``training.replica_batch`` reaches the
    weak parts.

    Args:
        conf: The run's config.
        model: The separator (:func:`build_model`).
        sets: The training datasets (:func:`train_datasets`).
        exp_dir: The experiment folder (a pretrained classifier is kept there).

    Returns:
        Objective: the loss of the run.
    """
    name = conf["objective"]["name"]
    args = objective_args(conf)
    args.pop("selection", None)  # how outputs answer queries: a separation setting
    if conf.get("queries", "text") != "text":  # what the separator is queried with
        args.setdefault("query", conf["queries"])
    if getattr(OBJECTIVES[name], "needs_classes", False):
        # a classifier teacher's vocabulary: the distinct phrases of the training data
        args.setdefault("classes", dataset_classes(*sets.values()))
        args.setdefault("sample_rate", conf["data"]["sample_rate"])
        steps = args.pop("classifier_steps", 300)
        if args.get("mode") == "pretrained" and args.get("classifier") is None:
            if exp_dir is None:
                raise ValueError(f"objective {name!r} (pretrained) needs the experiment folder")
            args["classifier"] = pretrained_classifier(sets["weak"], args, conf, exp_dir, steps)
    objective = make_objective(name, model, **args)
    replica = (conf.get("training") or {}).get("replica_batch")
    if replica is not None:
        _check_replica(conf, replica)
        for part in objective.modules():  # weak, and semi's weak part
            if isinstance(part, WeakObjective):
                part.replica_batch = int(replica)
    return objective


def system_config(conf: Dict[str, Any]) -> Dict[str, Any]:
    """The ``config`` of :class:`~asteroid_wsas.engine.WeakSupSystem`: the optimizer
    (``optim``) and learning-rate schedule (``scheduler``) of the run, and ``selection``,
    how the outputs of a model answer the validation's queries (``objective.<name>.selection``
    or the objective's own, e.g. MixIT's)."""
    name = conf["objective"]["name"]
    out = {k: conf[k] for k in ("optim", "scheduler") if conf.get(k)}
    out["selection"] = objective_args(conf).get("selection", OBJECTIVES[name].selection)
    return out


def build_system(conf: Dict[str, Any], exp_dir: PathLike, val_manifest: Optional[PathLike]):
    """Data, encoder, separator, objective and
    :class:`~asteroid_wsas.engine.WeakSupSystem` of a config, as a recipe's train.py
    assembles them: :func:`train_datasets`, :func:`train_loaders`, :func:`val_loader`,
    :func:`recipe_encoder`, :func:`build_model` (seeded with ``training.seed``),
    :func:`build_objective` and :func:`system_config`."""
    from .system import WeakSupSystem

    sets = train_datasets(conf)
    train_loader = combine_loaders(train_loaders(conf, sets))
    val = val_loader(conf, val_manifest)
    encoder = recipe_encoder(conf["encoder"]["name"], exp_dir)
    torch.manual_seed(conf["training"].get("seed", 0))  # the same weights, whatever ran before
    model = build_model(conf, encoder)
    objective = build_objective(conf, model, sets, exp_dir)
    return WeakSupSystem(model, encoder, objective, train_loader, val, config=system_config(conf))


def _check_replica(conf: Dict[str, Any], replica: Any) -> None:
    """``training.replica_batch`` must divide the step's mixtures of mixtures."""
    groups = max(conf["training"]["batch_size"] // N_MIX, 1)
    if not isinstance(replica, int) or replica < 1 or groups % replica:
        raise ValueError(
            f"training.replica_batch must be a positive integer that divides the "
            f"{groups} mixtures of mixtures of a step (training.batch_size / {N_MIX}), "
            f"got {replica!r}"
        )


def pretrained_classifier(
    dataset, args: Dict[str, Any], conf: Dict[str, Any], exp_dir: PathLike, steps: int
) -> str:
    """The teacher of a classifier objective's ``pretrained`` mode, trained before the
    separator on the labelled training mixtures only (no clean audio), once per experiment
    folder: ``<exp_dir>/classifier.pth``, reused when a killed run resumes.

    Args:
        dataset: The training mixtures (``Objective.batches`` "weak").
        args: The objective's arguments (``classes``, ``sample_rate``).
        conf: The run's config (batch size and seed of ``training``).
        exp_dir: The experiment folder.
        steps: Classifier training steps (``objective.<name>.classifier_steps``).

    Returns:
        str: the classifier file.
    """
    from ..models.classifier import save_classifier, train_classifier

    path = Path(exp_dir) / "classifier.pth"
    if not path.is_file():
        training = conf["training"]
        classifier = train_classifier(
            dataset,
            args["classes"],
            args["sample_rate"],
            steps,
            batch_size=training["batch_size"],
            seed=training.get("seed", 0),
        )
        save_classifier(classifier, path, force=True)
    return str(path)


# what may differ between a run and its resume: the budget, where the data lie, and the
# machine it runs on. Any other change (batch size, learning rate, data, seeds) would make the
# resumed steps those of another run, under the old run's name.
RESUMABLE_CHANGES = (
    "training.max_steps",
    "training.max_epochs",
    "training.accelerator",
    "training.devices",
    "training.num_nodes",
    "training.precision",
    "training.log_every_n_steps",
    "training.checkpoint_every_n_steps",
    "data.root",
    "data.num_workers",
)


def _flat(tree: Any, prefix: str = "") -> Dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists and other leaves as they are)."""
    if not isinstance(tree, dict) or (prefix and not tree):
        return {prefix: tree}
    out: Dict[str, Any] = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def config_changes(saved: Dict[str, Any], conf: Dict[str, Any]) -> Dict[str, Tuple[Any, Any]]:
    """The dotted keys whose values differ between two configs, with (saved, new) values
    (a key on one side only has ``None`` on the other).

    Examples:
        >>> config_changes({"training": {"batch_size": 8}}, {"training": {"batch_size": 16}})
        {'training.batch_size': (8, 16)}
    """
    # through YAML, as conf.yml was written: tuples are lists, 1e-3 is 0.001
    old, new = _flat(saved), _flat(yaml.safe_load(yaml.safe_dump(conf)))
    keys = sorted(set(old) | set(new))
    return {k: (old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)}


def _check_resumable(saved_conf: Path, conf: Dict[str, Any]) -> Dict[str, Tuple[Any, Any]]:
    """Refuse to resume a run under another config (:data:`RESUMABLE_CHANGES` apart).

    Returns:
        dict: the allowed changes (dotted key: (saved, new)), for the caller to report.

    Raises:
        ValueError: naming the folder and up to three changed keys with both values.
    """
    changes = config_changes(read_yaml(saved_conf) or {}, conf)
    refused = {k: v for k, v in changes.items() if k not in RESUMABLE_CHANGES}
    if refused:
        shown = "; ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in list(refused.items())[:3])
        more = f" and {len(refused) - 3} more" if len(refused) > 3 else ""
        raise ValueError(
            f"{saved_conf.parent} holds a run of another config ({shown}{more}); resume it "
            "with its own config, train into another folder, or start over (--restart)"
        )
    return changes


def _precision(setting: str) -> str:
    """``auto``: bf16-mixed where bf16 is fast (CUDA with bf16, CPUs with AVX512-BF16/AMX)."""
    if setting != "auto":
        return setting
    if torch.cuda.is_available():
        return "bf16-mixed" if fast_bf16("cuda") else "16-mixed"
    return "bf16-mixed" if fast_bf16("cpu") else "32-true"


# ------------------------------------------------------------------------------ a run's life
# where DDP's ranks other than the first say who they are (Lightning's re-launched ranks,
# torchrun, SLURM): they run train() too, under the lock their launcher already holds
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")


@contextlib.contextmanager
def hold_experiment(exp_dir: PathLike) -> Iterator[None]:
    """Keep a second training run out of ``exp_dir`` while this one writes it.

    Two runs in one folder would write one ``last.ckpt``, ``metrics.csv`` and
    ``best_model.pth`` in turns, and a resume would then continue a mix of both. The
    second run fails at once, naming the folder (it does not wait: a run lasts hours).
    The lock is :func:`~asteroid_wsas.separation.audio_io.folder_lock`'s (let go when
    its process ends, even killed: no stale lock). Only the first process takes it: the
    other ranks of a DDP run (``RANK``, ``LOCAL_RANK``, ``NODE_RANK``, ``GROUP_RANK`` or
    ``SLURM_PROCID`` set and not 0) write under their launcher's lock.

    Args:
        exp_dir: The experiment folder (made if needed; removed again if it stays empty).

    Raises:
        ~asteroid_wsas.separation.audio_io.FolderBusyError: Another run holds ``exp_dir``
            (a ``ValueError``: ``exp/weak is in use by another training run (wait for it
            to end, or pass another --exp-dir)``).

    Examples:
        >>> import tempfile
        >>> exp = os.path.join(tempfile.mkdtemp(), "weak")
        >>> with hold_experiment(exp):
        ...     os.path.isdir(exp)
        True
    """
    from ..separation.audio_io import folder_lock

    if any(os.environ.get(name, "0") not in ("", "0") for name in _RANK_VARIABLES):
        yield
        return
    advice = "wait for it to end, or pass another --exp-dir"
    with folder_lock(exp_dir, wait=False, holder="training run", busy_advice=advice):
        yield


def refuse_finished_run(exp_dir: PathLike, force: bool = False) -> None:
    """Refuse to train over a finished run: a ``best_model.pth`` with no
    ``checkpoints/last.ckpt`` to resume (e.g. one whose checkpoints were cleaned up).

    Raises:
        FileExistsError: unless ``force`` (``--force``).

    Examples:
        >>> refuse_finished_run("/no/such/exp")  # nothing there: fine
    """
    if not os.path.exists(os.path.join(exp_dir, "checkpoints", "last.ckpt")):
        refuse_overwrite(os.path.join(exp_dir, "best_model.pth"), force=force)


@dataclass(frozen=True)
class ResumePoint:
    """Where a run starts (:func:`resume_point`).

    Attributes:
        checkpoint: ``last.ckpt`` to resume from; None: from the first step.
        step: The optimizer step it holds (0 from the start).
        finished: It already holds the whole budget, and ``best_model.pth`` is there:
            nothing to train, nothing to rewrite.
    """

    checkpoint: Optional[Path] = None
    step: int = 0
    finished: bool = False


def resume_point(
    exp_dir: PathLike,
    conf: Dict[str, Any],
    resume: bool = True,
    trust_checkpoint: bool = False,
) -> ResumePoint:
    """Where the run of ``conf`` in ``exp_dir`` starts: from ``checkpoints/last.ckpt``
    when there is one (after a kill: the same step and batch), else from scratch.

    A ``last.ckpt`` that already holds the whole budget (:func:`run_finished`) beside its
    ``best_model.pth`` is a finished run: it says so (raise ``training.max_steps`` to
    continue it, ``resume=False`` to start over).

    Args:
        exp_dir: The experiment folder.
        conf: The run's config: that of the ``conf.yml`` there, but for
            :data:`RESUMABLE_CHANGES` (the budget, the data's place, the machine).
        resume: False (``--restart``): start over whatever is there.
        trust_checkpoint: Read ``last.ckpt`` with ``weights_only=False``.

    Returns:
        ResumePoint: the checkpoint and step to start from, and whether it is finished.

    Raises:
        ValueError: ``conf.yml`` there differs from ``conf`` beyond
            :data:`RESUMABLE_CHANGES` (another batch size, model, encoder, ...), or
            ``last.ckpt`` is unreadable.
        UnsafeCheckpointError: ``last.ckpt`` holds other Python objects (and
            ``trust_checkpoint`` is False).

    Examples:
        >>> resume_point("/no/such/exp", {"training": {}})
        ResumePoint(checkpoint=None, step=0, finished=False)
    """
    exp_dir = Path(exp_dir)
    last = exp_dir / "checkpoints" / "last.ckpt"
    if not (resume and last.is_file()):
        return ResumePoint()
    changes = {}
    if (exp_dir / "conf.yml").is_file():
        changes = _check_resumable(exp_dir / "conf.yml", conf)
    state = read_checkpoint(last, trust=trust_checkpoint)  # refused before any unpickling
    training, step = conf["training"], state["global_step"]
    if run_finished(state, training) and (exp_dir / "best_model.pth").is_file():
        # a rerun of a finished job (run.sh again): touch nothing, not even conf.yml
        print(
            f"{exp_dir}: finished (step {step}, training.max_steps "
            f"{training.get('max_steps', -1)}); nothing to train, files left as they are "
            "(raise --max-steps to continue, --restart --force to start over)"
        )
        return ResumePoint(last, step, finished=True)
    if changes:  # allowed ones only (the budget, the machine): conf.yml will hold them
        shown = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changes.items())
        print(f"{exp_dir}: resuming at step {step} with {shown}")
    return ResumePoint(last, step)


def trainer_args(
    conf: Dict[str, Any], validate: bool = True, progress: bool = True
) -> Dict[str, Any]:
    """Lightning ``Trainer`` arguments of the config's ``training`` block: the budget
    (``max_steps``, ``max_epochs``), validation interval, gradient clipping, precision
    (``auto``: bf16-mixed where bf16 is fast, else 16-mixed on CUDA, 32-true on the CPU),
    and devices: every visible GPU (``devices``) with DDP, over ``num_nodes`` nodes.

    Args:
        conf: The run's config.
        validate: There is a validation loader (else validation is off).
        progress: Show the progress bar (add a ``TQDMProgressBar`` for its refresh rate).

    Returns:
        dict: keyword arguments for ``pl.Trainer`` (callbacks and logger are the caller's).

    Raises:
        ValueError: ``training.accelerator`` asks for GPUs (``gpu``, ``cuda``) that this
            machine lacks, in one line naming both keys and the devices there are.

    Examples:
        >>> args = trainer_args({"training": {"max_steps": 600, "precision": "32-true"}})
        >>> args["max_steps"], args["precision"], args["strategy"]
        (600, '32-true', 'auto')
    """
    training = conf["training"]
    devices = training.get("devices", "auto")
    num_nodes = training.get("num_nodes", 1)
    n_gpus = torch.cuda.device_count()
    check_training_devices(conf)
    distributed = num_nodes > 1 or (
        n_gpus > 1 and devices in ("auto", -1) or (isinstance(devices, int) and devices > 1)
    )
    return dict(
        accelerator=training.get("accelerator", "auto"),
        devices=devices,
        num_nodes=num_nodes,
        strategy="ddp" if distributed else "auto",
        precision=_precision(training.get("precision", "auto")),
        max_epochs=training.get("max_epochs", 200),
        max_steps=training.get("max_steps", -1),
        gradient_clip_val=training.get("gradient_clip_val"),
        val_check_interval=training.get("val_check_interval"),
        check_val_every_n_epoch=training.get("check_val_every_n_epoch", 1),
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if validate else 0,
        enable_progress_bar=progress,
        enable_model_summary=False,
        log_every_n_steps=training.get("log_every_n_steps", 10),
    )


def check_training_devices(conf: Dict[str, Any]) -> None:
    """The GPUs a config asks for (``training.accelerator: gpu`` or ``cuda``, and
    ``training.devices``: a count, indices, ``auto`` or -1) are ones this machine has.

    Called before anything is written (Lightning would say so later, in its own words).
    Other accelerators are Lightning's to check: ``auto`` with ``devices: 2`` on a CPU is
    two CPU processes.

    Args:
        conf: The run's config.

    Raises:
        ValueError: ``training.accelerator gpu with training.devices 2: not available here
            (this machine has: cpu); training.accelerator: cpu (or --gpus 0) trains on the
            CPU``.

    Examples:
        >>> check_training_devices({"training": {"accelerator": "cpu", "devices": 2}})
    """
    training = conf.get("training") or {}
    accelerator, devices = training.get("accelerator", "auto"), training.get("devices", "auto")
    if str(accelerator).lower() not in ("gpu", "cuda"):
        return
    n_gpus = torch.cuda.device_count()
    if isinstance(devices, (list, tuple)) or (isinstance(devices, str) and "," in devices):
        listed = devices.split(",") if isinstance(devices, str) else devices
        ok = all(0 <= int(d) < n_gpus for d in listed if str(d).strip())
    elif devices in ("auto", -1, "-1"):
        ok = n_gpus > 0
    else:
        ok = 0 < int(devices) <= n_gpus
    if not ok:
        raise ValueError(
            f"training.accelerator {accelerator} with training.devices {devices}: not "
            f"available here (this machine has: {', '.join(available_devices())}); "
            "training.accelerator: cpu (or --gpus 0) trains on the CPU"
        )


def _checkpoints(trainer) -> Tuple[Optional[Any], Optional[LastCheckpoint]]:
    """The trainer's best-``val_sdr`` checkpoint callback and its ``last.ckpt`` one."""
    best = last = None
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, LastCheckpoint):
            last = last or callback
        else:
            best = best or callback
    return best, last


def fit(trainer, system, start: ResumePoint = ResumePoint(), trust_checkpoint: bool = False):
    """``trainer.fit(system)`` from ``start`` (:func:`resume_point`), then ``last.ckpt`` of
    the final state, if no epoch end, validation or step count wrote it already.

    Args:
        trainer: A ``pl.Trainer`` with :func:`checkpoint_callbacks`.
        system: The :class:`~asteroid_wsas.engine.WeakSupSystem`.
        start: Where the run starts.
        trust_checkpoint: Resume with ``weights_only=False``.

    Raises:
        KeyboardInterrupt: Ctrl+C, or a stop signal's
            :class:`~asteroid_wsas.signals.Terminated`, after Lightning's teardown (not the
            ``SystemExit(1)`` Lightning turns them into).
    """
    with warnings.catch_warnings():
        if start.checkpoint:  # of course it is: it holds the run being resumed
            warnings.filterwarnings("ignore", "Checkpoint directory .* exists and is not empty")
        try:
            trainer.fit(
                system,
                ckpt_path=str(start.checkpoint) if start.checkpoint else None,
                weights_only=not trust_checkpoint,
            )
        except SystemExit as stop:
            # Lightning answers Ctrl+C (and SIGTERM's Terminated, a KeyboardInterrupt) by
            # tearing down and exiting with 1: raise what stopped it, so that the command
            # line says "interrupted" (130) or "terminated" (143) and cleans up as for them
            if isinstance(stop.__context__, KeyboardInterrupt):
                raise stop.__context__ from None
            raise
    _, last = _checkpoints(trainer)
    if (
        last is not None
        and trainer.global_step > start.step
        and last.saved_step != trainer.global_step
    ):
        path = os.path.join(last.dirpath, last.filename + last.FILE_EXTENSION)
        trainer.save_checkpoint(path, weights_only=False)  # the whole state, to resume


def save_best_model(trainer, system, path: PathLike, trust_checkpoint: bool = False) -> str:
    """Write the separator of the best ``val_sdr`` checkpoint (``last.ckpt`` without
    validation) to ``path`` (``best_model.pth``, weights-only safe), on the main process.

    Args:
        trainer: The trainer that fitted ``system`` (:func:`fit`).
        system: The :class:`~asteroid_wsas.engine.WeakSupSystem`; its weights become the
            best checkpoint's.
        path: The separator file (overwritten).
        trust_checkpoint: Read the checkpoint with ``weights_only=False``.

    Returns:
        str: ``path``.

    Raises:
        ValueError: the trainer has no checkpoint to read (no :func:`checkpoint_callbacks`).
    """
    best, last = _checkpoints(trainer)
    ckpt = getattr(best, "best_model_path", "")
    if not ckpt and last is not None:  # no validation: the final state
        ckpt = os.path.join(last.dirpath, last.filename + last.FILE_EXTENSION)
    if not ckpt:
        raise ValueError("no checkpoint to read: give the Trainer checkpoint_callbacks(...)")
    if trainer.is_global_zero:
        system.load_state_dict(read_checkpoint(ckpt, trust=trust_checkpoint)["state_dict"])
        system.save_separator(path, force=True)
    return os.fspath(path)


def train(
    conf: Dict[str, Any],
    exp_dir: PathLike,
    val_manifest: Optional[PathLike] = None,
    resume: bool = True,
    progress: bool = True,
    trust_checkpoint: bool = False,
) -> str:
    """Train the configured objective; write the experiment folder; return best_model.pth.

    The steps of a recipe's train.py: :func:`resume_point`, ``conf.yml``,
    :func:`build_system`, the :func:`checkpoint_callbacks`, a ``pl.Trainer`` of
    :func:`trainer_args` with the run's :class:`HistoryCSVLogger`, :func:`fit` and
    :func:`save_best_model`.

    Holds ``exp_dir`` (:func:`hold_experiment`): a second run into it fails at once.
    Resumes from ``<exp_dir>/checkpoints/last.ckpt`` when it exists (after a kill), at the
    same step and batch, keeping the rows of ``logs/metrics.csv``. A run whose ``last.ckpt``
    already holds the whole budget (:func:`run_finished`) is left as it is: nothing is
    trained or rewritten (raise ``training.max_steps`` to continue it, ``resume=False`` to
    start over). Uses every visible GPU (``training.devices``) with Lightning DDP, and
    ``training.num_nodes`` nodes (launch one process per node, see docs/recipes.md).

    ``last.ckpt`` is written at every epoch end, after every validation and every
    ``training.checkpoint_every_n_steps`` steps (default 100; null: never between those).

    Args:
        conf: The run's config (:func:`~asteroid_wsas.engine.config.load_conf`).
        exp_dir: The experiment folder.
        val_manifest: The validation set (val_sdr picks the best checkpoint), or None.
        resume: Continue from ``last.ckpt`` when there is one; False starts over (the old
            ``metrics.csv`` is kept as ``logs/metrics.before-restart-<n>.csv``).
        progress: Show Lightning's progress bar.
        trust_checkpoint: Load checkpoints with ``weights_only=False`` (they can run code:
            only for files you trust); by default any checkpoint that holds more than
            tensors and plain values is refused.

    Returns:
        str: the path of ``best_model.pth``.

    Raises:
        UnsafeCheckpointError: ``last.ckpt`` or the best checkpoint holds other Python
            objects (and ``trust_checkpoint`` is False).
        ValueError: ``last.ckpt`` is another model's, objective's or encoder's.
        ~asteroid_wsas.separation.audio_io.FolderBusyError: Another run writes ``exp_dir``.

    Examples:
        >>> conf = load_conf("local/conf.yml", {"training": {"max_steps": 600}})  # doctest: +SKIP
        >>> train(conf, "exp/weak", "data/val_2mix.json")  # doctest: +SKIP
        'exp/weak/best_model.pth'
    """
    exp_dir = Path(exp_dir)
    check_training_devices(conf)  # before the folder is made
    with _new_folder_kept_on_success(exp_dir), hold_experiment(exp_dir):
        start = resume_point(exp_dir, conf, resume, trust_checkpoint)
        if start.finished:
            return str(exp_dir / "best_model.pth")
        save_conf(conf, exp_dir / "conf.yml")
        return _fit_run(conf, exp_dir, val_manifest, start, resume, trust_checkpoint, progress)


@contextlib.contextmanager
def _new_folder_kept_on_success(exp_dir: Path) -> Iterator[None]:
    """Create ``exp_dir``; a run that fails before its first checkpoint removes the folder
    it created (a bad value in the config leaves nothing behind to confuse a rerun)."""
    created = not exp_dir.exists()
    exp_dir.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        checkpoints = exp_dir / "checkpoints"
        if created and not (checkpoints.is_dir() and any(checkpoints.iterdir())):
            shutil.rmtree(exp_dir, ignore_errors=True)
        raise


def _fit_run(
    conf: Dict[str, Any],
    exp_dir: Path,
    val_manifest: Optional[str],
    start: ResumePoint,
    resume: bool,
    trust_checkpoint: bool,
    progress: bool,
) -> str:
    """:func:`train` once its folder and config are written: the fit and the best model."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import TQDMProgressBar

    training = conf["training"]
    pl.seed_everything(training.get("seed", 0), workers=True, verbose=False)
    system = build_system(conf, exp_dir, val_manifest)
    every = training.get("checkpoint_every_n_steps", CHECKPOINT_EVERY_N_STEPS)
    callbacks = checkpoint_callbacks(exp_dir / "checkpoints", every_n_train_steps=every)
    if progress:
        callbacks.append(TQDMProgressBar(refresh_rate=training.get("progress_every", 10)))
    trainer = pl.Trainer(
        **trainer_args(conf, validate=system.val_loader is not None, progress=progress),
        callbacks=callbacks,
        # resume=False (--restart) moves the old metrics.csv aside; otherwise rows are kept
        logger=HistoryCSVLogger(exp_dir, keep=resume),
    )
    fit(trainer, system, start, trust_checkpoint)
    return save_best_model(trainer, system, exp_dir / "best_model.pth", trust_checkpoint)
