"""Per-query inference speed against the authors' way, side by side.

Both sides separate the same clip with the same weights (the paper's 87.7 M-parameter
TextCondUNet, random weights) and the same precomputed text features:

- authors' way (``bench/authors_way.py``): one fp32 call per query, NCHW, nothing shared
  between the queries of a clip, explicit softmax attention; STFT, U-Net and iSTFT each time;
- ours, fp32: one ``TextCondUNet`` forward call (waveforms in and out);
- ours, default: ``Separator.separate`` as a user calls it (``precision="auto"``: bf16 on
  CPUs with AVX512-BF16 or AMX and on recent GPUs), all queries in one batched pass, text
  encoding, presence scores and levels included.

Rows (goals of issue 18): one query in fp32 (>= 1.5x), the default path for one query
(>= 5x) and for 8 queries (>= 8x); the fp32 call with 8 queries is printed for context. Both
sides run in ``torch.inference_mode()``, timed in alternation; figures are medians. With a
GPU, a second table gives the real-time factor at 10 s and the peak memory.

The encoder is a small random one with CLAP's output sizes (512-d embeddings, 768-d token
states): its cost is not what is measured.

Usage:
    python bench/query_speed.py --threads 2              # the paper's model, 8.19 s clip
    python bench/query_speed.py --small --seconds 1 --repeats 1   # a quick check
"""

import argparse
from typing import Dict, List

import torch

from authors_way import AuthorsWayUNet
from benchkit import (
    CLIP_SAMPLES,
    SAMPLE_RATE,
    describe,
    interleaved,
    machine,
    row,
    table,
    write_json,
)

QUERIES = [
    "a dog barks",
    "a man speaks",
    "a car passes by",
    "birds chirp",
    "rain falls on a roof",
    "a bell rings",
    "a violin plays",
    "water runs from a faucet",
]


def build(small: bool):
    """The separator (paper's model, or a small one) and its small random encoder."""
    from asteroid_wsas import Separator, TextCondUNet
    from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab

    torch.manual_seed(0)
    dims = dict(embed_dim=64, token_dim=32) if small else dict(embed_dim=512, token_dim=768)
    encoder = TinyBimodalEncoder(build_vocab(QUERIES), SAMPLE_RATE, **dims)
    args = dict(text_embed_dim=dims["embed_dim"], text_token_dim=dims["token_dim"])
    if small:
        args.update(channels=[16, 32, 32, 32], attention_levels=[2, 3], n_heads=2)
    return Separator(TextCondUNet(SAMPLE_RATE, **args), encoder)


def clip(samples: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(samples) / SAMPLE_RATE
    tone = 0.3 * torch.sin(2 * torch.pi * 440 * t)
    return tone + 0.05 * torch.randn(samples, generator=gen)


def measure(
    sep, theirs, wav: torch.Tensor, n_queries: List[int], repeats: int, device, compile_model=False
) -> list:
    """The table's rows on ``device``."""
    from asteroid_wsas.encoders import encode_queries

    sync = torch.cuda.synchronize if device.type == "cuda" else None
    sep.to(device)
    theirs.to(device)
    x = wav.to(device).unsqueeze(0)
    embed, tokens, mask = encode_queries(sep.encoder, [QUERIES[: max(n_queries)]])

    def authors(k: int):
        def run():
            with torch.inference_mode():
                theirs(x, embed[:, :k], tokens[:, :k], mask[:, :k])

        return run

    def ours_fp32(k: int):
        def run():
            with torch.inference_mode():
                sep.model(x, embed[:, :k], tokens[:, :k], mask[:, :k])

        return run

    def ours_default(k: int):
        return lambda: sep.separate(wav, QUERIES[:k], sample_rate=SAMPLE_RATE, device=device)

    rows, authors_times = [], {}
    for k in n_queries:
        fns = {"authors": authors(k), "fp32": ours_fp32(k), "default": ours_default(k)}
        cpu: Dict[str, List[float]] = {}
        times = interleaved(fns, repeats, sync, cpu)
        authors_times[k] = times["authors"]
        q = "query" if k == 1 else "queries"
        name, goal = f"forward fp32, {k} {q}", 1.5 if k == 1 else None
        cpus = (cpu["authors"], cpu["fp32"])
        rows.append(row(name, times["authors"], times["fp32"], goal, cpus))
        name, goal = f"Separator.separate default, {k} {q}", {1: 5.0, 8: 8.0}.get(k)
        cpus = (cpu["authors"], cpu["default"])
        rows.append(row(name, times["authors"], times["default"], goal, cpus))
    if compile_model:  # opt-in: against the same authors' runs (their path is not compiled)
        sep.model.compile_inference()
        try:
            for k in n_queries:
                times = interleaved({"default": ours_default(k)}, repeats, sync)
                q = "query" if k == 1 else "queries"
                name = f"Separator.separate default + compile_inference, {k} {q}"
                rows.append(row(name, authors_times[k], times["default"]))
        finally:
            sep.model.compile_inference(False)
    return rows


def gpu_section(sep, theirs, repeats: int) -> Dict[str, object]:
    """Real-time factor at 10 s and peak memory on the GPU (default path and authors')."""
    device = torch.device("cuda")
    wav = clip(10 * SAMPLE_RATE)
    rows = measure(sep, theirs, wav, [1, 8], repeats, device)
    peaks = {}
    for k in (1, 8):
        torch.cuda.reset_peak_memory_stats()
        sep.separate(wav, QUERIES[:k], sample_rate=SAMPLE_RATE, device=device)
        torch.cuda.synchronize()
        peaks[k] = torch.cuda.max_memory_allocated() / 2**20
    for r in rows:
        r["rtf_ours"] = r["ours_s"] / 10.0
        r["rtf_authors"] = r["authors_s"] / 10.0
    print()
    print(table(rows, f"GPU {torch.cuda.get_device_name()}, 10 s clip"))
    for r in rows:
        print(
            f"{r['name']}: real-time factor {r['rtf_ours']:.4f} (authors' {r['rtf_authors']:.4f})"
        )
    for k, mb in peaks.items():
        print(f"peak GPU memory, Separator.separate default, {k} queries, 10 s: {mb:.0f} MiB")
    return {"rows": rows, "peak_mib": peaks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="clip (default 8.19 s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--queries", default="1,8", help="comma-separated query counts")
    parser.add_argument("--small", action="store_true", help="a small model (quick check)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU section")
    parser.add_argument(
        "--compile", action="store_true", help="also time the default path after compile_inference"
    )
    parser.add_argument("--json", default="exp/bench/query_speed.json", help="output file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    samples = CLIP_SAMPLES if args.seconds is None else int(args.seconds * SAMPLE_RATE)
    sep = build(args.small)
    theirs = AuthorsWayUNet(sep.model).eval()
    info = machine()
    n_queries = [int(k) for k in args.queries.split(",")]
    cpu = torch.device("cpu")
    rows = measure(sep, theirs, clip(samples), n_queries, args.repeats, cpu, args.compile)
    n_params = sum(p.numel() for p in sep.model.parameters()) / 1e6
    title = (
        f"{describe(info)}\nTextCondUNet {n_params:.2f} M parameters, "
        f"{samples / SAMPLE_RATE:.2f} s clip at {SAMPLE_RATE} Hz, CPU; medians of "
        f"{args.repeats} runs each, the two sides timed in alternation"
    )
    print(table(rows, title))
    payload = {"machine": info, "samples": samples, "repeats": args.repeats, "cpu": rows}
    if torch.cuda.is_available() and not args.no_gpu:
        payload["gpu"] = gpu_section(sep, theirs, args.repeats)
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
