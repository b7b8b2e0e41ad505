"""A clone of the repository alone must pass its tests: nothing in the package, the tests or
the benchmarks may read the ``shared/`` folder that sits beside the repository on the
developers' machines (CI's own fresh clone runs only a subset; this guards the rest)."""

from __future__ import annotations

import re

from tests.conftest import ROOT

#: ways code has reached outside the checkout: ROOT.parent joined with the shared folder's
#: name, a relative path up one level into it, ...
OUTSIDE = re.compile(r"""\.parent\s*/\s*["']shared["']|\.\./shared|["']shared["']\s*/""")


def test_no_code_reads_the_shared_folder_beside_the_repository() -> None:
    files = [
        path
        for folder in ("magnus_render", "tests", "bench", ".ci")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".sh", "")
        and path.is_file()
        and "node_modules" not in path.parts
        and path.name not in ("test_fresh_clone.py", "fresh-clone.sh")  # they name it to refuse it
    ]
    assert len(files) > 50
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert hits == []


def test_the_pattern_catches_the_old_ways() -> None:
    name = "shared"  # spelled apart so this file is no hit for a search of its own kind
    for line in [f'SHARED = ROOT.parent / "{name}"', f"cat ../{name}/x", f'base / "{name}" / "s"']:
        assert OUTSIDE.search(line), line
