"""The web page's logic without a browser (tests/test_webapp_browser.py drives the page)."""

import os
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from asteroid_wsas.webapp import (
    PageError,
    Workspace,
    check_audio_file,
    demo_separator,
    draw_pictures,
    load_model,
    make_archive,
    model_hints,
    page_updates,
    parse_queries,
    separate_upload,
)
from asteroid_wsas.webapp.page import _page_handler
from tests.helpers import moved_encoder_run


@pytest.fixture(scope="module")
def separator():
    return demo_separator()


@pytest.fixture
def stereo(tmp_path):
    rate = 44100
    t = np.arange(int(1.5 * rate)) / rate
    rng = np.random.default_rng(0)
    wave = np.stack([0.4 * np.sin(2 * np.pi * 440 * t), 0.2 * rng.standard_normal(t.size)], 1)
    path = tmp_path / "stereo.wav"
    sf.write(path, wave.astype(np.float32), rate, subtype="PCM_16")
    return str(path), rate, t.size


def test_parse_queries():
    assert parse_queries(" a violin \n\n\ta piano\n") == ["a violin", "a piano"]
    with pytest.raises(PageError, match="at least one query"):
        parse_queries(" \n ")
    with pytest.raises(PageError, match="at most 2"):
        parse_queries("a\nb\nc", max_queries=2)
    with pytest.raises(PageError, match="same once written as file names"):
        parse_queries("A dog!\na dog")


def test_separate_upload_keeps_rate_length_and_channels(separator, stereo, tmp_path):
    path, rate, length = stereo
    steps = []
    folder = tmp_path / "request"
    folder.mkdir()
    result = separate_upload(
        separator,
        path,
        "a violin\na dog barks",
        "a man speaks",
        True,
        folder,
        progress=lambda fraction, message: steps.append(fraction),
    )
    assert result.names == ["a violin", "a dog barks", "residual"]
    input_wave, _ = sf.read(path, always_2d=True)
    total = 0
    for wav in result.audio:
        data, got_rate = sf.read(wav, always_2d=True)
        assert got_rate == rate and data.shape == (length, 2)
        total = total + data
    # the residual is the input minus the estimates: together they give the input back
    assert np.abs(total - input_wave).max() < 1e-4
    assert all(os.path.getsize(png) > 3000 for png in result.images + [result.mixture_image])
    assert result.scores[0].startswith("presence ") and "dB" in result.scores[0]
    # the zip is built only when asked
    assert result.archive is None and not (folder / "separated.zip").exists()
    with zipfile.ZipFile(make_archive(result)) as zf:
        names = set(zf.namelist())
    assert {"a_violin.wav", "a_dog_barks.wav", "residual.wav", "input.png"} <= names
    assert sorted(os.listdir(folder)) == sorted(os.path.basename(f) for f in result.files) + [
        "separated.zip"
    ]
    assert steps[0] < steps[-1] == 1.0
    assert "44100 Hz, 2 channel(s)" in result.info


@pytest.mark.parametrize(
    "case, message",
    [
        ("none", "Upload or record"),
        ("garbage", "not readable audio"),
        ("empty", "is empty"),
        ("silent", "silent"),
        ("large", "up to 0.01 MB"),
        ("no query", "at least one query"),
    ],
)
def test_bad_input_gives_one_line_for_the_page(separator, stereo, tmp_path, case, message):
    path = stereo[0]
    queries = "" if case == "no query" else "a violin"
    if case == "none":
        path = None
    elif case == "garbage":
        path = tmp_path / "garbage.wav"
        path.write_bytes(b"this is not audio" * 50)
    elif case == "empty":
        path = tmp_path / "empty.wav"
        path.write_bytes(b"")
    elif case == "silent":
        path = tmp_path / "silent.wav"
        sf.write(path, np.zeros((8000, 2)), 8000)
    limit = 0.01 if case == "large" else 50
    with pytest.raises(PageError, match=message) as info:
        separate_upload(separator, path and str(path), queries, "", False, tmp_path, limit)
    assert "\n" not in str(info.value)
    assert str(tmp_path) not in str(info.value)  # names the file, not the server's folders


def test_workspace_gives_each_request_its_own_folder_and_cleans_up(tmp_path):
    space = Workspace(tmp_path / "page", keep_seconds=60)
    first, second = space.new_request(), space.new_request()
    assert first != second and first.parent == second.parent == space.root
    (first / "a.wav").write_bytes(b"x")
    old = first.stat().st_mtime - 120
    os.utime(first, (old, old))
    assert space.clean() == 1 and not first.exists() and second.exists()
    space.close()
    assert not space.root.exists()


def test_load_model_names_what_failed(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_model(str(tmp_path / "missing"))
    separator = demo_separator()
    path = separator.save_pretrained(tmp_path / "package")
    assert load_model(os.path.dirname(path)).sample_rate == separator.sample_rate


def test_an_upload_of_integer_scale_is_said_once_by_its_name(separator, tmp_path):
    """A float WAV holding int16 values: one note, naming the upload (not the server's
    copy) and the file's remedy, not the array's the separation would add."""
    rng = np.random.default_rng(0)
    pcm = np.clip(rng.normal(0, 6000, 16000), -32768, 32767).round().astype(np.float32)
    upload = tmp_path / "upload" / "loud.wav"
    upload.parent.mkdir()
    sf.write(upload, pcm, 16000, subtype="FLOAT")
    (tmp_path / "out").mkdir()
    result = separate_upload(separator, str(upload), "a violin", "", False, tmp_path / "out")
    assert result.warnings == [
        f"audio file loud.wav: float samples that are all whole numbers, up to "
        f"{np.abs(pcm).max():g}, look like integer PCM cast to float; they are separated as "
        "they are (floats are taken in [-1, 1]): write the file in the [-1, 1] scale (divide "
        "by 32768 for 16-bit values)"
    ]


def test_queries_the_encoder_cannot_read_are_reported_on_the_page(separator, stereo, tmp_path):
    path, _, _ = stereo
    result = separate_upload(separator, path, "a violin\na trumpet", "", False, tmp_path)
    assert len(result.warnings) == 1
    assert "'a trumpet': words unknown to the encoder ('trumpet'" in result.warnings[0]
    (tmp_path / "b").mkdir()
    quiet = separate_upload(separator, path, "a violin\na piano", "", False, tmp_path / "b")
    assert quiet.warnings == []


def test_hints_come_from_a_small_encoders_vocabulary_and_prompt():
    from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab

    captions = ["The sound of drum", "The sound of drum", "The sound of violin"]
    captions += ["The sound mixture of violin and drum", "The sound of acoustic guitar"]
    encoder = TinyBimodalEncoder(build_vocab(captions), embed_dim=16, token_dim=12)
    hints = model_hints(SimpleNamespace(sample_rate=8000, encoder=encoder))
    # the prompt's own words are no example; the most frequent labels come first
    assert hints.examples == ["The sound of drum", "The sound of violin"]
    assert hints.words == ["drum", "violin", "acoustic", "guitar"]
    assert hints.placeholder == "The sound of drum\nThe sound of violin"
    assert "knows 4 words (drum, violin, acoustic, guitar)" in hints.vocabulary_note
    assert hints.rate_note.startswith(
        "This model runs at 8 kHz: the estimates hold nothing above 4 kHz"
    )
    # the served demo model: a real Separator
    assert model_hints(demo_separator()).examples == ["The sound of violin", "The sound of piano"]


def test_hints_for_a_free_text_encoder_and_without_a_model():
    clap_like = SimpleNamespace(sample_rate=32000, encoder=SimpleNamespace(sample_rate=48000))
    hints = model_hints(clap_like)
    assert hints.examples == ["a dog barks", "a piano plays"] and hints.words == []
    assert hints.vocabulary_note == ""
    assert "runs at 32 kHz: the estimates hold nothing above 16 kHz" in hints.rate_note
    assert model_hints(None).rate_note == ""


def test_no_query_message_quotes_a_query_the_model_knows(separator, stereo, tmp_path):
    with pytest.raises(PageError, match="e.g. 'The sound of violin'"):
        separate_upload(separator, stereo[0], " ", "", False, tmp_path)
    assert "e.g." not in str(pytest.raises(PageError, parse_queries, "").value)


def test_upload_check_reads_the_header(stereo, tmp_path):
    assert check_audio_file(stereo[0]) == "stereo.wav: 1.5 s at 44100 Hz, 2 channel(s)."
    text = tmp_path / "notes.wav"
    text.write_text("not a sound file\n" * 20)
    message = check_audio_file(str(text))
    assert message.startswith("notes.wav is not readable audio") and "Errno" not in message
    assert "is empty" in check_audio_file(str(tmp_path / "missing.wav"))
    assert check_audio_file(None) == ""


def test_every_path_sets_every_output(separator, stereo, tmp_path):
    import gradio as gr  # noqa: F401  (page_updates builds Gradio updates)

    result = separate_upload(separator, stereo[0], "a violin\na trumpet", "", False, tmp_path)
    n_slots = 3
    size = 3 + 4 * n_slots + 4  # ... slots, zip button, zip, Separate, the shown result
    shown = page_updates(n_slots, result=result)
    failed = page_updates(n_slots, error="bad <input>")
    running = page_updates(n_slots, progress=(0.5, "chunk 2/4"))
    for updates in (shown, failed, running):
        assert len(updates) == size and all("visible" in u for u in updates[1:-2])
        assert isinstance(updates[0], str)  # the status line: always shown, text for the API
    # after an error, a result makes its slots visible again: player and picture included
    assert [u["visible"] for u in shown[3:11]] == [True] * 8
    assert [u["visible"] for u in shown[11:15]] == [False] * 4
    assert not any(u["visible"] for u in failed[1:-2])
    assert failed[-1] is None and running[-1] is None and shown[-1] is result
    assert "bad &lt;input&gt;" in failed[0]
    # the warning's "<unk>" is text, not an HTML tag the page would drop
    assert "read as one &lt;unk&gt; token" in shown[0]
    assert running[1]["visible"] and "chunk 2/4 - 50 %" in running[1]["value"]
    assert running[-2]["interactive"] is False and shown[-2]["interactive"] is True
    # the zip: its button with a result, the file once built (and after the next request)
    assert (shown[-4]["visible"], shown[-3]["visible"]) == (True, False)
    make_archive(result)
    zipped = page_updates(n_slots, result=result)
    assert (zipped[-4]["visible"], zipped[-3]["visible"]) == (False, True)
    assert zipped[-3]["value"] == result.archive
    assert not running[-4]["visible"] and not running[-3]["visible"]


def test_the_page_shows_players_before_it_draws_pictures(separator, stereo, tmp_path):
    import gradio as gr  # noqa: F401  (page_updates builds Gradio updates)

    n_slots = 3
    run = _page_handler(separator, None, Workspace(tmp_path / "page"), 50, 2, n_slots)
    states = list(run(stereo[0], "a violin\na piano", "", False))
    result = states[-1][-1]
    first = next(k for k, state in enumerate(states) if state[-1] is not None)
    drawing, done = states[first], states[-1]
    assert first == len(states) - 2 and result is drawing[-1]
    # players and scores shown, pictures not yet, the progress line says why, Separate off
    assert [drawing[3 + 4 * k + 1]["visible"] for k in range(2)] == [True, True]
    assert [drawing[3 + 4 * k + 2]["visible"] for k in range(2)] == [False, False]
    assert not drawing[2]["visible"] and "drawing spectrograms" in drawing[1]["value"]
    assert drawing[-2]["interactive"] is False and not drawing[-4]["visible"]
    # then every picture, written, the progress line gone and Separate back
    assert result.drawn and all(os.path.getsize(png) > 3000 for png in result.images)
    assert [done[3 + 4 * k + 2]["visible"] for k in range(2)] == [True, True]
    assert done[2]["value"] == result.mixture_image and not done[1]["visible"]
    assert done[-2]["interactive"] is True and done[-4]["visible"]


def test_pictures_are_drawn_when_asked_and_the_zip_holds_what_exists(separator, stereo, tmp_path):
    result = separate_upload(separator, stereo[0], "a violin", "", True, tmp_path, pictures=False)
    assert not result.drawn and not any(os.path.exists(p) for p in result.images)
    with zipfile.ZipFile(make_archive(result)) as zf:  # asked before the pictures: the WAVs
        assert sorted(zf.namelist()) == ["a_violin.wav", "residual.wav"]
    assert draw_pictures(result) is result and result.drawn and result.pending == []
    assert all(os.path.isfile(p) for p in result.images + [result.mixture_image])
    assert result.archive is None  # so asked again, the zip is built with the pictures
    with zipfile.ZipFile(make_archive(result)) as zf:
        assert "input.png" in zf.namelist() and "residual.png" in zf.namelist()


def test_ctrl_c_while_the_command_starts_is_one_line_and_130(tmp_path):
    import subprocess
    import sys

    # Ctrl+C lands while the package is imported (the first seconds of `asteroid-wsas serve`)
    code = (
        "import builtins, sys, asteroid_wsas_cli\n"
        "real = builtins.__import__\n"
        "def stop(name, *args, **kwargs):\n"
        "    if name == 'asteroid_wsas.cli':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = stop\n"
        "sys.argv = ['asteroid-wsas', 'serve', '--model', 'random']\n"
        "asteroid_wsas_cli.main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert (done.returncode, done.stderr, done.stdout) == (130, "interrupted\n", "")


def test_a_moved_encoder_is_given_to_the_page_with_the_option(separator, tmp_path):
    from asteroid_wsas.cli import build_parser
    from asteroid_wsas.encoders.tiny import save_encoder

    run, gone = moved_encoder_run(separator, tmp_path)
    with pytest.raises(Exception, match=r"is not there; pass its new place \(--encoder"):
        load_model(str(run))
    save_encoder(separator.encoder, tmp_path / "moved.pth")
    loaded = load_model(str(run), encoder=str(tmp_path / "moved.pth"))
    assert loaded.encoder.vocab == separator.encoder.vocab
    # the page's command takes the option the message names
    args = build_parser().parse_args(["serve", "--model", str(run), "--encoder", "moved.pth"])
    assert args.encoder == "moved.pth"
