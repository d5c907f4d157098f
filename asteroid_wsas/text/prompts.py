"""Text prompts: single-source phrases from captions, label templates and P phrases per clip.

Mahmud et al. (ICLR 2024) supervise the separator with one text query per source. For
AudioCaps, a rule-based parser splits each caption into single-source phrases on connectives
(" followed by ", " and ", ", ", " as ", " while ", ...). For MUSIC and VGGSound, labels are
turned into "The sound of {label}" (one source) and "The sound mixture of {l1} and {l2}" (a
mixture). Every clip then gets exactly P phrases (3 for AudioCaps): extra phrases are dropped
at random and missing ones are filled by repetition, each copy weighted 1/count.

The caption splitter lives in :mod:`asteroid_wsas.text.splitter`.
"""

import csv
import os
import random
import warnings
from numbers import Integral
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..separation.contract import read_json
from .splitter import split_caption, tidy_caption

__all__ = [
    "source_prompt",
    "mixture_prompt",
    "fix_phrases",
    "load_phrase_overrides",
    "phrases_for",
    "captions_to_phrases",
]

PathLike = Union[str, "os.PathLike[str]"]


def source_prompt(label: str) -> str:
    """Text query for one labelled source (MUSIC, VGGSound).

    Args:
        label: Class label; underscores are read as spaces.

    Returns:
        ``"The sound of {label}"``.

    Examples:
        >>> source_prompt("acoustic_guitar")
        'The sound of acoustic guitar'
    """
    return f"The sound of {_label_text(label)}"


def mixture_prompt(labels: Sequence[str]) -> str:
    """Text query for a mixture of labelled sources.

    Args:
        labels: Class labels of the sources in the mixture (at least one); underscores are
            read as spaces.

    Returns:
        ``"The sound mixture of {a} and {b}"``; ``"The sound mixture of a, b and c"`` for three
        or more labels; ``"The sound mixture of {a}"`` for one.

    Raises:
        ValueError: If ``labels`` is empty.
        TypeError: If ``labels`` is a single string.

    Examples:
        >>> mixture_prompt(["violin", "acoustic_guitar"])
        'The sound mixture of violin and acoustic guitar'
        >>> mixture_prompt(["dog", "cat", "bird"])
        'The sound mixture of dog, cat and bird'
    """
    if isinstance(labels, str):
        raise TypeError("labels must be a sequence of labels, not a single string")
    names = [_label_text(label) for label in labels]
    if not names:
        raise ValueError("labels must not be empty")
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"The sound mixture of {joined}"


def _label_text(label: str) -> str:
    if not isinstance(label, str):
        raise TypeError(f"label must be a str, got {type(label).__name__}")
    text = " ".join(label.replace("_", " ").split())
    if not text:
        raise ValueError(f"label must not be empty, got {label!r}")
    return text


def fix_phrases(
    phrases: Sequence[str], n: int, rng: Optional[random.Random] = None
) -> Tuple[List[str], List[float]]:
    """Exactly ``n`` phrases per clip, as the authors do, with a weight per phrase.

    With more than ``n`` phrases, ``n`` of them are drawn at random and kept in their original
    order. With fewer, the phrases are repeated in turn until there are ``n``. Each phrase
    gets the weight ``1 / (copies of its text in the result)``, so the weights of every
    distinct phrase sum to 1 and a repeated source is not counted more than once.

    Args:
        phrases: Phrases of one clip (e.g. from :func:`split_caption`).
        n: Number of phrases wanted (P in the paper; 3 for AudioCaps).
        rng: Random generator for the sub-sampling; the ``random`` module's global generator
            if ``None``. Pass a seeded ``random.Random`` for a reproducible choice.

    Returns:
        ``(phrases, weights)``, two lists of length ``n``.

    Raises:
        ValueError: If ``n < 1`` or ``phrases`` is empty (callers may fall back to the whole
            caption).
        TypeError: If ``n`` is not an integer or ``phrases`` is a single string.

    Examples:
        >>> fix_phrases(["A dog barks", "A man speaks"], 3)
        (['A dog barks', 'A man speaks', 'A dog barks'], [0.5, 1.0, 0.5])
        >>> picked, weights = fix_phrases(["a", "b", "c", "d"], 2, random.Random(0))
        >>> len(picked), picked == sorted(picked), weights
        (2, True, [1.0, 1.0])
    """
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if isinstance(phrases, str):
        raise TypeError("phrases must be a sequence of phrases, not a single string")
    phrases = list(phrases)
    if not phrases:
        raise ValueError("phrases is empty: nothing to choose from (fall back to the caption)")
    if len(phrases) > n:
        sample = rng.sample if rng is not None else random.sample
        chosen = [phrases[i] for i in sorted(sample(range(len(phrases)), n))]
    else:
        chosen = [phrases[i % len(phrases)] for i in range(n)]
    counts: Dict[str, int] = {}
    for phrase in chosen:
        counts[phrase] = counts.get(phrase, 0) + 1
    return chosen, [1.0 / counts[phrase] for phrase in chosen]


def load_phrase_overrides(path: PathLike) -> Dict[str, List[str]]:
    """Read hand-written phrases that replace the rule-based split for some captions.

    Args:
        path: JSON file holding one object ``{caption_id: [phrase, ...], ...}``; every value
            is a non-empty list of non-blank strings.

    Returns:
        ``{caption_id: phrases}`` with surrounding whitespace stripped from each phrase.

    Raises:
        ValueError: If the file is not valid JSON or does not have that structure; the message
            names the file and, where relevant, the offending key.

    Examples:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        ...     _ = f.write('{"91139": ["A man speaks", " A dog barks "]}')
        >>> load_phrase_overrides(f.name)
        {'91139': ['A man speaks', 'A dog barks']}
        >>> os.remove(f.name)
    """
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(
            f"{os.fspath(path)}: expected a JSON object {{caption_id: [phrases]}}, "
            f"got {type(data).__name__}"
        )
    overrides = {}
    for key, value in data.items():
        if not isinstance(value, list) or not value:
            raise ValueError(
                f"{os.fspath(path)}: key {key!r} must map to a non-empty list of phrases, "
                f"got {value!r}"
            )
        if not all(isinstance(p, str) and p.strip() for p in value):
            raise ValueError(
                f"{os.fspath(path)}: key {key!r} must hold non-empty strings only, got {value!r}"
            )
        overrides[key] = [p.strip() for p in value]
    return overrides


def phrases_for(
    caption_id: Union[str, int],
    caption: str,
    overrides: Optional[Mapping[str, Sequence[str]]] = None,
) -> List[str]:
    """Phrases of one caption: the override if there is one, the rule-based split otherwise.

    Args:
        caption_id: Identifier of the caption (``audiocap_id``); compared as a string.
        caption: The caption text.
        overrides: ``{caption_id: phrases}``, e.g. from :func:`load_phrase_overrides`.

    Returns:
        The phrases. If the rules find none in a caption that has words (say "And then"),
        the cleaned whole caption is the single phrase; a caption without words gives ``[]``.

    Examples:
        >>> phrases_for("1", "A cat meows and a dog barks")
        ['A cat meows', 'A dog barks']
        >>> phrases_for("1", "A cat meows and a dog barks", {"1": ["A cat meowing"]})
        ['A cat meowing']
        >>> phrases_for("2", "and then.")
        ['And then']
    """
    key = str(caption_id)
    if overrides is not None and key in overrides:
        return list(overrides[key])
    phrases = split_caption(caption)
    if phrases:
        return phrases
    whole = tidy_caption(caption)  # only connectives: the caption itself, tidied
    return [whole] if whole else []


def captions_to_phrases(
    csv_path: PathLike,
    id_column: str = "audiocap_id",
    caption_column: str = "caption",
    overrides: Optional[Mapping[str, Sequence[str]]] = None,
) -> Dict[str, List[str]]:
    """Phrases for every caption of an AudioCaps-style CSV file.

    Rows whose caption has no words (empty, blank, punctuation only) are skipped; one warning
    gives their number.

    Args:
        csv_path: CSV file with a header row, e.g. ``audiocap_id,youtube_id,start_time,caption``.
        id_column: Column holding the caption identifier.
        caption_column: Column holding the caption.
        overrides: ``{caption_id: phrases}`` used in place of the rules (see
            :func:`phrases_for`).

    Returns:
        ``{caption_id: phrases}`` in file order.

    Raises:
        ValueError: If a column is missing (the message names it and the file), or an
            identifier is empty or repeated.

    Examples:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        ...     _ = f.write("audiocap_id,youtube_id,start_time,caption\\n")
        ...     _ = f.write('7,abc,30,"A bell rings, then a man speaks"\\n')
        >>> captions_to_phrases(f.name)
        {'7': ['A bell rings', 'A man speaks']}
        >>> os.remove(f.name)
    """
    name = os.fspath(csv_path)
    result: Dict[str, List[str]] = {}
    skipped = 0
    # utf-8-sig: spreadsheet exports often start with a byte-order mark.
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        for column in (id_column, caption_column):
            if column not in columns:
                raise ValueError(f"{name}: missing column {column!r} (found {columns})")
        for row in reader:
            caption = row.get(caption_column) or ""
            if not any(ch.isalnum() for ch in caption):
                skipped += 1
                continue
            key = (row.get(id_column) or "").strip()
            if not key:
                raise ValueError(f"{name}, line {reader.line_num}: empty {id_column!r}")
            if key in result:
                raise ValueError(f"{name}, line {reader.line_num}: repeated {id_column} {key!r}")
            result[key] = phrases_for(key, caption, overrides)
    if skipped:
        warnings.warn(f"{name}: skipped {skipped} row(s) with an empty caption", stacklevel=2)
    return result
