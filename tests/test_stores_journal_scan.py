"""The file-system store answers a container's few reads by searching the journal's bytes
(stores/journal_scan.py): the same answers as a full replay, without parsing every record."""

from __future__ import annotations

from pathlib import Path

import pytest

from magnus_render.stores import journal_scan
from magnus_render.stores.models import BranchLog, RunLog, Status, StepAttempt, StepLog
from magnus_render.stores.run_log_base import RunLogNotFound
from magnus_render.stores.run_log_fs import SCANS_BEFORE_REPLAY, FileSystemRunLogStore

NAMES = ["a", "b", 'qu"ote', "ünï cödé", "map.{map}.x", "map.%7B1%7D.x", "par.br.s"]


def _step(name: str, status: Status, **params: object) -> StepLog:
    attempt = StepAttempt(status=status, parameters=dict(params))
    return StepLog(
        name=name.rsplit(".", 1)[-1], internal_name=name, status=status, attempts=[attempt]
    )


def _store(folder: Path, replayed: bool) -> FileSystemRunLogStore:
    store = FileSystemRunLogStore({"log_folder": str(folder)})
    if replayed:
        store._scans = SCANS_BEFORE_REPLAY  # the path a long-lived executor takes
    return store


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    store = FileSystemRunLogStore({"log_folder": str(folder)})
    store.create_run_log(RunLog(run_id="r", parameters={"x": 1}))
    for name in NAMES:
        store.put_step_log("r", _step(name, Status.PROCESSING))
    # values that hold a record's bytes are data, never a record
    decoy = {"k": "step", "v": {"internal_name": "b", "status": "FAIL"}}
    store.put_step_log("r", _step("a", Status.SUCCESS, note='"internal_name":"b"', nested=decoy))
    store.put_branch_log("r", BranchLog(internal_name="par.br", status=Status.PROCESSING))
    store.update_run("r", parameters={"y": '{"k":"run","v":{"run_id":"r","status":"FAIL"}}'})
    # a writer killed mid-record leaves a line without its end; the next one starts afresh
    path = folder / "r.jsonl"
    with open(path, "ab") as fh:
        fh.write(b'{"k":"step","v":{"name":"b","internal_name":"b","status":"FA')
    store.put_step_log("r", _step('qu"ote', Status.SUCCESS, got=2))
    store.put_branch_log("r", BranchLog(internal_name="par.br", status=Status.SUCCESS))
    store.put_step_log("r", _step("ünï cödé", Status.FAIL))
    with open(path, "ab") as fh:  # and a torn record at the very end
        fh.write(b'{"k":"run","v":{"run_id":"r","status":"SUCCESS"')
    return folder


def test_scan_answers_like_a_replay(journal: Path) -> None:
    replayed = _store(journal, replayed=True)
    for name in [*NAMES, "missing", "b.x"]:
        fresh = _store(journal, replayed=False)
        assert fresh.get_step_log("r", name) == replayed.get_step_log("r", name), name
    fresh = _store(journal, replayed=False)
    assert fresh.get_run_header("r") == replayed.get_run_header("r")
    assert fresh.get_run_header("r").parameters["x"] == 1
    assert fresh.get_run_header("r").status is Status.PROCESSING
    assert fresh.get_branch_log("r", "par.br").status is Status.SUCCESS
    assert fresh.get_branch_log("r", "par.br") == replayed.get_branch_log("r", "par.br")
    assert fresh.get_branch_log("r", "par.other") is None
    a = fresh.get_step_log("r", "a")
    assert a is not None and a.status is Status.SUCCESS
    b = fresh.get_step_log("r", "b")
    assert b is not None and b.status is Status.PROCESSING  # neither decoy nor torn record
    quote = fresh.get_step_log("r", 'qu"ote')
    assert quote is not None and quote.attempts[0].parameters == {"got": 2}


def test_a_few_reads_do_not_replay_the_journal(journal: Path) -> None:
    store = _store(journal, replayed=False)
    assert store.exists("r")
    store.get_step_log("r", "a")
    assert store._cache == {}  # nothing replayed: only the records asked for were parsed
    for _ in range(SCANS_BEFORE_REPLAY):
        store.get_step_log("r", "b")
    assert "r" in store._cache  # a process that keeps reading replays once, then tails
    store.put_step_log("r", _step("b", Status.SUCCESS))
    logged = store.get_step_log("r", "b")
    assert logged is not None and logged.status is Status.SUCCESS


def test_missing_run_or_header(tmp_path: Path) -> None:
    for replayed in (False, True):
        store = _store(tmp_path, replayed)
        assert not store.exists("nope")
        with pytest.raises(RunLogNotFound):
            store.get_step_log("nope", "a")
    (tmp_path / "torn.jsonl").write_bytes(b'{"k":"run","v":{"run_id":"torn"')
    for replayed in (False, True):
        with pytest.raises(RunLogNotFound, match="no header"):
            _store(tmp_path, replayed).get_run_header("torn")


def test_latest_needs_whole_lines_and_checks_candidates() -> None:
    data = (
        b'{"k":"step","v":{"internal_name":"s","n":1}}\n'
        b'{"k":"branch","v":{"internal_name":"s","n":2}}\n'
        b'{"k":"step","v":{"internal_name":"t","p":{"internal_name":"s"}}}\n'
        b'not json "internal_name":"s"\n'
    )
    assert journal_scan.latest(data, "step", "s") == {"internal_name": "s", "n": 1}
    assert journal_scan.latest(data, "branch", "s") == {"internal_name": "s", "n": 2}
    assert journal_scan.latest(data, "run") is None
    assert journal_scan.latest(b"", "step", "s") is None
