"""Stage 0 of the recipes: fetch a dataset's list file and its audio from YouTube.

The three datasets are lists of YouTube videos; nobody may redistribute the audio. With
`yt-dlp <https://github.com/yt-dlp/yt-dlp>`_ and `ffmpeg <https://ffmpeg.org>`_ on the
``PATH`` (and a network), :func:`download` fetches each clip once, cuts it, converts it to
16 kHz mono wav and puts it where the dataset classes look. Without them it raises
:class:`DownloadUnavailable` with what to fetch and where to put it. Videos that are gone
(a few percent per year) are counted and skipped; a rerun only fetches what is missing.
"""

import csv
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from typing import Dict, List, NamedTuple, Optional

from tqdm.auto import tqdm

from ..utils import atomic_path

__all__ = ["LISTS", "Clip", "DownloadUnavailable", "clips_to_fetch", "download", "instructions"]

# list files and where the public releases keep them
LISTS: Dict[str, Dict[str, str]] = {
    "music": {
        "MUSIC_solo_videos.json": "https://raw.githubusercontent.com/roudimit/MUSIC_dataset/"
        "master/MUSIC_solo_videos.json",
    },
    "audiocaps": {
        f"{split}.csv": "https://raw.githubusercontent.com/cdjkim/audiocaps/master/dataset/"
        f"{split}.csv"
        for split in ("train", "val", "test")
    },
    "vggsound": {"vggsound.csv": "https://www.robots.ox.ac.uk/~vgg/data/vggsound/vggsound.csv"},
}
TOOLS = ("yt-dlp", "ffmpeg")
CLIP_SECONDS = 10.0  # AudioCaps and VGGSound clips; MUSIC solos are kept whole


class Clip(NamedTuple):
    """One audio file to produce: a YouTube id, a span (None: the whole video), the output."""

    youtube_id: str
    start: Optional[float]
    path: str


class DownloadUnavailable(RuntimeError):
    """The tools or the list file are missing; the message says what to fetch by hand."""


def instructions(dataset: str, root: str) -> str:
    """What a user fetches by hand for ``dataset`` and where it goes below ``root``."""
    lists = "\n".join(
        f"  {url}\n    -> {os.path.join(root, n)}" for n, url in LISTS[dataset].items()
    )
    layout = {
        "music": "audio/<instrument>/<youtube_id>.wav (whole solo videos)",
        "audiocaps": "audio/<youtube_id>.wav (10 s from start_time)",
        "vggsound": "audio/<youtube_id>_<start:06d>.wav (10 s from start_seconds)",
    }[dataset]
    return (
        f"{dataset}: put the list file(s)\n{lists}\nand the audio as {os.path.join(root, layout)}.\n"
        f"To download automatically install {' and '.join(TOOLS)} (pip install yt-dlp; ffmpeg "
        "from your package manager) and rerun stage 0. See docs/recipes/"
    )


def _fetch_lists(dataset: str, root: str) -> None:
    for name, url in LISTS[dataset].items():
        path = os.path.join(root, name)
        if os.path.isfile(path):
            continue
        try:
            with urllib.request.urlopen(url, timeout=30) as response, open(path, "wb") as f:
                shutil.copyfileobj(response, f)
        except OSError as err:
            if os.path.exists(path):
                os.remove(path)
            raise DownloadUnavailable(
                f"could not fetch {url} ({err}).\n" + instructions(dataset, root)
            ) from err


def clips_to_fetch(dataset: str, root: str) -> List[Clip]:
    """Every clip the list file(s) below ``root`` name, with its output path."""
    audio = os.path.join(root, "audio")
    clips: Dict[str, Clip] = {}
    if dataset == "music":
        with open(os.path.join(root, "MUSIC_solo_videos.json"), encoding="utf-8") as f:
            videos = json.load(f)["videos"]
        for instrument, ids in videos.items():
            for yid in ids:
                path = os.path.join(audio, instrument, f"{yid}.wav")
                clips[path] = Clip(yid, None, path)
    elif dataset == "audiocaps":
        for name in LISTS["audiocaps"]:
            with open(os.path.join(root, name), newline="", encoding="utf-8-sig") as f:
                for row in csv.DictReader(f):
                    path = os.path.join(audio, f"{row['youtube_id']}.wav")
                    clips[path] = Clip(row["youtube_id"], float(row["start_time"]), path)
    elif dataset == "vggsound":
        with open(os.path.join(root, "vggsound.csv"), newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                if len(row) < 2 or not row[1].strip().isdigit():
                    continue  # a header or a malformed row
                start = int(row[1])
                path = os.path.join(audio, f"{row[0]}_{start:06d}.wav")
                clips[path] = Clip(row[0], float(start), path)
    else:
        raise ValueError(f"dataset must be one of {sorted(LISTS)}, got {dataset!r}")
    return list(clips.values())


def _fetch_clip(clip: Clip, sample_rate: int, timeout: float) -> bool:
    os.makedirs(os.path.dirname(clip.path), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fetch = [
            "yt-dlp",
            "--quiet",
            "--no-warnings",
            "--no-playlist",
            "-f",
            "bestaudio/best",
            "-o",
            os.path.join(tmp, "source.%(ext)s"),
        ]
        if clip.start is not None:  # only the span, not the whole video
            fetch += ["--download-sections", f"*{clip.start}-{clip.start + CLIP_SECONDS}"]
        fetch.append(f"https://www.youtube.com/watch?v={clip.youtube_id}")
        try:
            subprocess.run(fetch, check=True, capture_output=True, timeout=timeout)
            source = [os.path.join(tmp, n) for n in os.listdir(tmp) if n.startswith("source.")]
            if not source:
                return False
            # a killed run never leaves a half-written clip behind
            with atomic_path(clip.path, suffix=".part.wav") as partial:
                convert = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", source[0]]
                convert += ["-ac", "1", "-ar", str(sample_rate), partial]
                subprocess.run(convert, check=True, capture_output=True, timeout=timeout)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            return False
    return True


def download(
    dataset: str,
    root: str,
    sample_rate: int = 16000,
    limit: Optional[int] = None,
    timeout: float = 300.0,
    progress: bool = True,
) -> Dict[str, int]:
    """Fetch the list file(s) and the audio of ``dataset`` into ``root``.

    Args:
        dataset: ``music``, ``audiocaps`` or ``vggsound``.
        root: Dataset root (created).
        sample_rate: Rate of the wav files written.
        limit: Fetch at most this many clips (a trial run).
        timeout: Seconds per tool call.
        progress: Show a progress bar.

    Returns:
        dict: counts ``{"present", "fetched", "failed"}``.

    Raises:
        DownloadUnavailable: yt-dlp or ffmpeg is not on the PATH, or a list file cannot be
            fetched; the message says what to fetch by hand and where to put it.
    """
    if dataset not in LISTS:
        raise ValueError(f"dataset must be one of {sorted(LISTS)}, got {dataset!r}")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise DownloadUnavailable(
            f"{' and '.join(missing)} not found on the PATH.\n" + instructions(dataset, root)
        )
    os.makedirs(root, exist_ok=True)
    _fetch_lists(dataset, root)
    clips = clips_to_fetch(dataset, root)
    todo = [c for c in clips if not os.path.isfile(c.path)]
    counts = {"present": len(clips) - len(todo), "fetched": 0, "failed": 0}
    todo = todo[:limit] if limit is not None else todo
    bar = tqdm(todo, desc=f"downloading {dataset}", unit="clip", disable=not progress)
    for clip in bar:
        counts["fetched" if _fetch_clip(clip, sample_rate, timeout) else "failed"] += 1
        bar.set_postfix(failed=counts["failed"])
    return counts
