"""Intervals over seeds and the paired two-level bootstrap, on data with known answers."""

import csv
import math

import numpy as np
import pytest

from asteroid_wsas.stats import (
    SeedScores,
    format_interval,
    load_seed_scores,
    paired_bootstrap,
    read_per_mixture,
    seed_dirs,
    seed_interval,
)

T_975_2 = 4.302652729911275  # Student-t quantile, 2 degrees of freedom (tables)


def test_seed_interval_matches_the_t_table():
    r = seed_interval([4.0, 5.0, 6.0])
    half = T_975_2 * 1.0 / math.sqrt(3)
    assert r["mean"] == 5.0 and r["n"] == 3 and r["std"] == 1.0
    assert r["low"] == pytest.approx(5.0 - half) and r["high"] == pytest.approx(5.0 + half)


def test_seed_interval_of_one_run_has_no_spread():
    r = seed_interval([3.5])
    assert r["mean"] == 3.5 and math.isnan(r["low"]) and math.isnan(r["high"])
    assert seed_interval([])["n"] == 0
    with pytest.raises(ValueError, match="confidence"):
        seed_interval([1.0, 2.0], confidence=1.5)


def test_seed_interval_covers_the_true_mean_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        r = seed_interval(rng.normal(2.0, 3.0, size=3))
        hits += r["low"] <= 2.0 <= r["high"]
    assert 0.93 <= hits / 2000 <= 0.97


def _scores(values, ids=None):
    values = np.atleast_2d(values)
    ids = ids or [f"m{i}" for i in range(values.shape[1])]
    return SeedScores(values, ids, [f"seed{s}" for s in range(values.shape[0])])


def test_bootstrap_of_one_mean_agrees_with_the_normal_interval():
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 2.0, size=400)
    r = paired_bootstrap({"a": _scores(x)}, lambda m: m["a"], n_resamples=4000)
    half = 1.96 * x.std(ddof=1) / math.sqrt(len(x))
    assert r["value"] == pytest.approx(x.mean())
    assert r["low"] == pytest.approx(x.mean() - half, abs=0.03)
    assert r["high"] == pytest.approx(x.mean() + half, abs=0.03)
    assert r["mixtures"] == 400 and r["p_le_zero"] == 0.0


def test_pairing_removes_the_spread_shared_by_both_methods():
    """Mixtures differ by +-10 dB in difficulty, the methods by 0.5 dB on each: paired, the
    difference is sure; unpaired (independent mixture draws), it would not be."""
    rng = np.random.default_rng(2)
    difficulty = rng.normal(0, 10, size=300)
    a = difficulty + 0.5 + rng.normal(0, 0.3, size=300)
    b = difficulty + rng.normal(0, 0.3, size=300)
    r = paired_bootstrap({"a": _scores(a), "b": _scores(b)}, lambda m: m["a"] - m["b"])
    assert 0.4 < r["low"] < 0.5 < r["high"] < 0.6
    unpaired_half = 1.96 * math.sqrt(a.var() / 300 + b.var() / 300)
    assert unpaired_half > 1.0 > (r["high"] - r["low"])  # far wider than the paired one


def test_seed_resampling_widens_the_interval_when_seeds_disagree():
    rng = np.random.default_rng(3)
    base = rng.normal(0, 1, size=200)
    a = np.stack([base + off for off in (0.0, 1.0, 2.0)])  # seeds 1 dB apart
    b = base[None]
    both = paired_bootstrap({"a": _scores(a), "b": _scores(b)}, lambda m: m["a"] - m["b"])
    test_only = paired_bootstrap(
        {"a": _scores(a), "b": _scores(b)}, lambda m: m["a"] - m["b"], resample_seeds=False
    )
    assert both["value"] == pytest.approx(1.0)
    assert test_only["high"] - test_only["low"] < 1e-9  # the same offset on every mixture
    assert both["high"] - both["low"] > 0.5


def test_bootstrap_is_seeded_and_aligns_mixtures_by_id():
    a = _scores([[1.0, 2.0, 3.0, 9.0]], ["x", "y", "z", "w"])
    b = _scores([[3.0, 1.0, 2.0]], ["z", "x", "y"])  # same mixtures, other order, no "w"
    r1 = paired_bootstrap({"a": a, "b": b}, lambda m: m["a"] - m["b"], seed=7)
    r2 = paired_bootstrap({"a": a, "b": b}, lambda m: m["a"] - m["b"], seed=7)
    assert r1 == r2 and r1["mixtures"] == 3 and r1["value"] == 0.0
    nan = _scores([[1.0, np.nan, 3.0]], ["x", "y", "z"])
    assert paired_bootstrap({"a": a, "n": nan}, lambda m: m["a"])["mixtures"] == 2
    with pytest.raises(ValueError, match="share no test mixture"):
        paired_bootstrap({"a": a, "c": _scores([[1.0]], ["q"])}, lambda m: m["a"])


def test_seed_scores_checks_its_shape():
    with pytest.raises(ValueError, match="does not match"):
        SeedScores(np.zeros((2, 3)), ["a", "b", "c"], ["seed0"])


def _write_metrics(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["mixture_id", "query", "source", "sdr", "sir", "skipped"])
        writer.writerows(rows)


def test_read_per_mixture_averages_the_scored_queries(tmp_path):
    _write_metrics(
        tmp_path / "all_metrics.csv",
        [
            ["m0", "a", 0, 2.0, 5.0, "False"],
            ["m0", "b", 1, 4.0, 7.0, "False"],
            ["m1", "a", 0, 1.0, 1.0, "False"],
            ["m1", "b", 1, "", "", "True"],  # silent reference: skipped
            ["m2", "a", 0, "", "", "True"],
        ],
    )
    out = read_per_mixture(tmp_path / "all_metrics.csv")
    assert out["m0"] == 3.0 and out["m1"] == 1.0 and math.isnan(out["m2"])
    assert read_per_mixture(tmp_path / "all_metrics.csv", "sir")["m0"] == 6.0
    with pytest.raises(ValueError, match="no 'sar' column"):
        read_per_mixture(tmp_path / "all_metrics.csv", "sar")


def test_seed_folders_are_found_in_numeric_order(tmp_path):
    for seed in (10, 2, 0):
        _write_metrics(
            tmp_path / "weak" / f"seed{seed}" / "all_metrics.csv",
            [["m0", "a", 0, float(seed), 0.0, "False"]],
        )
    assert [p.name for p in seed_dirs(tmp_path / "weak")] == ["seed0", "seed2", "seed10"]
    scores = load_seed_scores(tmp_path / "weak")
    assert scores.values[:, 0].tolist() == [0.0, 2.0, 10.0]
    assert scores.seeds == ["seed0", "seed2", "seed10"]
    assert seed_dirs(tmp_path / "weak" / "seed2") == [tmp_path / "weak" / "seed2"]
    with pytest.raises(FileNotFoundError, match="no all_metrics.csv"):
        seed_dirs(tmp_path / "nothing")
    _write_metrics(
        tmp_path / "weak" / "seed3" / "all_metrics.csv", [["other", "a", 0, 1.0, 0.0, "False"]]
    )
    with pytest.raises(ValueError, match="other test mixtures"):
        load_seed_scores(tmp_path / "weak")


def test_format_interval():
    assert format_interval({"mean": 1.0, "low": 0.25, "high": 1.75}) == "1.00 [0.25, 1.75]"
    assert format_interval({"mean": 1.0, "low": math.nan, "high": math.nan}) == "1.00"
    assert format_interval({"mean": math.nan}) == "-"
