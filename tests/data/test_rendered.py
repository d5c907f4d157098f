"""Rendered realistic sounds: tools, determinism, layouts, captions and clean events.

These need FluidSynth, a GM soundfont and espeak-ng (``.ci/run`` installs them and sets
``WSAS_REQUIRE_RENDER=1``, which turns a missing tool into a failure instead of a skip).
"""

import csv
import json
import os

import numpy as np
import pytest
import soundfile as sf

from asteroid_wsas.cli import main
from asteroid_wsas.data import event_test_set, music_solos, read_events
from asteroid_wsas.data import rendered as R
from asteroid_wsas.text import split_caption


def _tools_or_skip():
    try:
        R.check_tools(speech=True)
    except R.MissingTool as err:
        if os.environ.get("WSAS_REQUIRE_RENDER") == "1":
            raise
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    _tools_or_skip()
    root = tmp_path_factory.mktemp("music")
    R.write_rendered_music_layout(
        root, 3, ["cello", "drum", "flute", "piano"], 2.0, 8000, seed=1, progress=False
    )
    return root


@pytest.fixture(scope="module")
def captions(tmp_path_factory):
    _tools_or_skip()
    root = tmp_path_factory.mktemp("audiocaps")
    R.write_rendered_audiocaps_layout(
        root, {"train": 12, "test": 6}, 2.0, 8000, seed=2, progress=False
    )
    return root


def test_missing_tools_are_named_with_the_install_command(monkeypatch):
    # find_soundfont reads the defaults of the module that defines it
    monkeypatch.setattr(R.synth, "SOUNDFONTS", ())
    monkeypatch.delenv("WSAS_SOUNDFONT", raising=False)
    monkeypatch.setattr(R.synth.shutil, "which", lambda name: None)
    with pytest.raises(R.MissingTool, match="a GM soundfont, espeak-ng: apt-get install"):
        R.check_tools(speech=True)
    with pytest.raises(R.MissingTool, match="not found"):
        R.find_soundfont("/nowhere/x.sf2")


def test_music_layout_is_complete_and_non_silent(music):
    videos = json.loads((music / "MUSIC_solo_videos.json").read_text())["videos"]
    assert sorted(videos) == ["cello", "drum", "flute", "piano"]
    assert all(len(v) == 3 for v in videos.values())
    info = json.loads((music / "generator.json").read_text())
    assert info["sample_rate"] == 8000 and os.path.isfile(info["soundfont"])
    for label, ids in videos.items():
        for video_id in ids:
            wave, rate = sf.read(music / "audio" / label / f"{video_id}.wav")
            assert rate == 8000 and len(wave) == 16000
            frames = wave[: len(wave) // 400 * 400].reshape(-1, 400)
            active = (np.sqrt((frames**2).mean(1)) > 0.005).mean()
            assert active > 0.3, f"{label}/{video_id} is mostly silent"
    solos = music_solos(music / "MUSIC_solo_videos.json", music / "audio", "train", test_fraction=0)
    assert len(solos) == 12


def test_recordings_are_deterministic_and_independent_of_the_class_subset(music, tmp_path):
    R.write_rendered_music_layout(tmp_path, 2, ["piano"], 2.0, 8000, seed=1, progress=False)
    for video in ("pian000", "pian001"):
        a, _ = sf.read(music / "audio" / "piano" / f"{video}.wav")
        b, _ = sf.read(tmp_path / "audio" / "piano" / f"{video}.wav")
        assert np.array_equal(a, b)
    first, _ = sf.read(music / "audio" / "piano" / "pian000.wav")
    second, _ = sf.read(music / "audio" / "piano" / "pian001.wav")
    assert not np.allclose(first, second)  # each recording its own melody, register, room


def test_note_makers_stay_in_range():
    rng = np.random.default_rng(0)
    for legato in (True, False):
        notes = R.melody(rng, 48, 72, 6.0, legato)
        assert notes and all(48 <= n.key <= 72 and 1 <= n.velocity <= 127 for n in notes)
        assert all(0 <= n.onset < 6.0 and n.length > 0 for n in notes)
    for arpeggio in (True, False):
        assert all(33 <= n.key <= 96 + 12 for n in R.chords(rng, 33, 96, 4.0, arpeggio))
    hits = R.drum_pattern(rng, ((36,), (38,)), 4.0)
    assert {n.key for n in hits} <= {36, 38}
    with pytest.raises(ValueError, match="unknown instruments"):
        R.write_rendered_music_layout("/tmp/x", 1, ["kazoo"])


def test_audiocaps_layout_keeps_events_that_sum_to_the_clip(captions):
    with open(captions / "test.csv", newline="") as f:
        clips = list(csv.DictReader(f))
    events = read_events(captions / "test_events.csv")
    assert len(clips) == 6 and set(events) == {c["youtube_id"] for c in clips}
    for clip in clips:
        rows = events[clip["youtube_id"]]
        assert 1 <= len(rows) <= 4 and len({r["label"] for r in rows}) == len(rows)
        mixture, rate = sf.read(captions / "audio" / f"{clip['youtube_id']}.wav")
        parts = [sf.read(captions / r["file"])[0] for r in rows]
        assert rate == 8000 and len(mixture) == 16000
        # 16-bit files: each holds its own rounding
        assert np.abs(np.sum(parts, 0) - mixture).max() <= (len(parts) + 1) / 32768
        # the caption is written so that the project's splitter recovers each event's phrase
        assert [p.lower() for p in split_caption(clip["caption"])] == [
            r["phrase"].lower() for r in rows
        ]
        onsets = [float(r["onset"]) for r in rows]
        assert onsets == sorted(onsets)


def test_speech_is_rendered_at_the_asked_length():
    _tools_or_skip()
    wave = R.speak(np.random.default_rng(0), True, 1.5, 8000)
    assert wave.shape == (12000,) and np.abs(wave).max() > 0.01


def test_generate_cli_renders_and_refuses_to_overwrite(tmp_path, capsys):
    _tools_or_skip()
    root = tmp_path / "m"
    args = ["generate", "music", str(root), "--sounds", "rendered", "--per-class", "1"]
    main(args + ["--seconds", "0.5", "--sample-rate", "8000"])
    assert "rendered music-layout data" in capsys.readouterr().out
    assert len(json.loads((root / "MUSIC_solo_videos.json").read_text())["videos"]) == 17
    with pytest.raises(SystemExit, match="exists"):
        main(args)
    vgg = tmp_path / "v"
    main(["generate", "vggsound", str(vgg), "--sounds", "rendered", "--per-class", "2"])
    assert "rendered vggsound-layout data" in capsys.readouterr().out
    rows = list(csv.reader(open(vgg / "vggsound.csv")))
    assert len(rows) == 2 * len(R.EVENT_CLASSES)  # one train, one test clip per class


def test_vggsound_layout_is_read_by_the_vggsound_data(tmp_path):
    from asteroid_wsas.data import get_dataset_class

    _tools_or_skip()
    classes = ["piano", "birds", "man"]
    R.write_rendered_vggsound_layout(tmp_path, 5, classes, 1.0, 8000, seed=3, progress=False)
    rows = list(csv.reader(open(tmp_path / "vggsound.csv")))
    assert {r[2] for r in rows} == {R.VGGSOUND_LABELS[c] for c in classes}
    assert [r[3] for r in rows].count("test") == 3  # 20 % of 5, per class
    data = get_dataset_class("vggsound")({"root": str(tmp_path), "sample_rate": 8000})
    train, val, test = data.solos("train"), data.solos("val"), data.solos("test")
    # each class keeps one of its 4 training clips for validation (5 % rounds to 0)
    assert len(train) + len(val) + len(test) == 15 and len(test) == 3 and len(val) == 3
    waves = {}
    for row in rows:
        wave, rate = sf.read(tmp_path / "audio" / f"{row[0]}_{int(row[1]):06d}.wav")
        assert rate == 8000 and len(wave) == 8000 and np.sqrt(np.mean(wave**2)) > 0.005
        waves[row[0]] = wave
    # the same piano drawn by the MUSIC writer with the same seed is another recording
    R.write_rendered_music_layout(tmp_path / "m", 1, ["piano"], 1.0, 8000, seed=3, progress=False)
    music, _ = sf.read(tmp_path / "m" / "audio" / "piano" / "pian000.wav")
    assert not np.allclose(music, waves["pian000vgg"], atol=1e-3)
    with pytest.raises(ValueError, match="clips_per_class"):
        R.write_rendered_vggsound_layout(tmp_path / "x", 1, classes, progress=False)
