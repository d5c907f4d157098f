"""Weak training step against the authors' way, side by side (fp32; bf16 too on a GPU).

One step of the paper's weak objective (0.5 L_CNT + 5 (L_CRL + L_URL)) with backward and an
Adam step, on the same batches, from the same weights (the paper's 87.7 M-parameter
TextCondUNet, random weights), two ways:

- authors' way: the ``N + N P`` queries of a mixture of mixtures (2 captions + 2 x P
  phrases) go through ``bench/authors_way.py`` one query per network call (NCHW, nothing
  shared between queries, explicit softmax attention), the text re-encoded every step;
- ours: ``WeakObjective`` as training runs it: one batched ``TextCondUNet`` call for all
  queries (STFT, text-free upper levels and the skip halves of their up convolutions once
  per mixture), the text from the encoder's cache.

Both then compute the loss terms with the same code (``WeakObjective.terms``). The script
first checks, in eval mode, that the two give the same loss; training mode differs only in
BatchNorm statistics (per call vs per batch). The steps are timed in alternation and each
figure is a median. The encoder is a small random one with CLAP's output sizes, so the step
measures the separator (the real CLAP's audio tower adds the same cost to both sides).

Goal (issue 18): ours in fp32 >= 1.5x the authors' way. With a GPU, a second table gives
ours in bf16 autocast against the authors' way in fp32, and the peak memory of each.

Usage:
    python bench/weak_step_speed.py --threads 2            # paper's model, 8.19 s clips
    python bench/weak_step_speed.py --small --seconds 0.5 --repeats 1   # a quick check
"""

import argparse
from typing import Dict, Tuple

import torch

from authors_way import AuthorsWayUNet
from benchkit import CLIP_SAMPLES, SAMPLE_RATE, describe, interleaved, machine, row, table
from benchkit import write_json


def setup(small: bool, samples: int, batch: int, phrases: int, device: torch.device):
    """Batches, frozen encoder, our model and the authors'-way copy of it."""
    from asteroid_wsas import TextCondUNet
    from asteroid_wsas.data import (
        SyntheticCaptionedMixtures,
        WithFixedPhrases,
        mixture_of_mixtures,
    )
    from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab

    seconds = samples / SAMPLE_RATE
    data = WithFixedPhrases(SyntheticCaptionedMixtures(4 * batch, seconds=seconds, seed=0), phrases)
    items = [data[i] for i in range(len(data))]
    batches = [mixture_of_mixtures(items[i : i + 2 * batch]) for i in (0, 2 * batch)]
    batches = [
        {k: v.to(device) if torch.is_tensor(v) else v for k, v in b.items()} for b in batches
    ]
    texts = [it["caption"] for it in items] + [p for it in items for p in it["phrases"]]
    torch.manual_seed(0)
    dims = dict(embed_dim=64, token_dim=32) if small else dict(embed_dim=512, token_dim=768)
    encoder = TinyBimodalEncoder(build_vocab(texts), SAMPLE_RATE, **dims).freeze().to(device)
    args = dict(text_embed_dim=dims["embed_dim"], text_token_dim=dims["token_dim"])
    if small:
        args.update(channels=[16, 32, 32, 32], attention_levels=[2, 3], n_heads=2)
    model = TextCondUNet(SAMPLE_RATE, **args).to(device)
    theirs = AuthorsWayUNet(model).to(device)
    return batches, encoder, model, theirs


def authors_terms(objective, theirs, encoder, batch):
    """The weak objective the authors' way: text re-encoded, one network call per query."""
    texts = objective.query_texts(batch)
    flat = [t for item in texts for t in item]
    embed, tokens, mask = encoder._encode_text(flat)  # uncached: the text tower runs
    shape = (len(texts), len(texts[0]))
    embed, tokens, mask = (t.unflatten(0, shape) for t in (embed, tokens, mask))
    masks, spec = theirs.forward_masks(batch["mix"], embed, tokens, mask)
    return objective.terms(theirs, encoder, batch, texts, masks, spec, embed)


def steps(objective, batches, encoder, model, theirs, bf16: bool) -> Dict[str, object]:
    """A step function for each side; each cycles through the batches."""
    opts = {
        "authors": torch.optim.Adam(theirs.parameters(), lr=1e-4),
        "ours": torch.optim.Adam(model.parameters(), lr=1e-4),
    }
    count = {"authors": 0, "ours": 0}
    device_type = batches[0]["mix"].device.type

    def make(side: str):
        def step():
            batch = batches[count[side] % len(batches)]
            count[side] += 1
            if side == "authors":  # fp32 always, as their code trains
                loss = authors_terms(objective, theirs, encoder, batch)["loss"]
            else:
                with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
                    loss = objective(model, encoder, batch)["loss"]
            opts[side].zero_grad(set_to_none=True)
            loss.backward()
            opts[side].step()

        return step

    return {"authors": make("authors"), "ours": make("ours")}


def same_math(objective, batches, encoder, model, theirs) -> Tuple[float, float]:
    """Loss of each side on the first batch, in eval mode (BatchNorm running statistics)."""
    model.eval()
    theirs.eval()
    with torch.no_grad():
        ours = float(objective(model, encoder, batches[0])["loss"])
        ref = float(authors_terms(objective, theirs, encoder, batches[0])["loss"])
    model.train()
    theirs.train()
    return ours, ref


def run(args, device: torch.device, bf16: bool) -> Dict[str, object]:
    """Check the math, time both steps, return the table row and the loss check."""
    from asteroid_wsas.losses import WeakObjective

    samples = CLIP_SAMPLES if args.seconds is None else int(args.seconds * SAMPLE_RATE)
    batches, encoder, model, theirs = setup(args.small, samples, args.batch, args.phrases, device)
    objective = WeakObjective()
    ours_loss, ref_loss = same_math(objective, batches, encoder, model, theirs)
    print(
        f"same math (eval mode): loss ours {ours_loss:.6f}, authors' way {ref_loss:.6f}, "
        f"|diff| {abs(ours_loss - ref_loss):.1e}"
    )
    fns = steps(objective, batches, encoder, model, theirs, bf16)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    peaks = {}
    if device.type == "cuda":  # peak memory of one step of each, after the warm-up
        for side, fn in fns.items():
            fn()
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            fn()
            torch.cuda.synchronize()
            peaks[side] = torch.cuda.max_memory_allocated() / 2**20
    cpu: Dict[str, list] = {}
    times = interleaved(fns, args.repeats, sync, cpu)
    n_queries = 2 + 2 * args.phrases
    precision = "bf16" if bf16 else "fp32"
    name = f"weak step, ours {precision}, {args.batch} x {n_queries} queries"
    goal = None if bf16 else 1.5
    out = {
        "row": row(name, times["authors"], times["ours"], goal, (cpu["authors"], cpu["ours"])),
        "loss_ours": ours_loss,
        "loss_authors": ref_loss,
        "n_params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "samples": samples,
    }
    if peaks:
        out["peak_mib"] = peaks
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="clip (default 8.19 s)")
    parser.add_argument("--batch", type=int, default=1, help="mixtures of mixtures per step")
    parser.add_argument("--phrases", type=int, default=3, help="P phrases per mixture")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps of each side")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--small", action="store_true", help="a small model (quick check)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU section")
    parser.add_argument("--json", default="exp/bench/weak_step_speed.json", help="output file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    info = machine()
    cpu = run(args, torch.device("cpu"), bf16=False)
    seconds = cpu["samples"] / SAMPLE_RATE
    title = (
        f"{describe(info)}\nTextCondUNet {cpu['n_params_m']:.2f} M parameters, "
        f"{seconds:.2f} s clips, CPU, authors' way fp32; medians of {args.repeats} steps "
        "each, the two sides timed in alternation"
    )
    print(table([cpu["row"]], title))
    payload = {"machine": info, "args": vars(args), "cpu": cpu}
    if torch.cuda.is_available() and not args.no_gpu:
        gpu = run(args, torch.device("cuda"), bf16=True)
        print()
        print(table([gpu["row"]], f"GPU {info['gpu']}, authors' way fp32, ours bf16 autocast"))
        for side, mib in gpu["peak_mib"].items():
            print(f"peak GPU memory, {side}: {mib:.0f} MiB")
        payload["gpu"] = gpu
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
