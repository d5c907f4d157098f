"""Speed of TextCondUNet's forward pass on this machine.

Prints the parameter count, the seconds per clip of one query and the ratio
"K queries in one call vs K calls", which measures the sharing of the STFT and of the
text-free upper levels between the queries of a mixture. Goal: ratio >= 1.5 for K = 8.

Both memory layouts of the conv weights are measured: channels-last (TextCondUNet's
default; oneDNN and cuDNN convolve it without re-ordering) and NCHW (PyTorch's usual one).

Usage:
    python bench/model_speed.py                  # authors' default config, 8.19 s clips
    python bench/model_speed.py --queries 4 --repeats 3 --layouts channels_last
"""

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from asteroid_wsas import TextCondUNet


def timed(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=131070, help="clip length (samples)")
    parser.add_argument("--queries", type=int, default=8, help="queries per mixture (K)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per figure")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--layouts", default="channels_last,nchw", help="comma-separated")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    device = torch.device(args.device)
    model = TextCondUNet().eval().to(device)
    n_params = sum(p.numel() for p in model.parameters())
    wav = torch.randn(1, args.samples, device=device)
    embed = torch.randn(1, args.queries, model.text_embed_dim, device=device)
    tokens = torch.randn(1, args.queries, 77, model.text_token_dim, device=device)
    seconds = args.samples / model.sample_rate
    threads = f" ({torch.get_num_threads()} threads)" if device.type == "cpu" else ""
    print(f"device: {device}{threads}, torch {torch.__version__}")
    print(f"parameters: {n_params / 1e6:.2f} M")

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def one_query():
        model(wav, embed[:, 0], tokens[:, 0])
        sync()

    def batched():
        model(wav, embed, tokens)
        sync()

    def separate_calls():
        for k in range(args.queries):
            model(wav, embed[:, k], tokens[:, k])
        sync()

    # Multiply-adds: what the sharing can save at best, independent of the hardware.
    def macs(n_queries):
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            model(wav, embed[:, :n_queries], tokens[:, :n_queries])
        return counter.get_total_flops() / 2

    one, two = macs(1), macs(2)
    per_query, shared = two - one, 2 * one - two
    k = args.queries
    print(
        f"multiply-adds: {one / 1e9:.1f} G for 1 query, {shared / one:.0%} of them text-free "
        f"and shared; ideal ratio for {k} queries {k * one / (shared + k * per_query):.2f}x"
    )

    for layout in args.layouts.split(","):
        fmt = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}[layout]
        model.to(memory_format=fmt)
        with torch.inference_mode():
            t_one = timed(one_query, args.repeats)
            t_batched = timed(batched, args.repeats)
            t_calls = timed(separate_calls, args.repeats)
        k = args.queries
        print(
            f"[{layout}] forward, 1 query, {seconds:.2f} s clip: {t_one:.3f} s "
            f"(real-time factor {t_one / seconds:.3f})"
        )
        print(
            f"[{layout}] {k} queries in one call: {t_batched:.3f} s; "
            f"{k} calls of 1 query: {t_calls:.3f} s"
        )
        print(f"[{layout}] ratio {k} queries in one call vs {k} calls: {t_calls / t_batched:.2f}x")


if __name__ == "__main__":
    main()
