"""Image queries beside text queries: Separator and CLI on a random-initialised CLIP."""

import os

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio
from PIL import Image

from asteroid_wsas import Separator, TextCondUNet
from asteroid_wsas.cli import main
from asteroid_wsas.encoders.loading import load_encoder
from asteroid_wsas.encoders.testing import save_random_clip
from asteroid_wsas.separation.queries import resolve_queries

from tests.helpers import count_calls, separator_unet


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return save_random_clip(tmp_path_factory.mktemp("clip"), image_size=32, patch_size=8)


@pytest.fixture(scope="module")
def separator(clip_dir):
    torch.manual_seed(0)
    encoder = load_encoder(f"clip_image:{clip_dir}")
    model = separator_unet(encoder.embed_dim, encoder.token_dim)
    return Separator(model, encoder, encoder_name=f"clip_image:{clip_dir}")


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """Two different pictures as PNG files, and their pixels (H, W, 3) uint8."""
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    out = {}
    for name in ("cello", "drums"):
        pixels = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{name}.png")
        out[name] = (str(folder / f"{name}.png"), pixels)
    return out


def _mix(seconds=0.5, rate=16000, channels=2):
    t = np.arange(int(seconds * rate)) / rate
    left = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.random.default_rng(1).standard_normal(
        t.size
    )
    return np.stack([left, np.roll(left, 7)][:channels]).astype(np.float32)


def test_text_and_image_queries_in_one_call(separator, pictures):
    cello_path, cello = pictures["cello"]
    _, drums = pictures["drums"]
    mix = _mix()
    result = separator.separate(
        mix,
        [
            "a violin",
            f"image:{cello_path}",
            Image.fromarray(drums),
            cello,
            torch.from_numpy(cello).permute(2, 0, 1),
        ],
        sample_rate=16000,
    )
    assert result.queries == ["a violin", f"image:{cello_path}", "image 2", "image 3", "image 4"]
    assert result.estimates.shape == (5, *mix.shape)
    est = result.estimates
    # one picture given as a file, an array and a tensor is one query: the same estimate
    assert np.allclose(est[1], est[3], atol=1e-5) and np.allclose(est[1], est[4], atol=1e-5)
    # another picture, or a text, asks for something else
    assert not np.allclose(est[1], est[2], atol=1e-4)
    assert not np.allclose(est[0], est[1], atol=1e-4)
    # each answer equals the one it gets alone (one batched pass, no cross-talk)
    alone = separator.separate(mix, Image.fromarray(drums), sample_rate=16000)
    assert np.allclose(alone.estimates[0], est[2], atol=1e-4)
    # CLIP has no audio tower: no presence score, as with text-only encoders
    assert all(np.isnan(p) for p in result.presence)


def test_image_queries_are_encoded_once_per_call(separator, pictures, monkeypatch):
    """CLIP's image tower caches nothing: one call encodes each picture once, not once per
    window and channel (nor again for the warnings)."""
    cello_path, _ = pictures["cello"]
    _, drums = pictures["drums"]
    images = count_calls(monkeypatch, separator.encoder, "encode_images")
    texts = count_calls(monkeypatch, separator.encoder, "encode_text")
    mix = _mix(2.0)  # stereo, 5 windows of 0.5 s
    queries = ["a violin", f"image:{cello_path}", Image.fromarray(drums)]
    out = separator.separate(
        mix, queries, sample_rate=16000, chunk_seconds=0.5, overlap_seconds=0.125
    )
    assert out.estimates.shape == (3, *mix.shape)
    assert len(images) == 1 and len(images[0][0]) == 2 and texts == [(["a violin"],)]


def test_frames_query_is_their_mean_embedding(separator, pictures):
    _, cello = pictures["cello"]
    frames = torch.from_numpy(np.stack([cello, cello[::-1].copy()])).permute(0, 3, 1, 2)
    names, queries = resolve_queries([frames], "queries")
    assert names == ["image 0"] and queries[0].shape == (2, 3, 24, 40)
    encoder = separator.encoder
    expected = torch.nn.functional.normalize(encoder.embed_images(list(frames)).mean(0), dim=0)
    assert torch.allclose(encoder.embed_images([queries[0]])[0], expected, atol=1e-5)


def test_bad_image_queries_are_named(separator, tmp_path):
    mix = _mix()
    with pytest.raises(ValueError, match=r"queries\[1\]: image file not found"):
        separator.separate(mix, ["a violin", f"image:{tmp_path / 'none.png'}"], sample_rate=16000)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a picture")
    with pytest.raises(ValueError, match="junk.png"):
        separator.separate(mix, [f"image:{junk}"], sample_rate=16000)
    with pytest.raises(ValueError, match=r"queries\[0\] must be a text or an image"):
        separator.separate(mix, [3.5], sample_rate=16000)


def test_image_queries_need_an_image_encoder(pictures):
    from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab

    encoder = TinyBimodalEncoder(build_vocab(["a violin"]), 8000, embed_dim=16, token_dim=12)
    model = TextCondUNet(
        8000, 126, 32, [8, 16], [1], text_embed_dim=16, text_token_dim=12, n_heads=2
    )
    with pytest.raises(TypeError, match="clip_image:"):
        Separator(model, encoder.freeze()).separate(
            _mix(), ["a violin", f"image:{pictures['cello'][0]}"], sample_rate=16000
        )


def test_round_trip_keeps_the_image_encoder_and_its_pooling(
    separator, clip_dir, tmp_path, pictures
):
    cello_path, _ = pictures["cello"]
    separator.save_pretrained(tmp_path / "model")
    loaded = Separator.from_pretrained(tmp_path / "model")
    assert loaded.encoder.has_image and loaded.encoder.pooling == "cls"
    a = separator.separate(_mix(), [f"image:{cello_path}"], sample_rate=16000).estimates
    b = loaded.separate(_mix(), [f"image:{cello_path}"], sample_rate=16000).estimates
    assert np.allclose(a, b, atol=1e-5)
    patch = Separator(separator.model, load_encoder(f"clip_image:{clip_dir}?pooling=patch_max"))
    patch.save_pretrained(tmp_path / "patch")  # saves the CLIP folder beside the model
    again = Separator.from_pretrained(tmp_path / "patch")
    assert again.encoder.pooling == "patch_max"


def test_cli_takes_image_queries_beside_text(separator, tmp_path, pictures, capsys):
    cello_path, _ = pictures["cello"]
    separator.save_pretrained(tmp_path / "model")
    inp = tmp_path / "song.wav"
    sf.write(inp, _mix(0.5, 44100).T, 44100)
    out = tmp_path / "out"
    main(
        [
            "separate",
            str(inp),
            "-q",
            "a violin",
            "-q",
            f"image:{cello_path}",
            "-o",
            str(out),
            "--model",
            str(tmp_path / "model"),
        ]
    )
    assert sorted(os.listdir(out)) == ["a_violin.wav", "image_cello.wav"]
    wav, rate = sf.read(out / "image_cello.wav")
    assert rate == 44100 and wav.shape == (22050, 2)
    assert f"'image:{cello_path}'" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="image query file"):
        main(
            [
                "separate",
                str(inp),
                "-q",
                f"image:{tmp_path / 'missing.jpg'}",
                "-o",
                str(tmp_path / "o2"),
                "--model",
                str(tmp_path / "model"),
            ]
        )


def test_sound_of_pixels_answers_every_patch(separator, pictures):
    cello_path, cello = pictures["cello"]
    mix = _mix()
    result = separator.sound_of_pixels(
        mix, f"image:{cello_path}", sample_rate=16000, precision="fp32"
    )
    assert result.estimates.shape == (4, 4, *mix.shape)  # 32 / 8 patches a side
    assert result.level_db.shape == (4, 4) and np.isfinite(result.level_db).all()
    # a patch's estimate is what its feature vector asks for as a query
    pixels = torch.from_numpy(cello).permute(2, 0, 1)
    embed, tokens, mask = separator.encoder.encode_pixels(pixels)
    x = torchaudio.functional.resample(torch.from_numpy(mix), 16000, 8000)
    with torch.no_grad():
        masks, spec = separator.model.forward_masks(
            x, embed.expand(2, -1, -1), tokens.expand(2, -1, -1, -1), mask.expand(2, -1, -1)
        )
        direct = separator.model.istft(masks * spec.unsqueeze(1), x.shape[-1])[:, 5]
    direct = torchaudio.functional.resample(direct, 8000, 16000)[..., : mix.shape[-1]]
    assert np.allclose(result.estimates[1, 1], direct.numpy(), atol=1e-4)  # patch 5: (1, 1)
    assert not np.allclose(result.estimates[0, 0], result.estimates[1, 1], atol=1e-5)
    with pytest.raises(ValueError, match="must be a picture"):
        separator.sound_of_pixels(mix, "a cello", sample_rate=16000)
