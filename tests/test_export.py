"""ONNX export with built-in queries: the graph gives the PyTorch estimates, files, errors."""

import argparse
import json
import os
import re

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from asteroid_wsas import Separator, TextCondUNet  # noqa: E402
from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab  # noqa: E402
from asteroid_wsas.export import (  # noqa: E402
    DEFAULT_OPSET,
    INPUT_NAME,
    OUTPUT_NAME,
    ConvSTFT,
    OnnxSeparator,
    export_onnx,
    run_onnx,
)
from asteroid_wsas.cli.export import add_parser as add_export_parser  # noqa: E402
from asteroid_wsas.cli.export import cmd as cmd_export  # noqa: E402
from asteroid_wsas.separation.core import separate_batch  # noqa: E402
from asteroid_wsas.version import __version__  # noqa: E402

# queries of different lengths: the graph holds a token padding mask
QUERIES = ["a dog barks", "a man speaks loudly", "wind blows"]
RATE = 8000


def _separator(**model_args) -> Separator:
    torch.manual_seed(0)
    enc = TinyBimodalEncoder(
        build_vocab(QUERIES + ["a bell rings"]), RATE, embed_dim=16, token_dim=12
    )
    # two attention levels in a row, as the paper's model has three: the second reads its
    # map's size after the first one's reshapes
    args = dict(attention_levels=[1, 2], text_embed_dim=16, text_token_dim=12, n_heads=2)
    args.update(out_channels=4, **model_args)
    model = TextCondUNet(RATE, 126, 32, [8, 16, 16], **args)
    # non-trivial BatchNorm statistics: a graph that dropped a norm would not pass
    gen = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5, generator=gen)
            module.running_var.uniform_(0.5, 2.0, generator=gen)
    return Separator(model, enc)


@pytest.fixture(scope="module")
def separator():
    return _separator()


@pytest.fixture(scope="module")
def exported(separator, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("onnx") / "model.onnx")
    info = export_onnx(separator, QUERIES, path)
    return path, info


def _torch_estimates(separator, wave, queries=QUERIES, negatives=()):
    with torch.no_grad():  # fp32: no autocast
        return separate_batch(
            separator.model, separator.encoder, wave, [queries] * wave.shape[0], negatives=negatives
        ).numpy()


def _snr_db(ref: np.ndarray, est: np.ndarray) -> np.ndarray:
    ref, est = ref.astype(np.float64), est.astype(np.float64)
    return 10 * np.log10(np.square(ref).sum(-1) / np.square(ref - est).sum(-1))


@pytest.mark.parametrize(
    "seconds",
    [0.5, 1.3, 3.0, 8123 / RATE, 126 / RATE],
    ids=["0.5s", "1.3s", "3s", "not-a-hop-multiple", "one-frame"],
)
def test_onnx_gives_the_torch_fp32_estimates(separator, exported, seconds):
    path, _ = exported
    length = int(round(seconds * RATE))
    wave = torch.randn(2, length, generator=torch.Generator().manual_seed(length))
    ref = _torch_estimates(separator, wave)
    got = run_onnx(path, wave.numpy())
    assert got.shape == (2, len(QUERIES), length) and got.dtype == np.float32
    snr = _snr_db(ref, got)
    assert snr.min() >= 60, snr


def test_batch_sizes_and_one_d_input(exported):
    path, _ = exported
    wave = np.random.default_rng(0).standard_normal((3, 5001)).astype(np.float32)
    together = run_onnx(path, wave)
    alone = run_onnx(path, wave[1])  # 1-D in, (K, T) out
    assert alone.shape == (len(QUERIES), 5001)
    np.testing.assert_allclose(together[1], alone, atol=1e-5)


def test_graph_holds_no_text_encoder_inputs(exported):
    path, _ = exported
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    (out,) = session.get_outputs()
    assert inp.name == INPUT_NAME and len(inp.shape) == 2
    assert all(isinstance(d, str) for d in inp.shape)  # batch and time are dynamic
    assert out.name == OUTPUT_NAME and out.shape[1] == len(QUERIES)
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["queries"]) == QUERIES and json.loads(meta["sample_rate"]) == RATE


@pytest.mark.parametrize("n_fft,hop", [(126, 32), (127, 40), (64, 40)])
def test_conv_stft_and_istft_equal_torch(n_fft, hop):
    model = TextCondUNet(RATE, n_fft, hop, [4], conditioning="late", text_embed_dim=8)
    conv_stft = OnnxSeparator(model, torch.randn(1, 8)).model.stft  # the graph's STFT
    assert isinstance(conv_stft, ConvSTFT) and model.stft is not conv_stft  # model as it was
    wave = torch.randn(3, 1001, dtype=torch.float32)
    ref = torch.stft(wave, n_fft, hop, window=model.window, center=True, return_complex=True)
    spec = conv_stft(wave)
    n_freq = n_fft // 2 + 1
    torch.testing.assert_close(spec[:, :n_freq], ref.real, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(spec[:, n_freq:], ref.imag, atol=1e-4, rtol=1e-5)
    # any spectrum, not only a consistent one (the masked ones are not); hop > n_fft / 2
    # makes torch.istft pad the tail with zeros
    masked = ref * torch.rand(ref.shape)
    expected = torch.istft(masked, n_fft, hop, window=model.window, center=True, length=1001)
    got = conv_stft.inverse(torch.cat([masked.real, masked.imag], 1), 1001)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


def test_json_beside_the_graph(exported):
    path, info = exported
    json_path = os.path.join(os.path.dirname(path), "model.json")
    assert info["json"] == json_path and info["onnx"] == path
    with open(json_path, encoding="utf-8") as f:
        saved = json.load(f)
    assert saved["queries"] == QUERIES and saved["negatives"] == []
    assert saved["sample_rate"] == RATE and saved["min_samples"] == 126
    assert saved["inputs"] == [{"name": INPUT_NAME, "shape": ["batch", "time"], "dtype": "float32"}]
    assert saved["outputs"] == [
        {"name": OUTPUT_NAME, "shape": ["batch", len(QUERIES), "time"], "dtype": "float32"}
    ]
    assert saved["opset"] == DEFAULT_OPSET and saved["package_version"] == __version__
    assert any("new export" in line for line in saved["limitations"])
    assert saved["verified_snr_db"] >= 60


def test_negative_queries_inside_the_graph(separator, tmp_path):
    path = str(tmp_path / "neg.onnx")
    info = export_onnx(separator, QUERIES[:2], path, negatives=["wind blows"], verify=False)
    assert info["negatives"] == ["wind blows"] and "verified_snr_db" not in info
    wave = torch.randn(2, 6000, generator=torch.Generator().manual_seed(3))
    ref = _torch_estimates(separator, wave, QUERIES[:2], ["wind blows"])
    got = run_onnx(path, wave.numpy())
    assert got.shape == (2, 2, 6000)
    assert _snr_db(ref, got).min() >= 60


@pytest.mark.parametrize("conditioning", ["film", "late"])
def test_other_conditionings_export(conditioning, tmp_path):
    separator = _separator(conditioning=conditioning)
    info = export_onnx(separator, QUERIES[:2], tmp_path / "m.onnx", opset=14)
    assert info["verified_snr_db"] >= 60 and info["opset"] == 14


def test_refuses_to_overwrite_without_force(separator, exported, tmp_path, monkeypatch):
    path, _ = exported
    with pytest.raises(FileExistsError, match="model.onnx exists"):
        export_onnx(separator, QUERIES, path)
    # the JSON alone blocks too
    (tmp_path / "m.json").write_text("{}")
    with pytest.raises(FileExistsError, match="m.json exists"):
        export_onnx(separator, QUERIES, tmp_path / "m.onnx")
    # (and a graph that strays from PyTorch is reported)
    monkeypatch.setattr("asteroid_wsas.export._verify", lambda *args: 12.0)
    with pytest.warns(RuntimeWarning, match="differs from the PyTorch separator: SNR 12.0"):
        info = export_onnx(separator, QUERIES[:1], tmp_path / "m.onnx", force=True)
    assert json.loads((tmp_path / "m.json").read_text())["queries"] == QUERIES[:1]
    assert info["outputs"][0]["shape"][1] == 1
    assert sorted(os.listdir(tmp_path)) == ["m.json", "m.onnx"]  # no temporary file left


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(queries=[]), r"queries must hold at least one query"),
        (dict(queries=["a dog barks", "  "]), r"queries\[1\] is an empty text"),
        (dict(queries=["image:cello.jpg"]), r"queries\[0\] is an image query"),
        (dict(queries=[np.zeros((4, 4, 3), np.uint8)]), r"queries\[0\] must be a text"),
        (dict(negatives=[""]), r"negatives\[0\] is an empty text"),
        (dict(opset=9), r"opset must be an int from 14 to 20"),
        (dict(path="model.json"), r"path must name the \.onnx file"),
    ],
)
def test_bad_arguments_name_the_argument(separator, tmp_path, kwargs, match):
    args = dict(queries=QUERIES, path=str(tmp_path / "m.onnx"))
    args.update(kwargs)
    args["path"] = os.path.join(tmp_path, args["path"])
    with pytest.raises(ValueError, match=match):
        export_onnx(separator, **args)
    assert not os.listdir(tmp_path)


def test_mixit_separator_is_refused(tmp_path):
    separator = _separator(n_learned_queries=2)
    with pytest.raises(ValueError, match="separator was trained with MixIT"):
        export_onnx(separator, QUERIES, tmp_path / "m.onnx")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asteroid-wsas")
    add_export_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_every_option_says_its_default():
    parser = argparse.ArgumentParser(prog="asteroid-wsas")
    sub = add_export_parser(parser.add_subparsers())
    assert sub.get_default("func") is cmd_export
    for action in sub._actions:
        if action.dest != "help":
            assert "default" in action.help or "required" in action.help, action.dest


def test_cmd_export_on_a_saved_separator(separator, tmp_path, capsys):
    folder = tmp_path / "sep"
    separator.save_pretrained(folder)
    out = str(tmp_path / "out" / "model.onnx")
    argv = ["export", str(folder), "--queries", *QUERIES[:2], "-o", out]
    args = _parser().parse_args(argv)
    assert args.func is cmd_export and args.opset == DEFAULT_OPSET and not args.force
    args.func(args)
    printed = capsys.readouterr().out
    assert "output 1: 'a man speaks loudly'" in printed and "SNR" in printed
    with open(os.path.join(tmp_path, "out", "model.json"), encoding="utf-8") as f:
        assert json.load(f)["queries"] == QUERIES[:2]
    snr = float(re.search(r"SNR ([0-9.]+) dB", printed).group(1))
    assert snr >= 60
    with pytest.raises(FileExistsError):  # checked before the model is loaded
        cmd_export(_parser().parse_args(argv))
    cmd_export(_parser().parse_args(argv + ["--force", "--no-verify"]))
    with pytest.raises(ValueError, match=r"--queries\[0\] is an empty text"):
        cmd_export(_parser().parse_args(["export", str(folder), "--queries", "", "-o", out]))
