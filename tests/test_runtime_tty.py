"""On a terminal `magnus execute` shows rich live progress and still finishes (the live
view must not feed its own output back into itself), sequential and parallel."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.runlog import load_run_log, magnus_env, prepare_workdir


def run_on_tty(args: list[str], cwd: Path, timeout: float = 60) -> tuple[int, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "magnus_render.cli", *args],
        cwd=cwd,
        env={**magnus_env(), "TERM": "xterm", "COLUMNS": "100"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError("magnus execute hung on a terminal")
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the other side closed
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return proc.wait(10), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("parallel", [False, True])
def test_rich_progress_on_a_terminal(tmp_path: Path, parallel: bool) -> None:
    work = prepare_workdir(tmp_path)
    args = ["execute", "samples/parallel.yaml", "--run-id", "tty"]
    if parallel:
        (work / "c.yaml").write_text(
            "executor:\n  type: local\n  config:\n    enable_parallel: true\n"
        )
        args += ["-c", "c.yaml"]
    code, output = run_on_tty(args, work)
    assert code == 0, output[-2000:]
    assert "\x1b[" in output  # rich drew on the terminal
    assert "both.python_branch.double" in output and "run tty succeeded" in output
    assert load_run_log(work, "tty").status.value == "SUCCESS"
