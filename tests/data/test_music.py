"""MUSIC and VGGSound in their public layouts: splits, N-source mixtures, prompts."""

import json
import os

import pytest
import torch

from asteroid_wsas.data import MUSICDataset, VGGSoundDataset, music_solos, vggsound_clips
from tests.data.conftest import quiet


def music(root, **kwargs):
    return MUSICDataset(f"{root}/MUSIC_solo_videos.json", f"{root}/audio", segment=1.0, **kwargs)


def test_video_level_split_is_deterministic_and_disjoint(music_root):
    json_path, audio = f"{music_root}/MUSIC_solo_videos.json", f"{music_root}/audio"
    parts = {
        s: music_solos(json_path, audio, s, val_fraction=0.2) for s in ("train", "val", "test")
    }
    ids = {s: {e.video_id for e in entries} for s, entries in parts.items()}
    assert (len(ids["train"]), len(ids["val"]), len(ids["test"])) == (70, 20, 10)
    assert not (ids["train"] & ids["val"]) and not (ids["train"] & ids["test"])
    assert not (ids["val"] & ids["test"])
    again = {e.video_id for e in music_solos(json_path, audio, "test", val_fraction=0.2)}
    assert again == ids["test"]
    other_seed = {e.video_id for e in music_solos(json_path, audio, "test", split_seed=1)}
    assert other_seed != ids["test"]
    default = music_solos(json_path, audio, "test")  # the authors' 90 / 10
    assert len(default) == 10 and len({e.label for e in default}) == 10


@pytest.mark.parametrize("n_sources", [1, 2, 3, 4])
def test_n_source_mixtures_of_distinct_classes(music_root, n_sources):
    data = music(music_root, n_sources=n_sources)
    for i in range(5):
        item = data[i]
        assert item["sources"].shape == (n_sources, 16000)
        assert len(set(item["labels"])) == n_sources
        assert torch.allclose(item["sources"].sum(0), item["mixture"])
        assert item["phrases"] == [f"The sound of {label}" for label in item["labels"]]
        if n_sources > 1:
            assert item["caption"].startswith("The sound mixture of ")
    assert data[0]["labels"][0] == data.entries[0].label  # item i starts from solo i


def test_mixture_only_data_carries_no_clean_sources(music_root):
    item = music(music_root, return_sources=False)[0]
    assert "sources" not in item and item["mixture"].shape == (16000,)


def test_unknown_instrument_is_an_error(music_root):
    with pytest.raises(ValueError, match="instruments: unknown \\['kazoo'\\]"):
        music(music_root, instruments=["bell", "kazoo"])


def test_instrument_without_audio_folder_is_skipped_and_counted(music_root, tmp_path):
    with open(f"{music_root}/MUSIC_solo_videos.json") as f:
        videos = json.load(f)["videos"]
    videos["tuba"] = ["t001", "t002"]
    (tmp_path / "list.json").write_text(json.dumps({"videos": videos}))
    entries, warnings = quiet(
        music_solos, tmp_path / "list.json", f"{music_root}/audio", "train", test_fraction=0
    )
    assert len(entries) == 100 and "skipped 2 of 102 entries (2 missing audio)" in warnings[0]


def test_too_many_sources_for_the_classes(music_root):
    with pytest.raises(ValueError, match="n_sources=3"):
        music(music_root, instruments=["bell", "drum"], n_sources=3)


def test_bad_json(tmp_path):
    (tmp_path / "x.json").write_text('{"solos": []}')
    with pytest.raises(ValueError, match="videos"):
        music_solos(tmp_path / "x.json", tmp_path)


def test_vggsound_layout_and_splits(vggsound_root):
    csv_path, audio = f"{vggsound_root}/vggsound.csv", f"{vggsound_root}/audio"
    train, test = vggsound_clips(csv_path, audio, "train"), vggsound_clips(csv_path, audio, "test")
    assert (len(train), len(test)) == (40, 20)
    assert not {e.video_id for e in train} & {e.video_id for e in test}
    val = vggsound_clips(csv_path, audio, "val", val_fraction=0.25)
    rest = vggsound_clips(csv_path, audio, "train", val_fraction=0.25)
    assert len(val) == 10 and len(rest) == 30
    assert not {e.video_id for e in val} & {e.video_id for e in rest}
    data = VGGSoundDataset(csv_path, audio, "test", segment=1.0, n_sources=2)
    item = data[0]
    assert not data.train and item["caption"].endswith(" sound")
    assert item["mixture"].shape == (16000,)


def test_vggsound_missing_clip_and_header_row(vggsound_root, tmp_path):
    rows = open(f"{vggsound_root}/vggsound.csv").read()
    (tmp_path / "v.csv").write_text("youtube_id,start,label,split\n" + rows + "gone,0,x,test\n")
    entries, warnings = quiet(vggsound_clips, tmp_path / "v.csv", f"{vggsound_root}/audio", "test")
    assert len(entries) == 20 and "1 missing audio" in warnings[0]
    (tmp_path / "bad.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="youtube_id,start_seconds,label,split"):
        vggsound_clips(tmp_path / "bad.csv", f"{vggsound_root}/audio")


def test_small_classes_keep_a_test_and_a_validation_item():
    from asteroid_wsas.data.music import split_videos

    parts = split_videos([f"v{i}" for i in range(5)], 0.05, 0.1, seed=0, name="cello")
    assert [len(parts[s]) for s in ("train", "val", "test")] == [3, 1, 1]
    assert sorted(sum(parts.values(), [])) == [f"v{i}" for i in range(5)]
    # larger classes split as before: 10 % of 20 is 2
    assert len(split_videos([f"v{i}" for i in range(20)], 0.05, 0.1, seed=0)["test"]) == 2
    with pytest.raises(ValueError, match=r"class 'tuba' has 2 file\(s\).*test_fraction"):
        split_videos(["a", "b"], 0.05, 0.1, seed=0, name="tuba")
    assert split_videos(["a", "b"], 0.0, 0.1, seed=0, name="tuba")["train"] != []
