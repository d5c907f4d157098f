"""CaptionManifest: public-layout CSV of (path, caption), flawed files skipped and counted."""

import numpy as np
import pytest
import soundfile as sf
import torch

from asteroid_wsas.data.manifest import CaptionManifest


@pytest.fixture
def manifest(tmp_path):
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "stereo48k.wav", rng.standard_normal((48000, 2)) * 0.1, 48000)
    sf.write(tmp_path / "mono16k.flac", rng.standard_normal(8000) * 0.1, 16000)
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    sf.write(tmp_path / "ok_no_caption.wav", rng.standard_normal(1600) * 0.1, 16000)
    rows = [
        "path,caption",
        "stereo48k.wav,A dog barks",
        "mono16k.flac,Rain falls",
        "missing.wav,A car passes",
        "empty.wav,Silence",
        "corrupt.wav,Noise",
        "ok_no_caption.wav,",
    ]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "list.csv"


def test_reads_good_rows_and_counts_the_rest(manifest):
    with pytest.warns(UserWarning, match="skipped 4 of 6 rows"):
        data = CaptionManifest(manifest, sample_rate=16000, seconds=0.75)
    assert len(data) == 2
    item = data[0]
    assert item["caption"] == "A dog barks"
    assert item["mixture"].shape == (12000,) and item["mixture"].dtype == torch.float32
    padded = data[1]["mixture"]  # 0.5 s file, zero-padded to 0.75 s
    assert padded.shape == (12000,) and padded[8000:].abs().sum() == 0


def test_missing_column(tmp_path):
    (tmp_path / "bad.csv").write_text("file,text\na.wav,x\n")
    with pytest.raises(ValueError, match="missing column"):
        CaptionManifest(tmp_path / "bad.csv")
