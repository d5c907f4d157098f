"""File mode block by block (issue 33, memory): run_jobs writes what separate() gives,
sample for sample, without ever holding the whole input or the whole estimates."""

import copy
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from asteroid_wsas.separation import audio_io, jobs
from asteroid_wsas.separation import separator as separator_module
from asteroid_wsas.separation.windows import FileWindows
from asteroid_wsas.separation.jobs import output_names, pending_jobs, plan_jobs, run_jobs
from asteroid_wsas.separation.separator import LoudestFrames
from asteroid_wsas.separation.windows import crossfade_windows

from tests.helpers import tiny_separator

QUERIES = ["a dog barks", "a bell rings", "a man speaks"]
# 2000-sample windows at 8 kHz, a hop of 1500: several windows in a second of audio
SETTINGS = dict(chunk_seconds=0.25, overlap_seconds=0.0625, precision="fp32")


@pytest.fixture(scope="module")
def separator():
    return tiny_separator(QUERIES)


def _input(path, length, channels, rate=8000, seed=0):
    gen = np.random.default_rng(seed)
    audio = 0.3 * gen.standard_normal((length, channels)).astype(np.float32)
    audio[: length // 3] *= 2  # a louder start: the frames' levels differ
    sf.write(path, audio, rate, subtype="FLOAT")
    return str(path)


def _run(separator, source, out, queries, residual, **options):
    names = output_names(queries, residual)
    todo, _ = pending_jobs(plan_jobs([source], str(out)), names, force=False)
    (outcome,) = run_jobs(
        separator, todo, queries, subtype="FLOAT", residual=residual, fail_fast=True, **options
    )
    return outcome


def _whole_file(*args, **kwargs):
    raise AssertionError("the file was loaded whole")


def _written(outcome):
    return np.stack([sf.read(f, dtype="float32", always_2d=True)[0].T for f in outcome.job.files])


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize(
    "length, settings",
    [
        (1999, SETTINGS),  # shorter than a window: one pass
        (6500, SETTINGS),  # the last full window ends the input
        (9111, SETTINGS),  # a shorter trailing window
        (700, {}),  # the defaults: one pass up to 10 s
    ],
)
@pytest.mark.parametrize("residual, negative", [(True, None), (False, "wind blows")])
def test_file_mode_writes_separates_output(
    separator, tmp_path, channels, length, settings, residual, negative
):
    source = _input(tmp_path / "in.wav", length, channels, seed=length + channels)
    queries = QUERIES[:2]
    outcome = _run(
        separator, source, tmp_path / "out", queries, residual, negative=negative, **settings
    )
    assert outcome.error is None and outcome.result.estimates is None  # written, not kept
    whole = separator.separate(source, queries, residual=residual, negative=negative, **settings)
    expected = (
        whole.estimates if not residual else np.concatenate([whole.estimates, whole.residual[None]])
    )
    got = _written(outcome)
    assert got.shape == expected.shape == (len(outcome.job.files), channels, length)
    # one windowing generator for both: the same samples, not merely close ones
    np.testing.assert_array_equal(got, expected)
    assert outcome.result.presence == whole.presence
    np.testing.assert_allclose(outcome.result.level_db, whole.level_db, rtol=0, atol=1e-4)
    # complete files under their names, no temporary .part left
    assert sorted(os.listdir(tmp_path / "out")) == sorted(
        os.path.basename(f) for f in outcome.job.files
    )


def test_the_default_precision_is_separates_too(separator, tmp_path):
    source = _input(tmp_path / "in.wav", 9111, 2)
    settings = dict(chunk_seconds=0.25, overlap_seconds=0.0625)  # precision: "auto"
    outcome = _run(separator, source, tmp_path / "out", QUERIES[:1], False, **settings)
    whole = separator.separate(source, QUERIES[:1], **settings)
    np.testing.assert_array_equal(_written(outcome), whole.estimates)


def test_file_mode_never_holds_the_whole_input(separator, tmp_path, monkeypatch):
    length, chunk, hop = 16000, 2000, 1500  # 11 windows
    source = _input(tmp_path / "in.wav", length, 2)
    reads, writes = [], []
    read = sf.SoundFile.read
    write = audio_io.OutputFiles.write

    def counted_read(self, frames=-1, *args, **kwargs):
        reads.append(frames)
        return read(self, frames, *args, **kwargs)

    def counted_write(self, block):
        writes.append(block.shape[-1])
        return write(self, block)

    monkeypatch.setattr(sf.SoundFile, "read", counted_read)
    monkeypatch.setattr(audio_io.OutputFiles, "write", counted_write)
    monkeypatch.setattr(separator_module, "load_audio", _whole_file)
    outcome = _run(separator, source, tmp_path / "out", QUERIES[:2], True, **SETTINGS)
    assert outcome.error is None
    # a float file's scale check first: one block, up to the first sample that is no whole
    # number (audio_io.check_file_scale); then back to the start
    assert reads[0] == 4096
    reads = reads[1:]
    # read a window at most at a time, written a hop at a time, all of it
    assert sum(reads) == length and max(reads) == chunk and 0 < min(reads)
    windows = crossfade_windows(length, chunk, chunk - hop)
    assert sum(writes) == length and max(writes) <= chunk and len(writes) == len(windows) > 8
    assert _written(outcome).shape == (3, 2, length)


@pytest.mark.parametrize("rate, channels", [(11025, 1), (44100, 2)])
def test_another_rate_is_resampled_as_a_stream(separator, tmp_path, monkeypatch, rate, channels):
    source = _input(tmp_path / "in.wav", int(1.37 * rate), channels, rate=rate)
    whole = separator.separate(source, QUERIES[:2], residual=True, **SETTINGS)
    monkeypatch.setattr(separator_module, "load_audio", _whole_file)
    outcome = _run(separator, source, tmp_path / "out", QUERIES[:2], True, **SETTINGS)
    assert outcome.result.sample_rate == rate and outcome.result.estimates is None
    got = _written(outcome)
    assert got.shape == (3, channels, int(1.37 * rate))
    # torchaudio's kernel block by block against the whole signal: float rounding (fp32)
    expected = np.concatenate([whole.estimates, whole.residual[None]])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(outcome.result.presence, whole.presence, rtol=0, atol=1e-5)
    np.testing.assert_allclose(outcome.result.level_db, whole.level_db, rtol=0, atol=1e-4)


def test_a_mixit_separator_separates_whole(separator, tmp_path):
    from asteroid_wsas.engine import WeakSupSystem

    mixit = copy.deepcopy(separator)  # the fixture's stays text-queried
    WeakSupSystem(mixit.model, mixit.encoder, "mixit")  # gives the model learned queries
    assert mixit.learned_queries
    source = _input(tmp_path / "in.wav", 3000, 1)
    assert jobs._in_blocks(mixit, source) is None
    assert jobs._in_blocks(separator, source) is not None
    outcome = _run(mixit, source, tmp_path / "out", QUERIES[:2], False, **SETTINGS)
    whole = mixit.separate(source, QUERIES[:2], **SETTINGS)
    np.testing.assert_array_equal(_written(outcome), whole.estimates)
    assert outcome.result.extras["mixit_output"] == whole.extras["mixit_output"]
    with pytest.raises(ValueError, match="picks its outputs on the whole input"):
        mixit.separate_file(source, QUERIES[:1], lambda block: None)


def test_a_file_that_ends_early_is_named(tmp_path):
    class Short:  # a reader whose header promised more than it holds
        channels = 1

        def read(self, frames, dtype, always_2d):
            return np.zeros((min(frames, 30), 1), dtype=np.float32)

    windows = FileWindows(Short(), 100, "short.wav")
    assert windows(0, 20).shape == (1, 20)
    windows.release(10)
    assert windows(10, 30).shape == (1, 20)
    with pytest.raises(ValueError, match="released"):
        windows(5, 40)
    with pytest.raises(ValueError, match="short.wav ended after 60 of its 100 samples"):
        windows(10, 100)


def test_a_failed_file_leaves_no_part_files(separator, tmp_path):
    source = _input(tmp_path / "in.wav", 40, 1)  # shorter than one STFT frame
    names = output_names(QUERIES[:1], False)
    todo, _ = pending_jobs(plan_jobs([source], str(tmp_path / "out")), names, force=False)
    (outcome,) = run_jobs(separator, todo, QUERIES[:1], **SETTINGS)
    assert "fewer than the 126 of one STFT frame" in outcome.error
    assert not (tmp_path / "out").exists()  # no .part file, and no folder made for them


@pytest.mark.parametrize("blocks", [[10**6], [7, 3001, 1, 450], [1000]])
def test_loudest_frames_are_the_whole_signals(blocks):
    # what separate() picked before the frames came in blocks: its vectorised choice
    gen = torch.Generator().manual_seed(0)
    signal = torch.randn(4, 10500, generator=gen) * torch.rand(4, 1, generator=gen)
    signal[:, 3000:5000] *= 3
    size, count = 1000, 3
    n = signal.shape[-1] // size
    frames = signal[:, : n * size].reshape(4, n, size)
    loudest = frames.square().mean(-1).topk(count, dim=1).indices
    expected = torch.gather(frames, 1, loudest.unsqueeze(-1).expand(-1, -1, size))
    picker, at, k = LoudestFrames(4, size, count), 0, 0
    while at < signal.shape[-1]:
        picker.push(signal[:, at : at + blocks[k % len(blocks)]])
        at += blocks[k % len(blocks)]
        k += 1
    assert torch.equal(picker.picked(), expected)
    assert picker.kept.shape == (4, count, size)  # not every frame is kept
