"""Test dependencies come from the dev extra, so they are required, never skipped: a
missing one is a broken install that must fail the suite, not quietly hide every test
that needs it (``pytest.importorskip`` did that)."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest


def require(name: str) -> ModuleType:
    """The module ``name``, or a failure saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        pytest.fail(
            f"{name} cannot be imported ({exc}); the dev extra installs it: "
            "python3 -m pip install -e '.[dev]'",
            pytrace=False,
        )
