"""Example separations people can listen to and look at: wavs and spectrogram PNGs."""

import os
from pathlib import Path
from typing import List, Optional, Sequence, Union

import torch

from ..plots import draw_spectrogram
from .evaluation import separated_batches

__all__ = ["examples", "write_example"]

PathLike = Union[str, os.PathLike]


def examples(
    separator: Optional[PathLike],
    encoder,
    manifest: PathLike,
    out_dir: PathLike,
    n: int = 4,
    device: Optional[str] = None,
    force: bool = False,
    progress: bool = True,
) -> List[str]:
    """Separate the first ``n`` test mixtures; write their wavs and spectrogram PNGs.

    Returns:
        list: the files written (see :func:`write_example`).
    """
    out_dir = Path(out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise FileExistsError(f"{out_dir} is not empty; pass --force to overwrite it")
    written: List[str] = []
    desc = f"examples of {out_dir.parent.name or out_dir.name}"
    for batch, est in separated_batches(
        separator, encoder, manifest, 1, device, limit=n, desc=desc, progress=progress
    ):
        written += write_example(
            out_dir,
            batch["ids"][0],
            batch["mixture"][0],
            batch["references"][0],
            est[0],
            batch["query_names"][0],
            batch["sample_rate"],
        )
    return written


def write_example(
    folder: PathLike,
    name: str,
    mixture: torch.Tensor,
    references: torch.Tensor,
    estimates: torch.Tensor,
    queries: Sequence[str],
    sample_rate: int,
) -> List[str]:
    """Wavs of a mixture, its references and estimates, and one spectrogram PNG of them all."""
    import soundfile as sf
    from matplotlib.figure import Figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    peak = max(float(mixture.abs().max()), 1e-8)

    def save(tag: str, wav: torch.Tensor) -> None:
        path = folder / f"{name}_{tag}.wav"
        sf.write(path, (wav / max(peak, float(wav.abs().max()))).numpy(), sample_rate)
        written.append(str(path))

    save("mixture", mixture)
    for k, query in enumerate(queries):
        save(f"q{k}_reference", references[k])
        save(f"q{k}_estimate", estimates[k])
    rows = 1 + len(queries)
    fig = Figure(figsize=(10, 2.2 * rows), layout="constrained")
    axes = fig.subplots(rows, 2, squeeze=False)
    top = draw_spectrogram(axes[0, 0], mixture, sample_rate, "mixture")
    axes[0, 1].axis("off")
    for k, query in enumerate(queries):
        draw_spectrogram(axes[k + 1, 0], references[k], sample_rate, f"reference: {query}", top)
        draw_spectrogram(axes[k + 1, 1], estimates[k], sample_rate, f"estimate: {query}", top)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=100)
    written.append(str(path))
    return written
