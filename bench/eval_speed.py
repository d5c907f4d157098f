"""Speed of the evaluator (asteroid_wsas.metrics) against mir_eval on two-source mixtures.

Goal: 1,000 two-source 8 s mixtures at 16 kHz scored (SDR, SIR, SAR, SI-SDR and the
improvements over the mixture) at least 5x faster than mir_eval's
``bss_eval_sources(compute_permutation=False)``, which needs two calls per mixture (the
estimates, then the mixture as the estimate of every reference, for SDRi).

mir_eval takes about a quarter of a second per mixture, so it is timed on the first
``--mir-eval-subset`` mixtures only and its time per mixture is extrapolated (the output
says so). Both score exactly the same generated signals; the largest differences between
the two on that subset are printed too. Signal generation is not timed.

Usage:
    python bench/eval_speed.py                                # 1000 mixtures, mir_eval on 20
    python bench/eval_speed.py --n-mixtures 200 --mir-eval-subset 50 --batch-size 8
"""

import argparse
import math
import time
import warnings

import numpy as np
import torch

from asteroid_wsas.metrics import CPU_BATCH, GPU_BATCH, Evaluator

CHUNK = 16  # mixtures generated (untimed) and added per call


def make_mixture(index: int, seed: int, n_samples: int, sample_rate: int):
    """One generated mixture: a harmonic source, a coloured-noise source and two estimates.

    The estimates leak the other source and add noise at random levels (SDR about 0-20 dB),
    so the numbers look like those of a real separator. Deterministic in (seed, index).
    """
    gen = torch.Generator().manual_seed(seed * 1_000_003 + index)
    rand = lambda *shape: torch.rand(*shape, generator=gen, dtype=torch.float64)  # noqa: E731
    randn = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64)  # noqa: E731
    t = torch.arange(n_samples, dtype=torch.float64) / sample_rate

    # harmonic source: 6 partials of a random f0 under a slow random envelope
    f0 = 110.0 * 2.0 ** (3.0 * rand(1))
    partials = torch.arange(1, 7, dtype=torch.float64)[:, None]
    phase = 2 * math.pi * rand(6, 1)
    tone = (torch.sin(2 * math.pi * f0 * partials * t + phase) / partials).sum(0)
    envelope = 0.5 + 0.5 * torch.sin(2 * math.pi * (0.2 + rand(1)) * t + 6.0 * rand(1))
    harmonic = tone * envelope + 1e-3 * randn(n_samples)

    # coloured noise: white noise with a 1/f^(alpha/2) amplitude spectrum
    spectrum = torch.fft.rfft(randn(n_samples))
    freqs = torch.arange(spectrum.shape[-1], dtype=torch.float64) + 1.0
    noise = torch.fft.irfft(spectrum * freqs ** (-0.5 * (0.5 + rand(1))), n=n_samples)

    refs = torch.stack([harmonic, noise])
    refs = refs / refs.square().mean(-1, keepdim=True).sqrt() * (0.05 + 0.1 * rand(2, 1))
    leak = (0.05 + 0.3 * rand(2, 1)) * refs.flip(0)
    err = randn(2, n_samples)
    err = err / err.norm(dim=-1, keepdim=True) * refs.norm(dim=-1, keepdim=True)
    ests = refs + leak + err * 10.0 ** (-(3.0 + 20.0 * rand(2, 1)) / 20.0)
    return refs.sum(0), refs, ests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-mixtures", type=int, default=1000, help="mixtures to score")
    parser.add_argument("--seconds", type=float, default=8.0, help="mixture length")
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument(
        "--mir-eval-subset", type=int, default=20, help="mixtures timed with mir_eval (0: none)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="mixtures per call (default: Evaluator's)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", help="where ours computes (cpu, cuda)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n_samples = int(round(args.seconds * args.sample_rate))
    subset = min(args.mir_eval_subset, args.n_mixtures)
    device = torch.device(args.device)
    threads = f", {torch.get_num_threads()} torch threads" if device.type == "cpu" else ""
    print(
        f"{args.n_mixtures} two-source mixtures of {args.seconds:g} s at {args.sample_rate} Hz"
        f" ({n_samples} samples); device {device}{threads}; torch {torch.__version__}"
    )

    def synced() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    # warm-up (FFT plans, first-call allocations), not timed
    warm = Evaluator(batch_size=args.batch_size, device=device)
    mix, refs, ests = make_mixture(0, args.seed, n_samples, args.sample_rate)
    warm.add(mix, refs, ests)
    warm.flush()

    evaluator = Evaluator(batch_size=args.batch_size, device=device)
    ours_s = 0.0
    for start in range(0, args.n_mixtures, CHUNK):
        index = range(start, min(start + CHUNK, args.n_mixtures))
        batch = [make_mixture(i, args.seed, n_samples, args.sample_rate) for i in index]
        mix, refs, ests = (torch.stack(x).to(device) for x in zip(*batch))
        begin = synced()
        evaluator.add(mix, refs, ests, mixture_id=[str(i) for i in index])
        evaluator.flush()
        ours_s += synced() - begin
    ours_per = ours_s / args.n_mixtures
    batch = args.batch_size or (CPU_BATCH if device.type == "cpu" else GPU_BATCH)
    print(
        f"ours: {ours_s:.2f} s for {args.n_mixtures} mixtures = {1e3 * ours_per:.1f} ms per"
        f" mixture (batch {batch}, float64)"
    )
    summary = evaluator.summary()["metrics"]
    print(
        "  scores (mean over mixtures): "
        + ", ".join(f"{m} {summary[m]['mean']:.2f} dB" for m in ("sdr", "sir", "sar", "sdri"))
    )
    if subset == 0:
        return

    warnings.filterwarnings("ignore", category=FutureWarning)  # mir_eval 0.8 deprecations
    from mir_eval.separation import bss_eval_sources

    mir_s = 0.0
    reference = []
    for i in range(subset):
        mix, refs, ests = (
            x.numpy() for x in make_mixture(i, args.seed, n_samples, args.sample_rate)
        )
        begin = time.perf_counter()
        sdr, sir, sar, _ = bss_eval_sources(refs, ests, compute_permutation=False)
        sdr_mix = bss_eval_sources(refs, np.stack([mix, mix]), compute_permutation=False)[0]
        mir_s += time.perf_counter() - begin
        reference.append(np.stack([sdr, sir, sar, sdr - sdr_mix]))
    mir_per = mir_s / subset
    print(
        f"mir_eval: {mir_s:.2f} s for the first {subset} mixtures = {1e3 * mir_per:.1f} ms per"
        f" mixture; extrapolated to {args.n_mixtures} mixtures: {mir_per * args.n_mixtures:.1f} s"
        + (" (extrapolated, not measured)" if subset < args.n_mixtures else "")
    )
    print(f"ratio mir_eval / ours (per mixture): {mir_per / ours_per:.1f}x (goal >= 5x)")

    rows = evaluator.rows[: 2 * subset]
    ours = np.array([[r[m] for m in ("sdr", "sir", "sar", "sdri")] for r in rows])
    ours = ours.reshape(subset, 2, 4).transpose(0, 2, 1)
    diff = np.abs(ours - np.stack(reference)).max(axis=(0, 2))
    print(
        f"max |ours - mir_eval| over the {subset} common mixtures: "
        + ", ".join(f"{m} {d:.1e} dB" for m, d in zip(("SDR", "SIR", "SAR", "SDRi"), diff))
    )


if __name__ == "__main__":
    main()
