"""ONNX export of a separator whose queries are fixed at export time.

:func:`export_onnx` writes one ONNX graph that maps a mono waveform at the model's rate to
one estimate per query. The queries' text features are computed once, at export, and stored
in the graph as constants: running it needs neither the text encoder nor PyTorch, only an
ONNX runtime. Beside the graph, a small JSON file says what it expects and what it gives.

The graph is the model's own forward, traced: only its STFT is swapped. The complex STFT
does not export, so :class:`ConvSTFT` computes it with real arithmetic (the STFT as a
strided 1-D convolution with a windowed DFT basis, real and imaginary rows; the inverse as
a transposed convolution with the windowed inverse-DFT basis, divided by the overlap-added
squared window, as ``torch.istft`` does), and :class:`OnnxSeparator` runs conv-STFT ->
the model's U-Net and masks -> conv-iSTFT.
"""

import importlib.util
import io
import json
import math
import os
import warnings
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .encoders.base import encode_queries
from .export_spec import (
    DEFAULT_OPSET,
    MAX_OPSET,
    MIN_OPSET,
    check_onnx_path,
    check_text_queries,
    sidecar_path,
)
from .models import TextCondUNet
from .separation.core import masks_to_waveforms, separate_batch
from .utils import atomic_path, atomic_write, device_of, refuse_overwrite
from .version import __version__

__all__ = [
    "export_onnx",
    "run_onnx",
    "OnnxSeparator",
    "DEFAULT_OPSET",
]

INPUT_NAME = "waveform"
OUTPUT_NAME = "estimates"
FORMAT = "asteroid-wsas-onnx"
FORMAT_VERSION = 1
# float32 rounding alone gives about 130 dB; far less means the graph computes otherwise
VERIFY_MIN_SNR_DB = 60.0
LIMITATIONS = [
    "the queries are fixed: other queries need a new export",
    "mono input only: separate each channel as its own batch item",
    "fixed sample rate: resample to sample_rate before, and back after if needed",
    "one pass over the whole input: memory grows with the length (the inner levels' "
    "attention quadratically); cut long audio into overlapping chunks and crossfade",
    "no residual output: compute it as the input minus the sum of the estimates",
    "no presence scores (they need the encoder's audio tower)",
    "float32 only: no bf16 / fp16 autocast inside the graph",
    "inputs shorter than min_samples (one STFT frame) are not defined",
]


class ConvSTFT(nn.Module):
    """The model's STFT and its inverse with real arithmetic, for the ONNX graph.

    It does what :class:`~asteroid_wsas.models.stft.STFT` does, with the same four methods,
    on real spectra: the real parts of the F bins, then their imaginary parts. The STFT
    is a strided 1-D convolution with a windowed DFT basis (reflection padding, as
    ``torch.stft(center=True)``); the inverse a transposed convolution with the windowed
    inverse-DFT basis, divided by the overlap-added squared window as ``torch.istft``
    does.

    Args:
        n_fft: The model's FFT size.
        hop_length: The model's hop.
        window: The model's window, ``n_fft`` samples.

    Shape:
        - wav: :math:`(B, T)`.
        - spec: :math:`(B, 2F, N)`, ``F = n_fft // 2 + 1``; masked spectra
          :math:`(B, K, 2F, N)`.
    """

    def __init__(self, n_fft: int, hop_length: int, window: torch.Tensor):
        super().__init__()
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        analysis, synthesis, envelope = _dft_bases(self.n_fft, window)
        self.register_buffer("analysis", analysis)  # (2F, 1, n_fft)
        self.register_buffer("synthesis", synthesis)  # (2F, 1, n_fft)
        self.register_buffer("envelope_kernel", envelope)  # (1, 1, n_fft)

    @property
    def n_freq(self) -> int:
        return self.n_fft // 2 + 1

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Real then imaginary parts: :math:`(B, T) \\to (B, 2F, N)`."""
        half = self.n_fft // 2
        # center=True with reflection, as torch.stft pads
        padded = F.pad(wav.float().unsqueeze(1), (half, half), mode="reflect")
        return F.conv1d(padded, self.analysis, stride=self.hop_length)

    def magnitude(self, spec: torch.Tensor) -> torch.Tensor:
        """:math:`|X|` without complex numbers: :math:`(B, 2F, N) \\to (B, F, N)`."""
        real, imag = spec[..., : self.n_freq, :], spec[..., self.n_freq :, :]
        return torch.sqrt(real.square() + imag.square())

    def apply_masks(self, spec: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Masked spectra: ``spec`` :math:`(B, 2F, N)`, ``masks`` :math:`(B, K, F, N)`
        :math:`\\to (B, K, 2F, N)`."""
        real, imag = spec[..., : self.n_freq, :], spec[..., self.n_freq :, :]
        return torch.cat([masks * real.unsqueeze(-3), masks * imag.unsqueeze(-3)], -2)

    def inverse(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Waveforms of ``length`` samples: :math:`(..., 2F, N) \\to (..., T)`."""
        flat = spec.flatten(0, -3)
        wav = F.conv_transpose1d(flat, self.synthesis, stride=self.hop_length)[:, 0]
        # overlap-added squared window, the normalisation torch.istft divides by
        ones = torch.ones_like(flat[:1, :1])
        envelope = F.conv_transpose1d(ones, self.envelope_kernel, stride=self.hop_length)[0]
        # a long enough tail of zeros: torch.istft zero-pads to ``length`` when the frames
        # end early (possible when hop > n_fft / 2)
        wav = F.pad(wav, (0, self.hop_length))
        envelope = F.pad(envelope, (0, self.hop_length))
        half = self.n_fft // 2
        wav = wav[:, half : half + length]
        envelope = envelope[:, half : half + length]
        # where nothing was added the numerator is zero too: divide by one there
        safe = torch.where(envelope > 1e-11, envelope, torch.ones_like(envelope))
        return (wav / safe).unflatten(0, spec.shape[:-2])


class OnnxSeparator(nn.Module):
    """A TextCondUNet with fixed queries, as the ONNX graph computes it.

    It computes what :func:`~asteroid_wsas.separator.separate_batch` computes for a
    text-queried model in fp32: the model's own forward (:meth:`TextCondUNet.forward_masks`)
    with a :class:`ConvSTFT` in place of its complex STFT (:meth:`TextCondUNet.with_stft`),
    then the negatives' union removed and the iSTFT.

    Args:
        model: The separator's :class:`~asteroid_wsas.TextCondUNet` (its layers are
            shared, not copied; put it in eval mode).
        embed: Query embeddings :math:`(K, D)`, queries first, then negatives.
        tokens: Token states :math:`(K, L, E)` (None for a model without attention).
        token_mask: :math:`(K, L)` bool, True for real tokens (None: all real).
        n_negatives: How many of the last queries are negative: the union of their masks
            leaves every estimate, and they give no estimate of their own.

    Shape:
        - wav: :math:`(B, T)`, :math:`T \\geq` ``n_fft``.
        - output: :math:`(B, K - n_{neg}, T)`.

    Examples:
        >>> model = TextCondUNet(8000, 126, 32, [8, 16], conditioning="late",
        ...                      text_embed_dim=16, text_token_dim=12).eval()
        >>> OnnxSeparator(model, torch.randn(2, 16))(torch.randn(3, 4000)).shape
        torch.Size([3, 2, 4000])
    """

    def __init__(
        self,
        model: TextCondUNet,
        embed: torch.Tensor,
        tokens: Optional[torch.Tensor] = None,
        token_mask: Optional[torch.Tensor] = None,
        n_negatives: int = 0,
    ):
        super().__init__()
        self.model = model.with_stft(ConvSTFT(model.n_fft, model.hop_length, model.window))
        self.n_queries = embed.shape[0] - n_negatives
        self.n_negatives = n_negatives
        self.register_buffer("embed", embed.detach().float().unsqueeze(0))
        if tokens is not None:
            tokens = tokens.detach().float().unsqueeze(0)
        if tokens is None or token_mask is None or bool(token_mask.all()):
            token_mask = None  # all tokens real: no mask in the graph
        else:
            token_mask = token_mask.detach().bool().unsqueeze(0)
        self.register_buffer("tokens", tokens)  # None registers nothing to save
        self.register_buffer("token_mask", token_mask)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Estimates :math:`(B, K, T)` of the fixed queries from mixtures :math:`(B, T)`."""
        n_batch = wav.shape[0]
        embed = self.embed.expand(n_batch, -1, -1)
        tokens = None if self.tokens is None else self.tokens.expand(n_batch, -1, -1, -1)
        mask = None if self.token_mask is None else self.token_mask.expand(n_batch, -1, -1)
        masks, spec = self.model.forward_masks(wav, embed, tokens, mask)
        return masks_to_waveforms(self.model, masks, spec, wav.shape[-1], self.n_negatives)


def _dft_bases(n_fft: int, window: torch.Tensor):
    """Windowed DFT rows for the STFT, windowed inverse-DFT rows for the iSTFT and the
    squared window, built in float64 and stored in float32."""
    n_freq = n_fft // 2 + 1
    win = window.detach().double().cpu()
    k = torch.arange(n_freq, dtype=torch.float64)[:, None]
    n = torch.arange(n_fft, dtype=torch.float64)[None, :]
    angle = 2 * math.pi * k * n / n_fft
    # torch.stft: X[k] = sum_n w[n] x[n] exp(-i angle)
    analysis = torch.cat([torch.cos(angle), -torch.sin(angle)]) * win
    # irfft of a one-sided spectrum: bins other than DC (and Nyquist for even n_fft)
    # stand for their conjugate twin too, hence twice the weight
    weight = torch.full((n_freq, 1), 2.0, dtype=torch.float64)
    weight[0] = 1.0
    if n_fft % 2 == 0:
        weight[-1] = 1.0
    synthesis = torch.cat([torch.cos(angle), -torch.sin(angle)]) * weight.repeat(2, 1)
    synthesis = synthesis / n_fft * win  # then the synthesis window, as torch.istft
    return (
        analysis.float().unsqueeze(1),
        synthesis.float().unsqueeze(1),
        win.square().float().view(1, 1, -1),
    )


def export_onnx(
    separator,
    queries: Sequence[str],
    path: Union[str, os.PathLike],
    opset: int = DEFAULT_OPSET,
    force: bool = False,
    *,
    negatives: Sequence[str] = (),
    verify: bool = True,
) -> Dict[str, Any]:
    """Write an ONNX graph of ``separator`` with ``queries`` built in, and a JSON beside it.

    The graph takes mono waveforms at the model's rate and gives one estimate per query, in
    the order given; both the batch and the time axis are dynamic. The queries' text
    features are constants of the graph: the text encoder is not needed to run it. The
    JSON (``model.json`` beside ``model.onnx``) holds the query names, the rate, the input
    and output names and shapes, the opset, the package version and what the graph cannot
    do; the same facts are in the ONNX file's metadata.

    Args:
        separator: A :class:`~asteroid_wsas.Separator` with a text-queried
            :class:`~asteroid_wsas.TextCondUNet`.
        queries: The texts to answer, one estimate each.
        path: The ``.onnx`` file to write (its folder is made if missing).
        opset: ONNX opset, 14 to 20.
        force: Overwrite the ``.onnx`` and ``.json`` files if they exist.
        negatives: Texts whose masks' union is removed from every estimate, as
            ``Separator.separate(negative=...)``; they give no estimate themselves.
        verify: Run the written file with onnxruntime (when installed) on 1 s of noise and
            compare with the PyTorch path; the SNR goes into the returned dict.

    Returns:
        dict: What was written to the JSON file, plus ``"onnx"`` and ``"json"`` (the two
        paths) and, with ``verify``, ``"verified_snr_db"`` (None without onnxruntime).

    Raises:
        ValueError: No query, an empty or image query, a model trained with MixIT (learned
            queries), a model other than TextCondUNet, an opset out of range, a ``.json``
            path, or onnx not installed; each message names the argument.
        FileExistsError: A file exists and ``force`` is False.

    Shape:
        - graph input ``waveform``: :math:`(B, T)` float32, :math:`T \\geq` ``n_fft``.
        - graph output ``estimates``: :math:`(B, K, T)` float32.

    Examples:
        >>> info = export_onnx(separator, ["a dog barks", "a man speaks"],
        ...                    "model.onnx")  # doctest: +SKIP
        >>> info["queries"], info["sample_rate"]  # doctest: +SKIP
        (['a dog barks', 'a man speaks'], 16000)
    """
    queries = check_text_queries(queries, "queries")
    negatives = check_text_queries(negatives, "negatives", allow_empty=True)
    path = check_onnx_path(os.fspath(path))
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset must be an int from {MIN_OPSET} to {MAX_OPSET}, got {opset!r}")
    model = _exportable_model(separator)
    json_path = sidecar_path(path)
    refuse_overwrite(path, json_path, force=force)
    try:
        import onnx
    except ImportError:
        raise ValueError("ONNX export needs onnx: pip install onnx onnxruntime") from None

    encoder = separator.encoder
    # export and verify on the CPU in fp32: a GPU's TF32 convolutions would blur the check
    devices = [device_of(model), device_of(encoder)]
    was_training = model.training
    model.eval().cpu()
    encoder.cpu()
    try:
        with torch.no_grad():
            embed, tokens, mask = encode_queries(encoder, [queries + negatives], model.wants_tokens)
            wrapper = OnnxSeparator(
                model,
                embed[0].float(),
                None if tokens is None else tokens[0].float(),
                None if mask is None else mask[0],
                n_negatives=len(negatives),
            ).eval()
        # traced in memory: a failed export leaves no file that would need --force next time
        graph = onnx.load_from_string(_trace(wrapper, opset))
        info = _describe(model, queries, negatives, opset, path, json_path)
        # the ONNX file tells what the JSON tells: the graph alone is enough to run it
        for key in ("format", "queries", "negatives", "sample_rate", "min_samples"):
            entry = graph.metadata_props.add()
            entry.key, entry.value = key, json.dumps(info[key])
        graph.producer_name = "asteroid-wsas"
        graph.producer_version = __version__
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with atomic_path(path, suffix=".onnx.part") as part:  # whole, or the old file kept
            onnx.save(graph, part)
        if verify:
            snr = _verify(separator, queries, negatives, path)
            info["verified_snr_db"] = snr
            if snr is not None and snr < VERIFY_MIN_SNR_DB:  # a model the export mirrors wrongly
                warnings.warn(
                    f"{path} differs from the PyTorch separator: SNR {snr:.1f} dB < "
                    f"{VERIFY_MIN_SNR_DB:g} dB on 1 s of noise; please report this model",
                    RuntimeWarning,
                )
    finally:
        model.to(devices[0]).train(was_training)
        encoder.to(devices[1])
    with atomic_write(json_path, "w", encoding="utf-8") as f:
        json.dump({k: v for k, v in info.items() if k not in ("onnx", "json")}, f, indent=2)
        f.write("\n")
    return info


def _exportable_model(separator) -> TextCondUNet:
    """The separator's model, if it is one the graph can hold."""
    model = getattr(separator, "model", None)
    if not isinstance(model, TextCondUNet):
        raise ValueError(
            f"separator must hold a TextCondUNet, got {type(model).__name__}; other models "
            "have no ONNX export"
        )
    if model.learned_queries is not None:
        raise ValueError(
            "separator was trained with MixIT (learned queries): a text query picks one of "
            "its outputs with the encoder's audio tower, which the graph does not hold; "
            "only text-conditioned separators export"
        )
    return model


def _trace(wrapper: OnnxSeparator, opset: int) -> bytes:
    """The serialised ONNX graph of ``wrapper``, traced on noise, batch and time dynamic."""
    model = wrapper.model
    gen = torch.Generator().manual_seed(0)  # the caller's random state stays as it was
    example = torch.randn(1, max(model.n_fft, int(model.sample_rate) // 2), generator=gen)
    buffer = io.BytesIO()
    # the model adds out of place and passes its sizes itself while traced: no autograd
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter's deprecation notice and tracer notes about shapes:
        # the tests run the graph at other lengths and batch sizes
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (example,),
            buffer,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={
                INPUT_NAME: {0: "batch", 1: "time"},
                OUTPUT_NAME: {0: "batch", 2: "time"},
            },
            opset_version=opset,
            dynamo=False,  # the dynamo exporter needs onnxscript, not a dependency here
            do_constant_folding=True,
        )
    return buffer.getvalue()


def _describe(model, queries, negatives, opset, path, json_path) -> Dict[str, Any]:
    """The JSON sidecar's content."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "queries": list(queries),
        "negatives": list(negatives),
        "sample_rate": int(model.sample_rate),
        "min_samples": int(model.n_fft),
        "inputs": [{"name": INPUT_NAME, "shape": ["batch", "time"], "dtype": "float32"}],
        "outputs": [
            {"name": OUTPUT_NAME, "shape": ["batch", len(queries), "time"], "dtype": "float32"}
        ],
        "opset": opset,
        "package_version": __version__,
        "torch_version": torch.__version__.split("+")[0],
        "model": {
            "n_fft": model.n_fft,
            "hop_length": model.hop_length,
            "conditioning": model.conditioning,
        },
        "limitations": LIMITATIONS,
        "onnx": os.path.abspath(path),
        "json": os.path.abspath(json_path),
    }


def _verify(separator, queries, negatives, path) -> Optional[float]:
    """SNR in dB of the ONNX estimates against the PyTorch path's on 1 s of noise (None
    without onnxruntime)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None

    rate = int(separator.model.sample_rate)
    wave = torch.randn(
        1, max(rate, separator.model.n_fft) + 37, generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        ref = separate_batch(
            separator.model, separator.encoder, wave, [queries], negatives=negatives
        ).numpy()
    got = run_onnx(path, wave.numpy())
    return _snr_db(ref, got)


def _snr_db(ref: np.ndarray, est: np.ndarray) -> float:
    """The lowest per-estimate SNR of ``est`` against ``ref``, in dB."""
    ref, est = np.asarray(ref, np.float64), np.asarray(est, np.float64)
    signal = np.square(ref).reshape(-1, ref.shape[-1]).sum(-1)
    noise = np.square(ref - est).reshape(-1, ref.shape[-1]).sum(-1)
    return float(np.min(10 * np.log10(np.maximum(signal, 1e-30) / np.maximum(noise, 1e-30))))


def run_onnx(path: Union[str, os.PathLike], wave: Any) -> np.ndarray:
    """Run an exported separator with onnxruntime on the CPU.

    Args:
        path: The ``.onnx`` file written by :func:`export_onnx`.
        wave: Mono audio at the graph's rate (its JSON's ``sample_rate``), :math:`(T,)` or
            :math:`(B, T)`; a numpy array, a tensor or a list, of floats or integer PCM
            (int16, int32, int8, uint8: scaled to [-1, 1] as WAV readers do).

    Returns:
        np.ndarray: float32 estimates in query order, :math:`(K, T)` for a 1-D ``wave``,
        :math:`(B, K, T)` otherwise.

    Raises:
        ValueError: onnxruntime not installed, or ``wave`` of a bad shape or sample type
            (complex, bool, int64, ...), too short, or not finite.

    Note:
        Each call opens a new session; to run many inputs, keep one
        ``onnxruntime.InferenceSession`` (see docs/export.md).

    Examples:
        >>> est = run_onnx("model.onnx", np.zeros(16000, np.float32))  # doctest: +SKIP
        >>> est.shape  # doctest: +SKIP
        (2, 16000)
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise ValueError("running an ONNX export needs onnxruntime: pip install onnxruntime")
    from .separation.audio_io import float_samples

    # as Separator.separate reads arrays: integer PCM scaled to [-1, 1], complex refused
    x = float_samples(wave, "wave").numpy()
    one_d = x.ndim == 1
    if one_d:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"wave must be (time,) or (batch, time), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("wave holds NaN or infinite values")
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    shortest = int(meta.get("min_samples", 1))
    if x.shape[-1] < shortest:
        raise ValueError(
            f"wave has {x.shape[-1]} samples, shorter than one STFT frame ({shortest})"
        )
    out = session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(x)})[0]
    return out[0] if one_d else out


# ---------------------------------------------------------------------------------- CLI
