"""Run log stores: race-safe create, many processes writing at once, torn writes, assembly."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from magnus_render.stores.models import BranchLog, RunLog, Status, StepLog
from magnus_render.stores.run_log_base import RunLogNotFound
from magnus_render.stores.run_log_chunked import ChunkedFsRunLogStore, file_name
from magnus_render.stores.run_log_fs import FileSystemRunLogStore

STORES = {"file-system": FileSystemRunLogStore, "chunked-fs": ChunkedFsRunLogStore}
CTX = multiprocessing.get_context("fork")


def make(kind: str, folder: Path):
    return STORES[kind]({"log_folder": str(folder)})


def _create(kind: str, folder: str, barrier, results) -> None:
    store = make(kind, Path(folder))
    barrier.wait()
    _, created = store.create_run_log(RunLog(run_id="r", tag=str(os.getpid())))
    results.put(created)


@pytest.mark.parametrize("kind", sorted(STORES))
def test_create_is_race_safe(kind: str, tmp_path: Path) -> None:
    n = 12
    barrier, results = CTX.Barrier(n), CTX.Queue()
    procs = [
        CTX.Process(target=_create, args=(kind, str(tmp_path), barrier, results)) for _ in range(n)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    created = [results.get(timeout=5) for _ in range(n)]
    assert created.count(True) == 1
    # every later caller sees the winner's header
    assert make(kind, tmp_path).create_run_log(RunLog(run_id="r", tag="late"))[0].tag != "late"


def _writer(kind: str, folder: str, index: int, steps: int, barrier) -> None:
    store = make(kind, Path(folder))
    barrier.wait()
    branch = f"m.{index}"
    for i in range(steps):
        name = f"{branch}.s{i}"
        store.put_step_log("run", StepLog(name=f"s{i}", internal_name=name, status=Status.SUCCESS))
        log = store.get_branch_log("run", branch) or BranchLog(internal_name=branch)
        log.parameters[f"p{i}"] = i
        store.put_branch_log("run", log)


@pytest.mark.parametrize("kind", sorted(STORES))
def test_fifty_processes_writing_at_once_lose_nothing(kind: str, tmp_path: Path) -> None:
    store = make(kind, tmp_path)
    store.create_run_log(RunLog(run_id="run"))
    store.put_step_log("run", StepLog(name="m", internal_name="m", step_type="map"))
    writers, steps = 50, 20
    barrier = CTX.Barrier(writers)
    procs = [
        CTX.Process(target=_writer, args=(kind, str(tmp_path), i, steps, barrier))
        for i in range(writers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    full = make(kind, tmp_path).get_run_log("run")
    branches = full.steps["m"].branches
    assert len(branches) == writers
    for i in range(writers):
        branch = branches[f"m.{i}"]
        assert len(branch.steps) == steps
        assert branch.parameters == {f"p{j}": j for j in range(steps)}


def test_file_system_journal_survives_a_torn_record(tmp_path: Path) -> None:
    store = FileSystemRunLogStore({"log_folder": str(tmp_path)})
    store.create_run_log(RunLog(run_id="t"))
    store.put_step_log("t", StepLog(name="a", internal_name="a", status=Status.SUCCESS))
    with open(store.path("t"), "a") as fh:
        fh.write('{"k":"step","v":{"name":"b","internal_na')  # a writer killed mid-record
    fresh = FileSystemRunLogStore({"log_folder": str(tmp_path)})
    assert list(fresh.get_run_log("t").steps) == ["a"]
    fresh.put_step_log("t", StepLog(name="c", internal_name="c"))
    again = FileSystemRunLogStore({"log_folder": str(tmp_path)})
    assert sorted(again.get_run_log("t").steps) == ["a", "c"]


@pytest.mark.parametrize("kind", [*sorted(STORES), "buffered"])
def test_assembly_nests_steps_and_branches(kind: str, tmp_path: Path) -> None:
    if kind == "buffered":
        from magnus_render.stores.run_log_buffered import BufferedRunLogStore

        store = BufferedRunLogStore()
        run_id = f"nest-{os.getpid()}-{tmp_path.name}"
    else:
        store, run_id = make(kind, tmp_path), "nest"
    with pytest.raises(RunLogNotFound):
        store.get_run_header(run_id)
    store.create_run_log(RunLog(run_id=run_id, parameters={"x": 1}))
    store.update_run(run_id, status=Status.SUCCESS, parameters={"y": 2})
    for name, kind_ in [
        ("each", "map"),
        ("each.a.inner", "parallel"),
        ("each.a.inner.b.t", "task"),
    ]:
        store.put_step_log(
            run_id, StepLog(name=name.split(".")[-1], internal_name=name, step_type=kind_)
        )
    store.put_branch_log(run_id, BranchLog(internal_name="each.a", map_variable={"v": "a"}))
    store.put_branch_log(run_id, BranchLog(internal_name="each.a.inner.b"))
    log = store.get_run_log(run_id)
    assert log.status is Status.SUCCESS and log.parameters == {"x": 1, "y": 2}
    inner = log.steps["each"].branches["each.a"].steps["each.a.inner"]
    assert list(inner.branches["each.a.inner.b"].steps) == ["each.a.inner.b.t"]
    assert run_id in store.list_run_ids()


def test_chunked_file_names_are_safe_for_any_resolved_name() -> None:
    long = "each." + "x" * 400 + ".step"
    assert len(file_name(long).encode()) <= 255
    assert file_name(long) != file_name(long + "y")
    assert "/" not in file_name("a.b%2Fc.d") and file_name("a") != file_name("a.json")
