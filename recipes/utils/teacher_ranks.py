"""Can the teacher tell a better estimate from a worse one? For runs scored on a fixed set
(validation: a lead is read there, the test set is scored once): each estimate's SI-SDR
against its reference and the teacher's cosine similarity to its query. Per run, the mean
SI-SDR and how often the teacher matches an estimate to its own query rather than another
source's; per pair of rows, over estimates of the same source whose SI-SDR differ by more
than ``--margin`` dB, how often the teacher's similarity prefers the better one (50 %:
it cannot tell).

Usage (docs/recipes/synthetic.md, the leads of the converged comparison):
    python ../utils/teacher_ranks.py exp/encoder/tiny_2src.pth data/val_2mix.json \\
        supervised=exp/conv/2src/supervised/seed0 weak=exp/conv/2src/weak/seed0 ...

Each run is queried with the encoder it was trained with (its ``conf.yml``), whatever the
teacher that scores the estimates: another teacher (one trained on solos, say) judges the
same estimates.

A row's name is what precedes its last digits (``weak0``, ``weak1``: row ``weak``), so the
seeds of a row pool into it.
"""

import argparse
import itertools
import re
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from asteroid.losses.sdr import singlesrc_neg_sisdr

from asteroid_wsas.encoders.loading import encoder_beside, load_encoder
from asteroid_wsas.engine.evaluation import separated_batches
from asteroid_wsas.separation.contract import MissingEncoderError

Estimate = Tuple[float, float, bool]  # (SI-SDR dB, teacher similarity, own query first)


def run_estimates(
    encoder, run: str, manifest: str, batch_size: int = 8, query_encoder=None
) -> List[Estimate]:
    """The estimates of one run (its ``best_model.pth``) on ``manifest``, in set order,
    judged by the teacher ``encoder``; ``query_encoder``: the one that embeds the run's
    queries (None: the teacher)."""
    out: List[Estimate] = []
    encoder.eval()
    for batch, est in separated_batches(
        f"{run}/best_model.pth",
        query_encoder or encoder,
        manifest,
        batch_size,
        "cpu",
        progress=False,
    ):
        rate = batch["sample_rate"]
        with torch.inference_mode():
            for i, queries in enumerate(batch["queries"]):
                wav = est[i].reshape(len(queries), -1)
                ref = batch["references"][i].reshape(len(queries), -1)
                sim = encoder.embed_audio(wav, rate) @ encoder.embed_text(list(queries)).T
                sisdr = -singlesrc_neg_sisdr(wav, ref)
                out += [
                    (float(sisdr[k]), float(sim[k, k]), bool(sim[k].argmax() == k))
                    for k in range(len(queries))
                ]
    return out


def preference_agreement(
    a: Sequence[Estimate], b: Sequence[Estimate], margin: float = 1.0
) -> Tuple[int, int]:
    """(pairs, agreeing): over estimates of the same sources (``a[k]`` and ``b[k]``) whose
    SI-SDR differ by more than ``margin`` dB, how many the teacher's similarity orders as
    SI-SDR does.

    Examples:
        >>> preference_agreement([(5.0, 0.3, True), (2.0, 0.1, True)],
        ...                      [(3.0, 0.2, True), (2.5, 0.4, False)])
        (1, 1)
    """
    pairs = [(x, y) for x, y in zip(a, b) if abs(x[0] - y[0]) > margin]
    return len(pairs), sum((x[0] > y[0]) == (x[1] > y[1]) for x, y in pairs)


def trained_encoder(run: str) -> str:
    """The encoder a run was trained with, which its queries must be embedded with:
    :func:`~asteroid_wsas.encoders.loading.encoder_beside` of its ``best_model.pth`` (the
    ``conf.yml`` beside it; ``tiny`` and relative paths resolved as training does).

    Raises:
        MissingEncoderError: No ``conf.yml`` naming an encoder, or a file it names is not
            here (a run trained on another machine).
    """
    model = f"{run}/best_model.pth"
    name = encoder_beside(model)
    if name is None:
        raise MissingEncoderError(model)
    return name


def row_of(name: str) -> str:
    """A run's row: its name without its trailing seed digits."""
    return re.sub(r"\d+$", "", name) or name


def agreement_table(runs: Dict[str, List[Estimate]], margin: float = 1.0) -> List[str]:
    """Markdown lines: per pair of rows (the seeds' pairs pooled), pairs and agreement."""
    pooled: Dict[Tuple[str, str], List[int]] = defaultdict(lambda: [0, 0])
    for x, y in itertools.combinations(runs, 2):
        key = tuple(sorted((row_of(x), row_of(y))))
        n, ok = preference_agreement(runs[x], runs[y], margin)
        pooled[key][0] += n
        pooled[key][1] += ok
    lines = [
        f"| rows | pairs of estimates (SI-SDR apart > {margin:g} dB) | teacher prefers the better |",
        "|---|---|---|",
    ]
    for (x, y), (n, ok) in sorted(pooled.items()):
        share = f"{100 * ok / n:.1f} %" if n else "-"
        lines.append(f"| {x} / {y} | {n} | {share} |")
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("encoder", help="the teacher (a small-encoder .pth or a CLAP folder)")
    parser.add_argument("manifest", help="a fixed set (validation), e.g. data/val_2mix.json")
    parser.add_argument("runs", nargs="+", metavar="NAME=RUN", help="runs with best_model.pth")
    parser.add_argument("--margin", type=float, default=1.0, help="dB of SI-SDR apart")
    args = parser.parse_args(argv)
    encoder = load_encoder(args.encoder)
    own: Dict[str, object] = {}  # each run's query encoder, loaded once
    runs: Dict[str, List[Estimate]] = {}
    print("| run | estimates | SI-SDR (dB) | teacher matches its own query |")
    print("|---|---|---|---|")
    for item in args.runs:
        name, sep, run = item.partition("=")
        if not sep or not name or not run:
            parser.error(f"{item!r}: give NAME=RUN")
        try:
            trained = trained_encoder(run)
        except MissingEncoderError as err:
            parser.error(err.message(None, command_line=True))
        if trained not in own:
            own[trained] = load_encoder(trained)
        runs[name] = est = run_estimates(encoder, run, args.manifest, query_encoder=own[trained])
        n = len(est)
        print(
            f"| {name} | {n} | {sum(e[0] for e in est) / n:.2f} | "
            f"{100 * sum(e[2] for e in est) / n:.1f} % |",
            flush=True,
        )
    print()
    print("\n".join(agreement_table(runs, args.margin)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
