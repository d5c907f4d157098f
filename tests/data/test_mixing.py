"""Mixture-of-mixtures batches and clean-fraction splits."""

import pytest
import torch

from asteroid_wsas.data import (
    CLEAN_FRACTIONS,
    AudioCapsDataset,
    MixtureGroups,
    SoloEntry,
    clean_fraction_split,
    collate_groups,
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
    batch = collate_groups([MixtureGroups(data)[0]])
    assert torch.allclose(torch.stack(batch["sources"][0]).sum((0, 1)), batch["mix"][0], atol=1e-6)


@pytest.mark.parametrize("fraction", CLEAN_FRACTIONS)
def test_clean_fraction_split_keeps_the_stated_share(music_root, fraction):
    train = music_solos(f"{music_root}/MUSIC_solo_videos.json", f"{music_root}/audio")
    clean, rest = clean_fraction_split(train, fraction, seed=3)
    assert not {e.video_id for e in clean} & {e.video_id for e in rest}
    assert len(clean) + len(rest) == len(train)
    assert len(clean) == max(1, round(fraction * len(train)))  # the share, not 1 per class
    labels = sorted({e.label for e in train})
    per_class = [sum(e.label == l for e in clean) for l in labels]
    assert max(per_class) - min(per_class) <= 1  # spread over the classes
    again, _ = clean_fraction_split(train, fraction, seed=3)
    assert [e.video_id for e in again] == [e.video_id for e in clean]


def test_clean_fraction_split_of_many_classes_with_few_videos():
    from asteroid_wsas.data.audio import AudioInfo

    info = AudioInfo("x.wav", 8000, 8000, 1)
    solos = [SoloEntry(f"v{i}", f"class{i % 17}", info) for i in range(17 * 14)]
    clean, _ = clean_fraction_split(solos, 0.05, seed=0)
    assert len(clean) == 12  # 5 % of 238 videos (one per class would be 17, 7.1 %)
    assert len({e.label for e in clean}) == 12


def test_clean_fraction_bounds():
    with pytest.raises(ValueError, match="fraction"):
        clean_fraction_split([], 1.5)
    assert clean_fraction_split([], 0.0) == ([], [])


def test_with_fixed_phrases_pads_and_samples_per_epoch():
    from asteroid_wsas.data import SyntheticCaptionedMixtures, WithFixedPhrases

    data = SyntheticCaptionedMixtures(12, min_sources=1, max_sources=4, seconds=0.25, seed=5)
    fixed = WithFixedPhrases(data, n_phrases=2, seed=1)
    counts = {len(data[i]["phrases"]) for i in range(12)}
    assert {1, 3} <= counts or {1, 4} <= counts  # fewer and more than P occur
    for i in range(12):
        item, raw = fixed[i], data[i]
        assert len(item["phrases"]) == 2 and set(item["phrases"]) <= set(raw["phrases"])
        if len(raw["phrases"]) == 1:
            assert item["phrase_weights"].tolist() == [0.5, 0.5]  # one phrase, counted once
        torch.testing.assert_close(item["mixture"], raw["mixture"])
    many = [i for i in range(12) if len(data[i]["phrases"]) > 2]
    draws = set()
    for epoch in range(6):
        fixed.set_epoch(epoch)
        draws.add(tuple(fixed[many[0]]["phrases"]))
    assert len(draws) > 1  # a new choice each epoch
    with pytest.raises(ValueError, match="n_phrases"):
        WithFixedPhrases(data, 0)


def test_single_sources_are_clean_items_with_their_phrase():
    from asteroid_wsas.data import SingleSources, SyntheticCaptionedMixtures

    data = SyntheticCaptionedMixtures(6, min_sources=2, max_sources=3, seconds=0.25, seed=2)
    single = SingleSources(data)
    for i in range(6):
        item, raw = single[i], data[i]
        k = raw["phrases"].index(item["caption"])
        torch.testing.assert_close(item["mixture"], raw["sources"][k])
        assert item["sources"].shape == (1, raw["sources"].shape[-1])
        assert item["labels"] == [raw["labels"][k]]
    batch = mixture_of_mixtures([single[i] for i in range(4)])
    torch.testing.assert_close(batch["mix"], batch["mixtures"].sum(1))

    class Broken(list):
        pass

    bad = Broken([{"sources": torch.zeros(2, 8), "phrases": ["only one"]}])
    with pytest.raises(ValueError, match="one phrase per source"):
        SingleSources(bad)[0]


def test_clean_mixtures_rebuild_distinct_class_mixtures():
    from asteroid_wsas.data import LabeledSourceMixtures, SoloEntry, clean_mixtures
    from asteroid_wsas.losses import SupervisedObjective

    gen = torch.Generator().manual_seed(0)
    items = []
    for labels in (["bell", "drum"], ["hum", "bell"]):
        sources = torch.randn(2, 100, generator=gen)
        items.append(
            {
                "mixture": sources.sum(0),
                "sources": sources,
                "labels": labels,
                "phrases": [f"The sound of {l}" for l in labels],
            }
        )
    batch = clean_mixtures(items)
    assert batch["mix"].shape == (2, 100)
    torch.testing.assert_close(batch["mix"], torch.stack([it["mixture"] for it in items]))
    assert batch["captions"] == [
        ["The sound of bell", "The sound of drum"],
        ["The sound of hum", "The sound of bell"],
    ]
    torch.testing.assert_close(batch["mixtures"][1, 0], items[1]["sources"][0])
    assert SupervisedObjective()._targets(batch) is batch["mixtures"]  # accepted as clean
    with pytest.raises(ValueError, match="different numbers of sources"):
        clean_mixtures([items[0], {**items[1], "sources": items[1]["sources"][:1]}])


def test_mixture_groups_draw_partners_of_other_classes(music_root):
    from asteroid_wsas.data import MUSICDataset, shared_sources

    data = MUSICDataset(
        f"{music_root}/MUSIC_solo_videos.json", f"{music_root}/audio", segment=0.5, n_sources=2
    )
    groups = MixtureGroups(data, n_mix=2, seed=1)
    firsts = []
    for i in range(len(groups)):
        group = groups[i]
        labels = [label for item in group for label in item["labels"]]
        assert len(set(labels)) == 4, labels  # all N * P solos of distinct classes
        assert not shared_sources(group)
        firsts.append(group[0]["ids"][0])
    assert firsts == [data[i]["ids"][0] for i in range(len(data))]  # item i starts group i
    assert groups[3][1]["ids"] == MixtureGroups(data, n_mix=2, seed=1)[3][1]["ids"]  # seeded
    # consecutive items of the same data do share classes: what the groups avoid
    assert any(shared_sources([data[i], data[i + 1]]) for i in range(len(data) - 1))
    with pytest.raises(ValueError, match="asks .* of two of its mixtures"):
        mixture_of_mixtures([data[0], data[0]])


def test_mixture_groups_refuse_what_cannot_be_grouped(music_root):
    from asteroid_wsas.data import MUSICDataset

    data = MUSICDataset(
        f"{music_root}/MUSIC_solo_videos.json", f"{music_root}/audio", segment=0.5, n_sources=2
    )
    n_classes = len(data.labels)  # 10: 5 mixtures of 2 use them all, a 6th finds none
    MixtureGroups(data, n_mix=n_classes // 2)[0]
    with pytest.raises(ValueError, match="no solo of a class outside"):
        MixtureGroups(data, n_mix=n_classes // 2 + 1)[0]
    three = MUSICDataset(
        f"{music_root}/MUSIC_solo_videos.json", f"{music_root}/audio", segment=0.5, n_sources=3
    )
    with pytest.raises(ValueError, match="needs 12 classes; this split has 10"):
        MixtureGroups(three, n_mix=4)[0]  # the 4th mixture finds 1 class where it needs 3
    # captioned clips without item_avoiding: random draws until nothing is shared
    same = [{"mixture": torch.zeros(4), "caption": "c", "phrases": ["rain"]}] * 3
    with pytest.raises(ValueError, match="no partner mixture"):
        MixtureGroups(same, max_draws=20)[0]


def test_repeated_passes_draw_anew(music_root):
    from asteroid_wsas.data import MUSICDataset
    from asteroid_wsas.data.mixing import Repeated

    data = MUSICDataset(
        f"{music_root}/MUSIC_solo_videos.json", f"{music_root}/audio", segment=0.5, n_sources=2
    )
    twice = Repeated(data, 2)
    assert len(twice) == 2 * len(data)
    first, again = twice[0], twice[len(data)]
    assert first["ids"][0] == again["ids"][0]  # the same first solo in both passes
    assert not torch.equal(first["mixture"], again["mixture"])  # other crop, gain, partner
    twice.set_epoch(1)
    assert not torch.equal(twice[0]["mixture"], first["mixture"])
