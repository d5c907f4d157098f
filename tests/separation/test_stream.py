"""Separator.stream: the same windows as separate(), fixed latency, flat memory, stdin."""

import copy
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio

from asteroid_wsas import Separator
from asteroid_wsas.separation.windows import Stream, sinc_width

from tests.helpers import tiny_separator

QUERIES = ["a dog barks", "a bell rings", "a man speaks"]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "separate.md"
# short windows keep the model calls cheap: 2000 samples at 8 kHz, a hop of 1500
SETTINGS = dict(chunk_seconds=0.25, overlap_seconds=0.0625, precision="fp32")


@pytest.fixture(scope="module")
def separator():
    return tiny_separator(QUERIES)


def _blocks(audio, sizes):
    """``audio`` cut into blocks whose sizes cycle through ``sizes``."""
    out, start, k = [], 0, 0
    while start < audio.shape[-1]:
        out.append(audio[..., start : start + sizes[k % len(sizes)]])
        start += sizes[k % len(sizes)]
        k += 1
    return out


def _section(title: str) -> str:
    text = DOCS.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


# smaller than a hop, mixed (one-sample blocks too), larger than a chunk
PATTERNS = [[300], [7, 3001, 1, 450], [4500]]


@pytest.mark.parametrize("length", [2000 + 3 * 1500, 9111, 1999])
def test_stream_equals_separate_at_the_model_rate(separator, length):
    # 6500: the last full window ends the input; 9111: a shorter trailing window;
    # 1999: shorter than a chunk, one pass
    audio = 0.3 * np.random.default_rng(length).standard_normal((2, length)).astype(np.float32)
    queries = QUERIES[:2]
    whole = separator.separate(audio, queries, sample_rate=8000, residual=True, **SETTINGS)
    for sizes in PATTERNS:
        blocks = _blocks(audio, sizes)
        out = list(separator.stream(blocks, queries, sample_rate=8000, residual=True, **SETTINGS))
        assert all(isinstance(b, np.ndarray) and b.shape[:2] == (3, 2) for b in out)
        got = np.concatenate(out, axis=-1)
        assert got.shape == (3, 2, length)
        # the same windows, weights and sums: equal to float rounding (bit for bit on CPU)
        np.testing.assert_allclose(got[:2], whole.estimates, rtol=0, atol=1e-6)
        np.testing.assert_allclose(got[2], whole.residual, rtol=0, atol=1e-6)


@pytest.mark.parametrize("rate", [44100, 11025])
def test_stream_equals_separate_at_another_rate(separator, rate):
    audio = 0.3 * np.random.default_rng(rate).standard_normal(int(1.37 * rate)).astype(np.float32)
    whole = separator.separate(audio, QUERIES[:2], sample_rate=rate, **SETTINGS).estimates
    for sizes in ([1000], [5, 9000, 333]):
        blocks = [torch.from_numpy(b) for b in _blocks(audio, sizes)]
        out = list(separator.stream(blocks, QUERIES[:2], sample_rate=rate, **SETTINGS))
        assert all(isinstance(b, torch.Tensor) and b.dim() == 2 for b in out)  # 1-D in
        got = torch.cat(out, -1).numpy()
        assert got.shape == whole.shape == (2, audio.size)
        # resampled as a stream with torchaudio's kernel: the stated tolerance is 1e-5
        np.testing.assert_allclose(got, whole, rtol=0, atol=1e-5)


def test_stream_resampler_width_is_torchaudios():
    for orig, new in [(44100, 8000), (8000, 44100), (48000, 16000), (22050, 16000)]:
        assert sinc_width(orig, new) == torchaudio.transforms.Resample(orig, new).width


@pytest.mark.parametrize("rate", [8000, 44100])
def test_output_lags_the_input_by_at_most_the_latency(separator, rate):
    audio = np.random.default_rng(1).standard_normal(int(1.2 * rate)).astype(np.float32)
    latency = separator.stream_latency(rate, chunk_seconds=SETTINGS["chunk_seconds"])
    if rate == 8000:
        assert latency == 2000  # the chunk
    else:  # the chunk, and the two resamplers' look-ahead: about 22 ms at 44.1 kHz
        assert 0.25 * rate < latency < (0.25 + 0.025) * rate
    pushed, given, lags = 0, 0, []

    def blocks():
        nonlocal pushed
        for block in _blocks(audio, [rate // 100]):
            lags.append(pushed - given)  # what came out of everything pushed so far
            pushed += block.size
            yield block

    for out in separator.stream(blocks(), QUERIES[:1], sample_rate=rate, **SETTINGS):
        given += out.shape[-1]
    assert given == audio.size
    assert max(lags) <= latency
    assert max(lags) > latency - 0.02 * rate  # the bound is what happens, not a guess


def test_memory_stays_flat_over_a_long_stream(separator, monkeypatch):
    # 60 s at 16 kHz in 10 ms blocks, through both resamplers and the residual; the model
    # is replaced by a cheap all-pass (what is measured is the buffers, not the network)
    def all_pass(self, window, size, queries, dtype):
        return window.unsqueeze(0).expand(queries.positives, -1, -1) / queries.positives

    held = []
    push = Stream.push

    def recorded(self, block):
        out = push(self, block)
        held.append(self.held())
        return out

    monkeypatch.setattr(Separator, "_separate_window", all_pass)
    monkeypatch.setattr(Stream, "push", recorded)
    rate, seconds, chunk = 16000, 60, 1.0
    gen = np.random.default_rng(2)
    blocks = (0.1 * gen.standard_normal((2, 160)).astype(np.float32) for _ in range(seconds * 100))
    total = 0
    for out in separator.stream(
        blocks,
        QUERIES[:2],
        sample_rate=rate,
        chunk_seconds=chunk,
        overlap_seconds=0.25,
        residual=True,
    ):
        total += out.shape[-1]
        assert out.shape[:2] == (3, 2)
    assert total == rate * seconds and len(held) == seconds * 100
    # every buffer stays within about a chunk (at the input's rate: 16000 samples) ...
    names = set().union(*held)
    assert {"window", "inputs", "to_model", "to_input", "pending"} <= names
    for name in names:
        most = max(h.get(name, 0) for h in held)
        assert most <= 1.25 * chunk * rate, (name, most)
    # ... and does not grow: the last 30 s hold no more than the first 30 s
    half = len(held) // 2
    for name in names:
        assert max(h.get(name, 0) for h in held[half:]) <= max(h.get(name, 0) for h in held[:half])


def test_a_big_block_is_taken_a_hop_at_a_time(separator, monkeypatch):
    seen = []
    push = Stream.push
    monkeypatch.setattr(Stream, "push", lambda self, b: seen.append(b.shape[-1]) or push(self, b))
    audio = np.zeros((1, 8000), np.float32)
    out = list(separator.stream([audio], QUERIES[:1], sample_rate=8000, **SETTINGS))
    assert max(seen) == 1500 and sum(seen) == 8000  # the hop
    assert sum(o.shape[-1] for o in out) == 8000 and len(out) > 3  # out as windows finish


def test_stream_errors(separator):
    with pytest.raises(ValueError, match="queries must hold at least one query"):
        separator.stream([np.zeros(100)], [])
    with pytest.raises(ValueError, match="chunk_seconds"):
        separator.stream([np.zeros(100)], "a dog barks", chunk_seconds=1, overlap_seconds=0.6)
    mixit = copy.deepcopy(separator)
    mixit.model.add_learned_queries(4)
    with pytest.raises(ValueError, match="MixIT separator picks its outputs"):
        mixit.stream([np.zeros(100)], "a dog barks")
    # block errors come while iterating, naming the block
    cases = [
        ([np.zeros((2, 100)), np.zeros((3, 100))], "block 1 has 3 channels, the stream 2"),
        ([np.zeros((4096, 2))], r"block 0 has shape \(4096, 2\).*channels first"),
        ([np.zeros(10), np.array([np.nan])], "block 1 holds NaN"),
        ([[0.0, 1.0]], "block 0 is a list"),
        ([np.zeros(0), np.zeros((1, 0))], "the stream held no audio"),
    ]
    for blocks, message in cases:
        with pytest.raises(ValueError, match=message):
            list(separator.stream(blocks, "a dog barks", **SETTINGS))


def test_the_docs_streaming_example_runs(capsys):
    code = re.findall(r"^```python\n(.*?)^```", _section("Streaming"), re.S | re.M)
    assert len(code) == 1
    exec(compile(code[0], str(DOCS), "exec"), {"__name__": "__main__"})
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["(2, 2, 132300) True", "1.0217 s"]  # as its comments say


def test_cli_streams_stdin_as_the_docs_show(separator, tmp_path):
    # the docs' command: `cat mix.wav | asteroid-wsas separate - ...`, in a subprocess that
    # reads stdin from a pipe (not seekable) and writes the outputs as the stream comes
    block = _section("Streaming").split("```bash\n")[1].split("```")[0]
    command, expected = block.strip().splitlines()
    feed, args = command.split(" | ")
    args = shlex.split(args)
    assert feed == "cat mix.wav" and args[:3] == ["asteroid-wsas", "separate", "-"]
    separator.save_pretrained(tmp_path / "my_separator")
    rate = 11025
    audio = 0.2 * np.random.default_rng(3).standard_normal((2, int(2.3 * rate)))
    sf.write(tmp_path / "mix.wav", audio.T, rate, subtype="FLOAT")
    result = subprocess.run(
        [sys.executable, "-m", "asteroid_wsas.cli", *args[1:], "--residual"],
        input=(tmp_path / "mix.wav").read_bytes(),
        cwd=tmp_path,
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    outputs = expected.lstrip("# ").split()
    assert sorted(os.listdir(tmp_path / "live")) == sorted(
        [os.path.basename(o) for o in outputs] + ["residual.wav"]
    )  # nothing else: no .part file left
    queries = [args[i + 1] for i, a in enumerate(args) if a == "-q"]
    chunk = float(args[args.index("--chunk-seconds") + 1])
    whole = separator.separate(
        tmp_path / "mix.wav", queries, chunk_seconds=chunk, overlap_seconds=1.0, residual=True
    )
    for k, path in enumerate(outputs):
        data, got_rate = sf.read(tmp_path / path, dtype="float32", always_2d=True)
        assert got_rate == rate and data.shape == (audio.shape[1], 2)
        # bf16 may run ("auto" precision), the same in both: the same to rounding
        np.testing.assert_allclose(data.T, whole.estimates[k], atol=1e-4)
    residual, _ = sf.read(tmp_path / "live" / "residual.wav", dtype="float32")
    np.testing.assert_allclose(residual.T, whole.residual, atol=1e-4)


def test_cli_stdin_errors(separator, tmp_path, monkeypatch):
    from asteroid_wsas.cli import main

    separator.save_pretrained(tmp_path / "sep")
    base = ["separate", "-", "-q", "a dog barks", "-o", str(tmp_path / "out")]
    base += ["--model", str(tmp_path / "sep")]
    read, write = os.pipe()
    os.write(write, b"not a wav stream at all" * 10)
    os.close(write)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(os.fdopen(read, "rb")))
    with pytest.raises(SystemExit, match="stdin is not a WAV stream"):
        main(base)
    assert not (tmp_path / "out").exists()  # nothing written, no empty folder left
    with pytest.raises(SystemExit, match="'-' .* must be the only input"):
        main(base[:2] + ["other.wav"] + base[2:])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a_dog_barks.wav").write_bytes(b"")
    with pytest.raises(SystemExit, match="exists; pass --force"):
        main(base)
