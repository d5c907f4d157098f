"""Example separations people can listen to and look at: wavs and spectrogram PNGs."""

import os
from pathlib import Path
from typing import List, Optional, Sequence, Union

import torch

from ..metrics import separation_metrics
from ..plots import draw_spectrogram
from ..engine.evaluation import separated_batches

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
    """Wavs of a mixture, its references and estimates, and one spectrogram PNG of them all.

    Each estimate's panel is titled with its SDR and SI-SDR against its reference and the
    SDR improvement over the mixture (BSS-Eval, as the evaluator scores it), so that a
    picture says how good the separation it shows is; the mixture's panel names its own
    SDR against each reference (what the improvements are measured from).

    Args:
        folder: Where the files go.
        name: The mixture's id: ``<name>_mixture.wav``, ``<name>_q<k>_reference.wav``,
            ``<name>_q<k>_estimate.wav`` and ``<name>.png``.
        mixture: The mixture.
        references: One reference per query.
        estimates: One estimate per query, in the order of ``references``.
        queries: The query texts (panel titles).
        sample_rate: Rate of all signals.

    Returns:
        list: the files written (wavs, then the PNG).

    Shape:
        - mixture: :math:`(T,)`
        - references, estimates: :math:`(K, T)`
    """
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
    scores = {
        key: v.tolist() for key, v in separation_metrics(mixture, references, estimates).items()
    }
    mix_sdr = ", ".join(f"{sdr - gain:.1f}" for sdr, gain in zip(scores["sdr"], scores["sdri"]))
    title = f"mixture (its SDR against each reference: {mix_sdr} dB)"
    top = draw_spectrogram(axes[0, 0], mixture, sample_rate, title)
    axes[0, 1].axis("off")
    for k, query in enumerate(queries):
        draw_spectrogram(axes[k + 1, 0], references[k], sample_rate, f"reference: {query}", top)
        title = (
            f"estimate: {query}\nSDR {scores['sdr'][k]:.1f} dB, SI-SDR {scores['si_sdr'][k]:.1f} "
            f"dB (SDRi {scores['sdri'][k]:+.1f} dB)"
        )
        draw_spectrogram(axes[k + 1, 1], estimates[k], sample_rate, title, top)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=100)
    written.append(str(path))
    return written
