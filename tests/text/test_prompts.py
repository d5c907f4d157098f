"""Prompts: label templates, P phrases per clip, overrides and CSV input."""

import json
import random
import warnings

import pytest

from asteroid_wsas.text import (
    captions_to_phrases,
    fix_phrases,
    load_phrase_overrides,
    mixture_prompt,
    phrases_for,
    source_prompt,
)


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
