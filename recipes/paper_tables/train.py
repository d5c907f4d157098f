"""Stage 3: train one separator. run.sh calls this with the options of
``asteroid-wsas train`` (--help lists them). Edit it to change what this recipe trains:
the package stays as installed."""

import sys

from asteroid_wsas.cli import build_parser, recipe_conf, refuse_finished_run, user_errors
from asteroid_wsas.engine.training import train

args = build_parser().parse_args(["train", *sys.argv[1:]])
with user_errors():
    conf = recipe_conf(args)  # local/conf.yml + --set / --objective / --encoder ...
    # A fork changes the run here: the config, or its own build_system (engine/training.py)
    refuse_finished_run(args.exp_dir, args.force)
    best = train(conf, args.exp_dir, args.val_manifest, resume=not args.restart)
print(f"separator: {best}")
