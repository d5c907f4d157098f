"""Write the web app's example mixtures (asteroid_wsas/webapp_examples/).

Renders a few instrument solos with the offline renderer (fluidsynth + the GM soundfont,
see docs/data/rendered.md), mixes them two by two at 16 kHz and writes 16-bit WAVs of
4 s, small enough to ship (about 130 kB each), plus ``examples.txt`` (``file | q1; q2``),
the list the page shows. Queries use the main job's prompt template, so its model knows
their words.

Usage:
    python scripts/make_webapp_examples.py [--force]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from asteroid_wsas.data.rendered import write_rendered_music_layout
from asteroid_wsas.text.prompts import source_prompt

OUT = Path(__file__).resolve().parents[1] / "asteroid_wsas" / "webapp_examples"
PAIRS = [("violin", "drum"), ("flute", "acoustic_guitar"), ("trumpet", "piano")]
SECONDS = 4.0
RATE = 16000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="overwrite existing examples")
    args = parser.parse_args()
    if (OUT / "examples.txt").exists() and not args.force:
        sys.exit(f"{OUT / 'examples.txt'} exists; pass --force to overwrite it")
    OUT.mkdir(parents=True, exist_ok=True)
    classes = sorted({name for pair in PAIRS for name in pair})
    with tempfile.TemporaryDirectory() as tmp:
        write_rendered_music_layout(
            tmp, videos_per_class=1, classes=classes, seconds=SECONDS, sample_rate=RATE, seed=7
        )
        lines = ["# file | query; query  (written by scripts/make_webapp_examples.py)"]
        for first, second in PAIRS:
            solos = [
                sf.read(next((Path(tmp) / "audio" / name).glob("*.wav")), dtype="float32")[0]
                for name in (first, second)
            ]
            mixture = solos[0] + solos[1]
            mixture *= 0.5 / max(np.abs(mixture).max(), 1e-6)  # headroom, no clipping
            name = f"{first}_and_{second}.wav"
            sf.write(OUT / name, mixture, RATE, subtype="PCM_16")
            lines.append(f"{name} | {source_prompt(first)}; {source_prompt(second)}")
    (OUT / "examples.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(PAIRS)} examples to {OUT}")


if __name__ == "__main__":
    main()
