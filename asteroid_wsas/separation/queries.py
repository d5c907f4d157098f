"""User queries as the encoder reads them, and what is wrong with them.

:func:`resolve_queries` turns what a user passes (texts, ``"image:PATH"``, paths, PIL
images, arrays, tensors) into texts and image tensors, after the one check of
:func:`~asteroid_wsas.separation.contract.check_queries`; :func:`query_warnings` says which
queries the encoder cannot read or tell apart.
"""

import os
import unicodedata
import warnings
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..encoders.base import BimodalEncoder, Query, encode_queries
from .contract import IMAGE_PREFIX, QueryWarning, check_queries, image_path

__all__ = ["QueryLike", "resolve_queries", "query_warnings", "unreadable", "warn_queries"]

# a text, or an image: "image:PATH", a Path, a PIL image, an array or a tensor
QueryLike = Union[str, os.PathLike, np.ndarray, torch.Tensor, Any]


def resolve_queries(
    queries: Union[None, QueryLike, Sequence[QueryLike]], argument: str, allow_empty: bool = False
) -> Tuple[List[str], List[Query]]:
    """Names and encoder inputs of user queries: texts stay texts, images become tensors.

    Args:
        queries: One query or a list (see :meth:`Separator.separate
            <asteroid_wsas.separation.separator.Separator.separate>`).
        argument: The argument's name, for messages.
        allow_empty: Accept None / an empty list.

    Returns:
        tuple: names (the text, ``"image:PATH"`` or ``"image <k>"``) and queries (texts and
        uint8 image tensors :math:`(3, H, W)` / :math:`(F, 3, H, W)`).

    Raises:
        ValueError: No query (unless allowed), an empty text, or an unreadable image.

    Examples:
        >>> resolve_queries("a dog barks", "queries")
        (['a dog barks'], ['a dog barks'])
        >>> names, qs = resolve_queries(["a cello", np.zeros((4, 4, 3), np.uint8)], "queries")
        >>> names, tuple(qs[1].shape)
        (['a cello', 'image 1'], (3, 4, 4))
    """
    from ..data.frames import load_image

    names, out = [], []
    for k, query in enumerate(check_queries(queries, argument, allow_empty=allow_empty)):
        if isinstance(query, str) and image_path(query) is None:
            names.append(query)
            out.append(query)
        elif isinstance(query, (str, os.PathLike)):
            path = image_path(query) if isinstance(query, str) else os.fspath(query)
            out.append(load_image(path))
            names.append(IMAGE_PREFIX + path)
        elif isinstance(query, torch.Tensor) and query.ndim == 4:  # frames of one query
            out.append(torch.stack([load_image(frame) for frame in query]))
            names.append(f"image {k}")
        else:
            out.append(load_image(query))
            names.append(f"image {k}")
    return names, out


def query_warnings(
    encoder: BimodalEncoder,
    names: Sequence[str],
    queries: Sequence[Query],
    embed: Optional[torch.Tensor] = None,
) -> List[str]:
    """What is wrong with queries that the encoder cannot read or tell apart.

    Three checks: texts the encoder reads as nothing (:func:`unreadable`: no letter or
    digit, or no token its tokenizer knows: Japanese for the small encoder, emoji for a
    WordPiece one), words a small encoder's vocabulary lacks (they are all read as one
    ``<unk>`` token), and queries whose text embeddings are the same vector (their
    estimates are then identical). Byte-level tokenizers (CLAP's RoBERTa, CLIP) read every
    character, so for them only a text without letters or digits is unreadable.

    Args:
        encoder: The separator's query encoder.
        names: The queries' names (texts, or ``image:...``).
        queries: The resolved queries (:func:`resolve_queries`).
        embed: Their embeddings :math:`(K, D)` when they are encoded already (None:
            encoded here).

    Returns:
        list[str]: One message per problem (empty when every query is fine).

    Examples:
        >>> from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab
        >>> enc = TinyBimodalEncoder(build_vocab(["a dog barks"]), embed_dim=16, token_dim=12)
        >>> print(query_warnings(enc, ["a cat meows"], ["a cat meows"])[0])
        query 'a cat meows': words unknown to the encoder ('cat', 'meows'; its vocabulary has 3 words) are all read as one <unk> token
    """
    messages = []
    index = getattr(encoder, "index", None)  # the small encoder's vocabulary
    for name, query in zip(names, queries):
        reason = unreadable(encoder, query) if isinstance(query, str) else None
        if reason is not None:
            messages.append(f"query {name!r} has {reason}; its estimate will be a guess")
    if index is not None:
        from ..encoders.tiny import SPECIALS

        known, read = len(index) - len(SPECIALS), _reader(encoder)
        for name, query in zip(names, queries):
            if isinstance(query, str) and unreadable(encoder, query) is None:
                unknown = [w for w in read(query) if w not in index]
                if unknown:
                    listed = ", ".join(repr(w) for w in dict.fromkeys(unknown))
                    messages.append(
                        f"query {name!r}: words unknown to the encoder ({listed}; its "
                        f"vocabulary has {known} words) are all read as one <unk> token"
                    )
                # letters it cannot read (accents, other scripts) split or shorten the words
                dropped = [c for c in query.lower() if _is_letter(c) and not read(c)]
                if dropped:
                    listed = ", ".join(repr(c) for c in dict.fromkeys(dropped))
                    messages.append(
                        f"query {name!r}: the small encoder drops {listed} "
                        f"({_reads(encoder)}), so it reads {' '.join(read(query))!r}"
                    )
    if len(queries) > 1:
        if embed is None:
            with torch.inference_mode():
                embed = encode_queries(encoder, [list(queries)], with_tokens=False)[0][0]
        embed = torch.nn.functional.normalize(embed.float(), dim=-1)
        same = (embed @ embed.T) > 1 - 1e-6
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                if same[i, j]:
                    messages.append(
                        f"queries {names[i]!r} and {names[j]!r} encode to the same vector: "
                        "their estimates will be identical"
                    )
    return messages


def _reader(encoder: Any) -> Callable[[str], List[str]]:
    """The small encoder's own reading of a text (its words, with or without folding)."""
    from ..encoders.tiny import words

    return getattr(encoder, "words", None) or (lambda text: words(text, fold=False))


def _reads(encoder: Any) -> str:
    """What the small encoder reads, for messages."""
    folded = ", accents folded" if getattr(encoder, "fold_accents", False) else ""
    return f"it reads a-z, 0-9 and '{folded}"


def _is_letter(char: str) -> bool:
    """A letter or a digit of any script."""
    return unicodedata.category(char)[0] in "LN"


def unreadable(encoder: Any, text: str) -> Optional[str]:
    """Why the encoder reads ``text`` as nothing useful, or None when it reads some of it.

    The one rule for every text encoder: a text without a letter or a digit (emoji,
    punctuation, zero-width spaces) says nothing an encoder trained on captions knows; and
    a text whose every token is one the tokenizer does not know or a special token (the
    small encoder keeps ``a-z``, ``0-9`` and ``'``, folding accents, and drops the rest; a WordPiece
    tokenizer gives ``[UNK]``) is read as an empty text.

    Args:
        encoder: A query encoder: the small one (its ``index``), or one with a transformers
            ``tokenizer``; another is judged on the first rule only.
        text: The query.

    Returns:
        str: the reason, to follow ``has`` in a message; None when the text is readable.

    Examples:
        >>> from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab
        >>> enc = TinyBimodalEncoder(build_vocab(["a dog barks"]), embed_dim=16, token_dim=12)
        >>> unreadable(enc, "犬が吠える")
        "no characters the text encoder reads (it reads a-z, 0-9 and ', accents folded)"
        >>> unreadable(enc, "a dog") is None
        True
    """
    if not any(_is_letter(c) for c in text):
        return "no letters or digits"
    if getattr(encoder, "index", None) is not None:  # the small encoder: its own words
        if not _reader(encoder)(text):
            return f"no characters the text encoder reads ({_reads(encoder)})"
        return None
    tokenizer = getattr(encoder, "tokenizer", None)
    if tokenizer is not None and callable(tokenizer):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        special = set(getattr(tokenizer, "all_special_ids", []))
        if not [i for i in ids if i not in special]:  # [UNK] is one of them
            return "no token the text encoder's tokenizer knows (all read as unknown)"
    return None


def warn_queries(
    encoder: BimodalEncoder,
    names: Sequence[str],
    queries: Sequence[Query],
    embed: Optional[torch.Tensor] = None,
) -> None:
    """:func:`query_warnings` as :class:`QueryWarning`\\ s, pointing at the caller's caller
    (the user's call of ``separate`` or ``stream``)."""
    for message in query_warnings(encoder, names, queries, embed):
        warnings.warn(message, QueryWarning, stacklevel=3)
