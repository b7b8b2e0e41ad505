"""The driver's command line (k8s-jobs, aws-batch): run a pipeline, or resume its run.

``magnus-k8s-driver``, ``python -m magnus_render.runtime.executors.k8s_job`` and
``python -m magnus_render.runtime.executors.aws_batch`` start here: ``magnus execute``
semantics, plus resuming an existing run with the configured executor. It sits above the
executors and the entry points, which it both uses.
"""

from __future__ import annotations

import argparse
import sys

from magnus_render.errors import MagnusError, RunError
from magnus_render.stores.models import Status


def drive(
    pipeline_file: str,
    config_file: str | None,
    parameters_file: str | None,
    run_id: str,
    as_is_target: str | None = None,
    use_cached: str | None = None,
) -> int:
    """Run the pipeline with the configured executor, or resume ``run_id`` if it exists.
    ``as_is_target``: the rendered target whose render_string as-is steps run;
    ``use_cached``: a new run re-runs that run (a resumed one keeps what it recorded)."""
    from magnus_render.runtime.entrypoints import _context, execute_pipeline, make_executor
    from magnus_render.runtime.progress import make_reporter

    ctx = _context(pipeline_file, config_file, parameters_file, run_id)
    ctx.as_is_target = as_is_target
    if not ctx.store.exists(run_id):
        return execute_pipeline(
            pipeline_file,
            config_file,
            parameters_file,
            run_id,
            use_cached=use_cached,
            as_is_target=as_is_target,
        )
    header = ctx.store.get_run_header(run_id)
    if header.dag_hash and header.dag_hash != ctx.pipeline.dag_hash:
        raise RunError(
            f"run {run_id!r} exists and was made from a different pipeline definition; "
            "a driver resumes only its own run (choose another run id)",
            str(pipeline_file),
        )
    if header.use_cached and header.original_run_id:  # its nodes keep reusing from there
        ctx.use_cached = header.original_run_id
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


def main(
    argv: list[str] | None = None,
    prog: str = "python -m magnus_render.runtime.executors.k8s_job",
    what: str = "k8s-jobs",
) -> int:
    """A driver's command line (k8s-jobs, aws-batch): run or resume one pipeline run."""
    parser = argparse.ArgumentParser(
        prog=prog, description=f"The {what} driver: run or resume a pipeline run."
    )
    parser.add_argument("--file", "-f", required=True)
    parser.add_argument("--config-file", "-c")
    parser.add_argument("--parameters-file", "-p")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--use-cached", help="re-run: reuse the successful steps of this run")
    parser.add_argument(
        "--as-is-target",
        help="run as-is steps with their render_string for this target (a rendered driver)",
    )
    args = parser.parse_args(argv)
    try:
        return drive(
            args.file,
            args.config_file,
            args.parameters_file,
            args.run_id,
            args.as_is_target,
            args.use_cached,
        )
    except MagnusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def aws_batch_main(argv: list[str] | None = None) -> int:
    """``python -m magnus_render.runtime.executors.aws_batch``: run or resume a run."""
    return main(argv, "python -m magnus_render.runtime.executors.aws_batch", "aws-batch")
