"""magnus 0.5's interactive session: the task API in a notebook or REPL, outside a pipeline.

The session is recorded as a run with one step, ``interactive``, so whatever it tracked,
set or put in the catalog lands in a run log like any step's. The executor is always
local, as in magnus 0.5; the config file picks the run log store, catalog and secrets.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

from magnus_render.runtime import task_api

STEP_NAME = "interactive"

_PIPELINE = f"""\
dag:
  start_at: {STEP_NAME}
  steps:
    {STEP_NAME}:
      type: task
      command: magnus.interactive
      next: success
    success:
      type: success
    fail:
      type: fail
"""


@dataclass
class _Session:
    scope: task_api.StepScope
    started: str
    clock: float
    previous_run_id: str | None


_active: list[_Session] = []


def start(
    run_id: str = "", config_file: str = "", tag: str = "", parameters_file: str = ""
) -> None:
    """Open a run and make the task API act on its ``interactive`` step."""
    if task_api._current:
        print("magnus: a step or session is already active; not starting another", file=sys.stderr)
        return
    from magnus_render.config import load_config
    from magnus_render.contract.naming import check_run_id
    from magnus_render.pipeline import load_pipeline_text
    from magnus_render.runtime.context import RunContext, build_services, generate_run_id
    from magnus_render.runtime.parameters import initial_parameters
    from magnus_render.stores.models import now_iso

    config = load_config(config_file or None)
    store, catalog, secrets = build_services(config)
    ctx = RunContext(
        pipeline=load_pipeline_text(_PIPELINE, "<interactive session>"),
        config=config,
        run_id=check_run_id(run_id or generate_run_id()),
        store=store,
        catalog=catalog,
        secrets=secrets,
        parameters_file=parameters_file or None,
        config_file=config_file or None,
        tag=tag,
    )
    params = initial_parameters(parameters_file or None)
    ctx.create_run_log(params)
    scope = task_api.StepScope(ctx, STEP_NAME, {}, (), dict(params))
    _active.append(_Session(scope, now_iso(), time.monotonic(), os.environ.get("MAGNUS_RUN_ID")))
    os.environ["MAGNUS_RUN_ID"] = ctx.run_id
    task_api._current.append(scope)


def end() -> None:
    """Write the session's step log (metrics, catalog, parameters) and close its run."""
    if not _active:
        print("magnus: there is no interactive session to end", file=sys.stderr)
        return
    from magnus_render.runtime import parameters
    from magnus_render.stores.models import Status, StepAttempt, StepLog, now_iso

    session = _active.pop()
    scope = session.scope
    if scope in task_api._current:
        task_api._current.remove(scope)
    if session.previous_run_id is None:
        os.environ.pop("MAGNUS_RUN_ID", None)
    else:
        os.environ["MAGNUS_RUN_ID"] = session.previous_run_id
    ctx = scope.ctx
    step_log = StepLog(
        name=STEP_NAME,
        internal_name=STEP_NAME,
        status=Status.SUCCESS,
        step_type="task",
        attempts=[
            StepAttempt(
                attempt_number=1,
                start_time=session.started,
                end_time=now_iso(),
                duration=f"{time.monotonic() - session.clock:.6f}",
                status=Status.SUCCESS,
                parameters=dict(scope.params),
            )
        ],
        user_defined_metrics=dict(scope.metrics),
        data_catalog=list(scope.catalog_entries),
    )
    ctx.store.put_step_log(ctx.run_id, step_log)
    parameters.write(ctx.store, ctx.run_id, STEP_NAME, scope.collected)
    ctx.store.update_run(ctx.run_id, status=Status.SUCCESS)
