"""Effect of the encoder's per-phrase text cache on a training-like loop.

Every weak training step needs CLAP text embeddings and token states for 2 + 2P phrases per
mixture of mixtures. The text tower is frozen, so ClapEncoder caches them per phrase; the
authors' code re-runs it every step. This script runs the same loop both ways (cached: in the steady state after
the first epoch): per step, the
text outputs for a batch of phrases drawn from a fixed pool (as epochs revisit a dataset's
captions), then a TextCondUNet forward + backward with those queries. It prints the text
time per step, the whole step time, and the ratios. Offline: CLAP has random weights and a
locally trained tokenizer (the architecture, hence the cost, is the real one).

Usage:
    python bench/text_cache.py                         # HTSAT-base + RoBERTa-base CLAP
    python bench/text_cache.py --clap tiny --steps 20  # quick
"""

import argparse
import itertools
import random
import time

import torch

from asteroid_wsas import TextCondUNet
from asteroid_wsas.encoders.testing import bpe_tokenizer, random_clap_encoder

ADJECTIVES = ["", "loud ", "distant ", "small ", "large ", "high ", "low ", "faint "]
NOUNS = ["dog", "man", "woman", "car", "bell", "siren", "engine", "bird", "drum", "crowd"]
VERBS = ["barks", "speaks", "passes by", "rings", "wails", "idles", "chirps", "beats", "cheers"]


def phrase_pool(size: int, seed: int = 0):
    combos = [f"A {a}{n} {v}" for a, n, v in itertools.product(ADJECTIVES, NOUNS, VERBS)]
    random.Random(seed).shuffle(combos)
    return combos[:size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clap", default="htsat-base", choices=["htsat-base", "tiny"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=2, help="mixtures of mixtures per step")
    parser.add_argument("--phrases-per-clip", type=int, default=3, help="P")
    parser.add_argument("--pool", type=int, default=200, help="distinct phrases in the data")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()

    pool = phrase_pool(args.pool)
    encoder = random_clap_encoder(args.clap, tokenizer=bpe_tokenizer(pool))
    # A small separator with the authors' layout: attention at the 16x16, 8x8 and 4x4 levels.
    model = TextCondUNet(
        n_fft=510,
        hop_length=128,
        channels=[16, 32, 32, 64, 64, 64],
        text_embed_dim=encoder.embed_dim,
        text_token_dim=encoder.token_dim,
        n_heads=4,
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    n_queries = 2 + 2 * args.phrases_per_clip  # 2 mixture captions + P phrases each
    wav = torch.randn(args.pairs, int(16000 * args.seconds))
    rng = random.Random(0)
    batches = [[rng.choice(pool) for _ in range(args.pairs * n_queries)] for _ in range(args.steps)]

    def run(cached: bool):
        encoder.cache_size = None if cached else 0
        encoder.clear_cache()
        if cached:  # steady state: after the first epoch every phrase has been seen
            encoder.encode_text(pool)
        text_time = total = 0.0
        for phrases in batches:
            start = time.perf_counter()
            embed, states, mask = encoder.encode_text(phrases)
            text_time += time.perf_counter() - start
            shape = (args.pairs, n_queries)
            est = model(
                wav,
                embed.view(*shape, -1),
                states.view(*shape, *states.shape[1:]),
                mask.view(*shape, -1),
            )
            loss = est.abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += time.perf_counter() - start
        return text_time / len(batches), total / len(batches), encoder.cache_stats()

    run(cached=False)  # warm-up (allocator, oneDNN kernels)
    text_plain, step_plain, _ = run(cached=False)
    text_cached, step_cached, stats = run(cached=True)
    print(f"CLAP {args.clap}: {sum(p.numel() for p in encoder.parameters()) / 1e6:.1f} M params")
    print(
        f"{args.steps} steps, {args.pairs * n_queries} phrases per step from a pool of "
        f"{len(pool)} ({stats['entries']} cached)"
    )
    print(
        f"text per step: {1000 * text_plain:.1f} ms re-run every step, "
        f"{1000 * text_cached:.1f} ms cached ({text_plain / text_cached:.1f}x)"
    )
    print(
        f"whole step: {step_plain:.3f} s vs {step_cached:.3f} s "
        f"(ratio {step_plain / step_cached:.2f}x)"
    )


if __name__ == "__main__":
    main()
