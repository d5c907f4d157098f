r"""Objectives with a sound-event classifier as the teacher, in place of the CLAP-like encoder.

========================  ==============================================================
``weak_classifier``       Mahmud et al. (ICLR 2024), Table 1, "Proposed w/ timbre
                          classifier": the weak objective with L_CNT replaced by the
                          cross-entropy of a classifier on each phrase estimate
``weak_sup``              Pishdadian et al. (2020): classifier loss on each queried output
                          (one-hot BCE) + mixture consistency; no captions, no CLAP teacher
``cosep``                 Gao & Grauman (2019), CoSep*: image-queried mix-and-separate (or
                          supervised) + a jointly trained classifier on every output
========================  ==============================================================

Both take the class vocabulary ``classes`` (the distinct phrases of the training data,
which :func:`~asteroid_wsas.engine.training.build_objective` passes to objectives that set
``needs_classes = True``, with the data's ``sample_rate``) and a teacher ``mode``:

- ``"concurrent"`` (default): a :class:`~asteroid_wsas.models.classifier.SoundClassifier`
  owned by the objective is trained at the same time, on the N mixtures of each batch and
  their multi-hot labels (term ``"teacher"``, binary cross-entropy). Its parameters are the
  objective's, so the system's optimizer trains them; the separator's classification term
  sees the classifier through detached weights (:meth:`ClassifierTeacher.judge`), so only
  the mixtures' labels train the classifier and only the separation term trains the
  separator through it.
- ``"pretrained"``: a classifier trained beforehand on the labelled training mixtures
  (:func:`~asteroid_wsas.models.classifier.train_classifier`, saved with
  :func:`~asteroid_wsas.models.classifier.save_classifier`), given as the file path
  ``classifier`` (read with ``weights_only=True``) and frozen.

The separator still answers text queries: the frozen encoder gives the query embeddings,
its audio tower is not used.
"""

import copy
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..models.classifier import (
    SoundClassifier,
    classification_bce,
    load_classifier,
    mixture_examples,
    multi_hot,
)
from .objectives import (
    MixAndSeparateObjective,
    Objective,
    SupervisedObjective,
    WeakObjective,
    _check_batch,
    register_objective,
)
from .reconstruction import WeightedMagnitudeL1

__all__ = [
    "ClassifierTeacher",
    "WeakClassifierObjective",
    "WeakSupObjective",
    "CoSepObjective",
    "CoSepCleanObjective",
]

Terms = Dict[str, torch.Tensor]
ClassifierSpec = Union[None, str, os.PathLike, SoundClassifier]


class ClassifierTeacher(nn.Module):
    r"""The classifier of a classifier objective, trained alongside or loaded and frozen.

    Args:
        mode: ``"concurrent"`` (a new classifier, trained on each batch's mixtures) or
            ``"pretrained"`` (``classifier`` loaded and frozen).
        classes: Class vocabulary (phrases). Needed for ``concurrent``; for
            ``pretrained``, each must be a class of the loaded classifier.
        sample_rate: Rate of the audio. Needed for ``concurrent``; checked for
            ``pretrained``.
        classifier: ``pretrained`` only: a file from
            :func:`~asteroid_wsas.models.classifier.save_classifier` (or a classifier,
            which is copied).
        classifier_kwargs: ``concurrent`` only: arguments of the new classifier
            (``n_mels``, ``channels``, ...).

    Raises:
        ValueError: Unknown mode, missing or contradicting arguments.
    """

    MODES = ("concurrent", "pretrained")

    def __init__(
        self,
        mode: str = "concurrent",
        classes: Optional[Sequence[str]] = None,
        sample_rate: Optional[int] = None,
        classifier: ClassifierSpec = None,
        classifier_kwargs: Optional[dict] = None,
    ):
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode
        if mode == "concurrent":
            if classifier is not None:
                raise ValueError("mode 'concurrent' trains a new classifier: give no classifier")
            if not classes or sample_rate is None:
                raise ValueError(
                    "mode 'concurrent' needs classes and sample_rate (build_objective passes the "
                    "training data's phrases and rate)"
                )
            self.classifier = SoundClassifier(
                int(sample_rate), classes, **(classifier_kwargs or {})
            )
            return
        if classifier is None:
            raise ValueError("mode 'pretrained' needs classifier: the path of a saved classifier")
        if classifier_kwargs:
            raise ValueError("classifier_kwargs is for mode 'concurrent' (a new classifier)")
        # a copy of a given classifier: freezing it here must not freeze the caller's
        if isinstance(classifier, SoundClassifier):
            classifier = copy.deepcopy(classifier)
        else:
            classifier = load_classifier(classifier)
        unknown = sorted(set(classes or ()) - set(classifier.classes))
        if unknown:
            raise ValueError(
                f"the pretrained classifier lacks {len(unknown)} class(es) of the data, e.g. "
                f"{unknown[:3]}; train it on the same training data"
            )
        if sample_rate is not None and int(sample_rate) != classifier.sample_rate:
            raise ValueError(
                f"the pretrained classifier runs at {classifier.sample_rate} Hz, "
                f"the data at {sample_rate} Hz"
            )
        self.classifier = classifier.requires_grad_(False).eval()

    @property
    def trained(self) -> bool:
        """Whether the classifier learns with the separator (``concurrent``)."""
        return self.mode == "concurrent"

    def check_rate(self, model) -> None:
        """Raise unless the separator runs at the classifier's rate."""
        rate = int(round(float(model.sample_rate)))
        if rate != self.classifier.sample_rate:
            raise ValueError(
                f"the separator runs at {rate} Hz, the classifier at "
                f"{self.classifier.sample_rate} Hz"
            )

    def judge(self, wav: torch.Tensor) -> torch.Tensor:
        """Logits :math:`(M, C)` of separated waveforms :math:`(M, T)`: gradients reach the
        waveforms (the separator), never the classifier's weights (detached here)."""
        weights = {k: v.detach() for k, v in self.classifier.named_parameters()}
        return torch.func.functional_call(self.classifier, weights, (wav,))

    def train_term(self, batch: dict) -> Optional[torch.Tensor]:
        """``concurrent``: the classifier's BCE on the batch's labelled mixtures (data: no
        gradient reaches the separator); ``pretrained``: None."""
        if not self.trained:
            return None
        _check_batch(batch, ("mixtures", "phrases"), "classifier teacher")
        wavs, groups = mixture_examples(batch)
        return classification_bce(self.classifier(wavs), multi_hot(groups, self.classifier))

    def with_train_term(
        self, loss: torch.Tensor, out: Terms, batch: dict, weight: float
    ) -> torch.Tensor:
        """``loss`` plus ``weight`` times :meth:`train_term`, which ``out`` gets as
        ``teacher`` (``concurrent``); ``loss`` as it is (``pretrained``)."""
        teacher = self.train_term(batch)
        if teacher is not None:
            loss = loss + weight * teacher
            out["teacher"] = teacher
        return loss

    def class_index(self, phrases: Sequence[str]) -> torch.Tensor:
        """See :meth:`~asteroid_wsas.models.classifier.SoundClassifier.class_index`."""
        return self.classifier.class_index(phrases)


@register_objective
class WeakClassifierObjective(WeakObjective):
    r"""The paper's "Proposed w/ timbre classifier" row: L_CNT replaced by a classifier.

    ``loss = cls_weight * L_CLS + crl_weight * L_CRL + url_weight * L_URL`` (+
    ``teacher_weight * teacher`` in ``concurrent`` mode). L_URL and L_CRL are
    :class:`~asteroid_wsas.losses.WeakObjective`'s, computed alike from the same single
    model call. L_CLS: each phrase estimate (waveform with the mixture's phase, as the weak
    objective builds it) goes through the classifier and must be recognised as its
    phrase's class, a cross-entropy over all classes. As in L_CNT, a phrase repeated to pad
    P is classified once (same estimate), rows are weighted by the phrase weights
    normalised per mixture and summed over the N mixtures; other copies of a phrase are its
    own class, never a competitor.

    Args:
        classes: Class vocabulary (the training data's distinct phrases).
        sample_rate: Rate of the data.
        mode: ``"concurrent"`` or ``"pretrained"`` (see :class:`ClassifierTeacher`).
        classifier: ``pretrained``: path of the saved classifier.
        cls_weight: Weight of L_CLS (L_CNT's 0.5 by default).
        crl_weight: Weight of L_CRL.
        url_weight: Weight of L_URL.
        teacher_weight: Weight of the classifier's own BCE (``concurrent``; it only
            trains the classifier).
        classifier_kwargs: ``concurrent``: arguments of the new classifier.

    Returns (forward):
        dict: ``loss``, ``cls``, ``crl``, ``url`` and, ``concurrent``, ``teacher``.

    Examples:
        >>> obj = WeakClassifierObjective(["The sound of dog", "The sound of rain"], 8000,
        ...                               classifier_kwargs={"n_mels": 32, "channels": [8]})
        >>> obj.teacher.mode, obj.teacher.classifier.n_classes
        ('concurrent', 2)
    """

    name = "weak_classifier"
    needs_classes = True

    def __init__(
        self,
        classes: Optional[Sequence[str]] = None,
        sample_rate: Optional[int] = None,
        mode: str = "concurrent",
        classifier: ClassifierSpec = None,
        cls_weight: float = 0.5,
        crl_weight: float = 5.0,
        url_weight: float = 5.0,
        teacher_weight: float = 1.0,
        classifier_kwargs: Optional[dict] = None,
    ):
        super().__init__(cnt_weight=cls_weight, crl_weight=crl_weight, url_weight=url_weight)
        del self.cnt  # no contrastive term here
        self.cls_weight, self.teacher_weight = float(cls_weight), float(teacher_weight)
        self.teacher = ClassifierTeacher(mode, classes, sample_rate, classifier, classifier_kwargs)

    def phrase_terms(
        self, model, encoder, batch, phrases, wavs, rows, row_weights, text
    ) -> Tuple[torch.Tensor, Terms]:
        """L_CLS (and the concurrent classifier's own term) in place of L_CNT; arguments as
        :meth:`WeakObjective.phrase_terms` (``encoder`` and ``text`` are not used here)."""
        self.teacher.check_rate(model)
        n_mix = batch["phrase_weights"].shape[1]
        logits = self.teacher.judge(wavs)
        ce = F.cross_entropy(
            logits[rows.to(logits.device)].float(),
            self.teacher.class_index(phrases),
            reduction="none",
        )
        row_weights = row_weights.to(ce.device)
        # weighted mean over all rows, times N: the sum over mixtures of per-mixture means
        cls = n_mix * (row_weights * ce).sum() / row_weights.sum()
        out = {"cls": cls}
        loss = self.teacher.with_train_term(self.cls_weight * cls, out, batch, self.teacher_weight)
        return loss, out


@register_objective
class WeakSupObjective(Objective):
    r"""Weak-label separation after Pishdadian, Wichern and Le Roux, "Finding strength in
    weakness: learning to separate sounds with weak supervision", IEEE/ACM TASLP, 2020
    (arXiv:1911.02182).

    The separator is queried with the phrases (class prompts) present in each mixture of
    mixtures X (the distinct phrases of its N mixtures). Two terms:

    - ``cls``: each output goes through the classifier, which must give its class
      probability 1 and every other class 0: binary cross-entropy against the one-hot
      vector (summed over classes, mean over outputs).
    - ``mix``: mixture consistency, the outputs of the present phrases must add up to X.
      Weighted L1 between the STFT magnitudes (``sum_k |S_k| = sum_k m_k |X|`` against
      ``|X|``, weight ``log1p(|X|)`` as in L_URL). Magnitudes because the separator (like
      the paper's) predicts masks on the mixture's spectrogram and keeps its phase, so the
      magnitude sum is exactly what it controls, and the term's scale matches L_URL /
      L_CRL; not SI-SDR, which ignores the level and would accept a sum at any gain.

    No captions and no audio-language teacher are used (the encoder only embeds the
    queries). Reproduced: the two terms (a classifier as the assessor of each separated
    source, and sources that sum to the mixture) with clip-level weak labels;
    ``mode="pretrained"`` is a classifier trained beforehand on the training mixtures'
    labels and then fixed, ``"concurrent"`` one trained alongside (an option shared with
    ``weak_classifier``). Not reproduced: the paper's frame-level labels, its classifier and
    separator architectures (here a text-queried separator answers one query per present
    class, so there are no outputs for absent classes), its loss weights and schedule.

    Args:
        classes: Class vocabulary (the training data's distinct phrases).
        sample_rate: Rate of the data.
        mode: ``"concurrent"`` or ``"pretrained"`` (see :class:`ClassifierTeacher`).
        classifier: ``pretrained``: path of the saved classifier.
        cls_weight: Weight of the classification term.
        mix_weight: Weight of the mixture-consistency term.
        teacher_weight: Weight of the classifier's own BCE (``concurrent``).
        classifier_kwargs: ``concurrent``: arguments of the new classifier.

    Returns (forward):
        dict: ``loss``, ``cls``, ``mix`` and, ``concurrent``, ``teacher``.

    Examples:
        >>> batch = {"mix": torch.zeros(1, 8), "phrase_weights": torch.ones(1, 2, 1),
        ...          "phrases": [[["The sound of dog"], ["The sound of dog"]]]}
        >>> WeakSupObjective.query_texts(batch)[1]  # the repeated phrase is queried once
        tensor([[ True, False]])
    """

    name = "weak_sup"
    needs_classes = True

    def __init__(
        self,
        classes: Optional[Sequence[str]] = None,
        sample_rate: Optional[int] = None,
        mode: str = "concurrent",
        classifier: ClassifierSpec = None,
        cls_weight: float = 1.0,
        mix_weight: float = 5.0,
        teacher_weight: float = 1.0,
        classifier_kwargs: Optional[dict] = None,
    ):
        super().__init__()
        self.cls_weight, self.mix_weight = float(cls_weight), float(mix_weight)
        self.teacher_weight = float(teacher_weight)
        self.l1 = WeightedMagnitudeL1()
        self.teacher = ClassifierTeacher(mode, classes, sample_rate, classifier, classifier_kwargs)

    @staticmethod
    def query_texts(batch: dict) -> Tuple[List[List[str]], torch.Tensor]:
        """Per item, the N * P phrases (mixture-major), and which of them count:
        :math:`(B, N P)`, 1 for the first copy of each distinct phrase of weight > 0."""
        _check_batch(batch, ("mix", "phrases", "phrase_weights"), "weak_sup")
        weights = batch["phrase_weights"].flatten(1).tolist()
        texts, counted = [], []
        for groups, item_weights in zip(batch["phrases"], weights):
            phrases = [p for group in groups for p in group]
            if len(phrases) != len(item_weights):
                raise ValueError("each item needs N lists of P phrases (see phrase_weights)")
            seen = set()
            keep = [w > 0 and not (p in seen or seen.add(p)) for p, w in zip(phrases, item_weights)]
            texts.append(phrases)
            counted.append(keep)
        return texts, torch.tensor(counted, dtype=torch.bool)

    def forward(self, model, encoder, batch: dict) -> Terms:
        self.teacher.check_rate(model)
        texts, counted = self.query_texts(batch)
        mix = batch["mix"]
        masks, spec, _ = self._masked_magnitudes(model, encoder, mix, texts)
        counted = counted.to(masks.device)
        mix_mag = spec.abs()
        rebuilt = (masks * counted[..., None, None].to(masks.dtype)).sum(1) * mix_mag
        mix_term = self.l1(rebuilt, mix_mag, mix_mag)

        outputs = (masks * spec.unsqueeze(1))[counted]  # (M, F, frames), present phrases
        logits = self.teacher.judge(model.istft(outputs, mix.shape[-1]))
        phrases = [p for item in texts for p in item]
        keep = counted.flatten().tolist()
        index = self.teacher.class_index([p for p, k in zip(phrases, keep) if k])
        target = F.one_hot(index, self.teacher.classifier.n_classes)
        cls = classification_bce(logits, target)

        loss = self.cls_weight * cls + self.mix_weight * mix_term
        out = {"cls": cls, "mix": mix_term}
        loss = self.teacher.with_train_term(loss, out, batch, self.teacher_weight)
        return {"loss": loss, **out}


@register_objective
class CoSepObjective(MixAndSeparateObjective):
    r"""CoSep* (Gao & Grauman, ICCV 2019): separation queried by what is seen, plus a
    classifier that must recognise each separated output as the seen object's class.

    ``loss = weight * L_sep + cls_weight * L_CLS``. L_sep is mix-and-separate (``cosep``) or
    supervised on clean sources (``cosep_clean``), queried by the sources' video frames
    (``query="image"``) or captions. L_CLS: each separated output's waveform goes through a
    sound classifier trained jointly with the separator (CoSep's co-separation loss: the
    gradient trains both), target the classes of the sources the query shows (multi-hot:
    a mixture-level query shows all of its sources). No object detector: the whole frame is
    the "object" and the class comes from the dataset's labels, where CoSep takes detected
    objects and the detector's classes.

    Args:
        classes: Class vocabulary (the training data's distinct phrases).
        sample_rate: Rate of the data.
        cls_weight: Weight of L_CLS.
        loss: ``"mag_l1"`` or ``"si_sdr"`` (see :class:`MixAndSeparateObjective`).
        weight: Factor on L_sep.
        query: ``"image"`` (default) or ``"text"``.
        classifier_kwargs: Arguments of the classifier (``n_mels``, ``channels``, ...).

    Examples:
        >>> obj = CoSepObjective(["The sound of dog", "The sound of rain"], 8000,
        ...                      classifier_kwargs={"n_mels": 32, "channels": [8]})
        >>> obj.batches, obj.classifier.n_classes
        (('weak',), 2)
    """

    name = "cosep"
    needs_classes = True
    clean = False  # mixtures of mixtures; cosep_clean: clean single sources

    def __init__(
        self,
        classes: Optional[Sequence[str]] = None,
        sample_rate: Optional[int] = None,
        cls_weight: float = 1.0,
        loss: str = "mag_l1",
        weight: float = 5.0,
        query: str = "image",
        classifier_kwargs: Optional[dict] = None,
    ):
        super().__init__(loss=loss, weight=weight, query=query)
        if not classes or sample_rate is None:
            raise ValueError(
                "cosep needs classes and sample_rate (build_objective passes the training "
                "data's phrases and rate)"
            )
        self.cls_weight = float(cls_weight)
        self.classifier = SoundClassifier(int(sample_rate), classes, **(classifier_kwargs or {}))

    def _targets(self, batch: dict) -> torch.Tensor:
        if self.clean:
            return SupervisedObjective._targets(self, batch)
        return batch["mixtures"]

    def forward(self, model, encoder, batch: dict) -> Terms:
        _check_batch(batch, ("mix", "mixtures", "phrases"), self.name)
        masks, spec = self.separate(model, encoder, batch)
        sep = self.reconstruction(model, batch, masks, spec)
        outputs = model.istft((masks * spec.unsqueeze(1)).flatten(0, 1), batch["mix"].shape[-1])
        groups = [list(group) for item in batch["phrases"] for group in item]
        cls = classification_bce(self.classifier(outputs), multi_hot(groups, self.classifier))
        return {"loss": self.weight * sep + self.cls_weight * cls, self.loss_type: sep, "cls": cls}


@register_objective
class CoSepCleanObjective(CoSepObjective):
    """:class:`CoSepObjective` on clean single sources (the single-source column of CoSep*):
    supervised separation queried by each source's frames, plus the classifier term."""

    name = "cosep_clean"
    batches = ("clean",)
    clean = True
