"""AudioCapsDataset on the public layout, flaws included."""

import json

import pytest
import torch

from asteroid_wsas.data import AudioCapsDataset
from tests.data.conftest import quiet


def make(root, **kwargs):
    return quiet(AudioCapsDataset, f"{root}/train.csv", f"{root}/audio", segment=1.5, **kwargs)


def test_index_skips_and_counts_missing_empty_corrupt_and_captionless(audiocaps_root):
    data, warnings = make(audiocaps_root)
    assert len(warnings) == 1
    assert "skipped 4 of 20 entries" in warnings[0]
    for reason in ("1 empty caption", "1 missing audio", "2 unreadable audio"):
        assert reason in warnings[0]
    ids = {clip.youtube_id for clip in data.clips}
    assert {"stereo48k", "prefixed", "in_split", "nan"} <= ids  # NaN is only seen on reading
    assert len(data) == 12 + 4


def test_every_format_and_naming_is_found(audiocaps_root):
    data, _ = make(audiocaps_root)
    exts = {clip.info.path.rsplit(".", 1)[1] for clip in data.clips}
    assert exts == {"wav", "flac", "ogg", "mp3"}
    paths = {clip.youtube_id: clip.info.path for clip in data.clips}
    assert paths["prefixed"].endswith("Yprefixed.flac")
    assert paths["in_split"].endswith("train/in_split.wav")


def test_items_are_mono_at_the_model_rate(audiocaps_root):
    data, _ = make(audiocaps_root, sample_rate=8000)
    index = [c.youtube_id for c in data.clips].index("stereo48k")
    item = data[index]
    assert item["mixture"].shape == (12000,) and item["mixture"].dtype == torch.float32
    assert item["mixture"].abs().max() <= 1.0
    assert item["caption"].startswith("A dog barks") and item["id"] == "94"


def test_phrases_are_fixed_to_p_with_weights(audiocaps_root):
    data, _ = make(audiocaps_root, n_phrases=3)
    for i in range(len(data)):
        item, _ = quiet(data.__getitem__, i)  # the NaN clip warns and is replaced
        assert len(item["phrases"]) == 3
        weights = item["phrase_weights"]
        for phrase in set(item["phrases"]):  # every distinct source weighs 1 in total
            total = sum(w for p, w in zip(item["phrases"], weights.tolist()) if p == phrase)
            assert total == pytest.approx(1.0)


def test_nan_file_is_put_aside_and_replaced(audiocaps_root):
    data, _ = make(audiocaps_root)
    index = [c.youtube_id for c in data.clips].index("nan")
    item, warnings = quiet(data.__getitem__, index)
    assert item["youtube_id"] != "nan" and torch.isfinite(item["mixture"]).all()
    assert data.load_failures == 1 and any("NaN" in w for w in warnings)
    again, warnings = quiet(data.__getitem__, index)  # known bad: no new warning
    assert again["youtube_id"] == item["youtube_id"] and not warnings


def test_training_items_are_deterministic_per_seed_and_epoch(audiocaps_root):
    a, _ = make(audiocaps_root, seed=1)
    b, _ = make(audiocaps_root, seed=1)
    assert torch.equal(a[2]["mixture"], b[2]["mixture"])
    a.set_epoch(1)
    assert not torch.equal(a[2]["mixture"], b[2]["mixture"])  # new crop and gain
    c, _ = make(audiocaps_root, seed=2)
    assert not torch.equal(c[2]["mixture"], b[2]["mixture"])


def test_evaluation_items_are_centred_and_unscaled(audiocaps_root):
    data, _ = make(audiocaps_root, train=False)
    again, _ = make(audiocaps_root, train=False, seed=5)
    assert torch.equal(data[0]["mixture"], again[0]["mixture"])


def test_phrase_override_file_replaces_the_rules(audiocaps_root, tmp_path):
    overrides = tmp_path / "phrases.json"
    overrides.write_text(json.dumps({"94": ["Barking", "Speech", "Wind", "Rain"]}))
    data, _ = make(audiocaps_root, phrases=overrides, n_phrases=2)
    index = [c.audiocap_id for c in data.clips].index("94")
    assert set(data[index]["phrases"]) <= {"Barking", "Speech", "Wind", "Rain"}


def test_bad_arguments(audiocaps_root, tmp_path):
    (tmp_path / "bad.csv").write_text("id,caption\n1,x\n")
    with pytest.raises(ValueError, match="missing column"):
        AudioCapsDataset(tmp_path / "bad.csv", f"{audiocaps_root}/audio")
    with pytest.raises(ValueError, match="audio_dir"):
        AudioCapsDataset(f"{audiocaps_root}/train.csv", tmp_path / "nope")
    with pytest.raises(ValueError, match="segment is required"):
        AudioCapsDataset(f"{audiocaps_root}/train.csv", f"{audiocaps_root}/audio", segment=None)
    (tmp_path / "audio").mkdir()
    with pytest.raises(ValueError, match="no usable clip"):
        quiet(AudioCapsDataset, f"{audiocaps_root}/test.csv", tmp_path / "audio")


def test_get_infos(audiocaps_root):
    data, _ = make(audiocaps_root)
    infos = data.get_infos()
    assert infos["dataset"] == "AudioCaps" and infos["licenses"][0]["title_link"]
