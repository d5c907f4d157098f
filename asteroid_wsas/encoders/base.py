"""The bimodal (audio-text) encoder interface: teacher of the weak objective, query source."""

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

TextBatch = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]
# a phrase, or an image (3, H, W) / frames (F, 3, H, W) for encoders with has_image
Query = Union[str, torch.Tensor]

__all__ = ["BimodalEncoder", "encode_queries", "is_image_query"]


class BimodalEncoder(nn.Module):
    """An audio-language model that embeds phrases and waveforms in one space.

    Subclasses implement :meth:`_encode_text` (uncached, a batch of phrases) and
    :meth:`embed_audio`, and set ``sample_rate``, ``embed_dim`` and ``token_dim``. This base
    class adds input checks, padding of token states to a common length and, once the
    encoder is frozen, a per-phrase cache of the text outputs (the text tower of a frozen
    encoder gives the same answer for the same phrase every time).

    Frozen (:meth:`freeze`) means: no parameter requires or receives gradients, the encoder
    stays in eval mode even when a parent module calls ``.train()``, and gradients still
    flow through :meth:`embed_audio` to the input waveform.

    The cache lives in CPU memory: embeddings in float32, token states in ``cache_dtype``
    (float16 by default, about 20 KB per phrase of 12 tokens x 768). Once ``cache_size``
    phrases are stored, further phrases are computed every time but not stored: epochs
    revisit a dataset's phrases in a new order each time, a pattern for which evicting old
    entries (LRU) would drop exactly the phrases that come next. Cached or not, every
    returned value has been through the cache's dtypes, so results do not depend on hits.

    Args:
        cache_size: Most phrases kept (None: no limit; 0: no cache).
        cache_dtype: Storage dtype of cached token states.

    Attributes:
        sample_rate (int): Rate :meth:`embed_audio` works at (inputs are resampled to it).
        embed_dim (int): Size of the normalised embeddings.
        token_dim (int): Size of the text token states.
        has_audio (bool): Whether :meth:`embed_audio` exists (False for text-only query
            encoders such as BERT: they cannot teach the weak objective nor score presence).
        has_image (bool): Whether ``encode_images`` exists (CLIP's two towers,
            :class:`~asteroid_wsas.encoders.clip.ClipEncoder`): image queries in the text
            queries' space.
    """

    sample_rate: int
    embed_dim: int
    token_dim: int
    has_audio: bool = True
    has_image: bool = False

    def __init__(self, cache_size: Optional[int] = 65536, cache_dtype=torch.float16):
        super().__init__()
        if cache_size is not None and cache_size < 0:
            raise ValueError(f"cache_size must be >= 0 or None, got {cache_size}")
        self.cache_size = cache_size
        self.cache_dtype = cache_dtype
        self.frozen = False
        self._cache: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {}
        self.cache_hits = 0
        self.cache_misses = 0

    # ------------------------------------------------------------------ to implement
    @property
    def logit_scale(self) -> float:
        """Temperature of audio -> text similarities (``exp`` of the learnt log-scale)."""
        raise NotImplementedError

    def _encode_text(self, phrases: List[str]) -> TextBatch:
        """Encode phrases without the cache.

        Returns:
            tuple: normalised embeddings ``(N, D)``, token states ``(N, L, E)`` and their
            mask ``(N, L)`` (True for real tokens).
        """
        raise NotImplementedError

    def embed_audio(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Normalised audio embeddings ``(N, D)`` of waveforms ``(N, T)``, differentiable."""
        raise NotImplementedError

    # ------------------------------------------------------------------ public API
    def encode_text(self, phrases: Sequence[str]) -> TextBatch:
        """Embeddings, token states and token mask of phrases, from the cache when frozen.

        Args:
            phrases: The phrases, e.g. ``["A dog barks", "A man speaks"]``.

        Returns:
            tuple: ``embed`` :math:`(N, D)` L2-normalised, ``states`` :math:`(N, L, E)` padded
            with zeros to the longest phrase, ``mask`` :math:`(N, L)` bool, True for real
            tokens.
        """
        phrases = _check_phrases(phrases)
        device = self._device()
        if not phrases:
            return (
                torch.zeros(0, self.embed_dim, device=device),
                torch.zeros(0, 0, self.token_dim, device=device),
                torch.zeros(0, 0, dtype=torch.bool, device=device),
            )
        if not self.frozen or self.cache_size == 0:
            return self._encode_text(phrases)

        unique = list(dict.fromkeys(phrases))
        missing = [p for p in unique if p not in self._cache]
        self.cache_misses += len(missing)
        self.cache_hits += len(phrases) - len(missing)
        fresh = {}
        if missing:
            with torch.no_grad():
                embed, states, mask = self._encode_text(missing)
            for i, phrase in enumerate(missing):
                length = int(mask[i].sum())
                fresh[phrase] = (
                    embed[i].float().cpu(),
                    states[i, :length].to("cpu", self.cache_dtype),
                )
                if self.cache_size is None or len(self._cache) < self.cache_size:
                    self._cache[phrase] = fresh[phrase]
        return _stack([self._cache.get(p) or fresh[p] for p in phrases], device)

    def embed_text(self, phrases: Sequence[str]) -> torch.Tensor:
        """L2-normalised text embeddings ``(N, D)``."""
        return self.encode_text(phrases)[0]

    def text_tokens(self, phrases: Sequence[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Token states ``(N, L, E)`` and mask ``(N, L)`` (True = real token)."""
        _, states, mask = self.encode_text(phrases)
        return states, mask

    def freeze(self) -> "BimodalEncoder":
        """Make the encoder a fixed teacher: no gradients to its weights, always eval mode."""
        self.requires_grad_(False)
        self.frozen = True
        return self.train(False)

    def train(self, mode: bool = True) -> "BimodalEncoder":
        """Like ``nn.Module.train``, except that a frozen encoder stays in eval mode."""
        return super().train(mode and not self.frozen)

    def clear_cache(self) -> None:
        """Forget cached phrases (done automatically when the weights are loaded)."""
        self._cache.clear()

    def cache_stats(self) -> Dict[str, int]:
        """Cache entries, hits and misses so far."""
        return {"entries": len(self._cache), "hits": self.cache_hits, "misses": self.cache_misses}

    def _load_from_state_dict(self, *args, **kwargs):
        self.clear_cache()  # new weights invalidate cached text outputs
        super()._load_from_state_dict(*args, **kwargs)

    def _tokenize(self, phrases: List[str]):
        """The tokenizer's padded, truncated batch on the encoder's device (encoders built on
        a transformers tokenizer, ``self.tokenizer``, with ``self.max_text_length``)."""
        return self.tokenizer(
            phrases,
            padding=True,
            truncation=True,
            max_length=self.max_text_length,
            return_tensors="pt",
        ).to(self._device())

    def _device(self) -> torch.device:
        param = next(self.parameters(), None)
        return param.device if param is not None else torch.device("cpu")

    def _check_audio(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Validate ``embed_audio``'s input and return it as ``(N, T)``."""
        if not isinstance(wav, torch.Tensor):
            raise TypeError(f"wav must be a torch.Tensor, got {type(wav).__name__}")
        if wav.ndim == 1:
            wav = wav.unsqueeze(0)
        if wav.ndim != 2:
            raise ValueError(f"wav must be (T,) or (N, T), got shape {tuple(wav.shape)}")
        if not torch.is_floating_point(wav):
            raise ValueError(f"wav must be a floating point tensor, got {wav.dtype}")
        if wav.shape[-1] == 0:
            raise ValueError("wav is empty (0 samples)")
        if not torch.isfinite(wav).all():
            raise ValueError("wav contains NaN or infinite samples")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive int, got {sample_rate!r}")
        return wav


def encode_queries(
    encoder: "BimodalEncoder", texts: Sequence[Sequence[Query]], with_tokens: bool = True
) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
    """Queries of a batch in one encoder call per kind (text cached per phrase when frozen).

    A query is a phrase or, with an encoder that embeds images (``has_image``), an image
    tensor :math:`(3, H, W)` or several frames :math:`(F, 3, H, W)`; an item may mix both.

    Args:
        encoder: A :class:`BimodalEncoder`.
        texts: B lists of K queries.
        with_tokens: Also return token states and their mask (a model whose
            ``wants_tokens`` is True needs them).

    Returns:
        tuple: ``embed`` :math:`(B, K, D)`, ``tokens`` :math:`(B, K, L, E)` and ``mask``
        :math:`(B, K, L)` (None without tokens).

    Raises:
        ValueError: The items have different numbers of queries.
        TypeError: An image query for an encoder that embeds text only.
    """
    n_queries = {len(t) for t in texts}
    if len(n_queries) != 1:
        raise ValueError(f"every item needs the same number of queries, got {sorted(n_queries)}")
    k = n_queries.pop()
    flat = [q if isinstance(q, torch.Tensor) else str(q) for item in texts for q in item]
    images = [i for i, q in enumerate(flat) if isinstance(q, torch.Tensor)]
    if not images:
        embed, tokens, mask = encoder.encode_text(flat)
    else:
        if not encoder.has_image:
            raise TypeError(
                f"image queries need an encoder of images and text (e.g. "
                f"'clip_image:openai/clip-vit-base-patch32'); {type(encoder).__name__} "
                "embeds text only"
            )
        phrases = [i for i, q in enumerate(flat) if not isinstance(q, torch.Tensor)]
        parts = [(images, encoder.encode_images([flat[i] for i in images]))]
        if phrases:
            parts.append((phrases, encoder.encode_text([flat[i] for i in phrases])))
        embed, tokens, mask = _merge(parts, len(flat))
    embed = embed.unflatten(0, (len(texts), k))
    if not with_tokens:
        return embed, None, None
    return embed, tokens.unflatten(0, (len(texts), k)), mask.unflatten(0, (len(texts), k))


def is_image_query(query: Query) -> bool:
    """Whether a query is an image (a tensor) rather than a phrase."""
    return isinstance(query, torch.Tensor)


def _merge(parts: List[Tuple[List[int], TextBatch]], total: int) -> TextBatch:
    """Encoded query groups put back in their original order, token states padded."""
    length = max(batch[1].shape[1] for _, batch in parts)
    first = parts[0][1]
    embed = first[0].new_zeros(total, first[0].shape[1])
    states = first[1].new_zeros(total, length, first[1].shape[2])
    mask = torch.zeros(total, length, dtype=torch.bool, device=first[2].device)
    for rows, (e, s, m) in parts:
        index = torch.tensor(rows, device=embed.device)
        embed[index] = e.to(embed)
        states[index, : s.shape[1]] = s.to(states)
        mask[index, : m.shape[1]] = m.to(mask.device)
    return embed, states, mask


def _check_phrases(phrases: Union[Sequence[str], str]) -> List[str]:
    if isinstance(phrases, str) or not isinstance(phrases, (list, tuple)):
        raise TypeError(f"phrases must be a list of strings, got {type(phrases).__name__}")
    for i, phrase in enumerate(phrases):
        if not isinstance(phrase, str):
            raise TypeError(f"phrases[{i}] must be a string, got {type(phrase).__name__}")
        if not phrase.strip():
            raise ValueError(f"phrases[{i}] is empty")
    return list(phrases)


def _stack(entries: List[Tuple[torch.Tensor, torch.Tensor]], device: torch.device) -> TextBatch:
    """Stack cached (embed, states) pairs, padding states to the longest phrase."""
    embed = torch.stack([e for e, _ in entries]).to(device)
    lengths = [s.shape[0] for _, s in entries]
    length = max(lengths)
    states = torch.stack([F.pad(s.float(), (0, 0, 0, length - s.shape[0])) for _, s in entries])
    mask = torch.arange(length)[None, :] < torch.tensor(lengths)[:, None]
    return embed, states.to(device), mask.to(device)
