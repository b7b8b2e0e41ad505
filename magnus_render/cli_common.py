"""What the typer command lines share: --debug, the common options, and the guard that
turns a MagnusError into its message and exit code (2 for bad input) without a traceback."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from magnus_render.errors import MagnusError

_state = {"debug": os.environ.get("MAGNUS_DEBUG", "") not in ("", "0")}


def guard(action: Callable[[], int | None]) -> None:
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


def pipeline_path(positional: Path | None, option: Path | None) -> Path:
    if positional and option and positional != option:
        raise MagnusError(f"two pipelines given: {positional} and --file {option}")
    path = positional or option
    if path is None:
        raise MagnusError("no pipeline file given (pass PIPELINE or --file PIPELINE)")
    return path


def print_warnings(pipeline: Any) -> None:
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


PipelineArg = typer.Argument(None, help="The pipeline YAML file.", show_default=False)
FileOpt = typer.Option(None, "--file", "-f", help="The pipeline YAML file (magnus 0.5 style).")
ConfigOpt = typer.Option(None, "--config-file", "-c", help="Config file (magnus format).")
ParamsOpt = typer.Option(None, "--parameters-file", "-p", help="Initial parameters (YAML).")
LogLevelOpt = typer.Option(
    None, "--log-level", help="Accepted for magnus 0.5 scripts; it changes nothing here."
)
