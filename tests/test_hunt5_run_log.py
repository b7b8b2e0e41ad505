"""A run log hand-edited into something no run writes: JSON nested deeper than a parser's
recursion limit. Reading it must be a RunLogCorrupt naming the stored file (and the
journal's line): bad input for `magnus show` (exit 2, no traceback), a failed step and run
for a resumed run (never a crash, never PROCESSING), in every local store and through the
container's journal scan as well as the executor's replay.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.helpers.runlog import run_magnus

DEEP = "[" * 100_000 + "]" * 100_000
STORES = {
    "file-system": "executor: {type: local}\n",
    "chunked-fs": "run_log_store: {type: chunked-fs}\n",
}


def _run(tmp_path: Path, store: str) -> Path:
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("golden"))
    (tmp_path / "c.yaml").write_text(STORES[store], encoding="utf-8")
    proc = run_magnus(["execute", "samples/hello.yaml", "-c", "c.yaml", "--run-id", "r"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp_path


def _deepen(workdir: Path, store: str) -> str:
    """Nest the metrics of step ``train`` too deep; returns where the error must point."""
    if store == "chunked-fs":
        path = workdir / ".run_log_store" / "r" / "steps" / "train.json"
        log = json.loads(path.read_text())
        log["user_defined_metrics"] = {"loss": "@DEEP@"}
        path.write_text(json.dumps(log).replace('"@DEEP@"', DEEP))
        return ".run_log_store/r/steps/train.json"
    journal = workdir / ".run_log_store" / "r.jsonl"
    lines = journal.read_text().splitlines()
    at = max(i for i, line in enumerate(lines) if '"internal_name":"train"' in line)
    record = json.loads(lines[at])
    record["v"]["user_defined_metrics"] = {"loss": "@DEEP@"}
    lines[at] = json.dumps(record, separators=(",", ":")).replace('"@DEEP@"', DEEP)
    journal.write_text("\n".join(lines) + "\n")
    return f".run_log_store/r.jsonl:{at + 1}"


@pytest.mark.parametrize("store", list(STORES))
def test_show_of_a_run_log_nested_too_deep_is_bad_input_naming_the_file(
    tmp_path: Path, store: str
) -> None:
    workdir = _run(tmp_path, store)
    where = _deepen(workdir, store)
    for args in ([], ["--json"]):
        proc = run_magnus(["show", "r", "-c", "c.yaml", *args], workdir)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
        assert f"the run log {where}" in proc.stderr
        assert "nested too deeply" in proc.stderr


@pytest.mark.parametrize("store", list(STORES))
def test_resuming_from_a_run_log_nested_too_deep_fails_the_run_with_a_message(
    tmp_path: Path, store: str
) -> None:
    workdir = _run(tmp_path, store)
    where = _deepen(workdir, store)
    args = ["execute", "samples/hello.yaml", "-c", "c.yaml", "--use-cached", "r"]
    proc = run_magnus([*args, "--run-id", "again"], workdir)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert f"magnus bookkeeping failed: the run log {where}" in proc.stderr
    shown = run_magnus(["show", "again", "-c", "c.yaml", "--json"], workdir)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "FAIL"


def test_a_container_step_reading_a_journal_nested_too_deep_fails_with_a_message(
    tmp_path: Path,
) -> None:
    """`magnus execute_single_node` searches the journal's bytes for the logs it needs
    (journal_scan) instead of replaying it: the same error, at the record's line."""
    workdir = _run(tmp_path, "file-system")
    where = _deepen(workdir, "file-system")
    args = ["execute_single_node", "r", "train", "--file", "samples/hello.yaml", "-c", "c.yaml"]
    proc = run_magnus(args, workdir)
    assert proc.returncode in (1, 2), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    assert f"the run log {where}" in proc.stderr


def test_show_prints_an_attempt_duration_that_is_not_a_number_as_stored(tmp_path: Path) -> None:
    """The tree printed ``float(duration)``: a hand-edited duration (``"1.5 s"``) was a
    ValueError traceback; the run log is still readable, so it is shown as it is."""
    workdir = _run(tmp_path, "file-system")
    journal = workdir / ".run_log_store" / "r.jsonl"
    lines = journal.read_text().splitlines()
    at = max(i for i, line in enumerate(lines) if '"internal_name":"train"' in line)
    record = json.loads(lines[at])
    record["v"]["attempts"][0]["duration"] = "1.5 s"
    lines[at] = json.dumps(record, separators=(",", ":"))
    journal.write_text("\n".join(lines) + "\n")
    proc = run_magnus(["show", "r", "-c", "c.yaml"], workdir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'attempt 1 SUCCESS "1.5 s"' in proc.stdout
    assert "attempt 1 SUCCESS 0." in proc.stdout  # the other steps' durations as before


def _replace_with(path: Path, what: str) -> None:
    path.unlink()
    if what == "folder":
        path.mkdir()
    elif what == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("what", ["folder", "fifo", "device"])
@pytest.mark.parametrize("store", list(STORES))
def test_something_else_than_a_file_where_a_log_is_stored_is_named_not_read(
    tmp_path: Path, store: str, what: str
) -> None:
    """A folder where a log file should be was an IsADirectoryError traceback in `magnus
    show` and `magnus runs`; a FIFO or a link to /dev/zero made them wait (or read)
    forever."""
    workdir = _run(tmp_path, store)
    if store == "chunked-fs":
        where = ".run_log_store/r/steps/train.json"
    else:
        where = ".run_log_store/r.jsonl"
    _replace_with(workdir / where, what)
    proc = run_magnus(["show", "r", "-c", "c.yaml"], workdir, timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert f"the run log {where} cannot be read: it is not a regular file" in proc.stderr
    runs = run_magnus(["runs", "-c", "c.yaml"], workdir, timeout=60)
    assert runs.returncode == 0, runs.stderr[-2000:]
    assert "Traceback" not in runs.stderr
    if store == "file-system":  # the journal is the header too
        assert "r  UNREADABLE" in runs.stdout
    else:
        assert "r  SUCCESS" in runs.stdout
