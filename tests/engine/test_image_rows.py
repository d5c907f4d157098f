"""Image-queried rows through the ordinary config path: generated solos with drawn video
frames, a random-initialised CLIP, training on frame queries, scoring with frame queries."""

import pytest
import torch
import yaml

from asteroid_wsas.data import TestSetDataset
from asteroid_wsas.data.synthetic import write_audiocaps_layout, write_music_layout
from asteroid_wsas.data.frames import FrameStore
from asteroid_wsas.encoders.loading import load_encoder
from asteroid_wsas.encoders.clip_training import small_clip_pairs, train_small_clip
from asteroid_wsas.engine import config as C
from asteroid_wsas.engine import training as T
from asteroid_wsas.engine.evaluation import build_manifest, evaluate, frames_beside

CLASSES = ["beep", "hum", "siren", "bell"]  # 4: a mixture of 2 mixtures of 2 needs 4 classes


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("music_video")
    write_music_layout(str(root), 8, CLASSES, 1.0, 8000, frames=True, fps=4.0, frame_size=32)
    return root


@pytest.fixture(scope="module")
def clip_dir(root, tmp_path_factory):
    """A tiny CLIP trained on the training videos' frames and class prompts (a random one
    does not tell the drawn classes apart: all its image embeddings are about as close)."""
    data = _conf(root, "unused")["data"]
    train, val, store = small_clip_pairs(data)
    assert val and not {e.video_id for e in train} & {e.video_id for e in val}
    folder = tmp_path_factory.mktemp("clip")
    report = train_small_clip(train, store, folder, val, steps=160, progress=False)
    assert report["loss_last"] < report["loss_first"]
    assert report["retrieval"] > 2 * report["chance"]  # held-out videos' frames -> class
    return str(folder)


def _conf(root, clip_dir, steps=2, batch_size=4):
    conf = {
        "data": {
            "dataset": "music",
            "root": str(root),
            "sample_rate": 8000,
            "segment": 0.5,
            "test_fraction": 0.25,
            "val_fraction": 0.0,
            "num_workers": 0,
            "frames": {"size": 32},
        },
        "encoder": {"name": "tiny", "clip_image": clip_dir},
        "model": {
            "n_fft": 126,
            "hop_length": 32,
            "channels": [8, 16, 16],
            "attention_levels": [2],
            "n_heads": 2,
            "out_channels": 8,
        },
        "objective": {"name": "weak", "cosep": {"classifier_kwargs": {"channels": [8]}}},
        "training": {
            "batch_size": batch_size,
            "max_steps": steps,
            "max_epochs": 1000,
            "precision": "32-true",
            "accelerator": "cpu",
            "devices": 1,
            "log_every_n_steps": 1,
            "gradient_clip_val": 5.0,
            "seed": 0,
        },
        "optim": {"optimizer": "adam", "lr": 1e-3},
    }
    return conf


def _load(tmp_path, conf, method):
    path = tmp_path / "conf.yml"
    path.write_text(yaml.safe_dump(conf))
    return C.load_conf(path, method=method)


def test_items_carry_each_sources_frames_at_its_span(root, clip_dir, tmp_path):
    conf = _load(tmp_path, _conf(root, clip_dir), "clipsep_img_star:mixtures")
    assert conf["queries"] == "image" and conf["encoder"]["name"] == f"clip_image:{clip_dir}"
    (weak,) = T.train_datasets(conf).values()
    item = weak[0]
    assert item["frames"].shape == (2, 1, 3, 32, 32) and item["frames"].dtype == torch.uint8
    # the frames are those of each source's video at the centre of its crop
    store = FrameStore(root, size=32)
    first = weak.entries[0]
    rng = weak.rng(0)
    weak.partners(0, rng)  # the item draws its partners, then its crops
    _, start = weak.read(first.info, rng, with_start=True)
    assert 0 < start < 0.5  # a random crop of the 1-s clip
    assert torch.equal(item["frames"][0], store.read(first.label, first.video_id, start, 0.5))


def test_a_config_without_videos_is_refused(tmp_path, clip_dir):

    write_audiocaps_layout(str(tmp_path / "ac"), {"train": 4, "val": 2, "test": 2}, 1.0, 8000)
    conf = _conf(tmp_path / "ac", clip_dir)
    conf["data"].update(dataset="audiocaps")
    conf = _load(tmp_path, conf, "clipsep_img:mixtures")
    with pytest.raises(ValueError, match="data.frames: 'audiocaps' has no videos"):
        T.train_datasets(conf)
    with pytest.raises(ValueError, match="queries: image needs data.frames"):
        T.query_frames(conf)


@pytest.mark.parametrize(
    "method, objective",
    [
        ("clipsep_img:mixtures", "mix_and_separate"),
        ("cosep_star:clean", "cosep_clean"),
        ("sop_star:mixtures", "mix_and_separate"),
    ],
)
def test_image_rows_build_with_image_queries(root, clip_dir, tmp_path, method, objective):
    conf = _load(tmp_path, _conf(root, clip_dir), method)
    system = T.build_system(conf, tmp_path, None)
    assert system.loss_func.name == objective and system.loss_func.query == "image"
    assert system.encoder.has_image
    expected = "patch_max" if method.startswith("sop") else "cls"
    assert system.encoder.pooling == expected
    batch = next(iter(system.train_dataloader()))
    terms = system.loss_func(system.model, system.encoder, batch)
    assert torch.isfinite(terms["loss"])


# Each row must learn (CLIPSep-Img*: the next test): SDRi > 1 dB with frame queries on the
# 2-source test set after 400 steps of 8 mixtures on 4 generated classes. Short runs on so
# little data are chaotic: with batches of 4 over 500 steps, seeds 0-2 of SOP* gave 0.6 to
# 3.5 dB (one thread) and a change of float summation order alone moved one run by 1.4 dB.
# Batches of 8 over 400 steps, one thread, seeds 0 and 1 (seed 2 too for SOP*): SOP* 2.5,
# 1.4 (3.9), CLIPSep-Img 2.6, 7.6, CoSep* 13.5, 9.9, CoSep* clean 27.1, 25.7, CLIPSep-Img*
# 3.3, 14.0 dB.
LEARNED = (
    "clipsep_img:mixtures",
    "cosep_star:mixtures",
    "cosep_star:clean",
    "sop_star:mixtures",
)
STEPS = 400
BATCH = 8


@pytest.mark.parametrize("method", LEARNED)
def test_image_rows_learn_through_the_config_path(root, clip_dir, tmp_path, method):
    conf = _load(tmp_path, _conf(root, clip_dir, steps=STEPS, batch_size=BATCH), method)
    manifest = build_manifest(conf["data"], tmp_path / "test.json", "test", passes=4)
    best = T.train(conf, tmp_path / "exp", progress=False)
    encoder = load_encoder(conf["encoder"]["name"])
    scores = evaluate(best, encoder, manifest, tmp_path / "eval", progress=False)
    sdri = scores["metrics"]["sdri"]["mean"]
    assert sdri > 1.0, f"{method}: SDRi {sdri:.2f} dB with frame queries"


def test_clipsep_img_star_is_scored_with_frame_or_text_queries(root, clip_dir, tmp_path):
    conf = _load(
        tmp_path, _conf(root, clip_dir, steps=STEPS, batch_size=BATCH), "clipsep_img_star:mixtures"
    )
    manifest = build_manifest(conf["data"], tmp_path / "test.json", "test", passes=4)
    best = T.train(conf, tmp_path / "exp", progress=False)
    beside = frames_beside(best)
    assert isinstance(beside["frames"], FrameStore) and beside["n_frames"] == 1
    encoder = load_encoder(conf["encoder"]["name"])
    scores = evaluate(best, encoder, manifest, tmp_path / "eval", progress=False)
    # the queries were frames: the text names stay in the CSV
    rows = (tmp_path / "eval" / "all_metrics.csv").read_text()
    assert "The sound of" in rows
    sdri = scores["metrics"]["sdri"]["mean"]
    assert sdri > 1.0, f"SDRi {sdri:.2f} dB with frame queries"
    data = TestSetDataset(manifest, frames=beside["frames"])
    assert data[0]["queries"][0].shape == (1, 3, 32, 32)
    # CLIPSep's transfer: trained on frames, asked with the class phrases
    text = evaluate(best, encoder, manifest, tmp_path / "text", progress=False, queries="text")
    assert text["metrics"]["sdri"]["mean"] > 1.0


def test_cli_trains_a_small_clip_from_a_recipe_config(root, tmp_path, capsys):
    from asteroid_wsas.cli import main

    conf = _conf(root, "unused")
    del conf["data"]["frames"]  # train-clip reads frames without the block, at its size
    path = tmp_path / "conf.yml"
    path.write_text(yaml.safe_dump(conf))
    out = tmp_path / "clip"
    main(["train-clip", "--conf", str(path), "-o", str(out), "--steps", "20", "--image-size", "16"])
    printed = capsys.readouterr().out
    assert "held-out frame -> class R@1" in printed and f"clip_image:{out}" in printed
    encoder = load_encoder(f"clip_image:{out}")
    assert encoder.image_size == 16 and encoder.has_image
    with pytest.raises(SystemExit, match="holds a model; pass --force"):
        main(["train-clip", "--conf", str(path), "-o", str(out), "--steps", "1"])
