"""The caption splitter: a table of real-looking captions, invariants, odd input."""

import random
import string

import pytest

from asteroid_wsas.text import split_caption
from asteroid_wsas.text.splitter import tidy_caption

CAPTIONS = [
    # Connectives that always separate sources.
    (
        "A man talks while wood clanks on a metal pan, followed by gravel crunching",
        ["A man talks", "Wood clanks on a metal pan", "Gravel crunching"],
    ),
    (
        "An adult female speaks and several people laugh, while slight rustling occurs in the "
        "background",
        [
            "An adult female speaks",
            "Several people laugh",
            "Slight rustling occurs in the background",
        ],
    ),
    ("A man speaks followed by a loud bang", ["A man speaks", "A loud bang"]),
    (
        "A vehicle horn honks several times, then a man speaks",
        ["A vehicle horn honks several times", "A man speaks"],
    ),
    ("A train horn honks as a train passes by", ["A train horn honks", "A train passes by"]),
    ("A duck quacks before a man talks", ["A duck quacks", "A man talks"]),
    ("A man speaks shortly after a dog barks", ["A man speaks", "A dog barks"]),
    ("A crowd applauds, after which a man speaks", ["A crowd applauds", "A man speaks"]),
    ("A man speaking during a thunderstorm", ["A man speaking", "A thunderstorm"]),
    (
        "Tires squeal, an engine revs, and a crowd cheers",
        ["Tires squeal", "An engine revs", "A crowd cheers"],
    ),
    ("Birds chirp as well as a man speaks", ["Birds chirp", "A man speaks"]),
    ("A dog barks — a man speaks", ["A dog barks", "A man speaks"]),
    # "and" between two clauses separates; inside a subject or a predicate it does not.
    ("A dog barks and a man speaks", ["A dog barks", "A man speaks"]),
    ("A man and a woman talk", ["A man and a woman talk"]),
    ("Birds and insects chirp", ["Birds and insects chirp"]),
    ("A dog barks and growls", ["A dog barks and growls"]),
    ("A man plays guitar and drums", ["A man plays guitar and drums"]),
    ("A dog barks and a man and a woman talk", ["A dog barks", "A man and a woman talk"]),
    ("A man and a woman talk and laugh", ["A man and a woman talk and laugh"]),
    ("A person is typing and clicking", ["A person is typing and clicking"]),
    ("A man is speaking and a woman is laughing", ["A man is speaking", "A woman is laughing"]),
    ("Wind blowing and birds chirping", ["Wind blowing", "Birds chirping"]),
    ("A man speaks and running water", ["A man speaks", "Running water"]),
    ("Ticking of a clock and a man talking", ["Ticking of a clock", "A man talking"]),
    ("Rustling and crinkling of plastic", ["Rustling and crinkling of plastic"]),
    (
        "Someone types on a keyboard and a mouse clicks",
        ["Someone types on a keyboard", "A mouse clicks"],
    ),
    ("Sheep baa and a man yells", ["Sheep baa", "A man yells"]),
    # Idioms with "and", "after", "as", "while".
    ("Water turns on and off", ["Water turns on and off"]),
    ("A man whistles back and forth", ["A man whistles back and forth"]),
    ("Ducks quack over and over", ["Ducks quack over and over"]),
    ("An engine idles then revs up and down", ["An engine idles then revs up and down"]),
    ("Gunshots fire one after another", ["Gunshots fire one after another"]),
    ("Birds chirp as well", ["Birds chirp as well"]),
    ("A dog barks after a while", ["A dog barks after a while"]),
    # "with" and "over" cut only before another source.
    ("Music plays with a dog barking", ["Music plays", "A dog barking"]),
    ("Rain falls with thunder", ["Rain falls", "Thunder"]),
    ("A woman speaks with a British accent", ["A woman speaks with a British accent"]),
    ("A child speaks with an echo", ["A child speaks with an echo"]),
    ("Music plays over people talking", ["Music plays", "People talking"]),
    ("A helicopter flies over a field", ["A helicopter flies over a field"]),
    ("A man speaks over a loudspeaker", ["A man speaks over a loudspeaker"]),
    # The same source goes on: pronoun subjects, bare predicates, parallel participles.
    ("A car engine idles as it revs up", ["A car engine idles as it revs up"]),
    ("A man speaks, then laughs", ["A man speaks, then laughs"]),
    ("An engine runs and then stops", ["An engine runs and then stops"]),
    (
        "A motor vehicle engine is idling then accelerating",
        ["A motor vehicle engine is idling then accelerating"],
    ),
    ("A man speaks while typing on a keyboard", ["A man speaks", "Typing on a keyboard"]),
    # Modifiers without a source are joined to a neighbour; connectives at the edges go.
    (
        "In the background, a dog barks while a man speaks",
        ["In the background, a dog barks", "A man speaks"],
    ),
    ("After a while, a dog barks", ["After a while, a dog barks"]),
    ("A bell rings, repeatedly", ["A bell rings, repeatedly"]),
    ("With a dog barking, a man speaks", ["A dog barking", "A man speaks"]),
    ("And then a dog barks and", ["A dog barks"]),
    ("A dog barks, followed by", ["A dog barks"]),
    # Spacing, case and punctuation.
    ("A  man   speaks .  A dog barks .", ["A man speaks", "A dog barks"]),
    ("a dog barks,a cat meows...", ["A dog barks", "A cat meows"]),
    ("A dog barks.And a man speaks", ["A dog barks", "A man speaks"]),
    ("A MAN SPEAKS AND A DOG BARKS", ["A MAN SPEAKS", "A DOG BARKS"]),
    ("a man speaks WHILE a dog barks!", ["A man speaks", "A dog barks"]),
    ("\tA dog barks\nwhile a man speaks  ", ["A dog barks", "A man speaks"]),
    ("A dog barks 1,000 times", ["A dog barks 1,000 times"]),
    ("Mr. Smith speaks and a dog barks", ["Mr. Smith speaks", "A dog barks"]),
    ("A goat bleats and people talk nearby", ["A goat bleats", "People talk nearby"]),
]


@pytest.mark.parametrize("caption, expected", CAPTIONS, ids=[c for c, _ in CAPTIONS])
def test_split_caption_table(caption, expected):
    assert split_caption(caption) == expected


def test_split_caption_table_is_large_and_splits_something():
    assert len(CAPTIONS) >= 25
    assert sum(len(expected) > 1 for _, expected in CAPTIONS) >= 15
    assert sum(len(expected) == 1 for _, expected in CAPTIONS) >= 10


@pytest.mark.parametrize(
    "caption", ["", "   ", "\t\n", "...", "\u2026", "!!!", ",,,;;", " - - - ", "\u200b"]
)
def test_split_caption_without_words_is_empty(caption):
    assert split_caption(caption) == []


@pytest.mark.parametrize("caption", ["and", "then", "and then", "with", ", and then,"])
def test_split_caption_of_connectives_only_is_empty(caption):
    assert split_caption(caption) == []


@pytest.mark.parametrize(
    "caption, expected",
    [
        ("Caf\u00e9 ambience and people chatter", ["Caf\u00e9 ambience and people chatter"]),
        # Full-width letters and a no-break space are normalised (NFKC).
        ("\uff21 dog barks\u00a0and a cat meows", ["A dog barks", "A cat meows"]),
        ("zero\u200bwidth hum", ["Zerowidth hum"]),
        ("\u00df street music", ["\u00df street music"]),  # "ß".upper() would be "SS"
        ("\u72ac\u304c\u5420\u3048\u308b", ["\u72ac\u304c\u5420\u3048\u308b"]),
        ("\ud800 a dog barks, and a cat meows", ["A dog barks", "A cat meows"]),
    ],
)
def test_split_caption_unicode(caption, expected):
    assert split_caption(caption) == expected


@pytest.mark.parametrize("caption", [None, 3, b"a dog barks", ["a dog barks"]])
def test_split_caption_rejects_non_strings(caption):
    with pytest.raises(TypeError, match="caption"):
        split_caption(caption)


def test_split_caption_random_text_keeps_its_invariants():
    rng = random.Random(0)
    vocab = (
        "a the dog man barks speaks and then while as with over followed by , . ; - "
        "in background on off \u00e9t\u00e9 \u4e2d 12 ... it growls running water"
    ).split() + [",", ".", "  ", "\t", "!", "and then", "\u2014"]
    for _ in range(500):
        caption = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 14)))
        if rng.random() < 0.3:
            caption = "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 30)))
        phrases = split_caption(caption)
        assert phrases == split_caption(caption)  # deterministic
        for phrase in phrases:
            assert phrase == phrase.strip(" .,;:!?-\u2014")
            assert any(ch.isalnum() for ch in phrase)
            assert "  " not in phrase
            assert phrase[0] == phrase[0].upper()


def test_split_caption_long_input_is_fast():
    import time

    start = time.perf_counter()
    phrases = split_caption("a dog and " * 2000 + "a dog barks and " * 2000)
    assert time.perf_counter() - start < 5.0
    assert len(phrases) > 1000


def test_tidy_caption_keeps_a_caption_of_connectives_as_one_phrase():
    assert tidy_caption("  and then. ") == "And then"
    assert tidy_caption(" ... ") is None
