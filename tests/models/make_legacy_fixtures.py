"""Writes tests/models/data/legacy/: separator files in the formats of main before the
query path moved into the model (issue 14), and what they returned then.

Run once with the old code (commit 560638b); the files are kept so that later code must
keep loading them. ``python -m tests.models.make_legacy_fixtures``
"""

import os

import torch

from asteroid_wsas import Separator
from asteroid_wsas.engine.system import WeakSupSystem
from asteroid_wsas.losses.objectives import make_objective
from tests.helpers import randomize_norm_stats, tiny_encoder, tiny_unet

OUT = os.path.join(os.path.dirname(__file__), "data", "legacy")
QUERIES = ["a dog barks", "a bell rings"]
SMALL = dict(channels=[4, 8, 8], attention_levels=[2])  # small files


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    encoder = tiny_encoder(QUERIES + ["rain falls"]).freeze()
    torch.manual_seed(1)
    text_model = randomize_norm_stats(tiny_unet(**SMALL)).eval()
    torch.manual_seed(2)
    mixit_model = randomize_norm_stats(tiny_unet(**SMALL), 1).eval()
    mixit = make_objective("mixit", mixit_model, n_outputs=3)
    with torch.no_grad():  # trained-looking queries, not the initial ones
        mixit.query_embed.add_(0.3 * torch.randn_like(mixit.query_embed))
        mixit.query_tokens.add_(0.3 * torch.randn_like(mixit.query_tokens))
    system = WeakSupSystem(mixit_model, encoder, mixit)
    torch.save(system.separator_package(), os.path.join(OUT, "mixit_best_model.pth"))
    text_system = WeakSupSystem(text_model, encoder, "weak")
    torch.save(text_system.separator_package(), os.path.join(OUT, "weak_best_model.pth"))
    Separator(text_model, encoder).save_pretrained(os.path.join(OUT, "text_pkg"), force=True)
    learned = system.separator_package()["unconditioned_queries"]
    Separator(mixit_model, encoder, unconditioned_queries=learned).save_pretrained(
        os.path.join(OUT, "mixit_pkg"), force=True
    )

    gen = torch.Generator().manual_seed(3)
    audio = torch.randn(1, 4000, generator=gen) * 0.1
    expected = {"audio": audio}
    for name, model, objective in (
        ("text", text_model, make_objective("weak")),
        ("mixit", mixit_model, mixit),
    ):
        sep = Separator.from_pretrained(os.path.join(OUT, f"{name}_pkg"))
        out = sep.separate(audio, QUERIES, sample_rate=8000, precision="fp32")
        expected[f"{name}_separate"] = torch.as_tensor(out.estimates)
        with torch.no_grad():
            batch = objective.separate(model, encoder, audio, [QUERIES])
        expected[f"{name}_batch"] = batch
    torch.save(expected, os.path.join(OUT, "expected.pt"))


if __name__ == "__main__":
    main()
