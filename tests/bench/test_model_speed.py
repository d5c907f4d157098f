"""bench/model_speed.py keeps working (a tiny run; no assertions on time)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_model_speed_script_reports_its_figures():
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "model_speed.py"),
            "--samples",
            "2048",
            "--queries",
            "2",
            "--repeats",
            "1",
            "--layouts",
            "nchw",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "parameters: 87.69 M" in out
    ideal = float(re.search(r"ideal ratio for 2 queries ([\d.]+)x", out).group(1))
    assert 1.0 < ideal < 2.0  # shared work exists, and 2 queries cannot beat 2x
    assert re.search(r"\[nchw\] ratio 2 queries in one call vs 2 calls: [\d.]+x", out)
