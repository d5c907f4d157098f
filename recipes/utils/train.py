"""Stage 3 of run.sh: train one separator into an experiment folder.

The whole run, in the order of Asteroid's recipes: config -> data -> model -> objective ->
system -> trainer. To change what this recipe trains (your own dataset, model, objective or
Trainer setting), edit the step here; the package stays as installed. Each step is a function
of asteroid_wsas.engine.training (its docstring says what it reads from the config).

It writes exp/<tag>/ as eval.py and run.sh's later stages read it: conf.yml, logs/metrics.csv,
checkpoints/ (the best val_sdr and last.ckpt) and best_model.pth. Run again with the same
options, a killed run continues from checkpoints/last.ckpt; a finished one is left as it is.
A second run into the same folder while one trains there fails at once.

    python train.py local/conf.yml --exp-dir exp/weak --val-manifest data/val_2mix.json \\
        --objective weak --set training.batch_size=8
"""

import argparse
import sys
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import TQDMProgressBar

from asteroid_wsas.engine.callbacks import (
    CHECKPOINT_EVERY_N_STEPS,
    HistoryCSVLogger,
    checkpoint_callbacks,
)
from asteroid_wsas.engine.config import load_conf, recipe_overrides, save_conf
from asteroid_wsas.engine.system import WeakSupSystem
from asteroid_wsas.engine.training import (
    build_model,
    build_objective,
    check_training_devices,
    combine_loaders,
    fit,
    hold_experiment,
    recipe_encoder,
    refuse_finished_run,
    resume_point,
    save_best_model,
    system_config,
    train_datasets,
    train_loaders,
    trainer_args,
    val_loader,
)

parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
parser.add_argument("conf", help="recipe config (local/conf.yml)")
parser.add_argument("--exp-dir", required=True, help="experiment folder (exp/<tag>)")
parser.add_argument("--val-manifest", help="validation set (its val_sdr picks the best model)")
parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="e.g. training.seed=1")
parser.add_argument("--root", help="dataset root (data.root)")
parser.add_argument("--protocol", choices=("ours", "authors"), help="see docs/objective.md")
parser.add_argument("--objective", help="objective.name: weak, mix_and_separate, semi, ...")
parser.add_argument("--method", help="a row of the paper's tables (sets the objective too)")
parser.add_argument("--encoder", help="encoder.name: tiny, a CLAP folder or hub id, a .pth")
parser.add_argument("--max-steps", type=int, help="training.max_steps (the budget)")
parser.add_argument("--gpus", help="GPUs per node: auto (default), 0 = the CPU, N")
parser.add_argument("--num-nodes", type=int, help="nodes for DDP (docs/recipes)")
parser.add_argument("--restart", action="store_true", help="start over, ignoring last.ckpt")
parser.add_argument("--force", action="store_true", help="retrain over a finished run")
parser.add_argument(
    "--trust-checkpoint",
    action="store_true",
    help="load checkpoints with weights_only=False (they can run code: only your own)",
)


def main(args: argparse.Namespace) -> str:
    """Train the run that ``args`` describe; return its best_model.pth."""
    # 1. Config: local/conf.yml, the protocol's choices, then this command line's overrides
    overrides = recipe_overrides(
        args.set,
        root=args.root,
        protocol=args.protocol,
        objective=args.objective,
        method=args.method,
        encoder=args.encoder,
        max_steps=args.max_steps,
        gpus=args.gpus,
        num_nodes=args.num_nodes,
    )
    conf = load_conf(args.conf, overrides, method=args.method)
    check_training_devices(conf)  # GPUs the config asks for: before anything is written
    training, exp_dir = conf["training"], Path(args.exp_dir)
    refuse_finished_run(exp_dir, force=args.force)  # a separator and nothing to resume
    trust = args.trust_checkpoint
    start = resume_point(exp_dir, conf, resume=not args.restart, trust_checkpoint=trust)
    if start.finished:  # last.ckpt holds the whole budget: touch nothing
        return str(exp_dir / "best_model.pth")
    save_conf(conf, exp_dir / "conf.yml")  # eval.py finds the encoder and queries here
    pl.seed_everything(training.get("seed", 0), workers=True, verbose=False)

    # 2. Data: the batches the objective trains on (weak: mixtures and their captions only;
    # supervised: clean sources; semi: both), and the fixed validation set
    sets = train_datasets(conf)
    train_loader = combine_loaders(train_loaders(conf, sets))
    val = val_loader(conf, args.val_manifest)

    # 3. Model: the frozen bimodal encoder (queries, and the weak teacher), the separator
    encoder = recipe_encoder(conf["encoder"]["name"], exp_dir)
    torch.manual_seed(training.get("seed", 0))  # the same initial weights, whatever ran before
    model = build_model(conf, encoder)

    # 4. Objective: the loss terms of objective.name (losses/objectives.py)
    objective = build_objective(conf, model, sets, exp_dir)

    # 5. System: Asteroid's Lightning System (optimizer, scheduler, validation SDR)
    system = WeakSupSystem(model, encoder, objective, train_loader, val, config=system_config(conf))

    # 6. Trainer: the best val_sdr checkpoint and last.ckpt, the run's whole CSV history
    every = training.get("checkpoint_every_n_steps", CHECKPOINT_EVERY_N_STEPS)
    callbacks = checkpoint_callbacks(exp_dir / "checkpoints", every_n_train_steps=every)
    callbacks.append(TQDMProgressBar(refresh_rate=training.get("progress_every", 10)))
    trainer = pl.Trainer(
        **trainer_args(conf, validate=val is not None),  # budget, devices, precision, ...
        callbacks=callbacks,
        logger=HistoryCSVLogger(exp_dir, keep=not args.restart),  # --restart: a new CSV
    )
    fit(trainer, system, start, trust_checkpoint=trust)  # from last.ckpt if there is one
    return save_best_model(trainer, system, exp_dir / "best_model.pth", trust_checkpoint=trust)


if __name__ == "__main__":
    arguments = parser.parse_args()
    try:
        with hold_experiment(arguments.exp_dir):  # a second run into this folder fails at once
            best = main(arguments)
    except (ValueError, FileExistsError, FileNotFoundError) as err:  # bad input: one line
        sys.exit(f"error: {err}")
    print(f"separator: {best}")
