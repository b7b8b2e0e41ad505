"""As-is nodes at run time (magnus's fourth mode: the orchestrator itself runs the node).

An interactive executor runs nothing for an as-is node: it records a mock success that
says the text was rendered nowhere. A rendered target runs the node's ``render_string``
in place of the node and records it like a task, with one attempt per run of the text:

- containers (Argo, Kubernetes Jobs, Step Functions) run ``magnus execute_single_node
  ... --as-is TEXT``, which records the start, runs ``sh -c TEXT`` and records the end;
- the shell script inserts the text as its own lines between ``--as-is-begin ENV_FILE``
  (records the start, writes the MAGNUS_PRM_* environment NUL-separated; an empty file
  means a re-run reuses the step) and ``--as-is-end EXIT_CODE`` (records the end).

The text sees the parameters in scope as MAGNUS_PRM_* (like a shell task) but cannot set
parameters: nothing reads its environment back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from magnus_render.errors import MagnusError
from magnus_render.pipeline.ir import Node, NodeKind, resolve_name
from magnus_render.runtime import nodes, parameters
from magnus_render.runtime.context import RunContext, code_identity
from magnus_render.runtime.tasks import parameter_environment
from magnus_render.stores.models import Status, StepAttempt, StepLog, now_iso


def check_node(node: Node, flag: str) -> None:
    if node.kind is not NodeKind.AS_IS:
        raise MagnusError(
            f"{flag} applies to as-is steps only; {node.internal_name!r} is a "
            f"{node.kind.value} step"
        )


def begin(ctx: RunContext, node: Node, map_variable: Mapping[str, Any]) -> dict[str, str] | None:
    """Record a new attempt as started; the environment the text runs with, or None when
    a re-run reuses the step (recorded as a mock success here)."""
    resolved = resolve_name(node.internal_name, map_variable)
    old = nodes.cached_success(ctx, node, resolved)
    if old is not None:
        nodes.mock_success(ctx, node, resolved, ctx.reused_message(old))
        return None
    step = ctx.store.get_step_log(ctx.run_id, resolved)
    if step is None or step.status is not Status.PROCESSING:
        step = StepLog(name=node.name, internal_name=resolved, step_type=node.kind.value)
        step.code_identities = [code_identity()]
    params = parameters.scope(ctx.store, ctx.run_id, resolved, map_variable)
    number = len(step.attempts) + 1
    step.status = Status.PROCESSING
    step.attempts.append(
        StepAttempt(
            attempt_number=number,
            start_time=now_iso(),
            status=Status.PROCESSING,
            parameters=params,
        )
    )
    ctx.store.put_step_log(ctx.run_id, step)
    return {
        **parameter_environment(params),
        "MAGNUS_RUN_ID": ctx.run_id,
        "MAGNUS_MAP_VARIABLE": json.dumps(dict(map_variable)),
        "MAGNUS_ATTEMPT_NUMBER": str(number),
        "MAGNUS_STEP_NAME": resolved,
    }


def end(ctx: RunContext, node: Node, map_variable: Mapping[str, Any], code: int) -> Status:
    """Record the end of the started attempt: SUCCESS on exit code 0, else FAIL."""
    resolved = resolve_name(node.internal_name, map_variable)
    step = ctx.store.get_step_log(ctx.run_id, resolved)
    if step is not None and step.status is not Status.PROCESSING and step.mock:
        return step.status  # reused from the original run: begin recorded it
    status = Status.SUCCESS if code == 0 else Status.FAIL
    message = "" if code == 0 else f"render_string exited {code}"
    ended = now_iso()
    if step is None or not step.attempts or step.attempts[-1].status is not Status.PROCESSING:
        step = step or StepLog(name=node.name, internal_name=resolved, step_type=node.kind.value)
        status = Status.FAIL
        message = "as-is step ended without a recorded start (--as-is-begin did not run)"
        step.attempts.append(
            StepAttempt(
                attempt_number=len(step.attempts) + 1,
                start_time=ended,
                status=status,
            )
        )
    attempt = step.attempts[-1]
    attempt.end_time = ended
    attempt.duration = _seconds_between(attempt.start_time, ended)
    attempt.status = status
    attempt.message = message
    step.status = status
    step.message = message
    ctx.store.put_step_log(ctx.run_id, step)
    if status is Status.SUCCESS:
        parameters.write(ctx.store, ctx.run_id, resolved, {})
    return status


def run(ctx: RunContext, node: Node, map_variable: Mapping[str, Any], text: str) -> Status:
    """A container's as-is node: begin, ``sh -c TEXT`` in the working directory, end."""
    env = begin(ctx, node, map_variable)
    if env is None:
        return Status.SUCCESS
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        code = subprocess.run(["sh", "-c", text], env={**os.environ, **env}, check=False).returncode
    except OSError as exc:
        print(f"error: cannot start sh: {exc.strerror}", file=sys.stderr)
        code = 127
    return end(ctx, node, map_variable, code)


def write_environment(path: str, env: Mapping[str, str] | None) -> None:
    """NAME=value words, NUL-separated (values may hold newlines); empty: reuse the step."""
    payload = "".join(f"{k}={v}\0" for k, v in sorted((env or {}).items()))
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(payload, encoding="utf-8", errors="surrogatepass")
    tmp.replace(target)


def _seconds_between(start: str, end: str) -> str:
    try:
        delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    except ValueError:
        return ""
    return f"{delta.total_seconds():.6f}"
