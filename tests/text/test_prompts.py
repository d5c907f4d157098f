"""Prompts: caption splitting, label templates, P phrases per clip, overrides and CSV input."""

import json
import random
import string
import warnings

import pytest

from asteroid_wsas.text import (
    captions_to_phrases,
    fix_phrases,
    load_phrase_overrides,
    mixture_prompt,
    phrases_for,
    source_prompt,
    split_caption,
)

# AudioCaps-style captions and the phrases the rules must give.
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


def test_source_prompt():
    assert source_prompt("violin") == "The sound of violin"
    assert source_prompt("acoustic_guitar") == "The sound of acoustic guitar"
    assert source_prompt("  dog__barking ") == "The sound of dog barking"


def test_mixture_prompt():
    assert mixture_prompt(["violin", "acoustic_guitar"]) == (
        "The sound mixture of violin and acoustic guitar"
    )
    assert mixture_prompt(("dog", "cat", "bird")) == "The sound mixture of dog, cat and bird"
    assert mixture_prompt(["flute"]) == "The sound mixture of flute"


@pytest.mark.parametrize(
    "bad, error", [([], ValueError), ("violin", TypeError), ([""], ValueError)]
)
def test_mixture_prompt_errors(bad, error):
    with pytest.raises(error):
        mixture_prompt(bad)


def test_source_prompt_errors():
    with pytest.raises(ValueError):
        source_prompt("_ _")
    with pytest.raises(TypeError):
        source_prompt(None)


def test_fix_phrases_exact_count_is_unchanged():
    phrases = ["A dog barks", "A man speaks", "A car passes"]
    assert fix_phrases(phrases, 3) == (phrases, [1.0, 1.0, 1.0])


def test_fix_phrases_subsamples_in_order_and_is_seeded():
    phrases = [f"p{i}" for i in range(10)]
    chosen, weights = fix_phrases(phrases, 3, random.Random(123))
    assert len(chosen) == 3 and len(set(chosen)) == 3
    assert set(chosen) <= set(phrases)
    assert chosen == sorted(chosen, key=phrases.index)  # original order kept
    assert weights == [1.0, 1.0, 1.0]
    assert fix_phrases(phrases, 3, random.Random(123))[0] == chosen
    draws = {tuple(fix_phrases(phrases, 3, random.Random(seed))[0]) for seed in range(20)}
    assert len(draws) > 5  # the choice does depend on the generator


def test_fix_phrases_without_rng_uses_the_global_generator():
    phrases = [f"p{i}" for i in range(10)]
    random.seed(7)
    first = fix_phrases(phrases, 4)
    random.seed(7)
    assert fix_phrases(phrases, 4) == first


def test_fix_phrases_repeats_with_weights_summing_to_one_per_phrase():
    chosen, weights = fix_phrases(["A dog barks", "A man speaks"], 5)
    assert chosen == ["A dog barks", "A man speaks"] * 2 + ["A dog barks"]
    assert weights == pytest.approx([1 / 3, 1 / 2, 1 / 3, 1 / 2, 1 / 3])
    for phrase in set(chosen):
        total = sum(w for p, w in zip(chosen, weights) if p == phrase)
        assert total == pytest.approx(1.0)
    assert fix_phrases(["Rain"], 3) == (["Rain"] * 3, pytest.approx([1 / 3] * 3))


def test_fix_phrases_counts_copies_by_text():
    chosen, weights = fix_phrases(["A dog barks", "A dog barks", "Rain"], 3)
    assert weights == [0.5, 0.5, 1.0]


def test_fix_phrases_does_not_modify_its_input():
    phrases = ["a", "b", "c", "d"]
    fix_phrases(phrases, 2, random.Random(0))
    fix_phrases(phrases, 6)
    assert phrases == ["a", "b", "c", "d"]


def test_fix_phrases_errors():
    with pytest.raises(ValueError, match="phrases"):
        fix_phrases([], 3)
    with pytest.raises(ValueError, match="n must be at least 1"):
        fix_phrases(["A dog barks"], 0)
    with pytest.raises(ValueError):
        fix_phrases(["A dog barks"], -2)
    with pytest.raises(TypeError):
        fix_phrases(["A dog barks"], 2.0)
    with pytest.raises(TypeError):
        fix_phrases("A dog barks", 3)


def write_json(path, data):
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_load_phrase_overrides(tmp_path):
    path = write_json(tmp_path / "o.json", {"1": ["A dog barks ", "A man speaks"], "2": ["Rain"]})
    assert load_phrase_overrides(path) == {"1": ["A dog barks", "A man speaks"], "2": ["Rain"]}
    assert load_phrase_overrides(str(path)) == load_phrase_overrides(path)


@pytest.mark.parametrize(
    "data, where",
    [
        (["A dog barks"], "object"),
        ({"1": ["A dog barks"], "7": "A man speaks"}, "'7'"),
        ({"7": []}, "'7'"),
        ({"7": ["A dog barks", "  "]}, "'7'"),
        ({"7": ["A dog barks", 3]}, "'7'"),
        ({"7": None}, "'7'"),
    ],
)
def test_load_phrase_overrides_bad_structure(tmp_path, data, where):
    path = write_json(tmp_path / "bad.json", data)
    with pytest.raises(ValueError, match="bad.json") as err:
        load_phrase_overrides(path)
    assert where in str(err.value)


def test_load_phrase_overrides_invalid_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"1": ["A dog barks"', encoding="utf-8")
    with pytest.raises(ValueError, match="broken.json"):
        load_phrase_overrides(path)


def test_phrases_for_uses_overrides_in_place_of_rules(tmp_path):
    caption = "A dog barks and a man speaks"
    overrides = load_phrase_overrides(write_json(tmp_path / "o.json", {"42": ["Barking"]}))
    assert phrases_for("42", caption, overrides) == ["Barking"]
    assert phrases_for(42, caption, overrides) == ["Barking"]  # ids compare as strings
    assert phrases_for("43", caption, overrides) == ["A dog barks", "A man speaks"]
    assert phrases_for("43", caption) == ["A dog barks", "A man speaks"]
    phrases_for("42", caption, overrides).append("x")
    assert overrides["42"] == ["Barking"]  # a copy is returned


def test_phrases_for_falls_back_to_the_caption():
    assert phrases_for("1", "and then.") == ["And then"]
    assert phrases_for("1", "  with ") == ["With"]
    assert phrases_for("1", " ... ") == []
    assert phrases_for("1", "") == []


CSV_HEADER = "audiocap_id,youtube_id,start_time,caption\n"


def test_captions_to_phrases(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(
        CSV_HEADER
        + '91139,r1nicOVtvkQ,130,"A man talks while wood clanks, followed by gravel crunching"\n'
        + "58146,UDGBjjwyaqE,20,Water turns on and off\n"
        + '11542,5hlsVoxJPNI,30,"A dog barks and a man and a woman talk."\n',
        encoding="utf-8",
    )
    result = captions_to_phrases(path)
    assert list(result) == ["91139", "58146", "11542"]
    assert result == {
        "91139": ["A man talks", "Wood clanks", "Gravel crunching"],
        "58146": ["Water turns on and off"],
        "11542": ["A dog barks", "A man and a woman talk"],
    }


def test_captions_to_phrases_with_overrides_bom_and_other_columns(tmp_path):
    path = tmp_path / "clips.csv"
    path.write_text(
        "\ufeffid,text\n1,A bell rings then a man speaks\n2,Rain falls\n", encoding="utf-8"
    )
    result = captions_to_phrases(
        path, id_column="id", caption_column="text", overrides={"2": ["Heavy rain"]}
    )
    assert result == {"1": ["A bell rings", "A man speaks"], "2": ["Heavy rain"]}


@pytest.mark.parametrize(
    "header, missing",
    [("youtube_id,start_time,caption\n", "audiocap_id"), ("audiocap_id,youtube_id\n", "caption")],
)
def test_captions_to_phrases_missing_column(tmp_path, header, missing):
    path = tmp_path / "bad.csv"
    path.write_text(header + "x,y,z\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"missing column '{missing}'"):
        captions_to_phrases(path)


def test_captions_to_phrases_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="audiocap_id"):
        captions_to_phrases(path)


def test_captions_to_phrases_skips_empty_captions_with_one_warning(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(
        CSV_HEADER
        + "1,a,0,A cat meows\n"
        + "2,b,0,\n"
        + '3,c,0,"   "\n'
        + "4,d,0,...\n"
        + "5,e,0\n"  # short row: no caption field at all
        + "6,f,0,A dog barks\n",
        encoding="utf-8",
    )
    with pytest.warns(UserWarning, match="skipped 4 row") as record:
        result = captions_to_phrases(path)
    assert len(record) == 1
    assert result == {"1": ["A cat meows"], "6": ["A dog barks"]}


def test_captions_to_phrases_no_warning_when_nothing_is_skipped(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(CSV_HEADER + "1,a,0,A cat meows\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert captions_to_phrases(path) == {"1": ["A cat meows"]}


@pytest.mark.parametrize("rows", ["1,a,0,A cat meows\n1,b,0,A dog barks\n", ",a,0,A cat meows\n"])
def test_captions_to_phrases_bad_ids(tmp_path, rows):
    path = tmp_path / "ids.csv"
    path.write_text(CSV_HEADER + rows, encoding="utf-8")
    with pytest.raises(ValueError, match="audiocap_id"):
        captions_to_phrases(path)
