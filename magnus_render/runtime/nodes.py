"""Executing one node, the single code path shared by every executor and container.

``execute_node`` runs a task/stub/success/fail node with its attempts, catalog sync and
run log records; ``fan_out``/``fan_in`` open and close the branches of a composite. The
local executor calls these in-process, ``magnus execute_single_node``/``magnus fan`` call
them in containers, so a run log made through any target equals the local one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from magnus_render.errors import MagnusError
from magnus_render.pipeline.ir import (
    Node,
    NodeKind,
    encode_map_value,
    parent_graph_name,
    resolve_name,
)
from magnus_render.runtime import interrupt, parameters, task_api
from magnus_render.runtime.attempt import run_task
from magnus_render.runtime.bookkeeping import (
    bookkeeping_message,
    execution_log_name,
    record_failure,
)
from magnus_render.runtime.branches import Branch, FanOutError, branches_of
from magnus_render.runtime.context import RunContext, code_identity
from magnus_render.stores.catalog_base import CatalogError
from magnus_render.stores.models import BranchLog, Status, StepAttempt, StepLog, now_iso
from magnus_render.stores.run_log_base import RunLogWriteError

LOG_NAMESPACE = ("logs",)
#: what the run log says of an as-is step that an interactive executor (or a target its
#: render_string names no text for) recorded without running anything
RENDERED_NOWHERE = (
    "as-is step: rendered nowhere, nothing ran (render_string runs only in a rendered spec)"
)


def namespace(map_variable: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Catalog namespace of a map iteration: one ``name=value`` segment per enclosing map."""
    if not map_variable:
        return ()
    return tuple(f"{k}={encode_map_value(v)}" for k, v in map_variable.items())


def _report(ctx: RunContext, event: str, **info: Any) -> None:
    if ctx.reporter is not None:
        ctx.reporter(event, **info)


def _new_step_log(node: Node, resolved: str) -> StepLog:
    return StepLog(name=node.name, internal_name=resolved, step_type=node.kind.value)


def _duration(start: float) -> str:
    return f"{time.monotonic() - start:.6f}"


def set_graph_status(ctx: RunContext, resolved: str, status: Status) -> None:
    """What a success/fail node does: set the status of the graph that holds it."""
    graph_name = parent_graph_name(resolved)
    if not graph_name:
        ctx.store.update_run(ctx.run_id, status=status)
        return
    branch = ctx.store.get_branch_log(ctx.run_id, graph_name) or BranchLog(internal_name=graph_name)
    branch.status = status
    ctx.store.put_branch_log(ctx.run_id, branch)


def graph_status(ctx: RunContext, graph_name: str) -> Status:
    if not graph_name:
        return ctx.store.get_run_header(ctx.run_id).status
    branch = ctx.store.get_branch_log(ctx.run_id, graph_name)
    return branch.status if branch is not None else Status.FAIL


def cached_success(ctx: RunContext, node: Node, resolved: str) -> StepLog | None:
    """Re-runs: a non-terminal node that succeeded in the original run is reused (its step
    log there is returned)."""
    if not ctx.use_cached or node.kind.is_terminal or node.kind.is_composite:
        return None
    old = ctx.original_step(resolved)
    return old if old is not None and old.status is Status.SUCCESS else None


def mock_success(
    ctx: RunContext,
    node: Node,
    resolved: str,
    why: str,
    outputs: Mapping[str, Any] | None = None,
) -> Status:
    """Record a step as succeeded without running it; re-apply its recorded outputs, so the
    steps after it see what they saw in the original run."""
    step_log = _new_step_log(node, resolved)
    step_log.status = Status.SUCCESS
    step_log.mock = True
    step_log.message = why
    step_log.output_parameters = dict(outputs or {})
    ctx.store.put_step_log(ctx.run_id, step_log)
    parameters.write(ctx.store, ctx.run_id, resolved, step_log.output_parameters)
    _report(ctx, "mocked", name=resolved, why=why)
    return Status.SUCCESS


def execute_node(
    ctx: RunContext,
    node: Node,
    map_variable: Mapping[str, Any] | None = None,
    mock: bool = False,
) -> Status:
    """Run a non-composite node and record it. Returns the step's status."""
    if node.kind.is_composite:
        raise MagnusError(f"{node.internal_name} is a {node.kind.value} node: use fan out/in")
    map_variable = dict(map_variable or {})
    resolved = resolve_name(node.internal_name, map_variable)
    old = cached_success(ctx, node, resolved)
    if old is not None:
        return mock_success(ctx, node, resolved, ctx.reused_message(old), old.output_parameters)
    if mock and node.kind is NodeKind.TASK:
        return mock_success(ctx, node, resolved, "mocked by the executor")
    if node.kind is NodeKind.AS_IS:
        return mock_success(ctx, node, resolved, RENDERED_NOWHERE)

    step_log = _new_step_log(node, resolved)
    step_log.code_identities = [code_identity()]
    if node.kind is NodeKind.TASK:
        try:
            return _execute_task(ctx, node, resolved, map_variable, step_log)
        except (OSError, RunLogWriteError) as exc:
            return record_failure(ctx, resolved, step_log, exc)

    start, started = time.monotonic(), now_iso()
    _report(ctx, "start", name=resolved, attempt=1)
    if node.kind.is_terminal:
        set_graph_status(
            ctx, resolved, Status.SUCCESS if node.kind is NodeKind.SUCCESS else Status.FAIL
        )
    step_log.status = Status.SUCCESS
    step_log.attempts = [
        StepAttempt(
            attempt_number=1,
            start_time=started,
            end_time=now_iso(),
            duration=_duration(start),
            status=Status.SUCCESS,
        )
    ]
    ctx.store.put_step_log(ctx.run_id, step_log)
    _report(ctx, "end", name=resolved, status=Status.SUCCESS, seconds=time.monotonic() - start)
    return Status.SUCCESS


def _execute_task(
    ctx: RunContext,
    node: Node,
    resolved: str,
    map_variable: dict[str, Any],
    step_log: StepLog,
) -> Status:
    assert node.task is not None
    ns = namespace(map_variable)
    # run again in the same run (an orchestrator's cleared task): the earlier failed
    # attempts stay, and the new ones are numbered after them
    earlier = ctx.store.get_step_log(ctx.run_id, resolved)
    if earlier is not None and earlier.status is Status.FAIL:
        step_log.attempts = list(earlier.attempts)
        step_log.data_catalog = list(earlier.data_catalog)
    first = len(step_log.attempts) + 1
    last = first + max(1, node.max_attempts) - 1
    ctx.store.put_step_log(ctx.run_id, step_log)  # visible as PROCESSING while it runs
    status = Status.FAIL
    stopped: interrupt.Interrupted | None = None
    for number in range(first, last + 1):
        start, started = time.monotonic(), now_iso()
        _report(ctx, "start", name=resolved, attempt=number, attempts=node.max_attempts)
        params = parameters.scope(ctx.store, ctx.run_id, resolved, map_variable)
        scope = task_api.StepScope(ctx, resolved, map_variable, ns, params)
        env = {
            "MAGNUS_RUN_ID": ctx.run_id,
            "MAGNUS_MAP_VARIABLE": json.dumps(map_variable),
            "MAGNUS_ATTEMPT_NUMBER": str(number),
            "MAGNUS_STEP_NAME": resolved,
        }
        catalog = node.catalog
        fetched: dict[str, str] = {}
        message = ""
        ok = False
        log = ""
        outcome = None
        task_api._current.append(scope)
        try:
            for pattern in catalog.get if catalog else ():
                entries = ctx.catalog.get(ctx.run_id, pattern, ns)
                scope.catalog_entries.extend(entries)
                fetched.update({e.name: e.data_hash for e in entries})
            with interrupt.interruptible(task=True):
                outcome = run_task(node.task, params, env, echo=True, collected=scope.collected)
            ok, message, log = outcome.ok, outcome.message, outcome.log
            if ok:
                for pattern in catalog.put if catalog else ():
                    scope.catalog_entries.extend(ctx.catalog.put(ctx.run_id, pattern, ns, fetched))
        except CatalogError as exc:
            ok, message = False, str(exc)
        except OSError as exc:
            ok, message = False, bookkeeping_message("catalog", exc)
        except interrupt.Interrupted as exc:  # recorded as a failed attempt, then re-raised
            stopped, ok, message = exc, False, exc.message
        finally:
            task_api._current.pop()
        try:
            if outcome is not None:
                for name, data in outcome.artifacts.items():
                    entry = ctx.catalog.put_object(ctx.run_id, ns, name, data)
                    scope.catalog_entries.append(entry)
            log_name = execution_log_name(resolved, number)
            scope.catalog_entries.append(
                ctx.catalog.put_object(ctx.run_id, LOG_NAMESPACE + ns, log_name, log.encode())
            )
        except (OSError, CatalogError) as exc:
            failed = bookkeeping_message("catalog", exc) if isinstance(exc, OSError) else str(exc)
            ok, message = False, f"{message}; {failed}" if message else failed
        attempt_status = Status.SUCCESS if ok else Status.FAIL
        step_log.attempts.append(
            StepAttempt(
                attempt_number=number,
                start_time=started,
                end_time=now_iso(),
                duration=_duration(start),
                status=attempt_status,
                message=message,
                parameters=params,
            )
        )
        step_log.data_catalog.extend(scope.catalog_entries)
        step_log.user_defined_metrics.update(scope.metrics)
        if outcome is not None:
            step_log.user_defined_metrics.update(outcome.metrics)
        _report(
            ctx,
            "end",
            name=resolved,
            status=attempt_status,
            seconds=time.monotonic() - start,
            message=message,
            attempt=number,
            attempts=node.max_attempts,
        )
        if ok:
            status = Status.SUCCESS
            step_log.output_parameters = dict(outcome.outputs) if outcome else {}
            break
        if stopped is not None:
            break
        if number < last:
            ctx.store.put_step_log(ctx.run_id, step_log)  # record the failed attempt now
    step_log.status = status
    step_log.message = "" if status is Status.SUCCESS else step_log.attempts[-1].message
    if ctx.tracker is not None and step_log.user_defined_metrics:
        try:
            ctx.tracker.publish(ctx.run_id, ctx.tag, step_log.user_defined_metrics)
        except Exception as exc:  # bookkeeping failed: the step fails, with the reason
            status = step_log.status = Status.FAIL
            from magnus_render.runtime.tracking import describe_error

            step_log.message = f"experiment tracker: {describe_error(exc)}"
            step_log.attempts[-1].status = Status.FAIL
            step_log.attempts[-1].message = step_log.message
    # the SUCCESS (with its outputs) is recorded before the outputs are applied: see
    # StepLog.output_parameters
    ctx.store.put_step_log(ctx.run_id, step_log)
    if status is Status.SUCCESS:
        parameters.write(ctx.store, ctx.run_id, resolved, step_log.output_parameters)
    if stopped is not None:
        raise stopped
    return status


# -- composites ------------------------------------------------------------------------
def fan_out(
    ctx: RunContext, node: Node, map_variable: Mapping[str, Any] | None = None
) -> list[Branch]:
    """Open a composite: its step log (PROCESSING) and one branch log per branch."""
    resolved = resolve_name(node.internal_name, dict(map_variable or {}))
    step_log = ctx.store.get_step_log(ctx.run_id, resolved) or _new_step_log(node, resolved)
    step_log.status = Status.PROCESSING
    step_log.code_identities = [code_identity()]
    step_log.attempts = [
        StepAttempt(attempt_number=1, start_time=now_iso(), status=Status.PROCESSING)
    ]
    _report(ctx, "start", name=resolved, attempt=1)
    try:
        branches = branches_of(ctx, node, map_variable)
    except FanOutError as exc:
        step_log.status = Status.FAIL
        step_log.message = str(exc)
        step_log.attempts[0].status = Status.FAIL
        step_log.attempts[0].message = str(exc)
        step_log.attempts[0].end_time = now_iso()
        ctx.store.put_step_log(ctx.run_id, step_log)
        _report(ctx, "end", name=resolved, status=Status.FAIL, seconds=0.0, message=str(exc))
        raise
    ctx.store.put_step_log(ctx.run_id, step_log)
    for branch in branches:
        ctx.store.put_branch_log(
            ctx.run_id,
            BranchLog(
                internal_name=branch.name,
                status=Status.PROCESSING,
                map_variable=branch.map_variable if node.kind is NodeKind.MAP else None,
            ),
        )
    return branches


def fail_fan_out(
    ctx: RunContext,
    node: Node,
    map_variable: Mapping[str, Any] | None,
    branches: list[Branch],
    message: str,
) -> Status:
    """A fan-out that opened its branches but could not hand them on (the map items could
    not be written): the branches and the composite step are FAIL, never left PROCESSING."""
    resolved = resolve_name(node.internal_name, dict(map_variable or {}))
    for branch in branches:
        log = ctx.store.get_branch_log(ctx.run_id, branch.name)
        if log is not None and log.status is Status.PROCESSING:
            log.status = Status.FAIL
            ctx.store.put_branch_log(ctx.run_id, log)
    step_log = ctx.store.get_step_log(ctx.run_id, resolved) or _new_step_log(node, resolved)
    step_log.status = Status.FAIL
    step_log.message = message
    if not step_log.attempts:
        step_log.attempts = [StepAttempt(attempt_number=1, start_time=now_iso())]
    attempt = step_log.attempts[-1]
    attempt.status = Status.FAIL
    attempt.message = message
    attempt.end_time = now_iso()
    ctx.store.put_step_log(ctx.run_id, step_log)
    _report(ctx, "end", name=resolved, status=Status.FAIL, seconds=0.0, message=message)
    return Status.FAIL


def fan_in(ctx: RunContext, node: Node, map_variable: Mapping[str, Any] | None = None) -> Status:
    """Close a composite: roll branch statuses and parameters up; returns its status."""
    map_variable = dict(map_variable or {})
    resolved = resolve_name(node.internal_name, map_variable)
    step_log = ctx.store.get_step_log(ctx.run_id, resolved)
    if step_log is None:
        raise MagnusError(f"fan in of {resolved!r} before its fan out (no step log)")
    try:
        branches = branches_of(ctx, node, map_variable)
    except FanOutError as exc:
        branches, failure = [], str(exc)
    else:
        failure = ""
    logs = [ctx.store.get_branch_log(ctx.run_id, b.name) for b in branches]
    failed = [
        b.name
        for b, log in zip(branches, logs, strict=True)
        if log is None or log.status is not Status.SUCCESS
    ]
    status = Status.FAIL if failure or failed else Status.SUCCESS
    rolled: dict[str, Any] = {}
    if node.kind is NodeKind.MAP:
        keys: dict[str, None] = {}
        for log in logs:
            keys.update(dict.fromkeys(log.parameters if log else ()))
        for key in keys:
            rolled[key] = [log.parameters.get(key) if log else None for log in logs]
    else:
        for log in logs:
            if log is not None:
                rolled.update(log.parameters)
    parameters.write(ctx.store, ctx.run_id, resolved, rolled)
    step_log.status = status
    step_log.message = failure or (f"failed branches: {', '.join(failed)}" if failed else "")
    if step_log.attempts:
        attempt = step_log.attempts[-1]
    else:
        attempt = StepAttempt(attempt_number=1, start_time=now_iso())
        step_log.attempts = [attempt]
    attempt.end_time = now_iso()
    attempt.status = status
    attempt.message = step_log.message
    ctx.store.put_step_log(ctx.run_id, step_log)
    _report(ctx, "end", name=resolved, status=status, seconds=0.0, message=step_log.message)
    return status
