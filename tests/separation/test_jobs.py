"""Batch-job planning: the output tree, collisions, skip-existing, failures (the command
line's behaviour is tests/test_cli.py's and tests/reliability/'s)."""

import os
import warnings

import numpy as np
import pytest
import soundfile as sf

from asteroid_wsas.separation.jobs import (
    check_writable,
    output_names,
    pending_jobs,
    plan_jobs,
    run_jobs,
    stream_to_files,
)
from asteroid_wsas.separation.contract import ScaleWarning

from tests.helpers import tiny_separator


def _wav(path, seconds=0.25, rate=8000):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(int(seconds * rate)), rate)
    return str(path)


def test_output_names_are_slugs_and_unique():
    assert output_names(["A dog barks!", "a bell"], residual=True) == [
        "a_dog_barks",
        "a_bell",
        "residual",
    ]
    with pytest.raises(ValueError, match="the same file name"):
        output_names(["a dog", "A dog"], residual=False)


def test_the_output_tree(tmp_path):
    one = _wav(tmp_path / "in" / "one.wav")
    two = _wav(tmp_path / "in" / "sub" / "two.flac")
    out = str(tmp_path / "out")
    assert [(j.source, j.folder) for j in plan_jobs([one], out)] == [(one, out)]
    folder = plan_jobs([str(tmp_path / "in")], out)
    assert [j.folder for j in folder] == [os.path.join(out, "one"), os.path.join(out, "sub", "two")]
    assert [j.source for j in folder] == [one, two]
    files = plan_jobs([one, two], out)  # named together: <stem>/ each
    assert [j.folder for j in files] == [os.path.join(out, "one"), os.path.join(out, "two")]
    with pytest.raises(ValueError, match="would both be written to"):
        plan_jobs([one, _wav(tmp_path / "other" / "one.wav")], out)
    with pytest.raises(ValueError, match="input\\(s\\) not found"):
        plan_jobs([str(tmp_path / "none.wav")], out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no audio files in"):
        plan_jobs([str(tmp_path / "empty")], out)


def test_skip_existing_and_writable(tmp_path):
    jobs = plan_jobs([_wav(tmp_path / "a.wav"), _wav(tmp_path / "b.wav")], str(tmp_path / "o"))
    check_writable(str(tmp_path / "o"))
    _wav(tmp_path / "o" / "a" / "dog.wav")
    todo, skipped = pending_jobs(jobs, ["dog"], force=False)
    assert skipped == 1 and [j.source for j in todo] == [str(tmp_path / "b.wav")]
    assert todo[0].files == [str(tmp_path / "o" / "b" / "dog.wav")]
    assert len(pending_jobs(jobs, ["dog"], force=True)[0]) == 2
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is not writable"):
        check_writable(str(tmp_path / "file" / "sub"))


def test_a_failed_input_is_listed_and_the_others_go_on(tmp_path):
    good = _wav(tmp_path / "good.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio" * 50)
    jobs, _ = pending_jobs(plan_jobs([str(bad), good], str(tmp_path / "o")), ["dog"], False)
    separator = tiny_separator(["a dog barks"])
    outcomes = list(run_jobs(separator, jobs, ["a dog barks"], subtype="PCM_16"))
    assert [o.error is None for o in outcomes] == [False, True]
    assert str(bad) in outcomes[0].error and outcomes[1].result.sample_rate == 8000
    assert sf.info(outcomes[1].job.files[0]).subtype == "PCM_16"
    with pytest.raises(ValueError, match="bad.wav"):
        list(run_jobs(separator, jobs, ["a dog barks"], fail_fast=True))


@pytest.mark.parametrize("scale", [32768.0, 1.0])
def test_a_streamed_file_of_integer_scale_is_said_once_as_a_file(tmp_path, scale):
    """int16 values stored as float, streamed (as `separate -` reads standard input): one
    warning naming the file and its remedy, none of the blocks' own; float audio: none."""
    rng = np.random.default_rng(0)
    pcm = np.clip(rng.normal(0, 6000, 8000), -32768, 32767).round() / 32768 * scale
    source = tmp_path / "in.wav"
    sf.write(source, pcm.astype(np.float32), 8000, subtype="FLOAT")
    files = [str(tmp_path / "out" / "a_dog_barks.wav")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stream_to_files(
            tiny_separator(["a dog barks"]), sf.SoundFile(source), files, ["a dog barks"], "FLOAT"
        )
    said = [str(w.message) for w in caught if issubclass(w.category, ScaleWarning)]
    if scale == 1.0:
        assert said == []
    else:
        assert len(said) == 1 and said[0].startswith(f"audio file {source}: float samples")
        assert said[0].endswith("(divide by 32768 for 16-bit values) (from its first such block)")
    assert sf.info(files[0]).frames == 8000
