"""The authors' crops (data.crop: authors), against positions worked out by hand from their
description, on a ramp whose every sample says where it came from."""

import numpy as np
import pytest
import soundfile as sf
import torch

from asteroid_wsas.data.audio import probe, read_authors_crop
from asteroid_wsas.data.registry import get_dataset

SR = 8000


def ramp_file(tmp_path, n: int, name="ramp.wav"):
    """Sample i holds (i + 1) / n / 2: any sample's value gives its index."""
    path = str(tmp_path / name)
    sf.write(path, ((np.arange(n) + 1) / n / 2).astype(np.float32), SR, subtype="FLOAT")
    return probe(path), torch.from_numpy(((np.arange(n) + 1) / n / 2).astype(np.float32))


class Draws:
    """A stand-in generator: returns planned draws and records the bounds it was asked."""

    def __init__(self, *values):
        self.values, self.bounds = list(values), []

    def integers(self, low, high):
        self.bounds.append((low, high))
        return self.values.pop(0)


def test_centre_crop_of_audiocaps(tmp_path):
    info, raw = ramp_file(tmp_path, 28000)  # 3.5 s
    wav, start = read_authors_crop(info, SR, 1.0, "centre")
    # centre sample 14000: samples 10000..18000, starting at 1.25 s
    assert torch.equal(wav, raw[10000:18000]) and start == pytest.approx(1.25)


def test_music_test_crop_sits_near_the_middle(tmp_path):
    info, raw = ramp_file(tmp_path, 28000)
    wav, start = read_authors_crop(info, SR, 1.0, "music")
    # 3 whole seconds: t = 3 // 2 + 1 = 2, centre (2 - 0.5) s = sample 12000
    assert torch.equal(wav, raw[8000:16000]) and start == pytest.approx(1.0)


def test_music_training_crop_is_biased_early_and_zero_padded(tmp_path):
    info, raw = ramp_file(tmp_path, 28000)
    draws = Draws(1, 1000)  # second 1, then centre sample 1000
    wav, start = read_authors_crop(info, SR, 1.0, "music", draws)
    # the second is drawn from 1..3 (whole seconds), the centre from 1..(1 - 0.5) s = 4000
    assert draws.bounds == [(1, 4), (1, 4001)]
    # samples 0..5000 land at offsets 3000..8000 around the crop's middle (4000); zeros first
    assert torch.equal(wav[:3000], torch.zeros(3000))
    assert torch.equal(wav[3000:], raw[:5000])
    assert start == pytest.approx(-3000 / SR)


def test_vggsound_crop_at_four_and_a_half_seconds(tmp_path):
    info, raw = ramp_file(tmp_path, 10 * SR)
    wav, _ = read_authors_crop(info, SR, 1.0, "vggsound")
    assert torch.equal(wav, raw[32000:40000])  # centre 36000
    short, raw = ramp_file(tmp_path, 28000, "short.wav")  # 4.5 s lies past its end
    wav, _ = read_authors_crop(short, SR, 1.0, "vggsound")
    assert torch.equal(wav, raw[10000:18000])  # the middle instead


def test_short_files_are_tiled_for_music_and_padded_for_audiocaps(tmp_path):
    info, raw = ramp_file(tmp_path, 2000)  # 0.25 s, shorter than the 1 s crop
    wav, _ = read_authors_crop(info, SR, 1.0, "music")
    # tiled 8000 // 2000 + 1 = 5 times; 0 whole seconds count as 1: centre 0.5 s = 4000
    assert torch.equal(wav, raw.repeat(4))
    wav, _ = read_authors_crop(info, SR, 1.0, "centre")
    # not tiled: centre 1000, samples 0..2000 at offsets 3000..5000, zeros around
    assert (
        torch.equal(wav[3000:5000], raw) and wav[:3000].abs().sum() == wav[5000:].abs().sum() == 0
    )
    with pytest.raises(ValueError, match="kind must be one of"):
        read_authors_crop(info, SR, 1.0, "middle")


def test_recipe_data_gives_each_dataset_its_authors_crop(tmp_path):
    from asteroid_wsas.data.synthetic import (
        write_audiocaps_layout,
        write_music_layout,
        write_vggsound_layout,
    )

    write_music_layout(str(tmp_path / "m"), 3, ["beep", "hum", "bell"], 1.0, SR)
    write_vggsound_layout(str(tmp_path / "v"), {"train": 3, "test": 1}, sample_rate=SR)
    write_audiocaps_layout(str(tmp_path / "a"), {"train": 4, "test": 2}, sample_rate=SR)
    expected = {"music": "music", "vggsound": "vggsound", "audiocaps": "centre"}
    for name, root in (("music", "m"), ("vggsound", "v"), ("audiocaps", "a")):
        block = {"dataset": name, "root": str(tmp_path / root), "sample_rate": SR, "segment": 0.5}
        ours = get_dataset(block).mixtures("train")
        theirs = get_dataset({**block, "crop": "authors"}).mixtures("train")
        assert ours.crop == "non_silent" and theirs.crop == expected[name], name
        item = theirs[0]
        assert item["mixture"].shape == (SR // 2,) and torch.isfinite(item["mixture"]).all()
    with pytest.raises(ValueError, match="data.crop must be"):
        get_dataset({**block, "crop": "random"}).mixtures("train")
