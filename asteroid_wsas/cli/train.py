"""The training commands: ``train-encoder`` (the small bimodal encoder), ``train-clip`` (a
small CLIP on video frames) and ``train`` (a separator from a recipe config; recipe stage 3)."""

import argparse
import os
from typing import Any

from ..methods import method_names
from ..utils import refuse_overwrite
from .common import conf_options, count, count0, finite, positive, recipe_conf

__all__ = [
    "OBJECTIVE_NAMES",
    "add_parser",
    "cmd_train_encoder",
    "cmd_train_clip",
    "cmd_train",
    "refuse_finished_run",
]

# the registered objectives' names, as constants: building the parser imports no loss module
OBJECTIVE_NAMES = (
    "weak",
    "mix_and_separate",
    "supervised",
    "semi",
    "mixit",
    "pit",
    "mixpit",
    "weak_classifier",
    "weak_sup",
    "cosep",
    "cosep_clean",
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``train-encoder``, ``train-clip`` and ``train`` to a sub-parsers object (each
    also on its own through :data:`PARSERS`), and return ``train``'s parser.

    Examples:
        >>> parser = argparse.ArgumentParser(prog="asteroid-wsas")
        >>> _ = add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["train", "conf.yml", "--exp-dir", "exp/weak"])
        >>> args.func.__name__, args.exp_dir
        ('cmd_train', 'exp/weak')
    """
    return [add(sub) for add in PARSERS.values()][-1]


def cmd_train_encoder(args: argparse.Namespace) -> None:
    """``asteroid-wsas train-encoder``: the small bimodal encoder, saved to ``--output``."""
    import torch

    from ..data.synthetic import SyntheticCaptionedMixtures
    from ..encoders.tiny import save_encoder, train_tiny_encoder

    refuse_overwrite(args.output, force=args.force)
    if args.conf:  # a recipe's training mixtures (never their sources) and its val split
        from torch.utils.data import Subset

        from ..data import JoinedMixtures
        from ..data.registry import clean_data, get_dataset

        data = recipe_conf(args)["data"]
        dataset = get_dataset(data)
        train = dataset.mixtures("train")
        other = clean_data(data)
        if other is not None:  # the second dataset's captions too (its mixtures only)
            train = JoinedMixtures([train, other[0].mixtures("train")])
        val_all = dataset.mixtures("val")
        val = Subset(val_all, range(min(args.val_items, len(val_all))))
    elif args.manifest:
        from torch.utils.data import random_split

        from ..data.manifest import CaptionManifest

        data = CaptionManifest(args.manifest, args.sample_rate, args.seconds)
        n_val = min(args.val_items, len(data) // 5)
        if len(data) - n_val < 2:
            raise SystemExit(f"error: {args.manifest} has too few usable rows ({len(data)})")
        train, val = random_split(
            data, [len(data) - n_val, n_val], torch.Generator().manual_seed(args.seed)
        )
        train.sample_rate = data.sample_rate
    else:
        common = dict(seconds=args.seconds, sample_rate=args.sample_rate)
        train = SyntheticCaptionedMixtures(args.synthetic, seed=args.seed, **common)
        val = SyntheticCaptionedMixtures(args.val_items, seed=args.seed + 1, **common)
    print(f"training on {len(train)} mixtures, {len(val)} held out for caption retrieval")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    encoder, log = train_tiny_encoder(
        train,
        val if len(val) else None,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        log_every=args.log_every,
        seed=args.seed,
        device=args.device,
        phrase_weight=args.phrase_weight,
    )
    save_encoder(encoder.cpu(), args.output, force=args.force)
    if log and "r_at_1" in log[-1]:
        last = log[-1]
        print(
            f"held-out caption retrieval: R@1 {last['r_at_1']:.3f} (chance {last['chance']:.3f}), "
            f"R@5 {last['r_at_5']:.3f}"
        )
    if args.conf and dataset.clean_sources:
        # the teacher's real job: name single sources (held-out clean solos, only measured)
        from ..encoders.tiny import phrase_accuracy

        solos = dataset.mixtures("val", n_sources=1)
        items = [solos[i] for i in range(len(solos))]
        acc = phrase_accuracy(  # among the phrases of every class of the split
            encoder.cpu().eval(),
            torch.stack([it["mixture"] for it in items]),
            data["sample_rate"],
            [it["caption"] for it in items],
        )
        print(
            f"held-out single sources: own phrase first {acc['top1']:.3f}, in top 3 "
            f"{acc['top3']:.3f} (chance {acc['chance']:.3f}, {len(items)} solos)"
        )
    print(f"saved {args.output}")


def cmd_train_clip(args: argparse.Namespace) -> None:
    """``asteroid-wsas train-clip``: a small CLIP on a recipe dataset's frames."""
    from ..encoders.clip_training import small_clip_pairs, train_small_clip

    if os.path.exists(os.path.join(args.output, "config.json")) and not args.force:
        raise FileExistsError(f"{args.output} holds a model; pass --force to overwrite it")
    data = dict(recipe_conf(args)["data"])
    frames = data.get("frames")
    frames = dict(frames) if isinstance(frames, dict) else {}
    frames["size"] = args.image_size  # read at the vision tower's side
    data["frames"] = frames
    train, val, store = small_clip_pairs(data)
    print(f"training on frames of {len(train)} videos, {len(val)} held out for retrieval")
    report = train_small_clip(
        train,
        store,
        args.output,
        val,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        image_size=args.image_size,
        seed=args.seed,
    )
    if report["retrieval"] is not None:
        print(
            f"held-out frame -> class R@1 {report['retrieval']:.2f} (chance "
            f"{report['chance']:.2f}, {report['classes']} classes)"
        )
    print(f"small CLIP -> {args.output} (use it as clip_image:{args.output})")


def refuse_finished_run(exp_dir: str, force: bool = False) -> None:
    """Raise if ``exp_dir`` holds a finished run (kept for forks of earlier recipes; the
    library's :func:`asteroid_wsas.engine.training.refuse_finished_run`, imported late to
    keep torch out of ``--help``)."""
    from ..engine.training import refuse_finished_run as refuse

    refuse(exp_dir, force=force)


def cmd_train(args: argparse.Namespace) -> None:
    """``asteroid-wsas train``: a separator from a recipe config (resumes after a kill)."""
    from ..engine.training import train

    conf = recipe_conf(args)
    refuse_finished_run(args.exp_dir, args.force)
    path = train(
        conf,
        args.exp_dir,
        args.val_manifest,
        resume=not args.restart,
        trust_checkpoint=args.trust_checkpoint,
    )
    print(f"separator: {path}")


# ---------------------------------------------------------------------------- parsers
def _train_encoder_parser(sub) -> argparse.ArgumentParser:
    """``train-encoder``: the small bimodal encoder on (mixture, caption) pairs."""
    p = sub.add_parser(
        "train-encoder", help="train the small bimodal encoder on (mixture, caption) pairs"
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--synthetic", type=count, default=3000, metavar="N", help="N generated mixtures (default)"
    )
    source.add_argument("--manifest", help="CSV with columns path, caption")
    source.add_argument(
        "--conf",
        help="a recipe config: its dataset's training mixtures (and data.clean_data's, if set)",
    )
    p.add_argument("--root", help="with --conf: dataset root (overrides data.root)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="with --conf: override")
    p.add_argument("-o", "--output", required=True, help="encoder file (.pth)")
    p.add_argument("--val-items", type=count0, default=200, help="held-out mixtures for R@1")
    p.add_argument("--steps", type=count, default=2000, help="optimiser steps")
    p.add_argument("--batch-size", type=count, default=32, help="mixtures per step")
    p.add_argument("--lr", type=positive, default=1e-3, help="peak learning rate (one-cycle)")
    p.add_argument("--sample-rate", type=count, default=16000, help="the encoder's rate in Hz")
    p.add_argument("--seconds", type=positive, default=2.0, help="length of a training crop")
    p.add_argument("--log-every", type=count, default=100, help="steps between log lines")
    p.add_argument(
        "--phrase-weight",
        type=finite,
        default=1.0,
        help="weight of the phrase loss (mixture vs the phrases of its sources; 0: captions only)",
    )
    p.add_argument("--seed", type=count0, default=0, help="seed of weights and data")
    p.add_argument("--device", default="cpu", help="torch device")
    p.add_argument("--force", action="store_true", help="overwrite the output")
    p.set_defaults(func=cmd_train_encoder)
    return p


def _train_clip_parser(sub) -> argparse.ArgumentParser:
    """``train-clip``: a small CLIP on a dataset's video frames and class prompts."""
    p = sub.add_parser(
        "train-clip",
        help="train a small CLIP on a dataset's video frames and class prompts (offline "
        "stand-in of a pretrained CLIP for the image-queried rows)",
    )
    p.add_argument("--conf", required=True, help="a recipe config: its dataset's training videos")
    p.add_argument("--root", help="dataset root (overrides data.root)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    p.add_argument("-o", "--output", required=True, help="folder for the model (transformers')")
    p.add_argument("--steps", type=count, default=300, help="optimiser steps")
    p.add_argument("--batch-size", type=count, default=32, help="most frames per step (1/class)")
    p.add_argument("--lr", type=positive, default=1e-3, help="Adam's learning rate")
    p.add_argument("--image-size", type=count, default=32, help="side of the frames it sees")
    p.add_argument("--seed", type=count0, default=0, help="seed of weights and sampling")
    p.add_argument("--force", action="store_true", help="overwrite the output")
    p.set_defaults(func=cmd_train_clip)
    return p


def _train_parser(sub) -> argparse.ArgumentParser:
    """``train``: a separator from a recipe config (resumes after a kill)."""
    p = sub.add_parser("train", help="recipe stage 3: train a separator (resumes after a kill)")
    conf_options(p)
    p.add_argument("--exp-dir", required=True, help="experiment folder (exp/<tag>)")
    p.add_argument(
        "--objective", choices=OBJECTIVE_NAMES, help="training objective (default: the config's)"
    )
    p.add_argument(
        "--method",
        help="a row of the paper's tables: objective, model changes and query encoder "
        f"({', '.join(method_names())})",
    )
    p.add_argument("--encoder", help="CLAP folder or hub id, or a small-encoder .pth")
    p.add_argument("--max-steps", type=int, help="training budget (default: the config's)")
    p.add_argument("--gpus", help="GPUs per node: auto (default), 0 = CPU, N")
    p.add_argument("--num-nodes", type=int, help="nodes for DDP (see docs/recipes)")
    p.add_argument("--val-manifest", help="validation set (val_sdr picks the best model)")
    p.add_argument("--restart", action="store_true", help="ignore checkpoints/last.ckpt")
    p.add_argument("--force", action="store_true", help="retrain over a finished run")
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="load checkpoints/*.ckpt with weights_only=False: a file that holds other "
        "Python objects can then run code; only for a checkpoint you made or trust",
    )
    p.set_defaults(func=cmd_train)
    return p


PARSERS = {
    "train-encoder": _train_encoder_parser,
    "train-clip": _train_clip_parser,
    "train": _train_parser,
}
