"""Filesystem safety of the catalog (issue 14, part 3): long map values, step names that
look like paths, symbolic links in the data folder, an unusable catalog folder. Each case
ends with the step and run FAIL (or success) and a message, never a traceback or a file
written outside the catalog or the data folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from magnus_render.stores.catalog_base import CatalogError
from magnus_render.stores.catalog_fs import FileSystemCatalog
from tests.helpers.runlog import load_run_log, prepare_workdir, run_magnus

LONG = "x" * 300


def _write(work: Path, pipeline: str, tasks: str = "", config: str = "") -> None:
    prepare_workdir(work)
    (work / "p.yaml").write_text(pipeline, encoding="utf-8")
    (work / "fstasks.py").write_text(tasks, encoding="utf-8")
    (work / "c.yaml").write_text(
        config or "catalog:\n  type: file-system\n  config: {compute_data_folder: data}\n",
        encoding="utf-8",
    )


MAP_PIPELINE = """
dag:
  start_at: init
  steps:
    init:
      type: task
      command: fstasks.init
      next: each
    each:
      type: map
      iterate_on: items
      iterate_as: item
      branch:
        start_at: w
        steps:
          w:
            type: task
            command: fstasks.write
            catalog: {put: [out.txt]}
            next: success
          success: {type: success}
          fail: {type: fail}
      next: success
    success: {type: success}
    fail: {type: fail}
"""

MAP_TASKS = f"""
from pathlib import Path

def init():
    return {{"items": ["{LONG}", "short"]}}

def write(item):
    Path("data").mkdir(exist_ok=True)
    Path("data/out.txt").write_text(item)
"""


def test_long_map_value_gets_a_short_deterministic_catalog_folder(tmp_path: Path) -> None:
    _write(tmp_path, MAP_PIPELINE, MAP_TASKS)
    done = run_magnus(["execute", "p.yaml", "-c", "c.yaml", "--run-id", "r1"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for path in (tmp_path / ".catalog").rglob("*"):
        assert len(path.name.encode()) <= 255
    run_log = load_run_log(tmp_path, "r1", tmp_path / "c.yaml")
    branches = run_log.steps["each"].branches
    long_branch = next(b for b in branches.values() if b.map_variable == {"item": LONG})
    step = long_branch.steps[f"each.{LONG}.w"]
    (entry,) = [e for e in step.data_catalog if e.name == "out.txt"]
    folder = entry.catalog_relative_path.split("/")[1]
    assert folder.startswith("@item=xxx") and "~" in folder and len(folder) < 200
    assert (tmp_path / ".catalog" / entry.catalog_relative_path).read_text() == LONG
    again = run_magnus(
        ["execute", "p.yaml", "-c", "c.yaml", "--run-id", "r2", "--use-cached", "r1"], tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert (tmp_path / ".catalog" / "r2" / folder / "out.txt").read_text() == LONG


def test_step_name_that_is_an_absolute_path_stays_inside_the_catalog(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    name = str(outside / "evil")
    assert "." not in name, "the step name must be valid"
    pipeline = f"""
dag:
  start_at: '{name}'
  steps:
    '{name}':
      type: task
      command_type: shell
      command: echo hello
      next: success
    success: {{type: success}}
    fail: {{type: fail}}
"""
    work = tmp_path / "work"
    _write(work, pipeline)
    done = run_magnus(["execute", "p.yaml", "-c", "c.yaml", "--run-id", "r1"], work)
    assert done.returncode == 0, done.stderr
    assert not outside.exists()
    logs = list((work / ".catalog" / "r1").rglob("*execution.log"))
    assert len(logs) == 1 and logs[0].parent.name == "@logs"


def test_put_object_with_a_name_reaching_out_is_a_step_failure(tmp_path: Path) -> None:
    tasks = "from magnus_render import put_object\n\ndef bad():\n    put_object(1, '../../../x')\n"
    pipeline = """
dag:
  start_at: bad
  steps:
    bad: {type: task, command: fstasks.bad, next: success}
    success: {type: success}
    fail: {type: fail}
"""
    _write(tmp_path, pipeline, tasks)
    done = run_magnus(["execute", "p.yaml", "-c", "c.yaml", "--run-id", "r1"], tmp_path)
    assert done.returncode == 1
    assert "magnus_render/cli.py" not in done.stderr  # the task's own traceback is echoed
    assert not (tmp_path / "x.json").exists() and not (tmp_path.parent / "x.json").exists()
    step = load_run_log(tmp_path, "r1", tmp_path / "c.yaml").steps["bad"]
    assert step.status == "FAIL" and "without '..'" in step.message


def _catalog(tmp_path: Path) -> FileSystemCatalog:
    return FileSystemCatalog(
        {"catalog_location": str(tmp_path / "cat"), "compute_data_folder": str(tmp_path / "data")}
    )


def test_get_replaces_a_link_in_the_data_folder_and_never_writes_its_target(
    tmp_path: Path,
) -> None:
    cat = _catalog(tmp_path)
    cat.put_object("run", (), "a.txt", b"from the catalog")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").symlink_to(victim)
    cat.get("run", "a.txt", ())
    assert victim.read_text() == "precious"
    assert not (tmp_path / "data" / "a.txt").is_symlink()
    assert (tmp_path / "data" / "a.txt").read_text() == "from the catalog"


def test_get_refuses_to_write_below_a_linked_folder(tmp_path: Path) -> None:
    cat = _catalog(tmp_path)
    cat.put_object("run", (), "sub/a.txt", b"from the catalog")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sub").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(CatalogError, match="symbolic link"):
        cat.get("run", "sub/*", ())
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_put_refuses_a_link_out_of_the_data_folder(tmp_path: Path, kind: str) -> None:
    """Decision: a link in the data folder whose target is outside it fails the put (the
    step fails with a message naming it); nothing of the target reaches the catalog."""
    cat = _catalog(tmp_path)
    secret = tmp_path / "private"
    secret.mkdir()
    (secret / "key.txt").write_text("outside")
    (tmp_path / "data").mkdir()
    if kind == "file":
        (tmp_path / "data" / "key.txt").symlink_to(secret / "key.txt")
        pattern = "*.txt"
    else:
        (tmp_path / "data" / "linked").symlink_to(secret, target_is_directory=True)
        pattern = "linked/*"
    with pytest.raises(CatalogError, match="points outside the data folder"):
        cat.put("run", pattern, ())
    assert not (tmp_path / "cat").exists()


def test_unusable_catalog_folder_fails_step_and_run_with_a_message(tmp_path: Path) -> None:
    pipeline = """
dag:
  start_at: w
  steps:
    w:
      type: task
      command_type: shell
      command: mkdir -p data && echo hi > data/out.txt
      catalog: {put: [out.txt]}
      next: success
    success: {type: success}
    fail: {type: fail}
"""
    (tmp_path / "blocker").parent.mkdir(parents=True, exist_ok=True)
    _write(
        tmp_path,
        pipeline,
        config="catalog:\n  type: file-system\n  config:\n    compute_data_folder: data\n"
        "    catalog_location: blocker/cat\n",
    )
    (tmp_path / "blocker").write_text("a file where the catalog folder should be")
    done = run_magnus(["execute", "p.yaml", "-c", "c.yaml", "--run-id", "r1"], tmp_path)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" not in done.stderr
    assert "blocker" in done.stderr
    run_log = load_run_log(tmp_path, "r1", tmp_path / "c.yaml")
    assert run_log.status == "FAIL"
    assert run_log.steps["w"].status == "FAIL" and "blocker" in run_log.steps["w"].message
    (tmp_path / "blocker").unlink()
    again = run_magnus(
        ["execute", "p.yaml", "-c", "c.yaml", "--run-id", "r2", "--use-cached", "r1"], tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert (
        json.loads(run_magnus(["show", "r2", "--json", "-c", "c.yaml"], tmp_path).stdout)["status"]
        == "SUCCESS"
    )


def test_get_in_a_parallel_mirror_makes_the_linked_folder_private(tmp_path: Path) -> None:
    """In a parallel worker's mirror of the working directory (data folder '.'), a folder
    is a link to the shared one; a get below it makes that folder private (links to its
    entries) and writes there, so the shared folder is untouched."""
    shared = tmp_path / "work"
    (shared / "sub").mkdir(parents=True)
    (shared / "sub" / "keep.txt").write_text("shared")
    private = tmp_path / "private"
    private.mkdir()
    (private / "sub").symlink_to(shared / "sub", target_is_directory=True)
    cat = FileSystemCatalog(
        {"catalog_location": str(tmp_path / "cat"), "compute_data_folder": str(private)}
    )
    cat.mirror_of = [str(shared)]
    cat.put_object("run", (), "sub/a.txt", b"from the catalog")
    cat.get("run", "sub/*", ())
    assert sorted(p.name for p in (shared / "sub").iterdir()) == ["keep.txt"]
    assert not (private / "sub").is_symlink()
    assert (private / "sub" / "a.txt").read_text() == "from the catalog"
    assert (private / "sub" / "keep.txt").read_text() == "shared"


def test_execute_single_node_with_an_unusable_catalog_exits_1_with_the_step_failed(
    tmp_path: Path,
) -> None:
    pipeline = """
dag:
  start_at: w
  steps:
    w:
      type: task
      command_type: shell
      command: echo hi
      next: success
    success: {type: success}
    fail: {type: fail}
"""
    _write(
        tmp_path,
        pipeline,
        config="catalog:\n  type: file-system\n  config:\n    catalog_location: blocker/cat\n",
    )
    (tmp_path / "blocker").write_text("a file where the catalog folder should be")
    done = run_magnus(
        ["execute_single_node", "r1", "w", "--file", "p.yaml", "-c", "c.yaml"], tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback (most recent call last)" not in done.stderr
    step = load_run_log(tmp_path, "r1", tmp_path / "c.yaml").steps["w"]
    assert step.status == "FAIL" and "blocker" in step.message
