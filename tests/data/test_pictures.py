"""Drawn class pictures and the generated layouts' video frames."""

import json
import os

import numpy as np
import pytest

from asteroid_wsas.cli import main
from asteroid_wsas.data import FrameStore
from asteroid_wsas.data.pictures import (
    draw_frame,
    frame_count,
    scene,
    video_style,
    write_frames_info,
    write_video_frames,
)
from asteroid_wsas.data.synthetic import SOUND_CLASSES, write_music_layout, write_vggsound_layout

CLASSES = list(SOUND_CLASSES)[:6]


def frame(label, seed, t=0.0, size=64):
    return draw_frame(label, np.random.default_rng(seed), size=size, t=t).astype(float)


def test_pictures_are_deterministic_and_vary_between_videos():
    a = draw_frame("violin", np.random.default_rng(5), size=48, t=0.5)
    assert a.shape == (48, 48, 3) and a.dtype == np.uint8
    assert np.array_equal(a, draw_frame("violin", np.random.default_rng(5), size=48, t=0.5))
    assert scene("violin") == scene("violin") and scene("violin") != scene("cello")
    for label in CLASSES:  # no class is one constant picture
        assert np.abs(frame(label, 1) - frame(label, 2)).mean() > 8


def test_frames_of_one_video_move_a_little_over_time():
    for label in CLASSES:
        start, later, other = frame(label, 3, 0.0), frame(label, 3, 1.0), frame(label, 4)
        moved = np.abs(start - later).mean()
        assert 1 < moved < 0.5 * np.abs(start - other).mean(), label


def test_a_nearest_centroid_classifier_tells_the_classes_apart():
    def features(label, video):
        rng = np.random.default_rng([video, len(label), ord(label[0])])
        style = video_style(label, rng)
        for t in (0.3, 2.1):
            small = draw_frame(label, rng, size=64, t=t, style=style).astype(float)
            yield small.reshape(16, 4, 16, 4, 3).mean(axis=(1, 3)).ravel()  # 16 x 16

    centroids = np.stack(
        [np.mean([f for v in range(8) for f in features(c, v)], axis=0) for c in CLASSES]
    )
    correct, total = 0, 0
    for k, label in enumerate(CLASSES):
        for video in range(100, 106):  # held-out videos
            for f in features(label, video):
                correct += int(np.argmin(((centroids - f) ** 2).sum(axis=1)) == k)
                total += 1
    assert correct / total > 0.7  # chance: 1/6


def test_written_frames_and_videos_read_back_alike(tmp_path):
    folder = write_video_frames(tmp_path, "bell", "b0", 2.2, 2.0, np.random.default_rng(0))
    assert sorted(os.listdir(folder)) == [f"{k:06d}.jpg" for k in range(frame_count(2.2, 2.0))]
    assert frame_count(2.2, 2.0) == 5
    write_frames_info(tmp_path, 2.0)
    assert json.loads((tmp_path / "frames" / "info.json").read_text()) == {"fps": 2.0}
    pytest.importorskip("av")
    path = write_video_frames(
        tmp_path, "bell", "b1", 2.2, 2.0, np.random.default_rng(0), size=32, video=True
    )
    assert path == str(tmp_path / "video" / "bell" / "b1.mp4")
    store = FrameStore(tmp_path, size=32)
    assert store.fps == 2.0
    extracted = store.read("bell", "b0", 0.0, 2.5, 5).float()
    decoded = store.read("bell", "b1", 0.0, 2.5, 5).float()
    # the same drawing (same generator), one as JPEGs at 64 px, one as a lossy 32 px video
    assert (extracted - decoded).abs().mean() < 12
    # and the frames of one video do move: the first and the last differ
    assert (extracted[0] - extracted[-1]).abs().mean() > 1


def read_files(root, folder):
    out = {}
    for base, _, files in os.walk(os.path.join(root, folder)):
        for name in files:
            with open(os.path.join(base, name), "rb") as f:
                out[os.path.relpath(os.path.join(base, name), root)] = f.read()
    return out


def test_music_layout_frames_leave_the_audio_as_it_was(tmp_path):
    args = dict(videos_per_class=2, classes=CLASSES[:3], seconds=1.0, sample_rate=8000, seed=4)
    write_music_layout(tmp_path / "plain", **args)
    listing = write_music_layout(tmp_path / "video", frames=True, fps=3.0, frame_size=32, **args)
    assert read_files(tmp_path / "plain", "audio") == read_files(tmp_path / "video", "audio")
    assert not os.path.exists(tmp_path / "plain" / "frames")
    videos = json.load(open(listing))["videos"]
    store = FrameStore(tmp_path / "video", size=32)
    assert store.fps == 3.0
    folders = {
        os.path.relpath(os.path.join(base), tmp_path / "video" / "frames")
        for base, dirs, files in os.walk(tmp_path / "video" / "frames")
        if not dirs
    }
    assert folders == {f"{c}/{v}" for c, ids in videos.items() for v in ids}
    for label, ids in videos.items():
        for video_id in ids:
            assert len(os.listdir(tmp_path / "video" / "frames" / label / video_id)) == 3
            assert store.read(label, video_id, 0.0, 1.0, 3).shape == (3, 3, 32, 32)
    # the two videos of a class show different pictures
    first, second = (store.read(CLASSES[0], i, 0.0, 0.0).float() for i in videos[CLASSES[0]])
    assert (first - second).abs().mean() > 5


def test_vggsound_layout_frames_are_found_for_its_clips(tmp_path):
    from asteroid_wsas.data import vggsound_clips

    path = write_vggsound_layout(
        tmp_path, {"train": 2, "test": 1}, CLASSES[:2], 1.0, 8000, frames=True
    )
    clips = vggsound_clips(path, tmp_path / "audio", "train")
    assert len(clips) == 4 and FrameStore(tmp_path).check(clips) == clips


def test_generate_cli_writes_frames_for_music(tmp_path, capsys):
    root = tmp_path / "m"
    main(["generate", "music", str(root), "--per-class", "2", "--seconds", "0.5", "--frames"])
    main(["generate", "music", str(tmp_path / "plain"), "--per-class", "2", "--seconds", "0.5"])
    assert read_files(root, "audio") == read_files(tmp_path / "plain", "audio")
    videos = json.load(open(root / "MUSIC_solo_videos.json"))["videos"]
    store = FrameStore(root, size=16)
    entries = [type("E", (), {"label": c, "video_id": v}) for c in videos for v in videos[c]]
    assert len(entries) == 2 * len(SOUND_CLASSES) and store.check(entries) == entries
    assert store.fps == 2.0  # the default --fps
    assert len(os.listdir(root / "frames" / "beep" / "bee000")) == 1  # 0.5 s at 2 frame/s
    main(["generate", "vggsound", str(tmp_path / "v"), "--per-class", "1", "--frames"])
    assert os.path.isfile(tmp_path / "v" / "frames" / "info.json")
    with pytest.raises(SystemExit, match="audiocaps layout has no videos"):
        main(["generate", "audiocaps", str(tmp_path / "a"), "--frames"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:  # a usage error, where the option is read
        main(["generate", "music", str(tmp_path / "b"), "--frames", "--fps", "0"])
    assert stop.value.code == 2
    assert "argument --fps: must be a positive number, got '0'" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_generate_cli_writes_frames_for_rendered_music(tmp_path):
    from asteroid_wsas.data import rendered as R

    try:
        R.check_tools()
    except R.MissingTool as err:
        if os.environ.get("WSAS_REQUIRE_RENDER") == "1":
            raise
        pytest.skip(str(err))
    root = tmp_path / "r"
    args = ["--sounds", "rendered", "--per-class", "1", "--seconds", "0.5"]
    main(["generate", "music", str(root), *args, "--frames", "--fps", "4", "--frame-size", "32"])
    videos = json.load(open(root / "MUSIC_solo_videos.json"))["videos"]
    store = FrameStore(root, size=32)
    assert store.fps == 4.0
    for label, ids in videos.items():
        assert store.read(label, ids[0], 0.0, 0.5, 2).shape == (2, 3, 32, 32)
    assert json.load(open(root / "generator.json"))["frames"] == {"fps": 4.0, "size": 32}
    # the audio is what the same command without --frames renders
    R.write_rendered_music_layout(
        tmp_path / "plain", 1, ["piano"], 0.5, 16000, seed=0, progress=False
    )
    piano = videos["piano"][0]
    assert (root / "audio" / "piano" / f"{piano}.wav").read_bytes() == (
        tmp_path / "plain" / "audio" / "piano" / f"{piano}.wav"
    ).read_bytes()
    # VGGSound's clips: frames under the CSV's label and the clip's id
    from asteroid_wsas.data import vggsound_clips

    vgg = tmp_path / "vgg"
    path = R.write_rendered_vggsound_layout(
        vgg, 2, ["piano", "birds"], 0.5, 8000, progress=False, frames=True
    )
    clips = vggsound_clips(path, vgg / "audio", "train") + vggsound_clips(
        path, vgg / "audio", "test"
    )
    assert len(clips) == 4 and FrameStore(vgg).check(clips) == clips
