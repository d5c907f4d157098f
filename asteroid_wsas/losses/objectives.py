"""Training objectives: how a batch, the separator and the frozen encoder give the loss.

Each objective is an ``nn.Module`` called as ``objective(model, encoder, batch)``; it returns
a dict of named scalar terms with the total under ``"loss"``. Objectives only compute
losses: every trained model answers queries through
:func:`asteroid_wsas.separator.separate_batch`. ``BATCHES`` says which batches each needs.

========================  ==============================================================
``weak``                  the paper: 0.5 * L_CNT + 5 * (L_CRL + L_URL) on captioned mixtures
``mix_and_separate``      CLIPSep-Text: L_URL alone (mixture-level text queries)
``supervised``            clean single sources with their text queries (CLAPSep* /
                          BertSep* rows): weighted magnitude L1 or negative SI-SDR
``semi``                  lambda_s * supervised (clean batch) + lambda_u * weak (mixtures)
``mixit``                 MixIT over M unconditioned outputs (learned fixed queries)
``pit``                   PIT*: N unconditioned outputs vs the N clean sources (best
                          permutation, negative SI-SDR)
========================  ==============================================================

Batches come from :func:`asteroid_wsas.data.mixture_of_mixtures`: ``mix`` (B, T),
``mixtures`` (B, N, T), ``captions`` (B x N), ``phrases`` (B x N x P), ``phrase_weights``
(B, N, P) and, for clean data, ``sources``. The weak objective asks all ``N + N * P`` queries
of a mixture of mixtures in **one** model call: the STFT and the text-free upper levels of
the U-Net run once, and the text comes from the encoder's cache.
"""

from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import torch
from asteroid.losses import (
    MixITLossWrapper,
    PITLossWrapper,
    multisrc_neg_sisdr,
    multisrc_neg_snr,
    pairwise_neg_sisdr,
)
from torch import nn

from ..utils import register_named
from ..encoders.base import encode_queries
from .bimodal import BimodalContrastiveLoss, text_ids
from .reconstruction import ConsistencyLoss, MixAndSeparateLoss

__all__ = [
    "OBJECTIVES",
    "Objective",
    "WeakObjective",
    "MixAndSeparateObjective",
    "SupervisedObjective",
    "SemiSupervisedObjective",
    "MixITObjective",
    "PITObjective",
    "MixPITObjective",
    "make_objective",
    "register_objective",
]

Terms = Dict[str, torch.Tensor]


class Objective(nn.Module):
    """Base class: ``forward(model, encoder, batch) -> {"loss": total, term: value, ...}``.

    ``batches`` declares the training data an objective needs: ``"weak"``, mixtures of
    mixtures without their sources; ``"clean"``, mixtures with their clean sources (a
    batch of each, under those keys, when it needs both). ``selection`` is how the
    learned outputs of a model it trains answer queries at test time (see
    :func:`asteroid_wsas.separator.separate_batch`).
    """

    name = "objective"
    batches: Tuple[str, ...] = ("weak",)
    # how a model trained so answers a query when it has learned outputs (separate_batch)
    selection: str = "text"

    def forward(self, model, encoder, batch: dict) -> Terms:  # pragma: no cover - abstract
        raise NotImplementedError

    def _masked_magnitudes(self, model, encoder, mix, texts):
        """One model call for all queries: masks (B, K, F, N), mixture STFT (B, F, N)."""
        embed, tokens, mask = encode_queries(encoder, texts, model.wants_tokens)
        return (*model.forward_masks(mix, embed, tokens, mask), embed)


def first_rows(keys: Sequence[Hashable]) -> Tuple[List[int], List[int]]:
    """The first row of each distinct key, and for every row the index of its key there."""
    first, position = [], {}
    for i, key in enumerate(keys):
        if key not in position:
            position[key] = len(first)
            first.append(i)
    return first, [position[k] for k in keys]


def _check_batch(batch: dict, keys: Sequence[str], objective: str) -> None:
    missing = [k for k in keys if k not in batch]
    if missing:
        raise KeyError(
            f"the {objective} objective needs batch keys {list(keys)}; missing {missing} "
            "(build batches with asteroid_wsas.data.mixture_of_mixtures)"
        )


class WeakObjective(Objective):
    r"""The paper's weakly-supervised objective on captioned mixtures.

    ``loss = w_cnt * L_CNT + w_crl * L_CRL + w_url * L_URL`` (defaults 0.5, 5, 5: the
    authors' ``0.5 * cnt + 5 * (crl + url)``). One model call answers, for each mixture of
    mixtures X, the N mixture-level captions (L_URL) and the N * P phrases (L_CRL, and
    L_CNT through the frozen encoder's audio tower). Every term is summed over the N
    mixtures.

    L_CNT has two forms (``cnt_negatives``), and two refinements that either can take:

    - ``"batch"`` (ours): one cross-entropy over all B * N * P phrases of the batch (every
      other phrase is a negative), times N;
    - ``"slot"`` (the authors' ``main.py``): one cross-entropy per mixture slot n over that
      slot's B * P phrases (those of the n-th mixture of every mixture of mixtures), summed
      over n;
    - ``cnt_text_mask``: other copies of a row's own phrase (a phrase repeated to pad P,
      or the same phrase in two items) are left out of its softmax, instead of being
      negatives;
    - ``cnt_row_weights``: rows weighted by their phrase weights (1 / copies), normalised
      per mixture, instead of all rows equally.

    ``protocol: authors`` (:mod:`asteroid_wsas.protocol`) sets ``"slot"`` without the two
    refinements.

    Args:
        cnt_weight: Weight of L_CNT.
        crl_weight: Weight of L_CRL.
        url_weight: Weight of L_URL.
        symmetric: Symmetric (audio <-> text) contrastive loss.
        gather: Negatives from every DDP rank.
        cnt_negatives: ``"batch"`` or ``"slot"``.
        cnt_text_mask: Leave copies of a row's own phrase out of its softmax.
        cnt_row_weights: Weight rows by their phrase weights.
        targets_over_p: Divide the mixture targets of L_URL and L_CRL by P: the authors'
            MUSIC / VGGSound code divides each mixture twice (``_mix_n``), so its targets
            sum to mix / P, likely unintended; reproduced only on request.
        replica_batch: L_CNT per chunk of this many mixtures of mixtures, averaged over the
            chunks (None: the whole batch): the authors' 8 DDP processes each compute it
            on their own 2 (``training.replica_batch``), and DDP averages their gradients.
    """

    name = "weak"
    CNT_NEGATIVES = ("batch", "slot")

    def __init__(
        self,
        cnt_weight: float = 0.5,
        crl_weight: float = 5.0,
        url_weight: float = 5.0,
        symmetric: bool = False,
        gather: bool = False,
        cnt_negatives: str = "batch",
        cnt_text_mask: bool = True,
        cnt_row_weights: bool = True,
        targets_over_p: bool = False,
        replica_batch: Optional[int] = None,
    ):
        super().__init__()
        if replica_batch is not None and int(replica_batch) < 1:
            raise ValueError(f"replica_batch must be a positive integer, got {replica_batch}")
        self.replica_batch = None if replica_batch is None else int(replica_batch)
        if cnt_negatives not in self.CNT_NEGATIVES:
            raise ValueError(
                f"cnt_negatives must be one of {self.CNT_NEGATIVES}, got {cnt_negatives!r}"
            )
        self.cnt_weight, self.crl_weight, self.url_weight = cnt_weight, crl_weight, url_weight
        self.cnt_negatives = cnt_negatives
        self.cnt_text_mask, self.cnt_row_weights = bool(cnt_text_mask), bool(cnt_row_weights)
        self.targets_over_p = bool(targets_over_p)
        self.url = MixAndSeparateLoss()
        self.crl = ConsistencyLoss()
        self.cnt = BimodalContrastiveLoss(symmetric=symmetric, gather=gather)

    @staticmethod
    def query_texts(batch: dict) -> List[List[str]]:
        """Per item: the N captions, then the N * P phrases (mixture-major)."""
        _check_batch(batch, ("mix", "mixtures", "captions", "phrases", "phrase_weights"), "weak")
        n_batch, n_mix, n_phrases = batch["phrase_weights"].shape
        texts = []
        for captions, groups in zip(batch["captions"], batch["phrases"]):
            phrases = [p for group in groups for p in group]
            if len(captions) != n_mix or len(phrases) != n_mix * n_phrases:
                raise ValueError(f"each item needs N={n_mix} captions and N lists of P={n_phrases}")
            texts.append(list(captions) + phrases)
        return texts

    def forward(self, model, encoder, batch: dict) -> Terms:
        texts = self.query_texts(batch)
        masks, spec, embed = self._masked_magnitudes(model, encoder, batch["mix"], texts)
        return self.terms(model, encoder, batch, texts, masks, spec, embed)

    def terms(self, model, encoder, batch, texts, masks, spec, embed) -> Terms:
        """The loss terms from the masks of all ``N + N * P`` queries of each item.

        Args:
            model: The separator (for its STFT, iSTFT and sample rate).
            encoder: The frozen encoder (audio tower and logit scale).
            batch: The mixture-of-mixtures batch.
            texts: :meth:`query_texts` of the batch.
            masks: :math:`(B, N + N P, F, frames)`, in the order of ``texts``.
            spec: :math:`(B, F, frames)`, complex STFT of the mixture of mixtures.
            embed: :math:`(B, N + N P, D)`, text embeddings of ``texts``.
        """
        mix, mixtures = batch["mix"], batch["mixtures"]
        weights = batch["phrase_weights"].to(mix.device)
        n_batch, n_mix, n_phrases = weights.shape
        mix_mag = spec.abs()
        est = masks * mix_mag.unsqueeze(1)  # (B, N + N*P, F, frames)
        if self.targets_over_p:  # the authors' double division (MUSIC / VGGSound)
            mixtures = mixtures / n_phrases
        targets = model.stft(mixtures).abs()  # (B, N, F, frames)
        url = self.url(est[:, :n_mix], targets, mix_mag)
        crl = self.crl(est[:, n_mix:].unflatten(1, (n_mix, n_phrases)), weights, targets)

        # Phrase estimates as waveforms (mixture phase). A phrase repeated to pad P gives the
        # same estimate of the same mixture, with pooled BatchNorm statistics: make (and
        # judge) it once. Per-query statistics differ by slot, so every slot is its own.
        per_query = getattr(model, "bn_stats", "pooled") == "per_query" and model.training
        keys = [
            (b, j if per_query else p)
            for b, item in enumerate(texts)
            for j, p in enumerate(item[n_mix:])
        ]
        first, rows = first_rows(keys)
        phrase_specs = (masks[:, n_mix:] * spec.unsqueeze(1)).flatten(0, 1)[first]
        wavs = model.istft(phrase_specs, mix.shape[-1])
        row_weights = (weights / weights.sum(-1, keepdim=True)).flatten()
        phrases = [p for item in texts for p in item[n_mix:]]
        teacher_loss, teacher_terms = self.phrase_terms(
            model,
            encoder,
            batch,
            phrases,
            wavs,
            torch.tensor(rows, device=mix.device),
            row_weights,
            embed[:, n_mix:].flatten(0, 1),
        )
        loss = teacher_loss + self.crl_weight * crl + self.url_weight * url
        return {"loss": loss, **teacher_terms, "crl": crl, "url": url}

    def phrase_terms(
        self, model, encoder, batch, phrases, wavs, rows, row_weights, text
    ) -> Tuple[torch.Tensor, Terms]:
        """The teacher's judgement of the phrase estimates: here L_CNT (frozen audio tower).

        Subclasses with another teacher override only this (see
        :class:`~asteroid_wsas.losses.WeakClassifierObjective`).

        Args:
            model: The separator (for its sample rate).
            encoder: The frozen bimodal encoder.
            batch: The mixture-of-mixtures batch.
            phrases: The B * N * P phrases, item-major then mixture-major.
            wavs: :math:`(U, T)`, the estimate of each distinct (item, phrase).
            rows: :math:`(B N P,)`, the row of ``wavs`` of each phrase.
            row_weights: :math:`(B N P,)`, phrase weights normalised per mixture.
            text: :math:`(B N P, D)`, text embeddings of ``phrases``.

        Returns:
            tuple: the weighted term(s) to add to the loss, and the named terms to log.
        """
        audio = encoder.embed_audio(wavs, int(model.sample_rate))[rows]
        cnt = self.contrastive(
            audio, text, encoder.logit_scale, phrases, row_weights, batch["phrase_weights"].shape
        )
        return self.cnt_weight * cnt, {"cnt": cnt}

    def contrastive(
        self,
        audio: torch.Tensor,
        text: torch.Tensor,
        logit_scale,
        phrases: Sequence[str],
        row_weights: torch.Tensor,
        shape: Tuple[int, int, int],
    ) -> torch.Tensor:
        """L_CNT of the phrase estimates' embeddings, in the configured form.

        Args:
            audio: :math:`(B N P, D)` audio embeddings of the estimates, item-major then
                mixture-major.
            text: :math:`(B N P, D)` text embeddings of their phrases.
            logit_scale: The encoder's logit scale (detached).
            phrases: The B * N * P phrases.
            row_weights: :math:`(B N P,)` phrase weights normalised per mixture.
            shape: ``(B, N, P)``.

        Returns:
            torch.Tensor: the scalar L_CNT (summed over the N mixture slots; with
            ``replica_batch``, averaged over the chunks).
        """
        n_batch, n_mix, n_phrases = shape
        replica = self.replica_batch or n_batch
        if n_batch % replica:
            raise ValueError(
                f"a batch of {n_batch} mixtures of mixtures is not a multiple of "
                f"replica_batch={replica} (training.replica_batch)"
            )
        if replica < n_batch:  # each replica's loss on its own rows; DDP averages them
            size = replica * n_mix * n_phrases
            parts = [
                self._contrastive(
                    audio[s : s + size],
                    text[s : s + size],
                    logit_scale,
                    phrases[s : s + size],
                    row_weights[s : s + size],
                    (replica, n_mix, n_phrases),
                )
                for s in range(0, len(phrases), size)
            ]
            return sum(parts) / len(parts)
        return self._contrastive(audio, text, logit_scale, phrases, row_weights, shape)

    def _contrastive(self, audio, text, logit_scale, phrases, row_weights, shape):
        n_batch, n_mix, n_phrases = shape
        ids = text_ids(phrases, device=audio.device) if self.cnt_text_mask else None
        weights = row_weights if self.cnt_row_weights else None
        if self.cnt_negatives == "batch":
            # weighted mean over all rows, times N: the sum over mixtures of per-mixture means
            return n_mix * self.cnt(audio, text, logit_scale, weights, ids)
        slot = torch.arange(n_batch * n_mix * n_phrases, device=audio.device)
        slot = slot.view(n_batch, n_mix, n_phrases).transpose(0, 1).reshape(n_mix, -1)
        return sum(
            self.cnt(
                audio[rows],
                text[rows],
                logit_scale,
                None if weights is None else weights[rows],
                None if ids is None else ids[rows],
            )
            for rows in slot
        )


class MixAndSeparateObjective(Objective):
    r"""CLIPSep-Text's mix-and-separate: the mixture-level query must recover each mixture.

    Queries are the N captions of a mixture of mixtures, targets the N mixtures. With
    clean single-source items this is supervised training (:class:`SupervisedObjective`).

    Args:
        loss: ``"mag_l1"`` (weighted magnitude L1, weight from the mixture of mixtures;
            scaled like L_URL) or ``"si_sdr"`` (negative SI-SDR of the waveforms, mean over
            the N targets).
        weight: Factor on the loss (5, as L_URL in the weak total, by default).
        query: ``"text"`` (the captions) or ``"image"`` (the video frames of each mixture's
            sources, the batch's ``images``: CLIPSep-Img / Sound of Pixels; the encoder must
            embed images, e.g. ``clip_image:...``).
    """

    name = "mix_and_separate"
    LOSSES = ("mag_l1", "si_sdr")
    QUERIES = ("text", "image")

    def __init__(self, loss: str = "mag_l1", weight: float = 5.0, query: str = "text"):
        super().__init__()
        if loss not in self.LOSSES:
            raise ValueError(f"loss must be one of {self.LOSSES}, got {loss!r}")
        if query not in self.QUERIES:
            raise ValueError(f"query must be one of {self.QUERIES}, got {query!r}")
        self.loss_type = loss
        self.weight = float(weight)
        self.query = query
        self.url = MixAndSeparateLoss()

    def _targets(self, batch: dict) -> torch.Tensor:
        return batch["mixtures"]

    def queries(self, batch: dict) -> list:
        """Per item, the N mixtures' queries: captions, or frames with ``query="image"``."""
        if self.query == "text":
            _check_batch(batch, ("mix", "mixtures", "captions"), self.name)
            return batch["captions"]
        if "images" not in batch:
            raise KeyError(
                f"the {self.name} objective with query 'image' needs the frames of each "
                "source (batch key 'images'): set data.frames in the config"
            )
        return batch["images"]

    def separate(self, model, encoder, batch: dict):
        """Masks :math:`(B, N, F, frames)` and mixture STFT of the N mixtures' queries."""
        masks, spec, _ = self._masked_magnitudes(model, encoder, batch["mix"], self.queries(batch))
        return masks, spec

    def reconstruction(self, model, batch: dict, masks, spec) -> torch.Tensor:
        """The separation term (before ``weight``) of masks against the targets."""
        mix, targets = batch["mix"], self._targets(batch)
        if self.loss_type == "mag_l1":
            mix_mag = spec.abs()
            return self.url(masks * mix_mag.unsqueeze(1), model.stft(targets).abs(), mix_mag)
        est = model.istft(masks * spec.unsqueeze(1), mix.shape[-1])
        return multisrc_neg_sisdr(est, targets).mean()

    def forward(self, model, encoder, batch: dict) -> Terms:
        masks, spec = self.separate(model, encoder, batch)
        term = self.reconstruction(model, batch, masks, spec)
        return {"loss": self.weight * term, self.loss_type: term}


class SupervisedObjective(MixAndSeparateObjective):
    r"""Supervised training on clean single sources queried by their text.

    Build the batch with :func:`~asteroid_wsas.data.mixture_of_mixtures` from single-source
    items (e.g. ``MUSICDataset(..., n_sources=1)``): each of the N "mixtures" is then one
    clean source and its caption the source's prompt. The batch's ``sources`` are checked
    to hold one source per item, so mixture-only data cannot be mistaken for clean data.

    Args:
        loss: ``"mag_l1"`` or ``"si_sdr"`` (see :class:`MixAndSeparateObjective`).
        weight: Factor on the loss.
        query: ``"text"`` or ``"image"`` (each source's own frames).
    """

    name = "supervised"
    batches = ("clean",)

    def _targets(self, batch: dict) -> torch.Tensor:
        sources = batch.get("sources")
        if sources is None or any(s.shape[0] != 1 for item in sources for s in item):
            raise ValueError(
                "the supervised objective needs clean single-source items: a batch whose "
                "'sources' hold one source per item (e.g. n_sources=1 datasets)"
            )
        return batch["mixtures"]


class SemiSupervisedObjective(Objective):
    r"""``lambda_s * supervised(clean batch) + lambda_u * weak(mixture batch)``.

    The batch is a dict ``{"clean": ..., "weak": ...}`` of two mixture-of-mixtures batches
    (Lightning's ``CombinedLoader`` gives it). The paper gives the form, not the lambdas.

    Args:
        lambda_s: Weight of the supervised term.
        lambda_u: Weight of the weak term.
        supervised: The supervised objective (default :class:`SupervisedObjective`).
        weak: The weak objective (default :class:`WeakObjective`).
    """

    name = "semi"
    batches = ("clean", "weak")

    def __init__(
        self,
        lambda_s: float = 1.0,
        lambda_u: float = 1.0,
        supervised: Optional[Objective] = None,
        weak: Optional[Objective] = None,
    ):
        super().__init__()
        self.lambda_s, self.lambda_u = float(lambda_s), float(lambda_u)
        self.supervised = supervised or SupervisedObjective()
        self.weak = weak or WeakObjective()

    def forward(self, model, encoder, batch: dict) -> Terms:
        _check_batch(batch, ("clean", "weak"), self.name)
        sup = self.supervised(model, encoder, batch["clean"])
        weak = self.weak(model, encoder, batch["weak"])
        terms = {"loss": self.lambda_s * sup["loss"] + self.lambda_u * weak["loss"]}
        for prefix, part in (("sup", sup), ("weak", weak)):
            terms.update({prefix if k == "loss" else f"{prefix}_{k}": v for k, v in part.items()})
        return terms


class MixITObjective(Objective):
    r"""MixIT (Wisdom et al. 2020) with the text-queried separator as an unconditioned one.

    The model's M learned queries (:class:`~asteroid_wsas.models.queries.LearnedQueries`,
    owned and saved by the model) stand in for the text: the model gives M fixed outputs per
    mixture of mixtures, and Asteroid's :class:`~asteroid.losses.MixITLossWrapper` finds the
    best assignment of outputs to the N mixtures under the negative SNR. At test time a text
    query picks one output (:func:`asteroid_wsas.separator.separate_batch`).

    Args:
        n_outputs: M, outputs per mixture of mixtures; :func:`make_objective` gives the
            model that many learned queries.
    """

    name = "mixit"

    def __init__(self, n_outputs: int = 4):
        super().__init__()
        if n_outputs < 2:
            raise ValueError(f"n_outputs must be >= 2, got {n_outputs}")
        self.n_outputs = int(n_outputs)
        self.mixit = MixITLossWrapper(multisrc_neg_snr, generalized=True)

    def forward(self, model, encoder, batch: dict) -> Terms:
        _check_batch(batch, ("mix", "mixtures"), self.name)
        if batch["mixtures"].shape[1] != 2:
            raise ValueError("MixIT (generalized) needs N=2 mixtures per mixture of mixtures")
        term = self.mixit(_learned_outputs(model, batch["mix"], self.n_outputs), batch["mixtures"])
        return {"loss": term, "neg_snr": term}


class PITObjective(Objective):
    r"""PIT* (permutation-invariant training): unconditional supervised separation.

    The model's N learned queries give N fixed outputs per mixture; Asteroid's
    :class:`~asteroid.losses.PITLossWrapper` scores them against the N clean sources under
    the best permutation (negative SI-SDR). No text is used in training; at test time each
    reference gets its output by the best assignment (``selection = "assignment"``), as the
    paper scores its PIT* row.

    Args:
        n_outputs: N, outputs per mixture (the training mixtures' number of sources).
    """

    name = "pit"
    batches = ("clean",)
    selection = "assignment"

    def __init__(self, n_outputs: int = 2):
        super().__init__()
        if n_outputs < 2:
            raise ValueError(f"n_outputs must be >= 2, got {n_outputs}")
        self.n_outputs = int(n_outputs)
        self.pit = PITLossWrapper(pairwise_neg_sisdr, pit_from="pw_mtx")

    def forward(self, model, encoder, batch: dict) -> Terms:
        _check_batch(batch, ("mix", "mixtures"), self.name)
        sources = batch["mixtures"]  # clean batches: the N clean sources of each mixture
        if sources.shape[1] != self.n_outputs:
            raise ValueError(
                f"PIT with {self.n_outputs} outputs needs mixtures of {self.n_outputs} "
                f"sources, got {sources.shape[1]} (set objective n_outputs = data.n_sources)"
            )
        term = self.pit(_learned_outputs(model, batch["mix"], self.n_outputs), sources)
        return {"loss": term, "neg_sisdr": term}


class MixPITObjective(PITObjective):
    r"""MixPIT (Karamatli & Kirbiz, 2022): PIT on mixtures of mixtures, without clean audio.

    The model's two learned queries give two outputs per mixture of mixtures, trained under
    Asteroid's :class:`~asteroid.losses.PITLossWrapper` (negative SI-SDR, best permutation)
    to recover the two mixtures it was made of. Unlike MixIT there are only as many outputs
    as mixtures, so a source can never be split across outputs; the price is that the model
    learns to separate mixtures, not sources, and relies on generalising from the mixture
    of mixtures (``2 N`` sources) to a test mixture of ``N``. Like PIT* it is scored by the
    best assignment of its outputs to the references.

    Args:
        n_outputs: Outputs per mixture of mixtures: its number of mixtures (2).
    """

    name = "mixpit"
    batches = ("weak",)

    def forward(self, model, encoder, batch: dict) -> Terms:
        _check_batch(batch, ("mix", "mixtures"), self.name)
        mixtures = batch["mixtures"]
        if mixtures.shape[1] != self.n_outputs:
            raise ValueError(
                f"MixPIT with {self.n_outputs} outputs needs mixtures of {self.n_outputs} "
                f"mixtures, got {mixtures.shape[1]}"
            )
        term = self.pit(_learned_outputs(model, batch["mix"], self.n_outputs), mixtures)
        return {"loss": term, "neg_sisdr": term}


def _learned_outputs(model, mix: torch.Tensor, n_outputs: int) -> torch.Tensor:
    """The M outputs of a model's learned queries, :math:`(B, M, T)`."""
    learned = getattr(model, "learned_queries", None)
    if learned is None or len(learned) != n_outputs:
        raise ValueError(
            f"the objective needs a model with {n_outputs} learned queries "
            "(make_objective(name, model) adds them; or n_learned_queries in the model)"
        )
    return model(mix, *learned(mix.shape[0], model.wants_tokens))


OBJECTIVES = {
    "weak": WeakObjective,
    "mix_and_separate": MixAndSeparateObjective,
    "supervised": SupervisedObjective,
    "semi": SemiSupervisedObjective,
    "mixit": MixITObjective,
    "pit": PITObjective,
    "mixpit": MixPITObjective,
}


def register_objective(cls: type) -> type:
    """Register an :class:`Objective` subclass under its ``name`` (a class decorator): the
    config's ``objective.name`` and :func:`make_objective` find it.

    Raises:
        TypeError: Not an Objective subclass with a name of its own.
        ValueError: Another class already has the name.
    """
    return register_named(OBJECTIVES, cls, Objective, "objective")


def make_objective(name: str, model=None, **kwargs) -> Objective:
    """An objective by name (the ``objective`` config key), with its options.

    Args:
        name: One of :data:`OBJECTIVES`.
        model: The separator (MixIT gives it its learned queries).
        **kwargs: The objective's arguments; for ``semi``, ``supervised`` and ``weak`` may be
            dicts of arguments of those objectives.

    Examples:
        >>> make_objective("weak", cnt_weight=1.0).cnt_weight
        1.0
    """
    if name not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {name!r}")
    if issubclass(OBJECTIVES[name], (MixITObjective, PITObjective)):
        if model is None:
            raise ValueError(f"the {name} objective needs the model (it gets learned queries)")
        objective = OBJECTIVES[name](**kwargs)
        model.add_learned_queries(objective.n_outputs)
        return objective
    if name == "semi":
        for part, cls in (("supervised", SupervisedObjective), ("weak", WeakObjective)):
            if isinstance(kwargs.get(part), dict):
                kwargs[part] = cls(**kwargs[part])
    return OBJECTIVES[name](**kwargs)
