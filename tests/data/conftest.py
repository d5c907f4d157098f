"""Generated datasets in the public layouts, with the flaws real downloads have."""

import csv
import os
import shutil
import warnings

import numpy as np
import pytest
import soundfile as sf

from asteroid_wsas.data.synthetic import (
    write_audiocaps_layout,
    write_music_layout,
    write_vggsound_layout,
)

FLAWED = {  # youtube_id -> what is wrong with it (AudioCaps train split)
    "missing": "no audio file",
    "empty": "zero-length file",
    "corrupt": "corrupt header",
    "nan": "NaN samples",
    "stereo48k": "stereo 48 kHz",
    "prefixed": "named Y<youtube_id>",
    "in_split": "inside the train/ sub-folder",
    "nocaption": "empty caption",
}


@pytest.fixture(scope="session")
def audiocaps_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("audiocaps"))
    write_audiocaps_layout(root, {"train": 12, "test": 6}, formats=("wav", "flac", "ogg", "mp3"))
    audio = os.path.join(root, "audio")
    rng = np.random.default_rng(0)
    nan = np.full(16000, np.nan, dtype=np.float32)
    sf.write(os.path.join(audio, "nan.wav"), nan, 16000, subtype="FLOAT")  # PCM would drop NaN
    open(os.path.join(audio, "empty.wav"), "wb").close()
    with open(os.path.join(audio, "corrupt.wav"), "wb") as f:
        f.write(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    sf.write(os.path.join(audio, "stereo48k.wav"), 0.1 * rng.standard_normal((96000, 2)), 48000)
    sf.write(os.path.join(audio, "Yprefixed.flac"), 0.1 * rng.standard_normal(32000), 16000)
    os.makedirs(os.path.join(audio, "train"))
    sf.write(os.path.join(audio, "train", "in_split.wav"), 0.1 * rng.standard_normal(32000), 16000)
    sf.write(os.path.join(audio, "nocaption.wav"), 0.1 * rng.standard_normal(32000), 16000)
    with open(os.path.join(root, "train.csv"), "a", newline="") as f:
        writer = csv.writer(f)
        for i, yid in enumerate(FLAWED):
            caption = "" if yid == "nocaption" else f"A dog barks while a man speaks number {i}"
            writer.writerow([f"9{i}", yid, 0, caption])
    return root


@pytest.fixture(scope="session")
def music_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("music"))
    write_music_layout(root, videos_per_class=10)
    return root


@pytest.fixture(scope="session")
def vggsound_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("vggsound"))
    write_vggsound_layout(root, {"train": 4, "test": 2})
    return root


def quiet(fn, *args, **kwargs):
    """Call ``fn`` with warnings recorded; returns (result, list of warning texts)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return result, [str(w.message) for w in caught]
