"""Command-line entry points. Thin: parse arguments, call one function, map errors to exits.

Exit codes: 0 success, 1 the pipeline (or node) failed, 2 bad input or usage. A
MagnusError is printed as its message alone; ``--debug`` (or MAGNUS_DEBUG=1) adds the
traceback. Heavy imports happen inside the commands that need them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # `python -m magnus_render.cli`: container commands skip typer
    from magnus_render.container_cli import dispatch as _dispatch

    _code = _dispatch(sys.argv[1:])
    if _code is not None:
        sys.stdout.flush()
        sys.exit(_code)

import typer

from magnus_render.cli_common import (
    COMMON,
    ConfigOpt,
    DebugOpt,
    FileOpt,
    LogLevelOpt,
    ParamsOpt,
    PipelineArg,
    Shared,
    guard,
    passed,
    pipeline_path,
    print_warnings,
    with_options,
)
from magnus_render.errors import MagnusError
from magnus_render.render_cli import render_main  # the `magnus-render` console script

__all__ = ["app", "magnus_main", "render_main"]

app = typer.Typer(
    name="magnus",
    help="Run magnus pipelines locally, or one node at a time inside a container.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(debug: bool = DebugOpt) -> None:
    """The flags every command shares (only --debug)."""


@app.command()
def validate(
    pipeline: Path | None = PipelineArg,
    file: Path | None = FileOpt,
    debug: bool = DebugOpt,
) -> None:
    """Check a pipeline; print problems as file:line: message. Exit 0 when valid."""

    def body() -> int:
        from magnus_render.pipeline import load_pipeline

        loaded = load_pipeline(pipeline_path(pipeline, file))
        print_warnings(loaded)
        typer.echo(f"{loaded.file}: valid ({sum(1 for _ in loaded.graph.walk())} steps)")
        return 0

    guard(body)


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
        loaded = load_pipeline(pipeline_path(pipeline, file))
        renderer = renderers[format](loaded, MagnusConfig(), RenderOptions(loaded.file))
        sys.stdout.write(renderer.render().text)
        return 0

    guard(body)


@app.command()
def schema(debug: bool = DebugOpt) -> None:
    """Print the JSON Schema of the pipeline format (for yaml-language-server)."""

    def body() -> int:
        import json

        from magnus_render.pipeline.schema import pipeline_json_schema

        sys.stdout.write(json.dumps(pipeline_json_schema(), indent=2, sort_keys=True) + "\n")
        return 0

    guard(body)


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
            pipeline_file=pipeline_path(pipeline, file or default),
            config_file=config_file,
            parameters_file=parameters_file,
            run_id=run_id,
            tag=tag,
            use_cached=use_cached,
        )

    guard(body)


ParamOpt = typer.Option(
    None, "--param", help="NAME=JSON given at submit (repeatable); used when creating the run."
)
ParamsJsonOpt = typer.Option(
    None, "--params-json", help="JSON object of values given at submit (Step Functions)."
)


#: the options the container commands (execute_single_node, fan) share
_NODE: dict[str, Shared] = {
    **COMMON,
    "use_cached": (str | None, typer.Option(None, "--use-cached")),
    "params": (list[str] | None, ParamOpt),
    "params_json": (str | None, ParamsJsonOpt),
}
#: what they hand on to the runtime
_NODE_PASSED = ("config_file", "parameters_file", "tag", "use_cached", "params", "params_json")


@app.command("execute_single_node")
@with_options(
    _NODE,
    *("run_id", "step_name", "file", "config_file", "parameters_file", "map_variable"),
    *(
        "tag",
        "use_cached",
        "params",
        "params_json",
        "as_is",
        "as_is_begin",
        "as_is_end",
        "iteration",
        "log_level",
        "debug",
    ),
)
def execute_single_node(
    run_id: str = typer.Argument(..., help="The run id shared by every node of the run."),
    step_name: str = typer.Argument(..., help="The node's internal name, e.g. each.{map}.train"),
    file: Path = typer.Option(..., "--file", "-f", help="The pipeline YAML file."),
    map_variable: str | None = typer.Option(
        None, "--map-variable", help="JSON object of map iteration values, outermost first."
    ),
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
    **shared: Any,
) -> None:
    """Execute one node (the container entry point). Exit 0 success, 1 failed, 2 bad input."""
    own: dict[str, Any] = {"as_is": as_is, "as_is_begin": as_is_begin, "as_is_end": as_is_end}
    node = (run_id, step_name, file, map_variable, shared)
    guard(lambda: _node_entry("execute_single_node", *node, **own, iteration=iteration))


@app.command()
@with_options(
    _NODE,
    *("run_id", "step_name", "mode", "file", "config_file", "parameters_file", "map_variable"),
    *("items_file", "tag", "use_cached", "params", "params_json", "log_level", "debug"),
)
def fan(
    run_id: str = typer.Argument(...),
    step_name: str = typer.Argument(..., help="Internal name of the parallel or map node."),
    mode: str = typer.Option(..., "--mode", help="out: open branches; in: roll them up."),
    file: Path = typer.Option(..., "--file", "-f"),
    map_variable: str | None = typer.Option(None, "--map-variable"),
    # a str, not a Path: Path("s3://b/k") collapses to "s3:/b/k" and loses the scheme
    items_file: str | None = typer.Option(
        None, "--items-file", help="fan out of a map: also write the items here (a path or s3://)."
    ),
    **shared: Any,
) -> None:
    """Open (out) or close (in) the branches of a parallel or map node."""

    def body() -> int:
        if mode not in ("in", "out"):
            raise MagnusError(f"--mode must be 'in' or 'out', got {mode!r}")
        node = (run_id, step_name, file, map_variable, shared)
        return _node_entry("fan", *node, mode=mode, items_file=items_file)

    guard(body)


@app.command("compile")
def compile_command(
    file: Path = typer.Option(..., "--file", "-f", help="The pipeline YAML file."),
    config_file: Path | None = ConfigOpt,
    debug: bool = DebugOpt,
) -> None:
    """Compile a pipeline into the cache every container command reads
    (MAGNUS_PIPELINE_CACHE_DIR), e.g. while an image is built. Exit 2 when invalid."""

    def body() -> int:
        from magnus_render.runtime.compile_cache import compile_pipeline

        return compile_pipeline(file, config_file)

    guard(body)


def _node_entry(
    entry: str,
    run_id: str,
    step_name: str,
    file: Path,
    map_variable: str | None,
    shared: dict[str, Any],
    **own: Any,
) -> int:
    """Call a container command's runtime entry point (imported only when it runs) with
    what both container commands hand on, then the command's own arguments."""
    from magnus_render.runtime import entrypoints

    run = getattr(entrypoints, entry)
    given = {**passed(shared, *_NODE_PASSED), "map_variable": map_variable, **own}
    return int(run(run_id=run_id, internal_name=step_name, pipeline_file=file, **given))


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

    guard(body)


JobDataOpt = typer.Option(
    None, "--data-folder", "-d", help="The -put globs are relative to it (default data/)."
)
JobPutOpt = typer.Option([], "--put-in-catalog", "-put", help="Put these globs after the job.")


#: the options the one-step job commands share
_JOB: dict[str, Shared] = {
    **COMMON,
    "data_folder": (str | None, JobDataOpt),
    "put_in_catalog": (list[str], JobPutOpt),
    "run_id": (str | None, typer.Option(None, "--run-id")),
}
_JOB_HEAD = ("config_file", "parameters_file", "log_level", "data_folder", "put_in_catalog")
_JOB_TAIL = ("tag", "run_id", "debug")


def _run_job(command: str, command_type: str, job: dict[str, Any], **extra: Any) -> None:
    def body() -> int:
        from magnus_render.sdk.jobs import execute_job

        names = ("config_file", "parameters_file", "tag", "run_id", "put_in_catalog")
        shared = passed(job, *names, "data_folder")
        return execute_job(command, command_type, **shared, **extra)

    guard(body)


@app.command("execute_function")
@with_options(_JOB, "command", *_JOB_HEAD, *_JOB_TAIL)
def execute_function(
    command: str = typer.Argument(..., help="module.function, run as a one-step job."),
    **job: Any,
) -> None:
    """Run one python function as a job (magnus 0.5). Exit 0 success, 1 failed."""
    _run_job(command, "python", job)


@app.command("execute_notebook")
@with_options(_JOB, "filename", *_JOB_HEAD, "notebook_output_path", *_JOB_TAIL)
def execute_notebook(
    filename: str = typer.Argument(..., help="The .ipynb notebook, run as a one-step job."),
    notebook_output_path: str = typer.Option("", "--notebook-output-path"),
    **job: Any,
) -> None:
    """Run one notebook as a job (magnus 0.5). Exit 0 success, 1 failed."""
    _run_job(filename, "notebook", job, notebook_output_path=notebook_output_path)


@app.command()
def show(
    run_id: str = typer.Argument(...),
    config_file: Path | None = ConfigOpt,
    as_json: bool = typer.Option(False, "--json", help="The full run log as JSON."),
    debug: bool = DebugOpt,
) -> None:
    """Show a run: steps, branches, statuses, attempts, parameters, metrics, catalog."""

    def body() -> int:
        from magnus_render.runtime.show import show_run

        return show_run(run_id=run_id, config_file=config_file, as_json=as_json)

    guard(body)


@app.command()
def runs(
    config_file: Path | None = ConfigOpt,
    limit: int = typer.Option(20, "--limit", "-n"),
    debug: bool = DebugOpt,
) -> None:
    """List recent runs."""

    def body() -> int:
        from magnus_render.runtime.show import list_runs

        return list_runs(config_file=config_file, limit=limit)

    guard(body)


def magnus_main() -> None:
    from magnus_render.container_cli import main

    main()


if __name__ == "__main__":
    magnus_main()
