"""The separator's time-frequency transform, as a module a model holds and an exporter swaps.

:class:`STFT` is the complex STFT of :class:`~asteroid_wsas.TextCondUNet` and its
inverse. The model reaches its spectra only through four methods (``forward``,
``magnitude``, ``apply_masks``, ``inverse``), so another transform with the same four,
such as the ONNX export's real-valued convolutional STFT, can take its place without the
rest of the model knowing (:meth:`TextCondUNet.with_stft`).
"""

import torch
from torch import nn

__all__ = ["STFT"]


class STFT(nn.Module):
    """Complex STFT with a Hann window (``center=True``), and its inverse.

    Always computed in fp32, outside autocast. The window is a non-persistent buffer:
    state dicts hold no entry for it.

    Args:
        n_fft: FFT size and window length.
        hop_length: Hop between frames.

    Shape:
        - wav: :math:`(..., T)`.
        - spec: :math:`(..., F, N)` complex, ``F = n_fft // 2 + 1``.

    Examples:
        >>> stft = STFT(126, 32)
        >>> spec = stft(torch.randn(2, 1000))
        >>> spec.shape, stft.inverse(spec, 1000).shape
        (torch.Size([2, 64, 32]), torch.Size([2, 1000]))
    """

    def __init__(self, n_fft: int, hop_length: int):
        super().__init__()
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Complex spectra: :math:`(..., T) \\to (..., F, N)`."""
        with torch.autocast(wav.device.type, enabled=False):
            flat = wav.reshape(-1, wav.shape[-1]).float()
            spec = torch.stft(flat, **self._args(), return_complex=True)
        return spec.reshape(wav.shape[:-1] + spec.shape[-2:])

    def inverse(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Waveforms of ``length`` samples (cropped or zero-padded): :math:`(..., F, N)
        \\to (..., T)`."""
        with torch.autocast(spec.device.type, enabled=False):
            flat = spec.reshape(-1, *spec.shape[-2:])
            wav = torch.istft(flat, **self._args(), length=length)
        return wav.reshape(spec.shape[:-2] + wav.shape[-1:])

    def magnitude(self, spec: torch.Tensor) -> torch.Tensor:
        """:math:`|X|`, real: :math:`(..., F, N)`."""
        return spec.abs()

    def apply_masks(self, spec: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """The K masked spectra of each mixture: ``spec`` :math:`(B, F, N)` and real
        ``masks`` :math:`(B, K, F, N)` give :math:`(B, K, F, N)`."""
        return masks * spec.unsqueeze(-3)

    def _args(self) -> dict:
        return dict(
            n_fft=self.n_fft, hop_length=self.hop_length, window=self.window.float(), center=True
        )
