"""Training engine: the Lightning system of the weak objective and its baselines."""

from .callbacks import checkpoint_callbacks
from .system import VAL_METRICS, WeakSupSystem

__all__ = ["WeakSupSystem", "checkpoint_callbacks", "VAL_METRICS"]
