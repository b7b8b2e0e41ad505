"""Ctrl-C (SIGINT) and SIGTERM: stop the running task, record FAIL "interrupted (SIG...)",
exit 128 + the signal's number (130 / 143; the k8s-job and aws-batch drivers' Ctrl-C is
130 too).

Why the handler does not simply raise wherever the signal lands: raised in the middle of
magnus's own bookkeeping (a run log write), the exception could leave a half-done record.
So, while :func:`guard` is active, the signal raises :class:`Interrupted` at once only
inside :func:`interruptible` regions (a task running, a wait for workers); elsewhere it
stays pending until the next :func:`checkpoint` (the start of a node) or the end of the
region. A second signal while cleaning up is noted and ignored, so the clean-up (whose
waits are bounded) always finishes and the run is never left PROCESSING. Drivers of
remote work (k8s-job, aws-batch) :func:`release` the signals: they keep Python's
KeyboardInterrupt and SIGTERM's default (a restarted driver pod resumes its run).
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from magnus_render.runtime import procs
from magnus_render.stores.models import Status, now_iso

SIGNALS = (signal.SIGINT, signal.SIGTERM)
P = ParamSpec("P")
R = TypeVar("R")


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (a KeyboardInterrupt, so code that handles Ctrl-C
    handles SIGTERM the same way)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def signal_name(self) -> str:
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"

    @property
    def message(self) -> str:
        return f"interrupted ({self.signal_name})"

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        return self.message


class _State:
    def __init__(self) -> None:
        self.pending: int | None = None
        self.depth = 0
        self.active = False
        self.previous: dict[int, Any] = {}


_state = _State()


def _handler(signum: int, frame: Any) -> None:
    # A repeat is ignored without a word: under a terminal a worker or the shell script's
    # magnus gets Ctrl-C both from the terminal and passed on, which is not the user's
    # second Ctrl-C.
    if _state.pending is not None:
        return
    _state.pending = signum
    if _state.depth > 0:
        raise Interrupted(signum)


def pending() -> int | None:
    """The signal received, if any."""
    return _state.pending


def checkpoint() -> None:
    """Raise :class:`Interrupted` if a signal arrived (call where stopping is safe)."""
    if _state.pending is not None:
        raise Interrupted(_state.pending)


def release() -> None:
    """Give the signals back their handlers from before :func:`guard` (for the rest of
    it); a signal that already came is raised."""
    for signum, handler in _state.previous.items():
        signal.signal(signum, handler)
    _state.previous = {}
    checkpoint()


@contextlib.contextmanager
def interruptible(task: bool = False) -> Iterator[None]:
    """A region a signal may interrupt at once (a running task, a wait). Leaving a
    ``task`` region interrupted stops the processes started in it (a python task's
    children; a shell task's process group is stopped where it is waited for)."""
    checkpoint()
    since = procs.boot_clock()
    _state.depth += 1
    try:
        yield
    except KeyboardInterrupt:
        if task:
            procs.stop_descendants(since=since)
        raise
    finally:
        _state.depth -= 1
    if task and _state.pending is not None:
        procs.stop_descendants(since=since)
    checkpoint()  # a task that swallowed the KeyboardInterrupt is still interrupted


def reset() -> None:
    """Fresh state in a forked worker process (the handlers stay installed)."""
    global _state
    active, previous = _state.active, _state.previous
    _state = _State()
    _state.active, _state.previous = active, previous


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Handle SIGINT and SIGTERM as described above while a run command works; at the end
    a signal that arrived during bookkeeping is raised, so the exit code still says it."""
    global _state
    if threading.current_thread() is not threading.main_thread() or _state.active:
        yield
        return
    _state.pending, _state.depth = None, 0
    _state.previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    _state.active = True
    for signum in SIGNALS:
        signal.signal(signum, _handler)
    try:
        yield
        checkpoint()
    finally:
        for number, handler in _state.previous.items():
            signal.signal(number, handler)
        _state = _State()


def guarded(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` run under :func:`guard`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with guard():
            return function(*args, **kwargs)

    return wrapper


# -- the record of an interrupted run ---------------------------------------------------
def mark_run(store: Any, run_id: str, message: str) -> None:
    """Mark what is still PROCESSING in a run (steps, their last attempt, branches) and the
    run itself FAIL with ``message``. Only for the one process that owns the run (the
    local executor after its workers stopped, the shell script after its children)."""
    run_log = store.get_run_log(run_id)
    steps = list(run_log.steps.values())
    while steps:
        step = steps.pop()
        for branch in step.branches.values():
            steps.extend(branch.steps.values())
            if branch.status is Status.PROCESSING:
                fresh = store.get_branch_log(run_id, branch.internal_name) or branch
                fresh.status = Status.FAIL
                store.put_branch_log(run_id, fresh)
        if step.status is not Status.PROCESSING:
            continue
        fresh = store.get_step_log(run_id, step.internal_name) or step
        fresh.status = Status.FAIL
        fresh.message = message
        for attempt in fresh.attempts[-1:]:
            if attempt.status is Status.PROCESSING:
                attempt.status = Status.FAIL
                attempt.message = message
                attempt.end_time = attempt.end_time or now_iso()
        store.put_step_log(run_id, fresh)
    mark_header(store, run_id, message)


def mark_header(store: Any, run_id: str, message: str) -> None:
    """The run is FAIL with ``message`` (unless a terminal node already ended it)."""
    header = store.get_run_header(run_id)
    if header.status is Status.SUCCESS:
        return
    header.status = Status.FAIL
    header.message = message
    store.put_run_header(header)
