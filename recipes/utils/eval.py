"""Stage 4: score a separator (or the unprocessed mixture) on a fixed test set. run.sh
calls this with the options of ``asteroid-wsas evaluate`` (--help lists them)."""

import sys

from asteroid_wsas.cli import (
    build_parser,
    encoder_of,
    evaluate_args,
    print_scores,
    separator_of,
    user_errors,
)

args = build_parser().parse_args(["evaluate", *sys.argv[1:]])
with user_errors():
    model = separator_of(args)  # None: score the mixture itself (the table's first row)
    encoder = None if args.mixture else encoder_of(args)
    summary = evaluate_args(args, model, encoder)  # the options of asteroid-wsas evaluate
print_scores(summary, args.output_dir)
