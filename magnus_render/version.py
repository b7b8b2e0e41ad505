"""The package version, in a module of its own so the lowest layers can read it."""

__version__ = "0.1.0"
