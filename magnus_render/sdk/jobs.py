"""magnus 0.5's one-step jobs: ``magnus execute_function`` and ``magnus execute_notebook``.

A job is a pipeline of one task named ``executing job`` (magnus 0.5's name), built with
the SDK and run like ``magnus execute``, so it gets a run log, parameters and a catalog
like any other run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from magnus_render.errors import Diagnostic, MagnusError, PipelineError

#: the step name magnus 0.5 gave a job
JOB_STEP = "executing job"
#: magnus 0.5's ``--data-folder`` default for jobs (pipelines default to the working dir)
JOB_DATA_FOLDER = "data/"


def job_globs(globs: Sequence[str], data_folder: str, config_file: Path | str | None) -> list[str]:
    """``-put`` globs are relative to the job's ``--data-folder`` (magnus 0.5: ``data/``);
    the catalog matches globs from its ``compute_data_folder``, so each glob is rewritten
    to be relative to that. A data folder outside it cannot be expressed: an error."""
    import os
    import posixpath

    from magnus_render.config import load_config

    if not globs:
        return []
    config = load_config(config_file)
    compute = str(config.catalog.config.get("compute_data_folder", "."))
    rel = os.path.relpath(os.path.normpath(data_folder), os.path.normpath(compute))
    if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        raise MagnusError(
            f"--data-folder {data_folder!r} is outside the catalog's compute_data_folder "
            f"{compute!r}: set catalog.config.compute_data_folder in the config file instead"
        )
    prefix = "" if rel == "." else rel.replace(os.sep, "/")
    return [posixpath.join(prefix, g) if prefix else g for g in globs]


def execute_job(
    command: str,
    command_type: str,
    config_file: Path | str | None = None,
    parameters_file: Path | str | None = None,
    tag: str = "",
    run_id: str | None = None,
    put_in_catalog: Sequence[str] = (),
    data_folder: str | None = None,
    notebook_output_path: str | None = None,
) -> int:
    """Run ``command`` as a one-step pipeline; 0 when it succeeded, 1 when it failed."""
    from magnus_render.sdk import Catalog, Pipeline, Task

    put_in_catalog = job_globs(put_in_catalog, data_folder or JOB_DATA_FOLDER, config_file)
    if command_type == "notebook" and not command.endswith(".ipynb"):
        raise MagnusError("a notebook must have the .ipynb extension", command)
    try:
        pipeline = Pipeline(
            steps=[
                Task(
                    name=JOB_STEP,
                    command=command,
                    command_type=command_type,
                    catalog=Catalog(put=put_in_catalog) if put_in_catalog else None,
                    notebook_output_path=notebook_output_path or None,
                    terminate_with_success=True,
                )
            ]
        )
    except PipelineError as exc:  # the location is ours, not the user's: name the command
        raise PipelineError.from_diagnostics(
            [Diagnostic(d.message, None, None) for d in exc.diagnostics]
        ) from None
    log = pipeline.execute(
        configuration_file=config_file,
        run_id=run_id,
        tag=tag,
        parameters_file=parameters_file,
        raise_on_failure=False,
    )
    return 0 if log is not None and log.status.value == "SUCCESS" else 1
