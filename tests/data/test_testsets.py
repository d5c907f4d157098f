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


# ---------------------------------------------------- the authors' composition (eval.composition)
RATE = 8000
STEP = 2.0**-17  # ramp step: sample i of a ramp file holds i * STEP exactly (float32 WAV)


def ramp_candidate(folder, name, label, seconds):
    """A float WAV whose sample i is i * STEP: a crop's values say where it was cut."""
    from asteroid_wsas.data.audio import probe
    from asteroid_wsas.data.testsets import Candidate

    path = folder / f"{name}.wav"
    n = int(round(seconds * RATE))
    sf.write(path, np.arange(n, dtype=np.float32) * STEP, RATE, subtype="FLOAT")
    return Candidate(name, probe(str(path)), label, f"The sound of {label}")


def expected_crop(n_file, centre, length, tile=False):
    """The authors' test crop written out from its description, independently of the code:
    file samples max(0, c - L//2) .. min(n, c + L//2) at the same offsets around the middle
    of a zero crop; a file shorter than L tiled first."""
    ramp = np.arange(n_file) * STEP
    if tile and n_file < length:
        ramp = np.tile(ramp, int(length / n_file) + 1)
    first, last = max(0, centre - length // 2), min(len(ramp), centre + length // 2)
    out = np.zeros(length)
    at = length // 2 - (centre - first)
    out[at : at + last - first] = ramp[first:last]
    return out


@pytest.mark.parametrize(
    "crop, seconds, centre, tile",
    [
        # MUSIC: t = int(5.3) // 2 + 1 = 3 s, c = (3 - 0.5) s = sample 20000
        ("music", 5.3, 20000, False),
        # a 0.6 s MUSIC file: tiled (4800 -> 9600 samples), t = 1 (0 // 2 + 1), c = 4000
        ("music", 0.6, 4000, True),
        # VGGSound: c = 4.5 s = 36000
        ("vggsound", 5.3, 36000, False),
        # AudioCaps: the file's centre; a short file zero-padded on both sides, not tiled
        ("centre", 0.6, 2400, False),
        ("centre", 5.3, 21200, False),
    ],
)
def test_authors_crops_are_read_back_where_the_authors_cut(tmp_path, crop, seconds, centre, tile):
    a = ramp_candidate(tmp_path, "a", "accordion", seconds)
    b = ramp_candidate(tmp_path, "b", "bassoon", seconds)
    test_set = build_test_set(
        "X", [a, b], tmp_path, seconds=1.0, sample_rate=RATE, composition="authors", crop=crop
    )
    assert test_set.composition == "authors" and len(test_set.mixtures) == 2
    want = expected_crop(int(round(seconds * RATE)), centre, RATE, tile)
    write_manifest(test_set, tmp_path / "m.json")
    for data in (TestSetDataset(test_set), TestSetDataset(tmp_path / "m.json")):
        for i, m in enumerate(test_set.mixtures):
            assert [s.crop for s in m.sources] == [crop, crop]
            assert all(s.offset == (centre - RATE // 2) / RATE for s in m.sources)
            refs = data[i]["references"].double().numpy()
            np.testing.assert_array_equal(refs, 0.5 * np.stack([want, want]))
    assert read_manifest(tmp_path / "m.json") == test_set


def test_authors_composition_keeps_the_list_order_and_draws_partners_by_clip(tmp_path):
    from asteroid_wsas.data.testsets import _authors_partners

    # the list's order, not sorted by id (their test list is read top to bottom)
    clips = [ramp_candidate(tmp_path, n, l, 1.2) for n, l in (("z", "x"), ("a", "y"), ("m", "x"))]
    test_set = build_test_set(
        "X", clips, tmp_path, seconds=1.0, sample_rate=RATE, composition="authors", crop="music"
    )
    assert [m.sources[0].id for m in test_set.mixtures] == ["z", "a", "m"]
    assert all(m.sources[0].label != m.sources[1].label for m in test_set.mixtures)
    # their partner is a uniform pick of the clips of other classes (redrawn on a taken
    # class): a class with 8 clips of 9 wins about 8 times in 9; ours picks classes evenly
    from asteroid_wsas.data.testsets import Candidate

    pool = [Candidate(f"c{i}", clips[0].info, "c", "") for i in range(8)]
    pool += [Candidate("b0", clips[0].info, "b", ""), Candidate("a0", clips[0].info, "a", "")]
    rng = np.random.default_rng(0)
    picks = [_authors_partners(pool[-1], pool, 2, rng)[0].label for _ in range(3000)]
    assert "a" not in picks
    assert picks.count("c") / len(picks) == pytest.approx(8 / 9, abs=0.03)
    three = [_authors_partners(pool[-1], pool, 3, rng) for _ in range(200)]
    assert all(sorted(p.label for p in ps) == ["b", "c"] for ps in three)


def test_build_test_set_refuses_bad_composition_arguments(tmp_path):
    clips = [ramp_candidate(tmp_path, n, n, 1.2) for n in ("a", "b")]
    with pytest.raises(ValueError, match="composition must be one of"):
        build_test_set("X", clips, tmp_path, seconds=1.0, composition="theirs")
    with pytest.raises(ValueError, match="crop must be one of"):
        build_test_set("X", clips, tmp_path, seconds=1.0, composition="authors")
    with pytest.raises(ValueError, match="crop is for composition='authors'"):
        build_test_set("X", clips, tmp_path, seconds=1.0, crop="music")


def test_our_manifests_have_no_new_keys_and_old_manifests_read_as_before(
    music_test, music_root, tmp_path
):
    import json

    write_manifest(build(music_test, music_root), tmp_path / "ours.json")
    data = json.loads((tmp_path / "ours.json").read_text())
    assert "composition" not in data
    assert set(data["mixtures"][0]["sources"][0]) == {
        "path",
        "offset",
        "gain",
        "query",
        "label",
        "id",
    }
    # a manifest as written before the authors' composition existed: read at its offset
    ramp_candidate(tmp_path, "a", "accordion", 2.0)
    old = {
        "format": "asteroid-wsas test set v1",
        "name": "old",
        "root": str(tmp_path),
        "sample_rate": RATE,
        "seconds": 0.5,
        "seed": 0,
        "mixtures": [
            {
                "id": "m0",
                "sources": [
                    {
                        "path": "a.wav",
                        "offset": 0.25,
                        "gain": 1.0,
                        "query": "q",
                        "label": "l",
                        "id": "a",
                    }
                ],
                "snr_db": None,
            }
        ],
    }
    (tmp_path / "old.json").write_text(json.dumps(old))
    test_set = read_manifest(tmp_path / "old.json")
    assert test_set.composition is None and test_set.mixtures[0].sources[0].crop is None
    ref = TestSetDataset(test_set)[0]["references"][0].double().numpy()
    np.testing.assert_array_equal(ref, (2000 + np.arange(4000)) * STEP)


@pytest.fixture(scope="module")
def captioned_root(tmp_path_factory):
    """AudioCaps layout with val and test lists of several captions per clip, as the
    official lists hold (5 each), and clips of different lengths."""
    import csv

    from asteroid_wsas.data.synthetic import write_audiocaps_layout

    root = tmp_path_factory.mktemp("captioned")
    write_audiocaps_layout(str(root), {"train": 4, "val": 3, "test": 3}, seconds=1.5)
    for split, extra in (("test", 2), ("val", 1)):
        path = root / f"{split}.csv"
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        more = [
            [f"{r[0]}{k}", r[1], r[2], f"{r[3]}, caption {k + 2}"]
            for r in body
            for k in range(extra)
        ]
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([header] + body + more)
    return root


def test_authors_audiocaps_2mix_every_caption_row_with_a_validation_partner(
    captioned_root, tmp_path
):
    import csv

    from asteroid_wsas.engine.evaluation import build_manifest

    def rows(split):
        with open(captioned_root / f"{split}.csv", newline="") as f:
            return [(r["youtube_id"], r["caption"]) for r in csv.DictReader(f)]

    test_rows, val_rows = rows("test"), rows("val")
    assert len(test_rows) == 9 and len(val_rows) == 6
    data = {
        "dataset": "audiocaps",
        "root": str(captioned_root),
        "sample_rate": RATE,
        "segment": 1.0,
    }
    path = build_manifest(data, tmp_path / "theirs.json", "test", composition="authors")
    test_set = read_manifest(path)
    assert test_set.composition == "authors" and len(test_set.mixtures) == len(test_rows)
    # each caption row once, in the list's order, queried with its own full caption
    assert [(m.sources[0].id, m.sources[0].query) for m in test_set.mixtures] == test_rows
    val_ids = {yid for yid, _ in val_rows}
    for m in test_set.mixtures:
        partner = m.sources[1]
        assert partner.id in val_ids and (partner.id, partner.query) in val_rows
        assert [s.crop for s in m.sources] == ["centre", "centre"]
        # the file's centre: 1.5 s = 12000 samples, a 1 s crop starts at 0.25 s
        assert [s.offset for s in m.sources] == [0.25, 0.25]
    item = TestSetDataset(path)[0]
    assert item["references"].shape == (2, RATE)
    # ours is as before: one mixture per clip, first caption, test clips as partners
    ours = read_manifest(build_manifest(data, tmp_path / "ours.json", "test"))
    assert ours.composition is None and len(ours.mixtures) == 3
    assert {s.id for m in ours.mixtures for s in m.sources} <= {yid for yid, _ in test_rows}
    # a validation set of the authors' composition: partners from the same list, never itself
    val = read_manifest(build_manifest(data, tmp_path / "val.json", "val", composition="authors"))
    assert len(val.mixtures) == 6
    assert all(m.sources[0].id != m.sources[1].id for m in val.mixtures)
    with pytest.raises(ValueError, match="eval.composition. must be one of"):
        build_manifest(data, tmp_path / "x.json", "test", composition="theirs")
