"""Separation metrics: BSS-Eval v3 scores (:mod:`.bss_eval`) and the test-set
:class:`Evaluator` that aggregates and writes them (:mod:`.evaluator`)."""

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
]
