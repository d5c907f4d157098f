"""The data commands: ``prompts``, ``download``, ``generate``, ``testset`` and ``prepare``
(recipe stages 0 to 2: datasets, fixed test and validation sets, caption phrases)."""

import argparse
import json
import os
import sys
from typing import Any

from ..utils import refuse_overwrite
from .common import conf_options, count, count0, finite, positive, recipe_conf

__all__ = [
    "DATASET_NAMES",
    "add_parser",
    "cmd_prompts",
    "cmd_download",
    "cmd_generate",
    "cmd_testset",
    "cmd_prepare",
]

# the registered datasets' names, as constants: building the parser imports no dataset module
DATASET_NAMES = ("audiocaps", "music", "vggsound")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``prompts``, ``download``, ``generate``, ``testset`` and ``prepare`` to ``sub``
    (what ``parser.add_subparsers()`` returned); ``asteroid-wsas`` itself adds them one by
    one from :data:`PARSERS`, in the order its help lists them.

    Returns:
        argparse.ArgumentParser: the last sub-parser added (``prepare``'s).
    """
    return [add(sub) for add in PARSERS.values()][-1]


def cmd_prompts(args: argparse.Namespace) -> None:
    """``asteroid-wsas prompts``: a caption CSV's captions split into single-source phrases."""
    from ..text import captions_to_phrases, load_phrase_overrides

    refuse_overwrite(args.output, force=args.force)
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


def cmd_download(args: argparse.Namespace) -> None:
    """``asteroid-wsas download``: a dataset's lists and audio, or what to fetch."""
    from ..data.download import DownloadUnavailable, download

    try:
        counts = download(args.dataset, args.root, args.sample_rate, args.limit)
    except DownloadUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    print(
        f"{args.dataset}: {counts['present']} clips already there, {counts['fetched']} fetched, "
        f"{counts['failed']} unavailable (skipped) -> {args.root}"
    )


def cmd_generate(args: argparse.Namespace) -> None:
    """``asteroid-wsas generate``: generated (or rendered) sounds in a dataset's layout."""
    from ..data import rendered, synthetic
    from ..data.registry import get_dataset_class

    if args.frames and args.dataset == "audiocaps":
        raise SystemExit(
            "error: --frames: the audiocaps layout has no videos; frames are written for the "
            "music and vggsound layouts"
        )
    if args.frames and args.frame_size < 4:  # --fps > 0 is its type's
        raise SystemExit(f"error: --frame-size must be 4 or more, got {args.frame_size}")
    if os.path.exists(args.root) and not os.path.isdir(args.root):
        raise ValueError(f"{args.root} is a file; the dataset root is a folder to write")
    listing = os.path.join(args.root, get_dataset_class(args.dataset).listing.format(split="train"))
    refuse_overwrite(listing, force=args.force)
    common = dict(seconds=args.seconds, sample_rate=args.sample_rate, seed=args.seed)
    video = dict(frames=True, fps=args.fps, frame_size=args.frame_size) if args.frames else {}
    if args.sounds == "rendered":
        try:
            if args.dataset == "music":
                rendered.write_rendered_music_layout(
                    args.root, args.per_class, soundfont=args.soundfont, **common, **video
                )
            elif args.dataset == "audiocaps":
                n = args.per_class * len(rendered.EVENT_CLASSES)
                sizes = {"train": n, "val": max(n // 10, 4), "test": max(n // 4, 4)}
                rendered.write_rendered_audiocaps_layout(
                    args.root, sizes, soundfont=args.soundfont, **common
                )
            else:
                rendered.write_rendered_vggsound_layout(
                    args.root, args.per_class, soundfont=args.soundfont, **common, **video
                )
        except rendered.MissingTool as err:
            raise SystemExit(f"error: {err}") from None
        print(f"rendered {args.dataset}-layout data -> {args.root}")
        return
    if args.dataset == "music":
        synthetic.write_music_layout(args.root, args.per_class, **common, **video)
    elif args.dataset == "vggsound":
        counts = {"train": args.per_class, "test": max(args.per_class // 5, 1)}
        synthetic.write_vggsound_layout(args.root, counts, **common, **video)
    else:
        n = args.per_class * len(synthetic.SOUND_CLASSES)
        sizes = {"train": n, "val": max(n // 10, 4), "test": max(n // 5, 4)}
        synthetic.write_audiocaps_layout(args.root, sizes, **common)
    print(f"generated {args.dataset}-layout data -> {args.root}")


def cmd_testset(args: argparse.Namespace) -> None:
    """``asteroid-wsas testset``: a fixed N-source test set as a manifest."""
    from ..data import build_test_set, write_manifest
    from ..data.registry import get_dataset

    if args.snr_range and args.snr_range[0] > args.snr_range[1]:
        low, high = args.snr_range
        raise ValueError(f"--snr-range LOW HIGH: {low:g} is above {high:g}; give the lower first")
    refuse_overwrite(args.output, force=args.force)
    if args.events:  # phrase-level: each clip's clean events queried with their phrases
        from ..data import event_test_set

        name = args.name or f"{args.dataset}-events"
        test_set = event_test_set(name, args.root, "test", args.sample_rate, progress=True)
        write_manifest(test_set, args.output, force=args.force)
        print(
            f"{name}: {len(test_set.mixtures)} natural mixtures, one query per event -> "
            f"{args.output}"
        )
        return
    data = {
        "dataset": args.dataset,
        "root": args.root,
        "list": args.list,
        "sample_rate": args.sample_rate,
        "segment": args.seconds,
    }
    dataset = get_dataset(data)
    candidates = dataset.candidates("test")
    passes = args.passes or dataset.test_passes
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


def cmd_prepare(args: argparse.Namespace) -> None:
    """``asteroid-wsas prepare``: a recipe's fixed test and validation sets (and phrases)."""
    from ..engine.evaluation import build_manifest

    conf = recipe_conf(args)
    data = conf["data"]
    # eval.composition: set by --protocol authors (apply_protocol) or --set
    composition = (conf.get("eval") or {}).get("composition") or "ours"
    os.makedirs(args.output_dir, exist_ok=True)
    n = data.get("n_sources", 2)
    test = os.path.join(args.output_dir, f"test_{n}mix.json")
    val = os.path.join(args.output_dir, f"val_{n}mix.json")
    for path in (test, val):
        refuse_overwrite(path, force=args.force)
    build_manifest(
        data, test, "test", n, data.get("test_passes"), force=args.force, composition=composition
    )
    build_manifest(
        data,
        val,
        "val",
        n,
        1,
        data.get("val_mixtures", 100),
        force=args.force,
        composition=composition,
    )
    theirs = " (the authors' composition: eval.composition=authors)"
    print(f"fixed {n}-source sets: {test}, {val}" + (theirs if composition == "authors" else ""))
    if os.path.isfile(os.path.join(data["root"], "test_events.csv")):
        # clean events beside the clips: phrase-level queries on natural mixtures too
        from ..data import event_test_set, write_manifest

        events = os.path.join(args.output_dir, "test_events.json")
        refuse_overwrite(events, force=args.force)
        test_set = event_test_set(
            f"{data['dataset']}-events", data["root"], "test", data["sample_rate"]
        )
        write_manifest(test_set, events, force=args.force)
        print(f"phrase-level set: {len(test_set.mixtures)} natural mixtures -> {events}")
    if data["dataset"] == "audiocaps":  # prompts stage: phrases to read and correct
        from ..text import captions_to_phrases

        phrases = os.path.join(args.output_dir, "train_phrases.json")
        refuse_overwrite(phrases, force=args.force)
        split = captions_to_phrases(os.path.join(data["root"], "train.csv"))
        with open(phrases, "w", encoding="utf-8") as f:
            json.dump(split, f, indent=1, ensure_ascii=False)
        print(f"{len(split)} captions split into phrases: {phrases} (edit, then train)")


# ---------------------------------------------------------------------------- parsers
def _prompts_parser(sub) -> argparse.ArgumentParser:
    """``prompts``: caption CSV -> single-source phrases JSON."""
    p = sub.add_parser("prompts", help="split the captions of a CSV into single-source phrases")
    p.add_argument("captions", help="AudioCaps-style CSV (audiocap_id, ..., caption)")
    p.add_argument("-o", "--output", required=True, help="phrases JSON {caption_id: [...]}")
    p.add_argument("--overrides", help="JSON {caption_id: [phrases]} used instead of the rules")
    p.add_argument("--id-column", default="audiocap_id", help="column of the clip ids")
    p.add_argument("--caption-column", default="caption", help="column of the captions")
    p.add_argument("--force", action="store_true", help="overwrite the output")
    p.set_defaults(func=cmd_prompts)
    return p


def _download_parser(sub) -> argparse.ArgumentParser:
    """``download``: fetch a dataset's lists and audio."""
    p = sub.add_parser("download", help="recipe stage 0: fetch a dataset with yt-dlp and ffmpeg")
    p.add_argument("dataset", choices=DATASET_NAMES, help="the dataset to fetch")
    p.add_argument("root", help="dataset root (list file(s) and audio/ go there)")
    p.add_argument("--sample-rate", type=count, default=16000, help="rate of the audio written")
    p.add_argument("--limit", type=count, help="fetch at most this many clips (a trial)")
    p.set_defaults(func=cmd_download)
    return p


def _generate_parser(sub) -> argparse.ArgumentParser:
    """``generate``: generated sounds in a dataset's public layout."""
    p = sub.add_parser("generate", help="write generated sounds in a dataset's public layout")
    p.add_argument("dataset", choices=DATASET_NAMES, help="the layout to write")
    p.add_argument("root", help="dataset root to write")
    p.add_argument("--per-class", type=count, default=20, help="recordings per sound class")
    p.add_argument("--seconds", type=positive, default=4.0, help="length of each recording")
    p.add_argument("--sample-rate", type=count, default=16000, help="rate in Hz")
    p.add_argument("--seed", type=count0, default=0, help="seed of the sounds")
    p.add_argument(
        "--sounds",
        choices=("synthetic", "rendered"),
        default="synthetic",
        help="synthetic: drawn beeps, hums, sirens...; rendered: sampled instruments "
        "(FluidSynth + a GM soundfont), sound effects and espeak-ng speech",
    )
    p.add_argument("--soundfont", help="with --sounds rendered: a GM .sf2 (default: FluidR3_GM)")
    p.add_argument(
        "--frames",
        action="store_true",
        help="also write video frames (drawn pictures of each class) beside the audio, for "
        "image-queried methods (music and vggsound layouts)",
    )
    p.add_argument("--fps", type=positive, default=2.0, help="with --frames: frames per second")
    p.add_argument(
        "--frame-size", type=count, default=64, help="with --frames: side of the square frames"
    )
    p.add_argument("--force", action="store_true", help="overwrite the output")
    p.set_defaults(func=cmd_generate)
    return p


def _testset_parser(sub) -> argparse.ArgumentParser:
    """``testset``: a fixed N-source test set (manifest JSON)."""
    p = sub.add_parser("testset", help="build a fixed N-source test set (manifest JSON)")
    p.add_argument("dataset", choices=DATASET_NAMES, help="the dataset's layout")
    p.add_argument("root", help="dataset root (its list file and audio/ folder)")
    p.add_argument("-o", "--output", required=True, help="manifest JSON")
    p.add_argument("--list", help="list file if not at its usual place below root")
    p.add_argument("--n-sources", type=count, default=2, help="sources per test mixture")
    p.add_argument("--passes", type=count, help="default: MUSIC 10, VGGSound 2, AudioCaps 1")
    p.add_argument(
        "--seconds", type=positive, default=131070 / 16000, help="mixture length (the paper's)"
    )
    p.add_argument("--sample-rate", type=count, default=16000, help="rate of the mixtures in Hz")
    p.add_argument("--seed", type=count0, default=0, help="seed of the draws (same seed, same set)")
    p.add_argument(
        "--snr-range",
        type=finite,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="DCASE-2024-T9 style: target-to-interference ratio range in dB",
    )
    p.add_argument("--name", help="test-set name (default: <dataset>-<N>mix)")
    p.add_argument(
        "--events",
        action="store_true",
        help="phrase-level set from <root>/test_events.csv: each clip's clean events, "
        "queried with their phrases (rendered AudioCaps layout, or your own stems)",
    )
    p.add_argument("--force", action="store_true", help="overwrite the output")
    p.set_defaults(func=cmd_testset)
    return p


def _prepare_parser(sub) -> argparse.ArgumentParser:
    """``prepare``: a recipe's fixed test and validation sets (and phrases)."""
    p = sub.add_parser("prepare", help="recipe stage 1: fixed test and validation sets, prompts")
    conf_options(p)
    p.add_argument("-o", "--output-dir", required=True, help="where the manifests go (data/)")
    p.add_argument("--force", action="store_true", help="overwrite the outputs")
    p.set_defaults(func=cmd_prepare)
    return p


PARSERS = {
    "prompts": _prompts_parser,
    "download": _download_parser,
    "generate": _generate_parser,
    "testset": _testset_parser,
    "prepare": _prepare_parser,
}
