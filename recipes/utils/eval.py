"""Stage 4: score a separator (or the unprocessed mixture) on a fixed test set. run.sh
calls this with the options of ``asteroid-wsas evaluate`` (--help lists them)."""

import sys

from asteroid_wsas.cli import (
    build_parser,
    encoder_of,
    print_scores,
    scoring_of,
    separator_of,
    user_errors,
)
from asteroid_wsas.engine.evaluation import evaluate

args = build_parser().parse_args(["evaluate", *sys.argv[1:]])
with user_errors():
    model = separator_of(args)  # None: score the mixture itself (the table's first row)
    summary = evaluate(
        model,
        None if args.mixture else encoder_of(args),
        args.manifest,
        args.output_dir,
        batch_size=args.batch_size,
        device=args.device,
        force=args.force,
        queries=args.queries,
        scoring=scoring_of(args),  # --scoring, or --protocol authors: the authors' way
    )
print_scores(summary, args.output_dir)
