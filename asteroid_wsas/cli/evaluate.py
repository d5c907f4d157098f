"""The evaluation commands: ``evaluate`` (a separator, or the mixture, on a fixed test set;
or recordings by CLAPScore; recipe stage 4) and ``examples`` (example separations as wavs and
spectrogram PNGs; recipe stage 5). The helpers are what the recipes' ``eval.py`` calls."""

import argparse
import os
from typing import Any, Optional

from .common import count

__all__ = [
    "add_parser",
    "cmd_evaluate",
    "cmd_examples",
    "encoder_of",
    "separator_of",
    "print_scores",
    "scoring_of",
]

TEACHER_NOTE = (
    "note: --clap-score model scores with the separator's own encoder; for a "
    "weakly-supervised model that is its training teacher, not independent evidence"
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``evaluate`` and ``examples`` to ``sub``, the sub-parsers of a parser; returns
    the parser of ``examples``.

    Examples:
        >>> parser = argparse.ArgumentParser(prog="asteroid-wsas")
        >>> last = add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["evaluate", "t.json", "-o", "x", "--mixture"])
        >>> last.prog, args.batch_size
        ('asteroid-wsas examples', 4)
    """
    return [add(sub) for add in PARSERS.values()][-1]


def encoder_of(args: argparse.Namespace) -> Any:
    """The encoder of ``--encoder``, or of the conf.yml beside ``--model``."""
    from ..encoders.loading import encoder_beside, load_encoder

    spec = args.encoder
    if spec is None and args.model:
        spec = encoder_beside(args.model)
    if spec is None:
        raise ValueError("--encoder is needed (no conf.yml beside --model to read it from)")
    return load_encoder(spec)


def separator_of(args: argparse.Namespace) -> Optional[str]:
    """``--model`` checked against ``--mixture`` (the evaluate command: exactly one)."""
    if bool(args.model) == args.mixture:
        raise ValueError("give either --model best_model.pth or --mixture")
    if args.model and not os.path.isfile(args.model):
        raise ValueError(f"--model {args.model} not found")
    return args.model


def print_scores(summary: dict, output_dir: str) -> None:
    """One line of an evaluation's mean scores."""
    from ..metrics import LABELS

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


def evaluate_args(
    args: argparse.Namespace, model: Optional[str], encoder: Any, clap_scorer: Any = None
) -> dict:
    """Score ``model`` (None: the mixture) on ``args.manifest`` with the evaluate command's
    options (the batch size, device, ``--force``, ``--queries``, :func:`scoring_of`, the
    classes of ``--classes-of``), into ``args.output_dir``: the evaluate command's run and
    the recipes' eval.py's. Returns :func:`~asteroid_wsas.engine.evaluation.evaluate`'s
    summary."""
    from ..engine.evaluation import check_classes_of, evaluate

    if getattr(args, "classes_of", None):  # another set's test: only classes the run knows
        check_classes_of(args.manifest, args.classes_of)

    return evaluate(
        model,
        encoder,
        args.manifest,
        args.output_dir,
        batch_size=args.batch_size,
        device=args.device,
        force=args.force,
        queries=args.queries,
        clap_scorer=clap_scorer,
        scoring=scoring_of(args),  # --scoring, or --protocol authors: the authors' way
    )


def _composition_note(args: argparse.Namespace) -> None:
    """Say so when --protocol asks for one composition and the manifest has the other
    (the composition is fixed when the manifest is built: asteroid-wsas prepare)."""
    from ..data import read_manifest

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
    """``asteroid-wsas evaluate``: score a separator (or the mixture) on a test set, or
    recordings by CLAPScore (``--audio``)."""
    from ..metrics.clap_score import ClapScorer

    if args.audio is not None:  # real recordings: no references, CLAPScore only
        _score_recordings(args)
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
            print(TEACHER_NOTE)
    summary = evaluate_args(args, model, encoder, clap_scorer=scorer)
    print_scores(summary, args.output_dir)
    if scorer is not None:
        clap = [summary["metrics"][k]["mean"] for k in ("clap", "clapi")]
        print("CLAPScore " + " CLAPScore-i ".join("-" if v is None else f"{v:.3f}" for v in clap))


def _score_recordings(args: argparse.Namespace) -> None:
    """``evaluate --audio``: separate recordings with ``--model`` and score each estimate
    by CLAPScore against its query."""
    from ..encoders.loading import load_encoder
    from ..engine.evaluation import score_recordings
    from ..metrics.clap_score import ClapScorer
    from ..separation.separator import Separator

    for given, option in (
        (args.manifest, "a manifest"),
        (args.mixture, "--mixture"),
        (args.scoring, "--scoring"),
        (args.protocol, "--protocol"),
        (args.classes_of, "--classes-of"),
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
        print(TEACHER_NOTE)
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
        f"{scores} over {n['recordings']} recordings x {n['queries']} queries -> {args.output_dir}"
    )


def cmd_examples(args: argparse.Namespace) -> None:
    """``asteroid-wsas examples``: example separations as wavs and spectrogram PNGs."""
    from ..reporting.examples import examples

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


# ---------------------------------------------------------------------------- parsers
def _evaluate_parser(sub) -> argparse.ArgumentParser:
    """``evaluate``: score a separator on a test set, or recordings by CLAPScore."""
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
        type=count,
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
    p.add_argument(
        "--classes-of",
        metavar="MANIFEST",
        help="a test set of the run's own data: refuse to score when the manifest asks a "
        "class it lacks, or is at another sample rate (a run scored on a second rendered "
        "set, e.g. another soundfont's)",
    )
    p.add_argument("--device", help="default: cuda when available")
    p.add_argument("--force", action="store_true", help="overwrite the outputs")
    p.set_defaults(func=cmd_evaluate)
    return p


def _examples_parser(sub) -> argparse.ArgumentParser:
    """``examples``: example separations as wavs and PNGs."""
    p = sub.add_parser("examples", help="recipe stage 5: example separations as wavs and PNGs")
    p.add_argument("manifest", help="test-set manifest JSON")
    p.add_argument("-o", "--output-dir", required=True, help="exp/<tag>/examples")
    p.add_argument("--model", required=True, help="best_model.pth")
    p.add_argument("-n", type=count, default=4, help="number of test mixtures")
    p.add_argument("--encoder", help="default: the one in conf.yml beside --model")
    p.add_argument("--device", help="default: cuda when available")
    p.add_argument("--force", action="store_true", help="overwrite the outputs")
    p.set_defaults(func=cmd_examples)
    return p


PARSERS = {"evaluate": _evaluate_parser, "examples": _examples_parser}
