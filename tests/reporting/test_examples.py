"""Example separations: wavs and a spectrogram PNG titled with each estimate's scores."""

import re

import pytest
import torch

from asteroid_wsas.reporting import examples as E
from asteroid_wsas.metrics import separation_metrics


def test_each_estimate_is_titled_with_its_sdr_si_sdr_and_sdri(tmp_path, monkeypatch):
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(8000) / 8000
    refs = torch.stack([torch.sin(2 * torch.pi * 440 * t), 0.3 * torch.randn(8000, generator=gen)])
    mixture = refs.sum(0)
    # a good estimate and a poor one (half the other source left in)
    estimates = torch.stack([refs[0] + 0.05 * refs[1], refs[1] + 0.5 * refs[0]])
    titles = []
    draw = E.draw_spectrogram

    def record(ax, wav, rate, title, top=None):
        titles.append(title)
        return draw(ax, wav, rate, title, top)

    monkeypatch.setattr(E, "draw_spectrogram", record)
    written = E.write_example(tmp_path, "mix0", mixture, refs, estimates, ["a tone", "noise"], 8000)
    assert [p.rsplit("/", 1)[1] for p in written] == [
        "mix0_mixture.wav",
        "mix0_q0_reference.wav",
        "mix0_q0_estimate.wav",
        "mix0_q1_reference.wav",
        "mix0_q1_estimate.wav",
        "mix0.png",
    ]
    assert (tmp_path / "mix0.png").read_bytes()[:4] == b"\x89PNG"
    want = separation_metrics(mixture, refs, estimates)
    shown = [t for t in titles if t.startswith("estimate")]
    assert len(shown) == 2
    for k, title in enumerate(shown):
        sdr, si_sdr, sdri = map(float, re.findall(r"[-+]?\d+\.\d", title.split("\n")[1]))
        assert sdr == pytest.approx(float(want["sdr"][k]), abs=0.051)
        assert si_sdr == pytest.approx(float(want["si_sdr"][k]), abs=0.051)
        assert sdri == pytest.approx(float(want["sdri"][k]), abs=0.051)
    assert float(want["sdr"][0]) > float(want["sdr"][1]) + 10  # the titles tell them apart
    assert titles[0].startswith("mixture (its SDR against each reference: ")
