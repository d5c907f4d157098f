"""``asteroid-wsas``: command-line entry points.

Sub-commands:
    prompts         caption CSV -> single-source phrases JSON
    train-encoder   train the small bimodal encoder on (mixture, caption) pairs
    testset         build a fixed N-source test set of a dataset (manifest JSON)
"""

import argparse
import json
import os
import sys
from typing import List, Optional


def _refuse_overwrite(path: str, force: bool) -> None:
    if os.path.exists(path) and not force:
        raise SystemExit(f"error: {path} exists; pass --force to overwrite it")


def cmd_prompts(args: argparse.Namespace) -> None:
    from .text import captions_to_phrases, load_phrase_overrides

    _refuse_overwrite(args.output, args.force)
    if not os.path.isfile(args.captions):
        raise SystemExit(f"error: caption file {args.captions} not found")
    overrides = load_phrase_overrides(args.overrides) if args.overrides else None
    phrases = captions_to_phrases(
        args.captions,
        id_column=args.id_column,
        caption_column=args.caption_column,
        overrides=overrides,
    )
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(phrases, f, indent=1, ensure_ascii=False)
    counts = [len(p) for p in phrases.values()]
    mean = sum(counts) / max(len(counts), 1)
    print(
        f"{len(phrases)} captions -> {sum(counts)} phrases ({mean:.2f} per caption): {args.output}"
    )


def cmd_train_encoder(args: argparse.Namespace) -> None:
    import torch

    from .data.synthetic import SyntheticCaptionedMixtures
    from .encoders.tiny import save_encoder, train_tiny_encoder

    _refuse_overwrite(args.output, args.force)
    if args.manifest:
        from torch.utils.data import random_split

        from .data.manifest import CaptionManifest

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
    encoder, log = train_tiny_encoder(
        train,
        val if len(val) else None,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        log_every=args.log_every,
        seed=args.seed,
        device=args.device,
    )
    save_encoder(encoder.cpu(), args.output, force=args.force)
    if log and "r_at_1" in log[-1]:
        last = log[-1]
        print(
            f"held-out caption retrieval: R@1 {last['r_at_1']:.3f} (chance {last['chance']:.3f}), "
            f"R@5 {last['r_at_5']:.3f}"
        )
    print(f"saved {args.output}")


# Where each dataset keeps its list and its audio, below the root given on the command line.
DATASET_LAYOUTS = {
    "music": ("MUSIC_solo_videos.json", "audio"),
    "vggsound": ("vggsound.csv", "audio"),
    "audiocaps": ("test.csv", "audio"),
}
TEST_PASSES = {"music": 10, "vggsound": 2, "audiocaps": 1}  # the paper's protocols


def cmd_testset(args: argparse.Namespace) -> None:
    from .data import (
        AudioCapsDataset,
        build_test_set,
        caption_candidates,
        music_solos,
        solo_candidates,
        vggsound_clips,
        write_manifest,
    )

    _refuse_overwrite(args.output, args.force)
    listing, audio = (os.path.join(args.root, p) for p in DATASET_LAYOUTS[args.dataset])
    listing = args.list or listing
    if not os.path.isfile(listing):
        raise SystemExit(f"error: {listing} not found (expected layout: see docs/data)")
    if args.dataset == "music":
        candidates = solo_candidates(music_solos(listing, audio, "test"))
    elif args.dataset == "vggsound":
        candidates = solo_candidates(vggsound_clips(listing, audio, "test"))
    else:
        clips = AudioCapsDataset(listing, audio, args.sample_rate, args.seconds, train=False)
        candidates = caption_candidates(clips.clips)
    passes = args.passes or TEST_PASSES[args.dataset]
    name = args.name or f"{args.dataset}-{args.n_sources}mix"
    test_set = build_test_set(
        name,
        candidates,
        args.root,
        n_sources=args.n_sources,
        passes=passes,
        seconds=args.seconds,
        sample_rate=args.sample_rate,
        seed=args.seed,
        snr_range=tuple(args.snr_range) if args.snr_range else None,
        progress=True,
    )
    write_manifest(test_set, args.output, force=args.force)
    print(f"{name}: {len(test_set.mixtures)} mixtures of {args.n_sources} sources -> {args.output}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asteroid-wsas",
        description="Text-queried audio separation trained without clean audio.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("prompts", help="split the captions of a CSV into single-source phrases")
    p.add_argument("captions", help="AudioCaps-style CSV (audiocap_id, ..., caption)")
    p.add_argument("-o", "--output", required=True, help="phrases JSON {caption_id: [...]}")
    p.add_argument("--overrides", help="JSON {caption_id: [phrases]} used instead of the rules")
    p.add_argument("--id-column", default="audiocap_id")
    p.add_argument("--caption-column", default="caption")
    p.add_argument("--force", action="store_true", help="overwrite the output")
    p.set_defaults(func=cmd_prompts)

    p = sub.add_parser(
        "train-encoder", help="train the small bimodal encoder on (mixture, caption) pairs"
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--synthetic", type=int, default=3000, metavar="N", help="N generated mixtures (default)"
    )
    source.add_argument("--manifest", help="CSV with columns path, caption")
    p.add_argument("-o", "--output", required=True, help="encoder file (.pth)")
    p.add_argument("--val-items", type=int, default=200, help="held-out mixtures for R@1")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--force", action="store_true", help="overwrite the output")
    p.set_defaults(func=cmd_train_encoder)

    p = sub.add_parser("testset", help="build a fixed N-source test set (manifest JSON)")
    p.add_argument("dataset", choices=sorted(DATASET_LAYOUTS))
    p.add_argument("root", help="dataset root (its list file and audio/ folder)")
    p.add_argument("-o", "--output", required=True, help="manifest JSON")
    p.add_argument("--list", help="list file if not at its usual place below root")
    p.add_argument("--n-sources", type=int, default=2)
    p.add_argument("--passes", type=int, help="default: MUSIC 10, VGGSound 2, AudioCaps 1")
    p.add_argument("--seconds", type=float, default=131070 / 16000)
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--snr-range",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="DCASE-2024-T9 style: target-to-interference ratio range in dB",
    )
    p.add_argument("--name", help="test-set name (default: <dataset>-<N>mix)")
    p.add_argument("--force", action="store_true", help="overwrite the output")
    p.set_defaults(func=cmd_testset)
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    """Run the ``asteroid-wsas`` command line."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileExistsError) as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main(sys.argv[1:])
