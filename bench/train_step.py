"""Speed of one weak training step: ours vs a step written the authors' way.

Both steps compute the same weak objective (0.5 * L_CNT + 5 * (L_CRL + L_URL)) with the same
model, encoder, batch and loss modules, then backward and an Adam step. They differ in how:

- reference (the authors' way): one model call per query (N captions + N * P phrases, each
  call redoing the STFT and the text-free upper levels), the encoder's text tower re-run on
  every step, fp32;
- ours (``WeakObjective``): all ``N + N * P`` queries of a mixture of mixtures in one model
  call (STFT and upper levels once), text from the encoder's per-phrase cache (steady state:
  the batches are drawn from a fixed pool of items, as epochs revisit a dataset), a phrase
  repeated to pad P embedded once by the audio tower, and bf16 autocast (``--precision``;
  fast on GPUs and on CPUs with AVX512-BF16 or AMX, slow on other CPUs: pass fp32 there).

The script first checks that the two give the same loss in eval mode (same math; training
mode differs only in BatchNorm statistics, per call vs per batch), then times ``--steps``
steps of each after a warm-up and prints steps/s and the ratio. CLAP has random weights and a
locally trained tokenizer (offline); its architecture, hence its cost, is real.

Usage:
    python bench/train_step.py                  # CPU: small separator, the paper's CLAP
    python bench/train_step.py --clap tiny --precision fp32 --steps 1    # a quick look
    python bench/train_step.py --separator default --seconds 8.19 --batch 8 \\
        --device cuda                            # the paper's configuration on a GPU
"""

import argparse
import time

import torch

from asteroid_wsas import TextCondUNet
from asteroid_wsas.data import SyntheticCaptionedMixtures, WithFixedPhrases, mixture_of_mixtures
from asteroid_wsas.encoders.testing import bpe_tokenizer, random_clap_encoder
from asteroid_wsas.losses import WeakObjective

SEPARATORS = {
    # the authors' layout, narrower: attention at the three innermost levels
    "small": dict(n_fft=510, hop_length=128, channels=[16, 32, 32, 64, 64, 64], n_heads=4),
    "default": dict(),  # the paper's 87.7 M-parameter configuration
}


def reference_step_terms(objective, model, encoder, batch):
    """The weak objective the authors' way: text re-encoded, one model call per query."""
    texts = objective.query_texts(batch)
    flat = [t for item in texts for t in item]
    embed, tokens, mask = encoder._encode_text(flat)  # uncached: the text tower runs
    n_batch, n_queries = len(texts), len(texts[0])
    embed = embed.unflatten(0, (n_batch, n_queries))
    tokens = tokens.unflatten(0, (n_batch, n_queries))
    mask = mask.unflatten(0, (n_batch, n_queries))
    masks = []
    for q in range(n_queries):
        m, spec = model.forward_masks(batch["mix"], embed[:, q], tokens[:, q], mask[:, q])
        masks.append(m[:, 0])
    masks = torch.stack(masks, 1)
    return objective.terms(model, encoder, batch, texts, masks, spec, embed)


def timed(fn, steps, device) -> float:
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    fn()  # warm-up: allocations, cache fill, kernel selection
    sync()
    begin = time.perf_counter()
    for _ in range(steps):
        fn()
    sync()
    return (time.perf_counter() - begin) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--separator", default="small", choices=list(SEPARATORS))
    parser.add_argument("--clap", default="htsat-base", choices=["tiny", "htsat-base"])
    parser.add_argument("--batch", type=int, default=2, help="mixtures of mixtures per step")
    parser.add_argument("--phrases", type=int, default=3, help="P phrases per mixture")
    parser.add_argument("--seconds", type=float, default=2.0, help="clip length")
    parser.add_argument("--steps", type=int, default=3, help="timed steps of each")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="bf16", choices=["bf16", "fp32"], help="ours")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    data = WithFixedPhrases(
        SyntheticCaptionedMixtures(4 * args.batch, seconds=args.seconds, seed=0), args.phrases
    )
    items = [data[i] for i in range(len(data))]
    batches = [mixture_of_mixtures(items[i : i + 2 * args.batch]) for i in (0, 2 * args.batch)]
    texts = [it["caption"] for it in items] + [p for it in items for p in it["phrases"]]
    encoder = random_clap_encoder(args.clap, tokenizer=bpe_tokenizer(texts)).to(device)
    torch.manual_seed(0)
    model = TextCondUNet(
        text_embed_dim=encoder.embed_dim,
        text_token_dim=encoder.token_dim,
        **SEPARATORS[args.separator],
    ).to(device)
    objective = WeakObjective()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    batches = [
        {k: v.to(device) if torch.is_tensor(v) else v for k, v in b.items()} for b in batches
    ]
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    n_queries = 2 + 2 * args.phrases
    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    print(
        f"separator {args.separator} ({n_params:.2f} M), CLAP {args.clap}, batch {args.batch} x "
        f"{n_queries} queries, {args.seconds:g} s clips; device {device}{threads}"
    )

    model.eval()
    with torch.no_grad():
        ours = objective(model, encoder, batches[0])["loss"]
        ref = reference_step_terms(objective, model, encoder, batches[0])["loss"]
    print(
        f"same math (eval mode): loss ours {ours:.6f}, reference {ref:.6f}, "
        f"|diff| {abs(ours - ref):.1e}"
    )
    model.train()

    state = {"i": 0}

    def step(fn, bf16):
        batch = batches[state["i"] % len(batches)]
        state["i"] += 1
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = fn(batch)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    ref_s = timed(
        lambda: step(lambda b: reference_step_terms(objective, model, encoder, b), False),
        args.steps,
        device,
    )
    bf16 = args.precision == "bf16"
    ours_s = timed(lambda: step(lambda b: objective(model, encoder, b), bf16), args.steps, device)
    mode = args.precision
    print(
        f"reference (one call per query, text re-run, fp32): {ref_s:.3f} s/step "
        f"= {1 / ref_s:.3f} steps/s"
    )
    print(
        f"ours (one batched call, cached text, {mode}): {ours_s:.3f} s/step "
        f"= {1 / ours_s:.3f} steps/s"
    )
    print(f"speedup ours vs reference: {ref_s / ours_s:.2f}x (goal >= 2x)")


if __name__ == "__main__":
    main()
