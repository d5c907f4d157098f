"""``asteroid-wsas publish``: an evaluated experiment folder as a hub-ready model folder
(the work is :func:`asteroid_wsas.publish.publish_experiment`)."""

import argparse
import os
from typing import Any

from ..publish import DEFAULT_LICENSE

__all__ = ["add_parser", "cmd"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``publish`` sub-command on an argparse sub-parsers object.

    Args:
        sub: What ``ArgumentParser.add_subparsers()`` returned.

    Returns:
        argparse.ArgumentParser: the sub-command's parser (``func`` is :func:`cmd`).

    Examples:
        >>> parser = argparse.ArgumentParser(prog="asteroid-wsas")
        >>> _ = add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["publish", "exp/weak", "-o", "exp/weak/publish"])
        >>> args.func is cmd, args.license
        (True, 'cc-by-sa-4.0')
    """
    p = sub.add_parser(
        "publish",
        help="a hub-ready model folder (separator, model card, config, scores) from an "
        "evaluated experiment",
        description="Write FOLDER: separator.pth (Separator.save_pretrained), conf.yml, "
        "final_metrics.json, all_metrics.csv and scores.png when present, and a model card "
        "README.md with Hugging Face hub metadata. Upload it with "
        "`hf upload <user>/<repo> FOLDER .` (huggingface_hub >= 1.0; before: huggingface-cli "
        "upload).",
    )
    p.add_argument(
        "exp_dir",
        metavar="EXP_DIR",
        help="experiment folder (exp/<tag>) with best_model.pth and conf.yml (train) and "
        "final_metrics.json (evaluate)",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FOLDER",
        help="folder to write; must be absent or empty unless --force (required)",
    )
    p.add_argument(
        "--license",
        default=DEFAULT_LICENSE,
        help="license id for the hub (default: %(default)s, as Asteroid's models)",
    )
    p.add_argument(
        "--dataset",
        action="append",
        metavar="NAME",
        help="training data named in the card's datasets (repeatable; default: data.dataset "
        "of conf.yml, and data.clean_data's)",
    )
    p.add_argument(
        "--test-set",
        metavar="NAME",
        help="name of the test set the scores come from (default: final_metrics.json's "
        "test_set, else the recipe's <dataset>-<N>mix-test)",
    )
    p.add_argument(
        "--query",
        action="append",
        dest="intended_queries",
        metavar="TEXT",
        help="a query the model is meant for, listed in the card (repeatable; default: none, "
        "the card lists the encoder's vocabulary and the test set's queries)",
    )
    p.add_argument(
        "--encoder",
        help="encoder to bundle instead of conf.yml's encoder.name, e.g. when the "
        "experiment moved (default: conf.yml's)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty FOLDER, overwriting files of the same names (default: "
        "refuse)",
    )
    p.set_defaults(func=cmd)
    return p


PARSERS = {"publish": add_parser}


def cmd(args: argparse.Namespace) -> None:
    """Run ``asteroid-wsas publish`` (the arguments of :func:`add_parser`)."""
    from ..publish import publish_experiment

    card = publish_experiment(
        args.exp_dir,
        args.output,
        force=args.force,
        license=args.license,
        dataset=args.dataset,
        intended_queries=args.intended_queries,
        test_set=args.test_set,
        encoder=args.encoder,
    )
    files = sorted(os.listdir(args.output))
    print(f"model folder {args.output}: {', '.join(files)}")
    print(f"model card: {card}")
    print(f"upload (after `hf auth login`): hf upload <user>/<repo> {args.output} .")
