"""The bad-input / first-contact catalogue of issue 19 (item 8), one test per row.

Each test names its row. A user error on the command line ends with ``SystemExit`` whose
code is one ``error: ...`` line (Python prints it and exits with status 1), never a
traceback; what is on disk afterwards is checked too: no half-written ``.part`` file, no
user file overwritten without ``--force``.

Rows 19 (a checkpoint whose pickle would run code) and 20 (``--help`` of every
sub-command) are tested elsewhere: tests/reliability/test_kill_resume.py and
tests/test_cli.py.
"""

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import soundfile as sf
import torch

from asteroid_wsas import Separator, TextCondUNet
from asteroid_wsas.cli import main
from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab
from asteroid_wsas.separator import QueryWarning

VOCAB = ["a dog barks", "a bell rings"]  # 5 words: a, dog, barks, bell, rings
QUERY = "a dog barks"
MODEL_RATE = 8000


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A random tiny separator (8 kHz) saved as a package: what --model takes."""
    torch.manual_seed(0)
    encoder = TinyBimodalEncoder(build_vocab(VOCAB), MODEL_RATE, embed_dim=16, token_dim=12)
    model = TextCondUNet(
        MODEL_RATE, 126, 32, [8, 16, 16], [2], text_embed_dim=16, text_token_dim=12, n_heads=2
    )
    folder = tmp_path_factory.mktemp("model") / "my_separator"
    Separator(model, encoder).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def separator(model_dir):
    return Separator.from_pretrained(model_dir)


def _noise(path, seconds=0.5, rate=MODEL_RATE, channels=1, seed=0, subtype=None, frames=None):
    """A WAV (or FLAC, by its name) of quiet noise; ``frames`` overrides ``seconds``."""
    gen = np.random.default_rng(seed)
    n = int(seconds * rate) if frames is None else frames
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sf.write(path, 0.1 * gen.standard_normal((n, channels)), rate, subtype=subtype)
    return str(path)


def _files(folder):
    """Every file below ``folder`` (hidden ones too), relative, sorted; [] if none."""
    return sorted(
        os.path.relpath(os.path.join(root, name), folder)
        for root, _, names in os.walk(folder)
        for name in names
    )


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _separate(inputs, out, model, *extra):
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else inputs
    args = ["separate", *map(str, inputs), "-q", QUERY, "-o", str(out), "--model", str(model)]
    return args + list(extra)


def _fails(argv, capsys):
    """Run the CLI expecting a user error: its one-line message, and what it printed."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    message = stop.value.code
    captured = capsys.readouterr()
    assert isinstance(message, str), message  # a str code: printed, exit status 1
    assert message.startswith("error: ") and "\n" not in message, message
    assert "Traceback" not in captured.out + captured.err
    return message, captured


def _runs(argv, capsys):
    """Run the CLI expecting success (exit status 0): what it printed."""
    main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return captured


def _no_work(monkeypatch):
    """Make loading or running a separator fail the test (checks that come before it)."""

    def never(*args, **kwargs):
        raise AssertionError("a separator was loaded or run before the check")

    monkeypatch.setattr(Separator, "from_pretrained", never)
    monkeypatch.setattr(Separator, "separate", never)


# ------------------------------------------------------- rows 1, 2, 3, 15: bad audio files
def _corrupt(path):
    path.write_bytes(np.random.default_rng(0).bytes(2000))  # random bytes, .wav name


def _zero_bytes(path):
    path.write_bytes(b"")


def _zero_frames(path):
    sf.write(path, np.zeros((0, 1), np.float32), MODEL_RATE)  # a valid header, no frames


def _nan(path):
    data = np.full(4000, 0.1, np.float32)
    data[100] = np.nan
    sf.write(path, data, MODEL_RATE, subtype="FLOAT")


def _ten_samples(path):
    sf.write(path, np.full(10, 0.1, np.float32), MODEL_RATE)


@pytest.mark.parametrize(
    "write, expected",
    [
        pytest.param(_corrupt, "error: audio file {path} is not readable audio (", id="1-corrupt"),
        pytest.param(_zero_bytes, "error: audio file {path} is empty", id="2-zero-bytes"),
        pytest.param(_zero_frames, "error: audio file {path} is empty", id="3-zero-frames"),
        pytest.param(_nan, "error: {path}: wav contains NaN or infinite samples", id="15-nan"),
        pytest.param(
            _ten_samples,
            "error: {path}: audio has 10 samples at 8000 Hz, fewer than the 126 of one STFT "
            "frame of the model (126 samples at 8000 Hz)",
            id="15-too-short",
        ),
    ],
)
def test_a_bad_audio_file_is_a_one_line_error_naming_it(
    write, expected, model_dir, tmp_path, capsys
):
    """Rows 1 (corrupt), 2 (0 bytes), 3 (0 frames), 15 (NaN; 10 samples at the model's
    rate): one line naming the file, nothing written."""
    path = tmp_path / "input.wav"
    write(path)
    out = tmp_path / "out"
    message, _ = _fails(_separate(path, out, model_dir), capsys)
    expected = expected.format(path=path)
    if expected.endswith("("):  # the decoder's own reason follows
        assert message.startswith(expected) and message.endswith(")"), message
    else:
        assert message == expected
    assert _files(out) == []  # the folder is made (writability check), nothing in it


def test_too_short_audio_is_counted_at_the_files_rate(model_dir, tmp_path, capsys):
    """Row 15: 10 samples at 44.1 kHz -> an error naming the file and its 10 samples."""
    path = tmp_path / "short.wav"
    sf.write(path, np.full(10, 0.1, np.float32), 44100)
    message, _ = _fails(_separate(path, tmp_path / "out", model_dir), capsys)
    assert message == (
        f"error: {path}: audio has 10 samples at 44100 Hz, fewer than the 690 of one STFT "
        "frame of the model (126 samples at 8000 Hz)"
    )


# --------------------------------------------------------------------- rows 4, 5, 6: --model
@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "bare-name"])
def test_a_missing_model_is_a_one_line_error_naming_it(
    relative, model_dir, tmp_path, capsys, monkeypatch
):
    """Row 4: --model naming nothing -> one line naming it, before any separation."""
    monkeypatch.chdir(tmp_path)
    model = "no_such_model" if relative else str(tmp_path / "no_such_model")
    inp = _noise(tmp_path / "in.wav")
    monkeypatch.setattr(Separator, "separate", lambda *a, **k: pytest.fail("separated"))
    message, _ = _fails(_separate(inp, tmp_path / "out", model), capsys)
    assert message == f"error: model {model} not found (a folder, file, URL or hub id)"
    assert _files(tmp_path / "out") == []


def _write_text(path):
    path.write_text("hello, I am not a model\n")


def _torch_save(obj):
    return lambda path: torch.save(obj, path)


def _zip(path):
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("notes.txt", "a zip, not torch's layout")


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(_torch_save({"weights": [1, 2, 3]}), id="plain-dict"),
        pytest.param(_torch_save([1, 2, 3]), id="list"),
        pytest.param(_torch_save({"model_name": "NoSuchNet"}), id="unregistered-model"),
        pytest.param(_write_text, id="text-file"),
        pytest.param(_zero_bytes, id="empty-file"),
        pytest.param(_zip, id="zip"),
        pytest.param(_torch_save(torch.zeros(3)), id="a-tensor"),
        pytest.param(_torch_save(5), id="an-int"),
        pytest.param(_torch_save("separator"), id="a-string"),
        pytest.param(_torch_save({"separator": 1}), id="a-package-header-alone"),
    ],
)
def test_a_foreign_model_file_is_a_one_line_error(write, model_dir, tmp_path, capsys):
    """Row 5: a file that is no separator -> one line naming it; nothing separated."""
    model = tmp_path / "foreign.pth"
    write(model)
    before = _digest(model)
    out = tmp_path / "out"
    message, _ = _fails(_separate(_noise(tmp_path / "in.wav"), out, model), capsys)
    assert message.startswith(f"error: {model} is not a separator file ("), message
    assert _files(out) == [] and _digest(model) == before


@pytest.mark.parametrize("change", ["unexpected", "missing"])
def test_a_state_dict_that_does_not_fit_names_the_keys(change, model_dir, tmp_path, capsys):
    """Row 6: separator.pth whose model state dict has an extra (or lacks a) key -> one line
    naming the key(s)."""
    package = torch.load(model_dir / "separator.pth", weights_only=True)
    state = package["model"]["state_dict"]
    if change == "unexpected":
        state["extra.weight"] = torch.zeros(3)
        detail = 'Unexpected key(s) in state_dict: "extra.weight".'
    else:
        key = sorted(state)[0]
        del state[key]
        detail = f'Missing key(s) in state_dict: "{key}".'
    (tmp_path / "bad_model").mkdir()
    path = tmp_path / "bad_model" / "separator.pth"
    torch.save(package, path)
    out = tmp_path / "out"
    message, _ = _fails(_separate(_noise(tmp_path / "in.wav"), out, path.parent), capsys)
    assert message == (
        f"error: {path} is not a separator file (its weights do not fit a TextCondUNet: "
        f"{detail})"
    )
    assert _files(out) == []


# ---------------------------------------------------------------------- row 7: empty query
@pytest.mark.parametrize("query", ["", "   "], ids=["empty", "blank"])
def test_an_empty_query_is_a_one_line_error(query, model_dir, tmp_path, capsys):
    """Row 7: -q "" -> one line saying the query is empty; nothing written."""
    inp = _noise(tmp_path / "in.wav")
    argv = _separate(inp, tmp_path / "out", model_dir)
    argv[argv.index(QUERY)] = query
    message, _ = _fails(argv, capsys)
    assert message == "error: -q/--query number 1 is empty: give a text or image:PATH"
    assert _files(tmp_path / "out") == []


@pytest.mark.parametrize("n_inputs", [1, 2])
def test_an_empty_query_is_named_by_its_option_before_any_work(
    n_inputs, model_dir, tmp_path, capsys, monkeypatch
):
    """Row 7: -q "" -> an error naming the option, before the model is loaded."""
    inputs = [_noise(tmp_path / f"in{k}.wav", seed=k) for k in range(n_inputs)]
    argv = _separate(inputs, tmp_path / "out", model_dir, "-q", "")
    _no_work(monkeypatch)
    message, _ = _fails(argv, capsys)
    assert message == "error: -q/--query number 2 is empty: give a text or image:PATH"


# ----------------------------------------------------------------- row 8: overwriting outputs
def test_existing_outputs_are_kept_byte_identical_without_force(model_dir, tmp_path, capsys):
    """Row 8 (files): an output that exists is never rewritten without --force (the input is
    skipped with a line naming --force, exit status 0); with --force it is rewritten."""
    inp = _noise(tmp_path / "in.wav")
    out = tmp_path / "out"
    argv = _separate(inp, out, model_dir, "-q", "a bell rings")
    _runs(argv, capsys)
    assert _files(out) == ["a_bell_rings.wav", "a_dog_barks.wav"]
    mine = out / "a_dog_barks.wav"
    mine.write_bytes(b"the user's own file")  # not what separate wrote
    os.remove(out / "a_bell_rings.wav")

    _runs(argv, capsys)  # one output missing: only it is written
    assert mine.read_bytes() == b"the user's own file"
    assert _files(out) == ["a_bell_rings.wav", "a_dog_barks.wav"]
    bell = _digest(out / "a_bell_rings.wav")

    captured = _runs(argv, capsys)  # all there: skipped, said so
    assert captured.out == "skipped 1 input(s) whose outputs exist (--force to redo them)\n"
    assert mine.read_bytes() == b"the user's own file"
    assert _digest(out / "a_bell_rings.wav") == bell

    _runs(argv + ["--force"], capsys)
    assert sf.info(str(mine)).frames == 4000  # rewritten: a WAV again
    assert _files(out) == ["a_bell_rings.wav", "a_dog_barks.wav"]  # no .part left


def test_an_existing_stream_output_is_refused_without_force(
    model_dir, tmp_path, capsys, monkeypatch
):
    """Row 8 (stdin): ``separate -`` over an existing output -> one line naming the file
    and --force, the file byte-identical; with --force it is rewritten."""
    inp = _noise(tmp_path / "in.wav")
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "a_dog_barks.wav"
    mine.write_bytes(b"the user's own file")
    argv = ["separate", "-", "-q", QUERY, "-o", str(out), "--model", str(model_dir)]
    with open(inp, "rb") as stream:
        monkeypatch.setattr(sys, "stdin", stream)
        message, _ = _fails(argv, capsys)
        assert message == (
            f"error: {mine} exists; pass --force (force=True in Python) to overwrite it"
        )
        assert mine.read_bytes() == b"the user's own file"
        captured = _runs(argv + ["--force"], capsys)
    assert captured.out == f"stdin ({MODEL_RATE} Hz, 1 ch) -> {mine}\n"
    assert sf.info(str(mine)).samplerate == MODEL_RATE
    assert _files(out) == ["a_dog_barks.wav"]


# ------------------------------------------------------------- row 9: rates and channels
@pytest.mark.parametrize("rate, channels", [(8000, 1), (96000, 1), (44100, 6)])
def test_outputs_keep_the_inputs_rate_channels_and_length(
    rate, channels, model_dir, tmp_path, capsys
):
    """Row 9: 8 kHz, 96 kHz and 6-channel inputs -> outputs at the input's rate, channel
    count and length."""
    frames = int(0.3 * rate) + 7  # an odd length
    inp = _noise(tmp_path / "in.wav", rate=rate, channels=channels, frames=frames)
    out = tmp_path / "out"
    _runs(_separate(inp, out, model_dir, "--residual"), capsys)
    assert _files(out) == ["a_dog_barks.wav", "residual.wav"]
    for name in _files(out):
        info = sf.info(str(out / name))
        assert (info.samplerate, info.channels, info.frames) == (rate, channels, frames)
        assert np.isfinite(sf.read(str(out / name))[0]).all()


# ------------------------------------------------------ row 10: queries it cannot tell apart
UNKNOWN_WARNINGS = [
    "warning: query 'a man speaks': words unknown to the encoder ('man', 'speaks'; its "
    "vocabulary has 5 words) are all read as one <unk> token",
    "warning: query 'a beeping tone': words unknown to the encoder ('beeping', 'tone'; its "
    "vocabulary has 5 words) are all read as one <unk> token",
    "warning: queries 'a man speaks' and 'a beeping tone' encode to the same vector: their "
    "estimates will be identical",
]


def test_the_cli_warns_of_queries_it_cannot_read_or_tell_apart(model_dir, tmp_path, capsys):
    """Row 10 (CLI): one ``warning:`` line per unknown-word query (naming the words and the
    vocabulary size) and one naming both queries that encode to the same vector; the
    separation still runs (exit status 0)."""
    inp = _noise(tmp_path / "in.wav")
    argv = ["separate", inp, "-q", "a man speaks", "-q", "a beeping tone", "-o"]
    argv += [str(tmp_path / "out"), "--model", str(model_dir)]
    captured = _runs(argv, capsys)
    warned = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert warned == UNKNOWN_WARNINGS
    assert "QueryWarning" not in captured.err
    assert _files(tmp_path / "out") == ["a_beeping_tone.wav", "a_man_speaks.wav"]
    # queries it knows and tells apart: no warning
    captured = _runs(_separate(inp, tmp_path / "o2", model_dir, "-q", "a bell rings"), capsys)
    assert "warning" not in captured.err


def test_the_python_api_warns_query_warning(separator):
    """Row 10 (Python): Separator.separate warns QueryWarning with the same messages."""
    audio = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    assert len(separator.encoder.vocab) - 3 == 5  # the "5 words" of the messages
    with pytest.warns(QueryWarning) as caught:
        separator.separate(audio, ["a man speaks", "a beeping tone"], sample_rate=MODEL_RATE)
    assert [f"warning: {w.message}" for w in caught] == UNKNOWN_WARNINGS
    with pytest.warns(QueryWarning) as caught:  # known words, one vector
        separator.separate(audio, [QUERY, "A dog barks!"], sample_rate=MODEL_RATE)
    assert [str(w.message) for w in caught] == [
        "queries 'a dog barks' and 'A dog barks!' encode to the same vector: their estimates "
        "will be identical"
    ]


# ------------------------------------------------------------- row 11: train-encoder, 20 steps
def test_train_encoder_with_20_steps(tmp_path, capsys):
    """Row 11: ``train-encoder --steps 20`` (tiny settings) works: no ZeroDivisionError."""
    from asteroid_wsas.encoders.tiny import TinyBimodalEncoder as Encoder

    out = tmp_path / "enc" / "tiny.pth"
    argv = ["train-encoder", "--steps", "20", "--synthetic", "32", "--val-items", "8"]
    argv += ["--batch-size", "4", "--seconds", "0.25", "--sample-rate", "8000", "-o", str(out)]
    captured = _runs(argv, capsys)
    assert captured.out.startswith("training on 32 mixtures, 8 held out for caption retrieval\n")
    assert "held-out caption retrieval: R@1 " in captured.out
    assert captured.out.endswith(f"saved {out}\n")
    assert _files(out.parent) == ["tiny.pth"]
    assert Encoder.from_pretrained(out).sample_rate == 8000


# ----------------------------------------------------------------------- row 12: batches
def test_a_batch_goes_on_past_a_corrupt_input(model_dir, tmp_path, capsys):
    """Rows 12 and 1: good, corrupt, good -> both good ones separated, the corrupt one
    listed at the end with a count (exit status 1); --fail-fast stops at it."""
    good_a = _noise(tmp_path / "a_good.wav")
    bad = tmp_path / "b_bad.wav"
    _corrupt(bad)
    good_c = _noise(tmp_path / "c_good.wav", seed=1)
    out = tmp_path / "out"
    message, captured = _fails(_separate([good_a, bad, good_c], out, model_dir), capsys)
    assert message == f"error: 1 input(s) failed: {bad}"
    assert f"2 of 3 inputs separated -> {out}" in captured.out
    assert f"failed: audio file {bad} is not readable audio (" in captured.err
    assert _files(out) == ["a_good/a_dog_barks.wav", "c_good/a_dog_barks.wav"]

    fresh = tmp_path / "fresh"
    argv = _separate([good_a, bad, good_c], fresh, model_dir, "--fail-fast")
    message, _ = _fails(argv, capsys)
    assert message.startswith(f"error: audio file {bad} is not readable audio ("), message
    assert _files(fresh) == ["a_good/a_dog_barks.wav"]  # c_good not reached


def test_a_failed_batch_exits_with_status_1(model_dir, tmp_path):
    """Row 12, as a shell sees it: exit status 1, the error as the last line, no traceback."""
    _noise(tmp_path / "a_good.wav")
    _corrupt(tmp_path / "b_bad.wav")
    argv = _separate(["a_good.wav", "b_bad.wav"], "out", model_dir)
    done = subprocess.run(
        [sys.executable, "-m", "asteroid_wsas.cli", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "error: 1 input(s) failed: b_bad.wav"
    assert "Traceback" not in done.stdout + done.stderr
    assert _files(tmp_path / "out") == ["a_good/a_dog_barks.wav"]


# ------------------------------------------------------------ row 13: unwritable output folder
@pytest.mark.parametrize("below", [False, True], ids=["a-file", "below-a-file"])
def test_an_unwritable_output_folder_fails_before_any_work(
    below, model_dir, tmp_path, capsys, monkeypatch
):
    """Row 13: -o naming a file, or a folder below a file (fails for root too) -> one line
    naming the folder, before the model is loaded or anything separated."""
    inp = _noise(tmp_path / "in.wav")
    blocker = tmp_path / "somefile.txt"
    blocker.write_text("a file, not a folder")
    out = blocker / "out" if below else blocker
    _no_work(monkeypatch)
    message, _ = _fails(_separate(inp, out, model_dir), capsys)
    reason = "Not a directory" if below else "File exists"
    assert message == f"error: output folder {out} is not writable ({reason})"
    assert blocker.read_text() == "a file, not a folder"


def test_a_read_only_output_folder_fails_before_any_work(model_dir, tmp_path, capsys, monkeypatch):
    """Row 13: a folder without write permission (chmod 0o500; root ignores it: skipped)."""
    inp = _noise(tmp_path / "in.wav")
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o500)
    try:
        if os.access(out, os.W_OK):
            pytest.skip("write permission is not enforced here (running as root)")
        _no_work(monkeypatch)
        message, _ = _fails(_separate(inp, out, model_dir), capsys)
        assert message == f"error: output folder {out} is not writable (Permission denied)"
        assert _files(out) == []
    finally:
        out.chmod(0o700)


# ------------------------------------------------------------------ row 14: folders as input
def test_a_folder_input_is_walked_and_an_empty_one_is_an_error(
    model_dir, tmp_path, capsys, monkeypatch
):
    """Row 14: a folder -> its audio files (tree kept below -o; hidden and non-audio files
    left out); an empty folder, or one without audio -> one line naming it."""
    root = tmp_path / "recordings"
    _noise(root / "park" / "dog.wav")
    _noise(root / "street.flac", seed=1)
    _noise(root / ".cache" / "old.wav")
    (root / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    captured = _runs(_separate(root, out, model_dir), capsys)
    assert f"2 of 2 inputs separated -> {out}" in captured.out
    assert _files(out) == ["park/dog/a_dog_barks.wav", "street/a_dog_barks.wav"]

    _no_work(monkeypatch)
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "readme.txt").write_text("no audio here")
    for folder in (empty, tmp_path / "texts"):
        message, _ = _fails(_separate(folder, tmp_path / "o2", model_dir), capsys)
        assert message == f"error: no audio files in {folder}"
    assert not (tmp_path / "o2").exists()


# ------------------------------------------------------------ row 16: advice for the CLI
def _recipe_model_without_encoder(separator, folder):
    """A recipe's best_model.pth with no conf.yml beside it: no encoder to load."""
    folder.mkdir()
    torch.save(separator.model.serialize(), folder / "best_model.pth")
    return folder / "best_model.pth"


def test_a_separator_without_its_encoder_is_a_one_line_error(separator, tmp_path, capsys):
    """Row 16: a best_model.pth without a conf.yml (no encoder bundled) -> one line naming
    the file."""
    model = _recipe_model_without_encoder(separator, tmp_path / "exp")
    out = tmp_path / "out"
    message, _ = _fails(_separate(_noise(tmp_path / "in.wav"), out, model), capsys)
    assert message == (
        f"error: {model} holds no encoder and no conf.yml beside it names one: put its "
        "training run's conf.yml beside it; or pass --encoder"
    )
    assert _files(out) == []


@pytest.mark.parametrize("command", ["separate", "evaluate --audio"])
def test_cli_errors_give_no_python_only_advice(command, separator, tmp_path, capsys):
    """Row 16: errors a CLI user sees never say "pass encoder=" (a Python argument)."""
    model = _recipe_model_without_encoder(separator, tmp_path / "exp")
    inp = _noise(tmp_path / "in.wav")
    if command == "separate":
        argv = _separate(inp, tmp_path / "out", model)
    else:
        argv = ["evaluate", "-o", str(tmp_path / "out"), "--model", str(model), "--audio", inp]
        argv += ["--queries-text", QUERY, "--clap-score", "model"]
    message, _ = _fails(argv, capsys)
    assert "encoder=" not in message, message


# -------------------------------------------------------------- row 17: small data splits
def test_small_classes_get_a_test_and_a_validation_item(tmp_path, capsys):
    """Row 17: 5 solos per class (MUSIC layout) -> every class has >= 1 test, >= 1
    validation and >= 1 training item; a class with 2 files -> one line naming the class,
    its file count and the options to change; no test set written."""
    from asteroid_wsas.data.registry import get_dataset
    from asteroid_wsas.data.synthetic import write_music_layout

    root = tmp_path / "music"
    listing = write_music_layout(str(root), 5, seconds=0.5, sample_rate=8000)
    data = {"dataset": "music", "root": str(root), "sample_rate": 8000, "segment": 0.5}
    dataset = get_dataset(data)  # the recipes' defaults: val 5 %, test 10 %
    classes = set(json.load(open(listing))["videos"])
    counts = {s: Counter(e.label for e in dataset.solos(s)) for s in ("train", "val", "test")}
    for split, minimum in (("test", 1), ("val", 1), ("train", 1)):
        assert set(counts[split]) == classes, split
        assert min(counts[split].values()) >= minimum, (split, counts[split])
    assert all(sum(counts[s][c] for s in counts) == 5 for c in classes)

    videos = json.load(open(listing))
    small = sorted(videos["videos"])[0]
    videos["videos"][small] = videos["videos"][small][:2]
    with open(listing, "w") as f:
        json.dump(videos, f)
    manifest = tmp_path / "test.json"
    argv = ["testset", "music", str(root), "-o", str(manifest), "--seconds", "0.5"]
    message, _ = _fails(argv + ["--sample-rate", "8000"], capsys)
    assert message == (
        f"error: class {small!r} has 2 file(s): too few for a test and a validation item and "
        "one for training; add files to it, leave it out (instruments / classes), or set "
        "test_fraction / val_fraction to 0"
    )
    assert not manifest.exists()


# -------------------------------------------------------------- row 18: output sample format
@pytest.mark.parametrize("subtype", ["FLOAT", "PCM_16", "PCM_24"])
def test_subtype_sets_the_output_format(subtype, model_dir, tmp_path, capsys):
    """Row 18: --subtype X gives X (FLOAT: float samples), whatever the input's."""
    inp = _noise(tmp_path / "in.wav", subtype="PCM_16")
    out = tmp_path / "out"
    _runs(_separate(inp, out, model_dir, "--residual", "--subtype", subtype), capsys)
    for name in ("a_dog_barks.wav", "residual.wav"):
        assert sf.info(str(out / name)).subtype == subtype


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_output_subtype_follows_the_input_by_default(subtype, model_dir, tmp_path, capsys):
    """Row 18: a PCM_16 (PCM_24) input -> PCM_16 (PCM_24) outputs without --subtype."""
    inp = _noise(tmp_path / "in.wav", subtype=subtype)
    _runs(_separate(inp, tmp_path / "out", model_dir), capsys)
    assert sf.info(str(tmp_path / "out" / "a_dog_barks.wav")).subtype == subtype


@pytest.mark.parametrize(
    "written, expected",
    [("FLOAT", "FLOAT"), ("PCM_U8", "PCM_U8"), ("flac PCM_16", "PCM_16"), ("ogg VORBIS", "FLOAT")],
)
def test_the_input_format_decides_where_wav_can_hold_it(written, expected, model_dir, tmp_path):
    """Row 18: float in -> float out; a 16-bit FLAC -> 16-bit WAVs; Ogg Vorbis (no integer
    samples) -> float WAVs."""
    fmt, _, subtype = written.rpartition(" ")
    ext = fmt or "wav"
    path = tmp_path / f"in.{ext}"
    gen = np.random.default_rng(0)
    sf.write(path, 0.1 * gen.standard_normal(4000), MODEL_RATE, subtype=subtype)
    main(_separate(path, tmp_path / "out", model_dir))
    assert sf.info(str(tmp_path / "out" / "a_dog_barks.wav")).subtype == expected


def test_clipping_to_an_integer_format_is_said_in_one_line(tmp_path, capsys):
    """Row 18: samples past full scale in a PCM output are clipped, and a warning says by
    how much (the command line prints it as one ``warning:`` line)."""
    import warnings

    from asteroid_wsas.cli import _show_warning
    from asteroid_wsas.separator import ClippingWarning, OutputFiles

    block = np.stack([np.linspace(-2.0, 2.0, 800)])  # one file, mono, peak +6.0 dB
    with pytest.warns(ClippingWarning, match=r"up to \+6\.0 dB over full scale .* PCM_16"):
        with OutputFiles([tmp_path / "x.wav"], MODEL_RATE, 1, "PCM_16") as out:
            out.write(block)
    data, _ = sf.read(tmp_path / "x.wav")
    assert data.max() == pytest.approx(1.0, abs=1e-4) and data.min() == -1.0
    with warnings.catch_warnings(record=True) as seen:  # float keeps every sample, silently
        warnings.simplefilter("always")
        with OutputFiles([tmp_path / "y.wav"], MODEL_RATE, 1, "FLOAT") as out:
            out.write(block)
    assert not seen and sf.read(tmp_path / "y.wav")[0].max() == 2.0
    _show_warning("x: clipped", ClippingWarning, "f.py", 1)
    assert capsys.readouterr().err == "warning: x: clipped\n"
