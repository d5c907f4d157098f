"""Text side of weak supervision: captions to single-source phrases, label prompts."""

from .prompts import (
    captions_to_phrases,
    fix_phrases,
    load_phrase_overrides,
    mixture_prompt,
    phrases_for,
    source_prompt,
)
from .splitter import split_caption

__all__ = [
    "split_caption",
    "source_prompt",
    "mixture_prompt",
    "fix_phrases",
    "load_phrase_overrides",
    "phrases_for",
    "captions_to_phrases",
]
