"""Separator: any rate and channel count, many queries, chunks, residual, negatives, files."""

import copy
import hashlib
import os
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from asteroid_wsas import Separator, TextCondUNet
from asteroid_wsas.cli import main
from asteroid_wsas.encoders import encode_queries
from asteroid_wsas.encoders.tiny import TinyBimodalEncoder
from asteroid_wsas.separation.audio_io import load_audio
from asteroid_wsas.separation.contract import QueryWarning
from asteroid_wsas.separation.core import separate_batch
from asteroid_wsas.separation.queries import query_warnings
from asteroid_wsas.separation.windows import crossfade_windows

from tests.helpers import tiny_separator

QUERIES = ["a dog barks", "a bell rings", "a man speaks"]


@pytest.fixture(scope="module")
def separator():
    return tiny_separator(QUERIES)


def _stereo(seconds=1.0, rate=44100):
    t = np.arange(int(seconds * rate)) / rate
    left = 0.3 * np.sin(2 * np.pi * 440 * t)
    right = 0.2 * np.sin(2 * np.pi * 1000 * t) + 0.05 * np.random.default_rng(0).standard_normal(
        t.size
    )
    return np.stack([left, right]).astype(np.float32)


def test_stereo_44k_numpy_in_numpy_out(separator):
    audio = _stereo()
    out = separator.separate(audio, QUERIES, sample_rate=44100, residual=True)
    assert isinstance(out.estimates, np.ndarray) and out.estimates.shape == (3, 2, 44100)
    assert out.sample_rate == 44100 and out.queries == QUERIES
    np.testing.assert_allclose(out.residual + out.estimates.sum(0), audio, atol=1e-5)
    assert len(out.presence) == 3 and all(-1 <= p <= 1 for p in out.presence)
    assert len(out.level_db) == 3 and all(np.isfinite(out.level_db))


def test_channels_are_separated_independently(separator):
    audio = _stereo()
    both = separator.separate(audio, QUERIES[:2], sample_rate=44100).estimates
    right = separator.separate(audio[1], QUERIES[:2], sample_rate=44100).estimates
    assert right.shape == (2, 44100)  # 1-D in, (K, T) out
    np.testing.assert_allclose(both[:, 1], right, atol=1e-5)


def test_one_batched_pass_equals_one_query_at_a_time(separator):
    audio = torch.from_numpy(_stereo(0.5, 8000))
    together = separator.separate(audio, QUERIES, sample_rate=8000, precision="fp32").estimates
    assert isinstance(together, torch.Tensor)
    for k, query in enumerate(QUERIES):
        alone = separator.separate(audio, query, sample_rate=8000, precision="fp32").estimates
        torch.testing.assert_close(together[k], alone[0], atol=1e-5, rtol=1e-4)


def test_bf16_stays_close_to_fp32(separator):
    audio = torch.from_numpy(_stereo(0.5, 8000))
    fp32 = separator.separate(audio, QUERIES, sample_rate=8000, precision="fp32").estimates
    bf16 = separator.separate(audio, QUERIES, sample_rate=8000, precision="bf16").estimates
    assert not torch.equal(fp32, bf16)  # bf16 did run
    snr = 10 * torch.log10(fp32.square().sum(-1) / (fp32 - bf16).square().sum(-1))
    assert snr.min() > 30, snr


def test_shorter_than_a_chunk_is_one_pass(separator):
    audio = _stereo(1.0, 8000)
    one = separator.separate(audio, QUERIES, sample_rate=8000).estimates
    chunked = separator.separate(audio, QUERIES, sample_rate=8000, chunk_seconds=5).estimates
    np.testing.assert_array_equal(one, chunked)


@pytest.mark.parametrize(
    "length,chunk,overlap", [(100, 30, 10), (95, 40, 0), (64, 32, 16), (110, 30, 10), (31, 30, 15)]
)
def test_crossfade_weights_sum_to_one(length, chunk, overlap):
    windows = crossfade_windows(length, chunk, overlap)
    total = torch.zeros(length)
    for k, (start, stop, weight) in enumerate(windows):
        assert start == k * (chunk - overlap)  # known before the input's end: a stream's
        assert stop - start == chunk or (k == len(windows) - 1 and stop == length)
        total[start:stop] += weight
    assert windows[-1][1] == length
    torch.testing.assert_close(total, torch.ones(length))


def test_a_shorter_trailing_window_is_separated_padded_to_a_chunk(separator, monkeypatch):
    seen = []
    batch = separate_batch

    def recorded(model, encoder, mix, *args, **kwargs):
        seen.append(mix.shape[-1])
        return batch(model, encoder, mix, *args, **kwargs)

    monkeypatch.setattr("asteroid_wsas.separation.separator.separate_batch", recorded)
    chunks = dict(sample_rate=8000, chunk_seconds=0.25, overlap_seconds=0.0625)
    out = separator.separate(np.zeros(4100), "a dog barks", **chunks)
    assert out.estimates.shape == (1, 4100)
    assert seen == [2000, 2000, 2000]  # windows at 0, 1500 and 3000 (1100 long, padded)
    seen.clear()  # a whole input shorter than a chunk: one pass at its own length
    separator.separate(np.zeros(1500), "a dog barks", **chunks)
    assert seen == [1500]


def test_chunks_overlap_add_to_the_input_with_an_all_pass_mask(separator, monkeypatch):
    def all_pass(wav, embed, tokens=None, mask=None):
        spec = separator.model.stft(wav)
        return torch.ones(wav.shape[0], embed.shape[1], *spec.shape[-2:]), spec

    monkeypatch.setattr(separator.model, "forward_masks", all_pass)
    audio = torch.randn(1, 8000 * 5)
    calls = []
    out = separator.separate(
        audio,
        "a dog barks",
        sample_rate=8000,
        chunk_seconds=1.3,
        overlap_seconds=0.3,
        progress=lambda done, total: calls.append((done, total)),
    ).estimates
    torch.testing.assert_close(out[0], audio, atol=1e-4, rtol=1e-4)
    # a callable progress hears of every chunk, in order
    total = calls[0][1]
    assert total > 3 and calls == [(k, total) for k in range(1, total + 1)]


def test_negative_query_removes_what_it_matches(separator, monkeypatch):
    def masks(wav, embed, tokens=None, mask=None):  # query 0 takes all, the negative too
        spec = separator.model.stft(wav)
        return torch.ones(wav.shape[0], embed.shape[1], *spec.shape[-2:]), spec

    monkeypatch.setattr(separator.model, "forward_masks", masks)
    audio = torch.randn(8000)
    kept = separator.separate(audio, "a dog barks", sample_rate=8000).estimates
    gone = separator.separate(audio, "a dog barks", sample_rate=8000, negative="wind blows")
    assert kept.abs().max() > 0.5 and gone.estimates.abs().max() < 1e-6


def test_three_minute_file(separator, tmp_path):
    path = tmp_path / "long.flac"
    rate = 16000
    t = np.arange(180 * rate) / rate
    sf.write(path, (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), rate)
    out = separator.separate(path, QUERIES[:2], chunk_seconds=20)
    assert out.estimates.shape == (2, 1, 180 * rate) and out.sample_rate == rate
    assert np.isfinite(out.estimates).all()


def test_bad_inputs_are_named(separator, tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1), np.float32), 8000)
    with pytest.raises(ValueError, match="not readable audio"):
        separator.separate(tmp_path / "bad.wav", "a dog barks")
    with pytest.raises(ValueError, match="is empty"):
        separator.separate(tmp_path / "empty.wav", "a dog barks")
    with pytest.raises(ValueError, match="not found"):
        separator.separate(tmp_path / "none.wav", "a dog barks")
    with pytest.raises(ValueError, match="sample_rate is required"):
        separator.separate(np.zeros(800), "a dog barks")
    with pytest.raises(ValueError, match=r"looks like \(time, channels\)"):
        separator.separate(np.zeros((800, 2)), "a dog barks", sample_rate=8000)
    with pytest.raises(ValueError, match=r"queries\[1\] is an empty text"):
        separator.separate(np.zeros(800), ["a dog barks", " "], sample_rate=8000)
    with pytest.raises(ValueError, match="queries must hold at least one query"):
        separator.separate(np.zeros(800), [], sample_rate=8000)
    with pytest.raises(ValueError, match="chunk_seconds"):
        separator.separate(
            np.zeros(8000), "a", sample_rate=8000, chunk_seconds=0.5, overlap_seconds=1.0
        )


def test_save_and_load_round_trip_with_checksum(separator, tmp_path):
    path = separator.save_pretrained(tmp_path / "pkg")
    assert torch.load(path, weights_only=True)["separator"] == 1
    with pytest.raises(FileExistsError):
        separator.save_pretrained(tmp_path / "pkg")
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    again = Separator.from_pretrained(tmp_path / "pkg", sha256=digest)
    audio = _stereo(0.5, 8000)
    np.testing.assert_allclose(
        again.separate(audio, QUERIES, sample_rate=8000).estimates,
        separator.separate(audio, QUERIES, sample_rate=8000).estimates,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="sha256"):
        Separator.from_pretrained(path, sha256="0" * 64)
    with pytest.raises(ValueError, match="not found"):
        Separator.from_pretrained(tmp_path / "missing.pth")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError) as err:
        Separator.from_pretrained(tmp_path / "empty")
    assert str(err.value) == (
        f"model folder {tmp_path / 'empty'} holds no separator.pth (save_pretrained's) nor "
        "best_model.pth (a recipe's)"
    )
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError) as err:
        separator.save_pretrained(tmp_path / "notes.txt")
    assert str(err.value) == f"{tmp_path / 'notes.txt'} is a file; save_pretrained writes a folder"
    (tmp_path / "text.pth").write_text("hello, I am not a model\n")
    with pytest.raises(ValueError, match=r"text.pth is not a separator file \(torch.load cannot"):
        Separator.from_pretrained(tmp_path / "text.pth")


def test_recipe_best_model_loads_with_its_encoder(separator, tmp_path):
    enc_path = tmp_path / "tiny.pth"
    torch.save(separator.encoder.serialize(), enc_path)
    torch.save(separator.model.serialize(), tmp_path / "best_model.pth")
    (tmp_path / "conf.yml").write_text(yaml.safe_dump({"encoder": {"name": str(enc_path)}}))
    loaded = Separator.from_pretrained(tmp_path / "best_model.pth")
    assert isinstance(loaded.encoder, TinyBimodalEncoder)
    from_folder = Separator.from_pretrained(tmp_path)  # the experiment folder
    expected = loaded.model.state_dict()
    for key, value in from_folder.model.state_dict().items():
        assert torch.equal(value, expected[key]), key
    os.remove(tmp_path / "conf.yml")
    with pytest.raises(ValueError, match="no encoder"):
        Separator.from_pretrained(tmp_path / "best_model.pth")


def test_load_audio_shapes():
    wav, rate, kind, one_d = load_audio(torch.zeros(3, 100), 8000)
    assert wav.shape == (3, 100) and rate == 8000 and kind == "torch" and not one_d


def test_cli_separate_writes_named_files_and_refuses_overwrite(separator, tmp_path, capsys):
    model_dir = tmp_path / "model"
    separator.save_pretrained(model_dir)
    inp = tmp_path / "song.wav"
    sf.write(inp, _stereo(0.5, 44100).T, 44100)
    out = tmp_path / "out"
    args = [
        "separate",
        str(inp),
        "-q",
        "A dog barks!",
        "-q",
        "a bell rings",
        "-o",
        str(out),
        "--model",
        str(model_dir),
        "--residual",
    ]
    main(args)
    names = sorted(os.listdir(out))
    assert names == ["a_bell_rings.wav", "a_dog_barks.wav", "residual.wav"]
    wav, rate = sf.read(out / "a_dog_barks.wav")
    assert rate == 44100 and wav.shape == (22050, 2)
    assert "presence" in capsys.readouterr().out
    stamp = os.stat(out / "a_dog_barks.wav").st_mtime_ns
    main(args)  # all outputs there: skipped, none overwritten
    assert "skipped 1 input(s) whose outputs exist" in capsys.readouterr().out
    assert os.stat(out / "a_dog_barks.wav").st_mtime_ns == stamp
    main(args + ["--force"])
    assert os.stat(out / "a_dog_barks.wav").st_mtime_ns != stamp
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"junk")
    with pytest.raises(SystemExit, match="not readable audio"):
        main(
            ["separate", str(bad), "-q", "x", "-o", str(tmp_path / "o2"), "--model", str(model_dir)]
        )
    with pytest.raises(SystemExit, match="model .* not found"):
        main(
            [
                "separate",
                str(inp),
                "-q",
                "x",
                "-o",
                str(tmp_path / "o3"),
                "--model",
                str(tmp_path / "nope.pth"),
            ]
        )


def test_hub_ids_fetch_the_package_file(separator, tmp_path, monkeypatch):
    import huggingface_hub

    path = separator.save_pretrained(tmp_path / "pkg")
    asked = []

    def fake_download(repo_id, filename, revision=None):
        asked.append((repo_id, filename, revision))
        return path

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    loaded = Separator.from_pretrained("someone/text-separator@v1")
    assert asked == [("someone/text-separator", "separator.pth", "v1")]
    assert isinstance(loaded.model, TextCondUNet)


def test_hub_ids_fetch_a_bundled_encoder_folder_with_the_package(separator, tmp_path, monkeypatch):
    """A package whose encoder was saved beside it (encoder/) brings that folder along; the
    file's folder is the snapshot where from_pretrained then looks for it."""
    import huggingface_hub

    from asteroid_wsas.separation.separator import _fetch

    snapshot = tmp_path / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    package = torch.load(separator.save_pretrained(tmp_path / "pkg"), weights_only=True)
    package["encoder"] = {"kind": "clap", "name": "encoder?pooling=cls"}
    torch.save(package, snapshot / "separator.pth")
    asked = []

    def fake_snapshot(repo_id, revision=None, allow_patterns=None):
        asked.append((repo_id, revision, allow_patterns))
        (snapshot / "encoder").mkdir()
        return str(snapshot)

    monkeypatch.setattr(
        huggingface_hub, "hf_hub_download", lambda r, f, revision=None: str(snapshot / f)
    )
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    path = _fetch("someone/text-separator@v2")
    assert asked == [("someone/text-separator", "v2", ["encoder/*"])]
    assert path == str(snapshot / "separator.pth") and (snapshot / "encoder").is_dir()


def test_failed_downloads_name_the_model(monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("cannot reach the hub")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(ValueError, match="someone/text-separator could not be fetched"):
        Separator.from_pretrained("someone/text-separator")


def test_mixit_separator_answers_queries_with_its_learned_outputs(separator, tmp_path):
    from asteroid_wsas.engine import WeakSupSystem

    model = copy.deepcopy(separator.model)  # the fixture's stays text-queried
    system = WeakSupSystem(model, separator.encoder, "mixit")
    assert len(model.learned_queries) == 4  # the objective gave the model its queries
    system.save_separator(tmp_path / "best_model.pth")
    enc_path = tmp_path / "tiny.pth"
    torch.save(separator.encoder.serialize(), enc_path)
    (tmp_path / "conf.yml").write_text(yaml.safe_dump({"encoder": {"name": str(enc_path)}}))
    loaded = Separator.from_pretrained(tmp_path / "best_model.pth")
    assert loaded.learned_queries and loaded.model.learned_queries.embed.shape == (4, 16)

    audio = torch.from_numpy(_stereo(0.5, 8000)[0])
    out = loaded.separate(audio, QUERIES, sample_rate=8000, precision="fp32")
    # each query's estimate is the learned output that validation's text selection picks
    model.eval()
    expected = separate_batch(model, separator.encoder, audio[None], [QUERIES])[0]
    picked = separate_batch(model, separator.encoder, audio[None])[0, out.extras["mixit_output"]]
    torch.testing.assert_close(picked, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out.estimates, picked, atol=1e-4, rtol=1e-3)
    assert len(out.presence) == 3

    again = Separator.from_pretrained(loaded.save_pretrained(tmp_path / "pkg"))
    torch.testing.assert_close(
        again.model.learned_queries.embed, loaded.model.learned_queries.embed
    )
    with pytest.raises(ValueError, match="negative needs a text-conditioned"):
        loaded.separate(audio, QUERIES, sample_rate=8000, negative="wind blows")


def test_oracle_selection_picks_the_output_closest_to_each_reference(separator):
    model = copy.deepcopy(separator.model)
    model.add_learned_queries(4)
    mix = torch.randn(1, 4000)
    outs = torch.randn(1, 4, 4000)
    model.forward = lambda *args, **kwargs: outs  # four known outputs
    refs = outs[:, [3, 1]] * 2.0  # scale does not matter to SI-SDR
    picked = separate_batch(model, None, mix, [["a", "b"]], references=refs, selection="oracle")
    torch.testing.assert_close(picked, outs[:, [3, 1]])
    all_outputs = separate_batch(model, None, mix)
    torch.testing.assert_close(all_outputs, outs)
    with pytest.raises(ValueError, match="needs the references"):
        separate_batch(model, None, mix, [["a", "b"]], selection="oracle")
    with pytest.raises(ValueError, match="selection must be one of"):
        separate_batch(model, None, mix, [["a", "b"]], selection="best")
    with pytest.raises(ValueError, match="negative queries need"):
        separate_batch(model, None, mix, [["a", "b"]], negatives=["c"])


def test_batch_path_equals_the_model_and_removes_negatives(separator):
    model, encoder = separator.model, separator.encoder
    mix = torch.randn(2, 4000)
    with torch.no_grad():
        est = separate_batch(model, encoder, mix, [QUERIES[:2]] * 2)
        embed, tokens, mask = encode_queries(encoder, [QUERIES[:2]] * 2)
        torch.testing.assert_close(est, model(mix, embed, tokens, mask), atol=1e-5, rtol=1e-4)
        kept = separate_batch(model, encoder, mix, [QUERIES[:2]] * 2, negatives=["wind blows"])
        masks, _ = model.forward_masks(mix, *encode_queries(encoder, [["wind blows"]] * 2))
    assert kept.shape == est.shape and masks.min() > 0  # a sigmoid mask removes something
    assert kept.square().sum() < est.square().sum()
    with pytest.raises(ValueError, match="needs queries"):
        separate_batch(model, encoder, mix)


def test_assignment_selection_is_one_to_one(separator):
    model = copy.deepcopy(separator.model)
    model.add_learned_queries(2)
    gen = torch.Generator().manual_seed(1)
    outs = torch.randn(1, 2, 4000, generator=gen)
    model.forward = lambda *args, **kwargs: outs
    # both references resemble output 0 most, the second only a little less than output 1
    refs = torch.stack([outs[0, 0], outs[0, 0] + 0.9 * outs[0, 1]])[None]
    oracle = separate_batch(
        model, None, outs.sum(1), [["a", "b"]], references=refs, selection="oracle"
    )
    torch.testing.assert_close(oracle, outs[:, [0, 0]])  # independent picks collide
    assigned = separate_batch(
        model, None, outs.sum(1), [["a", "b"]], references=refs, selection="assignment"
    )
    torch.testing.assert_close(assigned, outs[:, [0, 1]])  # one output per reference


def test_formats_beyond_libsndfile_are_decoded_with_pyav(tmp_path):
    av = pytest.importorskip("av")
    rate, seconds = 22050, 1.0
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w") as container:  # AAC in MP4: libsndfile cannot read it
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "stereo"
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    wav, got_rate, _, _ = load_audio(str(path))
    assert got_rate == rate and wav.shape[0] == 2
    assert abs(wav.shape[1] - t.size) < 4096  # the encoder's priming and padding frames
    peak = float(wav.abs().max())
    assert 0.2 < peak < 0.45


def test_queries_the_encoder_cannot_read_or_tell_apart_are_reported(separator):
    audio = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    with pytest.warns(QueryWarning) as caught:
        separator.separate(audio, ["a dog barks", "a cat meows", "a cow moos"], sample_rate=8000)
    messages = [str(w.message) for w in caught]
    vocabulary = len(separator.encoder.vocab) - 3  # without <pad>, <unk>, <cls>
    assert any(
        "'a cat meows'" in m and "'cat', 'meows'" in m and f"{vocabulary} words" in m
        for m in messages
    )
    # both read as "a <unk> <unk>": one vector, identical estimates
    assert any("'a cat meows' and 'a cow moos' encode to the same vector" in m for m in messages)
    assert not any("'a dog barks'" in m for m in messages)
    with warnings.catch_warnings():
        warnings.simplefilter("error", QueryWarning)
        separator.separate(audio, QUERIES, sample_rate=8000)  # known, distinct: silent
    # the same words, written differently, are one query to the encoder
    assert query_warnings(
        separator.encoder, ["a dog barks", "A dog barks!"], ["a dog barks", "A dog barks!"]
    ) == [
        "queries 'a dog barks' and 'A dog barks!' encode to the same vector: their estimates "
        "will be identical"
    ]


def test_cli_prints_query_warnings_as_one_line(separator, tmp_path, capsys):
    separator.save_pretrained(tmp_path / "model")
    sf.write(tmp_path / "in.wav", np.zeros(4000, np.float32) + 0.1, 8000)
    main(
        ["separate", str(tmp_path / "in.wav"), "-q", "a cat meows", "-o", str(tmp_path / "out")]
        + ["--model", str(tmp_path / "model")]
    )
    err = capsys.readouterr().err
    assert "warning: query 'a cat meows': words unknown to the encoder ('cat', 'meows'" in err
    assert "QueryWarning" not in err and "warnings.warn" not in err


def test_a_state_dict_that_does_not_fit_is_a_one_line_error(separator, tmp_path, capsys):
    package = separator.model.serialize()
    package["state_dict"] = dict(package["state_dict"], **{"extra.weight": torch.zeros(3)})
    torch.save(package, tmp_path / "best_model.pth")
    enc_path = tmp_path / "tiny.pth"
    torch.save(separator.encoder.serialize(), enc_path)
    (tmp_path / "conf.yml").write_text(yaml.safe_dump({"encoder": {"name": str(enc_path)}}))
    with pytest.raises(ValueError, match=r"weights do not fit a TextCondUNet: .*extra\.weight"):
        Separator.from_pretrained(tmp_path / "best_model.pth")
    sf.write(tmp_path / "in.wav", np.full(800, 0.1, np.float32), 8000)
    with pytest.raises(SystemExit) as stop:
        main(
            ["separate", str(tmp_path / "in.wav"), "-q", "a dog barks", "-o", str(tmp_path / "o")]
            + ["--model", str(tmp_path / "best_model.pth")]
        )
    message = str(stop.value)
    assert message.startswith("error: ") and "extra.weight" in message and "\n" not in message
