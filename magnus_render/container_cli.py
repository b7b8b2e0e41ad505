"""The container commands (`execute_single_node`, `fan`, `compile`) without typer or rich.

Why: every rendered container and every node of the shell target starts one process for
one of the first two commands, so importing the CLI framework (about as costly as the node
itself) is paid once per step; `compile` (an image's RUN line) is their companion and is
kept as light. :func:`dispatch` parses exactly the options the typer
commands in :mod:`magnus_render.cli` declare, with argparse; anything it does not fully
understand (``--help``, a usage error, another command) returns ``None`` so the caller falls
back to typer, which prints the same help and usage errors as before.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

#: the commands this module handles; everything else goes to typer
COMMANDS = ("execute_single_node", "fan", "compile")


class _Fallback(Exception):
    """argparse met something it should not decide on: let typer handle the argv."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise _Fallback(message)

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse makes one per added argument, and without a width each asks the
        # terminal's size through shutil (which loads bz2 and lzma); this parser prints
        # no help (typer does), so any width will do
        return argparse.HelpFormatter(prog=self.prog, width=100)


def _parser(command: str) -> _Parser:
    parser = _Parser(prog=f"magnus {command}", add_help=False, allow_abbrev=False)
    if command == "compile":  # run once while an image is built
        parser.add_argument("--file", "-f", type=Path, required=True)
        parser.add_argument("--config-file", "-c", type=Path, default=None)
        parser.add_argument("--debug", action="store_true")
        return parser
    parser.add_argument("run_id")
    parser.add_argument("step_name")
    parser.add_argument("--file", "-f", type=Path, required=True)
    parser.add_argument("--config-file", "-c", type=Path, default=None)
    parser.add_argument("--parameters-file", "-p", type=Path, default=None)
    parser.add_argument("--map-variable", default=None)
    parser.add_argument("--tag", default="")
    parser.add_argument("--use-cached", default=None)
    parser.add_argument("--param", action="append", default=None)
    parser.add_argument("--params-json", default=None)
    parser.add_argument("--log-level", default=None)
    parser.add_argument("--debug", action="store_true")
    if command == "fan":
        parser.add_argument("--mode", required=True)
        parser.add_argument("--items-file", default=None)
    else:  # an as-is step of a rendered spec, a map iteration of Airflow's task mapping
        parser.add_argument("--as-is", default=None)
        parser.add_argument("--as-is-begin", default=None)
        parser.add_argument("--as-is-end", type=int, default=None)
        parser.add_argument("--iteration", action="store_true")
    return parser


def _split(argv: list[str]) -> tuple[bool, str, list[str]] | None:
    """(--debug before the command, command, its arguments), or None when not ours."""
    debug = False
    rest = list(argv)
    while rest and rest[0] == "--debug":
        debug = True
        rest.pop(0)
    if not rest or rest[0] not in COMMANDS:
        return None
    if any(a in ("--help", "-h") or a.startswith("--help=") for a in rest[1:]):
        return None  # typer prints the help text
    return debug, rest[0], rest[1:]


def dispatch(argv: list[str]) -> int | None:
    """Run a container command and return its exit code; None when typer must handle argv."""
    split = _split(argv)
    if split is None:
        return None
    debug, command, args = split
    try:
        ns = _parser(command).parse_args(args)
    except _Fallback:
        return None
    debug = debug or ns.debug or os.environ.get("MAGNUS_DEBUG", "") not in ("", "0")
    return _guarded(command, ns, debug)


def _guarded(command: str, ns: argparse.Namespace, debug: bool) -> int:
    """Like cli_common.guard: a MagnusError is its message and exit code, ^C is 130."""
    from magnus_render.errors import MagnusError

    try:
        return _run(command, ns) or 0
    except MagnusError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        text = str(exc)
        print(f"error: {text}" if "\n" not in text else f"error:\n{text}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _run(command: str, ns: argparse.Namespace) -> int:
    from magnus_render.errors import MagnusError

    if command == "compile":
        from magnus_render.runtime.compile_cache import compile_pipeline

        return compile_pipeline(ns.file, ns.config_file)
    from magnus_render.runtime import entrypoints

    common: dict[str, Any] = {
        "run_id": ns.run_id,
        "internal_name": ns.step_name,
        "pipeline_file": ns.file,
        "config_file": ns.config_file,
        "parameters_file": ns.parameters_file,
        "map_variable": ns.map_variable,
        "tag": ns.tag,
        "use_cached": ns.use_cached,
        "params": ns.param,
        "params_json": ns.params_json,
    }
    if command == "execute_single_node":
        own = ("as_is", "as_is_begin", "as_is_end", "iteration")
        return entrypoints.execute_single_node(**common, **{k: getattr(ns, k) for k in own})
    if ns.mode not in ("in", "out"):
        raise MagnusError(f"--mode must be 'in' or 'out', got {ns.mode!r}")
    return entrypoints.fan(mode=ns.mode, items_file=ns.items_file, **common)


def main(argv: list[str] | None = None) -> None:
    """Console entry point of `magnus`: container commands here, the rest through typer."""
    args = sys.argv[1:] if argv is None else argv
    code = dispatch(args)
    if code is not None:
        sys.stdout.flush()
        sys.exit(code)
    from magnus_render.cli import app

    if argv is None:
        app()
    else:
        app(args=args)
