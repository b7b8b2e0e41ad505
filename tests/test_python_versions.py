"""The Python versions the project promises stay honest with one interpreter in CI.

`requires-python` names the lowest version; ruff's `target-version` and mypy's
`python_version` must name the same one, so an API newer than it (``tomllib``,
``datetime.UTC``, ``typing.Self``...) is flagged by the linters of tests/test_lint.py on
whatever Python CI runs. The classifiers list exactly the tested versions, from the lowest
up without a gap, and README's requirements sentence names the same ones.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from tests.conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser from PyPI (the dev extra pins it there)
    import tomli as tomllib

CLASSIFIER = re.compile(r"^Programming Language :: Python :: 3\.(\d+)$")


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def _lowest_minor() -> int:
    spec = _pyproject()["project"]["requires-python"]
    match = re.fullmatch(r">=\s*3\.(\d+)", spec)
    assert match, f"requires-python {spec!r}: expected a single lower bound '>=3.X'"
    return int(match.group(1))


def _classified_minors() -> list[int]:
    found = [CLASSIFIER.match(c) for c in _pyproject()["project"].get("classifiers", [])]
    return sorted(int(m.group(1)) for m in found if m)


def test_linters_target_the_lowest_declared_python() -> None:
    low = _lowest_minor()
    tool = _pyproject()["tool"]
    assert tool["ruff"]["target-version"] == f"py3{low}", (
        "[tool.ruff] target-version must be the lowest Python of requires-python, "
        f"py3{low}, so ruff flags syntax newer than it"
    )
    assert tool["mypy"]["python_version"] == f"3.{low}", (
        "[tool.mypy] python_version must be the lowest Python of requires-python, "
        f"3.{low}, so mypy flags standard-library APIs newer than it"
    )


def test_classifiers_list_the_tested_versions_from_the_lowest_up() -> None:
    low = _lowest_minor()
    minors = _classified_minors()
    assert minors, "pyproject.toml: no 'Programming Language :: Python :: 3.X' classifiers"
    assert minors[0] == low, (
        f"the lowest classifier is 3.{minors[0]} but requires-python says 3.{low}: "
        "raise requires-python or test (and list) the lower version"
    )
    assert minors == list(range(low, minors[-1] + 1)), f"a gap in the classifiers: {minors}"


def test_readme_names_the_tested_versions() -> None:
    """The requirements paragraph of README.md names the classifiers' versions."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"[Tt]ested on Python ([0-9., and]+)", readme)
    assert match, "README.md: no 'tested on Python 3.X, ...' sentence in its requirements"
    named = sorted(int(m) for m in re.findall(r"3\.(\d+)", match.group(1)))
    listed = _classified_minors()
    assert named == listed, (
        f"README.md names Python {[f'3.{m}' for m in named]} but the classifiers of "
        f"pyproject.toml list {[f'3.{m}' for m in listed]}"
    )
