"""When magnus's own files fail (disk full, permission denied, a run log that cannot be
written): the step is recorded FAIL with a one-line reason instead of a crash, so the run
ends FAIL and a re-run with --use-cached can pick up from it."""

from __future__ import annotations

import hashlib
import sys

from magnus_render.runtime.context import RunContext
from magnus_render.stores.models import Status, StepAttempt, StepLog, now_iso
from magnus_render.stores.run_log_base import RunLogWriteError


def execution_log_name(resolved: str, attempt: int, limit: int = 180) -> str:
    """The catalog file name of an attempt's output: one path component ('/' in a step
    name is percent-encoded, so no name reaches outside the catalog), hashed when long
    (deep nesting, long map values)."""
    name = resolved.replace("/", "%2F")
    if len(name.encode()) > limit:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        name = f"{name.encode()[:100].decode('utf-8', 'ignore')}~{digest}"
    return f"{name}.attempt-{attempt}.execution.log"


def bookkeeping_message(what: str, exc: BaseException) -> str:
    """One line for a failure of magnus's own files (disk full, permission denied)."""
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{what} failed: {exc.strerror or exc}{where}"
    return f"{what} failed: {exc}"


def record_failure(ctx: RunContext, resolved: str, step_log: StepLog, exc: BaseException) -> Status:
    """Record a step FAIL when magnus could not do its own part (run log or catalog
    write); if even that cannot be written, raise so the run ends FAIL with the message."""
    message = bookkeeping_message(f"magnus bookkeeping of step {resolved!r}", exc)
    print(f"error: {message}", file=sys.stderr)
    step_log.status = Status.FAIL
    step_log.message = message
    if not step_log.attempts:
        step_log.attempts = [StepAttempt(attempt_number=1, start_time=now_iso())]
    attempt = step_log.attempts[-1]
    attempt.status, attempt.message, attempt.end_time = Status.FAIL, message, now_iso()
    step_log.output_parameters = {}
    if ctx.reporter is not None:
        ctx.reporter("end", name=resolved, status=Status.FAIL, seconds=0.0, message=message)
    try:
        ctx.store.put_step_log(ctx.run_id, step_log)
    except (OSError, RunLogWriteError) as again:
        raise RunLogWriteError(f"{message}; {bookkeeping_message('recording it', again)}") from None
    return Status.FAIL
