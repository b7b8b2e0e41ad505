"""Stopping the processes a task started, so an interrupted run leaves no orphan behind.

A shell task runs in its own session (its own process group): the whole group, with the
children it put in the background, is stopped with one ``killpg``. A python task runs in
this process, so the children it started are found as this process's descendants (by
parent pid, read from /proc: Linux only, elsewhere nothing is found). Each stop is
SIGTERM, a bounded wait, then SIGKILL, so clean-up always ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a stub step's container never starts a process: no subprocess import
    import subprocess

#: seconds a stopped task gets to exit after SIGTERM before SIGKILL
GRACE_SECONDS = 10.0


def _reach(kill: Callable[[int, int], None], target: int) -> bool | None:
    """Signal 0 to a process or group: False when it is gone, None when it exists but is
    not ours to signal (nothing more to learn), True when it is ours."""
    try:
        kill(target, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return None
    return True


def _alive(pid: int) -> bool:
    """Running (a zombie, already dead but not yet reaped, does not count)."""
    reached = _reach(os.kill, pid)
    return reached is None or (reached and _state(pid) not in ("Z", "X", None))


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read().decode("ascii", "replace")
    except OSError:
        return "?"  # no /proc (not Linux): trust kill(pid, 0)
    return text.rpartition(")")[2].split()[0] if ")" in text else None


def _group_alive(pgid: int) -> bool:
    reached = _reach(os.killpg, pgid)
    if not reached:
        return reached is None
    return any(_alive(pid) for pid in _members(pgid)) if os.path.isdir("/proc") else True


def boot_clock() -> float:
    """Seconds since boot, the clock of a process's start time in /proc (0.0 elsewhere)."""
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(clock) if clock is not None else 0.0


_TICK = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01


def _table() -> list[tuple[int, int, int, float]]:
    """(pid, parent pid, process group, start time) of every living process, from /proc."""
    rows: list[tuple[int, int, int, float]] = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return rows
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                text = stat.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = text.rpartition(")")[2].split()
        if len(fields) >= 20 and fields[0] not in ("Z", "X"):
            start = int(fields[19]) * _TICK
            rows.append((int(name), int(fields[1]), int(fields[2]), start))
    return rows


def _members(pgid: int) -> list[int]:
    return [pid for pid, _, group, _ in _table() if group == pgid]


def descendants(pid: int | None = None, since: float = 0.0) -> list[int]:
    """Living descendants of ``pid`` (default: this process) started at ``since`` (the
    :func:`boot_clock`) or later, so a caller's older children are left alone."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[tuple[int, float]]] = {}
    for child, parent, _, start in _table():
        children.setdefault(parent, []).append((child, start))
    found: list[int] = []
    stack = list(children.get(root, []))
    while stack:
        child, start = stack.pop()
        if start >= since - 2 * _TICK:  # start times are whole clock ticks
            found.append(child)
        stack.extend(children.get(child, []))
    return found


def _reap(pids: list[int]) -> None:
    """Collect the exit status of our own dead children (else they stay zombies)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _wait_until(done: object, seconds: float, pids: list[int]) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        _reap(pids)
        if done():  # type: ignore[operator]
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def stop_group(proc: subprocess.Popen[bytes], grace: float = GRACE_SECONDS) -> None:
    """Stop a task started with ``start_new_session=True``: its whole process group."""
    import subprocess

    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # the leader may be gone while children it put in the background still run
    if _wait_until(lambda: not _group_alive(pgid), grace if proc.poll() is None else 1.0, []):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


def stop_descendants(since: float = 0.0, grace: float = GRACE_SECONDS) -> list[int]:
    """SIGTERM every living descendant of this process started since ``since``, then
    SIGKILL what outlives ``grace``; returns the pids that were signalled."""
    pids = descendants(since=since)
    if not pids:
        return []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    if not _wait_until(lambda: not any(_alive(p) for p in pids), grace, pids):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        _wait_until(lambda: not any(_alive(p) for p in pids), 1.0, pids)
    return pids


def signal_children(signum: int) -> list[int]:
    """Send ``signum`` to this process's direct children (e.g. its worker processes)."""
    me = os.getpid()
    pids = [pid for pid, parent, _, _ in _table() if parent == me]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)
    return pids
