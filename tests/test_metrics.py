"""The evaluator scores like mir_eval's BSS-Eval v3 (no permutation) and aggregates as the paper."""

import csv
import json
import math
import warnings

import numpy as np
import pytest
import torch
from fast_bss_eval.torch import square_cosine_metrics

from asteroid_wsas.metrics import (
    CSV_COLUMNS,
    METRICS,
    Evaluator,
    bss_eval,
    energy_sdr,
    separation_metrics,
    si_sdr,
    silent_sources,
)

SR = 16000
# ours vs mir_eval on well-conditioned signals (measured: about 1e-8 dB at worst)
TOL_DB = 1e-6


def mir_eval_bss(refs, ests):
    """mir_eval.separation.bss_eval_sources(..., compute_permutation=False)[:3] (float64)."""
    from mir_eval.separation import bss_eval_sources

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in mir_eval 0.8
        out = bss_eval_sources(np.asarray(refs), np.asarray(ests), compute_permutation=False)
    return np.stack(out[:3])


def sources(n_src, n_samples, kind, seed):
    """Generated references: noise-like (random walk + white) or tonal (4 partials + noise)."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(n_samples, dtype=torch.float64) / SR
    out = []
    for _ in range(n_src):
        white = torch.randn(n_samples, generator=gen, dtype=torch.float64)
        if kind == "noise":
            walk = torch.randn(n_samples, generator=gen, dtype=torch.float64).cumsum(0)
            out.append(0.01 * walk + 0.1 * white)
        else:
            freqs = 100 + 2000 * torch.rand(4, 1, generator=gen, dtype=torch.float64)
            out.append(torch.sin(2 * math.pi * freqs * t).sum(0) + 1e-3 * white)
    return torch.stack(out)


def estimates(refs, snr_db, seed, leak=0.2):
    """References + leakage of the next source + white noise at ``snr_db``."""
    gen = torch.Generator().manual_seed(seed + 1000)
    noise = torch.randn(refs.shape, generator=gen, dtype=torch.float64)
    noise *= refs.norm(dim=-1, keepdim=True) / noise.norm(dim=-1, keepdim=True)
    return refs + leak * refs.roll(1, 0) + noise * 10 ** (-snr_db / 20)


def exact_si_sdr_estimate(ref, target_db, seed):
    """An estimate whose SI-SDR against ``ref`` is exactly ``target_db`` (orthogonal error)."""
    gen = torch.Generator().manual_seed(seed)
    ref = ref - ref.mean()
    err = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
    err -= err.mean()
    err -= (err @ ref) / (ref @ ref) * ref
    return ref + err * ref.norm() / err.norm() * 10 ** (-target_db / 20)


# --- agreement with mir_eval ------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_src, seconds, kind, snr_db",
    [
        (2, 1.0, "noise", -5.0),
        (2, 1.0, "noise", 10.0),
        (2, 2.0, "tonal", 25.0),
        (3, 0.5, "noise", 5.0),
        (3, 0.5, "tonal", 0.0),
        (4, 0.25, "noise", 15.0),
    ],
)
def test_bss_eval_matches_mir_eval(n_src, seconds, kind, snr_db):
    refs = sources(n_src, int(seconds * SR), kind, seed=n_src)
    ests = estimates(refs, snr_db, seed=n_src)
    ours = torch.stack(bss_eval(refs, ests)).numpy()
    expected = mir_eval_bss(refs, ests)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=TOL_DB)
    assert np.ptp(expected[0]) > 0.01 or n_src == 2  # distinct scores, not one repeated value


def test_sdri_is_mir_eval_score_minus_mixture_score():
    refs = sources(2, SR, "noise", seed=5)
    ests = estimates(refs, 8.0, seed=5)
    mix = refs.sum(0)
    got = separation_metrics(mix, refs, ests)
    est_scores = mir_eval_bss(refs, ests)
    mix_scores = mir_eval_bss(refs, torch.stack([mix, mix]))
    np.testing.assert_allclose(got["sdr"].numpy(), est_scores[0], atol=TOL_DB, rtol=0)
    np.testing.assert_allclose(got["sir"].numpy(), est_scores[1], atol=TOL_DB, rtol=0)
    np.testing.assert_allclose(got["sar"].numpy(), est_scores[2], atol=TOL_DB, rtol=0)
    np.testing.assert_allclose(
        got["sdri"].numpy(), est_scores[0] - mix_scores[0], atol=TOL_DB, rtol=0
    )
    assert (got["sdri"] > 5).all()  # a real improvement over the mixture (about 0 dB SDR)


def test_agrees_with_fast_bss_eval_torch_backend():
    from fast_bss_eval.torch import bss_eval_sources as fbe

    refs = sources(3, SR // 2, "noise", seed=8)
    ests = estimates(refs, 3.0, seed=8)
    ours = torch.stack(bss_eval(refs, ests))
    theirs = torch.stack(fbe(refs, ests, compute_permutation=False))
    torch.testing.assert_close(ours, theirs, rtol=0, atol=TOL_DB)


def test_pure_tones_match_mir_eval():
    # the delays of a pure tone span 2 dimensions: the Gram matrix is nearly singular
    t = torch.arange(SR // 2, dtype=torch.float64) / SR
    refs = torch.stack([torch.sin(2 * math.pi * 440 * t), torch.sin(2 * math.pi * 1250 * t)])
    ests = estimates(refs, 20.0, seed=3)
    ours = torch.stack(bss_eval(refs, ests)).numpy()
    np.testing.assert_allclose(ours, mir_eval_bss(refs, ests), rtol=0, atol=1e-4)


def test_duplicated_references_are_solved_with_diagonal_loading():
    # the same clip queried twice: the Gram matrix is exactly singular and the plain solve
    # raises; mir_eval falls back to least squares, we load the diagonal
    ref = sources(1, 4000, "noise", seed=23)
    refs = torch.cat([ref, ref])
    ests = estimates(refs, 10.0, seed=23) + 0.3 * estimates(refs, 0.0, seed=24)
    with pytest.raises(torch.linalg.LinAlgError):
        square_cosine_metrics(refs, ests, filter_length=512)
    sdr, sir, sar = bss_eval(refs, ests)
    assert torch.isfinite(torch.stack([sdr, sir, sar])).all()
    expected = mir_eval_bss(refs, ests)
    np.testing.assert_allclose(sdr.numpy(), expected[0], rtol=0, atol=1e-4)
    np.testing.assert_allclose(sar.numpy(), expected[2], rtol=0, atol=1e-4)
    assert (sir > 99.0).all()  # nothing outside the target subspace: no interference


def test_batched_call_equals_one_call_per_mixture():
    refs = torch.stack([sources(2, 4000, "noise", seed=s) for s in range(3)])
    ests = torch.stack([estimates(r, 5.0 * s, seed=s) for s, r in enumerate(refs)])
    mix = refs.sum(1)
    batched = separation_metrics(mix, refs, ests)
    for b in range(3):
        single = separation_metrics(mix[b], refs[b], ests[b])
        for name in METRICS:
            torch.testing.assert_close(batched[name][b], single[name], rtol=0, atol=1e-9)
    nested = separation_metrics(mix.reshape(3, 1, -1), refs[:, None], ests[:, None])
    assert nested["sdr"].shape == (3, 1, 2)


def test_float32_input_is_scored_in_float64():
    refs = sources(2, 4000, "noise", seed=2)
    ests = estimates(refs, 10.0, seed=2)
    sdr64 = bss_eval(refs, ests)[0]
    sdr32 = bss_eval(refs.float(), ests.float())[0]
    assert sdr32.dtype == torch.float64
    torch.testing.assert_close(sdr32, sdr64, rtol=0, atol=1e-4)  # input rounding only


# --- hand-built cases -------------------------------------------------------------------------


def test_perfect_estimate_scores_very_high():
    refs = sources(2, 4000, "noise", seed=1)
    sdr, sir, sar = bss_eval(refs, refs)
    assert (sdr >= 99.0).all() and (sir >= 99.0).all() and (sar >= 99.0).all()  # clamp 100
    assert (bss_eval(refs, refs, clamp_db=None)[0] > 100).all()
    assert (si_sdr(refs, refs) >= 99.0).all()


def test_mixture_as_estimate_improves_nothing():
    refs = sources(3, 4000, "noise", seed=4)
    mix = refs.sum(0)
    m = separation_metrics(mix, refs, mix.expand(3, -1))
    assert m["sdri"].abs().max() < 1e-9
    assert m["si_sdri"].abs().max() < 1e-9
    assert (m["sdr"] < 0).all()  # each source is below the sum of the other two


def test_swapped_estimates_score_worse_than_correct_order():
    refs = sources(2, 8000, "noise", seed=6)
    ests = estimates(refs, 15.0, seed=6, leak=0.1)
    right = separation_metrics(refs.sum(0), refs, ests)
    swapped = separation_metrics(refs.sum(0), refs, ests.flip(0))
    for name in ("sdr", "sir", "si_sdr", "sdri"):
        assert (swapped[name] < right[name] - 10).all(), name
    assert (right["sdr"] > 5).all() and (swapped["sdr"] < 0).all()


def test_si_sdr_is_scale_and_offset_invariant_and_exact():
    ref = sources(1, 8000, "noise", seed=7)[0]
    est = exact_si_sdr_estimate(ref, 12.5, seed=7)
    assert si_sdr(ref, est).item() == pytest.approx(12.5, abs=1e-9)
    for scaled in (3.0 * est, -0.01 * est, est + 0.7):
        assert si_sdr(ref, scaled).item() == pytest.approx(12.5, abs=1e-9)
    assert si_sdr(5.0 * ref - 2.0, est).item() == pytest.approx(12.5, abs=1e-9)


def test_si_sdr_matches_asteroid_convention():
    from pb_bss_eval.evaluation import si_sdr as pb_si_sdr  # what asteroid.metrics calls

    refs = sources(2, 4000, "noise", seed=9)
    ests = estimates(refs, 7.0, seed=9) + 0.3  # an offset: both remove the means
    expected = [pb_si_sdr(r.numpy(), e.numpy()) for r, e in zip(refs, ests)]
    # pb_bss_eval adds 1e-8 to the reference energy
    np.testing.assert_allclose(si_sdr(refs, ests).numpy(), expected, rtol=0, atol=1e-6)


def test_bss_eval_is_invariant_to_estimate_scale():
    refs = sources(2, 4000, "noise", seed=10)
    ests = estimates(refs, 10.0, seed=10)
    base = torch.stack(bss_eval(refs, ests))
    torch.testing.assert_close(torch.stack(bss_eval(refs, -4.0 * ests)), base, rtol=0, atol=1e-9)


def test_zero_reference_leaves_the_others_as_mir_eval_without_it():
    refs = sources(3, 8000, "noise", seed=11)
    ests = estimates(refs, 10.0, seed=11)
    refs[2] = 0.0
    ours = torch.stack(bss_eval(refs, ests)).numpy()
    assert np.isnan(ours[:, 2]).all()  # mir_eval refuses it; no score
    np.testing.assert_allclose(ours[:, :2], mir_eval_bss(refs[:2], ests[:2]), atol=TOL_DB)


def test_zero_estimate_gets_the_worst_score():
    refs = sources(2, 4000, "noise", seed=12)
    ests = estimates(refs, 10.0, seed=12)
    ests[1] = 0.0
    m = separation_metrics(refs.sum(0), refs, ests)
    for name in ("sdr", "sir", "sar", "si_sdr"):
        assert m[name][1].item() == -100.0, name
        assert m[name][0].item() > 5.0, name
    assert bss_eval(refs, ests, clamp_db=None)[0][1].item() == -math.inf


def test_silent_sources_thresholds():
    mix = torch.ones(1000, dtype=torch.float64)
    sig = torch.stack([mix, 10 ** (-59 / 20) * mix, 10 ** (-61 / 20) * mix, 0 * mix])
    assert silent_sources(mix, sig).tolist() == [False, False, True, True]
    assert silent_sources(mix, sig, rel_db=None).tolist() == [False, False, False, True]
    tiny = torch.full((1, 1000), 1e-9, dtype=torch.float64)  # sum |x| = 1e-6 <= 1e-5
    assert silent_sources(tiny[0], tiny, rel_db=None).tolist() == [True]
    assert silent_sources(tiny[0], tiny, rel_db=None, abs_floor=None).tolist() == [False]


# --- Evaluator: skipping, aggregation, files --------------------------------------------------


def test_silent_reference_is_skipped_and_counted():
    refs = sources(2, 4000, "noise", seed=13)
    ests = estimates(refs, 10.0, seed=13)
    quiet = refs.clone()
    quiet[1] *= 1e-4  # -80 dB: near-silent relative to the mixture
    ev = Evaluator()
    ev.add(refs.sum(0), refs, ests, mixture_id="loud", queries=["a", "b"])
    ev.add(quiet.sum(0), quiet, ests, mixture_id="quiet", queries=["a", "b"])
    ev.add(0 * refs[0], 0 * refs, ests, mixture_id="silent", queries=["a", "b"])
    rows = ev.rows
    assert [r["skipped"] for r in rows] == [False, False, False, True, True, True]
    assert all(math.isnan(r["sdr"]) for r in rows if r["skipped"])
    summary = ev.summary()
    assert summary["counts"] == {
        "mixtures": 3,
        "mixtures_scored": 2,
        "sources": 6,
        "sources_scored": 3,
        "sources_skipped": 3,
        "silent_estimates_scored": 0,
    }
    loud = (rows[0]["sdr"] + rows[1]["sdr"]) / 2
    assert summary["metrics"]["sdr"]["mean"] == pytest.approx((loud + rows[2]["sdr"]) / 2)
    # the skipped reference still spans the interference subspace of the other query
    expected = mir_eval_bss(quiet, ests)[:, 0]
    got = [rows[2][m] for m in ("sdr", "sir", "sar")]
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_mixture_skip_policy_drops_the_whole_mixture():
    refs = sources(2, 4000, "noise", seed=14)
    ests = estimates(refs, 10.0, seed=14)
    quiet = refs.clone()
    quiet[1] = 0.0
    silent_est = ests.clone()
    silent_est[0] = 0.0
    per_source, per_mixture = Evaluator(), Evaluator(skip_policy="mixture")
    for ev in (per_source, per_mixture):
        ev.add(refs.sum(0), refs, ests)
        ev.add(quiet.sum(0), quiet, ests)
        ev.add(refs.sum(0), refs, silent_est)
    assert [r["skipped"] for r in per_source.rows] == [False, False, False, True, False, False]
    assert [r["skipped"] for r in per_mixture.rows] == [False, False, True, True, True, True]
    assert per_source.rows[4]["silent_estimate"] and per_source.rows[4]["sdr"] == -100.0
    assert per_source.summary()["counts"]["silent_estimates_scored"] == 1
    assert per_mixture.summary()["counts"]["mixtures_scored"] == 1


def test_csv_and_json_hold_the_hand_computed_aggregates(tmp_path):
    refs = sources(2, 4000, "noise", seed=15)
    mix = refs.sum(0)
    exact = lambda k, db: exact_si_sdr_estimate(refs[k], db, seed=k)  # noqa: E731
    ev = Evaluator()
    ev.add(mix, refs, torch.stack([exact(0, 10.0), exact(1, 20.0)]), mixture_id="A")
    quiet = torch.stack([refs[0], 0 * refs[1]])
    ev.add(refs[0], quiet, torch.stack([exact(0, 5.0), refs[1]]), mixture_id="B")
    ev.add(mix, 0 * refs, refs, mixture_id="C", queries=["x", "y"])
    csv_path, json_path = ev.save(tmp_path / "out" / "scores.csv", tmp_path / "summary.json")

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["mixture_id"], r["query"], r["skipped"]) for r in rows] == [
        ("A", "q0", "0"),
        ("A", "q1", "0"),
        ("B", "q0", "0"),
        ("B", "q1", "1"),
        ("C", "x", "1"),
        ("C", "y", "1"),
    ]
    assert [float(r["si_sdr"]) for r in rows[:3]] == pytest.approx([10.0, 20.0, 5.0], abs=1e-5)
    assert rows[3]["sdr"] == rows[3]["si_sdr"] == ""  # skipped: no scores

    summary = json.loads(json_path.read_text())
    # per mixture: A = (10 + 20) / 2 = 15, B = 5, C has nothing; over mixtures: 10 +- 5
    assert summary["metrics"]["si_sdr"]["mean"] == pytest.approx(10.0, abs=1e-5)
    assert summary["metrics"]["si_sdr"]["std"] == pytest.approx(5.0, abs=1e-5)
    sdr = [float(r["sdr"]) for r in rows[:3]]
    per_mixture = [(sdr[0] + sdr[1]) / 2, sdr[2]]
    assert summary["metrics"]["sdr"]["mean"] == pytest.approx(np.mean(per_mixture), abs=1e-5)
    assert summary["metrics"]["sdr"]["std"] == pytest.approx(np.std(per_mixture), abs=1e-5)
    assert summary["counts"]["mixtures_scored"] == 2
    assert summary["counts"]["sources_skipped"] == 3
    assert summary["settings"]["filter_length"] == 512
    assert set(summary["metrics"]) == set(METRICS)


def test_empty_summary_has_no_means_and_is_valid_json(tmp_path):
    ev = Evaluator()
    path = ev.write_json(tmp_path / "s.json")
    summary = json.loads(path.read_text())
    assert summary["metrics"]["sdr"] == {"mean": None, "std": None, "median": None}
    assert summary["counts"]["mixtures"] == 0
    from asteroid_wsas.reporting.report import format_row

    assert format_row("nothing", summary, metrics=["sdr"]) == "| nothing | - |"


def test_existing_outputs_are_not_overwritten_without_force(tmp_path):
    refs = sources(2, 2000, "noise", seed=16)
    ev = Evaluator()
    ev.add(refs.sum(0), refs, refs)
    csv_path = tmp_path / "scores.csv"
    csv_path.write_text("keep me")
    with pytest.raises(FileExistsError, match="scores.csv"):
        ev.write_csv(csv_path)
    with pytest.raises(FileExistsError, match="scores.csv"):
        ev.save(csv_path, tmp_path / "summary.json")
    assert not (tmp_path / "summary.json").exists()  # save() wrote neither
    assert csv_path.read_text() == "keep me"
    ev.write_csv(csv_path, force=True)
    assert csv_path.read_text().startswith("mixture_id,")
    json_path = ev.write_json(tmp_path / "summary.json")
    with pytest.raises(FileExistsError, match="summary.json"):
        ev.write_json(json_path)
    ev.save(csv_path, json_path, force=True)


def test_plot_writes_a_png_of_the_per_mixture_scores(tmp_path):
    from matplotlib.image import imread

    ev = Evaluator()
    with pytest.raises(ValueError, match="nothing to plot"):
        ev.plot(tmp_path / "empty.png")
    for seed in range(4):
        refs = sources(2, 2000, "noise", seed=30 + seed)
        ev.add(refs.sum(0), refs, estimates(refs, 5.0 * seed, seed=seed))
    path = ev.plot(tmp_path / "figs" / "scores.png")
    image = imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 600
    assert image[..., :3].std() > 0.05  # not a blank canvas
    with pytest.raises(FileExistsError, match="scores.png"):
        ev.plot(path)
    ev.plot(path, force=True, title="custom")


def test_batches_and_mixed_lengths_keep_the_order_of_addition():
    a = sources(2, 3000, "noise", seed=17)
    b = torch.stack([sources(2, 2000, "noise", seed=s) for s in (18, 19, 20)])
    ev = Evaluator(batch_size=2)
    ev.add(a.sum(0), a, a, mixture_id="a", queries=["x", "y"])
    ev.add(b.sum(1), b, b.flip(1), mixture_id=["b0", "b1", "b2"], queries=[["p", "q"]] * 3)
    ev.add(a.sum(0), a, a)
    assert len(ev) == 5
    ids = [(r["mixture_id"], r["query"]) for r in ev.rows]
    assert ids[:4] == [("a", "x"), ("a", "y"), ("b0", "p"), ("b0", "q")]
    assert ids[-2:] == [("4", "q0"), ("4", "q1")]  # running number by default
    expected = separation_metrics(b.sum(1), b, b.flip(1))["sdr"].flatten().tolist()
    assert [r["sdr"] for r in ev.rows[2:8]] == pytest.approx(expected, abs=1e-9)
    assert [m["mixture_id"] for m in ev.per_mixture()] == ["a", "b0", "b1", "b2", "4"]


# --- bad input --------------------------------------------------------------------------------


@pytest.fixture
def good():
    refs = sources(2, 1000, "noise", seed=21)
    return refs.sum(0), refs, refs.clone()


def test_add_rejects_mismatched_shapes(good):
    mix, refs, ests = good
    ev = Evaluator()
    with pytest.raises(ValueError, match="estimates shape"):
        ev.add(mix, refs, ests[:1])
    with pytest.raises(ValueError, match="estimates shape"):
        ev.add(mix, refs, ests[:, :-1])
    with pytest.raises(ValueError, match="mixture has 999 samples"):
        ev.add(mix[:-1], refs, ests)
    with pytest.raises(ValueError, match="mixture must have shape"):
        ev.add(mix[None], refs, ests)
    with pytest.raises(ValueError, match="mixture has 1 mixtures"):
        ev.add(mix[None], refs.expand(2, 2, -1), ests.expand(2, 2, -1))
    assert len(ev) == 0 and ev.rows == []  # nothing half-added


def test_add_rejects_wrong_rank(good):
    mix, refs, ests = good
    ev = Evaluator()
    with pytest.raises(ValueError, match=r"references must have shape \(K, T\) or \(B, K, T\)"):
        ev.add(mix, refs[0], ests[0])
    with pytest.raises(ValueError, match="references must have shape"):
        ev.add(mix[None, None], refs[None, None], ests[None, None])
    with pytest.raises(ValueError, match="has no samples"):
        ev.add(mix[:0], refs[:, :0], ests[:, :0])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("name", ["mixture", "references", "estimates"])
def test_add_rejects_non_finite_values(good, name, bad):
    args = dict(zip(("mixture", "references", "estimates"), (x.clone() for x in good)))
    args[name].view(-1)[17] = bad
    with pytest.raises(ValueError, match=f"{name} contains NaN or inf"):
        Evaluator().add(**args)


def test_huge_finite_values_are_not_mistaken_for_inf(good):
    mix, refs, ests = good
    big = torch.full_like(refs, 1e308)  # the sum overflows, the values do not
    Evaluator().add(mix, refs, ests + big)


def test_add_rejects_ids_and_queries_that_do_not_fit(good):
    mix, refs, ests = good
    ev = Evaluator()
    with pytest.raises(ValueError, match="queries must give 2 query texts"):
        ev.add(mix, refs, ests, queries=["only one"])
    with pytest.raises(ValueError, match="queries must give 2 query texts"):
        ev.add(mix, refs, ests, queries="ab")
    batch = (mix.expand(2, -1), refs.expand(2, 2, -1), ests.expand(2, 2, -1))
    with pytest.raises(ValueError, match="mixture_id has 3 ids for 2 mixtures"):
        ev.add(*batch, mixture_id=["a", "b", "c"])
    with pytest.raises(ValueError, match="mixture_id must be a sequence"):
        ev.add(*batch, mixture_id="a")
    with pytest.raises(ValueError, match="queries has 1 entries for 2 mixtures"):
        ev.add(*batch, queries=[["a", "b"]])


def test_functions_and_settings_reject_bad_arguments(good):
    mix, refs, ests = good
    with pytest.raises(ValueError, match="estimates shape"):
        bss_eval(refs, ests[:1])
    with pytest.raises(ValueError, match="references must have at least 2"):
        bss_eval(refs[0], ests[0])
    with pytest.raises(ValueError, match="mixture shape"):
        separation_metrics(mix[:-1], refs, ests)
    with pytest.raises(ValueError, match="estimates contain|estimates contains NaN"):
        separation_metrics(mix, refs, ests * math.nan)
    with pytest.raises(ValueError, match="estimates shape"):
        si_sdr(refs, ests[0])
    with pytest.raises(ValueError, match="skip_policy"):
        Evaluator(skip_policy="query")
    with pytest.raises(ValueError, match="batch_size"):
        Evaluator(batch_size=0)
    with pytest.raises(ValueError, match="filter_length"):
        Evaluator(filter_length=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    refs = sources(2, SR, "noise", seed=22)
    ests = estimates(refs, 10.0, seed=22)
    cpu = separation_metrics(refs.sum(0), refs, ests)
    gpu = separation_metrics(refs.sum(0).cuda(), refs.cuda(), ests.cuda())
    for name in METRICS:
        torch.testing.assert_close(gpu[name].cpu(), cpu[name], rtol=0, atol=1e-6)
    ev = Evaluator()
    ev.add(refs.sum(0).cuda(), refs.cuda(), ests.cuda())
    assert ev.rows[0]["sdr"] == pytest.approx(cpu["sdr"][0].item(), abs=1e-6)


def test_energy_sdr_is_the_dcase_audiosep_formula():
    g = torch.Generator().manual_seed(3)
    ref = torch.randn(2, 3, 4000, generator=g, dtype=torch.float64)
    est = 0.8 * ref + 0.3 * torch.randn(2, 3, 4000, generator=g, dtype=torch.float64)
    # the formula as DCASE 2024 Task 9's and AudioSep's evaluation write it, in numpy
    r, e = ref.numpy(), est.numpy()
    expected = 10 * np.log10((r**2).sum(-1) / ((r - e) ** 2).sum(-1))
    np.testing.assert_allclose(energy_sdr(ref, est).numpy(), expected, rtol=1e-10)
    # no scale freedom, unlike BSS-Eval and SI-SDR: a gain error costs
    assert energy_sdr(ref, 0.5 * ref).sub(10 * math.log10(4)).abs().max() < 1e-9
    assert torch.isnan(energy_sdr(torch.zeros(1, 50), torch.ones(1, 50))).all()
    torch.testing.assert_close(
        energy_sdr(ref, ref), torch.full((2, 3), 100.0, dtype=torch.float64)
    )  # clamped
    with pytest.raises(ValueError, match="shape"):
        energy_sdr(ref, est[..., :10])


def test_separation_metrics_carry_the_energy_ratio_columns():
    g = torch.Generator().manual_seed(4)
    refs = torch.randn(3, 2, 8000, generator=g, dtype=torch.float64)
    mix = refs.sum(1)
    ests = refs + 0.2 * refs.flip(1)
    m = separation_metrics(mix, refs, ests)
    torch.testing.assert_close(m["esdr"], energy_sdr(refs, ests))
    torch.testing.assert_close(
        m["esdri"], m["esdr"] - energy_sdr(refs, mix[:, None].expand_as(refs))
    )
    # the gain-free score is never above the filtered BSS-Eval SDR of the same estimate
    assert (m["esdr"] <= m["sdr"] + 1e-9).all()
