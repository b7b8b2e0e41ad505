"""A parallel local worker keeps its private working directory for its next map
iteration while it is still an exact mirror (issue 18: a folder of links made and
removed per iteration dominated big maps), and builds a fresh one as soon as an
iteration changed it or what it mirrors: no iteration sees another one's changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.runlog import load_run_log, run_magnus

PIPELINE = """
dag:
  start_at: init
  steps:
    init: {type: task, command: reusetasks.init, next: each}
    each:
      type: map
      iterate_on: items
      iterate_as: item
      branch:
        start_at: probe
        steps:
          probe: {type: task, command: reusetasks.probe, next: success}
          success: {type: success}
          fail: {type: fail}
      next: success
    success: {type: success}
    fail: {type: fail}
"""

TASKS = """
import os
from pathlib import Path

DATA = Path(os.environ["REUSE_DATA"])

def init():
    return {"items": list(range(8))}

def probe(item: int):
    assert Path("keep.txt").read_text() == "kept", "the mirror lost keep.txt"
    assert (DATA / "in.txt").read_text() == ("in" if item < 2 else "ZZ")
    assert not Path("scratch.txt").exists() or item > 5, "a moved-back file came too early"
    if item == 1:
        (DATA / "in.txt").write_text("ZZ")  # a copy changed in place (same size): moved back
    if item == 2:
        os.remove("keep.txt")  # breaks this worker's mirror: it must not be reused
    if item == 5:
        Path("scratch.txt").write_text("new")  # moved back: the next mirrors must link it
    if item > 5:
        assert Path("scratch.txt").read_text() == "new"
    return {"where": os.getcwd()}
"""


def _config(folder: str) -> str:
    return (
        "executor:\n  type: local\n  config: {enable_parallel: true, max_workers: 1}\n"
        f"catalog:\n  type: file-system\n  config: {{compute_data_folder: '{folder}'}}\n"
    )


@pytest.mark.parametrize("folder", ["data", "."])
def test_worker_reuses_its_folder_until_it_changes(tmp_path: Path, folder: str) -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    (tmp_path / "reusetasks.py").write_text(TASKS, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(_config(folder), encoding="utf-8")
    (tmp_path / "keep.txt").write_text("kept", encoding="utf-8")
    (tmp_path / folder).mkdir(exist_ok=True)
    (tmp_path / folder / "in.txt").write_text("in", encoding="utf-8")
    (tmp_path / "tmp").mkdir()
    env = {"TMPDIR": str(tmp_path / "tmp"), "REUSE_DATA": folder}
    proc = run_magnus(["execute", "p.yaml", "-c", "c.yaml", "--run-id", "r"], tmp_path, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    where = load_run_log(tmp_path, "r", tmp_path / "c.yaml").parameters["where"]
    # one worker: items 0-1 share a folder; item 1 changed a copied file (moved back), so
    # 2 gets a new one; item 2 removed keep.txt, so 3 gets a new one; item 5 created a
    # file (moved back), so 6 gets a new one again
    assert where[0] == where[1]
    assert where[3] == where[4] == where[5]
    assert where[6] == where[7]
    assert len({where[0], where[2], where[3], where[6]}) == 4
    assert all(str(tmp_path / "tmp") in w for w in where)
    assert (tmp_path / "keep.txt").read_text() == "kept", "the working directory is intact"
    assert (tmp_path / "scratch.txt").read_text() == "new"
    assert (tmp_path / folder / "in.txt").read_text() == "ZZ"
    assert list((tmp_path / "tmp").iterdir()) == [], "private folders are removed"
