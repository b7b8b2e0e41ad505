"""Helpers for the Ctrl-C / SIGTERM tests: tasks that write their pids and a "started"
marker, bounded waits for those markers, an orphan check, and a pseudo-terminal runner.

Nothing here sleeps as an assertion: every wait polls a file or a process with a deadline
and fails with what it waited for.
"""

from __future__ import annotations

import contextlib
import os
import pty
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: a python task that starts a child, writes both pids and its marker, then waits
PY_TASKS = """
import os, subprocess, sys, time
from pathlib import Path


def hold(marker: str = "started-py") -> None:
    # SIG_DIR: the test's folder (a parallel branch's own working folder is private)
    here = Path(os.environ.get("SIG_DIR", "."))
    if (here / "fast").exists():  # the re-run: finish at once
        return
    child = subprocess.Popen(["sleep", "300"])
    with open(here / "pids", "a") as pids:
        pids.write(f"{child.pid}\\n")
    (here / marker).touch()
    time.sleep(300)
"""

#: a shell task that starts two background children and waits for them
SHELL_HOLD = """
here="${SIG_DIR:-.}"
if [ -f "$here/fast" ]; then exit 0; fi
sleep 300 & echo $! >> "$here/pids"
sleep 300 & echo $! >> "$here/pids"
echo $$ >> "$here/pids"
touch "$here/started-sh"
wait
"""

WAIT_SECONDS = 90


def share_test_folder(monkeypatch: Any, folder: Path) -> None:
    """Tasks write markers and pids into ``folder`` wherever they run: a branch of a
    parallel local run works in a private folder of its own (SIG_DIR names the shared one)."""
    monkeypatch.setenv("SIG_DIR", str(folder))


def wait_for(what: str, done: Callable[[], bool], proc: subprocess.Popen | None = None) -> None:
    """Poll ``done`` until it holds; fail (with what we waited for) after WAIT_SECONDS, or
    at once when ``proc`` ended first."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait (bounded) for a process to end; (exit code, stderr). Killed if it outlives."""
    try:
        _, err = proc.communicate(timeout=WAIT_SECONDS)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


def markers(folder: Path, names: list[str], proc: subprocess.Popen | None = None) -> None:
    wait_for(f"markers {names}", lambda: all((folder / n).exists() for n in names), proc)


def running(pid: int) -> bool:
    """The process exists and is not a zombie (on this machine PID 1 does not reap
    orphans, so a process that was killed may linger as a zombie: it is dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def orphans(folder: Path) -> list[int]:
    """The pids the tasks wrote that still run (the caller waited for magnus to exit)."""
    text = (folder / "pids").read_text() if (folder / "pids").exists() else ""
    pids = [int(p) for p in text.split()]
    assert pids, "the tasks wrote no pids"
    return [p for p in pids if running(p)]


def kill_pids(folder: Path) -> None:
    """Clean up after a failed test: no sleep 300 outlives it."""
    if (folder / "pids").exists():
        for pid in (folder / "pids").read_text().split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), 9)


# A pseudo-terminal whose Ctrl-C goes to the whole foreground process group: the
# trampoline makes the command a session leader with the pty as its controlling terminal.
_TRAMPOLINE = (
    "import fcntl, os, sys, termios\n"
    "os.setsid()\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)


class Terminal:
    """``argv`` running on a pty; ``ctrl_c()`` types Ctrl-C; ``output`` is what it printed."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _TRAMPOLINE, *argv],
            cwd=cwd,
            env={**env, "TERM": "xterm", "COLUMNS": "100"},
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
        )
        os.close(slave)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the other side closed
                return
            if not data:
                return
            self._chunks.append(data)

    def ctrl_c(self) -> None:
        os.write(self.master, b"\x03")

    def wait(self, timeout: float = WAIT_SECONDS) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._reader.join(timeout=10)
            os.close(self.master)

    @property
    def output(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")
