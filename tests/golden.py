"""Golden-file comparison shared by every renderer's tests.

``assert_golden(path, text)`` fails with a unified diff when ``text`` differs from the
committed file. Run the tests with ``MAGNUS_UPDATE_GOLDEN=1`` to (re)write the files
instead; review the diff in git before committing them.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

UPDATE_ENV = "MAGNUS_UPDATE_GOLDEN"


def updating() -> bool:
    """True when golden files are to be rewritten rather than compared."""
    return os.environ.get(UPDATE_ENV, "") not in ("", "0")


def assert_golden(path: Path, text: str) -> None:
    """``text`` equals the golden file at ``path`` byte for byte (or rewrite it)."""
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"golden file {path} is missing; create it with {UPDATE_ENV}=1")
    expected = path.read_text(encoding="utf-8")
    if expected != text:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"{path} (golden)",
                tofile="rendered now",
            )
        )
        pytest.fail(f"{path} is out of date ({UPDATE_ENV}=1 rewrites it):\n{diff}")
