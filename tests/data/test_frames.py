"""Video frames: where they are found, which frame a time shows, and bad videos."""

import importlib.util
import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from asteroid_wsas.data import FrameStore, MissingFrames, UnreadableFrames, load_image
from asteroid_wsas.data import frames as frames_module
from asteroid_wsas.data.audio import UnreadableAudio
from asteroid_wsas.data.pictures import write_video

from .conftest import quiet

needs_av = pytest.mark.skipif(importlib.util.find_spec("av") is None, reason="needs PyAV")


def coded(k: int, height: int = 24, width: int = 40) -> np.ndarray:
    """Frame ``k`` filled with grey level 10 k (mod 256); white side strips that a square
    crop drops."""
    frame = np.full((height, width, 3), 10 * k % 256, np.uint8)
    margin = (width - height) // 2
    frame[:, :margin] = 255
    frame[:, width - margin :] = 255
    return frame


def write_folder(folder, n: int, ext: str = "png", name=lambda k: f"{k:06d}") -> None:
    os.makedirs(folder, exist_ok=True)
    for k in range(n):
        Image.fromarray(coded(k)).save(os.path.join(folder, f"{name(k)}.{ext}"))


def levels(frames: torch.Tensor) -> list:
    """The grey level of each frame (their mean, rounded)."""
    return [int(round(f.float().mean().item())) for f in frames]


def test_frame_folders_show_floor_of_time_times_fps(tmp_path):
    write_folder(tmp_path / "frames" / "violin" / "v1", 20)
    store = FrameStore(tmp_path, fps=4, size=8)
    frames = store.read("violin", "v1", start=1.0, seconds=2.0, n_frames=4)
    assert frames.shape == (4, 3, 8, 8) and frames.dtype == torch.uint8
    # centres 1.25, 1.75, 2.25, 2.75 s -> frames 5, 7, 9, 11; the white strips are cropped
    assert frames.unique(dim=0).shape[0] == 4 and (frames[0] == 50).all()
    assert levels(frames) == [50, 70, 90, 110]
    assert levels(store.read("violin", "v1", 0.0, 0.5)) == [10]  # t = 0.25: frame 1
    assert levels(store.read("violin", "v1", 4.5, 2.0, 2)) == [190, 190]  # past the end
    assert levels(store.read("violin", "v1", -3.0, 0.0)) == [0]  # before the start
    # 0.57 * 100 is 56.99999... in floating point: still frame 57
    write_folder(tmp_path / "frames" / "violin" / "v2", 60, name=lambda k: f"f{k}")
    fine = FrameStore(tmp_path, fps=100, size=4)
    assert levels(fine.read("violin", "v2", 0.57, 0.0)) == [570 % 256]
    # names are sorted with their numbers as numbers: f10 after f9
    assert levels(fine.read("violin", "v2", 0.10, 0.0)) == [100]


def test_sound_of_pixels_folders_and_info_json(tmp_path):
    write_folder(tmp_path / "frames" / "cello" / "abc.mp4", 10, ext="jpg")
    with open(tmp_path / "frames" / "info.json", "w") as f:
        json.dump({"fps": 2}, f)
    store = FrameStore(tmp_path, size=16)
    assert store.fps == 2.0 and store.has("cello", "abc")
    assert store.locate("cello", "abc").endswith("abc.mp4")
    # centres 2 and 4 s -> frames 4 and 8 (JPEG: a level or two off)
    got = levels(store.read("cello", "abc", 1.0, 4.0, 2))
    assert np.allclose(got, [40, 80], atol=2), got
    assert FrameStore(tmp_path, fps=8).fps == 8.0  # an explicit rate wins
    assert FrameStore(tmp_path / "elsewhere").fps == 8.0  # no info.json: 8, as CLIPSep
    with open(tmp_path / "frames" / "info.json", "w") as f:
        f.write("{}")
    with pytest.raises(ValueError, match="info.json"):
        FrameStore(tmp_path)


@needs_av
@pytest.mark.parametrize("codec, folder, ext", [("mpeg4", "video", "mp4"), (None, "videos", "mkv")])
def test_videos_show_the_last_frame_at_or_before_each_time(tmp_path, codec, folder, ext):
    path = tmp_path / folder / "flute" / f"f1.{ext}"
    write_video(path, (coded(k, 48, 64) for k in range(20)), fps=5, codec=codec)
    store = FrameStore(tmp_path, fps=1000, size=16)  # the video's own timing, not fps
    assert store.locate("flute", "f1") == str(path)
    # centres 1.25, 1.75, 2.25, 2.75 s at 5 frame/s -> frames 6, 8, 11, 13 (seeks to 1.25 s)
    got = levels(store.read("flute", "f1", 1.0, 2.0, 4))
    assert np.allclose(got, [60, 80, 110, 130], atol=3), got
    assert np.allclose(levels(store.read("flute", "f1", 0.0, 0.3)), [0], atol=3)
    assert np.allclose(levels(store.read("flute", "f1", 9.0, 2.0, 2)), [190, 190], atol=3)
    frames = store.read("flute", "f1", 3.0, 0.0)
    assert frames.shape == (1, 3, 16, 16)
    assert (frames.float() - 150).abs().max() <= 4  # the white strips are cropped away


@needs_av
def test_extracted_frames_win_and_empty_folders_do_not_count(tmp_path):
    write_video(tmp_path / "video" / "tuba" / "t1.mp4", [coded(k, 48, 64) for k in range(4)], 2)
    os.makedirs(tmp_path / "frames" / "tuba" / "t1")  # empty: the video is used
    assert FrameStore(tmp_path).locate("tuba", "t1").endswith("t1.mp4")
    write_folder(tmp_path / "frames" / "tuba" / "t1.mp4", 3)
    assert FrameStore(tmp_path).locate("tuba", "t1").endswith(os.path.join("tuba", "t1.mp4"))
    assert os.path.isdir(FrameStore(tmp_path).locate("tuba", "t1"))


def test_listing_is_made_once_per_video(tmp_path, monkeypatch):
    write_folder(tmp_path / "frames" / "harp" / "h1", 5)
    store = FrameStore(tmp_path, fps=1, size=4)
    calls = []
    listdir = os.listdir

    def counting(path):
        calls.append(path)
        return listdir(path)

    monkeypatch.setattr(frames_module.os, "listdir", counting)
    for start in range(5):
        assert levels(store.read("harp", "h1", float(start), 0.0)) == [10 * start]
    assert len(calls) == 1


@needs_av
def test_missing_videos_are_left_out_and_counted(tmp_path):
    write_folder(tmp_path / "frames" / "drum" / "d1", 2)
    write_video(tmp_path / "video" / "drum" / "d2.mp4", [coded(0, 48, 64)] * 2, 2)
    entries = [SimpleNamespace(label="drum", video_id=v) for v in ("d1", "d2", "gone")]
    store = FrameStore(tmp_path, size=8)
    kept, warnings = quiet(store.check, entries, "MUSIC train frames")
    assert [e.video_id for e in kept] == ["d1", "d2"]
    assert warnings == [
        "MUSIC train frames: skipped 1 of 3 entries (1 missing frames); e.g. drum/gone"
    ]
    with pytest.raises(MissingFrames, match="drum/gone") as caught:
        store.read("drum", "gone", 0.0, 1.0)
    # a dataset that skips unreadable audio skips it too; and it is a missing file
    assert isinstance(caught.value, UnreadableAudio)
    assert isinstance(caught.value, FileNotFoundError)
    assert "frames/drum/gone" in str(caught.value)


@needs_av
def test_corrupt_images_and_videos_are_unreadable(tmp_path):
    folder = tmp_path / "frames" / "bell" / "b1"
    write_folder(folder, 2, ext="jpg")
    with open(folder / "000001.jpg", "wb") as f:
        f.write(b"\xff\xd8 not a jpeg")
    truncated = tmp_path / "frames" / "bell" / "b2"
    write_folder(truncated, 1, ext="jpg")
    data = (truncated / "000000.jpg").read_bytes()
    (truncated / "000000.jpg").write_bytes(data[: len(data) // 2])
    videos = tmp_path / "video" / "bell"
    os.makedirs(videos)
    (videos / "b3.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    (videos / "b4.mp4").write_bytes(b"")
    store = FrameStore(tmp_path, fps=1, size=8)
    assert levels(store.read("bell", "b1", 0.0, 0.0)) == [0]  # the good frame still reads
    for video_id, what in [("b1", "000001.jpg"), ("b2", "000000.jpg"), ("b3", "b3.mp4")]:
        with pytest.raises(UnreadableFrames, match=what):
            store.read("bell", video_id, 1.0 if video_id == "b1" else 0.0, 0.0)
    with pytest.raises(UnreadableFrames, match="b4.mp4"):
        store.read("bell", "b4", 0.0, 1.0)
    entries = [SimpleNamespace(label="bell", video_id=f"b{i}") for i in range(2, 5)]
    kept, warnings = quiet(store.check, entries, decode=True)
    assert kept == [] and "3 unreadable frames" in warnings[0]
    assert quiet(store.check, entries)[0] == entries  # without decoding: the files are there


def test_read_refuses_bad_arguments(tmp_path):
    write_folder(tmp_path / "frames" / "oboe" / "o1", 2)
    store = FrameStore(tmp_path)
    with pytest.raises(ValueError, match="n_frames"):
        store.read("oboe", "o1", 0.0, 1.0, n_frames=0)
    with pytest.raises(ValueError, match="seconds"):
        store.read("oboe", "o1", 0.0, -1.0)
    with pytest.raises(ValueError, match="fps"):
        FrameStore(tmp_path, fps=0)
    with pytest.raises(ValueError, match="size"):
        FrameStore(tmp_path, size=0)


# ------------------------------------------------------------------------------ load_image
def picture() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(4, 6, 3), dtype=np.uint8)


def test_load_image_takes_paths_pil_numpy_and_tensors(tmp_path):
    hwc = picture()
    chw = torch.from_numpy(hwc).permute(2, 0, 1)
    Image.fromarray(hwc).save(tmp_path / "p.png")
    rgba = np.concatenate([hwc, np.full((4, 6, 1), 7, np.uint8)], axis=2)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    for image in (
        str(tmp_path / "p.png"),
        tmp_path / "p.png",  # os.PathLike
        tmp_path / "a.png",  # RGBA: the alpha channel is dropped
        Image.fromarray(hwc),
        hwc,
        hwc / 255.0,
        hwc.astype(np.float32) / 255,
        chw,
        chw.permute(1, 2, 0),  # (H, W, 3)
        chw.float() / 255,
        chw.double().permute(1, 2, 0) / 255,
    ):
        out = load_image(image)
        assert out.dtype == torch.uint8 and out.shape == (3, 4, 6)
        assert torch.equal(out, chw), type(image)
    grey = np.arange(24, dtype=np.uint8).reshape(4, 6)
    for image in (grey, Image.fromarray(grey), torch.from_numpy(grey)):
        assert torch.equal(load_image(image), torch.from_numpy(grey).expand(3, 4, 6))


def test_load_image_crops_and_resizes_like_the_frames(tmp_path):
    frame = coded(7)
    out = load_image(frame, size=8)
    assert out.shape == (3, 8, 8) and (out == 70).all()
    Image.fromarray(frame).save(tmp_path / "f.png")
    write_folder(tmp_path / "frames" / "x" / "y", 8)
    via_store = FrameStore(tmp_path, fps=1, size=5).read("x", "y", 7.0, 0.0)[0]
    assert torch.equal(load_image(tmp_path / "f.png", size=5), via_store)


def test_load_image_errors_name_the_argument(tmp_path):
    (tmp_path / "bad.png").write_text("not an image")
    cases = [
        (np.zeros((4, 6, 4), np.uint8), ValueError, "image: expected an \\(H, W, 3\\)"),
        (np.zeros((0, 6, 3), np.uint8), ValueError, "image: expected"),
        (np.full((4, 6, 3), np.nan), ValueError, "image: NaN"),
        (np.full((4, 6, 3), 1.5), ValueError, "image: float values must be in \\[0, 1\\]"),
        (-np.ones((4, 6, 3)), ValueError, "image: float values"),
        (np.zeros((4, 6, 3), np.int64), TypeError, "image: expected uint8 or float"),
        (np.zeros((4, 6, 3), bool), TypeError, "image: expected uint8 or float"),
        (torch.zeros(2, 4, 5), ValueError, "image: expected an"),
        (torch.zeros(1, 3, 4, 4), ValueError, "image: expected an"),
        ([[0, 1], [2, 3]], TypeError, "image: expected a path, .* got list"),
        (tmp_path / "missing.png", FileNotFoundError, "missing.png"),
        (str(tmp_path / "bad.png"), ValueError, "image: cannot read .*bad.png"),
    ]
    for image, error, message in cases:
        with pytest.raises(error, match=message):
            load_image(image)
    with pytest.raises(ValueError, match="size"):
        load_image(picture(), size=0)


def test_flat_layouts_without_class_folders_come_last(tmp_path):
    # VGGSound's downloads: one folder of <youtube_id>_<start> videos / frame folders
    write_folder(tmp_path / "frames" / "abc_000030", 3)
    store = FrameStore(tmp_path, fps=1, size=4)
    assert store.has("dog barking", "abc_000030")
    assert levels(store.read("dog barking", "abc_000030", 2.0, 0.0)) == [20]
    # a class folder of the same id wins
    write_folder(
        tmp_path / "frames" / "dog barking" / "abc_000030", 3, name=lambda k: f"{k + 5:06d}"
    )
    again = FrameStore(tmp_path, fps=1, size=4)
    assert again.locate("dog barking", "abc_000030").endswith(
        os.path.join("dog barking", "abc_000030")
    )


def test_a_video_that_fails_is_put_aside_and_counted(tmp_path):
    folder = tmp_path / "frames" / "harp" / "h1"
    write_folder(folder, 2, ext="jpg")
    good = (folder / "000001.jpg").read_bytes()
    (folder / "000001.jpg").write_bytes(good[:20])
    store = FrameStore(tmp_path, fps=1, size=8)
    with pytest.warns(UserWarning, match="skipped from now on"):
        with pytest.raises(UnreadableFrames, match="000001.jpg"):
            store.read("harp", "h1", 1.0, 0.0)
    (folder / "000001.jpg").write_bytes(good)  # not decoded again in this run
    with pytest.raises(UnreadableFrames, match="put aside"):
        store.read("harp", "h1", 0.0, 0.0)
    assert store.load_failures == 1 and store.bad_videos == {("harp", "h1")}
    assert levels(FrameStore(tmp_path, fps=1, size=8).read("harp", "h1", 1.0, 0.0)) == [10]
