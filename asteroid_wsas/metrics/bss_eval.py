"""Separation metrics for the test sets: BSS-Eval v3 without permutation, SI-SDR, improvements.

Each estimate is scored against **its own** reference (the query that produced it), as
``mir_eval.separation.bss_eval_sources(ref, est, compute_permutation=False)`` does: SDR, SIR
and SAR with distortion filters of 512 taps. SI-SDR is the zero-mean scale-invariant SDR.
``sdri`` and ``si_sdri`` are the scores minus those of the unprocessed mixture used as the
estimate, under the same call semantics (the paper's "SDRi").

The decomposition is computed by the maintained ``fast_bss_eval`` torch backend in float64
(CPU or CUDA, batched over mixtures), called pairwise so that a mixture's K estimates and the
mixture itself share one solve per reference (``tests/test_metrics.py`` checks the scores
against mir_eval; ``bench/eval_speed.py`` times both). :class:`~asteroid_wsas.metrics.evaluator.Evaluator`
(its own module) accumulates test mixtures, skips near-silent references, and writes a
per-query CSV and a JSON summary.

Names follow Asteroid (``sdr``, ``sir``, ``sar``, ``si_sdr``); the improvements are ``sdri``
and ``si_sdri`` (Asteroid's ``sdr_imp`` / ``si_sdr_imp``).

``esdr`` / ``esdri`` are the second convention of the field: the energy-ratio SDR
``10 log10(|s|^2 / |s - s_hat|^2)`` with no distortion filter and no scale freedom (the SNR of
the estimate), which DCASE 2024 Task 9 (language-queried separation) and AudioSep report as
"SDR" / "SDRi". It punishes any gain or filtering error that BSS-Eval forgives, so it is lower
than ``sdr`` for the same estimate.
"""

import math
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from fast_bss_eval.torch import square_cosine_metrics

__all__ = [
    "METRICS",
    "TABLE_METRICS",
    "LABELS",
    "bss_eval",
    "si_sdr",
    "energy_sdr",
    "separation_metrics",
    "silent_sources",
]

METRICS = ("sdr", "sir", "sar", "si_sdr", "sdri", "si_sdri", "esdr", "esdri")
# The columns of the paper's Table 1.
TABLE_METRICS = ("sdr", "sir", "sar", "sdri")
LABELS = {
    "sdr": "SDR",
    "sir": "SIR",
    "sar": "SAR",
    "si_sdr": "SI-SDR",
    "sdri": "SDRi",
    "si_sdri": "SI-SDRi",
    "esdr": "eSDR",
    "esdri": "eSDRi",
}

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence[float]]


# --------------------------------------------------------------------------------------------
# Core: squared cosines between estimates and the subspaces of delayed references
# --------------------------------------------------------------------------------------------

# Diagonal loading for Gram matrices that cannot be solved as they are (an all-zero reference,
# or references that are exactly linearly dependent): small enough to move the other scores
# by about 1e-6 dB (tests/test_metrics.py), large enough to make the system solvable.
LOAD_DIAG = 1e-10


def _unit_norm(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Scale each signal to unit energy; all-zero signals stay zero (and are reported).

    fast_bss_eval normalises too, but clamps tiny norms to 1e-6, which would shrink the
    scores of very quiet signals: normalising first keeps BSS-Eval scale invariant.
    """
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    is_zero = norm == 0
    return x / torch.where(is_zero, torch.ones_like(norm), norm), is_zero.squeeze(-1)


def _cosines(
    references: torch.Tensor,
    estimates: torch.Tensor,
    filter_length: int,
    ref_zero: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Squared cosines of each estimate with the delayed-reference subspaces.

    A thin layer over ``fast_bss_eval.torch.square_cosine_metrics`` (pairwise, so that one
    solve per reference serves every estimate, the mixture included), with diagonal loading
    where the references make the system singular.

    Args:
        references: unit-norm (or all-zero) references, float64.
        estimates: unit-norm (or all-zero) estimates, float64.
        filter_length: number of delays (taps of the distortion filter).
        ref_zero: which references are all zero.

    Returns:
        ``(own, all)``: ``own[..., k, m] = ||P_k e_m||^2`` (projection on the delays of
        reference k) and ``all[..., m] = ||P e_m||^2`` (on the delays of all references).

    Shape:
        references (B, K, T), estimates (B, M, T) -> own (B, K, M), all (B, M).
    """

    def solve(load_diag: Optional[float]) -> Tuple[torch.Tensor, torch.Tensor]:
        return square_cosine_metrics(
            references, estimates, filter_length=filter_length, pairwise=True, load_diag=load_diag
        )

    if bool(ref_zero.any()):
        own, full = solve(LOAD_DIAG)
    else:
        try:
            own, full = solve(None)
        except torch.linalg.LinAlgError:  # exactly dependent references
            own, full = solve(LOAD_DIAG)
    return own, full[..., 0, :]  # pairwise output repeats ``all`` over the references


def _to_db(ratio_num: torch.Tensor, clamp_db: Optional[float]) -> torch.Tensor:
    """``10 log10(c / (1 - c))`` for a squared cosine ``c``, limited to +-clamp_db."""
    if clamp_db is None:
        eps = 0.0
    else:
        small = 10.0 ** (-clamp_db / 10.0)
        eps = small / (1.0 + small)
    c = ratio_num.clamp(min=eps, max=1.0 - eps)
    return 10.0 * torch.log10(c / (1.0 - c))


def _check_signals(x: Any, name: str, min_dim: int = 1) -> torch.Tensor:
    """A float64 tensor with finite values, on the input's device."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if not (x.is_floating_point() or x.dtype in (torch.int16, torch.int32, torch.int64)):
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if x.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimension(s), got {tuple(x.shape)}")
    if x.shape[-1] == 0:
        raise ValueError(f"{name} has no samples (shape {tuple(x.shape)})")
    x = x.detach().to(torch.float64)
    # a finite sum means finite values, and one summing pass is cheaper than isfinite
    if not math.isfinite(float(x.sum())) and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf values")
    return x


def _check_pair(references: Any, estimates: Any) -> Tuple[torch.Tensor, torch.Tensor]:
    references = _check_signals(references, "references", min_dim=2)
    estimates = _check_signals(estimates, "estimates", min_dim=2)
    if references.shape != estimates.shape:
        raise ValueError(
            f"estimates shape {tuple(estimates.shape)} does not match references shape "
            f"{tuple(references.shape)} (one estimate per reference, same length)"
        )
    return references, estimates.to(references.device)


def _fill_zero_estimates(
    scores: torch.Tensor, est_zero: torch.Tensor, ref_zero: torch.Tensor, clamp_db
) -> torch.Tensor:
    """An all-zero estimate gets the worst score; an all-zero reference has none (NaN)."""
    worst = -math.inf if clamp_db is None else -float(clamp_db)
    scores = torch.where(est_zero, torch.full_like(scores, worst), scores)
    return torch.where(ref_zero, torch.full_like(scores, math.nan), scores)


def bss_eval(
    references: ArrayLike,
    estimates: ArrayLike,
    *,
    filter_length: int = 512,
    clamp_db: Optional[float] = 100.0,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BSS-Eval v3 SDR, SIR and SAR, each estimate against its own reference.

    Equals ``mir_eval.separation.bss_eval_sources(references, estimates,
    compute_permutation=False)[:3]`` (to about 1e-9 dB on the tests' signals), batched over
    leading dimensions and computed in float64 on the input's device.

    Args:
        references: reference sources; all of them span the interference subspace.
        estimates: one estimate per reference, in the same order (no permutation).
        filter_length: taps of the allowed distortion filter (512 in BSS-Eval v3).
        clamp_db: scores are limited to ``[-clamp_db, clamp_db]`` (None: no limit, a
            perfect estimate then scores +inf). An all-zero estimate scores ``-clamp_db``;
            an all-zero reference has no score (NaN).

    Returns:
        ``(sdr, sir, sar)`` in dB, float64 tensors.

    Shape:
        references, estimates: ``(..., K, T)`` -> each output ``(..., K)``.

    Examples:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> refs = torch.randn(2, 16000, generator=g)
        >>> est = refs + 0.1 * refs.flip(0) + 0.1 * torch.randn(2, 16000, generator=g)
        >>> sdr, sir, sar = bss_eval(refs, est)
        >>> [round(x, 1) for x in sdr.tolist()], [round(x, 1) for x in sir.tolist()]
        ([17.2, 17.1], [20.0, 20.0])
        >>> bss_eval(refs, est.flip(0))[0] < 0  # swapped: no permutation is searched
        tensor([True, True])
    """
    refs, ests = _check_pair(references, estimates)
    lead, (n_src, n_samples) = refs.shape[:-2], refs.shape[-2:]
    refs = refs.reshape(-1, n_src, n_samples)
    ests = ests.reshape(-1, n_src, n_samples)
    refs_n, ref_zero = _unit_norm(refs)
    ests_n, est_zero = _unit_norm(ests)
    own, full = _cosines(refs_n, ests_n, filter_length, ref_zero)
    own = own.diagonal(dim1=-2, dim2=-1)  # estimate k on reference k
    sir_cos = own / torch.where(full > 0, full, 1.0)
    out = [_to_db(own, clamp_db), _to_db(sir_cos, clamp_db), _to_db(full, clamp_db)]
    return tuple(
        _fill_zero_estimates(x, est_zero, ref_zero, clamp_db).reshape(*lead, n_src) for x in out
    )


def _si_cosines(references: torch.Tensor, estimates: torch.Tensor):
    """Squared cosines between zero-mean signals, all pairs; and which signals are constant.

    Shape:
        references (..., K, T), estimates (..., M, T) -> (..., K, M), (..., K), (..., M).
    """
    r = references - references.mean(-1, keepdim=True)
    e = estimates - estimates.mean(-1, keepdim=True)
    r_energy, e_energy = r.square().sum(-1), e.square().sum(-1)
    den = r_energy[..., :, None] * e_energy[..., None, :]
    cos = (r @ e.mT).square() / torch.where(den > 0, den, 1.0)
    return cos, r_energy == 0, e_energy == 0


def si_sdr(
    references: ArrayLike, estimates: ArrayLike, *, clamp_db: Optional[float] = 100.0
) -> torch.Tensor:
    """Scale-invariant SDR (Le Roux et al. 2019) of zero-mean signals, as Asteroid computes it.

    ``SI-SDR = 10 log10(||a r||^2 / ||a r - e||^2)`` with ``a = <e, r> / ||r||^2`` after
    removing the means of ``r`` and ``e``.

    Args:
        references: reference signals.
        estimates: estimates, paired with ``references`` element by element.
        clamp_db: limit of the scores, as in :func:`bss_eval`.

    Returns:
        SI-SDR in dB (float64); ``-clamp_db`` for a constant estimate, NaN for a constant
        reference.

    Shape:
        references, estimates: ``(..., T)`` -> ``(...)``.

    Examples:
        >>> import torch
        >>> ref = torch.sin(torch.arange(8000) * 0.05)
        >>> noisy = ref + 0.1 * torch.cos(torch.arange(8000) * 0.31)
        >>> round(si_sdr(ref, noisy).item(), 2), round(si_sdr(ref, -3.0 * noisy).item(), 2)
        (19.99, 19.99)
    """
    refs = _check_signals(references, "references")
    ests = _check_signals(estimates, "estimates")
    if refs.shape != ests.shape:
        raise ValueError(
            f"estimates shape {tuple(ests.shape)} does not match references shape "
            f"{tuple(refs.shape)}"
        )
    cos, ref_const, est_const = _si_cosines(refs[..., None, :], ests.to(refs.device)[..., None, :])
    scores = _to_db(cos[..., 0, 0], clamp_db)
    return _fill_zero_estimates(scores, est_const[..., 0], ref_const[..., 0], clamp_db)


def energy_sdr(
    references: ArrayLike, estimates: ArrayLike, clamp_db: Optional[float] = 100.0
) -> torch.Tensor:
    """Energy-ratio SDR: ``10 log10(|s|^2 / |s - s_hat|^2)`` of each estimate against its own
    reference (DCASE 2024 Task 9 and AudioSep's "SDR"; no distortion filter, no rescaling).

    Args:
        references: the reference of each estimate.
        estimates: the estimates, in the order of ``references``.
        clamp_db: limit of every score (a perfect estimate gets +clamp_db); None: no limit.

    Returns:
        float64 tensor in dB; NaN where the reference is all zeros.

    Shape:
        references and estimates ``(..., T)`` -> ``(...)``.

    Examples:
        >>> import torch
        >>> ref = torch.ones(1000)
        >>> round(energy_sdr(ref, 0.9 * ref).item(), 2)  # a 10 % gain error: 20 dB
        20.0
    """
    refs = _check_signals(references, "references")
    ests = _check_signals(estimates, "estimates").to(refs.device)
    if refs.shape != ests.shape:
        raise ValueError(
            f"references shape {tuple(refs.shape)} != estimates shape {tuple(ests.shape)}"
        )
    return _energy_sdr(refs, ests, clamp_db)


def _energy_sdr(refs: torch.Tensor, ests: torch.Tensor, clamp_db: Optional[float]) -> torch.Tensor:
    signal = refs.square().sum(-1)
    noise = (refs - ests).square().sum(-1)
    # as a squared cosine c = signal / (signal + noise), so _to_db clamps it like the others
    total = signal + noise
    scores = _to_db(
        torch.where(total > 0, signal / torch.where(total > 0, total, 1.0), 0.0), clamp_db
    )
    return torch.where(signal == 0, torch.full_like(scores, math.nan), scores)


def separation_metrics(
    mixture: ArrayLike,
    references: ArrayLike,
    estimates: ArrayLike,
    *,
    filter_length: int = 512,
    clamp_db: Optional[float] = 100.0,
) -> Dict[str, torch.Tensor]:
    """All of :data:`METRICS` for each estimate, and the improvements over the mixture.

    ``sdri[k] = sdr(estimates[k]) - sdr(mixture)`` where the mixture is scored as the
    estimate of reference k with the same references (as the paper and Sound of Pixels do:
    ``bss_eval_sources(refs, [mix] * K, False)``); ``si_sdri`` likewise. The K estimates and
    the mixture share the solves of one mixture.

    Args:
        mixture: the input mixture.
        references: the reference source of each query.
        estimates: the separated output of each query, in the order of ``references``.
        filter_length: taps of the BSS-Eval distortion filter.
        clamp_db: limit of every score, as in :func:`bss_eval`.

    Returns:
        A dict from each name in :data:`METRICS` to a float64 tensor in dB.

    Shape:
        mixture ``(..., T)``, references and estimates ``(..., K, T)`` -> each ``(..., K)``.

    Examples:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> refs = torch.randn(2, 16000, generator=g)
        >>> mix = refs.sum(0)
        >>> m = separation_metrics(mix, refs, torch.stack([mix, mix]))
        >>> m["sdri"].abs().max() < 1e-9  # the mixture as its own estimate gains nothing
        tensor(True)
        >>> m = separation_metrics(mix, refs, refs + 0.1 * refs.flip(0))
        >>> [round(x, 1) for x in m["sdri"].tolist()]
        [20.0, 19.9]
    """
    refs, ests = _check_pair(references, estimates)
    mix = _check_signals(mixture, "mixture").to(refs.device)
    if mix.shape != refs.shape[:-2] + refs.shape[-1:]:
        raise ValueError(
            f"mixture shape {tuple(mix.shape)} does not match references shape "
            f"{tuple(refs.shape)}: expected {tuple(refs.shape[:-2] + refs.shape[-1:])} "
            "(same batch dimensions and number of samples)"
        )
    lead, (n_src, n_samples) = refs.shape[:-2], refs.shape[-2:]
    out = _separation_metrics(
        mix.reshape(-1, n_samples),
        refs.reshape(-1, n_src, n_samples),
        ests.reshape(-1, n_src, n_samples),
        filter_length,
        clamp_db,
    )
    return {k: v.reshape(*lead, n_src) for k, v in out.items()}


def _separation_metrics(
    mix: torch.Tensor,
    refs: torch.Tensor,
    ests: torch.Tensor,
    filter_length: int,
    clamp_db: Optional[float],
) -> Dict[str, torch.Tensor]:
    """:func:`separation_metrics` on checked float64 inputs (B, T), (B, K, T), (B, K, T)."""
    n_src = refs.shape[1]
    both = torch.cat([ests, mix[:, None]], dim=1)  # the mixture is estimate K of every ref
    refs_n, ref_zero = _unit_norm(refs)
    both_n, both_zero = _unit_norm(both)
    own, full = _cosines(refs_n, both_n, filter_length, ref_zero)
    idx = torch.arange(n_src, device=refs.device)
    own_est, own_mix = own[:, idx, idx], own[:, :, n_src]
    full_est, full_mix = full[:, :n_src], full[:, n_src:].expand_as(own_mix)
    est_zero, mix_zero = both_zero[:, :n_src], both_zero[:, n_src:].expand_as(own_mix)

    def bss(own_c, full_c, zero, sdr_only=False):
        if sdr_only:
            return _fill_zero_estimates(_to_db(own_c, clamp_db), zero, ref_zero, clamp_db)
        sir_c = own_c / torch.where(full_c > 0, full_c, 1.0)
        out = (_to_db(own_c, clamp_db), _to_db(sir_c, clamp_db), _to_db(full_c, clamp_db))
        return [_fill_zero_estimates(x, zero, ref_zero, clamp_db) for x in out]

    sdr, sir, sar = bss(own_est, full_est, est_zero)
    sdr_mix = bss(own_mix, full_mix, mix_zero, sdr_only=True)

    # SI-SDR of the estimates and of the mixture: zero-mean signals, centred once
    cos, ref_const, both_const = _si_cosines(refs, both)
    si_est = _to_db(cos[:, idx, idx], clamp_db)
    si_est = _fill_zero_estimates(si_est, both_const[:, :n_src], ref_const, clamp_db)
    si_mix = _to_db(cos[:, :, n_src], clamp_db)
    si_mix = _fill_zero_estimates(si_mix, both_const[:, n_src:], ref_const, clamp_db)
    e_est = _energy_sdr(refs, ests, clamp_db)
    e_mix = _energy_sdr(refs, mix[:, None].expand_as(refs), clamp_db)
    return {
        "sdr": sdr,
        "sir": sir,
        "sar": sar,
        "si_sdr": si_est,
        "sdri": sdr - sdr_mix,
        "si_sdri": si_est - si_mix,
        "esdr": e_est,
        "esdri": e_est - e_mix,
    }


def silent_sources(
    mixture: ArrayLike,
    signals: ArrayLike,
    *,
    rel_db: Optional[float] = -60.0,
    abs_floor: Optional[float] = 1e-5,
) -> torch.Tensor:
    """Which signals are near-silent: too quiet to be scored.

    A signal is silent when ``sum |x| <= abs_floor`` (the rule of Sound of Pixels / CLIPSep's
    evaluation, whose protocol the paper follows) or when its energy is more than
    ``-rel_db`` dB below the mixture's: ``sum x^2 < 10^(rel_db / 10) * sum mixture^2``.

    Args:
        mixture: the mixture the signals belong to.
        signals: references (or estimates) of that mixture.
        rel_db: level relative to the mixture's energy, in dB (None: no relative test).
        abs_floor: floor on the sum of absolute sample values (None: no absolute test).

    Returns:
        A bool tensor, True for a silent signal.

    Shape:
        mixture ``(..., T)``, signals ``(..., K, T)`` -> ``(..., K)``.

    Examples:
        >>> import torch
        >>> mix = torch.ones(100)
        >>> silent_sources(mix, torch.stack([mix, 1e-4 * mix, torch.zeros(100)]))
        tensor([False,  True,  True])
    """
    mix = _check_signals(mixture, "mixture")
    sig = _check_signals(signals, "signals", min_dim=2).to(mix.device)
    if mix.shape != sig.shape[:-2] + sig.shape[-1:]:
        raise ValueError(
            f"mixture shape {tuple(mix.shape)} does not match signals shape {tuple(sig.shape)}"
        )
    return _silent(mix, sig, rel_db, abs_floor)


def _silent(
    mix: torch.Tensor, sig: torch.Tensor, rel_db: Optional[float], abs_floor: Optional[float]
) -> torch.Tensor:
    silent = torch.zeros(sig.shape[:-1], dtype=torch.bool, device=sig.device)
    if abs_floor is not None:
        silent |= sig.abs().sum(-1) <= abs_floor
    if rel_db is not None:
        floor = 10.0 ** (rel_db / 10.0) * mix.square().sum(-1, keepdim=True)
        silent |= sig.square().sum(-1) < floor
    return silent
