"""CLAP as the frozen bimodal teacher, through ``transformers.ClapModel``.

The text side is HF's tokenizer + text tower (cached per phrase). The audio side re-does
``ClapFeatureExtractor`` in torch, so that gradients flow from the embedding back to the
separated waveform: resampling (torchaudio), repeat-padding / cropping to 10 s, log-mel
with the extractor's own filter bank, then HTSAT and the projection.
"""

import os
from typing import List, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio
from transformers import AutoTokenizer, ClapFeatureExtractor, ClapModel

from .base import BimodalEncoder, TextBatch

CROPS = ("random", "start", "center")


def laion_feature_extractor(fusion: bool) -> ClapFeatureExtractor:
    """The front end every LAION-CLAP model was trained with (48 kHz, 10 s, 64 mels, 50 Hz to
    14 kHz, window 1024, hop 480, repeat-padding), with the truncation of fused or unfused
    models. ``ClapFeatureExtractor()``'s own defaults start the mel bank at 0 Hz instead."""
    return ClapFeatureExtractor(
        feature_size=64,
        sampling_rate=48000,
        hop_length=480,
        max_length_s=10,
        fft_window_size=1024,
        frequency_min=50,
        frequency_max=14000,
        truncation="fusion" if fusion else "rand_trunc",
        padding="repeatpad",
    )


class ClapEncoder(BimodalEncoder):
    """Frozen CLAP (``transformers.ClapModel``) with a differentiable audio path.

    Works with any CLAP checkpoint in transformers format, e.g. ``laion/clap-htsat-unfused``,
    ``laion/clap-htsat-fused``, ``laion/larger_clap_general``, ``laion/larger_clap_music``,
    ``laion/larger_clap_music_and_speech``, or a local directory holding one (works offline
    with ``HF_HUB_OFFLINE=1``). LAION's own ``.pt`` files load with
    :meth:`from_laion_checkpoint`.

    Args:
        model: The CLAP model; it is frozen here.
        tokenizer: Its tokenizer (RoBERTa for LAION CLAP).
        feature_extractor: Its feature extractor; sets the rate, clip length, STFT, mel and
            padding parameters the audio path reproduces. Default: LAION's training front
            end (:func:`laion_feature_extractor`).
        max_text_length: Longest token sequence (LAION CLAP used 77).
        crop: Which 10 s of longer audio to embed: ``"random"`` (as CLAP's extractor and
            training do), ``"start"`` or ``"center"``. Fused models embed the whole clip
            through their fusion branch and use this only for their three local crops
            (``"random"``), or the start / centre ranges otherwise.
        cache_size: Phrases kept in the text cache (None: all; see :class:`BimodalEncoder`).
        cache_dtype: Storage dtype of cached token states.

    Examples:
        >>> encoder = ClapEncoder.from_pretrained("laion/clap-htsat-unfused")  # doctest: +SKIP
        >>> encoder.embed_text(["A dog barks"]).shape  # doctest: +SKIP
        torch.Size([1, 512])
    """

    def __init__(
        self,
        model: ClapModel,
        tokenizer,
        feature_extractor: Optional[ClapFeatureExtractor] = None,
        max_text_length: int = 77,
        crop: str = "random",
        cache_size: Optional[int] = 65536,
        cache_dtype: torch.dtype = torch.float16,
    ):
        super().__init__(cache_size=cache_size, cache_dtype=cache_dtype)
        if crop not in CROPS:
            raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
        self.model = model
        self.tokenizer = tokenizer
        self.max_text_length = int(max_text_length)
        self.crop = crop
        self.fusion = bool(model.config.audio_config.enable_fusion)
        if feature_extractor is None:
            feature_extractor = laion_feature_extractor(self.fusion)
        fe = self.feature_extractor = feature_extractor
        self.sample_rate = int(fe.sampling_rate)
        self.max_samples = int(fe.nb_max_samples)
        self.n_fft = int(fe.fft_window_size)
        self.hop_length = int(fe.hop_length)
        self.padding = fe.padding
        self.top_db = fe.top_db
        # Fused models were trained with the HTK filters, the others with Slaney's (as in
        # ClapFeatureExtractor, where truncation="fusion" goes with the fused models).
        filters = fe.mel_filters if self.fusion else fe.mel_filters_slaney
        self.register_buffer("mel_filters", torch.from_numpy(np.asarray(filters)).float(), False)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        self.embed_dim = int(model.config.projection_dim)
        self.token_dim = int(model.config.text_config.hidden_size)
        # Frozen, so the audio -> text temperature is a constant.
        self._logit_scale = float(model.logit_scale_a.detach().exp())
        self.freeze()

    @classmethod
    def from_pretrained(cls, path_or_hub_id: Union[str, os.PathLike], **kwargs) -> "ClapEncoder":
        """Load model, tokenizer and feature extractor from a directory or a hub id.

        Args:
            path_or_hub_id: Local directory (``save_pretrained`` layout) or hub id.
            **kwargs: Passed to the constructor (``max_text_length``, ``crop``, ...).

        Returns:
            ClapEncoder: frozen, in eval mode.

        Raises:
            OSError: If nothing loadable is found there (offline: only local files count).
        """
        source = os.fspath(path_or_hub_id)
        try:
            model = ClapModel.from_pretrained(source)
            tokenizer = AutoTokenizer.from_pretrained(source)
        except OSError as err:
            raise OSError(
                f"could not load a CLAP model and tokenizer from {source!r} (a local directory "
                "in transformers' save_pretrained layout, or a hub id when online): "
                f"{err}"
            ) from err
        try:
            feature_extractor = ClapFeatureExtractor.from_pretrained(source)
        except OSError:
            feature_extractor = None  # defaults matching the model's fusion setting
        return cls(model, tokenizer, feature_extractor, **kwargs)

    @classmethod
    def from_laion_checkpoint(
        cls,
        checkpoint: Union[str, os.PathLike],
        tokenizer: Union[str, os.PathLike] = "roberta-base",
        **kwargs,
    ) -> "ClapEncoder":
        """Load a LAION-CLAP ``.pt`` checkpoint (e.g. ``music_audioset_epoch_15_esc_90.14.pt``).

        The state dict is mapped onto ``ClapModel`` without importing ``laion_clap``; see
        :mod:`asteroid_wsas.encoders.laion`.

        Args:
            checkpoint: Path to the LAION ``.pt`` file.
            tokenizer: RoBERTa tokenizer: a local directory or a hub id.
            **kwargs: Passed to the constructor.

        Returns:
            ClapEncoder: frozen, in eval mode.
        """
        from .laion import load_laion_clap

        model = load_laion_clap(checkpoint)
        return cls(model, AutoTokenizer.from_pretrained(os.fspath(tokenizer)), **kwargs)

    def save_pretrained(self, directory: Union[str, os.PathLike]) -> None:
        """Write model, tokenizer and feature extractor for :meth:`from_pretrained`."""
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        self.feature_extractor.save_pretrained(directory)

    @property
    def logit_scale(self) -> float:
        """CLAP's audio -> text logit scale, ``exp(logit_scale_a)``."""
        return self._logit_scale

    # ------------------------------------------------------------------ text
    def _encode_text(self, phrases: List[str]) -> TextBatch:
        inputs = self._tokenize(phrases)
        with torch.autocast(self._device().type, enabled=False):
            out = self.model.text_model(
                input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
            )
            embed = F.normalize(self.model.text_projection(out.pooler_output), dim=-1)
        return embed, out.last_hidden_state, inputs["attention_mask"].bool()

    # ------------------------------------------------------------------ audio
    def embed_audio(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Normalised CLAP audio embeddings, differentiable w.r.t. ``wav``.

        Args:
            wav: Waveforms :math:`(N, T)` or :math:`(T,)`, any length.
            sample_rate: Their rate; resampled to :attr:`sample_rate` (48 kHz) in torch.

        Returns:
            torch.Tensor: :math:`(N, D)`, float32, L2-normalised.
        """
        wav = self._check_audio(wav, sample_rate)
        features, is_longer = self.audio_features(wav, sample_rate)
        out = self.model.audio_model(input_features=features, is_longer=is_longer)
        return F.normalize(self.model.audio_projection(out.pooler_output).float(), dim=-1)

    def audio_features(self, wav: torch.Tensor, sample_rate: int):
        """What ``ClapFeatureExtractor`` gives for ``wav``, computed in torch.

        Args:
            wav: :math:`(N, T)` waveforms at ``sample_rate``.
            sample_rate: Their rate.

        Returns:
            tuple: ``input_features`` :math:`(N, C, frames, n_mels)` (C = 4 for fused models,
            1 otherwise) and ``is_longer`` :math:`(N, 1)` bool.
        """
        with torch.autocast(wav.device.type, enabled=False):
            wav = wav.float()
            if sample_rate != self.sample_rate:
                wav = torchaudio.functional.resample(wav, sample_rate, self.sample_rate)
            n_batch, length = wav.shape
            longer = length > self.max_samples
            if longer and self.fusion:
                features = self._fusion_features(self._log_mel(wav))
            else:
                wav = self._crop(wav) if longer else self._pad(wav)
                mel = self._log_mel(wav).unsqueeze(1)
                features = mel.expand(-1, 4, -1, -1) if self.fusion else mel
            is_longer = torch.full((n_batch, 1), longer, device=wav.device)
        return features, is_longer

    def _pad(self, wav: torch.Tensor) -> torch.Tensor:
        length = wav.shape[-1]
        if length < self.max_samples:
            if self.padding == "repeatpad":
                wav = wav.repeat(1, self.max_samples // length)
            elif self.padding == "repeat":
                wav = wav.repeat(1, self.max_samples // length + 1)[:, : self.max_samples]
        return F.pad(wav, (0, self.max_samples - wav.shape[-1]))

    def _crop(self, wav: torch.Tensor) -> torch.Tensor:
        start = self._start(wav.shape[-1] - self.max_samples)
        return wav[:, start : start + self.max_samples]

    def _start(self, overflow: int) -> int:
        if self.crop == "random":
            return int(torch.randint(0, overflow + 1, ()))
        return 0 if self.crop == "start" else overflow // 2

    def _log_mel(self, wav: torch.Tensor) -> torch.Tensor:
        """Power mel spectrogram in dB, ``(N, frames, n_mels)``, as the extractor does it."""
        spec = torch.stft(
            wav,
            self.n_fft,
            self.hop_length,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()  # smooth at 0, unlike |X| ** 2
        mel = torch.einsum("fm,nft->ntm", self.mel_filters, power)
        db = 10.0 * torch.log10(mel.clamp_min(1e-10))
        if self.top_db is not None:
            db = torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - self.top_db)
        return db

    def _fusion_features(self, mel: torch.Tensor) -> torch.Tensor:
        """Global (shrunk) view + front / middle / back crops, for fused CLAP models."""
        chunk = self.max_samples // self.hop_length + 1
        total = mel.shape[1]
        if total == chunk:
            return mel.unsqueeze(1).expand(-1, 4, -1, -1)
        thirds = np.array_split(np.arange(total - chunk + 1), 3)
        starts = []
        for part in thirds:
            part = part if len(part) else np.array([0])
            if self.crop == "random":
                starts.append(int(part[int(torch.randint(0, len(part), ()))]))
            else:
                starts.append(int(part[0] if self.crop == "start" else part[len(part) // 2]))
        crops = [mel[:, s : s + chunk] for s in starts]
        shrunk = F.interpolate(
            mel.unsqueeze(1), size=(chunk, mel.shape[-1]), mode="bilinear", align_corners=False
        )[:, 0]
        return torch.stack([shrunk] + crops, dim=1)
