"""Inference speed of Separator.separate: real-time factor, peak memory, and the gain over a
plain per-query forward.

For each length (default 10 s, 60 s, 600 s of 16 kHz mono, 4 queries) a fresh process
separates once (after a warm-up on 2 s) and reports the real-time factor (seconds of
compute per second of audio) and its peak RSS. Chunks of 10 s with 1 s crossfades keep the
working memory flat; only the output grows with the length.

"speedup vs plain" = time of the plain path (the same weights, fp32, one forward call per
query on the whole 10 s, as in the authors' code) / time of ``Separator.separate`` on the
same 10 s and 4 queries (one batched pass: shared STFT and text-free levels, bf16 where the
hardware has it, inference mode). Goal >= 2.

The encoder is a random small one with CLAP's output sizes (512-d embeddings, 768-d
tokens): its cost is not what is measured.

Usage:
    python bench/inference.py                        # authors' default model, CPU
    python bench/inference.py --device cuda          # + GPU real-time factor
    python bench/inference.py --lengths 2 --small    # a quick check
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

QUERIES = ["a dog barks", "a man speaks", "a car passes by", "birds chirp"]


def build(small: bool, device: str):
    from asteroid_wsas import Separator, TextCondUNet
    from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab

    torch.manual_seed(0)
    dims = dict(embed_dim=64, token_dim=32) if small else dict(embed_dim=512, token_dim=768)
    encoder = TinyBimodalEncoder(build_vocab(QUERIES), 16000, **dims)
    args = dict(text_embed_dim=dims["embed_dim"], text_token_dim=dims["token_dim"])
    if small:
        args.update(channels=[16, 32, 32, 32], attention_levels=[2, 3], n_heads=2)
    model = TextCondUNet(16000, **args)
    return Separator(model, encoder).to(device)


def audio(seconds: float) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(int(seconds * 16000)) / 16000
    return 0.3 * torch.sin(2 * torch.pi * 440 * t) + 0.05 * torch.randn(t.numel(), generator=gen)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def worker(seconds: float, small: bool, device: str) -> dict:
    """One length in this process: real-time factor and peak RSS."""
    sep = build(small, device)
    sep.separate(audio(2.0), QUERIES, sample_rate=16000)  # warm-up
    wav = audio(seconds)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    sep.separate(wav, QUERIES, sample_rate=16000)
    if device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return {"seconds": seconds, "rtf": elapsed / seconds, "peak_rss_mb": peak_rss_mb()}


def speedup(small: bool, device: str, repeats: int, seconds: float = 10.0) -> tuple:
    sep = build(small, device)
    wav = audio(seconds)
    from asteroid_wsas.encoders import encode_queries

    sep.encoder.to(device)
    embed, tokens, mask = (t[0] for t in encode_queries(sep.encoder, [QUERIES]))

    def plain():
        with torch.inference_mode():
            x = wav.to(device).unsqueeze(0)
            for k in range(len(QUERIES)):  # one fp32 forward per query
                sep.model(x, embed[k : k + 1], tokens[k : k + 1], mask[k : k + 1])

    def ours():
        sep.separate(wav, QUERIES, sample_rate=16000)

    def timed(fn):
        fn()
        best = float("inf")
        for _ in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        return best

    t_plain, t_ours = timed(plain), timed(ours)
    return t_plain, t_ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="10,60,600", help="seconds, comma-separated")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--small", action="store_true", help="a small model (quick check)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--speed-seconds", type=float, default=10.0, help="audio of the ratio")
    parser.add_argument("--worker", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.small, args.device)))
        return

    print(f"device {args.device}, {torch.get_num_threads()} threads, 4 queries, 16 kHz mono")
    for seconds in (float(s) for s in args.lengths.split(",")):
        cmd = [sys.executable, __file__, "--worker", str(seconds), "--device", args.device]
        cmd += ["--small"] if args.small else []
        cmd += ["--threads", str(args.threads)] if args.threads else []
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        print(
            f"{seconds:6.0f} s of audio: real-time factor {row['rtf']:.4f}, "
            f"peak RSS {row['peak_rss_mb']:.0f} MB"
        )
    t_plain, t_ours = speedup(args.small, args.device, args.repeats, args.speed_seconds)
    what = f"({args.speed_seconds:g} s, 4 queries)"
    print(f"plain fp32, one call per query {what}: {t_plain:.2f} s")
    print(f"Separator.separate {what}: {t_ours:.2f} s")
    print(f"speedup vs plain: {t_plain / t_ours:.2f}")


if __name__ == "__main__":
    main()
