"""Recipe driver: config -> data, encoder, separator, training, evaluation, examples.

The recipes (``recipes/<dataset>/run.sh``) call this module through their thin ``train.py``
and ``eval.py``. One config (``local/conf.yml``) describes a run; :func:`train` writes an
experiment folder in Asteroid's layout::

    exp/<tag>/
      conf.yml            the full config of the run
      logs/metrics.csv    every logged value (losses per step, val_sdr per validation)
      checkpoints/        best val_sdr checkpoint and last.ckpt (resume after a kill)
      best_model.pth      the separator alone (weights_only-safe), from the best checkpoint
      all_metrics.csv     per test mixture and query (eval.py)
      final_metrics.json  mean ± std summary (eval.py)
      examples/           wavs and spectrogram PNGs (eval.py --examples)
"""

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import yaml

from ..data import (
    AudioCapsDataset,
    MUSICDataset,
    ResumableLoader,
    SingleSources,
    TestSetDataset,
    VGGSoundDataset,
    build_test_set,
    caption_candidates,
    clean_fraction_split,
    clean_mixtures,
    collate_test_items,
    mixture_of_mixtures,
    music_solos,
    read_manifest,
    solo_candidates,
    vggsound_clips,
    write_manifest,
)
from ..data.mixing import LabeledSourceMixtures
from ..losses.objectives import OBJECTIVES, make_objective

__all__ = [
    "DATASETS",
    "load_conf",
    "dataset_paths",
    "test_candidates",
    "build_manifest",
    "load_encoder",
    "build_model",
    "build_system",
    "train",
    "load_separator",
    "evaluate",
    "examples",
    "write_example",
]

PathLike = Union[str, os.PathLike]
# list file and audio folder of each public layout, relative to the dataset root
DATASETS = {
    "music": ("MUSIC_solo_videos.json", "audio"),
    "vggsound": ("vggsound.csv", "audio"),
    "audiocaps": ("{split}.csv", "audio"),
}
TEST_PASSES = {"music": 10, "vggsound": 2, "audiocaps": 1}  # the paper's protocols


# ------------------------------------------------------------------------------------ config
def _merge(base: Dict[str, Any], update: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_conf(path: PathLike, overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A recipe config (YAML) with nested overrides applied (``{"training": {...}}``).

    Raises:
        ValueError: unknown dataset or objective, or a missing dataset root.
    """
    with open(path, encoding="utf-8") as f:
        conf = yaml.safe_load(f) or {}
    conf = _merge(conf, overrides or {})
    data = conf.get("data", {})
    if data.get("dataset") not in DATASETS:
        raise ValueError(
            f"data.dataset must be one of {sorted(DATASETS)}, got {data.get('dataset')!r}"
        )
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


# -------------------------------------------------------------------------------------- data
def dataset_paths(data: Dict[str, Any], split: str = "train") -> Tuple[str, str]:
    """The list file and audio folder of ``data["root"]`` in the dataset's public layout.

    Raises:
        FileNotFoundError: naming what is missing and the layout expected.
    """
    root = data.get("root")
    if not root or not os.path.isdir(root):
        raise FileNotFoundError(f"data.root {root!r} is not a folder (pass the dataset root)")
    listing, audio = (os.path.join(root, p.format(split=split)) for p in DATASETS[data["dataset"]])
    listing = data.get("list") or listing
    for path in (listing, audio):
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path} not found: {data['dataset']} expects <root>/"
                f"{DATASETS[data['dataset']][0].format(split=split)} and <root>/audio/ "
                "(see docs/data)"
            )
    return listing, audio


def _solos(data: Dict[str, Any], split: str):
    listing, audio = dataset_paths(data)
    if data["dataset"] == "music":
        return music_solos(
            listing,
            audio,
            split,
            data.get("instruments"),
            data.get("val_fraction", 0.05),
            data.get("test_fraction", 0.1),
            data.get("split_seed", 0),
        )
    return vggsound_clips(
        listing, audio, split, data.get("val_fraction", 0.05), data.get("split_seed", 0)
    )


def test_candidates(data: Dict[str, Any], split: str = "test"):
    """The clips a fixed test (or validation) set is built from, for any dataset."""
    if data["dataset"] == "audiocaps":
        listing, audio = dataset_paths(data, split)
        clips = AudioCapsDataset(listing, audio, data["sample_rate"], None, train=False)
        return caption_candidates(clips.clips)
    return solo_candidates(_solos(data, split))


def build_manifest(
    data: Dict[str, Any],
    path: PathLike,
    split: str = "test",
    n_sources: int = 2,
    passes: Optional[int] = None,
    max_mixtures: Optional[int] = None,
    force: bool = False,
) -> str:
    """Build and write a fixed ``n_sources``-mix set of ``split`` (the paper's protocol).

    Returns:
        str: the manifest path.
    """
    candidates = test_candidates(data, split)
    passes = passes or TEST_PASSES[data["dataset"]]
    test_set = build_test_set(
        f"{data['dataset']}-{n_sources}mix-{split}",
        candidates,
        data["root"],
        n_sources=n_sources,
        passes=passes,
        seconds=data["segment"],
        sample_rate=data["sample_rate"],
        seed=data.get("test_seed", 0),
        progress=True,
    )
    if max_mixtures:
        test_set.mixtures = test_set.mixtures[:max_mixtures]
    write_manifest(test_set, path, force=force)
    return os.fspath(path)


def mixtures(
    data: Dict[str, Any],
    split: str = "train",
    n_sources: Optional[int] = None,
    entries=None,
    return_sources: bool = False,
):
    """Captioned mixtures of a split: random crops and partners for ``train``, fixed otherwise.

    AudioCaps gives its natural mixtures (phrases from ``data.phrases`` when set, else split
    by rule); MUSIC and VGGSound mix ``n_sources`` solos of distinct classes.
    """
    common = dict(
        sample_rate=data["sample_rate"],
        segment=data["segment"],
        train=split == "train",
        seed=data.get("seed", 0),
    )
    if data["dataset"] == "audiocaps":
        listing, audio = dataset_paths(data, split)
        return AudioCapsDataset(
            listing,
            audio,
            n_phrases=data.get("n_phrases", 3),
            phrases=data.get("phrases"),
            **common,
        )
    if entries is None:
        entries = _solos(data, split)
    n_sources = n_sources or data.get("n_sources", 2)
    return LabeledSourceMixtures(
        entries, n_sources=n_sources, return_sources=return_sources, **common
    )


def train_datasets(conf: Dict[str, Any]) -> Dict[str, Any]:
    """The training dataset(s) of the configured objective: ``{"weak"|"clean": dataset}``."""
    data, name = conf["data"], conf["objective"]["name"]
    n_sources = data.get("n_sources", 2)
    if name in ("supervised", "semi") and data["dataset"] == "audiocaps":
        raise ValueError(
            f"objective {name!r} needs clean single sources, which AudioCaps does not have; "
            "use weak, mix_and_separate or mixit"
        )
    # clean data: mixtures of distinct classes with their sources, split by clean_mixtures.
    # The share of training videos that keep clean audio: data.clean_fraction for semi (5 %
    # by default), data.supervised_fraction for supervised (all by default; the same share
    # and seed pick the same videos as semi's, to compare the two)
    key, default = ("clean_fraction", 0.05) if name == "semi" else ("supervised_fraction", 1.0)
    fraction = data.get(key, default)
    if name in ("supervised", "semi") and fraction < 1.0:
        clean, rest = clean_fraction_split(
            _solos(data, "train"), fraction, data.get("split_seed", 0), min_classes=n_sources
        )
    else:
        clean, rest = None, None
    if name == "supervised":
        return {"clean": mixtures(data, n_sources=n_sources, entries=clean, return_sources=True)}
    if name == "semi":
        return {
            "clean": mixtures(data, n_sources=n_sources, entries=clean, return_sources=True),
            "weak": mixtures(data, n_sources=n_sources, entries=rest),
        }
    return {"weak": mixtures(data, n_sources=n_sources)}


# ------------------------------------------------------------------------- encoder and model
def load_encoder(spec: str, exp_dir: Optional[PathLike] = None):
    """The frozen bimodal encoder named by ``spec``.

    ``spec`` is a transformers CLAP directory or hub id (e.g. ``laion/clap-htsat-unfused``),
    a small encoder file (``.pth`` from ``asteroid-wsas train-encoder`` or stage 2), or
    ``tiny``: ``<exp_dir>/encoder/tiny.pth``.
    """
    from ..encoders import ClapEncoder
    from ..encoders.tiny import TinyBimodalEncoder

    if spec == "tiny":
        if exp_dir is None:
            raise ValueError("encoder 'tiny' needs the experiment folder")
        spec = os.path.join(os.fspath(exp_dir), "encoder", "tiny.pth")
        if not os.path.isfile(spec):
            raise FileNotFoundError(f"{spec} not found: run stage 2 (train the small encoder)")
    if os.path.isfile(spec):
        return TinyBimodalEncoder.from_pretrained(spec).freeze()
    return ClapEncoder.from_pretrained(spec).freeze()


def build_model(conf: Dict[str, Any], encoder):
    """A TextCondUNet from ``conf["model"]``, with the encoder's text sizes and the data rate."""
    from ..models import TextCondUNet

    args = dict(conf.get("model", {}))
    args.update(
        sample_rate=conf["data"]["sample_rate"],
        text_embed_dim=encoder.embed_dim,
        text_token_dim=encoder.token_dim,
    )
    return TextCondUNet(**args)


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


def build_system(conf: Dict[str, Any], exp_dir: PathLike, val_manifest: Optional[PathLike]):
    """Encoder, separator, loaders and :class:`~asteroid_wsas.engine.WeakSupSystem`."""
    from pytorch_lightning.utilities import CombinedLoader

    from .system import WeakSupSystem

    encoder = load_encoder(conf["encoder"]["name"], exp_dir)
    torch.manual_seed(conf["training"].get("seed", 0))
    model = build_model(conf, encoder)
    sets = train_datasets(conf)
    # the same number of mixtures per step: B items make B/2 mixtures of mixtures (weak),
    # B/2 clean mixtures of their sources (supervised)
    batch = conf["training"]["batch_size"]
    loaders = {
        k: _loader(
            v,
            conf,
            True,
            *((clean_mixtures, max(batch // 2, 1)) if k == "clean" else (mixture_of_mixtures,)),
        )
        for k, v in sets.items()
    }
    train_loader = (
        CombinedLoader(loaders, "max_size_cycle")
        if len(loaders) > 1
        else next(iter(loaders.values()))
    )
    val_loader = None
    if val_manifest:
        val_loader = _loader(
            TestSetDataset(val_manifest), conf, False, collate_test_items, batch_size=4
        )
    objective = make_objective(conf["objective"]["name"], model, **objective_args(conf))
    system_conf = {k: conf[k] for k in ("optim", "scheduler") if conf.get(k)}
    return WeakSupSystem(model, encoder, objective, train_loader, val_loader, config=system_conf)


def _check_resumable(saved_conf: Path, conf: Dict[str, Any]) -> None:
    """Refuse to resume a checkpoint of another model, objective or encoder."""
    with open(saved_conf, encoding="utf-8") as f:
        saved = yaml.safe_load(f) or {}
    for key in ("model", "objective", "encoder"):
        if saved.get(key) != conf.get(key):
            raise ValueError(
                f"{saved_conf.parent} holds a run with another {key} config "
                f"({saved.get(key)} != {conf.get(key)}); use another experiment folder "
                "(--tag) or start over (--force / --restart)"
            )


def _precision(setting: str) -> str:
    """``auto``: bf16-mixed where bf16 is fast (CUDA with bf16, CPUs with AVX512-BF16/AMX)."""
    if setting != "auto":
        return setting
    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "32-true"


# ---------------------------------------------------------------------------------- training
def train(
    conf: Dict[str, Any],
    exp_dir: PathLike,
    val_manifest: Optional[PathLike] = None,
    resume: bool = True,
    progress: bool = True,
) -> str:
    """Train the configured objective; write the experiment folder; return best_model.pth.

    Resumes from ``<exp_dir>/checkpoints/last.ckpt`` when it exists (after a kill), at the
    same step and batch. Uses every visible GPU (``training.devices``) with Lightning DDP,
    and ``training.num_nodes`` nodes (launch one process per node, see docs/recipes.md).
    """
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import TQDMProgressBar
    from pytorch_lightning.loggers import CSVLogger

    from .system import checkpoint_callbacks

    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    last = exp_dir / "checkpoints" / "last.ckpt"
    if resume and last.is_file() and (exp_dir / "conf.yml").is_file():
        _check_resumable(exp_dir / "conf.yml", conf)
    save_conf(conf, exp_dir / "conf.yml")
    training = conf["training"]
    pl.seed_everything(training.get("seed", 0), workers=True, verbose=False)
    system = build_system(conf, exp_dir, val_manifest)
    callbacks = checkpoint_callbacks(
        exp_dir / "checkpoints", every_n_train_steps=training.get("checkpoint_every_n_steps")
    )
    if progress:
        callbacks.append(TQDMProgressBar(refresh_rate=training.get("progress_every", 10)))
    devices = training.get("devices", "auto")
    n_gpus = torch.cuda.device_count()
    distributed = training.get("num_nodes", 1) > 1 or (
        n_gpus > 1 and devices in ("auto", -1) or (isinstance(devices, int) and devices > 1)
    )
    trainer = pl.Trainer(
        accelerator=training.get("accelerator", "auto"),
        devices=devices,
        num_nodes=training.get("num_nodes", 1),
        strategy="ddp" if distributed else "auto",
        precision=_precision(training.get("precision", "auto")),
        max_epochs=training.get("max_epochs", 200),
        max_steps=training.get("max_steps", -1),
        gradient_clip_val=training.get("gradient_clip_val"),
        val_check_interval=training.get("val_check_interval"),
        check_val_every_n_epoch=training.get("check_val_every_n_epoch", 1),
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if val_manifest else 0,
        callbacks=callbacks,
        logger=CSVLogger(exp_dir, name="logs", version=""),
        enable_progress_bar=progress,
        enable_model_summary=False,
        log_every_n_steps=training.get("log_every_n_steps", 10),
    )
    trainer.fit(system, ckpt_path=str(last) if resume and last.is_file() else None)
    # the final state, also when the budget ended before any validation or epoch end
    trainer.save_checkpoint(last)

    best = callbacks[0].best_model_path or str(last)
    if trainer.is_global_zero:
        state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
        system.load_state_dict(state)
        system.save_separator(exp_dir / "best_model.pth", force=True)
    return str(exp_dir / "best_model.pth")


# -------------------------------------------------------------------------------- evaluation
def load_separator(path: PathLike):
    """The separator of a ``best_model.pth`` and the objective that answers its queries.

    MixIT separators carry their learned queries; text-queried ones use the plain path.
    """
    from ..models import TextCondUNet

    package = torch.load(path, map_location="cpu", weights_only=True)
    model = TextCondUNet.from_pretrained(package).eval()
    queries = package.get("unconditioned_queries")
    if queries is None:  # text-queried: every objective answers through the plain path
        return model, make_objective("weak")
    mixit = make_objective("mixit", model, n_outputs=queries["embed"].shape[0])
    with torch.no_grad():
        mixit.query_embed.copy_(queries["embed"])
        mixit.query_tokens.copy_(queries["tokens"])
    return model, mixit


def _separated(
    separator: Optional[PathLike],
    encoder,
    manifest: PathLike,
    batch_size: int,
    device: Optional[str],
    limit: Optional[int] = None,
    desc: str = "separating",
    progress: bool = True,
):
    """Yield (batch, estimates) over a fixed test set; ``separator=None``: the mixture."""
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = objective = None
    if separator is not None:
        model, objective = load_separator(separator)
        model.to(device)
        encoder.to(device)
    data = TestSetDataset(manifest)
    n = min(limit, len(data)) if limit else len(data)
    # batches of consecutive mixtures with the same number of queries (phrase-level sets
    # mix clips of 2, 3 and 4 events)
    sizes = [len(m.sources) for m in data.test_set.mixtures[:n]]
    batches: List[List[int]] = []
    for i, k in enumerate(sizes):
        if batches and len(batches[-1]) < batch_size and sizes[batches[-1][0]] == k:
            batches[-1].append(i)
        else:
            batches.append([i])
    loader = DataLoader(data, batch_sampler=batches, collate_fn=collate_test_items)
    with torch.inference_mode():
        for batch in tqdm(loader, desc=desc, disable=not progress):
            batch["sample_rate"] = data.test_set.sample_rate
            mix, refs = batch["mixture"], batch["references"]
            if model is None:
                yield batch, mix.unsqueeze(1).expand_as(refs)
                continue
            est = objective.separate(
                model, encoder, mix.to(device), batch["queries"], refs.to(device)
            )
            yield batch, est.float().cpu()


def _refuse(paths: Sequence[Path], force: bool) -> None:
    for path in paths:
        if path.exists() and not force:
            raise FileExistsError(f"{path} exists; pass --force to overwrite it")


def evaluate(
    separator: Optional[PathLike],
    encoder,
    manifest: PathLike,
    out_dir: PathLike,
    batch_size: int = 4,
    device: Optional[str] = None,
    force: bool = False,
    progress: bool = True,
) -> Dict[str, Any]:
    """Score a separator on a fixed test set; write all_metrics.csv, final_metrics.json, a PNG.

    Args:
        separator: ``best_model.pth``; None scores the unprocessed mixture (the "Mixture"
            row: every query answered with the input).
        encoder: The frozen encoder (its text embeds the queries).
        manifest: The test-set manifest.
        out_dir: Where the files go.
        batch_size: Mixtures per separator call.
        device: Where to separate (default: CUDA when available).
        force: Overwrite existing result files.
        progress: Show a progress bar.

    Returns:
        dict: the summary (as in final_metrics.json).
    """
    from ..metrics import Evaluator

    out_dir = Path(out_dir)
    files = [out_dir / n for n in ("all_metrics.csv", "final_metrics.json", "scores.png")]
    _refuse(files, force)
    evaluator = Evaluator(device="cpu")
    desc = f"evaluating {out_dir.name}"
    for batch, est in _separated(
        separator, encoder, manifest, batch_size, device, desc=desc, progress=progress
    ):
        evaluator.add(
            batch["mixture"],
            batch["references"],
            est,
            mixture_id=batch["ids"],
            queries=batch["queries"],
        )
    evaluator.save(files[0], files[1], force=True)
    evaluator.plot(files[2], force=True, title=f"{out_dir.name}: per-mixture scores")
    return evaluator.summary()


def examples(
    separator: Optional[PathLike],
    encoder,
    manifest: PathLike,
    out_dir: PathLike,
    n: int = 4,
    device: Optional[str] = None,
    force: bool = False,
    progress: bool = True,
) -> List[str]:
    """Separate the first ``n`` test mixtures; write their wavs and spectrogram PNGs.

    Returns:
        list: the files written (see :func:`write_example`).
    """
    out_dir = Path(out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise FileExistsError(f"{out_dir} is not empty; pass --force to overwrite it")
    written: List[str] = []
    desc = f"examples of {out_dir.parent.name or out_dir.name}"
    for batch, est in _separated(
        separator, encoder, manifest, 1, device, limit=n, desc=desc, progress=progress
    ):
        written += write_example(
            out_dir,
            batch["ids"][0],
            batch["mixture"][0],
            batch["references"][0],
            est[0],
            batch["queries"][0],
            batch["sample_rate"],
        )
    return written


def write_example(
    folder: PathLike,
    name: str,
    mixture: torch.Tensor,
    references: torch.Tensor,
    estimates: torch.Tensor,
    queries: Sequence[str],
    sample_rate: int,
) -> List[str]:
    """Wavs of a mixture, its references and estimates, and one spectrogram PNG of them all."""
    import soundfile as sf
    from matplotlib.figure import Figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    peak = max(float(mixture.abs().max()), 1e-8)

    def save(tag: str, wav: torch.Tensor) -> None:
        path = folder / f"{name}_{tag}.wav"
        sf.write(path, (wav / max(peak, float(wav.abs().max()))).numpy(), sample_rate)
        written.append(str(path))

    save("mixture", mixture)
    for k, query in enumerate(queries):
        save(f"q{k}_reference", references[k])
        save(f"q{k}_estimate", estimates[k])
    rows = 1 + len(queries)
    fig = Figure(figsize=(10, 2.2 * rows), layout="constrained")
    axes = fig.subplots(rows, 2, squeeze=False)
    window = torch.hann_window(512)

    def spectrogram(ax, wav, title):
        spec = torch.stft(wav.float(), 512, 128, window=window, return_complex=True).abs()
        db = 20 * torch.log10(spec + 1e-5)
        ax.imshow(
            db.numpy(),
            origin="lower",
            aspect="auto",
            vmin=float(db.max()) - 80,
            extent=(0, len(wav) / sample_rate, 0, sample_rate / 2000),
        )
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("kHz")

    spectrogram(axes[0, 0], mixture, "mixture")
    axes[0, 1].axis("off")
    for k, query in enumerate(queries):
        spectrogram(axes[k + 1, 0], references[k], f"reference: {query}")
        spectrogram(axes[k + 1, 1], estimates[k], f"estimate: {query}")
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=100)
    written.append(str(path))
    return written
