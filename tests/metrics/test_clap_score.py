"""CLAPScore (Xiao et al., DCASE 2024): the definition, the gain over the mixture, batching,
resampling and channels, real CLAP architecture, and `asteroid-wsas evaluate` with
`--clap-score` on a test set and with `--audio` on recordings without references."""

import csv
import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
import torchaudio

from asteroid_wsas.cli import main
from asteroid_wsas.encoders.base import BimodalEncoder
from asteroid_wsas.metrics import CSV_COLUMNS
from asteroid_wsas.metrics.clap_score import (
    CLAP_METRICS,
    ClapScorer,
    clap_score,
    clap_score_gain,
    clap_similarity,
    load_scoring_encoder,
)
from asteroid_wsas.stats import read_per_mixture
from tests.helpers import randomize_norm_stats, tiny_encoder, tiny_separator, tiny_unet

RATE = 8000


class AxisEncoder(BimodalEncoder):
    """Known embeddings: audio -> (level, level of its first difference), i.e. "how much
    low" and "how much high" content; texts -> fixed directions of that plane."""

    sample_rate = RATE
    embed_dim = 2
    token_dim = 2
    TEXTS = {"low": (1.0, 0.0), "high": (0.0, 1.0), "anti": (-1.0, 0.0), "both": (1.0, 1.0)}

    def __init__(self):
        super().__init__(cache_size=0)
        self.rates = []  # the rates embed_audio was asked at

    def _encode_text(self, phrases):
        embed = F.normalize(torch.tensor([self.TEXTS[p] for p in phrases]), dim=-1)
        return embed, embed[:, None, :], torch.ones(len(phrases), 1, dtype=torch.bool)

    def embed_audio(self, wav, sample_rate):
        self.rates.append(sample_rate)
        low = (wav[..., 1:] + wav[..., :-1]).square().mean(-1).sqrt()  # 2-tap low-pass
        high = (wav[..., 1:] - wav[..., :-1]).square().mean(-1).sqrt()  # 2-tap high-pass
        return F.normalize(torch.stack([low, high], -1), dim=-1)


def tone(freq, seconds=0.5, rate=RATE, amp=0.5):
    t = torch.arange(int(seconds * rate)) / rate
    return amp * torch.sin(2 * torch.pi * freq * t)


# ------------------------------------------------------------------------------ definition
def test_definition_on_known_embeddings():
    audio = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    text = torch.tensor([1.0, 0.0, 0.0])
    raw = clap_similarity(audio, text)
    # same direction (any norm): the maximum 1; orthogonal: 0; opposite: -1
    assert torch.allclose(raw, torch.tensor([1.0, 0.0, -1.0, 2**-0.5]))
    clipped = clap_similarity(audio, text, clip=True)  # CLIPScore's convention
    assert torch.allclose(clipped, torch.tensor([1.0, 0.0, 0.0, 2**-0.5]))


def test_scores_and_gain_through_the_encoder():
    enc = AxisEncoder()
    low, high = tone(200), tone(3600)
    score = clap_score(enc, torch.stack([low, high, low]), ["low", "low", "anti"], RATE)
    assert score[0] > 0.99 and score[1] < 0.5 and score[2] < -0.99  # "anti": opposite
    clipped = clap_score(enc, low[None], ["anti"], RATE, clip=True)
    assert clipped[0] == 0.0
    # gain: the mixture holds both; the estimate of "low" is the low tone
    mix = (low + high)[None]
    est = torch.stack([low, high])[None]  # (B=1, K=2, T)
    gain = clap_score_gain(enc, est, mix, [["low", "high"]], RATE)
    mix_score = clap_score(enc, mix.expand(2, -1), ["low", "high"], RATE)
    assert torch.allclose(gain[0], clap_score(enc, est[0], ["low", "high"], RATE) - mix_score)
    assert (gain > 0.2).all()  # separation moved each estimate towards its query
    same = clap_score_gain(enc, mix[:, None].expand(1, 2, -1), mix, [["low", "high"]], RATE)
    assert torch.equal(same, torch.zeros(1, 2))  # the mixture as its own estimate: no gain
    wrong = clap_score_gain(enc, est.flip(1), mix, [["low", "high"]], RATE)
    assert (wrong < 0).all()  # swapped estimates move away from their queries


def test_channels_are_averaged_as_embeddings():
    enc = AxisEncoder()
    low, high = tone(200), tone(3600)
    mono = clap_score(enc, low[None], ["low"], RATE)
    stereo = clap_score(enc, torch.stack([low, low])[None], ["low"], RATE)
    assert torch.allclose(mono, stereo)
    # one channel low, one high: the mean of the two unit embeddings, (1, 1) / sqrt(2)
    mixed = clap_score(enc, torch.stack([low, high])[None], ["both"], RATE)
    per_channel = enc.embed_audio(torch.stack([low, high]), RATE).mean(0)
    expected = clap_similarity(per_channel, enc.embed_text(["both"])[0])
    assert torch.allclose(mixed, expected[None], atol=1e-6) and mixed[0] > 0.95


def test_bad_inputs_are_refused():
    enc = AxisEncoder()
    scorer = ClapScorer(enc)
    with pytest.raises(ValueError, match="one per signal"):
        scorer.score(torch.zeros(2, 100), ["low"], RATE)
    with pytest.raises(ValueError, match="NaN"):
        scorer.score(torch.full((1, 100), math.nan), ["low"], RATE)
    with pytest.raises(ValueError, match="does not match"):
        scorer.score_separation(torch.zeros(1, 2, 100), torch.zeros(1, 90), [["low"] * 2], RATE)
    with pytest.raises(ValueError, match="lists of 2 texts"):
        scorer.score_separation(torch.zeros(1, 2, 100), torch.zeros(1, 100), [["low"]], RATE)
    enc.has_audio = False  # a text-only query encoder (BERT, CLIP's text tower)
    with pytest.raises(ValueError, match="text only"):
        ClapScorer(enc)


# --------------------------------------------------------------- real (random) encoders
def test_tiny_encoder_batched_equals_one_by_one_and_keeps_train_mode():
    enc = tiny_encoder(["a dog barks", "a man speaks"])
    randomize_norm_stats(enc)
    assert enc.training  # not frozen: batch norm would mix the batch if left in train mode
    gen = torch.Generator().manual_seed(0)
    wav = torch.randn(5, 2, 4000, generator=gen)  # stereo
    queries = ["a dog barks", "a man speaks", "a dog barks", "a man speaks", "a dog barks"]
    batched = ClapScorer(enc, batch_size=2).score(wav, queries, RATE)
    single = torch.cat([ClapScorer(enc).score(w[None], [q], RATE) for w, q in zip(wav, queries)])
    assert torch.allclose(batched, single, atol=1e-5)
    assert enc.training  # restored
    assert ((batched >= 0) & (batched <= 1)).all()


def test_audio_is_resampled_to_the_encoders_rate():
    enc = tiny_encoder(["a dog barks"], sample_rate=16000)
    randomize_norm_stats(enc)
    rates = []
    embed = enc.embed_audio
    enc.embed_audio = lambda wav, rate: rates.append(rate) or embed(wav, rate)
    gen = torch.Generator().manual_seed(1)
    wav = torch.randn(2, 4000, generator=gen)
    at_8k = clap_score(enc, wav, ["a dog barks"] * 2, 8000)
    at_16k = clap_score(
        enc, torchaudio.functional.resample(wav, 8000, 16000), ["a dog barks"] * 2, 16000
    )
    assert torch.allclose(at_8k, at_16k, atol=1e-6)
    assert set(rates) == {16000}  # the encoder never resamples on its own


def test_random_clap_architecture(tmp_path):
    from asteroid_wsas.encoders.testing import save_random_clap

    folder = save_random_clap(tmp_path / "clap")
    scorer = ClapScorer.from_spec(folder)
    assert type(scorer.encoder).__name__ == "ClapEncoder" and not scorer.is_model_encoder
    gen = torch.Generator().manual_seed(2)
    wav = 0.1 * torch.randn(3, 12 * RATE, generator=gen)  # longer than CLAP's 10 s
    queries = ["A man talks", "Rain falls on a roof", "A man talks"]
    first = scorer.score(wav, queries, RATE)
    again = ClapScorer(scorer.encoder, batch_size=1).score(wav, queries, RATE)
    assert torch.allclose(first, again, atol=1e-5)  # batching, and no random crop
    assert ((first >= -1) & (first <= 1)).all()


def test_scoring_encoder_specs(tmp_path):
    from asteroid_wsas.encoders.tiny import save_encoder

    enc = tiny_encoder(["a dog barks"])
    with pytest.raises(ValueError, match="needs a separator"):
        load_scoring_encoder("model")
    assert ClapScorer.from_spec("model", enc).is_model_encoder
    with pytest.raises(ValueError, match="no small encoder file"):
        load_scoring_encoder(f"tiny:{tmp_path / 'none.pth'}")
    save_encoder(enc, tmp_path / "enc.pth")
    loaded = load_scoring_encoder(f"tiny:{tmp_path / 'enc.pth'}")
    assert loaded.frozen and loaded.vocab == enc.vocab


# ----------------------------------------------------------------- evaluate: test sets
QUERIES = {"violin": "the sound of violin", "cello": "the sound of cello"}


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    """A two-mixture test set of generated tones, a random separator and its encoder file."""
    from asteroid_wsas.data.testsets import TestMixture, TestSet, TestSource, write_manifest
    from asteroid_wsas.encoders.tiny import save_encoder

    root = tmp_path_factory.mktemp("tones")
    t = np.arange(RATE) / RATE
    for label, freq in (("violin", 440.0), ("cello", 220.0)):
        sf.write(root / f"{label}.wav", 0.4 * np.sin(2 * np.pi * freq * t), RATE)

    def source(label, offset):
        return TestSource(f"{label}.wav", offset, 0.5, QUERIES[label], label, label)

    mixtures = [
        TestMixture("m0", [source("violin", 0.0), source("cello", 0.0)]),
        TestMixture("m1", [source("cello", 0.25), source("violin", 0.5)]),
    ]
    write_manifest(TestSet("tones", str(root), RATE, 0.5, 0, mixtures), root / "test.json")
    encoder = tiny_encoder(list(QUERIES.values()))
    save_encoder(encoder, root / "enc.pth")
    package = randomize_norm_stats(tiny_unet()).serialize()
    package.setdefault("infos", {})["objective"] = "weak"
    torch.save(package, root / "best_model.pth")
    return root


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_evaluate_adds_clap_columns_and_keeps_the_others(test_set, tmp_path, capsys):
    enc, best, manifest = test_set / "enc.pth", test_set / "best_model.pth", test_set / "test.json"
    base = ["evaluate", str(manifest), "--model", str(best), "--encoder", str(enc)]
    main(base + ["-o", str(tmp_path / "plain")])
    main(base + ["-o", str(tmp_path / "clap"), "--clap-score", f"tiny:{enc}"])
    assert "CLAPScore " in capsys.readouterr().out
    plain, clap = _csv(tmp_path / "plain" / "all_metrics.csv"), _csv(
        tmp_path / "clap" / "all_metrics.csv"
    )
    assert tuple(plain[0]) == CSV_COLUMNS  # without the option: the files as before
    assert tuple(clap[0]) == CSV_COLUMNS + CLAP_METRICS
    assert [r[: len(CSV_COLUMNS)] for r in clap] == plain  # the other cells unchanged
    values = [float(r[-2]) for r in clap[1:]]
    assert len(values) == 4 and all(0 <= v <= 1 for v in values)
    summary = json.loads((tmp_path / "clap" / "final_metrics.json").read_text())
    per_mixture = read_per_mixture(tmp_path / "clap" / "all_metrics.csv", "clap")
    mean = np.mean(list(per_mixture.values()))  # from the CSV's 6 decimals
    assert summary["metrics"]["clap"]["mean"] == pytest.approx(mean, abs=1e-5)
    assert "clapi" in summary["metrics"] and summary["settings"]["clap_score"]["encoder"]
    assert (
        "clap" not in json.loads((tmp_path / "plain" / "final_metrics.json").read_text())["metrics"]
    )


def test_evaluate_the_mixture_with_clap(test_set, tmp_path):
    from asteroid_wsas.data import TestSetDataset

    enc = test_set / "enc.pth"
    out = tmp_path / "mix"
    main(
        [
            "evaluate",
            str(test_set / "test.json"),
            "--mixture",
            "-o",
            str(out),
            "--clap-score",
            f"tiny:{enc}",
        ]
    )
    rows = _csv(out / "all_metrics.csv")
    assert all(float(r[-1]) == 0.0 for r in rows[1:])  # the mixture gains nothing over itself
    # the score of the first mixture against its queries, straight from the scorer
    item = TestSetDataset(test_set / "test.json")[0]
    direct = clap_score(
        load_scoring_encoder(f"tiny:{enc}"),
        item["mixture"][None].expand(2, -1),
        item["query_names"],
        RATE,
    )
    assert [float(r[-2]) for r in rows[1:3]] == pytest.approx(direct.tolist(), abs=1e-5)
    with pytest.raises(SystemExit, match="needs a separator"):
        main(
            [
                "evaluate",
                str(test_set / "test.json"),
                "--mixture",
                "-o",
                str(tmp_path / "x"),
                "--clap-score",
                "model",
            ]
        )


# --------------------------------------------------------- evaluate: recordings, no refs
def test_reference_free_evaluation_of_recordings(tmp_path, capsys):
    from asteroid_wsas import Separator
    from asteroid_wsas.encoders.tiny import save_encoder

    texts = ["a dog barks", "a man speaks"]
    separator = tiny_separator(texts)
    randomize_norm_stats(separator.model)
    separator.save_pretrained(tmp_path / "sep")
    recordings = tmp_path / "recordings"
    (recordings / "sub").mkdir(parents=True)
    gen = np.random.default_rng(0)
    mono = 0.3 * np.sin(2 * np.pi * 300 * np.arange(RATE) / RATE) + 0.05 * gen.standard_normal(RATE)
    sf.write(recordings / "a.wav", mono, RATE)
    sf.write(recordings / "sub" / "b.wav", 0.2 * gen.standard_normal((12000, 2)), 16000)
    out = tmp_path / "out"
    args = ["evaluate", "--audio", str(recordings), "--queries-text", *texts]
    args += ["--model", str(tmp_path / "sep"), "--clap-score", "model", "-o", str(out)]
    main(args)
    printed = capsys.readouterr().out
    assert "training teacher" in printed and "2 recordings x 2 queries" in printed
    rows = _csv(out / "clap_scores.csv")
    assert rows[0] == ["file", "query", "clap", "clapi"] and len(rows) == 5
    assert [r[1] for r in rows[1:]] == texts * 2
    summary = json.loads((out / "clap_summary.json").read_text())
    for name in CLAP_METRICS:
        m = summary["metrics"][name]
        assert m["low"] <= m["mean"] <= m["high"] and m["n"] == 2
        assert set(summary["per_query"]) == set(texts)
    assert summary["settings"]["separator_encoder"] is True
    # the separator's own presence score is CLAPScore with its own encoder
    loaded = Separator.from_pretrained(tmp_path / "sep")
    presence = loaded.separate(str(recordings / "a.wav"), texts).presence
    a_rows = [float(r[2]) for r in rows[1:] if r[0].endswith("a.wav")]
    assert a_rows == pytest.approx(presence, abs=1e-5)
    with pytest.raises(SystemExit, match="--force"):
        main(args)
    capsys.readouterr()
    # an independent scorer: a small encoder file
    save_encoder(tiny_encoder(texts), tmp_path / "other.pth")
    args[args.index("model")] = f"tiny:{tmp_path / 'other.pth'}"
    main(args + ["--force"])
    assert "training teacher" not in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--queries-text"):
        main(
            [
                "evaluate",
                "--audio",
                str(recordings),
                "--model",
                str(tmp_path / "sep"),
                "-o",
                str(out),
            ]
        )
    with pytest.raises(SystemExit, match="manifest"):
        main(["evaluate", "--model", str(tmp_path / "sep"), "-o", str(out)])
