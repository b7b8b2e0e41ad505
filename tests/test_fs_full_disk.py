"""A full disk (or a file size limit) while magnus writes the catalog or the run log: the
write fails loudly, the step and run end FAIL with the reason, the journal keeps only
whole records, and a re-run with --use-cached works once there is room again."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers.runlog import load_run_log, magnus_env, prepare_workdir, run_magnus

TASKS = """
from pathlib import Path

def small():
    return {"a": 1}

def big(a):
    return {"blob": "y" * int(Path("size.txt").read_text())}

def write_file():
    Path("data").mkdir(exist_ok=True)
    Path("data/big.bin").write_bytes(b"z" * int(Path("size.txt").read_text()))
"""


def _pipeline(second: str, catalog: str = "") -> str:
    return f"""
dag:
  start_at: first
  steps:
    first: {{type: task, command: fdtasks.small, next: second}}
    second:
      type: task
      command: fdtasks.{second}
      {catalog}
      next: success
    success: {{type: success}}
    fail: {{type: fail}}
"""


def _prepare(work: Path, pipeline: str, size: int, config: str) -> None:
    prepare_workdir(work)
    (work / "fdtasks.py").write_text(TASKS, encoding="utf-8")
    (work / "p.yaml").write_text(pipeline, encoding="utf-8")
    (work / "c.yaml").write_text(config, encoding="utf-8")
    (work / "size.txt").write_text(str(size))


def _no_magnus_traceback(stderr: str) -> None:
    assert "Traceback (most recent call last)" not in stderr, stderr


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a small tmpfs here ({done.stderr.strip()}); "
            "the journal logic is covered by the RLIMIT_FSIZE test"
        )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_under_the_catalog_fails_the_step_and_the_rerun_works(
    tmp_path: Path, small_tmpfs: Path
) -> None:
    work = tmp_path / "work"
    config = (
        "catalog:\n  type: file-system\n  config:\n    compute_data_folder: data\n"
        f"    catalog_location: {small_tmpfs / 'catalog'}\n"
    )
    _prepare(work, _pipeline("write_file", "catalog: {put: [big.bin]}"), 2_000_000, config)
    done = run_magnus(["execute", "p.yaml", "-c", "c.yaml", "--run-id", "r1"], work)
    assert done.returncode == 1
    _no_magnus_traceback(done.stderr)
    run_log = load_run_log(work, "r1", work / "c.yaml")
    assert run_log.status == "FAIL"
    step = run_log.steps["second"]
    assert step.status == "FAIL" and "No space left on device" in step.message
    leftovers = [p.name for p in (small_tmpfs / "catalog").rglob("*") if p.is_file()]
    assert "big.bin" not in leftovers and not [n for n in leftovers if n.endswith(".tmp")]
    (work / "size.txt").write_text("1000")
    again = run_magnus(
        ["execute", "p.yaml", "-c", "c.yaml", "--run-id", "r2", "--use-cached", "r1"], work
    )
    assert again.returncode == 0, again.stderr
    assert (small_tmpfs / "catalog" / "r2" / "big.bin").stat().st_size == 1000


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_journal_write_over_the_file_size_limit_is_cut_back_and_reported(
    tmp_path: Path,
) -> None:
    """RLIMIT_FSIZE makes the journal append of the second step's big output fail part
    way (a short write, then EFBIG): the record is removed, the step and run are FAIL."""
    _prepare(tmp_path, _pipeline("big"), 300_000, "")
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "magnus_render.cli",
            "execute",
            "p.yaml",
            "-c",
            "c.yaml",
            "--run-id",
            "r1",
        ],
        cwd=tmp_path,
        env=magnus_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=_limit_file_size(200_000),
    )
    assert done.returncode == 1, done.stderr
    _no_magnus_traceback(done.stderr)
    assert "run log" in done.stderr and "File too large" in done.stderr
    journal = (tmp_path / ".run_log_store" / "r1.jsonl").read_bytes()
    assert journal.endswith(b"\n")
    records = [json.loads(line) for line in journal.splitlines()]  # no torn record
    assert all(r["k"] in ("run", "step", "branch") for r in records)
    run_log = load_run_log(tmp_path, "r1", tmp_path / "c.yaml")
    assert run_log.status == "FAIL"
    assert run_log.steps["second"].status == "FAIL"
    assert "File too large" in run_log.steps["second"].message
    (tmp_path / "size.txt").write_text("10")
    again = run_magnus(
        ["execute", "p.yaml", "-c", "c.yaml", "--run-id", "r2", "--use-cached", "r1"], tmp_path
    )
    assert again.returncode == 0, again.stderr
    rerun = load_run_log(tmp_path, "r2", tmp_path / "c.yaml")
    assert rerun.steps["first"].mock and rerun.parameters["blob"] == "y" * 10


def test_short_write_to_the_journal_leaves_no_partial_record(tmp_path: Path) -> None:
    """The all-or-nothing append itself, on a real file under a size limit."""
    code = (
        "import signal, resource\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "from magnus_render.stores.run_log_fs import FileSystemRunLogStore\n"
        "from magnus_render.stores.run_log_base import RunLogWriteError\n"
        "from magnus_render.stores.models import RunLog, StepLog\n"
        f"store = FileSystemRunLogStore({{'log_folder': {str(tmp_path)!r}}})\n"
        "store.create_run_log(RunLog(run_id='r'))\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        "    store.put_step_log('r', StepLog(name='s', internal_name='s', message='m' * 9000))\n"
        "except RunLogWriteError as exc:\n"
        "    print('refused:', exc)\n"
    )
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code], env=magnus_env(), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "File too large" in done.stdout
    lines = (tmp_path / "r.jsonl").read_bytes().splitlines(keepends=True)
    assert len(lines) == 1 and lines[0].endswith(b"\n")


def test_chunked_store_write_failure_is_a_run_log_write_error(tmp_path: Path) -> None:
    import shutil

    from magnus_render.stores.models import RunLog, StepLog
    from magnus_render.stores.run_log_base import RunLogWriteError
    from magnus_render.stores.run_log_chunked import ChunkedFsRunLogStore

    store = ChunkedFsRunLogStore({"log_folder": str(tmp_path)})
    store.create_run_log(RunLog(run_id="r"))
    shutil.rmtree(tmp_path / "r" / "steps")
    (tmp_path / "r" / "steps").write_text("not a folder")
    with pytest.raises(RunLogWriteError, match="cannot write the run log"):
        store.put_step_log("r", StepLog(name="s", internal_name="s"))
