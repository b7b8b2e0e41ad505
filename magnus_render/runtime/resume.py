"""Run a pipeline, or resume it when its run exists: what a remote driver does at start.

A driver pod (k8s-jobs) or a driver process (aws-batch) may be restarted with the same
run id; the remote-driver executors (:mod:`.executors.driver`) then skip what finished
and adopt what is still running. The command line is :mod:`magnus_render.driver_cli`.
"""

from __future__ import annotations

import sys

from magnus_render.errors import RunError
from magnus_render.stores.models import Status


def drive(
    pipeline_file: str,
    config_file: str | None,
    parameters_file: str | None,
    run_id: str,
    as_is_target: str | None = None,
) -> int:
    """Run the pipeline with the configured executor, or resume ``run_id`` if it exists.
    ``as_is_target``: the rendered target whose render_string as-is steps run."""
    from magnus_render.runtime.entrypoints import _context, execute_pipeline, make_executor
    from magnus_render.runtime.progress import make_reporter

    ctx = _context(pipeline_file, config_file, parameters_file, run_id)
    ctx.as_is_target = as_is_target
    if not ctx.store.exists(run_id):
        return execute_pipeline(
            pipeline_file, config_file, parameters_file, run_id, as_is_target=as_is_target
        )
    header = ctx.store.get_run_header(run_id)
    if header.dag_hash and header.dag_hash != ctx.pipeline.dag_hash:
        raise RunError(
            f"run {run_id!r} exists and was made from a different pipeline definition; "
            "a driver resumes only its own run (choose another run id)",
            str(pipeline_file),
        )
    executor = make_executor(ctx)
    print(f"run {run_id} exists: resuming it", file=sys.stderr)
    ctx.reporter = make_reporter(False)
    try:
        status = executor.execute_graph(ctx.pipeline.graph, None)
    finally:
        if ctx.reporter:
            ctx.reporter.close()
    if status is Status.PROCESSING:
        status = Status.FAIL
        ctx.store.update_run(run_id, status=status)
    print(f"run {run_id} {'succeeded' if status is Status.SUCCESS else 'FAILED'}", file=sys.stderr)
    return 0 if status is Status.SUCCESS else 1
