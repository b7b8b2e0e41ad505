"""The stored run log format: logs written by the earlier (pydantic) models load and are
rewritten byte for byte, a round trip is byte-stable, and a corrupt stored log is a clear
error naming the file (and journal line), failing the step and the run, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import msgspec
import pytest

from magnus_render.stores.log_codec import RunLogCorrupt, to_json
from magnus_render.stores.models import (
    BranchLog,
    DataCatalog,
    RunLog,
    Status,
    StepAttempt,
    StepLog,
)
from magnus_render.stores.run_log_base import RunLogStore
from magnus_render.stores.run_log_buffered import BufferedRunLogStore
from magnus_render.stores.run_log_chunked import ChunkedFsRunLogStore
from magnus_render.stores.run_log_fs import FileSystemRunLogStore
from tests.helpers.runlog import run_magnus

OLD = Path(__file__).parent / "run_log_v0"
STORES = {"file-system": FileSystemRunLogStore, "chunked-fs": ChunkedFsRunLogStore}


def _store(kind: str, folder: Path) -> RunLogStore:
    return STORES[kind]({"log_folder": str(folder)})


def _copy(store: RunLogStore, target: RunLogStore, run_id: str) -> None:
    """Every log of ``run_id`` put into ``target`` in the order ``store`` yields them."""
    target.create_run_log(store.get_run_header(run_id))
    for log in store.iter_logs(run_id):
        if isinstance(log, StepLog):
            target.put_step_log(run_id, log)
        else:
            target.put_branch_log(run_id, log)


@pytest.mark.parametrize("kind", sorted(STORES))
def test_a_run_log_written_by_the_pydantic_models_loads(kind: str, tmp_path: Path) -> None:
    folder = tmp_path / kind
    shutil.copytree(OLD / ("fs" if kind == "file-system" else "chunked"), folder)
    run_log = _store(kind, folder).get_run_log("old-run")
    expected = json.loads((OLD / "full.json").read_text(encoding="utf-8"))
    assert run_log.model_dump() == expected  # same values, floats and unicode included
    assert run_log.parameters["scale"] == 1e20 and run_log.parameters["name"] == "naïve 🚀"
    each = run_log.steps["each"]
    assert each.branches["each.β"].steps["each.β.train"].status is Status.FAIL
    assert each.branches["each.\u03b1"].map_variable == {"item": "\u03b1"}  # alpha
    assert run_log.steps["par"].branches["par.right"].status is Status.PROCESSING
    assert run_log.steps["prepare"].attempts[1].status is Status.SUCCESS


def test_the_journal_is_rewritten_byte_for_byte(tmp_path: Path) -> None:
    old = _store("file-system", OLD / "fs")
    _copy(old, _store("file-system", tmp_path), "old-run")
    written = (tmp_path / "old-run.jsonl").read_bytes()
    assert written == (OLD / "fs" / "old-run.jsonl").read_bytes()


def test_chunked_logs_are_rewritten_byte_for_byte(tmp_path: Path) -> None:
    """Every file the same bytes, but for how pydantic spelled a float's exponent
    (``1e+20``; msgspec writes ``1e20``): the same number either way."""
    _copy(_store("chunked-fs", OLD / "chunked"), _store("chunked-fs", tmp_path), "old-run")
    old_files = sorted(p.relative_to(OLD / "chunked") for p in (OLD / "chunked").rglob("*.json"))
    new_files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json"))
    assert new_files == old_files
    for rel in old_files:
        old, new = (OLD / "chunked" / rel).read_bytes(), (tmp_path / rel).read_bytes()
        if rel.name == "run.json":
            assert json.loads(new) == json.loads(old)
            assert new == old.replace(b"e+", b"e")
        else:
            assert new == old, rel


def test_show_json_prints_what_it_printed(tmp_path: Path) -> None:
    shutil.copytree(OLD / "chunked", tmp_path / ".run_log_store")
    (tmp_path / "config.yaml").write_text("run_log_store:\n  type: chunked-fs\n")
    done = _magnus(tmp_path, "show", "old-run", "--json", "--config-file", "config.yaml")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (OLD / "show.json").read_text(encoding="utf-8").replace("e+", "e")


def _nested_run(run_id: str) -> tuple[RunLog, list[StepLog | BranchLog]]:
    params = {"π": 3.141592653589793, "tiny": 5e-324, "neg": -0.0, "text": "日本語 \u2028 \x00"}
    header = RunLog(run_id=run_id, tag="ünï", parameters=params, run_config={"x": [1.5, None]})
    attempt = StepAttempt(status=Status.SUCCESS, parameters=params, message="✓ done")
    logs: list[StepLog | BranchLog] = [
        StepLog(name="outer", internal_name="outer", step_type="map", attempts=[attempt]),
        BranchLog(internal_name="outer.ä", map_variable={"v": "ä"}, parameters={"f": 0.1}),
        StepLog(name="par", internal_name="outer.ä.par", step_type="parallel"),
        BranchLog(internal_name="outer.ä.par.b", status=Status.SUCCESS),
        StepLog(
            name="leaf",
            internal_name="outer.ä.par.b.leaf",
            status=Status.SUCCESS,
            user_defined_metrics={"loss": [0.5, 0.25, 1e-9]},
            data_catalog=[DataCatalog(name="données.csv", data_hash="0" * 64, stage="put")],
        ),
    ]
    return header, logs


@pytest.mark.parametrize("kind", [*sorted(STORES), "buffered"])
def test_a_round_trip_is_byte_stable(kind: str, tmp_path: Path) -> None:
    run_id = f"rt-{kind}-{os.getpid()}"
    store = BufferedRunLogStore() if kind == "buffered" else _store(kind, tmp_path)
    header, logs = _nested_run(run_id)
    store.create_run_log(header)
    for log in logs:
        if isinstance(log, StepLog):
            store.put_step_log(run_id, log)
        else:
            store.put_branch_log(run_id, log)
    first = store.get_run_log(run_id)
    leaf = first.steps["outer"].branches["outer.ä"].steps["outer.ä.par"]
    assert leaf.branches["outer.ä.par.b"].steps["outer.ä.par.b.leaf"].status is Status.SUCCESS
    data = to_json(first)
    again = msgspec.json.decode(data, type=RunLog)
    assert again == first and to_json(again) == data
    assert RunLog.model_validate_json(first.model_dump_json()) == first
    assert again.parameters == header.parameters  # -0.0, 5e-324 and the text survive
    assert str(again.parameters["neg"]) == "-0.0"


# -- corrupt stored logs ---------------------------------------------------------------
def _magnus(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_magnus(list(args), cwd)


BAD = {
    "unknown key": ('"mock":false,', '"mock":false,"bogus":1,', "unknown field `bogus`"),
    "wrong type": (
        '"attempt_number":1,',
        '"attempt_number":"1",',
        "Expected `int`, got `str` - at `$.attempts[0].attempt_number`",
    ),
}


def _corrupt_file(kind: str, folder: Path, old: str, new: str) -> Path:
    path = folder / ("old-run.jsonl" if kind == "file-system" else "old-run/steps/prepare.json")
    text = path.read_text(encoding="utf-8")
    if kind == "file-system":  # the step record of 'prepare' (line 2)
        lines = text.split("\n")
        assert '"internal_name":"prepare"' in lines[1]
        lines[1] = lines[1].replace(old, new, 1)
        text = "\n".join(lines)
    else:
        text = text.replace(old, new, 1)
    assert new in text
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize("kind", sorted(STORES))
def test_a_corrupt_stored_log_is_a_clear_error(kind: str, bad: str, tmp_path: Path) -> None:
    old, new, why = BAD[bad]
    folder = tmp_path / ".run_log_store"
    shutil.copytree(OLD / ("fs" if kind == "file-system" else "chunked"), folder)
    path = _corrupt_file(kind, folder, old, new)
    where = f"{path}:2 (step 'prepare')" if kind == "file-system" else str(path)
    store = _store(kind, folder)
    with pytest.raises(RunLogCorrupt) as caught:
        store.get_run_log("old-run")
    assert f"the run log {where} cannot be read: " in str(caught.value)
    assert why in str(caught.value)
    with pytest.raises(RunLogCorrupt, match="cannot be read"):
        _store(kind, folder).get_step_log("old-run", "prepare")  # the journal scan path
    (tmp_path / "config.yaml").write_text(f"run_log_store:\n  type: {kind}\n")
    done = _magnus(tmp_path, "show", "old-run", "--config-file", "config.yaml")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and why in done.stderr
    assert str(path.relative_to(tmp_path)) in done.stderr


def test_bad_json_in_a_chunked_log_names_the_file(tmp_path: Path) -> None:
    shutil.copytree(OLD / "chunked", tmp_path, dirs_exist_ok=True)
    path = tmp_path / "old-run" / "branches" / "par.left.json"
    path.write_bytes(path.read_bytes().replace(b'"status":', b'"status";', 1))
    with pytest.raises(RunLogCorrupt, match=rf"{path} cannot be read: .*malformed"):
        _store("chunked-fs", tmp_path).get_run_log("old-run")


@pytest.mark.parametrize(
    "record",
    ['["k","step"]', '{"k":"step","v":[]}', '{"k":"branch","v":{"status":"FAIL"}}'],
)
def test_a_journal_record_that_names_no_log_is_a_clear_error(record: str, tmp_path: Path) -> None:
    shutil.copytree(OLD / "fs", tmp_path, dirs_exist_ok=True)
    journal = tmp_path / "old-run.jsonl"
    with journal.open("a", encoding="utf-8") as fh:
        fh.write(record + "\n")
    lines = journal.read_text(encoding="utf-8").count("\n")
    with pytest.raises(RunLogCorrupt, match=rf"{journal}:{lines} cannot be read"):
        _store("file-system", tmp_path).get_run_log("old-run")


CORRUPTING = """\
dag:
  start_at: first
  steps:
    first:
      type: task
      command_type: shell
      command: {command}
      next: second
    second:
      type: task
      command_type: shell
      command: echo never
      next: success
    success:
      type: success
    fail:
      type: fail
"""

#: what step ``first`` writes over the stored log of step ``second``, per store
WRITES = {
    "file-system": (
        'printf \'%s\\n\' \'{"k":"step","v":{"name":"second","internal_name":'
        '"second","status":"FAIL","attempts":[{"attempt_number":"one"}]}}\' '
        ">> .run_log_store/$MAGNUS_RUN_ID.jsonl"
    ),
    "chunked-fs": (
        'printf \'%s\' \'{"name":"second","internal_name":"second","status":"FAIL",'
        '"attempts":[{"attempt_number":"one"}]}\' '
        "> .run_log_store/$MAGNUS_RUN_ID/steps/second.json"
    ),
}


@pytest.mark.parametrize("kind", sorted(STORES))
def test_a_corrupt_log_read_during_a_run_fails_the_step_and_the_run(
    kind: str, tmp_path: Path
) -> None:
    command = json.dumps(WRITES[kind])
    (tmp_path / "pipeline.yaml").write_text(CORRUPTING.format(command=command))
    (tmp_path / "config.yaml").write_text(f"run_log_store:\n  type: {kind}\n")
    args = ("pipeline.yaml", "--config-file", "config.yaml", "--run-id", "bad")
    done = _magnus(tmp_path, "execute", *args)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    why = "Expected `int`, got `str` - at `$.attempts[0].attempt_number`"
    assert why in done.stderr
    run_log = _store(kind, tmp_path / ".run_log_store").get_run_log("bad")
    assert run_log.status is Status.FAIL
    second = run_log.steps["second"]
    assert second.status is Status.FAIL
    assert "cannot be read" in second.message and why in second.message
    assert run_log.steps["fail"].status is Status.SUCCESS  # routed to the fail node
