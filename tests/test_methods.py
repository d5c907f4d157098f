"""Methods (the paper's table rows): config changes, and every row learning a toy case."""

import math

import pytest
import torch
import torch.nn.functional as F

from asteroid_wsas.data import clean_mixtures, mixture_of_mixtures
from asteroid_wsas.encoders import BimodalEncoder
from asteroid_wsas.losses.objectives import OBJECTIVES, make_objective
from asteroid_wsas.methods import (
    METHODS,
    Method,
    apply_method,
    get_method,
    method_names,
    register_method,
)
from asteroid_wsas.metrics import separation_metrics
from asteroid_wsas.separator import separate_batch
from tests.helpers import tiny_unet

SR, LENGTH = 8000, 2000
FREQS = {"low hum": 250.0, "mid tone": 700.0, "high tone": 1500.0, "whistle": 3000.0}
CLASSES = list(FREQS)


def test_apply_method_sets_objective_model_and_encoder_per_column():
    conf = {"objective": {"name": "weak"}, "model": {"channels": [8, 16]}, "encoder": {}}
    clean = apply_method(conf, "lassnet:clean")
    assert clean["method"] == "lassnet:clean" and clean["objective"]["name"] == "supervised"
    assert clean["model"] == {"channels": [8, 16], "conditioning": "film", "n_res_layers": 2}
    assert clean["encoder"]["name"] == "bert:bert-base-uncased"
    mixed = apply_method(conf, "lassnet:mixtures")
    assert mixed["objective"]["name"] == "mix_and_separate"
    assert conf == {"objective": {"name": "weak"}, "model": {"channels": [8, 16]}, "encoder": {}}
    # the recipe's own text encoder of a kind wins over the hub default
    conf["encoder"]["clip"] = "/models/clip"
    assert apply_method(conf, "clipsep_text")["encoder"]["name"] == "clip:/models/clip"
    assert apply_method(conf, "weak")["encoder"] == {"clip": "/models/clip"}


def test_method_errors_name_the_problem():
    with pytest.raises(ValueError, match="method must be one of"):
        get_method("nope")
    with pytest.raises(ValueError, match="no 'clean' column"):
        apply_method({}, "weak:clean")
    with pytest.raises(ValueError, match="columns must be"):
        register_method(Method("x", "X", {"single": "weak"}))
    with pytest.raises(ValueError, match="encoder must be"):
        register_method(Method("x", "X", {"clean": "supervised"}, encoder="gpt"))
    with pytest.raises(TypeError):
        register_method("weak")


def test_every_method_names_registered_objectives_and_model_arguments():
    from asteroid_wsas import TextCondUNet

    assert {"pit", "mixit", "mixpit", "clipsep_text", "bertsep_star", "lassnet", "weak"} <= set(
        method_names()
    )
    for method in METHODS.values():
        assert method.title and method.reference and method.group
        for objective in method.columns.values():
            assert objective in OBJECTIVES, (method.name, objective)
        tiny_unet(**method.model)  # its model keys are TextCondUNet arguments
    assert isinstance(tiny_unet(**get_method("clipsep_text").model), TextCondUNet)


def test_load_conf_applies_a_method_and_overrides_win(tmp_path):
    import yaml

    from asteroid_wsas.engine.config import load_conf

    path = tmp_path / "conf.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "data": {"dataset": "music", "root": str(tmp_path)},
                "objective": {"name": "weak"},
                "model": {"channels": [8, 16]},
            }
        )
    )
    conf = load_conf(path, {"model": {"out_channels": 8}}, method="clipsep_text:mixtures")
    assert conf["objective"]["name"] == "mix_and_separate"
    assert conf["model"]["conditioning"] == "late" and conf["model"]["out_channels"] == 8
    path.write_text(path.read_text() + "method: pit\n")
    assert load_conf(path)["objective"]["name"] == "pit"


def test_cli_refuses_method_and_objective_together(tmp_path):
    from asteroid_wsas.cli import main

    with pytest.raises(SystemExit, match="not both"):
        main(
            ["train", "c.yml", "--exp-dir", str(tmp_path), "--method", "pit", "--objective", "weak"]
        )


# ------------------------------------------------------------------------- toy learning
class ToneEncoder(BimodalEncoder):
    """A text tower that composes ("A and B" embeds as the normalised sum of A and B, as
    a real text encoder relates a caption to its phrases) and an ideal audio tower: the
    energy of each class's tone on that class's dimension (a teacher that knows the sounds).
    Its image tower sees where a frame is lit (one quadrant per class; see ``picture``),
    in the text's space, as CLIP relates pictures and phrases.
    """

    sample_rate = SR
    token_dim = embed_dim = len(CLASSES)
    has_image = True

    def encode_images(self, images):
        embed = torch.stack(
            [F.normalize(quadrants(img).flatten(1), dim=-1).mean(0) for img in images]
        )
        embed = F.normalize(embed, dim=-1)
        return embed, embed.unsqueeze(1), torch.ones(len(images), 1).bool()

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # a device for the base class

    @property
    def logit_scale(self) -> float:
        return 20.0

    def _encode_text(self, phrases):
        embed = torch.zeros(len(phrases), self.embed_dim)
        for i, phrase in enumerate(phrases):
            for part in phrase.split(" and "):
                embed[i, CLASSES.index(part)] = 1.0
        embed = F.normalize(embed, dim=-1)
        return embed, embed.unsqueeze(1), torch.ones(len(phrases), 1).bool()  # one token

    def embed_audio(self, wav, sample_rate):
        spec = torch.fft.rfft(wav, dim=-1).abs()
        bins = [round(f * wav.shape[-1] / sample_rate) for f in FREQS.values()]
        energy = torch.stack([spec[..., b - 2 : b + 3].sum(-1) for b in bins], -1)
        return F.normalize(energy + 1e-6, dim=-1)


def caption(labels):
    return " and ".join(labels)


def picture(label, gen, side=8):
    """A frame of a source: its class's quadrant lit, at a random level, over noise."""
    img = 0.3 * torch.rand(3, side, side, generator=gen)
    k, h = CLASSES.index(label), side // 2
    img[
        :, (k // 2) * h : (k // 2 + 1) * h, (k % 2) * h : (k % 2 + 1) * h
    ] += 0.5 + 0.2 * torch.rand(1, generator=gen)
    return (img.clamp(0, 1) * 255).byte()


def quadrants(img):
    """Mean level of each quadrant, (F, 4), of frames (F, 3, H, W) or one (3, H, W)."""
    img = img.float().reshape(-1, *img.shape[-3:]).mean(1)
    h = img.shape[-1] // 2
    return (
        torch.stack(
            [
                img[:, r * h : (r + 1) * h, c * h : (c + 1) * h].mean((-1, -2))
                for r in (0, 1)
                for c in (0, 1)
            ],
            -1,
        )
        - img.mean((-1, -2))[:, None]
    )


def tone_items(n_items, n_sources, gen, classes=CLASSES):
    """Items of n_sources distinct tone classes (of ``classes``); consecutive pairs share no
    class when possible (mixtures of mixtures of distinct sounds, as the datasets draw
    them)."""
    t = torch.arange(LENGTH) / SR
    items = []
    for i in range(n_items):
        pool = list(classes)
        if i % 2 and len(classes) >= 2 * n_sources:  # the partner of the item before
            pool = [c for c in classes if c not in items[-1]["labels"]]
        order = torch.randperm(len(pool), generator=gen).tolist()
        labels = [pool[k] for k in order[:n_sources]]
        sources = []
        for label in labels:
            am = 0.6 + 0.4 * torch.sin(2 * math.pi * (2 + 3 * torch.rand(1, generator=gen)) * t)
            phase = 2 * math.pi * torch.rand(1, generator=gen)
            sources.append(am * torch.sin(2 * math.pi * FREQS[label] * t + phase))
        sources = torch.stack(sources) * (0.5 + torch.rand(n_sources, 1, generator=gen))
        items.append(
            {
                "mixture": sources.sum(0),
                "sources": sources,
                "caption": caption(labels),
                "phrases": labels,
                "phrase_weights": torch.ones(n_sources),
                "labels": labels,
                "frames": torch.stack([picture(label, gen)[None] for label in labels]),
            }
        )
    return items


def toy_batch(objective, gen, n_items=8):
    def weak():
        return mixture_of_mixtures(tone_items(n_items, 2, gen))

    def clean():
        return clean_mixtures(tone_items(n_items // 2, 2, gen))

    kinds = objective.batches
    if len(kinds) == 1:
        return weak() if kinds[0] == "weak" else clean()
    return {k: weak() if k == "weak" else clean() for k in kinds}


def method_columns():
    """One ``name:column`` per distinct toy case: rows that differ only by their text
    encoder's kind (CLIPSep-Text*, BertSep*, CLAPSep*) train the same toy model with the
    same objective, so the first of them stands for the others (the toy encoder is one)."""
    seen, out = set(), []
    for m in METHODS.values():
        for c in m.columns:
            objective = m.objective(c)
            args = repr(m.objective_args.get(objective))
            key = (objective, repr(sorted(m.model.items())), args, m.query)
            if key not in seen:
                seen.add(key)
                out.append(f"{m.name}:{c}")
    return out


@pytest.mark.parametrize("name", method_columns())
def test_every_method_learns_a_toy_case_and_beats_the_mixture(name):
    method = get_method(name)
    column = name.split(":")[1]
    objective_name = method.objective(column)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    encoder = ToneEncoder().freeze()
    model = tiny_unet(
        text_embed_dim=encoder.embed_dim, text_token_dim=encoder.token_dim, **method.model
    )
    args = dict(method.objective_args.get(objective_name, {}))
    if method.query == "image":  # queried by the sources' frames (build_objective sets it so)
        args["query"] = "image"
    cls = OBJECTIVES[objective_name]
    if getattr(cls, "needs_classes", False):
        args.update(classes=CLASSES, sample_rate=SR)
        if args.get("mode") == "pretrained":  # a teacher trained first on labelled mixtures
            from asteroid_wsas.models.classifier import train_classifier

            teacher_gen = torch.Generator().manual_seed(5)
            batches = [mixture_of_mixtures(tone_items(8, 2, teacher_gen)) for _ in range(4)]
            args["classifier"] = train_classifier(batches, CLASSES, SR, 40)
    objective = make_objective(objective_name, model, **args)
    params = list(model.parameters()) + list(objective.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3)  # the recipes' rate
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = objective(model, encoder, toy_batch(objective, gen))["loss"]
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert sum(losses[-10:]) < sum(losses[:10]), f"{name}: loss did not fall"  # 10-step means

    test = tone_items(16, 2, torch.Generator().manual_seed(99))
    mix = torch.stack([it["mixture"] for it in test])
    refs = torch.stack([it["sources"] for it in test])
    queries = [it["phrases"] for it in test]
    if method.query == "image":
        queries = [list(it["frames"]) for it in test]
    model.eval()
    with torch.no_grad():
        est = separate_batch(
            model, encoder, mix, queries, references=refs, selection=objective.selection
        )
    sdri = float(separation_metrics(mix, refs, est)["sdri"].mean())
    assert sdri > 1.0, f"{name}: SDRi {sdri:.2f} dB"  # above the unprocessed mixture


def test_semi_learns_with_clean_sources_of_another_dataset():
    """Table 2's cross-dataset rows (data.clean_data): the clean part comes from a dataset
    that shares one class with the mixtures'; scored on the mixtures' own test mixtures."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    encoder = ToneEncoder().freeze()
    model = tiny_unet(text_embed_dim=encoder.embed_dim, text_token_dim=encoder.token_dim)
    objective = make_objective("semi", model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    mixed, other = CLASSES[:3], CLASSES[2:]  # "high tone" in both
    losses = []
    for _ in range(60):
        batch = {
            # 3 classes cannot make 2 mixtures of 2 distinct ones: this test is about where
            # the clean part comes from, so its mixtures of mixtures may share one
            "weak": mixture_of_mixtures(tone_items(8, 2, gen, mixed), distinct=False),
            "clean": clean_mixtures(tone_items(4, 2, gen, other)),
        }
        optimizer.zero_grad()
        loss = objective(model, encoder, batch)["loss"]
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert sum(losses[-10:]) < sum(losses[:10])
    test = tone_items(16, 2, torch.Generator().manual_seed(99), mixed)
    mix = torch.stack([it["mixture"] for it in test])
    refs = torch.stack([it["sources"] for it in test])
    model.eval()
    with torch.no_grad():
        est = separate_batch(model, encoder, mix, [it["phrases"] for it in test], references=refs)
    assert float(separation_metrics(mix, refs, est)["sdri"].mean()) > 1.0
