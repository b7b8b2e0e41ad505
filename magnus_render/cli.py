"""Command-line entry points. Thin: parse arguments, call one function, map errors to exits.

Exit codes: 0 success, 1 the pipeline (or node) failed, 2 bad input or usage. A
MagnusError is printed as its message alone; ``--debug`` (or MAGNUS_DEBUG=1) adds the
traceback. Heavy imports happen inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # `python -m magnus_render.cli`: container commands skip typer
    from magnus_render.container_cli import dispatch as _dispatch

    _code = _dispatch(sys.argv[1:])
    if _code is not None:
        sys.stdout.flush()
        sys.exit(_code)

import typer

from magnus_render.errors import MagnusError

app = typer.Typer(
    name="magnus",
    help="Run magnus pipelines locally, or one node at a time inside a container.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": os.environ.get("MAGNUS_DEBUG", "") not in ("", "0")}


def _guard(action: Callable[[], int | None]) -> None:
    """Run a command body; turn user errors into a message and an exit code."""
    try:
        code = action()
    except MagnusError as exc:
        if _state["debug"]:
            import traceback

            traceback.print_exc()
        typer.echo(f"error: {exc}" if "\n" not in str(exc) else f"error:\n{exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:  # runtime.interrupt.Interrupted says which signal
        typer.echo(str(exc) or "interrupted", err=True)
        raise typer.Exit(getattr(exc, "exit_code", 130)) from None
    raise typer.Exit(code or 0)


def _pipeline_path(positional: Path | None, option: Path | None) -> Path:
    if positional and option and positional != option:
        raise MagnusError(f"two pipelines given: {positional} and --file {option}")
    path = positional or option
    if path is None:
        raise MagnusError("no pipeline file given (pass PIPELINE or --file PIPELINE)")
    return path


def _print_warnings(pipeline: Any) -> None:
    for warning in pipeline.warnings:
        typer.echo(str(warning), err=True)


def _set_debug(value: bool) -> bool:
    if value:
        _state["debug"] = True
    return value


#: ``--debug`` is accepted before the subcommand and after it (on every command)
DebugOpt = typer.Option(
    False, "--debug", help="Show tracebacks for errors.", callback=_set_debug, is_eager=True
)


@app.callback()
def _main(debug: bool = DebugOpt) -> None:
    """The flags every command shares (only --debug)."""


PipelineArg = typer.Argument(None, help="The pipeline YAML file.", show_default=False)
FileOpt = typer.Option(None, "--file", "-f", help="The pipeline YAML file (magnus 0.5 style).")
ConfigOpt = typer.Option(None, "--config-file", "-c", help="Config file (magnus format).")
ParamsOpt = typer.Option(None, "--parameters-file", "-p", help="Initial parameters (YAML).")
LogLevelOpt = typer.Option(
    None, "--log-level", help="Accepted for magnus 0.5 scripts; it changes nothing here."
)


@app.command()
def validate(
    pipeline: Path | None = PipelineArg,
    file: Path | None = FileOpt,
    debug: bool = DebugOpt,
) -> None:
    """Check a pipeline; print problems as file:line: message. Exit 0 when valid."""

    def body() -> int:
        from magnus_render.pipeline import load_pipeline

        loaded = load_pipeline(_pipeline_path(pipeline, file))
        _print_warnings(loaded)
        typer.echo(f"{loaded.file}: valid ({sum(1 for _ in loaded.graph.walk())} steps)")
        return 0

    _guard(body)


@app.command()
def graph(
    pipeline: Path | None = PipelineArg,
    file: Path | None = FileOpt,
    format: str = typer.Option("mermaid", "--format", help="mermaid or dot."),
    debug: bool = DebugOpt,
) -> None:
    """Print the pipeline as a Mermaid or Graphviz picture."""

    def body() -> int:
        from magnus_render.config import MagnusConfig
        from magnus_render.pipeline import load_pipeline
        from magnus_render.renderers.base import RenderOptions
        from magnus_render.renderers.graph import DotRenderer, MermaidRenderer

        renderers = {"mermaid": MermaidRenderer, "dot": DotRenderer}
        if format not in renderers:
            raise MagnusError(f"unknown format {format!r}; choose mermaid or dot")
        loaded = load_pipeline(_pipeline_path(pipeline, file))
        renderer = renderers[format](loaded, MagnusConfig(), RenderOptions(loaded.file))
        sys.stdout.write(renderer.render().text)
        return 0

    _guard(body)


@app.command()
def schema(debug: bool = DebugOpt) -> None:
    """Print the JSON Schema of the pipeline format (for yaml-language-server)."""

    def body() -> int:
        import json

        from magnus_render.pipeline.schema import pipeline_json_schema

        sys.stdout.write(json.dumps(pipeline_json_schema(), indent=2, sort_keys=True) + "\n")
        return 0

    _guard(body)


@app.command()
def execute(
    pipeline: Path | None = PipelineArg,
    file: Path | None = FileOpt,
    config_file: Path | None = ConfigOpt,
    parameters_file: Path | None = ParamsOpt,
    run_id: str | None = typer.Option(None, "--run-id", help="Run id (default: generated)."),
    tag: str = typer.Option("", "--tag", help="A tag recorded in the run log."),
    use_cached: str | None = typer.Option(
        None, "--use-cached", help="Re-run: reuse the successful steps of this earlier run."
    ),
    log_level: str | None = LogLevelOpt,
    debug: bool = DebugOpt,
) -> None:
    """Run a pipeline on this machine. Exit 0 on success, 1 when the run fails.
    Without a pipeline, ./pipeline.yaml (magnus 0.5's default)."""

    def body() -> int:
        from magnus_render.runtime.entrypoints import execute_pipeline

        default = None if pipeline or file else Path("pipeline.yaml")
        return execute_pipeline(
            pipeline_file=_pipeline_path(pipeline, file or default),
            config_file=config_file,
            parameters_file=parameters_file,
            run_id=run_id,
            tag=tag,
            use_cached=use_cached,
        )

    _guard(body)


@app.command("execute_single_node")
def execute_single_node(
    run_id: str = typer.Argument(..., help="The run id shared by every node of the run."),
    step_name: str = typer.Argument(..., help="The node's internal name, e.g. each.{map}.train"),
    file: Path = typer.Option(..., "--file", "-f", help="The pipeline YAML file."),
    config_file: Path | None = ConfigOpt,
    parameters_file: Path | None = ParamsOpt,
    map_variable: str | None = typer.Option(
        None, "--map-variable", help="JSON object of map iteration values, outermost first."
    ),
    tag: str = typer.Option("", "--tag"),
    use_cached: str | None = typer.Option(None, "--use-cached"),
    as_is: str | None = typer.Option(
        None, "--as-is", help="as-is step: record it while `sh -c TEXT` runs (rendered specs)."
    ),
    as_is_begin: str | None = typer.Option(
        None, "--as-is-begin", help="as-is step: record its start, write its env to this file."
    ),
    as_is_end: int | None = typer.Option(
        None, "--as-is-end", help="as-is step: record its end with this exit code."
    ),
    iteration: bool = typer.Option(
        False,
        "--iteration",
        help="map step: traverse only the branch of the iteration --map-variable names "
        "(opened by `magnus fan --mode out`; exit 1 when that branch failed).",
    ),
    log_level: str | None = LogLevelOpt,
    debug: bool = DebugOpt,
) -> None:
    """Execute one node (the container entry point). Exit 0 success, 1 failed, 2 bad input."""

    def body() -> int:
        from magnus_render.runtime.entrypoints import execute_single_node as run

        return run(
            run_id=run_id,
            internal_name=step_name,
            pipeline_file=file,
            config_file=config_file,
            parameters_file=parameters_file,
            map_variable=map_variable,
            tag=tag,
            use_cached=use_cached,
            as_is=as_is,
            as_is_begin=as_is_begin,
            as_is_end=as_is_end,
            iteration=iteration,
        )

    _guard(body)


@app.command()
def fan(
    run_id: str = typer.Argument(...),
    step_name: str = typer.Argument(..., help="Internal name of the parallel or map node."),
    mode: str = typer.Option(..., "--mode", help="out: open branches; in: roll them up."),
    file: Path = typer.Option(..., "--file", "-f"),
    config_file: Path | None = ConfigOpt,
    parameters_file: Path | None = ParamsOpt,
    map_variable: str | None = typer.Option(None, "--map-variable"),
    # a str, not a Path: Path("s3://b/k") collapses to "s3:/b/k" and loses the scheme
    items_file: str | None = typer.Option(
        None, "--items-file", help="fan out of a map: also write the items here (a path or s3://)."
    ),
    tag: str = typer.Option("", "--tag"),
    use_cached: str | None = typer.Option(None, "--use-cached"),
    log_level: str | None = LogLevelOpt,
    debug: bool = DebugOpt,
) -> None:
    """Open (out) or close (in) the branches of a parallel or map node."""

    def body() -> int:
        from magnus_render.runtime.entrypoints import fan as run

        if mode not in ("in", "out"):
            raise MagnusError(f"--mode must be 'in' or 'out', got {mode!r}")
        return run(
            run_id=run_id,
            internal_name=step_name,
            mode=mode,
            pipeline_file=file,
            config_file=config_file,
            parameters_file=parameters_file,
            map_variable=map_variable,
            items_file=items_file,
            tag=tag,
            use_cached=use_cached,
        )

    _guard(body)


@app.command()
def interrupted(
    run_id: str = typer.Argument(..., help="The run a signal stopped."),
    signal_name: str = typer.Option(..., "--signal", help="INT or TERM."),
    config_file: Path | None = ConfigOpt,
) -> None:
    """Mark what is still PROCESSING in a run, and the run, FAIL "interrupted (SIG...)"
    (the shell script calls this when INT or TERM stopped it). Exit 0."""

    def body() -> int:
        from magnus_render.runtime.entrypoints import record_interrupted

        return record_interrupted(run_id, signal_name, config_file)

    _guard(body)


JobDataOpt = typer.Option(
    None, "--data-folder", "-d", help="The -put globs are relative to it (default data/)."
)
JobPutOpt = typer.Option([], "--put-in-catalog", "-put", help="Put these globs after the job.")


@app.command("execute_function")
def execute_function(
    command: str = typer.Argument(..., help="module.function, run as a one-step job."),
    config_file: Path | None = ConfigOpt,
    parameters_file: Path | None = ParamsOpt,
    log_level: str | None = LogLevelOpt,
    data_folder: str | None = JobDataOpt,
    put_in_catalog: list[str] = JobPutOpt,
    tag: str = typer.Option("", "--tag"),
    run_id: str | None = typer.Option(None, "--run-id"),
    debug: bool = DebugOpt,
) -> None:
    """Run one python function as a job (magnus 0.5). Exit 0 success, 1 failed."""

    def body() -> int:
        from magnus_render.sdk.jobs import execute_job

        return execute_job(
            command,
            "python",
            config_file,
            parameters_file,
            tag,
            run_id,
            put_in_catalog,
            data_folder,
        )

    _guard(body)


@app.command("execute_notebook")
def execute_notebook(
    filename: str = typer.Argument(..., help="The .ipynb notebook, run as a one-step job."),
    config_file: Path | None = ConfigOpt,
    parameters_file: Path | None = ParamsOpt,
    log_level: str | None = LogLevelOpt,
    data_folder: str | None = JobDataOpt,
    put_in_catalog: list[str] = JobPutOpt,
    notebook_output_path: str = typer.Option("", "--notebook-output-path"),
    tag: str = typer.Option("", "--tag"),
    run_id: str | None = typer.Option(None, "--run-id"),
    debug: bool = DebugOpt,
) -> None:
    """Run one notebook as a job (magnus 0.5). Exit 0 success, 1 failed."""

    def body() -> int:
        from magnus_render.sdk.jobs import execute_job

        return execute_job(
            filename,
            "notebook",
            config_file,
            parameters_file,
            tag,
            run_id,
            put_in_catalog,
            data_folder,
            notebook_output_path,
        )

    _guard(body)


@app.command()
def show(
    run_id: str = typer.Argument(...),
    config_file: Path | None = ConfigOpt,
    as_json: bool = typer.Option(False, "--json", help="The full run log as JSON."),
    debug: bool = DebugOpt,
) -> None:
    """Show a run: steps, branches, statuses, attempts, parameters, metrics, catalog."""

    def body() -> int:
        from magnus_render.runtime.entrypoints import show_run

        return show_run(run_id=run_id, config_file=config_file, as_json=as_json)

    _guard(body)


@app.command()
def runs(
    config_file: Path | None = ConfigOpt,
    limit: int = typer.Option(20, "--limit", "-n"),
    debug: bool = DebugOpt,
) -> None:
    """List recent runs."""

    def body() -> int:
        from magnus_render.runtime.entrypoints import list_runs

        return list_runs(config_file=config_file, limit=limit)

    _guard(body)


render_app = typer.Typer(
    name="magnus-render",
    help="Compile a magnus pipeline into an orchestrator's spec.",
    add_completion=False,
    pretty_exceptions_enable=False,
)


@render_app.command()
def render(
    pipeline: Path | None = PipelineArg,
    target: str | None = typer.Option(None, "--target", "-t", help="See --list-targets."),
    config_file: Path | None = ConfigOpt,
    parameters_file: Path | None = ParamsOpt,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
    image: str | None = typer.Option(None, "--image", help="Container image for every step."),
    check: Path | None = typer.Option(
        None, "--check", help="Exit 1 with a diff when this committed file is out of date."
    ),
    validate_output: bool = typer.Option(False, "--validate", help="Validate the output first."),
    kind: str | None = typer.Option(
        None, "--kind", help="argo: Workflow, WorkflowTemplate, CronWorkflow."
    ),
    schedule: str | None = typer.Option(None, "--schedule", help="Cron schedule."),
    timezone: str | None = typer.Option(None, "--timezone"),
    with_infra: bool = typer.Option(False, "--with-infra", help="stepfunctions: CloudFormation."),
    list_targets: bool = typer.Option(False, "--list-targets", help="List targets and exit."),
    debug: bool = DebugOpt,
) -> None:
    """Render PIPELINE for --target and print it (or write --output).

    `magnus-render --manifest render.yaml [--check]` renders (or checks) every output a
    render manifest lists instead.
    """

    def body() -> int:
        from magnus_render.render import render_command

        return render_command(
            pipeline=pipeline,
            target=target,
            config_file=config_file,
            parameters_file=parameters_file,
            output=output,
            image=image,
            check=check,
            validate=validate_output,
            list_only=list_targets,
            extra={
                "kind": kind,
                "schedule": schedule,
                "timezone": timezone,
                "with_infra": with_infra,
            },
        )

    _guard(body)


def magnus_main() -> None:
    from magnus_render.container_cli import main

    main()


manifest_app = typer.Typer(
    name="magnus-render",
    help="Render or check every spec a render manifest lists.",
    add_completion=False,
    pretty_exceptions_enable=False,
)


@manifest_app.command()
def render_manifest(
    manifest: Path = typer.Option(..., "--manifest", help="The render manifest (render.yaml)."),
    check: bool = typer.Option(
        False, "--check", help="Exit 1 listing (with diffs) every file out of date."
    ),
    debug: bool = DebugOpt,
) -> None:
    """Render every pipeline the manifest lists into the tree (or --check the tree)."""

    def body() -> int:
        from magnus_render.gitops import run_manifest

        return run_manifest(manifest, check)

    _guard(body)


def render_main() -> None:
    args = sys.argv[1:]
    if any(a == "--manifest" or a.startswith("--manifest=") for a in args):
        manifest_app()  # --check is a flag here, not a file to compare with
    else:
        render_app()


if __name__ == "__main__":
    magnus_main()
