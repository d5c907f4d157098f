"""Generated captioned mixtures: deterministic, consistent captions, sane audio."""

import numpy as np
import pytest
import torch

from asteroid_wsas.data import SOUND_CLASSES, SyntheticCaptionedMixtures
from asteroid_wsas.data.synthetic import render
from asteroid_wsas.text import split_caption


def test_items_are_deterministic_and_seed_dependent():
    a, b = SyntheticCaptionedMixtures(5, seed=7), SyntheticCaptionedMixtures(5, seed=7)
    c = SyntheticCaptionedMixtures(5, seed=8)
    assert torch.equal(a[3]["mixture"], b[3]["mixture"]) and a[3]["caption"] == b[3]["caption"]
    assert not torch.equal(a[3]["mixture"], c[3]["mixture"])


def test_sources_sum_to_the_mixture_and_fit_in_range():
    data = SyntheticCaptionedMixtures(40, min_sources=2, max_sources=3, seconds=1.0, seed=2)
    for i in range(len(data)):
        item = data[i]
        assert item["mixture"].dtype == torch.float32
        assert torch.allclose(item["sources"].sum(0), item["mixture"], atol=1e-6)
        assert item["mixture"].abs().max() <= 0.99 + 1e-6
        assert 2 <= len(item["labels"]) <= 3 and len(set(item["labels"])) == len(item["labels"])
        assert (item["sources"].square().mean(1) > 1e-6).all()  # no silent source


def test_captions_split_back_into_their_phrases():
    data = SyntheticCaptionedMixtures(200, seed=4)
    for i in range(len(data)):
        item = data[i]
        assert [p.lower() for p in split_caption(item["caption"])] == [
            p.lower() for p in item["phrases"]
        ], item["caption"]


@pytest.mark.parametrize("label", list(SOUND_CLASSES))
def test_every_class_renders_at_unit_rms(label):
    wave = render(label, np.random.default_rng(0), 16000, 16000)
    assert wave.shape == (16000,) and np.isfinite(wave).all()
    assert abs(np.sqrt(np.mean(wave**2)) - 1) < 1e-3


def test_classes_differ_in_spectrum():
    """Each class's average spectrum is closest to itself across draws (they are tellable)."""

    def spectrum(label, seed):
        wave = torch.from_numpy(render(label, np.random.default_rng(seed), 16000, 16000))
        mag = torch.stft(wave, 512, 256, window=torch.hann_window(512), return_complex=True).abs()
        profile = torch.log(mag.mean(1) + 1e-4)
        return profile - profile.mean()

    labels = list(SOUND_CLASSES)
    ref = torch.stack([spectrum(l, 0) for l in labels])
    other = torch.stack([spectrum(l, 1) for l in labels])
    dist = torch.cdist(other, ref)
    assert (dist.argmin(1) == torch.arange(len(labels))).float().mean() >= 0.8


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(classes=["bell", "kazoo"]), "kazoo"),
        (dict(min_sources=3, max_sources=2), "min_sources"),
        (dict(max_sources=11), "max_sources"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SyntheticCaptionedMixtures(3, **kwargs)


def test_index_out_of_range():
    with pytest.raises(IndexError):
        SyntheticCaptionedMixtures(3)[3]
