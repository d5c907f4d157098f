"""A small multi-label sound-event classifier: the teacher of the classifier-based objectives.

:class:`SoundClassifier` maps waveforms to one logit per class, a class being a phrase of
the training data ("The sound of violin", or an AudioCaps phrase). It is trained on the
weak labels of training mixtures (which phrases a mixture holds) with a binary
cross-entropy, either beforehand (:func:`train_classifier`, then :func:`save_classifier`)
or at the same time as the separator (the objectives' ``mode="concurrent"``).

Used by :mod:`asteroid_wsas.losses.classifier_objectives` (the "w/ timbre classifier" row
of Mahmud et al.'s Table 1, and Pishdadian et al.'s weak-label separation).
"""

import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from ..serialization import PathOrConf, load_package, model_package
from ..utils import refuse_overwrite, shuffled_loader

__all__ = [
    "SoundClassifier",
    "dataset_classes",
    "mixture_examples",
    "multi_hot",
    "classification_bce",
    "train_classifier",
    "save_classifier",
    "load_classifier",
]

TOP_DB = 80.0  # dynamic range kept below each clip's loudest mel bin


class SoundClassifier(nn.Module):
    r"""Log-mel CNN with one logit per class (multi-label sound-event classification).

    Log-mel spectrogram (torchaudio), in dB relative to each clip's mean level and limited
    to 80 dB below its loudest bin, so a gain does not change the input (training
    mixtures come with random gains, and separated estimates at other levels than the
    mixtures the classifier learned on); conv blocks (3x3 conv, GroupNorm, ReLU, 2x2
    average pooling); the remaining frequency bands as features (not averaged: a tone's
    class is where it sits), mean and max over time; a linear layer.

    There is no batch norm and no dropout: ``train()`` and ``eval()`` compute the same
    function, so a frozen classifier inside a training module stays what it was, and the
    output of one clip never depends on the other clips of its batch.

    Args:
        sample_rate: Rate of the input waveforms.
        classes: The class names, one per logit (phrases: see :meth:`class_index`).
        n_mels: Mel bands.
        channels: Channels of the conv blocks (one block each).
        n_fft: STFT size (default: about 32 ms, a power of two).
        hop_length: STFT hop (default: 10 ms).

    Shape:
        - wav: :math:`(N, T)`.
        - output: :math:`(N, C)` logits, C = ``len(classes)``.

    Examples:
        >>> clf = SoundClassifier(8000, ["The sound of dog", "The sound of rain"], n_mels=32)
        >>> clf(torch.randn(3, 4000)).shape
        torch.Size([3, 2])
        >>> clf.class_index(["The sound of rain", "The sound of dog"])
        tensor([1, 0])
    """

    def __init__(
        self,
        sample_rate: int,
        classes: Sequence[str],
        n_mels: int = 64,
        channels: Sequence[int] = (16, 32, 64),
        n_fft: Optional[int] = None,
        hop_length: Optional[int] = None,
    ):
        super().__init__()
        if isinstance(classes, str) or not classes:
            raise ValueError("classes must be a non-empty list of class names (phrases)")
        classes = [str(c) for c in classes]
        if len(set(classes)) != len(classes):
            raise ValueError("classes must be distinct")
        if not channels:
            raise ValueError("channels must name at least one conv block")
        self.sample_rate = int(sample_rate)
        self.classes = classes
        self.index = {c: i for i, c in enumerate(classes)}
        n_fft = int(n_fft or 2 ** round(torch.log2(torch.tensor(0.032 * sample_rate)).item()))
        hop_length = int(hop_length or max(sample_rate // 100, 1))
        self.config = dict(
            sample_rate=self.sample_rate,
            classes=list(classes),
            n_mels=int(n_mels),
            channels=[int(c) for c in channels],
            n_fft=n_fft,
            hop_length=hop_length,
        )
        self.mel = torchaudio.transforms.MelSpectrogram(
            self.sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=int(n_mels), power=2.0
        )
        blocks, in_ch = [], 1
        for out_ch in channels:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(in_ch, int(out_ch), 3, padding=1),
                    nn.GroupNorm(1, int(out_ch)),
                    nn.ReLU(),
                )
            )
            in_ch = int(out_ch)
        self.blocks = nn.ModuleList(blocks)
        n_freq = int(n_mels)
        for _ in channels:
            n_freq = n_freq // 2 if n_freq >= 2 else n_freq
        self.head = nn.Linear(2 * in_ch * n_freq, len(classes))

    @property
    def n_classes(self) -> int:
        """Number of classes, C."""
        return len(self.classes)

    def class_index(self, phrases: Sequence[str]) -> torch.Tensor:
        """The class index of each phrase.

        Args:
            phrases: Class names (phrases), each one of :attr:`classes`.

        Returns:
            LongTensor :math:`(len(phrases),)`, on the classifier's device.

        Raises:
            KeyError: naming the first phrase that is not a class.
        """
        if isinstance(phrases, str):
            raise TypeError("phrases must be a list of phrases, not a single string")
        idx = []
        for phrase in phrases:
            if phrase not in self.index:
                shown = ", ".join(repr(c) for c in self.classes[:5])
                more = " ..." if len(self.classes) > 5 else ""
                raise KeyError(
                    f"phrase {phrase!r} is not a class of this classifier ({self.n_classes} "
                    f"classes: {shown}{more}); train it on data that has this phrase"
                )
            idx.append(self.index[phrase])
        return torch.tensor(idx, dtype=torch.long, device=self.head.weight.device)

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """Level-free log-mel input :math:`(N, 1, mels, frames)` (float32)."""
        if wav.ndim != 2:
            raise ValueError(f"wav must be (N, T), got shape {tuple(wav.shape)}")
        # the STFT and the log in float32, also under bf16 autocast
        with torch.autocast(wav.device.type, enabled=False):
            db = 10 * torch.log10(self.mel(wav.float()) + 1e-10)
            db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True).detach() - TOP_DB)
            db = db - db.mean(dim=(-2, -1), keepdim=True)
        return (db / 20).unsqueeze(1)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = self.features(wav)
        for block in self.blocks:
            x = block(x)
            # halve frequency and time while they are long enough
            x = F.avg_pool2d(x, (min(2, x.shape[-2]), min(2, x.shape[-1])))
        # frequency rows kept apart (not pooled): where energy sits tells classes apart
        h = x.flatten(1, 2)  # (N, channels * bands, frames)
        return self.head(torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=-1))

    # ------------------------------------------------------------------ saving
    def get_model_args(self) -> Dict[str, Any]:
        """Arguments that re-create this classifier, classes included."""
        return dict(self.config)

    def serialize(self) -> Dict[str, Any]:
        """A plain dict of tensors and Python values (loads with ``weights_only=True``)."""
        return model_package(self, self.get_model_args())

    @classmethod
    def from_pretrained(cls, pretrained: PathOrConf) -> "SoundClassifier":
        """Load from :meth:`serialize`'s dict or a file holding one (``weights_only=True``).

        Raises:
            ValueError: The file holds something else than a SoundClassifier.
        """
        package = load_package(pretrained)
        if package.get("model_name") != cls.__name__:
            raise ValueError(f"expected a {cls.__name__} file, got {package.get('model_name')!r}")
        model = cls(**package["model_args"])
        model.load_state_dict(package["state_dict"])
        return model


def save_classifier(
    classifier: SoundClassifier, path: Union[str, os.PathLike], force: bool = False
) -> str:
    """Write ``classifier.serialize()`` to ``path``; refuses to overwrite unless ``force``.

    Returns:
        str: the path.
    """
    path = os.fspath(path)
    refuse_overwrite(path, force=force)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(classifier.serialize(), path)
    return path


def load_classifier(path: PathOrConf) -> SoundClassifier:
    """A classifier saved by :func:`save_classifier` (read with ``weights_only=True``)."""
    return SoundClassifier.from_pretrained(path)


# ---------------------------------------------------------------------------- labels
def dataset_classes(*datasets) -> List[str]:
    """The sorted distinct phrases the items of training datasets can carry: the class
    vocabulary of a classifier teacher.

    - Labelled solos (:class:`~asteroid_wsas.data.mixing.LabeledSourceMixtures`: MUSIC,
      VGGSound): ``source_prompt(label)`` of the split's labels, no audio read.
    - Captioned clips (:class:`~asteroid_wsas.data.audiocaps.AudioCapsDataset`): every
      phrase of every clip (free text: one class per distinct phrase), no audio read.
    - Wrappers with a ``dataset`` (``WithFixedPhrases``, ``SingleSources``): their inner
      dataset's (they choose among its phrases).
    - Anything else: one pass over the items' ``phrases`` (renders every item).

    Examples:
        >>> from asteroid_wsas.data import SyntheticCaptionedMixtures
        >>> len(dataset_classes(SyntheticCaptionedMixtures(3, seconds=0.1))) > 0
        True
    """
    from ..data.audiocaps import AudioCapsDataset
    from ..data.mixing import LabeledSourceMixtures
    from ..text import source_prompt

    found = set()
    for data in datasets:
        if isinstance(data, LabeledSourceMixtures):
            found.update(source_prompt(label) for label in data.labels)
        elif isinstance(data, AudioCapsDataset):
            found.update(p for clip in data.clips for p in clip.phrases)
        elif hasattr(data, "dataset") and not isinstance(data, torch.utils.data.Subset):
            found.update(dataset_classes(data.dataset))
        else:
            found.update(p for i in range(len(data)) for p in data[i]["phrases"])
    if not found:
        raise ValueError("the datasets hold no phrase: no class to learn")
    return sorted(found)


def multi_hot(groups: Sequence[Sequence[str]], classifier: SoundClassifier) -> torch.Tensor:
    """Multi-hot targets :math:`(len(groups), C)`: the classes of each group of phrases."""
    target = torch.zeros(len(groups), classifier.n_classes, device=classifier.head.weight.device)
    for row, phrases in enumerate(groups):
        target[row, classifier.class_index(list(phrases))] = 1.0
    return target


def mixture_examples(batch: dict) -> Tuple[torch.Tensor, List[List[str]]]:
    """The labelled mixtures of a batch: waveforms :math:`(M, T)` and the phrases of each.

    Accepts mixture-of-mixtures batches (:func:`~asteroid_wsas.data.mixture_of_mixtures`:
    the N mixtures of each item, each with its own phrases) and batches of items
    (``mixture`` :math:`(B, T)`, ``phrases`` B lists). Phrases of weight 0 (if
    ``phrase_weights`` says so) are left out.
    """
    if "mixtures" in batch:
        wavs = batch["mixtures"].flatten(0, 1)
        groups = [list(g) for item in batch["phrases"] for g in item]
    elif "mixture" in batch:
        wavs, groups = batch["mixture"], [list(g) for g in batch["phrases"]]
    else:
        raise KeyError("a labelled batch needs 'mixtures' (mixture of mixtures) or 'mixture'")
    weights = batch.get("phrase_weights")
    if weights is not None:
        flat = weights.reshape(len(groups), -1).tolist()
        groups = [[p for p, w in zip(g, ws) if w > 0] for g, ws in zip(groups, flat)]
    return wavs, groups


def _collate_items(items: Sequence[dict]) -> dict:
    """Items to a labelled batch; phrases of weight 0 dropped here (items may have
    different numbers of phrases)."""
    groups = []
    for it in items:
        weights = it.get("phrase_weights")
        weights = [1.0] * len(it["phrases"]) if weights is None else list(map(float, weights))
        groups.append([p for p, w in zip(it["phrases"], weights) if w > 0])
    return {"mixture": torch.stack([it["mixture"] for it in items]), "phrases": groups}


def train_classifier(
    data: Union[torch.utils.data.Dataset, Iterable[dict]],
    classes: Optional[Sequence[str]] = None,
    sample_rate: Optional[int] = None,
    steps: int = 1000,
    *,
    batch_size: int = 16,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    classifier: Optional[SoundClassifier] = None,
    classifier_kwargs: Optional[dict] = None,
    seed: int = 0,
    device: Union[str, torch.device] = "cpu",
    log: Optional[List[float]] = None,
) -> SoundClassifier:
    """Train a :class:`SoundClassifier` on labelled mixtures (weak labels only).

    Each training mixture's target is the multi-hot vector of its phrases; the loss is the
    binary cross-entropy summed over classes, averaged over mixtures (:func:`multi_hot`).
    No clean source is used: this is the "pretrained" teacher of the classifier
    objectives, trained on the training mixtures only.

    Args:
        data: A dataset of items (``mixture`` :math:`(T,)`, ``phrases``, optionally
            ``phrase_weights``; all items the same length), or an iterable of batches
            (mixture-of-mixtures batches or collated items, see :func:`mixture_examples`),
            which is cycled until ``steps``.
        classes: The class vocabulary (default: :func:`dataset_classes` of a dataset).
        sample_rate: Rate of the audio (default: the dataset's ``sample_rate``).
        steps: Optimizer steps.
        batch_size: Mixtures per step (datasets only).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        classifier: Continue training this classifier instead of a new one.
        classifier_kwargs: Arguments of a new classifier (``n_mels``, ``channels``, ...).
        seed: Seed of the initialisation and of the batch order.
        device: Where to train.
        log: A list that receives the loss of every step.

    Returns:
        SoundClassifier: the trained classifier, in eval mode.

    Examples:
        >>> from asteroid_wsas.data import SyntheticCaptionedMixtures
        >>> data = SyntheticCaptionedMixtures(8, seconds=0.25, sample_rate=8000)
        >>> clf = train_classifier(data, steps=2, batch_size=4,
        ...                        classifier_kwargs={"n_mels": 32, "channels": [8]})
        >>> clf.sample_rate, clf.n_classes == len(dataset_classes(data))
        (8000, True)
    """
    from torch.utils.data import Dataset

    torch.manual_seed(seed)
    is_dataset = isinstance(data, Dataset) and hasattr(data, "__len__")
    if classifier is None:
        if classes is None:
            if not is_dataset:
                raise ValueError("classes is needed when data is a loader, not a dataset")
            classes = dataset_classes(data)
        rate = sample_rate or getattr(data, "sample_rate", None)
        if rate is None:
            raise ValueError("sample_rate is needed (the data has no sample_rate attribute)")
        classifier = SoundClassifier(int(rate), classes, **(classifier_kwargs or {}))
    classifier.to(device).train()
    if is_dataset:
        data = shuffled_loader(data, batch_size, _collate_items, seed)
    opt = torch.optim.AdamW(classifier.parameters(), lr=lr, weight_decay=weight_decay)
    step, epoch = 0, 0
    while step < steps:
        # new crops and partners each pass (datasets with set_epoch)
        dataset = getattr(data, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        epoch += 1
        seen = 0
        for batch in data:
            wavs, groups = mixture_examples(batch)
            logits = classifier(wavs.to(device))
            loss = classification_bce(logits, multi_hot(groups, classifier))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step, seen = step + 1, seen + 1
            if log is not None:
                log.append(float(loss.detach()))
            if step >= steps:
                break
        if seen == 0:
            raise ValueError("data gave no batch")
    return classifier.eval()


def classification_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over classes, averaged over rows: the weight of a
    class's own logit does not shrink as the vocabulary grows (thousands of AudioCaps
    phrases)."""
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    return bce.sum(-1).mean()
