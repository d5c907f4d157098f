"""SoundClassifier: learning tone classes, its input, labels, files and class vocabularies."""

import pytest
import torch

from asteroid_wsas.data import mixture_of_mixtures
from asteroid_wsas.models.classifier import (
    SoundClassifier,
    dataset_classes,
    load_classifier,
    mixture_examples,
    multi_hot,
    save_classifier,
    train_classifier,
)
from asteroid_wsas.text import source_prompt
from tests.helpers import ToneMixtures

SMALL = {"n_mels": 32, "channels": [8, 16]}
THREE = ("low", "mid", "high")


def small_classifier(classes=("a", "b"), seed=0):
    torch.manual_seed(seed)
    return SoundClassifier(8000, list(classes), **SMALL)


def test_learns_tone_classes_from_weak_labels_above_chance():
    # trained on mixtures of 1-2 tones with multi-hot labels only, tested on held-out clips
    train = ToneMixtures(256, THREE, min_sources=1, max_sources=2, seed=0)
    log = []
    clf = train_classifier(
        train, steps=40, batch_size=16, lr=3e-3, classifier_kwargs=SMALL, log=log
    )
    assert clf.classes == sorted(source_prompt(c) for c in THREE) and not clf.training
    assert sum(log[-5:]) < 0.5 * sum(log[:5])
    singles = ToneMixtures(30, THREE, seed=7)
    with torch.no_grad():
        logits = clf(torch.stack([singles[i]["mixture"] for i in range(30)]))
    truth = clf.class_index([singles[i]["phrases"][0] for i in range(30)])
    accuracy = (logits.argmax(-1) == truth).float().mean()
    assert accuracy > 0.8  # chance: 1/3
    pairs = ToneMixtures(30, THREE, min_sources=2, max_sources=2, seed=8)
    with torch.no_grad():
        probs = torch.sigmoid(clf(torch.stack([pairs[i]["mixture"] for i in range(30)])))
    labels = multi_hot([pairs[i]["phrases"] for i in range(30)], clf).bool()
    # multi-label: present classes score above absent ones in most clips
    assert (probs[labels].view(30, 2).min(1).values > probs[~labels]).float().mean() > 0.7


def test_input_is_level_free_batch_free_and_differentiable(wav):
    clf = small_classifier()
    assert clf.config["n_fft"] == 256 and clf.config["hop_length"] == 80  # 32 ms / 10 ms
    x = wav.clone().requires_grad_(True)
    logits = clf(x)
    assert logits.shape == (2, 2)
    logits[:, 0].sum().backward()
    assert x.grad.abs().sum() > 0  # gradients reach the waveform
    with torch.no_grad():
        assert torch.allclose(clf(0.05 * wav), logits, atol=1e-4)  # gain-free input
        assert torch.allclose(clf(wav[:1]), logits[:1], atol=1e-5)  # no batch statistics
        assert torch.equal(clf.eval()(wav), clf.train()(wav))  # no train / eval difference
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        clf(wav[0])


def test_class_index_and_unknown_phrases():
    clf = small_classifier(["The sound of dog", "The sound of rain"])
    assert clf.class_index(["The sound of rain", "The sound of dog"]).tolist() == [1, 0]
    with pytest.raises(KeyError, match="'The sound of cat' is not a class"):
        clf.class_index(["The sound of dog", "The sound of cat"])
    with pytest.raises(TypeError, match="not a single string"):
        clf.class_index("The sound of dog")
    with pytest.raises(ValueError, match="distinct"):
        SoundClassifier(8000, ["a", "a"])
    with pytest.raises(ValueError, match="non-empty"):
        SoundClassifier(8000, [])
    assert multi_hot([["The sound of rain"], []], clf).tolist() == [[0.0, 1.0], [0.0, 0.0]]


def test_files_load_weights_only_and_give_the_same_classifier(tmp_path, wav):
    clf = small_classifier(["x", "y", "z"])
    path = save_classifier(clf, tmp_path / "clf" / "classifier.pth")
    package = torch.load(path, weights_only=True)
    assert package["model_name"] == "SoundClassifier"
    assert package["model_args"]["classes"] == ["x", "y", "z"]
    again = load_classifier(path)
    with torch.no_grad():
        assert torch.equal(again(wav), clf(wav))
    with pytest.raises(FileExistsError):
        save_classifier(clf, path)
    save_classifier(clf, path, force=True)
    torch.save({"model_name": "TextCondUNet"}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="expected a SoundClassifier file"):
        load_classifier(tmp_path / "other.pth")


def test_mixture_examples_of_both_batch_kinds():
    items = [ToneMixtures(4, THREE, 2, 2, seed=1)[i] for i in range(4)]
    batch = mixture_of_mixtures(items, distinct=False)  # B = 2, N = 2 (3 tones: they share)
    wavs, groups = mixture_examples(batch)
    assert wavs.shape == (4, 4000) and groups == [list(it["phrases"]) for it in items]
    batch["phrase_weights"][0, 1, 0] = 0  # a phrase of weight 0 is no label
    assert mixture_examples(batch)[1][1] == items[1]["phrases"][1:]
    flat = {"mixture": torch.zeros(2, 10), "phrases": [["a"], ["b", "a"]]}
    assert mixture_examples(flat)[1] == [["a"], ["b", "a"]]
    with pytest.raises(KeyError, match="needs 'mixtures'"):
        mixture_examples({"mix": torch.zeros(1, 10)})


def test_train_classifier_from_a_loader_of_batches():
    data = ToneMixtures(8, seed=2)
    batches = [
        mixture_of_mixtures([data[i] for i in range(j, j + 4)], distinct=False) for j in (0, 4)
    ]
    classes = dataset_classes(data)
    clf = train_classifier(batches, classes, 8000, steps=3, classifier_kwargs=SMALL)
    assert clf.classes == classes
    with pytest.raises(ValueError, match="classes is needed"):
        train_classifier(batches, steps=1)
    with pytest.raises(ValueError, match="no batch"):
        train_classifier([], classes, 8000, steps=1)


def test_dataset_classes_of_the_recipe_datasets(tmp_path):
    from asteroid_wsas.data import SingleSources, WithFixedPhrases
    from asteroid_wsas.data.registry import get_dataset
    from asteroid_wsas.data.synthetic import write_audiocaps_layout, write_music_layout

    write_music_layout(str(tmp_path / "m"), 3, ["beep", "hum", "bell"], 0.5, 8000)
    music = get_dataset(
        {"dataset": "music", "root": str(tmp_path / "m"), "sample_rate": 8000, "segment": 0.25}
    ).mixtures()
    expected = sorted(source_prompt(label) for label in ("beep", "hum", "bell"))
    assert dataset_classes(music) == expected
    assert dataset_classes(SingleSources(music)) == expected  # wrappers: the inner dataset's

    write_audiocaps_layout(str(tmp_path / "a"), {"train": 6}, seconds=0.5, sample_rate=8000)
    caps = get_dataset(
        {"dataset": "audiocaps", "root": str(tmp_path / "a"), "sample_rate": 8000, "segment": 0.25}
    ).mixtures()
    classes = dataset_classes(caps)
    seen = {p for i in range(len(caps)) for p in caps[i]["phrases"]}
    assert classes == sorted(classes) and seen <= set(classes)
    assert set(classes) == {p for clip in caps.clips for p in clip.phrases}

    tones = WithFixedPhrases(ToneMixtures(6, THREE, 1, 2), n_phrases=2)  # a pass over items
    assert set(dataset_classes(ToneMixtures(6, THREE, 1, 2))) <= set(map(source_prompt, THREE))
    assert dataset_classes(tones) == dataset_classes(tones.dataset)
