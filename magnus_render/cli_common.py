"""What the typer command lines share: --debug, the common options, and the guard that
turns a MagnusError into its message and exit code (2 for bad input) without a traceback."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
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

#: a shared option: its type and its typer declaration
Shared = tuple[Any, Any]
#: options several commands declare alike (each command's table picks some)
COMMON: dict[str, Shared] = {
    "config_file": (Path | None, ConfigOpt),
    "parameters_file": (Path | None, ParamsOpt),
    "log_level": (str | None, LogLevelOpt),
    "tag": (str, typer.Option("", "--tag")),
    "debug": (bool, DebugOpt),
}


def with_options(
    shared: Mapping[str, Shared], *layout: str
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Typer has no option groups: a command declares only its own parameters and takes
    ``**shared``; ``layout`` names all of them in --help order, the shared ones taken from
    ``shared`` (declared once), and typer reads the signature this builds."""

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(func)
        own = {p.name: p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD}
        missing = set(own) - set(layout)
        if missing:
            raise TypeError(f"{func.__name__}: {sorted(missing)} not in the layout")
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        parameters = [
            own.get(n) or inspect.Parameter(n, kind, default=shared[n][1], annotation=shared[n][0])
            for n in layout
        ]
        func.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        return func

    return decorate


def passed(shared: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The shared options a command hands on, by name (--log-level and --debug are not)."""
    return {n: shared[n] for n in names}
