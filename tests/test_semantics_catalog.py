"""magnus 0.5 catalog semantics: globs are relative to the working directory unless the
config sets ``compute_data_folder``; a put that matches no file and a get that finds no
entry fail the step, with a message naming the glob and the folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from magnus_render.stores.catalog_base import CatalogError
from magnus_render.stores.catalog_fs import FileSystemCatalog
from tests.helpers.runlog import execute_in_process


def test_default_data_folder_is_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    catalog = FileSystemCatalog({"catalog_location": ".catalog"})
    assert catalog.data_folder == Path(".")
    Path("hello.txt").write_text("hi")
    (put,) = catalog.put("r1", "hello.txt", ())
    assert put.name == "hello.txt" and put.stage == "put"
    Path("hello.txt").unlink()
    (got,) = catalog.get("r1", "hello.txt", ())
    assert got.name == "hello.txt" and Path("hello.txt").read_text() == "hi"


def test_configured_data_folder_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    catalog = FileSystemCatalog({"compute_data_folder": "data"})
    Path("data").mkdir()
    Path("data/x.txt").write_text("x")
    assert [e.name for e in catalog.put("r1", "*.txt", ())] == ["x.txt"]


@pytest.mark.parametrize("folder_exists", [True, False])
def test_put_matching_nothing_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder_exists: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    if folder_exists:
        Path("out").mkdir()
    catalog = FileSystemCatalog({"compute_data_folder": "out"})
    with pytest.raises(CatalogError, match=r"catalog put 'model-\*\.pkl'.*'out'"):
        catalog.put("r1", "model-*.pkl", ())


def test_get_of_a_missing_name_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    catalog = FileSystemCatalog({"catalog_location": "cat"})
    Path("a.txt").write_text("a")
    catalog.put("r1", "a.txt", ())
    with pytest.raises(CatalogError, match=r"catalog get 'b\.txt'.*run 'r1'.*cat"):
        catalog.get("r1", "b.txt", ())


PIPELINE = """
dag:
  start_at: make
  steps:
    make:
      type: task
      command_type: shell
      command: echo made > made.txt
      catalog:
        put: [{put}]
      next: use
    use:
      type: task
      command_type: shell
      command: cat made.txt
      catalog:
        get: [{get}]
      next: success
    success: {{type: success}}
    fail: {{type: fail}}
"""


def run(tmp_path: Path, put: str, get: str) -> tuple[int, object]:
    (tmp_path / "p.yaml").write_text(PIPELINE.format(put=put, get=get))
    return execute_in_process("p.yaml", tmp_path, run_id="cat")


def test_pipeline_put_and_get_from_the_working_directory(tmp_path: Path) -> None:
    code, log = run(tmp_path, "made.txt", "made.txt")
    assert code == 0
    assert ("made.txt", "put") in {(e.name, e.stage) for e in log.steps["make"].data_catalog}
    assert (tmp_path / ".catalog" / "cat" / "made.txt").read_text() == "made\n"


def test_pipeline_put_matching_nothing_fails_the_step(tmp_path: Path) -> None:
    code, log = run(tmp_path, "missing-*.csv", "made.txt")
    assert code == 1 and log.status.value == "FAIL"
    step = log.steps["make"]
    assert step.status.value == "FAIL"
    assert "missing-*.csv" in step.message and "data folder '.'" in step.message
    assert "use" not in log.steps


def test_pipeline_get_of_a_missing_name_fails_the_step(tmp_path: Path) -> None:
    code, log = run(tmp_path, "made.txt", "other.txt")
    assert code == 1
    step = log.steps["use"]
    assert step.status.value == "FAIL" and "'other.txt'" in step.message


def test_a_put_of_everything_skips_the_catalog_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the working directory as data folder, ``**/*`` also matches ``.catalog/``:
    the catalog's own files are not put into the catalog again."""
    monkeypatch.chdir(tmp_path)
    catalog = FileSystemCatalog({})
    Path("a.txt").write_text("a")
    catalog.put("r1", "a.txt", ())
    Path("sub").mkdir()
    Path("sub/b.txt").write_text("b")
    names = [e.name for e in catalog.put("r2", "**/*", ())]
    assert names == ["a.txt", "sub/b.txt"]
