"""TinyBimodalEncoder: interface, training on mixtures only, retrieval, saving."""

import pytest
import torch

from asteroid_wsas.data import SyntheticCaptionedMixtures
from asteroid_wsas.text import mixture_prompt, source_prompt
from asteroid_wsas.encoders.tiny import (
    TinyBimodalEncoder,
    build_vocab,
    phrase_accuracy,
    phrase_loss,
    retrieval_recall,
    save_encoder,
    train_tiny_encoder,
    words,
)

CLASSES = ["beep", "hum", "siren", "bell", "drum", "whistle"]
SMALL = dict(embed_dim=32, token_dim=16, n_mels=32, channels=[8, 16, 16, 16], n_heads=2)


@pytest.fixture(scope="module")
def trained():
    """Trained for a few seconds on generated mixtures; returns (encoder, log, val)."""
    train = SyntheticCaptionedMixtures(256, seconds=1.0, seed=0)
    val = SyntheticCaptionedMixtures(48, seconds=1.0, seed=1)
    encoder, log = train_tiny_encoder(
        train,
        val,
        steps=60,
        batch_size=32,
        lr=3e-3,
        log_every=30,
        progress=False,
        encoder_kwargs=SMALL,
    )
    return encoder, log, val


def test_vocabulary_comes_from_training_captions():
    vocab = build_vocab(["A dog barks", "a dog runs", "Rain falls"], min_count=2)
    assert vocab == ["<pad>", "<unk>", "<cls>", "a", "dog"]
    assert words("Static-noise HISSES!") == ["static", "noise", "hisses"]


def test_unknown_words_map_to_unk():
    enc = TinyBimodalEncoder(build_vocab(["a dog barks"]), **SMALL)
    ids, mask = enc.tokenize(["A dog meows loudly"])
    # vocab: specials, then "a", "barks", "dog" (ties sorted alphabetically)
    assert ids[0].tolist() == [2, 3, 5, 1, 1] and mask.all()


def test_interface_shapes_and_normalisation():
    enc = TinyBimodalEncoder(build_vocab(["a dog barks", "rain falls"]), **SMALL).eval()
    embed, states, mask = enc.encode_text(["A dog barks", "Rain"])
    assert embed.shape == (2, 32) and states.shape == (2, 4, 16) and mask.shape == (2, 4)
    assert torch.allclose(embed.norm(dim=-1), torch.ones(2), atol=1e-5)
    audio = enc.embed_audio(torch.randn(3, 12000), 24000)  # resampled to 16 kHz
    assert audio.shape == (3, 32)
    assert torch.allclose(audio.norm(dim=-1), torch.ones(3), atol=1e-5)


def test_training_learns_retrieval_above_chance(trained):
    encoder, log, _ = trained
    assert log[-1]["loss"] < log[0]["loss"]
    assert log[-1]["r_at_1"] > 3 * log[-1]["chance"]
    assert log[-1]["r_at_5"] > log[-1]["r_at_1"]


def test_training_never_reads_clean_sources():
    class NoSources(SyntheticCaptionedMixtures):
        def __getitem__(self, index):
            item = dict(super().__getitem__(index))
            item.pop("sources")  # training must work from mixtures and captions alone
            return item

    encoder, log = train_tiny_encoder(
        NoSources(64, seconds=0.5), steps=2, batch_size=16, progress=False, encoder_kwargs=SMALL
    )
    assert len(log) == 1 and "r_at_1" not in log[0]


def test_frozen_teacher_passes_gradients_to_audio(trained):
    encoder, _, val = trained
    teacher = TinyBimodalEncoder.from_pretrained(encoder.serialize()).freeze()
    wav = val[0]["mixture"][None].clone().requires_grad_(True)
    text = teacher.embed_text(val[0]["phrases"])
    (teacher.embed_audio(wav, 16000) @ text.T).sum().backward()
    assert wav.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())


def test_save_and_load_round_trip(trained, tmp_path):
    encoder, _, val = trained
    path = tmp_path / "enc.pth"
    save_encoder(encoder, path)
    loaded = TinyBimodalEncoder.from_pretrained(path).eval()
    encoder.eval()
    assert loaded.vocab == encoder.vocab
    assert torch.load(path, weights_only=True)["model_name"] == "TinyBimodalEncoder"
    wav = torch.stack([val[i]["mixture"] for i in range(4)])
    assert torch.allclose(loaded.embed_audio(wav, 16000), encoder.embed_audio(wav, 16000))
    assert torch.allclose(loaded.embed_text(["A bell rings"]), encoder.embed_text(["A bell rings"]))
    with pytest.raises(FileExistsError, match="force"):
        save_encoder(encoder, path)
    save_encoder(encoder, path, force=True)


def test_accent_folding_is_saved_and_a_file_without_it_reads_as_trained(tmp_path):
    """Encoders fold accents since their files say ``fold_accents: true``; a file written
    before (no such argument) reads without folding, as it was trained."""
    assert build_vocab(["Café crème"]) == ["<pad>", "<unk>", "<cls>", "cafe", "creme"]
    assert build_vocab(["Café crème"], fold=False)[3:] == ["caf", "cr", "me"]
    enc = TinyBimodalEncoder(build_vocab(["a cafe bell"]), **SMALL)
    save_encoder(enc, tmp_path / "new.pth")
    new = TinyBimodalEncoder.from_pretrained(tmp_path / "new.pth")
    assert new.fold_accents and new.get_model_args()["fold_accents"] is True
    assert new.tokenize(["a CAFÉ bell"])[0].tolist() == enc.tokenize(["a cafe bell"])[0].tolist()
    package = torch.load(tmp_path / "new.pth", weights_only=True)
    del package["model_args"]["fold_accents"]  # as files before the folding are
    old = TinyBimodalEncoder.from_pretrained(package)
    assert not old.fold_accents and old.words("a CAFÉ bell") == ["a", "caf", "bell"]


def test_retrieval_recall_counts_ranks():
    class Oracle(TinyBimodalEncoder):
        def embed_audio(self, wav, sample_rate):
            return torch.nn.functional.one_hot(wav[:, 0].long(), 4).float()

        def _encode_text(self, phrases):
            e = torch.nn.functional.one_hot(torch.tensor([int(p[-1]) for p in phrases]), 4)
            return (
                e.float(),
                torch.zeros(len(phrases), 1, self.token_dim),
                torch.ones(len(phrases), 1, dtype=torch.bool),
            )

    enc = Oracle(build_vocab(["x"]), **SMALL)
    wavs = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    perfect = retrieval_recall(enc, wavs, 16000, ["c0", "c1", "c2", "c3"])
    assert perfect == {"r_at_1": 1.0, "r_at_5": 1.0, "chance": 0.25}
    shifted = retrieval_recall(enc, wavs, 16000, ["c1", "c2", "c3", "c0"])
    assert shifted["r_at_1"] == 0.0


def test_bad_vocab():
    with pytest.raises(ValueError, match="special tokens"):
        TinyBimodalEncoder(["a", "b"])


def test_loading_a_separator_file_is_refused(tmp_path):
    from asteroid_wsas import TextCondUNet

    path = tmp_path / "sep.pth"
    torch.save(
        TextCondUNet(channels=[4], conditioning="late", n_fft=62, hop_length=16).serialize(), path
    )
    with pytest.raises(ValueError, match="TinyBimodalEncoder"):
        TinyBimodalEncoder.from_pretrained(path)


def test_phrase_loss_prefers_the_phrases_of_the_mixture():
    text = torch.eye(3)  # phrases a, b, c
    positives = torch.tensor([[True, True, False]])
    between = torch.nn.functional.normalize(torch.tensor([[1.0, 1.0, 0.0]]), dim=-1)
    elsewhere = torch.tensor([[0.0, 0.0, 1.0]])
    scale = torch.tensor(10.0)
    assert phrase_loss(between, text, positives, scale) < phrase_loss(
        elsewhere, text, positives, scale
    )


def test_phrase_accuracy_ranks_each_recording_against_the_candidates():
    class Oracle:  # "audio" is a one-hot of the class; text the same one-hot
        training = False
        names = ["The sound of a", "The sound of b", "The sound of c"]

        def eval(self):
            return self

        def train(self, mode=True):
            return self

        def embed_audio(self, wav, sample_rate):
            return wav[:, :3]

        def embed_text(self, phrases):
            return torch.eye(3)[[self.names.index(p) for p in phrases]]

    wavs = torch.tensor([[1.0, 0, 0, 9], [0, 0.2, 1.0, 9], [0, 1.0, 0.9, 9]])
    truth = ["The sound of a", "The sound of b", "The sound of b"]
    acc = phrase_accuracy(Oracle(), wavs, 8000, truth, Oracle.names)
    assert acc == pytest.approx({"top1": 2 / 3, "top3": 1.0, "chance": 1 / 3})
    with pytest.raises(ValueError, match="not among the candidates"):
        phrase_accuracy(Oracle(), wavs, 8000, ["The sound of d"] * 3, Oracle.names)


class _Prompted(torch.utils.data.Dataset):
    """Generated mixtures with MUSIC's prompts: "The sound of X" per source."""

    def __init__(self, n, n_sources, seed):
        self.data = SyntheticCaptionedMixtures(
            n, n_sources, n_sources, seconds=1.0, seed=seed, classes=CLASSES
        )
        self.sample_rate = self.data.sample_rate

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        item = self.data[i]
        return {
            "mixture": item["mixture"],
            "phrases": [source_prompt(label) for label in item["labels"]],
            "caption": mixture_prompt(item["labels"]),
        }


def test_training_with_the_phrase_loss_names_single_sources():
    """2-source mixtures only, yet single sources rank their own phrase first."""
    encoder, _ = train_tiny_encoder(
        _Prompted(256, 2, seed=0),
        steps=80,
        batch_size=32,
        lr=3e-3,
        progress=False,
        encoder_kwargs=SMALL,
        phrase_weight=1.0,
    )
    solos = _Prompted(60, 1, seed=5)
    items = [solos[i] for i in range(len(solos))]
    wavs = torch.stack([it["mixture"] for it in items])
    acc = phrase_accuracy(encoder, wavs, 16000, [it["caption"] for it in items])
    assert acc["chance"] == 1 / 6 and acc["top1"] > 0.5


def test_phrase_loss_needs_phrases():
    data = [{"mixture": torch.zeros(8000), "caption": "a dog barks"}] * 4
    with pytest.raises(ValueError, match="needs items with 'phrases'"):
        train_tiny_encoder(
            data, steps=1, batch_size=2, progress=False, encoder_kwargs=SMALL, phrase_weight=1.0
        )


@pytest.mark.parametrize("steps", [1, 2, 3, 19, 20, 21, 40])
def test_every_step_count_has_a_schedule(steps):
    # OneCycleLR divided by zero at 20 steps (its 5 % warm-up ended at step 0)
    from asteroid_wsas.encoders.tiny import _one_cycle

    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = _one_cycle(opt, 1e-3, steps)
    rates = []
    for _ in range(steps):
        opt.step()
        rates.append(opt.param_groups[0]["lr"])
        sched.step()
    assert all(0 < r <= 1e-3 + 1e-12 for r in rates)
    if steps >= 3:  # warm up to the peak, then decay
        assert max(rates) > rates[0] and rates[-1] < max(rates)
