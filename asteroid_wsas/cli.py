"""``asteroid-wsas``: command-line entry points.

Sub-commands:
    prompts         caption CSV -> single-source phrases JSON
    train-encoder   train the small bimodal encoder on (mixture, caption) pairs
    train-clip      train a small CLIP on a dataset's video frames and class prompts
    testset         build a fixed N-source test set of a dataset (manifest JSON)
    download        fetch a dataset's lists and audio (yt-dlp + ffmpeg), or say what to fetch
    generate        write generated sounds in a dataset's public layout (offline data)
    prepare         a recipe config's fixed test and validation sets (and AudioCaps phrases)
    train           train a separator from a recipe config (resumes after a kill)
    evaluate        score a separator (or the mixture) on a fixed test set
    examples        example separations of a test set as wavs and spectrogram PNGs
    compare         Table-1-shaped table and validation-SDR curves of evaluated runs
    paper-runs      the training runs of the paper's Tables 1 and 2 (recipes/paper_tables)
    paper-tables    both tables, in the seed's shape, from those runs' scores
    separate        separate audio files with text (or image) queries
    serve           a local web page to separate audio with text queries
    export          an ONNX graph of a separator with its queries baked in
    publish         a hub-ready model folder (separator, model card, scores) of an experiment
"""

import argparse
import contextlib
import json
import os
import sys
import warnings
from typing import Iterator, List, Optional

from .methods import method_names
from .utils import query_slug, refuse_overwrite

DATASET_NAMES = ("audiocaps", "music", "vggsound")
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


def cmd_prompts(args: argparse.Namespace) -> None:
    from .text import captions_to_phrases, load_phrase_overrides

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


def cmd_train_encoder(args: argparse.Namespace) -> None:
    import torch

    from .data.synthetic import SyntheticCaptionedMixtures
    from .encoders.tiny import save_encoder, train_tiny_encoder

    refuse_overwrite(args.output, force=args.force)
    if args.conf:  # a recipe's training mixtures (never their sources) and its val split
        from torch.utils.data import Subset

        from .data import JoinedMixtures
        from .data.registry import clean_data, get_dataset

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
        from .encoders.tiny import phrase_accuracy

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


def cmd_testset(args: argparse.Namespace) -> None:
    from .data import build_test_set, write_manifest
    from .data.registry import get_dataset

    refuse_overwrite(args.output, force=args.force)
    if args.events:  # phrase-level: each clip's clean events queried with their phrases
        from .data import event_test_set

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


def cmd_download(args: argparse.Namespace) -> None:
    from .data.download import DownloadUnavailable, download

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
    from .data import rendered, synthetic
    from .data.registry import get_dataset_class

    if args.frames and args.dataset == "audiocaps":
        raise SystemExit(
            "error: --frames: the audiocaps layout has no videos; frames are written for the "
            "music and vggsound layouts"
        )
    if args.frames and not (args.fps > 0 and args.frame_size >= 4):
        raise SystemExit("error: need --fps > 0 and --frame-size >= 4")
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


def cmd_train_clip(args: argparse.Namespace) -> None:
    from .encoders.clip_training import small_clip_pairs, train_small_clip

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


def recipe_conf(args: argparse.Namespace) -> dict:
    """The recipe config (``args.conf``) with the command line's overrides (``--set``,
    ``--root``, ``--objective``, ``--encoder``, ``--max-steps``, ``--gpus``, ...)."""
    import yaml

    from .engine.config import load_conf

    over: dict = {"data": {}, "training": {}}
    if getattr(args, "protocol", None):
        over["protocol"] = args.protocol
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key.sub=value, got {item!r}")
        node = over
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    if getattr(args, "root", None):
        over["data"]["root"] = os.path.abspath(args.root)
    # (setdefault: --objective and --encoder keep the --set objective.* / encoder.* keys)
    method = getattr(args, "method", None)
    if method and getattr(args, "objective", None):
        raise ValueError("give --method or --objective, not both (a method sets the objective)")
    if getattr(args, "objective", None):
        over.setdefault("objective", {})["name"] = args.objective
    if getattr(args, "encoder", None):  # a file is kept absolute, for eval from anywhere
        name = os.path.abspath(args.encoder) if os.path.isfile(args.encoder) else args.encoder
        over.setdefault("encoder", {})["name"] = name
    if getattr(args, "max_steps", None):
        over["training"]["max_steps"] = args.max_steps
    if getattr(args, "gpus", None) not in (None, "auto"):
        gpus = int(args.gpus)
        over["training"].update(accelerator="gpu" if gpus else "cpu", devices=gpus if gpus else 1)
    if getattr(args, "num_nodes", None):
        over["training"]["num_nodes"] = args.num_nodes
    return load_conf(args.conf, over, method=method)


def cmd_prepare(args: argparse.Namespace) -> None:
    from .engine.evaluation import build_manifest

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
        from .data import event_test_set, write_manifest

        events = os.path.join(args.output_dir, "test_events.json")
        refuse_overwrite(events, force=args.force)
        test_set = event_test_set(
            f"{data['dataset']}-events", data["root"], "test", data["sample_rate"]
        )
        write_manifest(test_set, events, force=args.force)
        print(f"phrase-level set: {len(test_set.mixtures)} natural mixtures -> {events}")
    if data["dataset"] == "audiocaps":  # prompts stage: phrases to read and correct
        from .text import captions_to_phrases

        phrases = os.path.join(args.output_dir, "train_phrases.json")
        refuse_overwrite(phrases, force=args.force)
        split = captions_to_phrases(os.path.join(data["root"], "train.csv"))
        with open(phrases, "w", encoding="utf-8") as f:
            json.dump(split, f, indent=1, ensure_ascii=False)
        print(f"{len(split)} captions split into phrases: {phrases} (edit, then train)")


def refuse_finished_run(exp_dir: str, force: bool) -> None:
    """Raise if ``exp_dir`` holds a finished run (a separator and nothing to resume)."""
    if not os.path.exists(os.path.join(exp_dir, "checkpoints", "last.ckpt")):
        refuse_overwrite(os.path.join(exp_dir, "best_model.pth"), force=force)


def cmd_train(args: argparse.Namespace) -> None:
    from .engine.training import train

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


def encoder_of(args: argparse.Namespace):
    """The encoder of ``--encoder``, or of the conf.yml beside ``--model``."""
    from .encoders.loading import encoder_beside, load_encoder

    spec = args.encoder
    if spec is None and args.model:
        spec = encoder_beside(args.model)
    if spec is None:
        raise ValueError("--encoder is needed (no conf.yml beside --model to read it from)")
    return load_encoder(spec)


def separator_of(args: argparse.Namespace):
    """``--model`` checked against ``--mixture`` (the evaluate command: exactly one)."""
    if bool(args.model) == args.mixture:
        raise ValueError("give either --model best_model.pth or --mixture")
    if args.model and not os.path.isfile(args.model):
        raise ValueError(f"--model {args.model} not found")
    return args.model


def print_scores(summary: dict, output_dir: str) -> None:
    """One line of an evaluation's mean scores."""
    from .metrics import LABELS

    metrics, counts = summary["metrics"], summary["counts"]
    scores = " ".join(
        f"{LABELS[m]} " + ("-" if metrics[m]["mean"] is None else f"{metrics[m]['mean']:.2f}")
        for m in ("sdr", "sir", "sar", "sdri", "esdr", "esdri")
        if m in metrics  # runs scored before the energy-ratio columns existed lack them
    )
    print(
        f"{scores} dB over {counts['sources_scored']} estimates of {counts['mixtures']} "
        f"mixtures -> {output_dir}"
    )


def scoring_of(args: argparse.Namespace) -> str:
    """``--scoring``, else the one of ``--protocol`` (``authors`` scores the authors' way),
    else ``ours``: the ``eval.scoring`` the evaluate command (and recipes' eval.py) uses.

    Examples:
        >>> scoring_of(argparse.Namespace(scoring=None, protocol="authors"))
        'authors'
        >>> scoring_of(argparse.Namespace(scoring="ours", protocol="authors"))
        'ours'
    """
    if getattr(args, "scoring", None):
        return args.scoring
    return "authors" if getattr(args, "protocol", None) == "authors" else "ours"


def _composition_note(args: argparse.Namespace) -> None:
    """Say so when --protocol asks for one composition and the manifest has the other
    (the composition is fixed when the manifest is built: asteroid-wsas prepare)."""
    from .data import read_manifest

    if not getattr(args, "protocol", None):
        return
    whose = {"ours": "our", "authors": "the authors'"}
    built = read_manifest(args.manifest).composition or "ours"
    if built != args.protocol:
        print(
            f"note: {args.manifest} holds {whose[built]} test composition, not "
            f"{whose[args.protocol]} (asteroid-wsas prepare --protocol {args.protocol} builds "
            f"it); scoring: {scoring_of(args)}"
        )


def cmd_evaluate(args: argparse.Namespace) -> None:
    from .engine.evaluation import evaluate, score_recordings
    from .metrics.clap_score import ClapScorer

    teacher_note = (
        "note: --clap-score model scores with the separator's own encoder; for a "
        "weakly-supervised model that is its training teacher, not independent evidence"
    )
    if args.audio is not None:  # real recordings: no references, CLAPScore only
        from .encoders.loading import load_encoder
        from .separator import Separator

        for given, option in (
            (args.manifest, "a manifest"),
            (args.mixture, "--mixture"),
            (args.scoring, "--scoring"),
            (args.protocol, "--protocol"),
        ):
            if given:
                raise ValueError(f"--audio separates with --model; {option} is for test sets")
        if args.queries:
            raise ValueError("--audio takes its queries as --queries-text TEXT ...")
        if not args.queries_text or not args.clap_score:
            raise ValueError("--audio needs --queries-text TEXT ... and --clap-score ENCODER")
        encoder = load_encoder(args.encoder) if args.encoder else None
        separator = Separator.from_pretrained(args.model, encoder=encoder)
        scorer = ClapScorer.from_spec(args.clap_score, separator.encoder)
        if scorer.is_model_encoder:
            print(teacher_note)
        summary = score_recordings(
            separator,
            args.audio,
            args.queries_text,
            scorer,
            args.output_dir,
            device=args.device,
            force=args.force,
        )
        m, n = summary["metrics"], summary["counts"]
        scores = " ".join(
            f"{label} {m[k]['mean']:.3f} [{m[k]['low']:.3f}, {m[k]['high']:.3f}]"
            for k, label in (("clap", "CLAPScore"), ("clapi", "CLAPScore-i"))
        )
        print(
            f"{scores} over {n['recordings']} recordings x {n['queries']} queries "
            f"-> {args.output_dir}"
        )
        return
    if args.manifest is None:
        raise ValueError("give a test-set manifest, or --audio FILES for recordings")
    if args.queries_text:
        raise ValueError("--queries-text goes with --audio (a test set has its own queries)")
    model = separator_of(args)
    _composition_note(args)
    encoder = None if args.mixture else encoder_of(args)
    scorer = None
    if args.clap_score:
        scorer = ClapScorer.from_spec(args.clap_score, encoder)
        if scorer.is_model_encoder:
            print(teacher_note)
    summary = evaluate(
        model,
        encoder,
        args.manifest,
        args.output_dir,
        batch_size=args.batch_size,
        device=args.device,
        force=args.force,
        queries=args.queries,
        clap_scorer=scorer,
        scoring=scoring_of(args),
    )
    print_scores(summary, args.output_dir)
    if scorer is not None:
        clap = [summary["metrics"][k]["mean"] for k in ("clap", "clapi")]
        print("CLAPScore " + " CLAPScore-i ".join("-" if v is None else f"{v:.3f}" for v in clap))


def cmd_examples(args: argparse.Namespace) -> None:
    from .reporting.examples import examples

    if not os.path.isfile(args.model):
        raise ValueError(f"--model {args.model} not found")
    written = examples(
        args.model,
        encoder_of(args),
        args.manifest,
        args.output_dir,
        args.n,
        args.device,
        args.force,
    )
    print(f"{len(written)} files (wavs and spectrogram PNGs) -> {args.output_dir}")


def separator_for_separate(args: argparse.Namespace):
    """``--model`` as a :class:`~asteroid_wsas.Separator`, with ``--encoder`` when given."""
    from .encoders.loading import load_encoder
    from .separator import Separator

    encoder = load_encoder(args.encoder) if args.encoder else None
    separator = Separator.from_pretrained(args.model, encoder=encoder)
    if args.device:
        separator.to(args.device)
    return separator


def cmd_separate(args: argparse.Namespace) -> None:
    import tempfile

    import numpy as np
    import soundfile as sf
    from tqdm.auto import tqdm

    from .separator import OutputFiles, audio_files, output_subtype

    queries = args.query
    for option, given in (("-q/--query", queries), ("--negative", args.negative or [])):
        for k, query in enumerate(given, 1):
            if not query.strip():  # checked before any file is read or model loaded
                raise ValueError(f"{option} number {k} is empty: give a text or image:PATH")
    names = [query_slug(q) for q in queries] + (["residual"] if args.residual else [])
    if len(set(names)) != len(names):
        raise ValueError(f"queries give the same file name: {names}")
    images = [q[len("image:") :] for q in queries + (args.negative or []) if q.startswith("image:")]
    missing = [p for p in images if not os.path.isfile(p)]
    if missing:
        raise ValueError(f"image query file(s) not found: {', '.join(missing)}")
    overlap = args.overlap_seconds
    if overlap is None:  # a short --chunk-seconds alone is no error
        overlap = 1.0 if args.chunk_seconds is None else min(1.0, args.chunk_seconds / 2)
    stdin = "-" in args.inputs
    if stdin and len(args.inputs) > 1:
        raise ValueError("'-' (a WAV stream on stdin) must be the only input")
    missing = [p for p in args.inputs if p != "-" and not os.path.exists(p)]
    if missing:
        raise ValueError(f"input(s) not found: {', '.join(missing)}")

    # every input's output folder, before any work: a folder keeps its tree below -o
    jobs = []  # (input file, its output folder)
    for arg in [] if stdin else args.inputs:
        if os.path.isdir(arg):
            for path in audio_files(arg, exclude=args.output_dir):
                relative = os.path.splitext(os.path.relpath(path, arg))[0]
                jobs.append((path, os.path.join(args.output_dir, relative)))
        elif len(args.inputs) > 1:  # files named with others: <stem>/ each
            stem = os.path.splitext(os.path.basename(arg))[0]
            jobs.append((arg, os.path.join(args.output_dir, stem)))
        else:
            jobs.append((arg, args.output_dir))
    if not stdin and not jobs:
        raise ValueError(f"no audio files in {', '.join(args.inputs)}")
    taken = {}
    for path, folder in jobs:
        key = os.path.normcase(os.path.abspath(folder))
        if key in taken:
            raise ValueError(
                f"{taken[key]} and {path} would both be written to {folder}; rename one or "
                "separate them apart"
            )
        taken[key] = path
    try:  # a folder that cannot be written fails now, not after the first separation
        os.makedirs(args.output_dir, exist_ok=True)
        tempfile.TemporaryFile(dir=args.output_dir).close()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ValueError(f"output folder {args.output_dir} is not writable ({reason})") from None

    if stdin:
        files = [os.path.join(args.output_dir, f"{n}.wav") for n in names]
        refuse_overwrite(*files, force=args.force)
        if sys.stdin is None or sys.stdin.isatty():
            raise ValueError("'-' reads a WAV stream from stdin: pipe one in")
        try:  # by descriptor: libsndfile reads a WAV header from a pipe, soundfile's IO cannot
            reader = sf.SoundFile(sys.stdin.fileno(), closefd=False)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"stdin is not a WAV stream ({err})") from None
        separator = separator_for_separate(args)

        def blocks():
            size = max(1024, reader.samplerate // 10)
            while True:  # read(frames): blocks() needs a seekable file
                block = reader.read(size, dtype="float32", always_2d=True)
                if not len(block):
                    return
                yield block.T

        subtype = output_subtype(args.subtype, reader)
        with reader, OutputFiles(files, reader.samplerate, reader.channels, subtype) as out:
            for block in separator.stream(
                blocks(),
                queries,
                sample_rate=reader.samplerate,
                chunk_seconds=args.chunk_seconds,
                overlap_seconds=overlap,
                residual=args.residual,
                negative=args.negative,
            ):
                out.write(block)
        print(f"stdin ({reader.samplerate} Hz, {reader.channels} ch) -> {', '.join(files)}")
        return

    todo, skipped = [], 0
    for path, folder in jobs:
        files = [os.path.join(folder, f"{n}.wav") for n in names]
        if not args.force and all(os.path.exists(f) for f in files):
            skipped += 1
        else:
            todo.append((path, files))
    if skipped:
        print(f"skipped {skipped} input(s) whose outputs exist (--force to redo them)")
    if not todo:
        return
    separator = separator_for_separate(args)
    several = len(todo) > 1
    failed = []
    bar = tqdm(total=len(todo), desc="separating", unit="file", disable=not several)
    for path, files in todo:
        try:
            result = separator.separate(
                path,
                queries,
                residual=args.residual,
                negative=args.negative,
                chunk_seconds=args.chunk_seconds,
                overlap_seconds=overlap,
                progress=not several,  # one bar for a batch: the files'
            )
            waves = list(result.estimates) + ([result.residual] if args.residual else [])
            # outputs already there (an earlier, interrupted run) stay as they are
            new = [k for k, f in enumerate(files) if args.force or not os.path.exists(f)]
            subtype = output_subtype(args.subtype, path)
            with OutputFiles(
                [files[k] for k in new], result.sample_rate, waves[0].shape[0], subtype
            ) as out:
                out.write(np.stack([waves[k] for k in new]))
        except (ValueError, RuntimeError, OSError) as err:
            message = str(err) if path in str(err) else f"{path}: {err}"
            if args.fail_fast or not several:
                raise ValueError(message) from None
            failed.append(path)
            tqdm.write(f"failed: {message}", file=sys.stderr)
        else:
            scores = [
                f"{q!r} presence {p:+.2f}, level {lv:+.1f} dB"
                for q, p, lv in zip(queries, result.presence, result.level_db)
            ]
            if several:
                tqdm.write(f"{path} -> {os.path.dirname(files[0])}: {'; '.join(scores)}")
            else:
                for f, score in zip(files, scores):
                    print(f"{f}: {score}")
        bar.update()
    bar.close()
    if several:
        print(
            f"{len(todo) - len(failed)} of {len(todo)} inputs separated -> {args.output_dir}"
            + (f" ({skipped} skipped)" if skipped else "")
        )
    if failed:
        raise ValueError(f"{len(failed)} input(s) failed: {', '.join(failed)}")


def cmd_serve(args: argparse.Namespace) -> None:
    from .webapp import serve

    try:
        import gradio  # noqa: F401
    except ImportError:
        raise ValueError("the web page needs Gradio: pip install 'asteroid-wsas[app]'") from None
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be 1..65535, got {args.port}")
    if args.max_size_mb <= 0 or args.max_queries < 1:
        raise ValueError("--max-size-mb must be > 0 and --max-queries >= 1")
    serve(args.model, args.host, args.port, args.max_size_mb, args.max_queries, args.device)


def cmd_compare(args: argparse.Namespace) -> None:
    from .reporting.report import compare, format_report, plot_curves, report_notes, write_report

    rows = {}
    for item in args.experiments:
        name, sep, folder = item.partition("=")
        folder = folder if sep else name
        name = name if sep else os.path.basename(os.path.normpath(folder))
        if name in rows:
            raise ValueError(f"two rows are named {name!r}; name them: NAME=DIR")
        rows[name] = folder
    outputs = [args.output, os.path.splitext(args.output)[0] + ".json"] if args.output else []
    for path in outputs + ([args.curves] if args.curves else []):
        refuse_overwrite(path, force=args.force)
    from .metrics import CLAP_METRICS, METRICS, TABLE_METRICS

    metrics = args.metrics or TABLE_METRICS
    known = METRICS + CLAP_METRICS
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise ValueError(f"--metrics: unknown {unknown}; known: {', '.join(known)}")
    result = compare(rows, args.claim or (), metrics=metrics, n_resamples=args.resamples)
    notes = report_notes(args.wall_time, args.note or ())
    print(format_report(result, args.title, notes=notes))
    if args.output:
        write_report(result, args.output, args.title, notes, force=True)
    if args.curves:
        if plot_curves(rows, args.curves, force=True):
            print(f"validation SDR over training steps (mean and spread of seeds): {args.curves}")
        else:
            print(f"no validation curves in {', '.join(rows.values())}: {args.curves} not written")


def _paper_runs(args: argparse.Namespace):
    from .reporting.paper import paper_runs

    from fnmatch import fnmatchcase

    fractions = [] if args.no_table2 else args.fractions
    runs = paper_runs(
        args.methods or None,
        args.counts,
        fractions,
        args.cross,
        args.fallback or (),
        args.captions,
        images=not args.no_images,
    )
    if args.only:
        runs = [r for r in runs if any(fnmatchcase(r.folder, p) for p in args.only)]
        if not runs:
            raise ValueError(f"--only {' '.join(args.only)} matches no run (see paper-runs)")
    return runs


def cmd_paper_runs(args: argparse.Namespace) -> None:
    roots = {}
    for item in args.data_root or []:
        name, sep, root = item.partition("=")
        if not sep or not name or not root:
            raise ValueError(f"--data-root expects NAME=PATH, got {item!r}")
        roots[name] = os.path.abspath(root)
    # every line first: a missing root stops before anything is printed
    lines = [
        [run.folder, run.method, str(run.n_sources), run.encoder, run.test or "-", run.teacher()]
        + run.overrides
        + run.data_overrides(roots)
        for run in _paper_runs(args)
    ]
    for fields in lines:
        print("\t".join(fields))


def cmd_paper_tables(args: argparse.Namespace) -> None:
    from .reporting.paper import paper_tables
    from .reporting.report import report_notes

    notes = report_notes(args.wall_time, args.note or ())
    paper_tables(
        args.exp_root,
        _paper_runs(args),
        args.output,
        args.title,
        notes,
        n_resamples=args.resamples,
        force=args.force,
    )
    with open(args.output, encoding="utf-8") as f:
        print(f.read(), end="")
    stem = os.path.splitext(args.output)[0]
    print(f"tables: {args.output} (.json beside), figures: {stem}_table1.png, {stem}_table2.png")


class _DefaultsFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" to an option's help unless the help already says its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        # identity, not ==: a default of 0 is worth stating, False (a flag's) is not
        quiet = any(action.default is q for q in (None, False, argparse.SUPPRESS))
        if quiet or action.default == "" or "default" in text.lower() or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


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
    p.add_argument("--id-column", default="audiocap_id", help="column of the clip ids")
    p.add_argument("--caption-column", default="caption", help="column of the captions")
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
    source.add_argument(
        "--conf",
        help="a recipe config: its dataset's training mixtures (and data.clean_data's, if set)",
    )
    p.add_argument("--root", help="with --conf: dataset root (overrides data.root)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="with --conf: override")
    p.add_argument("-o", "--output", required=True, help="encoder file (.pth)")
    p.add_argument("--val-items", type=int, default=200, help="held-out mixtures for R@1")
    p.add_argument("--steps", type=int, default=2000, help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=32, help="mixtures per step")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (one-cycle)")
    p.add_argument("--sample-rate", type=int, default=16000, help="the encoder's rate in Hz")
    p.add_argument("--seconds", type=float, default=2.0, help="length of a training crop")
    p.add_argument("--log-every", type=int, default=100, help="steps between log lines")
    p.add_argument(
        "--phrase-weight",
        type=float,
        default=1.0,
        help="weight of the phrase loss (mixture vs the phrases of its sources; 0: captions only)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of weights and data")
    p.add_argument("--device", default="cpu", help="torch device")
    p.add_argument("--force", action="store_true", help="overwrite the output")
    p.set_defaults(func=cmd_train_encoder)

    p = sub.add_parser(
        "train-clip",
        help="train a small CLIP on a dataset's video frames and class prompts (offline "
        "stand-in of a pretrained CLIP for the image-queried rows)",
    )
    p.add_argument("--conf", required=True, help="a recipe config: its dataset's training videos")
    p.add_argument("--root", help="dataset root (overrides data.root)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    p.add_argument("-o", "--output", required=True, help="folder for the model (transformers')")
    p.add_argument("--steps", type=int, default=300, help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=32, help="most frames per step (1/class)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    p.add_argument("--image-size", type=int, default=32, help="side of the frames it sees")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and sampling")
    p.add_argument("--force", action="store_true", help="overwrite the output")
    p.set_defaults(func=cmd_train_clip)

    p = sub.add_parser("testset", help="build a fixed N-source test set (manifest JSON)")
    p.add_argument("dataset", choices=DATASET_NAMES, help="the dataset's layout")
    p.add_argument("root", help="dataset root (its list file and audio/ folder)")
    p.add_argument("-o", "--output", required=True, help="manifest JSON")
    p.add_argument("--list", help="list file if not at its usual place below root")
    p.add_argument("--n-sources", type=int, default=2, help="sources per test mixture")
    p.add_argument("--passes", type=int, help="default: MUSIC 10, VGGSound 2, AudioCaps 1")
    p.add_argument(
        "--seconds", type=float, default=131070 / 16000, help="mixture length (the paper's)"
    )
    p.add_argument("--sample-rate", type=int, default=16000, help="rate of the mixtures in Hz")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws (same seed, same set)")
    p.add_argument(
        "--snr-range",
        type=float,
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

    p = sub.add_parser("download", help="recipe stage 0: fetch a dataset with yt-dlp and ffmpeg")
    p.add_argument("dataset", choices=DATASET_NAMES, help="the dataset to fetch")
    p.add_argument("root", help="dataset root (list file(s) and audio/ go there)")
    p.add_argument("--sample-rate", type=int, default=16000, help="rate of the audio written")
    p.add_argument("--limit", type=int, help="fetch at most this many clips (a trial)")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("generate", help="write generated sounds in a dataset's public layout")
    p.add_argument("dataset", choices=DATASET_NAMES, help="the layout to write")
    p.add_argument("root", help="dataset root to write")
    p.add_argument("--per-class", type=int, default=20, help="recordings per sound class")
    p.add_argument("--seconds", type=float, default=4.0, help="length of each recording")
    p.add_argument("--sample-rate", type=int, default=16000, help="rate in Hz")
    p.add_argument("--seed", type=int, default=0, help="seed of the sounds")
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
    p.add_argument("--fps", type=float, default=2.0, help="with --frames: frames per second")
    p.add_argument(
        "--frame-size", type=int, default=64, help="with --frames: side of the square frames"
    )
    p.add_argument("--force", action="store_true", help="overwrite the output")
    p.set_defaults(func=cmd_generate)

    def conf_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("conf", help="recipe config (local/conf.yml)")
        p.add_argument("--root", help="dataset root (overrides data.root)")
        p.add_argument(
            "--protocol",
            choices=("ours", "authors"),
            help="ours, or the authors' code's choices for every departure (docs/objective.md; "
            "--set still changes one of them) (default: the config's protocol, else ours)",
        )
        p.add_argument(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            help="override any config key, e.g. --set training.batch_size=4 (repeatable)",
        )

    p = sub.add_parser("prepare", help="recipe stage 1: fixed test and validation sets, prompts")
    conf_options(p)
    p.add_argument("-o", "--output-dir", required=True, help="where the manifests go (data/)")
    p.add_argument("--force", action="store_true", help="overwrite the outputs")
    p.set_defaults(func=cmd_prepare)

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

    p = sub.add_parser(
        "evaluate",
        help="recipe stage 4: score a separator on a fixed test set (or recordings by CLAPScore)",
    )
    p.add_argument("manifest", nargs="?", help="test-set manifest JSON (not with --audio)")
    p.add_argument("-o", "--output-dir", required=True, help="all_metrics.csv etc. go here")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--model", help="best_model.pth (with --audio: also a Separator folder or file)"
    )
    which.add_argument("--mixture", action="store_true", help="score the unprocessed mixture")
    p.add_argument("--encoder", help="default: the one in conf.yml beside --model")
    p.add_argument(
        "--queries",
        choices=("text", "image"),
        help="query each source with its text or its video's frames (default: as the model "
        "was trained, from the conf.yml beside it)",
    )
    p.add_argument(
        "--clap-score",
        metavar="ENCODER",
        help="also score each estimate by CLAPScore against its query (columns clap, clapi): "
        "a CLAP folder or hub id, tiny:PATH (a small encoder file), or 'model' (the "
        "separator's own encoder: its training teacher, not independent evidence)",
    )
    p.add_argument(
        "--audio",
        nargs="+",
        metavar="IN",
        help="reference-free mode: separate these recordings (files or folders) with --model "
        "and --queries-text, score them by --clap-score; writes clap_scores.csv and "
        "clap_summary.json (means, 95 %% bootstrap intervals over recordings)",
    )
    p.add_argument(
        "--queries-text", nargs="+", metavar="TEXT", help="with --audio: the queries to ask"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=4,
        help="mixtures per separator call; with --scoring authors also the batch whose mean "
        "is averaged",
    )
    p.add_argument(
        "--protocol",
        choices=("ours", "authors"),
        help="ours, or the authors' code's evaluation: sets --scoring's default, and says "
        "when the manifest was built with the other test composition (prepare --protocol "
        "builds it) (default: ours)",
    )
    p.add_argument(
        "--scoring",
        choices=("ours", "authors"),
        help="eval.scoring: ours (near-silent references skipped one by one, mean over "
        "mixtures) or authors (a mixture with a silent reference or estimate is dropped; "
        "mean of per-batch means) (default: ours, or authors with --protocol authors)",
    )
    p.add_argument("--device", help="default: cuda when available")
    p.add_argument("--force", action="store_true", help="overwrite the outputs")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("examples", help="recipe stage 5: example separations as wavs and PNGs")
    p.add_argument("manifest", help="test-set manifest JSON")
    p.add_argument("-o", "--output-dir", required=True, help="exp/<tag>/examples")
    p.add_argument("--model", required=True, help="best_model.pth")
    p.add_argument("-n", type=int, default=4, help="number of test mixtures")
    p.add_argument("--encoder", help="default: the one in conf.yml beside --model")
    p.add_argument("--device", help="default: cuda when available")
    p.add_argument("--force", action="store_true", help="overwrite the outputs")
    p.set_defaults(func=cmd_examples)

    p = sub.add_parser(
        "separate", help="separate audio files, folders or a WAV stream with text queries"
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="audio files (any rate, channels), folders of them (their tree is kept below -o), "
        "or - for a WAV stream on stdin (separated as it comes)",
    )
    p.add_argument(
        "-q",
        "--query",
        action="append",
        required=True,
        help="text, or image:PATH with a CLIP-queried model (repeatable; texts and images mix)",
    )
    p.add_argument(
        "-o",
        "--output-dir",
        required=True,
        help="<query>.wav files go here (one input), or in <input's path>/ below it",
    )
    p.add_argument("--model", required=True, help="separator folder, file, URL or hub id")
    p.add_argument(
        "--encoder",
        help="CLAP folder or hub id, or a small-encoder .pth (default: the one bundled with "
        "--model, or named by the conf.yml beside it)",
    )
    p.add_argument("--residual", action="store_true", help="also write what no query took")
    p.add_argument(
        "--negative", action="append", help="text or image:PATH of what to remove (repeatable)"
    )
    p.add_argument(
        "--chunk-seconds",
        type=float,
        help="chunk length (default: 10 s for longer inputs; a stream's latency)",
    )
    p.add_argument(
        "--overlap-seconds",
        type=float,
        help="crossfade between chunks (default: 1 s, or half the chunk if it is shorter than 2 s)",
    )
    p.add_argument(
        "--subtype",
        default="input",
        choices=(
            "input",
            "FLOAT",
            "DOUBLE",
            "PCM_16",
            "PCM_24",
            "PCM_32",
            "PCM_U8",
            "ULAW",
            "ALAW",
        ),
        help="WAV sample format of the outputs: input keeps the input's (16-bit in, 16-bit "
        "out), FLOAT where WAV cannot hold it (MP3, Ogg, ...) (default: %(default)s; integer "
        "formats are clipped to full scale, with a warning)",
    )
    p.add_argument("--device", help="e.g. cuda (default: cpu)")
    p.add_argument(
        "--force", action="store_true", help="redo inputs whose outputs exist, overwriting them"
    )
    p.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop at the first input that fails (default: go on, list the failures at the end)",
    )
    p.set_defaults(func=cmd_separate)

    p = sub.add_parser("serve", help="a local web page to separate audio with text queries")
    p.add_argument(
        "--model",
        required=True,
        help="separator folder / file / URL / hub id, or 'random' (random weights, to try the page)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 opens the page to the network (default: %(default)s)",
    )
    p.add_argument("--port", type=int, default=7860, help="port (default: %(default)s)")
    p.add_argument(
        "--max-size-mb",
        type=float,
        default=50.0,
        help="largest audio file accepted, in MB (default: %(default)g)",
    )
    p.add_argument(
        "--max-queries", type=int, default=6, help="most queries per request (default: %(default)s)"
    )
    p.add_argument("--device", help="torch device, e.g. cuda (default: cpu)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "compare", help="Table-1-shaped table with intervals over seeds, paired claims, curves"
    )
    p.add_argument(
        "experiments",
        nargs="+",
        metavar="[NAME=]DIR",
        help="an evaluated run, or a method folder with one evaluated run per seed (seed*/)",
    )
    p.add_argument("-o", "--output", help="also write the report (Markdown, and .json beside)")
    p.add_argument("--curves", help="PNG of validation SDR over steps (mean, seed spread)")
    p.add_argument(
        "--claim",
        action="append",
        metavar="TEXT",
        help="[metric:] expression of row names [>= goal], e.g. 'weak - mix_and_separate' "
        "or 'sdri: weak / mix_and_separate >= 1.5'; paired bootstrap interval (repeatable)",
    )
    p.add_argument(
        "--metrics",
        nargs="+",
        metavar="NAME",
        help="table columns (default: sdr sir sar sdri, Table 1's BSS-Eval columns); also "
        "si_sdr, si_sdri, esdr / esdri (the energy-ratio SDR of DCASE 2024 Task 9 and "
        "AudioSep) and clap / clapi (CLAPScore, runs evaluated with --clap-score)",
    )
    p.add_argument("--resamples", type=int, default=10000, help="bootstrap replicates")
    p.add_argument("--wall-time", type=float, help="seconds the comparison took (printed)")
    p.add_argument("--note", action="append", help="a line printed under the table")
    p.add_argument("--title", default="", help="bold line above the table")
    p.add_argument("--force", action="store_true", help="overwrite the outputs")
    p.set_defaults(func=cmd_compare)

    def paper_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--methods", nargs="+", help="Table 1's rows (default: all registered)")
        p.add_argument("--counts", nargs="+", type=int, default=[2, 3, 4], help="sources")
        p.add_argument(
            "--fractions", nargs="+", type=int, default=[5, 10, 25, 75], help="clean %% (Table 2)"
        )
        p.add_argument("--no-table2", action="store_true", help="Table 1 only")
        p.add_argument(
            "--no-images",
            action="store_true",
            help="without Table 1's image-queried rows (no CLIP or no video frames)",
        )
        p.add_argument(
            "--cross",
            metavar="DATASET",
            help="Table 2's second dataset of labelled solos (vggsound): the cross-dataset rows",
        )
        p.add_argument(
            "--captions",
            metavar="DATASET",
            help="Table 2's captioned dataset (audiocaps): its part (needs --cross)",
        )
        p.add_argument(
            "--fallback",
            nargs="+",
            choices=("bert", "clip"),
            help="text encoders that are not here: rows that are then the same run share it",
        )
        p.add_argument(
            "--only",
            nargs="+",
            metavar="PATTERN",
            help="the runs whose folder matches a pattern (e.g. 'table2/semi_*_3src')",
        )

    p = sub.add_parser(
        "paper-runs",
        help="the training runs of the paper's Tables 1 and 2",
        description="One line per run, tab-separated: folder, method, sources per training "
        "mixture, text encoder kind (-: the recipe's), test set (-: the recipe's), training "
        "data of its teacher (-: the recipe's), then KEY=VALUE overrides.",
    )
    paper_options(p)
    p.add_argument(
        "--data-root",
        action="append",
        metavar="NAME=PATH",
        help="root of a dataset the runs name (the cross-dataset rows': both)",
    )
    p.set_defaults(func=cmd_paper_runs)

    p = sub.add_parser("paper-tables", help="the paper's Tables 1 and 2 from the scored runs")
    p.add_argument("exp_root", help="the folder the runs' folders are in (exp/)")
    p.add_argument("-o", "--output", required=True, help="results.md (.json and PNGs beside)")
    paper_options(p)
    p.add_argument(
        "--metrics",
        nargs="+",
        metavar="NAME",
        help="table columns (default: sdr sir sar sdri, Table 1's BSS-Eval columns); also "
        "si_sdr, si_sdri, esdr / esdri (the energy-ratio SDR of DCASE 2024 Task 9 and "
        "AudioSep) and clap / clapi (CLAPScore, runs evaluated with --clap-score)",
    )
    p.add_argument("--resamples", type=int, default=10000, help="bootstrap replicates")
    p.add_argument("--wall-time", type=float, help="seconds the runs took (printed)")
    p.add_argument("--note", action="append", help="a line printed under the tables")
    p.add_argument("--title", default="", help="bold line above the table")
    p.add_argument("--force", action="store_true", help="overwrite the outputs")
    p.set_defaults(func=cmd_paper_tables)
    # light modules (their heavy imports are inside the commands): --help stays fast
    from .export_cli import add_export_parser
    from .publish import add_publish_parser

    add_export_parser(sub)
    add_publish_parser(sub)
    for command in sub.choices.values():
        command.formatter_class = _DefaultsFormatter
    return parser


@contextlib.contextmanager
def user_errors(encoder_option: bool = False) -> Iterator[None]:
    """Bad input ends the command with ``error: ...`` and status 1, not a traceback.

    Args:
        encoder_option: The command has ``--encoder``: a separator without its encoder is
            answered with that option, not with Python's ``encoder=``.
    """
    try:
        yield
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        if type(err).__name__ == "MissingEncoderError":  # without importing torch here
            advice = "; or pass --encoder" if encoder_option else ""
            err = f"{err.path} {err.what}: put its training run's conf.yml beside it{advice}"
        raise SystemExit(f"error: {err}") from None


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Query and clipping warnings as one ``warning: ...`` line; other warnings as Python
    shows them."""
    if category.__name__ in ("QueryWarning", "ClippingWarning"):
        print(f"warning: {message}", file=file or sys.stderr)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def main(argv: Optional[List[str]] = None) -> None:
    """Run the ``asteroid-wsas`` command line."""
    args = build_parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        with user_errors(encoder_option=hasattr(args, "encoder")):
            args.func(args)
    finally:
        warnings.showwarning = _python_show_warning


if __name__ == "__main__":
    main(sys.argv[1:])
