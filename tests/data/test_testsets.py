"""Fixed test sets: seeded, written once, read back identically, never overlapping training."""

import numpy as np
import pytest
import soundfile as sf
import torch

from asteroid_wsas.data import (
    AudioCapsDataset,
    TestSetDataset,
    assert_disjoint,
    build_test_set,
    caption_candidates,
    music_solos,
    read_manifest,
    solo_candidates,
    write_manifest,
)
from tests.data.conftest import quiet


@pytest.fixture(scope="module")
def music_test(music_root):
    return solo_candidates(
        music_solos(f"{music_root}/MUSIC_solo_videos.json", f"{music_root}/audio", "test")
    )


def build(candidates, root, **kwargs):
    return build_test_set("MUSIC-2Mix", candidates, root, seconds=1.0, **kwargs)


def test_protocol_every_solo_with_another_class_per_pass(music_test, music_root):
    test_set = build(music_test, music_root, passes=10)
    assert len(test_set.mixtures) == 10 * len(music_test)
    firsts = [m.sources[0].id for m in test_set.mixtures[: len(music_test)]]
    assert sorted(firsts) == sorted(c.id for c in music_test)
    for m in test_set.mixtures:
        assert m.sources[0].label != m.sources[1].label
        assert all(s.gain == 0.5 for s in m.sources)
        assert all(s.query == f"The sound of {s.label}" for s in m.sources)


@pytest.mark.parametrize("n_sources", [3, 4])
def test_three_and_four_source_versions(music_test, music_root, n_sources):
    test_set = build(music_test, music_root, n_sources=n_sources)
    for m in test_set.mixtures:
        assert len({s.label for s in m.sources}) == n_sources


def test_same_seed_same_set_and_manifest_round_trip(music_test, music_root, tmp_path):
    a, b = build(music_test, music_root, seed=4), build(music_test, music_root, seed=4)
    assert a == b
    assert build(music_test, music_root, seed=5) != a
    write_manifest(a, tmp_path / "m.json")
    assert read_manifest(tmp_path / "m.json") == a
    with pytest.raises(FileExistsError, match="force"):
        write_manifest(a, tmp_path / "m.json")
    first, second = TestSetDataset(tmp_path / "m.json"), TestSetDataset(a)
    for i in (0, len(first) - 1):
        x, y = first[i], second[i]
        assert torch.equal(x["mixture"], y["mixture"])
        assert torch.allclose(x["references"].sum(0), x["mixture"])
        assert x["references"].shape == (2, 16000) and x["queries"] == y["queries"]


def test_manifest_moves_with_its_dataset(music_test, music_root, tmp_path):
    import shutil

    test_set = build(music_test, music_root)
    write_manifest(test_set, tmp_path / "m.json")
    moved = tmp_path / "moved"
    shutil.copytree(music_root, moved)
    rendered = TestSetDataset(tmp_path / "m.json", root=str(moved))[0]
    assert torch.equal(rendered["mixture"], TestSetDataset(test_set)[0]["mixture"])


def test_dcase_style_snr(music_test, music_root):
    test_set = build(music_test, music_root, snr_range=(-15, 15), seed=2)
    data = TestSetDataset(test_set)
    snrs = []
    for i, m in enumerate(test_set.mixtures):
        refs = data[i]["references"]
        measured = 10 * torch.log10(refs[0].square().sum() / refs[1:].sum(0).square().sum())
        assert float(measured) == pytest.approx(m.snr_db, abs=0.01)
        snrs.append(m.snr_db)
    assert -15 <= min(snrs) and max(snrs) <= 15 and np.std(snrs) > 3


def test_audiocaps_2mix_queries_with_captions(audiocaps_root):
    data, _ = quiet(
        AudioCapsDataset,
        f"{audiocaps_root}/test.csv",
        f"{audiocaps_root}/audio",
        segment=1.0,
        train=False,
    )
    candidates = caption_candidates(data.clips)
    test_set = build_test_set("AudioCaps-2Mix", candidates, audiocaps_root, seconds=1.0)
    assert len(test_set.mixtures) == len(candidates)
    captions = {c.id: c.query for c in candidates}
    for m in test_set.mixtures:
        assert m.sources[0].id != m.sources[1].id
        assert [s.query for s in m.sources] == [captions[s.id] for s in m.sources]


def test_test_split_never_overlaps_training(music_test, music_root):
    test_set = build(music_test, music_root)
    train = music_solos(f"{music_root}/MUSIC_solo_videos.json", f"{music_root}/audio", "train")
    assert_disjoint(test_set, [e.video_id for e in train])
    with pytest.raises(ValueError, match="also training clips"):
        assert_disjoint(test_set, [music_test[0].id])


def test_undecodable_candidates_are_left_out(music_test, music_root, tmp_path):
    from asteroid_wsas.data.audio import probe
    from asteroid_wsas.data.testsets import Candidate

    path = tmp_path / "nan.wav"
    sf.write(path, np.full(16000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    bad = Candidate("nanclip", probe(str(path)), "bell", "The sound of bell")
    test_set, warnings = quiet(build, music_test + [bad], music_root)
    assert "skipped 1 of 11 entries" in warnings[0]
    assert all(s.id != "nanclip" for m in test_set.mixtures for s in m.sources)


def test_not_a_manifest(tmp_path):
    (tmp_path / "x.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not an asteroid-wsas test-set manifest"):
        read_manifest(tmp_path / "x.json")


def test_collate_test_items_batches_and_refuses_mixed_shapes():
    from asteroid_wsas.data import collate_test_items

    item = {"mixture": torch.zeros(8), "references": torch.zeros(2, 8), "queries": ["a", "b"]}
    batch = collate_test_items([item, dict(item, id="x")])
    assert batch["references"].shape == (2, 2, 8) and batch["mixture"].shape == (2, 8)
    assert batch["queries"] == [["a", "b"]] * 2 and batch["ids"] == ["0", "x"]
    short = dict(item, references=torch.zeros(2, 7), mixture=torch.zeros(7))
    with pytest.raises(ValueError, match="different shapes"):
        collate_test_items([item, short])
