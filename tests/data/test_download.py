"""Stage 0: list files, tool checks and the fetch loop (with stand-in yt-dlp and ffmpeg)."""

import json
import os
import stat
import sys

import pytest
import soundfile as sf

from asteroid_wsas.cli import main
from asteroid_wsas.data.download import DownloadUnavailable, clips_to_fetch, download

# Stand-ins for the tools: yt-dlp "downloads" a wav named after the video id unless the id
# starts with "gone"; ffmpeg converts by resampling with soundfile's help (copying here).
FAKE_YTDLP = """#!{python}
import sys, numpy as np, soundfile as sf
args = sys.argv[1:]
out = args[args.index("-o") + 1].replace("%(ext)s", "wav")
url = args[-1]
open(sys.argv[0] + ".log", "a").write(" ".join(args) + "\\n")
if "v=gone" in url:
    sys.exit(1)
sf.write(out, np.full(800, 0.1, dtype="float32"), 8000)
"""
FAKE_FFMPEG = """#!{python}
import sys, shutil
args = sys.argv[1:]
shutil.copy(args[args.index("-i") + 1], args[-1])
"""


def _tools(folder, monkeypatch):
    folder.mkdir()
    for name, text in (("yt-dlp", FAKE_YTDLP), ("ffmpeg", FAKE_FFMPEG)):
        path = folder / name
        path.write_text(text.format(python=sys.executable))
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


def test_missing_tools_say_what_to_fetch(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither tool
    with pytest.raises(DownloadUnavailable, match="yt-dlp and ffmpeg not found") as err:
        download("audiocaps", str(tmp_path / "ac"), progress=False)
    assert "train.csv" in str(err.value) and "audio/<youtube_id>.wav" in str(err.value)
    with pytest.raises(SystemExit) as code:
        main(["download", "music", str(tmp_path / "m")])
    assert code.value.code == 1
    assert "MUSIC_solo_videos.json" in capsys.readouterr().err


def test_clips_of_each_list(tmp_path):
    (tmp_path / "MUSIC_solo_videos.json").write_text(json.dumps({"videos": {"cello": ["a1"]}}))
    (tmp_path / "vggsound.csv").write_text("yt1,30,dog barking,train\nyt1,30,dup,train\n")
    for split in ("train", "val", "test"):
        (tmp_path / f"{split}.csv").write_text(
            f"audiocap_id,youtube_id,start_time,caption\n1,{split}x,12,A dog barks\n"
        )
    assert clips_to_fetch("music", str(tmp_path))[0].path.endswith("audio/cello/a1.wav")
    vgg = clips_to_fetch("vggsound", str(tmp_path))
    assert [(c.youtube_id, c.start) for c in vgg] == [("yt1", 30.0)]  # duplicates once
    assert vgg[0].path.endswith("audio/yt1_000030.wav")
    caps = clips_to_fetch("audiocaps", str(tmp_path))
    assert sorted(c.youtube_id for c in caps) == ["testx", "trainx", "valx"]
    with pytest.raises(ValueError, match="dataset must be one of"):
        clips_to_fetch("esc50", str(tmp_path))


def test_fetches_missing_clips_and_counts_gone_ones(tmp_path, monkeypatch):
    tools = _tools(tmp_path / "bin", monkeypatch)
    root = tmp_path / "vgg"
    root.mkdir()
    (root / "vggsound.csv").write_text("ok1,10,dog,train\ngone2,20,cat,test\nok3,0,cow,test\n")
    counts = download("vggsound", str(root), progress=False)
    assert counts == {"present": 0, "fetched": 2, "failed": 1}
    wav, rate = sf.read(root / "audio" / "ok1_000010.wav")
    assert rate == 8000 and len(wav) == 800
    assert not list((root / "audio").glob("*.part*"))
    log = (tools / "yt-dlp.log").read_text()
    assert "*10.0-20.0" in log  # only the 10 s span is fetched
    # a rerun fetches only what is missing
    counts = download("vggsound", str(root), progress=False)
    assert counts == {"present": 2, "fetched": 0, "failed": 1}


def test_unreachable_list_file_is_explained(tmp_path, monkeypatch):
    _tools(tmp_path / "bin", monkeypatch)

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(DownloadUnavailable, match="could not fetch .*unreachable"):
        download("music", str(tmp_path / "m"), progress=False)
    assert not (tmp_path / "m" / "MUSIC_solo_videos.json").exists()
