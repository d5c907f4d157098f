"""Issue 33, nothing silently wrong: what Separator.separate / stream take as audio, sample
rates, window settings, devices and queries; each bad input refused in one message naming
the argument, or read the way a user of audio expects (integer PCM as WAV readers scale it).
"""

import os
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, save_encoder
from asteroid_wsas.separation.audio_io import check_file_scale, float_samples, load_audio
from asteroid_wsas.separation.contract import (
    MissingEncoderError,
    QueryWarning,
    ScaleWarning,
    check_sample_rate,
)
from asteroid_wsas.separation.queries import query_warnings, unreadable
from asteroid_wsas.separation.separator import Separator
from asteroid_wsas.utils import check_device

from ..helpers import moved_encoder_run, named_pipe, tiny_separator

QUERY = "a dog barks"


@pytest.fixture(scope="module")
def separator():
    return tiny_separator([QUERY, "a bell rings"])


@pytest.fixture(scope="module")
def mixture():
    """One second of noise at 8 kHz whose int16 form is exact: k / 32768."""
    rng = np.random.default_rng(0)
    pcm = np.clip(rng.normal(0, 6000, 8000), -32768, 32767).astype(np.int16)
    return pcm


# ------------------------------------------------------------- 1. integer and complex input
@pytest.mark.parametrize(
    "dtype, scale, offset",
    [(np.int16, 2**15, 0), (np.int32, 2**31, 0), (np.int8, 2**7, 0), (np.uint8, 2**7, 128)],
)
def test_integer_pcm_is_scaled_as_wav_readers_scale_it(dtype, scale, offset):
    info = np.iinfo(dtype)
    pcm = np.array([info.min, offset, info.max], dtype=dtype)
    got = float_samples(pcm)
    assert got.dtype == torch.float32
    expected = (pcm.astype(np.float64) - offset) / scale
    assert np.array_equal(got.numpy(), expected.astype(np.float32))
    assert got[0] == -1.0 and got[1] == 0.0 and got[2] <= 1.0  # int32: 1 - 2**-31 rounds to 1
    assert torch.equal(float_samples(torch.from_numpy(pcm)), got)  # tensors alike


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_floats_of_integer_scale_are_separated_with_a_warning_naming_the_fix(mixture, kind):
    """int16 cast to float without its scaling: taken as it is, said in one warning."""
    floats = mixture.astype(np.float32)  # whole numbers up to ~10000
    audio = floats if kind == "numpy" else torch.from_numpy(floats)
    with pytest.warns(ScaleWarning, match=r"^audio: float samples that are all whole numbers"):
        got = float_samples(audio)
    assert torch.equal(got, torch.from_numpy(floats))  # nothing rescaled behind one's back
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for these
        float_samples(floats / 32768)  # the [-1, 1] scale
        float_samples(np.array([0.0, 1.7, -2.5, 3.25], np.float32))  # loud, not whole
        float_samples(np.array([0.0, 1.0, -1.0, 2.0]))  # whole numbers within 2
        float_samples(np.zeros(8, np.float32))


def test_int16_pcm_matches_soundfile_reading_the_same_samples(tmp_path, mixture):
    sf.write(tmp_path / "m.wav", mixture, 8000, subtype="PCM_16")
    read, _ = sf.read(tmp_path / "m.wav", dtype="float32")
    assert np.array_equal(float_samples(mixture).numpy(), read)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_int16_input_gives_the_estimates_of_its_float_form(separator, mixture, kind):
    """int16 in: the estimates of int16 / 32768, float32 in the [-1, 1] scale."""
    floats = mixture.astype(np.float32) / 32768
    pcm = mixture if kind == "numpy" else torch.from_numpy(mixture)
    options = dict(sample_rate=8000, precision="fp32", residual=True)
    got = separator.separate(pcm, QUERY, **options)
    ref = separator.separate(
        floats if kind == "numpy" else torch.from_numpy(floats), QUERY, **options
    )
    assert type(got.estimates) is type(ref.estimates)
    assert got.estimates.dtype in (np.float32, torch.float32)
    assert np.array_equal(np.asarray(got.estimates), np.asarray(ref.estimates))
    assert np.array_equal(np.asarray(got.residual), np.asarray(ref.residual))
    assert got.level_db == ref.level_db
    assert float(np.abs(np.asarray(got.estimates)).max()) < 2.0  # not 32768 times louder


def test_a_stream_of_int16_blocks_gives_the_estimates_of_its_float_form(separator, mixture):
    floats = mixture.astype(np.float32) / 32768
    options = dict(sample_rate=8000, precision="fp32", chunk_seconds=0.5, overlap_seconds=0.1)
    got = np.concatenate(list(separator.stream(np.split(mixture, 4), QUERY, **options)), -1)
    ref = np.concatenate(list(separator.stream(np.split(floats, 4), QUERY, **options)), -1)
    assert got.dtype == np.float32 and np.array_equal(got, ref)


def _scale_warnings(caught):
    return [str(w.message) for w in caught if issubclass(w.category, ScaleWarning)]


def test_a_float_file_of_integer_scale_is_said_once_read_whole_or_in_blocks(
    separator, mixture, tmp_path
):
    """A float WAV holding int16 values (written without its scaling): separated as it is,
    with one warning naming the file, read whole (separate) or in blocks (separate_file,
    whose check pass leaves the file at its start: the same estimates as separate)."""
    path = tmp_path / "int_scale.wav"
    sf.write(path, mixture.astype(np.float32), 8000, subtype="FLOAT")
    expected = (
        f"audio file {path}: float samples that are all whole numbers, up to "
        f"{np.abs(mixture.astype(np.float64)).max():g}, look like integer PCM cast to float; "
        "they are separated as they are (floats are taken in [-1, 1]): write the file in the "
        "[-1, 1] scale (divide by 32768 for 16-bit values)"
    )
    options = dict(precision="fp32", chunk_seconds=0.5, overlap_seconds=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        whole = separator.separate(str(path), QUERY, **options)
        assert _scale_warnings(caught) == [expected]
        blocks = []
        separator.separate_file(str(path), [QUERY], blocks.append, **options)
        assert _scale_warnings(caught) == [expected, expected]
    assert np.array_equal(np.concatenate(blocks, -1), whole.estimates)
    assert np.abs(whole.estimates).max() > 2.0  # nothing rescaled behind one's back


@pytest.mark.parametrize("subtype", ["FLOAT", "PCM_16", "DOUBLE"])
def test_files_in_the_full_scale_are_read_without_a_scale_warning(mixture, tmp_path, subtype):
    path = tmp_path / f"{subtype}.wav"
    samples = mixture / 32768.0
    samples[100] = 0.3  # whole numbers within 2 elsewhere would pass too: this one is not
    sf.write(path, samples, 8000, subtype=subtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_audio(str(path))
        with sf.SoundFile(path) as reader:
            check_file_scale(reader, str(path))
            assert reader.tell() == 0  # back at the start for the blocks to come


def test_a_stream_of_integer_scale_float_blocks_warns_once(separator, mixture):
    options = dict(sample_rate=8000, precision="fp32", chunk_seconds=0.5, overlap_seconds=0.1)
    blocks = np.split(mixture.astype(np.float32), 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(separator.stream(blocks, QUERY, **options))
    said = _scale_warnings(caught)
    assert len(said) == 1 and said[0].startswith("block 0: float samples that are all whole")
    assert said[0].endswith("(said of a stream's first such block only)")


def test_a_stream_whose_caller_checks_the_scale_says_nothing(separator, mixture):
    options = dict(sample_rate=8000, precision="fp32", chunk_seconds=0.5, overlap_seconds=0.1)
    blocks = np.split(mixture.astype(np.float32), 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet = list(separator.stream(blocks, QUERY, check_scale=False, **options))
    assert _scale_warnings(caught) == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        said = list(separator.stream(blocks, QUERY, **options))
    assert all(np.array_equal(a, b) for a, b in zip(quiet, said))  # only the warning differs


@pytest.mark.parametrize(
    "audio, message",
    [
        (
            np.zeros(800, np.complex64),
            "audio is complex (complex64); pass the real signal, e.g. audio.real",
        ),
        (
            torch.zeros(800, dtype=torch.complex128),
            "audio is complex (complex128); pass the real signal, e.g. audio.real",
        ),
        (
            np.zeros(800, bool),
            "audio is boolean; pass samples: floats in [-1, 1] or integer PCM",
        ),
        (
            np.zeros(800, np.int64),
            "audio is int64, which has no PCM full scale; pass floats in [-1, 1], or int16 / "
            "int32 / int8 / uint8 PCM",
        ),
        (
            torch.zeros(800, dtype=torch.int64),
            "audio is int64, which has no PCM full scale; pass floats in [-1, 1], or int16 / "
            "int32 / int8 / uint8 PCM",
        ),
        (
            np.zeros(800, np.uint16),
            "audio is uint16, which has no PCM full scale; pass floats in [-1, 1], or int16 / "
            "int32 / int8 / uint8 PCM",
        ),
        (
            np.array([0.1] * 800, dtype=object),
            "audio holds object values, not samples; pass numbers (floats in [-1, 1])",
        ),
        (
            np.array(["0.1"] * 800),
            "audio holds text, not samples; pass numbers (floats in [-1, 1])",
        ),
        (
            b"RIFF\x00\x00",
            "audio is bytes; pass a file path, or the samples (e.g. "
            "soundfile.read(io.BytesIO(data)))",
        ),
    ],
    ids=[
        "complex",
        "torch-complex",
        "bool",
        "int64",
        "torch-int64",
        "uint16",
        "object",
        "str",
        "bytes",
    ],
)
def test_audio_of_a_type_that_is_not_samples_is_refused(separator, audio, message):
    with pytest.raises(ValueError) as err:
        separator.separate(audio, QUERY, sample_rate=8000)
    assert str(err.value) == message


def test_a_complex_stream_block_is_refused_naming_the_block(separator):
    blocks = [np.zeros(800, np.float32), np.zeros(800, np.complex64)]
    with pytest.raises(ValueError) as err:
        list(separator.stream(blocks, QUERY, sample_rate=8000))
    assert str(err.value) == "block 1 is complex (complex64); pass the real signal, e.g. block.real"


# ---------------------------------------------------------------------- 2. sample rates
BAD_RATES = [44.1, 0, -8000, float("nan"), float("inf"), True, "8000", None]


@pytest.mark.parametrize("rate", BAD_RATES[:-1], ids=str)
@pytest.mark.parametrize("entry", ["separate", "stream", "stream_latency"])
def test_a_rate_that_is_not_a_whole_number_of_hz_is_refused(separator, entry, rate):
    audio = np.zeros(800, np.float32)
    calls = {
        "separate": lambda: separator.separate(audio, QUERY, sample_rate=rate),
        "stream": lambda: separator.stream([audio], QUERY, sample_rate=rate),
        "stream_latency": lambda: separator.stream_latency(rate),
    }
    with pytest.raises(ValueError) as err:
        calls[entry]()
    assert str(err.value) == (
        f"sample_rate must be a positive whole number of Hz (e.g. 44100), got {rate!r}"
    )


def test_an_integral_float_rate_is_taken(separator, mixture):
    floats = mixture.astype(np.float32) / 32768
    assert check_sample_rate(16000.0) == 16000 and check_sample_rate(np.int64(8000)) == 8000
    got = separator.separate(floats, QUERY, sample_rate=8000.0, precision="fp32")
    ref = separator.separate(floats, QUERY, sample_rate=8000, precision="fp32")
    assert got.sample_rate == 8000 and np.array_equal(got.estimates, ref.estimates)
    assert separator.stream_latency(44100.0) == separator.stream_latency(44100)


# ---------------------------------------------------------------------- 3. window settings
@pytest.mark.parametrize(
    "chunk, overlap, message",
    [
        (
            0.01,
            0.0,
            "chunk_seconds=0.01 is 80 samples at the model's 8000 Hz, shorter than its STFT "
            "window (126 samples): give at least 0.016",
        ),
        (float("nan"), 0.0, "chunk_seconds must be a finite number of seconds > 0, got nan"),
        (float("inf"), 0.0, "chunk_seconds must be a finite number of seconds > 0, got inf"),
        (0.0, 0.0, "chunk_seconds must be a finite number of seconds > 0, got 0.0"),
        (-1.0, 0.0, "chunk_seconds must be a finite number of seconds > 0, got -1.0"),
        (0.5, float("nan"), "overlap_seconds must be a finite number of seconds >= 0, got nan"),
        (0.5, -0.1, "overlap_seconds must be a finite number of seconds >= 0, got -0.1"),
        (0.5, 0.3, "chunk_seconds must be at least twice overlap_seconds, got 0.5 and 0.3"),
    ],
)
@pytest.mark.parametrize("entry", ["separate", "stream"])
def test_bad_window_settings_are_named_before_any_audio_is_read(
    separator, entry, chunk, overlap, message
):
    options = dict(chunk_seconds=chunk, overlap_seconds=overlap)
    with pytest.raises(ValueError) as err:
        if entry == "separate":  # a short input: the settings are checked all the same
            separator.separate("/no/such.wav", QUERY, **options)
        else:
            separator.stream(iter([]), QUERY, sample_rate=8000, **options)
    assert str(err.value) == message


def test_the_shortest_window_named_is_taken(separator, mixture):
    floats = mixture.astype(np.float32) / 32768
    out = separator.separate(
        floats, QUERY, sample_rate=8000, chunk_seconds=0.016, overlap_seconds=0
    )
    assert out.estimates.shape == (1, 8000)


# ----------------------------------------------------------------------------- 7. devices
@pytest.mark.parametrize(
    "device, message",
    [
        ("cuda", "device cuda: not available here (this machine has: cpu)"),
        ("cuda:3", "device cuda:3: not available here (this machine has: cpu)"),
        ("mps", "device mps: not available here (this machine has: cpu)"),
        (
            "foo",
            "device foo: not a device (e.g. cpu, cuda, cuda:1, mps; this machine has: cpu)",
        ),
    ],
)
def test_a_device_this_machine_lacks_is_named(separator, device, message):
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("the messages list a CPU-only machine's devices")
    audio = np.zeros(800, np.float32)
    for call in (
        lambda: separator.separate(audio, QUERY, sample_rate=8000, device=device),
        lambda: separator.stream([audio], QUERY, sample_rate=8000, device=device),
    ):
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message
    assert check_device("cpu") == torch.device("cpu")


# ------------------------------------------------------------------------- 4. queries
@pytest.mark.parametrize(
    "query, reason",
    [
        (
            "犬が吠える",
            "no characters the text encoder reads (it reads a-z, 0-9 and ', accents folded)",
        ),
        ("🐕🔔", "no letters or digits"),
        ("\u200b", "no letters or digits"),
        ("?!", "no letters or digits"),
    ],
    ids=["japanese", "emoji", "zero-width-space", "punctuation"],
)
def test_a_query_the_small_encoder_reads_as_nothing_warns(separator, query, reason):
    audio = np.zeros(800, np.float32)
    with pytest.warns(QueryWarning) as caught:
        separator.separate(audio, [QUERY, query], sample_rate=8000)
    messages = [str(w.message) for w in caught]
    assert f"query {query!r} has {reason}; its estimate will be a guess" in messages
    assert not any(f"query {QUERY!r}" in m for m in messages)


def _unfolding(separator):
    """The separator with its small encoder as a file written before the folding reads:
    its arguments without ``fold_accents``."""
    package = separator.encoder.serialize()
    package["model_args"].pop("fold_accents")
    old = TinyBimodalEncoder.from_pretrained(package)
    return Separator(separator.model, old)


@pytest.mark.parametrize(
    "query, dropped, read",
    [("a bell rîngs", "'î'", "a bell r ngs"), ("a bell rings 犬", "'犬'", "a bell rings")],
    ids=["accent", "other-script"],
)
def test_letters_an_encoder_file_without_folding_drops_are_named(separator, query, dropped, read):
    old = _unfolding(separator)
    assert not old.encoder.fold_accents
    with pytest.warns(QueryWarning) as caught:
        old.separate(np.zeros(800, np.float32), [QUERY, query], sample_rate=8000)
    messages = [str(w.message) for w in caught]
    expected = f"query {query!r}: the small encoder drops {dropped} (it reads a-z, 0-9 and '), "
    assert expected + f"so it reads {read!r}" in messages
    with pytest.warns(QueryWarning, match="no characters the text encoder reads"):
        old.separate(np.zeros(800, np.float32), [QUERY, "ａ ｄｏｇ"], sample_rate=8000)


def test_the_small_encoder_folds_accents_and_full_width_letters(separator):
    """'a bell rîngs', 'Ａ ＢＥＬＬ ＲＩＮＧＳ' are 'a bell rings' to an encoder trained
    since the folding: the same tokens, the same estimates, no warning; other scripts are
    still dropped and named."""
    assert separator.encoder.fold_accents
    audio = np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1
    options = dict(sample_rate=8000, precision="fp32")
    ref = separator.separate(audio, "a bell rings", **options).estimates
    for query in ("a bell rîngs", "Ａ ＢＥＬＬ ＲＩＮＧＳ", "A bell ringś"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", QueryWarning)
            got = separator.separate(audio, query, **options).estimates
        assert np.array_equal(got, ref), query
    with pytest.warns(QueryWarning) as caught:
        separator.separate(audio, "a bell rings 犬", **options)
    assert [str(w.message) for w in caught] == [
        "query 'a bell rings 犬': the small encoder drops '犬' (it reads a-z, 0-9 and ', "
        "accents folded), so it reads 'a bell rings'"
    ]


def test_a_readable_query_gives_no_such_warning(separator):
    with warnings.catch_warnings():
        warnings.simplefilter("error", QueryWarning)
        separator.separate(np.zeros(800, np.float32), [QUERY, "a bell rings"], sample_rate=8000)


def test_byte_level_bpe_reads_japanese_but_not_a_text_without_letters():
    """CLAP's tokenizer (byte-level BPE, as RoBERTa's) gives Japanese byte tokens: not
    empty, so no warning; a text of emoji alone still has no letter or digit."""
    from asteroid_wsas.encoders.testing import bpe_tokenizer

    class Tokenized:  # what unreadable() reads of an encoder: its tokenizer
        tokenizer = bpe_tokenizer()

    assert unreadable(Tokenized(), "犬が吠える") is None
    assert unreadable(Tokenized(), "a dog barks") is None
    assert unreadable(Tokenized(), "🐕🔔") == "no letters or digits"


def test_a_tokenizer_that_knows_nothing_of_a_text_is_said_so():
    """A WordPiece-like tokenizer that gives only [UNK] (BERT on unknown symbols)."""

    class Unknown:
        all_special_ids = [0, 1, 100]

        def __call__(self, text, add_special_tokens=True):
            return {"input_ids": [100] * len(text)}

    class Encoder:
        tokenizer = Unknown()

    reason = unreadable(Encoder(), "ᚠᚢᚦ")
    assert reason == "no token the text encoder's tokenizer knows (all read as unknown)"
    assert query_warnings(Encoder(), ["ᚠᚢᚦ"], ["ᚠᚢᚦ"]) == [
        f"query 'ᚠᚢᚦ' has {reason}; its estimate will be a guess"
    ]


# ------------------------------------------------------------------- 5. pipes as files
def test_a_named_pipe_is_read_as_a_file(separator, mixture, tmp_path):
    sf.write(tmp_path / "m.wav", mixture, 8000, subtype="PCM_16")
    thread = named_pipe(tmp_path / "pipe.wav", (tmp_path / "m.wav").read_bytes())
    wav, rate, kind, one_d = load_audio(str(tmp_path / "pipe.wav"))
    thread.join(10)
    assert (rate, kind, one_d) == (8000, "file", False)
    assert np.array_equal(wav[0].numpy(), mixture.astype(np.float32) / 32768)


def test_a_folder_given_as_audio_is_named_as_a_folder(separator, tmp_path):
    with pytest.raises(ValueError) as err:
        separator.separate(str(tmp_path), QUERY)
    assert str(err.value) == f"audio file {tmp_path} is a folder, not a file"


# ---------------------------------------------------------------- 8. a moved encoder
def test_a_moved_encoder_file_is_named_with_its_conf(separator, tmp_path):
    """A recipe's best_model.pth whose conf.yml names a small-encoder file that moved."""
    run, gone = moved_encoder_run(separator, tmp_path)
    with pytest.raises(MissingEncoderError) as err:
        Separator.from_pretrained(run / "best_model.pth")
    assert str(err.value) == (
        f"the encoder file {gone} named in {run / 'conf.yml'} is not there; pass its new "
        "place (--encoder, encoder= in Python)"
    )
    # on the command line: the command's option, or where it was (a command without one)
    assert err.value.message("--encoder", command_line=True).endswith("(--encoder PATH)")
    assert err.value.message(None, command_line=True).endswith("is not there; put it back there")
    # the recipe's short name "tiny": its stage-2 file beside the conf.yml
    (run / "conf.yml").write_text("encoder:\n  name: tiny\n")
    with pytest.raises(MissingEncoderError, match="encoder/tiny.pth named in"):
        Separator.from_pretrained(run / "best_model.pth")
    (run / "encoder").mkdir()
    save_encoder(separator.encoder, run / "encoder" / "tiny.pth")
    loaded = Separator.from_pretrained(run / "best_model.pth")
    assert loaded.encoder.vocab == separator.encoder.vocab
    # an encoder given: the conf.yml's missing file does not matter
    (run / "conf.yml").write_text(f"encoder:\n  name: {gone}\n")
    assert Separator.from_pretrained(run / "best_model.pth", encoder=separator.encoder)
