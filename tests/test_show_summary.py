"""`magnus show` summarises a map with many iterations (issue 18): counts by status, the
iterations that did not succeed named, only the first few shown in full, and the logs of
the others never read; `magnus show --json` still prints every iteration."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers.runlog import run_magnus

ITEMS = 25

PIPELINE = """
dag:
  start_at: init
  steps:
    init: {type: task, command: showtasks.init, next: each}
    each:
      type: map
      iterate_on: items
      iterate_as: item
      branch:
        start_at: work
        steps:
          work: {type: task, command: showtasks.work, next: success}
          success: {type: success}
          fail: {type: fail}
      next: success
    success: {type: success}
    fail: {type: fail}
"""

TASKS = f"""
def init(n: int = {ITEMS}):
    return {{"items": list(range(n))}}

def work(item: int):
    if item in (3, 7, 21):
        raise ValueError(f"item {{item}} is bad")
    return {{"out": item}}
"""

STORES = {"chunked-fs": "run_log_store:\n  type: chunked-fs\n", "file-system": ""}


def _run(tmp_path: Path, store: str) -> Path:
    (tmp_path / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    (tmp_path / "showtasks.py").write_text(TASKS, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(STORES[store] or "executor: {type: local}\n")
    proc = run_magnus(["execute", "p.yaml", "-c", "c.yaml", "--run-id", "r"], tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]  # three iterations fail
    return tmp_path


@pytest.mark.parametrize("store", list(STORES))
def test_show_summarises_a_big_map(tmp_path: Path, store: str) -> None:
    work = _run(tmp_path, store)
    shown = run_magnus(["show", "r", "-c", "c.yaml"], work)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert f"branches: {ITEMS} (3 FAIL, {ITEMS - 3} SUCCESS)" in out
    assert "FAIL: each.3, each.7, each.21" in out
    # the first five in full, and the failed ones beyond them
    assert "shown below: each.0, each.1, each.2, each.3, each.4, each.7, each.21" in out
    for name in ("each.0", "each.4", "each.7", "each.21"):
        assert f"branch {name} " in out
    assert "branch each.5 " not in out and "branch each.12 " not in out
    assert f"… {ITEMS - 7} more branches not shown" in out
    assert "item 7 is bad" in out  # the failed iteration's attempt message
    # iterations appear in item order (each.21 after each.7, not between each.2 and .3)
    assert out.index("branch each.7 ") < out.index("branch each.21 ")
    full = json.loads(run_magnus(["show", "r", "--json", "-c", "c.yaml"], work).stdout)
    assert len(full["steps"]["each"]["branches"]) == ITEMS


def test_a_small_composite_is_shown_in_full(tmp_path: Path) -> None:
    work = _run(tmp_path, "chunked-fs")
    (work / "few.yaml").write_text("n: 4\n")
    proc = run_magnus(
        ["execute", "p.yaml", "-c", "c.yaml", "--run-id", "few", "-p", "few.yaml"], work
    )
    assert proc.returncode == 1
    out = run_magnus(["show", "few", "-c", "c.yaml"], work).stdout
    assert re.search(r"^\s+branches: \d+ \(", out, re.M) is None, out
    assert "not shown" not in out
    for i in range(ITEMS):
        assert (f"branch each.{i} " in out) == (i < 4)


def test_show_never_reads_the_hidden_iterations(tmp_path: Path) -> None:
    work = _run(tmp_path, "chunked-fs")
    hidden = work / ".run_log_store" / "r" / "steps" / "each.12.work.json"
    assert hidden.is_file()
    hidden.write_text("{not json", encoding="utf-8")  # reading it would fail the command
    shown = run_magnus(["show", "r", "-c", "c.yaml"], work)
    assert shown.returncode == 0, shown.stderr
    assert f"branches: {ITEMS} (3 FAIL, {ITEMS - 3} SUCCESS)" in shown.stdout
