"""CLAPScore: a reference-free score of language-queried separation.

Xiao et al. score a separated estimate without any reference by how well a contrastive
audio-language model (CLAP) says it matches the text query that produced it:

    CLAPScore(ŝ, q) = cos(E_a(ŝ), E_t(q))

with ``E_a`` / ``E_t`` the audio / text towers and ``cos`` the cosine similarity of their
embeddings, in [-1, 1] (``clip=True`` clips negative values to 0, as CLIPScore does). Its
gain over the unprocessed mixture for the same query,

    CLAPScore-i(ŝ, x, q) = CLAPScore(ŝ, q) - CLAPScore(x, q),

tells whether separation moved the audio towards the query (positive) or away from it.

Reference: F. Xiao, J. Guan, Q. Zhu, X. Liu, W. Wang, S. Qi, K. Zhang, J. Sun and W. Wang,
"A reference-free metric for language-queried audio source separation using contrastive
language-audio pretraining", Proc. DCASE 2024 Workshop (arXiv:2407.04936); their code
(github.com/LittleFlyingSheep/CLAPScore_for_LASS) takes the dot product of the unit-norm
LAION-CLAP embeddings, the default here.

Any of the project's bimodal encoders with an audio tower scores (``has_audio``):
:class:`~asteroid_wsas.encoders.clap.ClapEncoder` (CLAPScore proper) or a small
:class:`~asteroid_wsas.encoders.tiny.TinyBimodalEncoder`. The score measures agreement
with *that* model: see docs/evaluation.md, "Reference-free score", for its limits.
"""

import math
import os
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, Dict, Iterator, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio

from ..utils import device_of

__all__ = [
    "CLAP_METRICS",
    "CLAP_LABELS",
    "ClapScorer",
    "clap_similarity",
    "clap_score",
    "clap_score_gain",
    "load_scoring_encoder",
    "summarize",
]

# the all_metrics.csv columns: the score of each estimate and its gain over the mixture
CLAP_METRICS = ("clap", "clapi")
CLAP_LABELS = {"clap": "CLAPScore", "clapi": "CLAPScore-i"}
SOURCE = "Xiao et al., DCASE 2024 Workshop, arXiv:2407.04936"

ArrayLike = Union[torch.Tensor, np.ndarray]


def clap_similarity(
    audio_embed: torch.Tensor, text_embed: torch.Tensor, clip: bool = False
) -> torch.Tensor:
    """CLAPScore of given embeddings: their cosine similarity.

    Args:
        audio_embed: Audio embeddings :math:`(..., D)` (any norm: they are normalised).
        text_embed: Text embeddings, broadcastable to ``audio_embed``.
        clip: Clip negative similarities to 0 (CLIPScore's convention); the default is
            the raw cosine in [-1, 1], as the authors' code computes it.

    Returns:
        torch.Tensor: :math:`(...)`, in [0, 1] (clipped) or [-1, 1].

    Examples:
        >>> a = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
        >>> clap_similarity(a, torch.tensor([3.0, 0.0]))
        tensor([ 1.,  0., -1.])
        >>> clap_similarity(a, torch.tensor([3.0, 0.0]), clip=True)
        tensor([1., 0., 0.])
    """
    cos = F.normalize(audio_embed.float(), dim=-1) * F.normalize(text_embed.float(), dim=-1)
    cos = cos.sum(-1)
    return cos.clamp_min(0.0) if clip else cos


class ClapScorer:
    """CLAPScore of separated estimates against their text queries, batched, without grad.

    Audio is resampled to the encoder's rate with ``torchaudio`` and embedded as
    :meth:`Separator.separate <asteroid_wsas.separation.separator.Separator.separate>` embeds its
    estimates for ``presence`` (the same code): the mean embedding of the ``windows``
    loudest 10 s windows of every channel. Multi-channel audio is therefore scored once,
    by the mean of its per-channel embeddings (not by a downmix, whose phase
    cancellations would change the content, and not per channel). Audio up to 10 s is one
    window, so the score does not depend on chance (CLAP's random crop never applies).
    Queries are embedded by :func:`~asteroid_wsas.encoders.base.encode_queries`, as the
    separator embeds them (cached per phrase for a frozen encoder).

    Args:
        encoder: A bimodal encoder with an audio tower (``has_audio``): a
            :class:`~asteroid_wsas.encoders.clap.ClapEncoder` for CLAPScore proper, or a
            :class:`~asteroid_wsas.encoders.tiny.TinyBimodalEncoder`. It is put in eval mode
            while scoring (batch norm must not see the batch).
        clip: Clip negative similarities to 0 (:func:`clap_similarity`).
        windows: Loudest 10 s windows embedded per channel (longer audio).
        batch_size: Signals per encoder call.
        name: How the encoder was named (written in the settings).

    Raises:
        ValueError: The encoder embeds text only.

    Examples:
        >>> from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab
        >>> enc = TinyBimodalEncoder(build_vocab(["a dog barks"]), 8000, embed_dim=16)
        >>> scorer = ClapScorer(enc)
        >>> wav = torch.randn(2, 4000)
        >>> scorer.score(wav, ["a dog barks", "a dog barks"], 8000).shape
        torch.Size([2])
        >>> s = scorer.score_separation(wav[None], wav.sum(0)[None], [["a dog barks"] * 2], 8000)
        >>> s["clap"].shape, s["clapi"].shape
        (torch.Size([1, 2]), torch.Size([1, 2]))
    """

    def __init__(
        self,
        encoder,
        *,
        clip: bool = False,
        windows: int = 3,
        batch_size: int = 16,
        name: Optional[str] = None,
    ):
        if not getattr(encoder, "has_audio", True) or not hasattr(encoder, "embed_audio"):
            raise ValueError(
                f"CLAPScore needs an encoder with an audio tower (CLAP or a small bimodal "
                f"encoder); {type(encoder).__name__} embeds text only"
            )
        if windows < 1 or batch_size < 1:
            raise ValueError(f"windows and batch_size must be >= 1, got {windows}, {batch_size}")
        self.encoder = encoder
        self.clip = clip
        self.windows = int(windows)
        self.batch_size = int(batch_size)
        self.name = name or type(encoder).__name__
        self.is_model_encoder = False  # set by from_spec("model")

    @classmethod
    def from_spec(cls, spec: Union[str, os.PathLike], model_encoder=None, **kwargs) -> "ClapScorer":
        """A scorer with the encoder that ``spec`` names (:func:`load_scoring_encoder`).

        Args:
            spec: A CLAP folder or hub id, ``tiny:PATH``, or ``model`` (``model_encoder``).
            model_encoder: The separator's own encoder.
            **kwargs: The other arguments of :class:`ClapScorer`.

        Returns:
            ClapScorer: its ``is_model_encoder`` says whether it scores with the
            separator's own encoder (the training teacher of a weakly-supervised model).
        """
        encoder = load_scoring_encoder(spec, model_encoder)
        scorer = cls(encoder, name=os.fspath(spec), **kwargs)
        scorer.is_model_encoder = model_encoder is not None and encoder is model_encoder
        return scorer

    @property
    def sample_rate(self) -> int:
        """The rate audio is embedded at (the encoder's)."""
        return int(self.encoder.sample_rate)

    def to(self, device: Union[None, str, torch.device]) -> "ClapScorer":
        """Move the encoder to ``device`` (None: leave it)."""
        if device is not None:
            self.encoder.to(device)
        return self

    def settings(self) -> Dict[str, Any]:
        """How the scores were computed (for final_metrics.json and summaries)."""
        return {
            "encoder": self.name,
            "definition": "max(cos(audio, text), 0)" if self.clip else "cos(audio, text)",
            "gain": "clapi = clap(estimate) - clap(mixture), same query and encoder",
            "audio": f"resampled to {self.sample_rate} Hz; mean embedding of the "
            f"{self.windows} loudest 10 s windows of every channel",
            "source": SOURCE,
            "separator_encoder": self.is_model_encoder,
        }

    # ------------------------------------------------------------------ embedding
    def embed_audio(self, audio: ArrayLike, sample_rate: int) -> torch.Tensor:
        """Unit-norm embeddings of signals, channels and windows averaged.

        Args:
            audio: :math:`(N, T)` or :math:`(N, C, T)` at ``sample_rate``.
            sample_rate: Its rate.

        Returns:
            torch.Tensor: :math:`(N, D)`, float32, on the encoder's device.
        """
        from ..separation.separator import Separator

        wav = _signals(audio, "audio")
        if wav.dim() == 2:
            wav = wav.unsqueeze(1)
        if wav.dim() != 3:
            raise ValueError(f"audio must be (N, T) or (N, C, T), got {tuple(wav.shape)}")
        # the separator's own presence embedding, asked at the encoder's rate: its
        # windows are then exactly CLAP's 10 s input (no random crop, no resampling twice)
        view = SimpleNamespace(encoder=self.encoder, sample_rate=self.sample_rate)
        out = []
        with self._scoring():
            device = device_of(self.encoder)
            for chunk in wav.split(self.batch_size):
                chunk = chunk.to(device)
                if int(sample_rate) != self.sample_rate:
                    chunk = torchaudio.functional.resample(
                        chunk, int(sample_rate), self.sample_rate
                    )
                out.append(Separator._audio_embeddings(view, chunk, self.windows).float())
        return torch.cat(out)

    def embed_text(self, queries: Sequence[Sequence[str]]) -> torch.Tensor:
        """Unit-norm embeddings :math:`(B, K, D)` of B lists of K query texts."""
        from ..encoders.base import encode_queries

        with self._scoring():
            embed, _, _ = encode_queries(
                self.encoder, [[str(q) for q in qs] for qs in queries], False
            )
        return F.normalize(embed.float(), dim=-1)

    # ------------------------------------------------------------------ scores
    def score(self, audio: ArrayLike, queries: Sequence[str], sample_rate: int) -> torch.Tensor:
        """CLAPScore of each signal against its query.

        Args:
            audio: :math:`(N, T)` or :math:`(N, C, T)` at ``sample_rate``.
            queries: N query texts, one per signal.
            sample_rate: The audio's rate.

        Returns:
            torch.Tensor: :math:`(N,)` on the CPU.

        Raises:
            ValueError: A bad shape, NaN / inf samples, or not one query per signal.
        """
        if isinstance(queries, str) or len(queries) != len(audio):
            raise ValueError(f"queries must be a list of {len(audio)} texts, one per signal")
        if len(queries) == 0:
            return torch.zeros(0)
        text = self.embed_text([list(queries)])[0]
        return clap_similarity(self.embed_audio(audio, sample_rate), text, self.clip).cpu()

    def score_separation(
        self,
        estimates: ArrayLike,
        mixture: ArrayLike,
        queries: Sequence[Sequence[str]],
        sample_rate: int,
    ) -> Dict[str, torch.Tensor]:
        """CLAPScore of each estimate and its gain over the mixture, for the same query.

        Each mixture is embedded once and compared with each of its K queries.

        Args:
            estimates: :math:`(B, K, T)` or :math:`(B, K, C, T)`: estimate k answers
                query k of item b.
            mixture: The separated inputs, :math:`(B, T)` or :math:`(B, C, T)`.
            queries: B lists of K query texts.
            sample_rate: The rate of both.

        Returns:
            dict: ``clap`` (the estimates'), ``clap_mixture`` (the mixture's for the same
            query) and ``clapi`` (their difference), each :math:`(B, K)` on the CPU.

        Raises:
            ValueError: Shapes that do not match, NaN / inf samples, or queries that are not
                B lists of K texts.
        """
        est = _signals(estimates, "estimates")
        mix = _signals(mixture, "mixture")
        if est.dim() not in (3, 4) or mix.dim() != est.dim() - 1:
            raise ValueError(
                f"estimates (B, K, [C,] T) and mixture (B, [C,] T) do not match: "
                f"{tuple(est.shape)} and {tuple(mix.shape)}"
            )
        n_items, n_queries = est.shape[:2]
        if mix.shape[0] != n_items or mix.shape[1:] != est.shape[2:]:
            raise ValueError(
                f"mixture {tuple(mix.shape)} does not match estimates {tuple(est.shape)} "
                "(one mixture per item, same channels and length)"
            )
        if len(queries) != n_items or any(
            isinstance(q, str) or len(q) != n_queries for q in queries
        ):
            raise ValueError(f"queries must be {n_items} lists of {n_queries} texts")
        text = self.embed_text(queries)  # (B, K, D)
        est_embed = self.embed_audio(est.flatten(0, 1), sample_rate).unflatten(0, (n_items, -1))
        mix_embed = self.embed_audio(mix, sample_rate).unsqueeze(1)
        clap = clap_similarity(est_embed, text, self.clip).cpu()
        clap_mix = clap_similarity(mix_embed, text, self.clip).cpu()
        return {"clap": clap, "clap_mixture": clap_mix, "clapi": clap - clap_mix}

    @contextmanager
    def _scoring(self) -> Iterator[None]:
        """No gradients, the encoder in eval mode (restored after)."""
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.encoder.train(was_training)


def clap_score(
    encoder,
    estimates: ArrayLike,
    queries: Sequence[str],
    sample_rate: int,
    **kwargs,
) -> torch.Tensor:
    """CLAPScore (Xiao et al., DCASE 2024) of each estimate against its text query.

    ``cos(E_a(estimate), E_t(query))`` with a CLAP (or another bimodal encoder with
    an audio tower); see :class:`ClapScorer` for resampling, channels and long audio.

    Args:
        encoder: A bimodal encoder with ``has_audio`` (e.g. ``load_encoder(clap_folder)``).
        estimates: :math:`(N, T)`, or :math:`(N, C, T)` (channels: mean embedding).
        queries: N texts, one per estimate.
        sample_rate: The estimates' rate (resampled to the encoder's).
        **kwargs: :class:`ClapScorer` options (``clip``, ``windows``, ``batch_size``).

    Returns:
        torch.Tensor: :math:`(N,)`, in [0, 1].

    Examples:
        >>> from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab
        >>> enc = TinyBimodalEncoder(build_vocab(["rain falls"]), 16000, embed_dim=16)
        >>> clap_score(enc, torch.randn(3, 8000), ["rain falls"] * 3, 8000).shape
        torch.Size([3])
    """
    return ClapScorer(encoder, **kwargs).score(estimates, queries, sample_rate)


def clap_score_gain(
    encoder,
    estimates: ArrayLike,
    mixture: ArrayLike,
    queries: Sequence[Sequence[str]],
    sample_rate: int,
    **kwargs,
) -> torch.Tensor:
    """CLAPScore-i: the estimate's CLAPScore minus the mixture's, for the same query.

    Positive: separation moved the audio towards what the query describes.

    Args:
        encoder: A bimodal encoder with ``has_audio``.
        estimates: :math:`(B, K, T)` or :math:`(B, K, C, T)`.
        mixture: :math:`(B, T)` or :math:`(B, C, T)`.
        queries: B lists of K texts.
        sample_rate: The rate of both.
        **kwargs: :class:`ClapScorer` options.

    Returns:
        torch.Tensor: :math:`(B, K)`, in [-1, 1].
    """
    scorer = ClapScorer(encoder, **kwargs)
    return scorer.score_separation(estimates, mixture, queries, sample_rate)["clapi"]


def load_scoring_encoder(spec: Union[str, os.PathLike], model_encoder=None):
    """The encoder that ``--clap-score`` names, frozen.

    Args:
        spec: A CLAP folder or hub id (``laion/clap-htsat-unfused``; CLAPScore proper), a
            small encoder file as ``tiny:PATH`` (or a plain ``.pth`` path), or ``model``:
            ``model_encoder``, the separator's own encoder (its training teacher for a
            weakly-supervised model: not independent evidence).
        model_encoder: The separator's encoder, for ``"model"``.

    Returns:
        The encoder.

    Raises:
        ValueError: ``"model"`` without a separator encoder, or an encoder without an
            audio tower.
    """
    from ..encoders.loading import load_encoder
    from ..encoders.tiny import TinyBimodalEncoder

    name = os.fspath(spec)
    if name == "model":
        if model_encoder is None:
            raise ValueError("--clap-score model needs a separator (--model) and its encoder")
        encoder = model_encoder
    elif name.startswith("tiny:"):
        path = name[len("tiny:") :]
        if not os.path.isfile(path):
            raise ValueError(f"--clap-score {name}: no small encoder file at {path}")
        encoder = TinyBimodalEncoder.from_pretrained(path).freeze()
    else:
        encoder = load_encoder(name)
    if not getattr(encoder, "has_audio", True):
        raise ValueError(
            f"--clap-score {name}: {type(encoder).__name__} embeds text only; CLAPScore needs "
            "an audio tower (a CLAP folder or hub id, or tiny:PATH)"
        )
    return encoder


def _signals(x: ArrayLike, name: str) -> torch.Tensor:
    wav = torch.as_tensor(x).detach().float()
    if wav.dim() < 2 or wav.shape[-1] == 0:
        raise ValueError(f"{name} must hold signals (..., T) with T > 0, got {tuple(wav.shape)}")
    if not torch.isfinite(wav).all():
        raise ValueError(f"{name} holds NaN or infinite samples")
    return wav


def summarize(values: Sequence[float]) -> Dict[str, Optional[float]]:
    """Mean, population std and median of finite values (None when there are none)."""
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if not len(x):
        return {"mean": None, "std": None, "median": None}
    return {"mean": float(x.mean()), "std": float(x.std()), "median": float(np.median(x))}
