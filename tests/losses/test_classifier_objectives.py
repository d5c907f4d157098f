"""Classifier-teacher objectives (weak_classifier, weak_sup): terms, gradients, modes, toys."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from asteroid_wsas.data import mixture_of_mixtures
from asteroid_wsas.encoders import BimodalEncoder
from asteroid_wsas.losses import (
    OBJECTIVES,
    WeakClassifierObjective,
    WeakSupObjective,
    make_objective,
    text_ids,
)
from asteroid_wsas.models.classifier import (
    classification_bce,
    dataset_classes,
    save_classifier,
    train_classifier,
)
from tests.helpers import EMBED_DIM, TOKEN_DIM, ToneMixtures, tiny_unet

SR = 8000
SMALL = {"n_mels": 32, "channels": [8, 16]}
LOW, MID, HIGH = "The sound of low", "The sound of mid", "The sound of high"
CLASSES = sorted([LOW, MID, HIGH])


class PhraseTableEncoder(BimodalEncoder):
    """Text only: a fixed random embedding and two token states per text (seeded by the
    text), so that different phrases are clearly different queries."""

    sample_rate, embed_dim, token_dim, has_audio = SR, EMBED_DIM, TOKEN_DIM, False

    @property
    def logit_scale(self) -> float:
        return 10.0

    def _encode_text(self, phrases):
        rows = []
        for key in text_ids(phrases).tolist():
            gen = torch.Generator().manual_seed(key)
            rows.append(torch.randn(EMBED_DIM + 2 * TOKEN_DIM, generator=gen))
        rows = torch.stack(rows)
        tokens = rows[:, EMBED_DIM:].unflatten(1, (2, TOKEN_DIM))
        mask = torch.ones(len(phrases), 2, dtype=torch.bool)
        return F.normalize(rows[:, :EMBED_DIM], dim=-1), tokens, mask


class RatioMaskSeparator(nn.Module):
    """Answers each query with a stored mask of its item (found through the embedding)."""

    wants_tokens = False
    learned_queries = None
    sample_rate = SR

    def __init__(self, masks, encoder):
        super().__init__()
        self.unet = tiny_unet()
        self.masks = masks  # phrase -> (B, F, frames)
        self.phrases = list(masks)
        self.table = encoder.encode_text(self.phrases)[0]

    def stft(self, wav):
        return self.unet.stft(wav)

    def istft(self, spec, length):
        return self.unet.istft(spec, length)

    def forward_masks(self, mix, embed, tokens=None, mask=None):
        idx = (embed @ self.table.T).argmax(-1)  # (B, K)
        masks = [
            torch.stack([self.masks[self.phrases[int(i)]][b] for i in row])
            for b, row in enumerate(idx)
        ]
        return torch.stack(masks), self.stft(mix)


def tone_pairs(n_pairs, seed=0, seconds=0.5):
    """Mixtures of mixtures of a low-tone mixture and a high-tone one (order alternating)."""
    lows = ToneMixtures(n_pairs, ("low",), seconds=seconds, seed=seed)
    highs = ToneMixtures(n_pairs, ("high",), seconds=seconds, seed=seed + 1)
    pairs = [(lows[i], highs[i]) if i % 2 else (highs[i], lows[i]) for i in range(n_pairs)]
    return [item for pair in pairs for item in pair]


def oracle_masks(items, swap=False):
    """Ratio masks of each item's low and high tone in its mixture of mixtures."""
    unet = tiny_unet()
    batch = mixture_of_mixtures(items)
    mags = {}
    for mixtures, groups in zip(batch["mixtures"], batch["phrases"]):
        for wav, group in zip(mixtures, groups):
            mags.setdefault(group[0], []).append(unet.stft(wav).abs())
    low, high = torch.stack(mags[LOW]), torch.stack(mags[HIGH])
    total = (low + high).clamp_min(1e-8)
    masks = {LOW: low / total, HIGH: high / total, MID: torch.zeros_like(low)}
    if swap:
        masks[LOW], masks[HIGH] = masks[HIGH], masks[LOW]
    return batch, masks


@pytest.fixture(scope="module")
def tone_classifier():
    """A classifier trained on tone mixtures' weak labels (1-2 of three classes)."""
    data = ToneMixtures(256, ("low", "mid", "high"), min_sources=1, max_sources=2, seed=3)
    return train_classifier(data, CLASSES, steps=50, lr=3e-3, classifier_kwargs=SMALL)


def make(name, mode="concurrent", **kwargs):
    if mode == "concurrent":
        kwargs.setdefault("classifier_kwargs", SMALL)
    return make_objective(name, classes=CLASSES, sample_rate=SR, mode=mode, **kwargs)


def tone_batch(n_pairs=2, seed=0):
    return mixture_of_mixtures(tone_pairs(n_pairs, seed))


# ---------------------------------------------------------------------------- terms
def test_both_objectives_are_registered_and_need_the_classes():
    for name, cls in (("weak_classifier", WeakClassifierObjective), ("weak_sup", WeakSupObjective)):
        assert OBJECTIVES[name] is cls and cls.needs_classes
    assert not getattr(OBJECTIVES["weak"], "needs_classes", False)


@pytest.mark.parametrize("name", ["weak_classifier", "weak_sup"])
def test_terms_are_finite_with_their_keys_and_gradients_reach_the_separator(name):
    torch.manual_seed(0)
    model, encoder = tiny_unet(), PhraseTableEncoder().freeze()
    objective = make(name, teacher_weight=0.7)
    terms = objective(model, encoder, tone_batch())
    keys = {"weak_classifier": {"cls", "crl", "url"}, "weak_sup": {"cls", "mix"}}[name]
    assert set(terms) == {"loss", "teacher"} | keys
    assert all(torch.isfinite(v) and v.ndim == 0 for v in terms.values())
    weights = {"cls": objective.cls_weight, "teacher": 0.7}
    weights.update(
        {"crl": 5.0, "url": 5.0} if name == "weak_classifier" else {"mix": objective.mix_weight}
    )
    total = sum(weights[k] * terms[k] for k in weights)
    assert terms["loss"].item() == pytest.approx(total.item(), rel=1e-6)
    terms["loss"].backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


@pytest.mark.parametrize("name", ["weak_classifier", "weak_sup"])
def test_concurrent_classifier_learns_from_the_mixtures_not_from_the_separation(name):
    from asteroid_wsas.engine import WeakSupSystem

    torch.manual_seed(0)
    model, encoder = tiny_unet(), PhraseTableEncoder().freeze()
    objective = make(name, teacher_weight=2.0)
    clf = list(objective.teacher.classifier.parameters())
    sep = list(model.parameters())
    assert clf and all(p.requires_grad for p in clf)
    terms = objective(model, encoder, tone_batch())

    # the separation term: gradients to the separator, none to the classifier
    assert all(
        g is None
        for g in torch.autograd.grad(terms["cls"], clf, allow_unused=True, retain_graph=True)
    )
    from_cls = torch.autograd.grad(terms["cls"], sep, retain_graph=True, allow_unused=True)
    assert sum(g.abs().sum() for g in from_cls if g is not None) > 0
    # the classifier's BCE on the labelled mixtures: the classifier only
    teacher_sep = torch.autograd.grad(terms["teacher"], sep, retain_graph=True, allow_unused=True)
    assert all(g is None for g in teacher_sep)
    teacher_clf = torch.autograd.grad(terms["teacher"], clf, retain_graph=True)
    assert all(g.abs().sum() > 0 for g in teacher_clf)
    # so the total's classifier gradient is exactly teacher_weight x the BCE's
    terms["loss"].backward()
    for p, g in zip(clf, teacher_clf):
        assert torch.allclose(p.grad, 2.0 * g, rtol=1e-6, atol=0)

    # the system's optimizer holds the classifier (an objective parameter)
    system = WeakSupSystem(model, encoder, objective)
    system.configure_optimizers()
    held = {id(p) for group in system.optimizer.param_groups for p in group["params"]}
    assert all(id(p) in held for p in clf)


@pytest.mark.parametrize("name", ["weak_classifier", "weak_sup"])
def test_pretrained_mode_loads_a_saved_file_and_keeps_the_classifier_frozen(
    name, tmp_path, tone_classifier
):
    path = save_classifier(tone_classifier, tmp_path / "classifier.pth")
    saved = {k: v.clone() for k, v in tone_classifier.state_dict().items()}
    torch.manual_seed(0)
    model, encoder = tiny_unet(), PhraseTableEncoder().freeze()
    objective = make(name, mode="pretrained", classifier=str(path))
    clf = objective.teacher.classifier
    assert all(not p.requires_grad for p in clf.parameters())
    assert all(torch.equal(v, saved[k]) for k, v in clf.state_dict().items())

    terms = objective(model, encoder, tone_batch())
    assert "teacher" not in terms
    params = list(model.parameters()) + list(objective.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-2)
    before = [p.detach().clone() for p in model.parameters()]
    terms["loss"].backward()
    optimizer.step()
    objective.train()  # a parent's train() changes nothing either
    assert all(p.grad is None for p in clf.parameters())
    assert all(torch.equal(v, saved[k]) for k, v in clf.state_dict().items())
    assert any(not torch.equal(p, b) for p, b in zip(model.parameters(), before))


def test_mode_and_classifier_errors(tmp_path, tone_classifier):
    path = save_classifier(tone_classifier, tmp_path / "classifier.pth")
    with pytest.raises(ValueError, match="mode must be one of"):
        make("weak_sup", mode="joint")
    with pytest.raises(ValueError, match="needs classes and sample_rate"):
        make_objective("weak_classifier")
    with pytest.raises(ValueError, match="needs classifier"):
        make("weak_sup", mode="pretrained")
    with pytest.raises(ValueError, match="give no classifier"):
        make("weak_sup", classifier=path)
    with pytest.raises(ValueError, match="lacks 1 class"):
        make_objective(
            "weak_sup", classes=CLASSES + ["The sound of cat"], mode="pretrained", classifier=path
        )
    with pytest.raises(ValueError, match="runs at 8000 Hz, the data at 16000 Hz"):
        make_objective(
            "weak_sup", classes=CLASSES, sample_rate=16000, mode="pretrained", classifier=path
        )
    objective = make("weak_sup")
    with pytest.raises(ValueError, match="the separator runs at 16000 Hz"):
        objective(tiny_unet(sample_rate=16000), PhraseTableEncoder().freeze(), tone_batch())


@pytest.mark.parametrize("name", ["weak_classifier", "weak_sup"])
def test_an_unknown_phrase_is_named(name):
    batch = tone_batch()
    batch["phrases"][1][0] = ["The sound of cat"]
    batch["captions"][1][0] = "The sound of cat"
    with pytest.raises(KeyError, match="'The sound of cat' is not a class"):
        make(name)(tiny_unet(), PhraseTableEncoder().freeze(), batch)


# ---------------------------------------------------------------------------- weak_classifier
def test_weak_classifier_rewards_the_right_estimates(tone_classifier):
    encoder = PhraseTableEncoder().freeze()
    objective = make("weak_classifier", mode="pretrained", classifier=tone_classifier)
    batch, masks = oracle_masks(tone_pairs(2))
    right = objective(RatioMaskSeparator(masks, encoder), encoder, batch)
    # ratio masks: near-exact reconstructions (|low + high| is not |low| + |high|)
    assert right["url"] < 1e-3 and right["crl"] < 1e-3 and right["cls"] < 0.01
    batch, swapped = oracle_masks(tone_pairs(2), swap=True)
    wrong = objective(RatioMaskSeparator(swapped, encoder), encoder, batch)
    assert wrong["cls"] > 100 * right["cls"] and wrong["url"] > 100 * right["url"]


def test_weak_classifier_classifies_a_repeated_phrase_once_with_the_same_loss(tone_classifier):
    encoder = PhraseTableEncoder().freeze()
    objective = make("weak_classifier", mode="pretrained", classifier=tone_classifier)
    items = [dict(it) for it in tone_pairs(2)]
    for it in items:  # P = 2: each mixture's one phrase twice, weights 1/2
        it["phrases"], it["phrase_weights"] = it["phrases"] * 2, torch.full((2,), 0.5)
    batch, masks = oracle_masks(items)
    model = RatioMaskSeparator(masks, encoder)
    rows = []
    judge = objective.teacher.judge
    objective.teacher.judge = lambda wav: rows.append(wav.shape[0]) or judge(wav)
    terms = objective(model, encoder, batch)
    assert rows == [4]  # 8 phrase rows, 4 distinct (item, phrase) pairs

    # the same value as classifying every row: per-mixture means summed over N = 2
    texts = WeakClassifierObjective.query_texts(batch)
    embed = encoder.encode_text([t for item in texts for t in item])[0].unflatten(0, (2, -1))
    m, spec = model.forward_masks(batch["mix"], embed)
    wavs = model.istft(m[:, 2:] * spec.unsqueeze(1), batch["mix"].shape[-1]).flatten(0, 1)
    target = tone_classifier.class_index([p for item in texts for p in item[2:]])
    expected = 2 * F.cross_entropy(tone_classifier(wavs), target)
    assert terms["cls"].item() == pytest.approx(expected.item(), rel=1e-5)


# ---------------------------------------------------------------------------- weak_sup
def test_weak_sup_queries_each_present_phrase_once():
    batch = {
        "mix": torch.zeros(1, 10),
        "phrases": [[[LOW, LOW], [LOW, HIGH]]],
        "phrase_weights": torch.tensor([[[0.5, 0.5], [1.0, 1.0]]]),
    }
    texts, counted = WeakSupObjective.query_texts(batch)
    assert texts == [[LOW, LOW, LOW, HIGH]] and counted.tolist() == [[True, False, False, True]]
    batch["phrase_weights"][0, 1, 1] = 0.0  # weight 0: not present
    assert WeakSupObjective.query_texts(batch)[1].tolist() == [[True, False, False, False]]


def test_weak_sup_needs_no_caption_and_rewards_the_right_outputs(tone_classifier):
    encoder = PhraseTableEncoder().freeze()
    objective = make("weak_sup", mode="pretrained", classifier=tone_classifier)
    batch, masks = oracle_masks(tone_pairs(2))
    del batch["captions"]
    right = objective(RatioMaskSeparator(masks, encoder), encoder, batch)
    assert right["mix"] < 1e-5  # ratio masks add up to the mixture of mixtures
    batch, swapped = oracle_masks(tone_pairs(2), swap=True)
    wrong = objective(RatioMaskSeparator(swapped, encoder), encoder, batch)
    assert wrong["mix"] < 1e-5 and wrong["cls"] > 10 * right["cls"]
    # one output that keeps everything: consistent, but classified as both classes
    everything = {LOW: torch.ones_like(masks[LOW]), HIGH: torch.zeros_like(masks[LOW])}
    lazy = objective(RatioMaskSeparator({**masks, **everything}, encoder), encoder, batch)
    assert lazy["mix"] < 1e-5 and lazy["cls"] > 5 * right["cls"]
    # the term: the one-hot BCE of the outputs under the classifier
    model = RatioMaskSeparator(masks, encoder)
    texts, counted = WeakSupObjective.query_texts(batch)
    assert bool(counted.all())  # P = 1, two distinct phrases per item
    embed = encoder.encode_text([t for item in texts for t in item])[0].unflatten(0, (2, -1))
    m, spec = model.forward_masks(batch["mix"], embed)
    outputs = model.istft(m * spec.unsqueeze(1), batch["mix"].shape[-1]).flatten(0, 1)
    target = F.one_hot(tone_classifier.class_index([t for item in texts for t in item]), 3)
    expected = classification_bce(tone_classifier(outputs), target)
    assert right["cls"].item() == pytest.approx(expected.item(), rel=1e-5)


# ---------------------------------------------------------------------------- toy training
def _train_and_score(objective, steps, lr=3e-3, seed=0):
    """Train a tiny TextCondUNet on low / high tone pairs; losses and the test SI-SDRi.

    FiLM conditioning: the tiny attention-conditioned U-Net takes a hundred steps or more
    to answer two queries differently at all, whatever the objective."""
    from asteroid_wsas.metrics import separation_metrics
    from asteroid_wsas.separator import separate_batch

    torch.manual_seed(seed)
    model, encoder = tiny_unet(conditioning="film"), PhraseTableEncoder().freeze()
    items = tone_pairs(16, seed=10, seconds=0.25)
    params = list(model.parameters()) + list(objective.parameters())
    optimizer = torch.optim.Adam([p for p in params if p.requires_grad], lr=lr)
    losses = []
    for step in range(steps):
        start = (step * 8) % len(items)
        terms = objective(model, encoder, mixture_of_mixtures(items[start : start + 8]))
        optimizer.zero_grad()
        terms["loss"].backward()
        optimizer.step()
        losses.append(float(terms["loss"].detach()))
    test = mixture_of_mixtures(tone_pairs(4, seed=50, seconds=0.25))  # unseen tones
    model.eval()
    with torch.no_grad():
        est = separate_batch(model, encoder, test["mix"], test["captions"])
    scores = separation_metrics(test["mix"], test["mixtures"], est)
    return losses, float(scores["si_sdri"].mean())


def test_weak_classifier_learns_a_toy_case_and_beats_the_mixture():
    # concurrent: the classifier learns the two classes while the separator learns to split
    torch.manual_seed(0)  # the classifier's initialisation
    losses, si_sdri = _train_and_score(make("weak_classifier", classifier_kwargs=SMALL), 100)
    assert sum(losses[-10:]) < 0.3 * sum(losses[:10])
    assert si_sdri > 10  # dB above the unprocessed mixture


def test_weak_sup_learns_a_toy_case_and_beats_the_mixture(tone_classifier):
    objective = make("weak_sup", mode="pretrained", classifier=tone_classifier)
    losses, si_sdri = _train_and_score(objective, 80)
    assert sum(losses[-10:]) < 0.3 * sum(losses[:10])
    assert si_sdri > 10


@pytest.mark.parametrize("name", ["weak_classifier", "weak_sup"])
def test_a_lightning_step_in_bf16_trains_the_separator_and_the_concurrent_classifier(name):
    import warnings

    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    from asteroid_wsas.data import collate_test_items
    from asteroid_wsas.engine import WeakSupSystem

    train = DataLoader(tone_pairs(4), batch_size=4, collate_fn=mixture_of_mixtures)
    tests = ToneMixtures(2, ("low", "high"), 2, 2, seed=9)
    val = DataLoader(
        [
            {"mixture": t["mixture"], "references": t["sources"], "queries": t["phrases"]}
            for t in (tests[0], tests[1])
        ],
        batch_size=2,
        collate_fn=collate_test_items,
    )
    torch.manual_seed(0)
    objective = make(name)
    system = WeakSupSystem(tiny_unet(), PhraseTableEncoder(), objective, train, val)
    before = [p.detach().clone() for p in objective.teacher.classifier.parameters()]
    model_before = [p.detach().clone() for p in system.model.parameters()]
    run = pl.Trainer(
        accelerator="cpu",
        precision="bf16-mixed",
        fast_dev_run=True,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        run.fit(system)
    metrics = run.callback_metrics
    assert {"loss", "loss_cls", "loss_teacher"} <= set(metrics)
    assert torch.isfinite(metrics["loss"]) and torch.isfinite(metrics["val_sdr"])
    after = list(objective.teacher.classifier.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(after, before))
    assert any(not torch.equal(a, b) for a, b in zip(system.model.parameters(), model_before))


# ---------------------------------------------------------------------------- build_system
@pytest.mark.parametrize("dataset", ["music", "audiocaps"])
def test_build_system_gives_the_training_phrases_as_classes(tmp_path, dataset):
    from asteroid_wsas.data.synthetic import write_audiocaps_layout, write_music_layout
    from asteroid_wsas.engine import training as T
    from asteroid_wsas.engine.config import load_conf, save_conf
    from tests.helpers import tiny_encoder

    root = tmp_path / "data"
    if dataset == "music":
        write_music_layout(str(root), 4, ["beep", "hum", "bell"], 0.5, SR)
    else:
        write_audiocaps_layout(str(root), {"train": 6, "val": 2, "test": 2}, 0.5, SR)
    conf = {
        "data": {
            "dataset": dataset,
            "root": str(root),
            "sample_rate": SR,
            "segment": 0.25,
            "test_fraction": 0.25,
            "val_fraction": 0.0,
        },
        "encoder": {"name": "tiny"},
        "objective": {"name": "weak_classifier", "weak_classifier": {"classifier_kwargs": SMALL}},
        "training": {"batch_size": 4},
    }
    save_conf(conf, tmp_path / "conf.yml")
    conf = load_conf(tmp_path / "conf.yml")
    (tmp_path / "encoder").mkdir()
    torch.save(tiny_encoder(["the sound of"]).serialize(), tmp_path / "encoder" / "tiny.pth")
    system = T.build_system(conf, tmp_path, None)
    classifier = system.loss_func.teacher.classifier
    train = T.train_datasets(conf)["weak"]
    assert classifier.classes == dataset_classes(train) and classifier.sample_rate == SR
    phrases = {p for i in range(len(train)) for p in train[i]["phrases"]}
    assert phrases <= set(classifier.classes)  # every training phrase is a class
    if dataset == "music":
        assert classifier.classes == ["The sound of beep", "The sound of bell", "The sound of hum"]
