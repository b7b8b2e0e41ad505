"""Parallel local runs keep their data apart (issue 14, part 3): every map iteration
writes a file of the same name with its own content into the compute data folder and
puts it; with ``enable_parallel`` each worker branch has a private working directory, so
the parallel run's catalog equals the sequential run's. Both a sub-folder data folder
and the working directory itself (``.``) are tested; python tasks of the branches are
imported from the working directory by the workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.runlog import load_run_log, prepare_workdir, run_magnus

ITEMS = 120

PIPELINE = """
dag:
  start_at: init
  steps:
    init: {type: task, command: isotasks.init, next: each}
    each:
      type: map
      iterate_on: items
      iterate_as: item
      branch:
        start_at: write
        steps:
          write:
            type: task
            command: isobranch.write
            catalog: {put: [out.txt]}
            next: check
          check:
            type: task
            command: isobranch.check
            catalog: {get: [out.txt]}
            next: success
          success: {type: success}
          fail: {type: fail}
      next: success
    success: {type: success}
    fail: {type: fail}
"""

INIT = f"def init():\n    return {{'items': list(range({ITEMS}))}}\n"

BRANCH = """
import os
from pathlib import Path

FOLDER = Path(os.environ["ISO_DATA"])

def write(item: int):
    FOLDER.mkdir(exist_ok=True)
    (FOLDER / "out.txt").write_text(f"item {item}")
    for _ in range(50):  # give another iteration time to overwrite a shared file
        os.sched_yield()
    assert (FOLDER / "out.txt").read_text() == f"item {item}", "another branch wrote here"

def check(item: int):
    assert (FOLDER / "out.txt").read_text() == f"item {item}"
    Path(f"result-{item}.txt").write_text(str(item))  # an output outside the catalog
"""


def _config(folder: str, parallel: bool) -> str:
    executor = "executor:\n  type: local\n  config: {enable_parallel: true, max_workers: 2}\n"
    catalog = f"catalog:\n  type: file-system\n  config: {{compute_data_folder: '{folder}'}}\n"
    return (executor if parallel else "") + catalog


@pytest.mark.parametrize("folder", ["data", "."])
def test_parallel_map_catalog_equals_sequential(tmp_path: Path, folder: str) -> None:
    prepare_workdir(tmp_path)
    (tmp_path / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    (tmp_path / "isotasks.py").write_text(INIT, encoding="utf-8")
    (tmp_path / "isobranch.py").write_text(BRANCH, encoding="utf-8")
    (tmp_path / "seq.yaml").write_text(_config(folder, False), encoding="utf-8")
    (tmp_path / "par.yaml").write_text(_config(folder, True), encoding="utf-8")
    (tmp_path / "tmp").mkdir()
    env = {"ISO_DATA": folder, "TMPDIR": str(tmp_path / "tmp")}
    seq = run_magnus(["execute", "p.yaml", "-c", "seq.yaml", "--run-id", "seq"], tmp_path, env)
    assert seq.returncode == 0, seq.stderr
    for result in tmp_path.glob("result-*.txt"):
        result.unlink()
    par = run_magnus(["execute", "p.yaml", "-c", "par.yaml", "--run-id", "par"], tmp_path, env)
    assert par.returncode == 0, par.stderr[-3000:]
    catalog = tmp_path / ".catalog"
    wrong = [
        i
        for i in range(ITEMS)
        if (catalog / "par" / f"@item={i}" / "out.txt").read_text() != f"item {i}"
    ]
    assert wrong == []
    for i in range(ITEMS):
        same = catalog / "seq" / f"@item={i}" / "out.txt"
        assert same.read_text() == (catalog / "par" / f"@item={i}" / "out.txt").read_text()
    run_log = load_run_log(tmp_path, "par", tmp_path / "par.yaml")
    assert run_log.status == "SUCCESS"
    assert list((tmp_path / "tmp").iterdir()) == [], "private folders are removed"
    kept = sorted(int(p.read_text()) for p in tmp_path.glob("result-*.txt"))
    assert kept == list(range(ITEMS)), "files written by branches are moved back"
    assert (tmp_path / folder / "out.txt").read_text().startswith("item ")
