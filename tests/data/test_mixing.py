"""Mixture-of-mixtures batches and clean-fraction splits."""

import pytest
import torch

from asteroid_wsas.data import (
    CLEAN_FRACTIONS,
    AudioCapsDataset,
    clean_fraction_split,
    mixture_of_mixtures,
    music_solos,
)
from tests.data.conftest import quiet


def test_mixture_of_mixtures_batches(audiocaps_root):
    data, _ = quiet(
        AudioCapsDataset, f"{audiocaps_root}/test.csv", f"{audiocaps_root}/audio", segment=1.0
    )
    items = [data[i] for i in range(4)]
    batch = mixture_of_mixtures(items, n_mix=2)
    assert batch["mix"].shape == (2, 16000) and batch["mixtures"].shape == (2, 2, 16000)
    assert torch.allclose(batch["mixtures"].sum(1), batch["mix"])
    assert torch.allclose(batch["mixtures"][1, 0], items[2]["mixture"] / 2)
    assert batch["captions"][1] == [items[2]["caption"], items[3]["caption"]]
    assert len(batch["phrases"][0][1]) == 3 and batch["phrase_weights"].shape == (2, 2, 3)
    assert batch["ids"] == [[items[0]["id"], items[1]["id"]], [items[2]["id"], items[3]["id"]]]
    with pytest.raises(ValueError, match="n_mix=2"):
        mixture_of_mixtures(items[:3])


def test_clean_sources_are_scaled_like_their_mixture(music_root):
    from asteroid_wsas.data import MUSICDataset

    data = MUSICDataset(
        f"{music_root}/MUSIC_solo_videos.json", f"{music_root}/audio", segment=1.0, n_sources=2
    )
    batch = mixture_of_mixtures([data[0], data[1]])
    assert torch.allclose(torch.stack(batch["sources"][0]).sum((0, 1)), batch["mix"][0], atol=1e-6)


@pytest.mark.parametrize("fraction", CLEAN_FRACTIONS)
def test_clean_fraction_split_is_disjoint_per_class(music_root, fraction):
    train = music_solos(f"{music_root}/MUSIC_solo_videos.json", f"{music_root}/audio")
    clean, rest = clean_fraction_split(train, fraction, seed=3)
    assert not {e.video_id for e in clean} & {e.video_id for e in rest}
    assert len(clean) + len(rest) == len(train)
    labels = {e.label for e in train}
    assert {e.label for e in clean} == labels  # at least one clean video per class
    per_class = len(train) // len(labels)
    expected = max(1, round(fraction * per_class))
    assert all(sum(e.label == l for e in clean) == expected for l in labels)
    again, _ = clean_fraction_split(train, fraction, seed=3)
    assert [e.video_id for e in again] == [e.video_id for e in clean]


def test_clean_fraction_bounds():
    with pytest.raises(ValueError, match="fraction"):
        clean_fraction_split([], 1.5)
    assert clean_fraction_split([], 0.0) == ([], [])
