"""Figures people look at: spectrograms of mixtures and estimates."""

from typing import Optional

import torch

__all__ = ["draw_spectrogram", "spectrogram_db"]


def spectrogram_db(wav: torch.Tensor, n_fft: int = 512, hop: int = 128) -> torch.Tensor:
    """Magnitude spectrogram in dB of a waveform (channels are averaged first).

    Args:
        wav: :math:`(T,)` or :math:`(C, T)`.
        n_fft: STFT size.
        hop: STFT hop.

    Returns:
        torch.Tensor: :math:`(n\\_fft / 2 + 1, frames)`.

    Examples:
        >>> spectrogram_db(torch.zeros(2, 4000)).shape
        torch.Size([257, 32])
    """
    wav = torch.as_tensor(wav).float()
    if wav.dim() == 2:
        wav = wav.mean(0)
    if wav.shape[-1] < n_fft:  # too short for one frame: pad with silence
        wav = torch.nn.functional.pad(wav, (0, n_fft - wav.shape[-1]))
    window = torch.hann_window(n_fft)
    spec = torch.stft(wav, n_fft, hop, window=window, return_complex=True).abs()
    return 20 * torch.log10(spec + 1e-5)


def draw_spectrogram(
    ax,
    wav: torch.Tensor,
    sample_rate: int,
    title: str,
    top_db: Optional[float] = None,
    range_db: float = 80.0,
    hop: int = 128,
) -> float:
    """Draw a spectrogram on a matplotlib axis: time in seconds, frequency in kHz.

    Args:
        ax: A matplotlib axis.
        wav: :math:`(T,)` or :math:`(C, T)`.
        sample_rate: Rate of ``wav``.
        title: Axis title.
        top_db: Top of the colour scale (dB); None: this spectrogram's maximum. Pass the
            mixture's to draw estimates on the mixture's scale.
        range_db: Dynamic range shown below ``top_db``.
        hop: STFT hop; a larger one draws a long file faster (fewer frames than pixels
            lose nothing).

    Returns:
        float: the top of the colour scale used.
    """
    db = spectrogram_db(wav, hop=hop)
    top = float(db.max()) if top_db is None else float(top_db)
    length = torch.as_tensor(wav).shape[-1]
    ax.imshow(
        db.numpy(),
        origin="lower",
        aspect="auto",
        vmin=top - range_db,
        vmax=top,
        extent=(0, length / sample_rate, 0, sample_rate / 2000),
    )
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("kHz", fontsize=8)
    ax.tick_params(labelsize=7)
    return top
