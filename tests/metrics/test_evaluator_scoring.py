"""The two scorings of the Evaluator (eval.scoring): ours, and the authors' mean of
per-batch means over mixtures kept by their silence rule."""

import csv
import json
import math

import numpy as np
import pytest
import torch

from asteroid_wsas.metrics import METRICS, Evaluator, bss_eval
from asteroid_wsas.metrics import evaluator as evaluator_module

T = 64


def fake_metrics(mix, refs, ests, filter_length, clamp_db):
    """Every metric of a source is the number its estimate carries in sample 1 (x 64):
    per-source scores are then set by hand, and only the aggregation is under test."""
    value = ests[..., 1] * 64
    return {m: value.clone() for m in METRICS}


def mixture(*scores, silent_ref=None, silent_est=None, ref_level=0.5):
    """A 2-source mixture whose estimates score ``scores``; one reference or estimate can be
    made all-zero (silent)."""
    refs = torch.full((len(scores), T), ref_level, dtype=torch.float64)
    ests = torch.full((len(scores), T), 0.25, dtype=torch.float64)
    ests[:, 1] = torch.tensor(scores, dtype=torch.float64) / 64
    if silent_ref is not None:
        refs[silent_ref] = 0.0
    if silent_est is not None:
        ests[silent_est] = 0.0
    return refs.sum(0), refs, ests


# Hand-built: the authors' figure is the mean of these per-batch means.
BATCHES = [
    [mixture(10, 20), mixture(4, 6)],  # 15 and 5: batch mean 10
    [mixture(30, 40, silent_est=1), mixture(1, 3)],  # first dropped: batch mean 2
    [mixture(50, 60, silent_ref=0)],  # nothing kept: the batch counts as 0
    [mixture(7, 9)],  # 8
]
AUTHORS_MEAN = (10 + 2 + 0 + 8) / 4
KEPT_MIXTURE_MEANS = [15, 5, 2, 8]


def add_batches(ev, batches=BATCHES):
    for b, batch in enumerate(batches):
        mix, refs, ests = (torch.stack(x) for x in zip(*batch))
        ev.add(mix, refs, ests, mixture_id=[f"{b}-{i}" for i in range(len(batch))])


def test_authors_scoring_is_the_mean_of_per_batch_means(monkeypatch):
    monkeypatch.setattr(evaluator_module, "_separation_metrics", fake_metrics)
    ev = Evaluator.for_scoring("authors")
    add_batches(ev)
    summary = ev.summary()
    for name in METRICS:
        assert summary["metrics"][name]["mean"] == pytest.approx(AUTHORS_MEAN)
        # std and median stay over the kept mixtures
        assert summary["metrics"][name]["median"] == pytest.approx(np.median(KEPT_MIXTURE_MEANS))
        assert summary["metrics"][name]["std"] == pytest.approx(np.std(KEPT_MIXTURE_MEANS))
    counts = summary["counts"]
    assert counts["mixtures"] == 6 and counts["mixtures_scored"] == 4
    assert counts["mixtures_dropped"] == 2
    assert counts["batches"] == 4 and counts["batches_without_valid"] == 1
    settings = summary["settings"]
    assert settings["scoring"] == "authors" and settings["batch_mixtures"] == 2
    assert (settings["skip_policy"], settings["silence_rel_db"], settings["silence_abs"]) == (
        "mixture",
        None,
        1e-5,
    )
    assert [b["sdr"] for b in ev.batch_means()] == [10, 2, 0, 8]
    assert [b["scored"] for b in ev.batch_means()] == [2, 1, 0, 1]


def test_ours_on_the_same_mixtures_averages_over_mixtures(monkeypatch):
    monkeypatch.setattr(evaluator_module, "_separation_metrics", fake_metrics)
    ev = Evaluator.for_scoring("ours")
    add_batches(ev)
    summary = ev.summary()
    # ours: a silent estimate is scored (here 0: its sample 1 is 0 too), a silent reference
    # skipped alone: 15, 5, (30 + 0) / 2, 2, 60, 8 over the 6 mixtures
    assert summary["metrics"]["sdr"]["mean"] == pytest.approx(np.mean([15, 5, 15, 2, 60, 8]))
    assert "batches" not in summary["counts"] and "scoring" not in summary["settings"]


def test_authors_scoring_with_every_batch_empty_reports_zero(monkeypatch):
    monkeypatch.setattr(evaluator_module, "_separation_metrics", fake_metrics)
    ev = Evaluator.for_scoring("authors")
    add_batches(ev, [[mixture(1, 2, silent_ref=1)], [mixture(3, 4, silent_est=0)]])
    summary = ev.summary()
    assert summary["metrics"]["sdr"]["mean"] == 0.0  # their AverageMeter's 0, counted
    assert summary["metrics"]["sdr"]["median"] is None
    assert summary["counts"]["batches_without_valid"] == 2
    assert Evaluator.for_scoring("authors").summary()["metrics"]["sdr"]["mean"] is None


def test_the_authors_silence_rule_is_sum_of_absolute_values_at_1e_5(monkeypatch):
    monkeypatch.setattr(evaluator_module, "_separation_metrics", fake_metrics)
    # sum |x| over 64 samples: 2e-5 (kept) and 0.5e-5 (dropped); no rule relative to the
    # mixture (ours calls the 2e-5 reference silent: it is 90 dB below the other)
    for level, kept in ((2e-5 / T, True), (0.5e-5 / T, False)):
        mix, refs, ests = mixture(5, 7)
        refs[1] = level
        theirs, ours = Evaluator.for_scoring("authors"), Evaluator()
        for ev in (theirs, ours):
            ev.add(refs.sum(0), refs, ests)
        assert theirs.summary()["counts"]["mixtures_dropped"] == (0 if kept else 1)
        assert [r["skipped"] for r in ours.rows] == [False, True]
    mix, refs, ests = mixture(5, 7)
    ests[0] = 0.5e-5 / T  # a near-silent estimate drops the mixture too
    ev = Evaluator.for_scoring("authors")
    ev.add(refs.sum(0), refs, ests)
    assert ev.summary()["counts"]["mixtures_dropped"] == 1


def test_authors_scoring_with_real_bss_eval_matches_a_hand_aggregation():
    """Per-source scores from bss_eval (no permutation), aggregated by hand as their
    calc_metrics and evaluate do."""
    gen = torch.Generator().manual_seed(3)
    n, k, length, batch = 5, 2, 2000, 2
    refs = torch.randn(n, k, length, generator=gen, dtype=torch.float64)
    ests = refs + 0.5 * torch.randn(n, k, length, generator=gen, dtype=torch.float64)
    ests[2, 1] = 0.0  # dropped
    mixes = refs.sum(1)
    ev = Evaluator.for_scoring("authors")
    for first in range(0, n, batch):
        ev.add(
            mixes[first : first + batch], refs[first : first + batch], ests[first : first + batch]
        )
    batch_sdr, batch_sdri = [], []
    for first in range(0, n, batch):
        kept = []
        for j in range(first, min(first + batch, n)):
            silent = [float(x.abs().sum()) <= 1e-5 for x in (*refs[j], *ests[j])]
            if any(silent):
                continue
            sdr = bss_eval(refs[j], ests[j])[0].mean()
            sdr_mix = bss_eval(refs[j], mixes[j].expand(k, -1))[0].mean()
            kept.append((float(sdr), float(sdr - sdr_mix)))
        batch_sdr.append(np.mean([x[0] for x in kept]) if kept else 0.0)
        batch_sdri.append(np.mean([x[1] for x in kept]) if kept else 0.0)
    summary = ev.summary()
    assert summary["metrics"]["sdr"]["mean"] == pytest.approx(np.mean(batch_sdr), abs=1e-6)
    assert summary["metrics"]["sdri"]["mean"] == pytest.approx(np.mean(batch_sdri), abs=1e-6)
    assert summary["counts"]["batches"] == 3 and summary["counts"]["mixtures_dropped"] == 1


def test_csv_of_the_authors_scoring_names_the_batches(monkeypatch, tmp_path):
    monkeypatch.setattr(evaluator_module, "_separation_metrics", fake_metrics)
    ev = Evaluator.for_scoring("authors")
    add_batches(ev)
    ev.save(tmp_path / "a.csv", tmp_path / "a.json")
    with open(tmp_path / "a.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["batch"]) for r in rows] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3]
    # the figure can be recomputed from the file alone
    per_batch = {}
    for r in rows:
        if r["skipped"] == "0":
            per_batch.setdefault(int(r["batch"]), []).append(float(r["sdr"]))
    means = [np.mean(per_batch[b]) if b in per_batch else 0.0 for b in range(4)]
    assert np.mean(means) == pytest.approx(AUTHORS_MEAN)
    assert json.loads((tmp_path / "a.json").read_text())["metrics"]["sdr"]["mean"] == AUTHORS_MEAN


def test_ours_writes_the_files_a_plain_evaluator_writes(tmp_path):
    gen = torch.Generator().manual_seed(4)
    refs = torch.randn(3, 2, 1500, generator=gen, dtype=torch.float64)
    ests = refs + 0.3 * torch.randn(3, 2, 1500, generator=gen, dtype=torch.float64)
    refs[1, 0] = 0.0
    written = []
    for i, ev in enumerate((Evaluator(), Evaluator.for_scoring("ours"))):
        ev.add(refs.sum(1)[:2], refs[:2], ests[:2])
        ev.add(refs.sum(1)[2], refs[2], ests[2])
        ev.save(tmp_path / f"{i}.csv", tmp_path / f"{i}.json")
        written.append(
            ((tmp_path / f"{i}.csv").read_bytes(), (tmp_path / f"{i}.json").read_bytes())
        )
    assert written[0] == written[1]
    assert b"batch" not in written[0][0] and b"scoring" not in written[0][1]


def test_bad_scoring_arguments_are_named():
    with pytest.raises(ValueError, match="scoring .eval.scoring. must be one of"):
        Evaluator.for_scoring("theirs")
    with pytest.raises(ValueError, match="sets \\['skip_policy'\\] itself"):
        Evaluator.for_scoring("authors", skip_policy="source")
    with pytest.raises(ValueError, match="aggregation must be one of"):
        Evaluator(aggregation="batch")
    assert math.isclose(Evaluator.for_scoring("authors", clamp_db=50.0).clamp_db, 50.0)
