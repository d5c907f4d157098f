"""Separation metrics: BSS-Eval v3 scores (:mod:`.bss_eval`), the test-set
:class:`Evaluator` that aggregates and writes them (:mod:`.evaluator`), and the
reference-free CLAPScore (:mod:`.clap_score`)."""

from .bss_eval import (
    LABELS,
    METRICS,
    TABLE_METRICS,
    bss_eval,
    energy_sdr,
    separation_metrics,
    si_sdr,
    silent_sources,
)
from .clap_score import (
    CLAP_LABELS,
    CLAP_METRICS,
    ClapScorer,
    clap_score,
    clap_score_gain,
    clap_similarity,
)
from .evaluator import CPU_BATCH, CSV_COLUMNS, GPU_BATCH, Evaluator

__all__ = [
    "METRICS",
    "TABLE_METRICS",
    "LABELS",
    "bss_eval",
    "si_sdr",
    "energy_sdr",
    "separation_metrics",
    "silent_sources",
    "Evaluator",
    "CSV_COLUMNS",
    "CPU_BATCH",
    "GPU_BATCH",
    "CLAP_METRICS",
    "CLAP_LABELS",
    "ClapScorer",
    "clap_score",
    "clap_score_gain",
    "clap_similarity",
]
