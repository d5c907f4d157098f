"""Separation metrics for the test sets: BSS-Eval v3 without permutation, SI-SDR, improvements.

Each estimate is scored against **its own** reference (the query that produced it), as
``mir_eval.separation.bss_eval_sources(ref, est, compute_permutation=False)`` does: SDR, SIR
and SAR with distortion filters of 512 taps. SI-SDR is the zero-mean scale-invariant SDR.
``sdri`` and ``si_sdri`` are the scores minus those of the unprocessed mixture used as the
estimate, under the same call semantics (the paper's "SDRi").

The decomposition is computed by the maintained ``fast_bss_eval`` torch backend in float64
(CPU or CUDA, batched over mixtures), called pairwise so that a mixture's K estimates and the
mixture itself share one solve per reference (``tests/test_metrics.py`` checks the scores
against mir_eval; ``bench/eval_speed.py`` times both). :class:`Evaluator` accumulates test mixtures, skips
near-silent references, and writes a per-query CSV and a JSON summary (mean and std over
mixtures of the per-mixture means over sources).

Names follow Asteroid (``sdr``, ``sir``, ``sar``, ``si_sdr``); the improvements are ``sdri``
and ``si_sdri`` (Asteroid's ``sdr_imp`` / ``si_sdr_imp``).
"""

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from fast_bss_eval.torch import square_cosine_metrics
from .utils import refuse_overwrite

__all__ = [
    "METRICS",
    "TABLE_METRICS",
    "bss_eval",
    "si_sdr",
    "separation_metrics",
    "silent_sources",
    "Evaluator",
    "format_row",
    "format_table",
]

METRICS = ("sdr", "sir", "sar", "si_sdr", "sdri", "si_sdri")
# The columns of the paper's Table 1.
TABLE_METRICS = ("sdr", "sir", "sar", "sdri")
LABELS = {
    "sdr": "SDR",
    "sir": "SIR",
    "sar": "SAR",
    "si_sdr": "SI-SDR",
    "sdri": "SDRi",
    "si_sdri": "SI-SDRi",
}
SKIP_POLICIES = ("source", "mixture")
# Mixtures per scoring call: small batches stay in cache on CPU (bench/eval_speed.py).
CPU_BATCH = 2
GPU_BATCH = 32
CSV_COLUMNS = ("mixture_id", "query", "source") + METRICS + ("skipped", "silent_estimate")

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
    return {
        "sdr": sdr,
        "sir": sir,
        "sar": sar,
        "si_sdr": si_est,
        "sdri": sdr - sdr_mix,
        "si_sdri": si_est - si_mix,
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


# --------------------------------------------------------------------------------------------
# Evaluator: accumulate test mixtures, write CSV + JSON
# --------------------------------------------------------------------------------------------


class Evaluator:
    """Scores test mixtures query by query and aggregates them as the paper does.

    Each added mixture gives one row per query (its reference, its estimate). A query whose
    reference is near-silent (:func:`silent_sources`) is *skipped*: it gets no scores, does
    not enter the averages and is counted. The summary averages the scored queries of each
    mixture, then reports mean and std (population, ddof=0) of those per-mixture means over
    the mixtures with at least one scored query. Skipped references still span the
    interference subspace of the other queries, as in mir_eval on the full mixture.

    Mixtures are buffered and scored ``batch_size`` at a time (those of equal shape share a
    call); reading :attr:`rows`, :meth:`summary` or writing flushes the buffer.

    Args:
        filter_length: taps of the BSS-Eval distortion filter (512).
        silence_rel_db: a reference more than ``-silence_rel_db`` dB below the mixture's
            energy is silent (None: off).
        silence_abs: a reference with ``sum |x| <= silence_abs`` is silent (None: off).
        skip_policy: ``"source"`` skips silent references one by one (estimates are always
            scored; an all-zero estimate scores ``-clamp_db``). ``"mixture"`` is Sound of
            Pixels / CLIPSep's rule: a mixture is skipped whole if any of its references or
            estimates is silent.
        clamp_db: scores are limited to ``[-clamp_db, clamp_db]``.
        batch_size: mixtures per scoring call; default 2 on CPU (larger batches run slower
            there: their intermediates leave the cache) and 32 on GPU.
        device: where to compute (default: where the inputs are).

    Examples:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> refs = torch.randn(2, 8000, generator=g)
        >>> ev = Evaluator()
        >>> ev.add(refs.sum(0), refs, refs + 0.1 * refs.flip(0), mixture_id="a",
        ...        queries=["dog barking", "rain"])
        >>> ev.add(refs.sum(0), torch.stack([refs[0], 0 * refs[1]]), refs, mixture_id="b")
        >>> [(r["mixture_id"], r["query"], r["skipped"]) for r in ev.rows]
        [('a', 'dog barking', False), ('a', 'rain', False), ('b', 'q0', False), ('b', 'q1', True)]
        >>> s = ev.summary()
        >>> s["counts"]["sources_skipped"], round(s["metrics"]["sdr"]["mean"], 1)
        (1, 60.1)
    """

    def __init__(
        self,
        *,
        filter_length: int = 512,
        silence_rel_db: Optional[float] = -60.0,
        silence_abs: Optional[float] = 1e-5,
        skip_policy: str = "source",
        clamp_db: Optional[float] = 100.0,
        batch_size: Optional[int] = None,
        device: Optional[Union[str, torch.device]] = None,
    ):
        if skip_policy not in SKIP_POLICIES:
            raise ValueError(f"skip_policy must be one of {SKIP_POLICIES}, got {skip_policy!r}")
        if filter_length < 1:
            raise ValueError(f"filter_length must be >= 1, got {filter_length}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.filter_length = filter_length
        self.silence_rel_db = silence_rel_db
        self.silence_abs = silence_abs
        self.skip_policy = skip_policy
        self.clamp_db = clamp_db
        self.batch_size = batch_size
        self.device = None if device is None else torch.device(device)
        self._pending: List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor, str, List[str]]] = []
        self._rows: List[Dict[str, Any]] = []
        self._mixtures: List[Tuple[str, int, int]] = []  # id, first and end row
        self._n_added = 0

    def __len__(self) -> int:
        """Number of mixtures added so far."""
        return self._n_added

    def add(
        self,
        mixture: ArrayLike,
        references: ArrayLike,
        estimates: ArrayLike,
        *,
        mixture_id: Optional[Union[str, int, Sequence[Union[str, int]]]] = None,
        queries: Optional[Union[Sequence[str], Sequence[Sequence[str]]]] = None,
    ) -> None:
        """Add one mixture, or a batch of mixtures of equal shape.

        Args:
            mixture: the mixture(s).
            references: the reference source of each query.
            estimates: the separated output of each query, in the order of ``references``.
            mixture_id: an id for the CSV (one per mixture for a batch); default: a running
                number.
            queries: the K query texts (a list of K lists for a batch); default ``q0``,
                ``q1``, ...

        Shape:
            one mixture: mixture ``(T,)``, references and estimates ``(K, T)``; a batch:
            ``(B, T)`` and ``(B, K, T)``.

        Raises:
            ValueError: naming the argument, for a wrong rank, mismatched shapes or lengths,
                NaN/inf values, or ids/queries that do not match the shapes.
        """
        mix = _check_signals(mixture, "mixture")
        refs = _check_signals(references, "references")
        ests = _check_signals(estimates, "estimates")
        if refs.dim() not in (2, 3):
            raise ValueError(
                f"references must have shape (K, T) or (B, K, T), got {tuple(refs.shape)}"
            )
        if ests.shape != refs.shape:
            raise ValueError(
                f"estimates shape {tuple(ests.shape)} does not match references shape "
                f"{tuple(refs.shape)} (one estimate per reference, same length)"
            )
        if mix.dim() != refs.dim() - 1:
            want = "(T,)" if refs.dim() == 2 else "(B, T)"
            raise ValueError(
                f"mixture must have shape {want} for references of shape {tuple(refs.shape)}, "
                f"got {tuple(mix.shape)}"
            )
        batched = refs.dim() == 3
        if not batched:
            mix, refs, ests = mix[None], refs[None], ests[None]
            mixture_id = None if mixture_id is None else [mixture_id]
            queries = None if queries is None else [queries]
        n_mix, n_src, n_samples = refs.shape
        if mix.shape[0] != n_mix:
            raise ValueError(f"mixture has {mix.shape[0]} mixtures but references have {n_mix}")
        if mix.shape[-1] != n_samples:
            raise ValueError(
                f"mixture has {mix.shape[-1]} samples but references and estimates have "
                f"{n_samples}"
            )
        ids = self._ids(mixture_id, n_mix, batched)
        names = self._queries(queries, n_mix, n_src)
        device = self.device or refs.device
        for b in range(n_mix):
            item = (mix[b].to(device), refs[b].to(device), ests[b].to(device))
            self._pending.append(item + (ids[b], names[b]))
        self._n_added += n_mix
        if len(self._pending) >= (self.batch_size or GPU_BATCH):
            self.flush()

    def _ids(self, mixture_id, n_mix: int, batched: bool) -> List[str]:
        if mixture_id is None:
            return [str(self._n_added + b) for b in range(n_mix)]
        if batched and (isinstance(mixture_id, (str, bytes)) or np.isscalar(mixture_id)):
            raise ValueError(f"mixture_id must be a sequence of {n_mix} ids for a batch")
        ids = [str(i) for i in mixture_id]
        if len(ids) != n_mix:
            raise ValueError(f"mixture_id has {len(ids)} ids for {n_mix} mixtures")
        return ids

    @staticmethod
    def _queries(queries, n_mix: int, n_src: int) -> List[List[str]]:
        if queries is None:
            return [[f"q{k}" for k in range(n_src)] for _ in range(n_mix)]
        if len(queries) != n_mix:
            raise ValueError(f"queries has {len(queries)} entries for {n_mix} mixtures")
        out = []
        for q in queries:
            if isinstance(q, str) or len(q) != n_src:
                raise ValueError(f"queries must give {n_src} query texts per mixture, got {q!r}")
            out.append([str(x) for x in q])
        return out

    def flush(self) -> None:
        """Score the buffered mixtures (rows keep the order in which mixtures were added)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        groups: Dict[Tuple, List[int]] = {}
        for i, (mix, refs, _, _, _) in enumerate(pending):
            groups.setdefault((tuple(refs.shape), mix.device), []).append(i)
        results: Dict[int, Dict[str, List[float]]] = {}
        for key, members in groups.items():
            size = self.batch_size or (CPU_BATCH if key[1].type == "cpu" else GPU_BATCH)
            for start in range(0, len(members), size):
                chunk = members[start : start + size]
                mix = torch.stack([pending[i][0] for i in chunk])
                refs = torch.stack([pending[i][1] for i in chunk])
                ests = torch.stack([pending[i][2] for i in chunk])
                # inputs were checked and converted to float64 by add()
                scores = _separation_metrics(mix, refs, ests, self.filter_length, self.clamp_db)
                rules = (self.silence_rel_db, self.silence_abs)
                # mir_eval refuses all-zero references; they are skipped whatever the settings
                ref_silent = _silent(mix, refs, *rules) | (refs == 0).all(-1)
                est_silent = _silent(mix, ests, *rules)
                skipped = ref_silent
                if self.skip_policy == "mixture":
                    whole = (ref_silent | est_silent).any(-1, keepdim=True)
                    skipped = whole.expand_as(ref_silent)
                cpu = {k: v.cpu().tolist() for k, v in scores.items()}
                skipped, est_silent = skipped.cpu().tolist(), est_silent.cpu().tolist()
                for j, i in enumerate(chunk):
                    results[i] = {k: cpu[k][j] for k in METRICS}
                    results[i]["skipped"] = skipped[j]
                    results[i]["silent_estimate"] = est_silent[j]
        for i, (_, _, _, mixture_id, names) in enumerate(pending):
            res = results[i]
            first = len(self._rows)
            for k, query in enumerate(names):
                skip = bool(res["skipped"][k])
                row: Dict[str, Any] = {"mixture_id": mixture_id, "query": query, "source": k}
                row.update({m: math.nan if skip else float(res[m][k]) for m in METRICS})
                row["skipped"] = skip
                row["silent_estimate"] = bool(res["silent_estimate"][k])
                self._rows.append(row)
            self._mixtures.append((mixture_id, first, len(self._rows)))

    @property
    def rows(self) -> List[Dict[str, Any]]:
        """One dict per (mixture, query), skipped ones with NaN scores."""
        self.flush()
        return list(self._rows)

    def per_mixture(self) -> List[Dict[str, Any]]:
        """Per added mixture: its id, its number of scored queries and their mean scores.

        Returns:
            One dict per mixture, in the order added; scores are NaN when every query of the
            mixture was skipped.
        """
        self.flush()
        out: List[Dict[str, Any]] = []
        for mixture_id, first, last in self._mixtures:
            scored = [r for r in self._rows[first:last] if not r["skipped"]]
            entry: Dict[str, Any] = {"mixture_id": mixture_id, "scored": len(scored)}
            for m in METRICS:
                entry[m] = float(np.mean([r[m] for r in scored])) if scored else math.nan
            out.append(entry)
        return out

    def summary(self) -> Dict[str, Any]:
        """Mean and std over mixtures of the per-mixture means, counts and settings.

        Returns:
            ``{"metrics": {name: {"mean", "std", "median"}}, "counts": {...},
            "settings": {...}}``; a mean with nothing to average is None.
        """
        mixtures = self.per_mixture()
        scored = [m for m in mixtures if m["scored"] > 0]
        metrics: Dict[str, Dict[str, Optional[float]]] = {}
        for m in METRICS:
            values = np.array([x[m] for x in scored], dtype=np.float64)
            if len(values):
                metrics[m] = {
                    "mean": float(values.mean()),
                    "std": float(values.std()),
                    "median": float(np.median(values)),
                }
            else:
                metrics[m] = {"mean": None, "std": None, "median": None}
        rows = self._rows
        counts = {
            "mixtures": len(mixtures),
            "mixtures_scored": len(scored),
            "sources": len(rows),
            "sources_scored": sum(not r["skipped"] for r in rows),
            "sources_skipped": sum(r["skipped"] for r in rows),
            "silent_estimates_scored": sum(r["silent_estimate"] and not r["skipped"] for r in rows),
        }
        settings = {
            "bss_eval": "v3, no permutation (mir_eval bss_eval_sources compute_permutation=False)",
            "filter_length": self.filter_length,
            "si_sdr": "zero-mean",
            "improvement": "score of the estimate minus score of the mixture as the estimate",
            "averaging": "mean over the scored queries of a mixture, then over mixtures",
            "std": "population (ddof=0) over mixtures",
            "silence_rel_db": self.silence_rel_db,
            "silence_abs": self.silence_abs,
            "skip_policy": self.skip_policy,
            "clamp_db": self.clamp_db,
        }
        return {"metrics": metrics, "counts": counts, "settings": settings}

    def write_csv(self, path: Union[str, os.PathLike], *, force: bool = False) -> Path:
        """Write one row per (mixture, query): :data:`CSV_COLUMNS`; skipped scores are empty.

        Raises:
            FileExistsError: ``path`` exists and ``force`` is False.
        """
        path = _writable(path, force)
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS)
            for r in self.rows:
                cells = [r["mixture_id"], r["query"], r["source"]]
                cells += ["" if math.isnan(r[m]) else f"{r[m]:.6f}" for m in METRICS]
                cells += [int(r["skipped"]), int(r["silent_estimate"])]
                writer.writerow(cells)
        return path

    def write_json(self, path: Union[str, os.PathLike], *, force: bool = False) -> Path:
        """Write :meth:`summary` as JSON.

        Raises:
            FileExistsError: ``path`` exists and ``force`` is False.
        """
        path = _writable(path, force)
        path.write_text(json.dumps(self.summary(), indent=2) + "\n")
        return path

    def save(
        self,
        csv_path: Union[str, os.PathLike],
        json_path: Union[str, os.PathLike],
        *,
        force: bool = False,
    ) -> Tuple[Path, Path]:
        """Write both files; neither is written if either exists and ``force`` is False."""
        _writable(csv_path, force)
        _writable(json_path, force)
        return self.write_csv(csv_path, force=force), self.write_json(json_path, force=force)

    def plot(
        self, path: Union[str, os.PathLike], *, title: Optional[str] = None, force: bool = False
    ) -> Path:
        """Box plots of the per-mixture scores: the distributions behind the summary's mean ± std.

        Left panel: SDR, SIR, SAR and SI-SDR; right panel: the improvements SDRi and SI-SDRi.
        Boxes span the quartiles, whiskers 1.5 IQR, the white dot is the mean.

        Args:
            path: the PNG to write.
            title: figure title (default: the counts of scored mixtures and skipped queries).
            force: overwrite an existing file.

        Returns:
            The path written.

        Raises:
            FileExistsError: ``path`` exists and ``force`` is False.
            ValueError: no mixture has a scored query.
        """
        from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

        scored = [m for m in self.per_mixture() if m["scored"] > 0]
        if not scored:
            raise ValueError("nothing to plot: no mixture has a scored query")
        path = _writable(path, force)
        counts = self.summary()["counts"]
        fig = Figure(figsize=(9, 4), layout="constrained")
        panels = fig.subplots(1, 2, width_ratios=[2, 1])
        for ax, names in zip(panels, (("sdr", "sir", "sar", "si_sdr"), ("sdri", "si_sdri"))):
            values = [[m[name] for m in scored] for name in names]
            ax.boxplot(
                values,
                tick_labels=[LABELS[n] for n in names],
                showmeans=True,
                meanprops={"marker": "o", "markerfacecolor": "white", "markeredgecolor": "k"},
            )
            ax.axhline(0.0, color="0.7", lw=0.8, zorder=0)
            ax.set_ylabel("dB")
            ax.grid(axis="y", alpha=0.3)
        panels[0].set_title("scores")
        panels[1].set_title("improvement over the mixture")
        fig.suptitle(
            title
            or f"{counts['mixtures_scored']} mixtures scored, "
            f"{counts['sources_skipped']} near-silent queries skipped"
        )
        fig.savefig(path, dpi=120)
        return path


def _writable(path: Union[str, os.PathLike], force: bool) -> Path:
    path = Path(path)
    refuse_overwrite(path, force=force)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _cell(stats: Optional[Mapping[str, Optional[float]]], digits: int) -> str:
    if not stats or stats.get("mean") is None:
        return "n/a"
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def format_row(
    name: str,
    summary: Mapping[str, Any],
    metrics: Sequence[str] = TABLE_METRICS,
    digits: int = 2,
) -> str:
    """One Markdown table row ``| name | mean ± std | ... |`` from :meth:`Evaluator.summary`.

    Args:
        name: the method's name (first cell).
        summary: a summary dict (or the JSON file's content).
        metrics: the columns, names from :data:`METRICS`.
        digits: decimals.

    Returns:
        The row, without a newline.

    Examples:
        >>> s = {"metrics": {"sdr": {"mean": 5.123, "std": 0.456}}}
        >>> format_row("ours", s, metrics=["sdr"])
        '| ours | 5.12 ± 0.46 |'
    """
    cells = [_cell(summary["metrics"].get(m), digits) for m in metrics]
    return "| " + " | ".join([name] + cells) + " |"


def format_table(
    summaries: Mapping[str, Mapping[str, Any]],
    metrics: Sequence[str] = TABLE_METRICS,
    digits: int = 2,
) -> str:
    """A Markdown table shaped like the paper's Table 1: Method | SDR | SIR | SAR | SDRi.

    Args:
        summaries: method name -> summary dict, in row order.
        metrics: the columns, names from :data:`METRICS`.
        digits: decimals.

    Returns:
        The table, lines joined by newlines.

    Examples:
        >>> s = {"metrics": {m: {"mean": 1.0, "std": 0.5} for m in METRICS}}
        >>> print(format_table({"ours": s}))
        | Method | SDR | SIR | SAR | SDRi |
        |---|---|---|---|---|
        | ours | 1.00 ± 0.50 | 1.00 ± 0.50 | 1.00 ± 0.50 | 1.00 ± 0.50 |
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"metrics has unknown names {unknown}; known: {METRICS}")
    header = "| " + " | ".join(["Method"] + [LABELS[m] for m in metrics]) + " |"
    rule = "|" + "---|" * (len(metrics) + 1)
    rows = [format_row(name, s, metrics, digits) for name, s in summaries.items()]
    return "\n".join([header, rule] + rows)
