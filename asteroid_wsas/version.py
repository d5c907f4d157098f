"""The package version (its own module: serialization reads it without a cycle)."""

__version__ = "0.1.0.dev0"
