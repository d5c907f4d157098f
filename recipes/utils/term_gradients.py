"""How much the teacher's term pulls on a trained weak separator, against the reconstruction
terms: for each run, the gradient norm of ``cnt_weight * L_CNT`` and of ``crl_weight * L_CRL
+ url_weight * L_URL`` at its kept checkpoint (``best_model.pth``), on training batches, and
the cosine between them (docs/recipes/synthetic.md, the leads of the converged comparison).

Training mode (BatchNorm on the batch, as in training); nothing is written or updated.

Usage:
    python ../utils/term_gradients.py exp/conv/2src/weak/seed0 exp/conv/2src/weak/seed1 \\
        --batches 8 [--set objective.weak.cnt_weight=0.5]
"""

import argparse
import sys
from pathlib import Path
from statistics import mean
from typing import List, Optional, Sequence

import torch

from asteroid_wsas.engine.config import load_conf, recipe_overrides
from asteroid_wsas.engine.training import build_system
from asteroid_wsas.losses.diagnostics import gradient_parts, weak_loss_parts


def run_parts(run: Path, batches: int, overrides: List[str]) -> List[tuple]:
    """(teacher part, reconstruction part, their gradient norms, cosine) per batch."""
    conf = load_conf(run / "conf.yml", recipe_overrides(overrides))
    system = build_system(conf, run, None)
    package = torch.load(run / "best_model.pth", map_location="cpu", weights_only=True)
    system.model.load_state_dict(package["state_dict"])
    model, objective = system.model.train(), system.loss_func
    params = [p for p in model.parameters() if p.requires_grad]
    rows, loader = [], iter(system.train_loader)
    for _ in range(batches):
        terms = objective(model, system.encoder, next(loader))
        parts = weak_loss_parts(objective, terms)
        norms, cos = gradient_parts(parts, params)
        values = [float(parts[k].detach()) for k in ("teacher", "reconstruction")]
        rows.append((*values, norms["teacher"], norms["reconstruction"], *cos.values()))
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="weak runs' folders (best_model.pth, conf.yml)")
    parser.add_argument("--batches", type=int, default=8, help="training batches per run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    print(
        "| run | teacher part | reconstruction part | grad norm teacher | grad norm "
        "reconstruction | ratio | cosine |"
    )
    print("|---|---|---|---|---|---|---|")
    for run in args.runs:
        rows = run_parts(Path(run), args.batches, args.set)
        m = [mean(r[k] for r in rows) for k in range(5)]
        print(
            f"| {run} | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} | {m[3]:.3f} | "
            f"{m[2] / m[3]:.2f} | {m[4]:+.2f} |",
            flush=True,
        )
    print(f"(means over {args.batches} training batches per run, at the kept checkpoint)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
