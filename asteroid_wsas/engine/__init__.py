"""Training engine: the Lightning system of the weak objective and its baselines.

Its names are imported on first use: scoring (:mod:`.evaluation`) and the commands that only
separate do not pay for importing Lightning (which pulls torchmetrics and transformers:
seconds per process)."""

from ..lazy import lazy_names

# name -> module that defines it (imported when the name is first asked for)
_LAZY = {
    "WeakSupSystem": "system",
    "VAL_METRICS": "system",
    "checkpoint_callbacks": "callbacks",
}

__all__ = list(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY)
