"""A small bimodal encoder trained on (mixture, caption) pairs only.

The paper's "timbre classifier" rows replace CLAP by a weaker teacher; offline, where no
pretrained CLAP can be downloaded, this encoder is the teacher. It never sees clean sources:
it learns to match mixtures with their captions contrastively, and the weak objective then
uses it to score single-source estimates against single-source phrases.
"""

import math
import os
import re
import unicodedata
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from ..serialization import PathOrConf, load_package, model_package
from .base import BimodalEncoder, TextBatch
from ..utils import refuse_overwrite, shuffled_loader

SPECIALS = ("<pad>", "<unk>", "<cls>")
PAD, UNK, CLS = range(3)
_WORD = re.compile(r"[a-z0-9']+")


def fold_accents(text: str) -> str:
    """``text`` with its accents and compatibility forms folded to their base letters
    (Unicode NFKD, combining marks dropped): ``é`` -> ``e``, full-width ``ｄ`` -> ``d``,
    ``ﬁ`` -> ``fi``. Other scripts stay as they are.

    Examples:
        >>> fold_accents("Café, crème brûlée, ｄｏｇ")
        'Cafe, creme brulee, dog'
    """
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def words(text: str, fold: bool = True) -> List[str]:
    """Lower-case word tokens: what the tiny text tower reads (``a-z``, ``0-9`` and ``'``).

    Args:
        text: A caption or a query.
        fold: Fold accents and compatibility forms first (:func:`fold_accents`), as
            encoders do since their files say ``fold_accents: true``; encoder files
            written before read without it (``rîngs`` as ``r``, ``ngs``), as they were
            trained.

    Examples:
        >>> words("A dog barks, then rain falls!")
        ['a', 'dog', 'barks', 'then', 'rain', 'falls']
        >>> words("a bell rîngs"), words("a bell rîngs", fold=False)
        (['a', 'bell', 'rings'], ['a', 'bell', 'r', 'ngs'])
    """
    return _WORD.findall((fold_accents(text) if fold else text).lower())


def build_vocab(
    texts: Iterable[str], min_count: int = 1, max_size: int = 20000, fold: bool = True
) -> List[str]:
    """Vocabulary of the training captions: special tokens, then words by frequency.

    Args:
        texts: Training captions (never test captions).
        min_count: Rarer words map to ``<unk>``.
        max_size: Cap on the vocabulary size, specials included.
        fold: Read the captions as an encoder with ``fold_accents`` does (:func:`words`).

    Returns:
        list[str]: the vocabulary, saved with the model.
    """
    counts = Counter(w for text in texts for w in words(text, fold))
    ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return list(SPECIALS) + ranked[: max_size - len(SPECIALS)]


class TinyBimodalEncoder(BimodalEncoder):
    """Small audio CNN + small text transformer in a shared embedding space.

    Audio: log-mel spectrogram (torchaudio), four conv blocks, mean + max pooling over
    time, a linear projection. Text: word embeddings + positions, a transformer encoder
    whose states are the token states given to the separator, the ``<cls>`` state projected
    to the embedding. About 0.5 M parameters at the defaults.

    Args:
        vocab: Token list from :func:`build_vocab` (saved with the model).
        sample_rate: Rate of the audio tower.
        embed_dim: Size of the joint embedding.
        token_dim: Size of the text token states.
        n_mels: Mel bands.
        n_fft: STFT size.
        hop_length: STFT hop.
        channels: Channels of the four conv blocks.
        text_layers: Transformer layers of the text tower.
        n_heads: Attention heads of the text tower.
        max_text_length: Longest token sequence (``<cls>`` included).
        cache_size: Phrases kept in the text cache once frozen (see :class:`BimodalEncoder`).
        cache_dtype: Storage dtype of cached token states.

    Examples:
        >>> enc = TinyBimodalEncoder(build_vocab(["a dog barks", "rain falls"]))
        >>> enc.embed_text(["A dog barks"]).shape, enc.embed_audio(torch.randn(2, 8000), 8000).shape
        (torch.Size([1, 128]), torch.Size([2, 128]))
    """

    def __init__(
        self,
        vocab: Sequence[str],
        sample_rate: int = 16000,
        embed_dim: int = 128,
        token_dim: int = 64,
        n_mels: int = 64,
        n_fft: int = 512,
        hop_length: int = 160,
        channels: Sequence[int] = (32, 64, 96, 128),
        text_layers: int = 2,
        n_heads: int = 4,
        max_text_length: int = 32,
        cache_size: Optional[int] = 65536,
        cache_dtype: torch.dtype = torch.float16,
        fold_accents: bool = True,
    ):
        super().__init__(cache_size=cache_size, cache_dtype=cache_dtype)
        if list(vocab[: len(SPECIALS)]) != list(SPECIALS):
            raise ValueError(f"vocab must start with the special tokens {SPECIALS}")
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.sample_rate = int(sample_rate)
        self.embed_dim = int(embed_dim)
        self.token_dim = int(token_dim)
        self.max_text_length = int(max_text_length)
        self.config = dict(
            sample_rate=self.sample_rate,
            embed_dim=self.embed_dim,
            token_dim=self.token_dim,
            n_mels=int(n_mels),
            n_fft=int(n_fft),
            hop_length=int(hop_length),
            channels=[int(c) for c in channels],
            text_layers=int(text_layers),
            n_heads=int(n_heads),
            max_text_length=self.max_text_length,
            fold_accents=bool(fold_accents),
        )
        self.fold_accents = bool(fold_accents)

        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, power=2.0
        )
        self.input_norm = nn.BatchNorm2d(1)
        blocks, in_ch = [], 1
        for out_ch in channels:
            blocks += [
                nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
                nn.BatchNorm2d(out_ch),
                nn.ReLU(inplace=True),
                nn.AvgPool2d(2, ceil_mode=True),
            ]
            in_ch = out_ch
        self.cnn = nn.Sequential(*blocks)
        self.audio_proj = nn.Linear(2 * in_ch, embed_dim)

        self.token_embed = nn.Embedding(len(self.vocab), token_dim, padding_idx=PAD)
        self.position_embed = nn.Embedding(max_text_length, token_dim)
        layer = nn.TransformerEncoderLayer(
            token_dim, n_heads, 2 * token_dim, dropout=0.1, batch_first=True, norm_first=True
        )
        self.text_encoder = nn.TransformerEncoder(layer, text_layers, enable_nested_tensor=False)
        self.text_norm = nn.LayerNorm(token_dim)
        self.text_proj = nn.Linear(token_dim, embed_dim)
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    @property
    def logit_scale(self) -> float:
        """Learnt audio -> text temperature (clamped at 100 as in CLIP)."""
        return float(self.log_logit_scale.detach().exp().clamp(max=100.0))

    def words(self, text: str) -> List[str]:
        """The words this encoder reads of ``text`` (:func:`words`, with its folding)."""
        return words(text, self.fold_accents)

    def tokenize(self, phrases: Sequence[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Token ids ``(N, L)`` starting with ``<cls>``, and their mask (True = real)."""
        rows = [
            [CLS] + [self.index.get(w, UNK) for w in self.words(p)][: self.max_text_length - 1]
            for p in phrases
        ]
        length = max(len(r) for r in rows)
        ids = torch.full((len(rows), length), PAD, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return ids.to(self._device()), ids.ne(PAD).to(self._device())

    def _encode_text(self, phrases: List[str]) -> TextBatch:
        ids, mask = self.tokenize(phrases)
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.token_embed(ids) + self.position_embed(positions)
        states = self.text_norm(self.text_encoder(x, src_key_padding_mask=~mask))
        embed = F.normalize(self.text_proj(states[:, 0]), dim=-1)
        return embed, states, mask

    def embed_audio(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Normalised audio embeddings ``(N, D)``, differentiable w.r.t. ``wav``."""
        wav = self._check_audio(wav, sample_rate)
        with torch.autocast(wav.device.type, enabled=False):
            wav = wav.float()
            if sample_rate != self.sample_rate:
                wav = torchaudio.functional.resample(wav, sample_rate, self.sample_rate)
            spec = torch.log(self.mel(wav) + 1e-6).unsqueeze(1)  # (N, 1, mels, frames)
        h = self.cnn(self.input_norm(spec)).mean(dim=2)  # pool frequency
        pooled = torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=-1)
        return F.normalize(self.audio_proj(pooled).float(), dim=-1)

    # ------------------------------------------------------------------ saving
    def get_model_args(self) -> dict:
        """Arguments that re-create this encoder, vocabulary included."""
        return dict(vocab=list(self.vocab), **self.config)

    def serialize(self) -> dict:
        """A plain dict (loads with ``weights_only=True``), as the separators'."""
        return model_package(self, self.get_model_args())

    @classmethod
    def from_pretrained(cls, pretrained: PathOrConf, **kwargs) -> "TinyBimodalEncoder":
        """Load from ``serialize()``'s dict or a file / URL / hub id holding one."""
        conf = load_package(pretrained)
        if conf.get("model_name") != cls.__name__:
            raise ValueError(f"expected a {cls.__name__} file, got {conf.get('model_name')!r}")
        # files written before the folding read as they were trained: without it
        args = {"fold_accents": False, **conf["model_args"], **kwargs}
        model = cls(**args)
        model.load_state_dict(conf["state_dict"])
        return model


# ---------------------------------------------------------------------------- training
def contrastive_loss(audio: torch.Tensor, text: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE between matching rows of ``audio`` and ``text`` embeddings."""
    logits = scale * audio @ text.T
    target = torch.arange(len(audio), device=audio.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def phrase_loss(
    audio: torch.Tensor, text: torch.Tensor, positives: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    """Multi-positive InfoNCE between mixtures and the single-source phrases of a batch.

    A mixture's softmax over the batch's phrases should spread evenly over the phrases of
    its own sources, and each phrase's softmax over the mixtures evenly over those that hold
    it. Trained on mixtures only, this is what the weak objective's L_CNT asks of a teacher
    on a single-source estimate: its own phrase above the other phrases of its mixture.

    Args:
        audio: Mixture embeddings :math:`(B, D)`.
        text: Phrase embeddings :math:`(P, D)` (the batch's distinct phrases).
        positives: :math:`(B, P)` bool, True where the phrase describes a source of the item.
        scale: Logit scale.
    """
    logits = scale * audio @ text.T
    target = positives.float()
    rows, cols = target.sum(1) > 0, target.sum(0) > 0  # items / phrases with a positive
    a2t = -(target / target.sum(1, keepdim=True).clamp_min(1) * logits.log_softmax(1)).sum(1)
    t2a = -(target / target.sum(0, keepdim=True).clamp_min(1) * logits.log_softmax(0)).sum(0)
    return 0.5 * (a2t[rows].mean() + t2a[cols].mean())


@torch.no_grad()
def phrase_accuracy(
    encoder: BimodalEncoder,
    wavs: torch.Tensor,
    sample_rate: int,
    phrases: Sequence[str],
    candidates: Optional[Sequence[str]] = None,
) -> Dict[str, float]:
    """How often a single-source recording ranks its own phrase first among ``candidates``.

    The teacher's job in the weak objective: telling which phrase a single-source estimate
    matches. Measure it on held-out clean recordings (never used in training).

    Args:
        encoder: Any bimodal encoder.
        wavs: Single-source recordings :math:`(N, T)`.
        sample_rate: Their rate.
        phrases: The phrase of each recording (e.g. "The sound of violin").
        candidates: Phrases to choose from (default: the distinct ``phrases``).

    Returns:
        dict: ``top1``, ``top3`` and ``chance`` (1 / number of candidates).
    """
    candidates = sorted(set(phrases)) if candidates is None else list(candidates)
    index = {p: i for i, p in enumerate(candidates)}
    missing = sorted(set(phrases) - set(index))
    if missing:
        raise ValueError(f"phrases not among the candidates: {missing}")
    was_training = encoder.training
    encoder.eval()
    audio = torch.cat([encoder.embed_audio(w, sample_rate) for w in wavs.split(64)])
    text = encoder.embed_text(candidates)
    encoder.train(was_training)
    order = (audio @ text.T).argsort(1, descending=True).cpu()
    truth = torch.tensor([index[p] for p in phrases])
    rank = (order == truth[:, None]).float().argmax(1)
    return {
        "top1": float((rank < 1).float().mean()),
        "top3": float((rank < 3).float().mean()),
        "chance": 1.0 / len(candidates),
    }


@torch.no_grad()
def retrieval_recall(
    encoder: BimodalEncoder, wavs: torch.Tensor, sample_rate: int, captions: Sequence[str]
) -> Dict[str, float]:
    """Caption retrieval from audio: how often an item's own caption ranks first.

    Args:
        encoder: Any bimodal encoder.
        wavs: Mixtures :math:`(N, T)`.
        sample_rate: Their rate.
        captions: Their captions, in the same order.

    Returns:
        dict: ``r_at_1``, ``r_at_5`` and ``chance`` (= 1 / N for R@1).
    """
    was_training = encoder.training
    encoder.eval()
    audio = torch.cat([encoder.embed_audio(w, sample_rate) for w in wavs.split(64)])
    text = encoder.embed_text(list(captions))
    encoder.train(was_training)
    scores = audio @ text.T
    # Identical captions count as hits: retrieval cannot tell them apart.
    same = torch.tensor([[a == b for b in captions] for a in captions], device=scores.device)
    ranks = (scores > scores.masked_fill(~same, -2).amax(1, keepdim=True)).sum(1)
    n = len(captions)
    return {
        "r_at_1": float((ranks < 1).float().mean()),
        "r_at_5": float((ranks < 5).float().mean()),
        "chance": 1.0 / n,
    }


def _one_cycle(opt: torch.optim.Optimizer, lr: float, steps: int):
    """One-cycle schedule with 5 % warm-up; short runs warm up over 2 steps, because
    OneCycleLR divides by zero when its warm-up ends at step 0 (e.g. 5 % of 20 steps), and
    runs under 3 steps keep ``lr``."""
    if steps < 3:
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    pct = 0.05 if steps >= 40 else 2 / steps
    return torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=pct)


def train_tiny_encoder(
    train_data,
    val_data=None,
    *,
    steps: int = 2000,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    encoder: Optional[TinyBimodalEncoder] = None,
    encoder_kwargs: Optional[dict] = None,
    log_every: int = 100,
    seed: int = 0,
    progress: bool = True,
    device: Union[str, torch.device] = "cpu",
    phrase_weight: float = 0.0,
) -> Tuple[TinyBimodalEncoder, List[Dict[str, float]]]:
    """Train a :class:`TinyBimodalEncoder` contrastively on (mixture, caption) pairs.

    Args:
        train_data: A dataset of dicts with ``mixture`` :math:`(T,)` and ``caption`` (e.g.
            :class:`~asteroid_wsas.data.SyntheticCaptionedMixtures`); all items the same
            length. Its ``sample_rate`` attribute sets the encoder's.
        val_data: Held-out mixtures (unseen in training) for caption retrieval.
        steps: Optimizer steps.
        batch_size: Pairs per step (the other pairs of a batch are the negatives).
        lr: AdamW learning rate (cosine decay).
        weight_decay: AdamW weight decay.
        encoder: Continue training this encoder instead of a new one.
        encoder_kwargs: Arguments for a new encoder (besides vocabulary and rate).
        log_every: Steps between validation / log rows.
        seed: Seed of initialisation and batch order.
        progress: Show a progress bar.
        device: Where to train.
        phrase_weight: Weight of :func:`phrase_loss` beside the caption loss (needs items
            with ``phrases``: one single-source phrase per source of the mixture).

    Returns:
        tuple: the trained encoder (not frozen; call ``.freeze()`` to use it as a teacher)
        and the log rows (``step``, ``loss`` and, with ``val_data``, retrieval scores).
    """
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    rate = int(getattr(train_data, "sample_rate", 16000))
    if encoder is None:
        captions = [train_data[i]["caption"] for i in range(len(train_data))]
        kwargs = encoder_kwargs or {}
        vocab = build_vocab(captions, fold=kwargs.get("fold_accents", True))
        encoder = TinyBimodalEncoder(vocab, sample_rate=rate, **kwargs)
    encoder.to(device).train()
    opt = torch.optim.AdamW(encoder.parameters(), lr=lr, weight_decay=weight_decay)
    sched = _one_cycle(opt, lr, steps)
    loader = shuffled_loader(train_data, batch_size, _collate, seed)
    val = (
        _collate([val_data[i] for i in range(len(val_data))])[:2] if val_data is not None else None
    )

    log: List[Dict[str, float]] = []
    bar = tqdm(total=steps, desc="tiny encoder", disable=not progress)
    step, running, epoch = 0, [], 0
    while step < steps:
        # new crops, gains and partners each pass (datasets with set_epoch), not one fixed set
        if hasattr(train_data, "set_epoch"):
            train_data.set_epoch(epoch)
        epoch += 1
        for wavs, captions, phrases in loader:
            audio = encoder.embed_audio(wavs.to(device), rate)
            text = encoder.embed_text(captions)
            scale = encoder.log_logit_scale.exp().clamp(max=100)
            loss = contrastive_loss(audio, text, scale)
            if phrase_weight:
                if phrases is None:
                    raise ValueError("phrase_weight > 0 needs items with 'phrases'")
                distinct = sorted({p for item in phrases for p in item})
                positives = torch.tensor([[p in item for p in distinct] for item in phrases])
                phrase_text = encoder.embed_text(distinct)
                loss = loss + phrase_weight * phrase_loss(
                    audio, phrase_text, positives.to(audio.device), scale
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            running.append(loss.item())
            bar.update(1)
            if step % log_every == 0 or step == steps:
                row = {"step": step, "loss": sum(running) / len(running)}
                running = []
                if val is not None:
                    row.update(retrieval_recall(encoder, val[0].to(device), rate, val[1]))
                log.append(row)
                bar.set_postfix({k: round(v, 3) for k, v in row.items() if k != "step"})
            if step >= steps:
                break
    bar.close()
    return encoder, log


def _collate(items) -> Tuple[torch.Tensor, List[str], Optional[List[List[str]]]]:
    phrases = [it.get("phrases") for it in items]
    phrases = None if any(p is None for p in phrases) else [list(p) for p in phrases]
    return torch.stack([it["mixture"] for it in items]), [it["caption"] for it in items], phrases


def save_encoder(encoder: TinyBimodalEncoder, path: Union[str, os.PathLike], force: bool = False):
    """Write ``encoder.serialize()`` to ``path``; refuses to overwrite unless ``force``."""
    refuse_overwrite(path, force=force)
    torch.save(encoder.serialize(), path)
