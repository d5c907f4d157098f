"""Training engine: the Lightning system of the weak objective and its baselines."""

from .system import VAL_METRICS, WeakSupSystem, checkpoint_callbacks

__all__ = ["WeakSupSystem", "checkpoint_callbacks", "VAL_METRICS"]
