"""Play a pipeline through the container protocol, as an orchestrator would.

``drive(pipeline_file, run_id, workdir)`` walks the IR and, for every node, calls what a
rendered target's container calls: ``magnus execute_single_node`` for task/stub/terminal
nodes and ``magnus fan --mode out|in`` around composites, iterating a map over the items
fan-out wrote and passing each item verbatim as ``--map-variable``. Routing follows the
exit codes (0: next, 1: on_failure or the graph's fail node). With ``subprocess=True``
each call is a real process; otherwise the entry points are called in-process (faster).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from magnus_render.contract.protocol import fan_argv, node_argv
from tests.helpers.runlog import run_magnus


def _in_process(args: list[str], workdir: Path) -> int:
    from magnus_render.cli import app

    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        try:
            # click returns the exit code instead of raising when not standalone
            return int(app(args, standalone_mode=False) or 0)
        except SystemExit as exc:  # typer.Exit surfaces as SystemExit/Exit
            return int(exc.code or 0)
        except Exception as exc:
            code = getattr(exc, "exit_code", None)
            if code is None:
                raise
            return int(code)
    finally:
        os.chdir(cwd)


def drive(
    pipeline_file: str,
    run_id: str,
    workdir: Path,
    extra: list[str] | None = None,
    subprocess: bool = False,
) -> int:
    """Run the whole pipeline through execute_single_node/fan; returns 0 or 1 like
    ``magnus execute`` (by the run's final status)."""
    from magnus_render.pipeline import load_pipeline

    extra = list(extra or [])
    graph = load_pipeline(Path(workdir) / pipeline_file).graph
    calls: list[list[str]] = []

    def call(args: list[str]) -> int:
        calls.append(args)
        if subprocess:
            proc = run_magnus(args, workdir)
            if proc.returncode not in (0, 1):
                raise AssertionError(f"magnus {args} exited {proc.returncode}: {proc.stderr}")
            return proc.returncode
        code = _in_process(args, workdir)
        if code not in (0, 1):
            raise AssertionError(f"magnus {args} exited {code}")
        return code

    def run_graph(g: Any, mv: str | None) -> None:
        current = g.start_at
        while True:
            node = g.node(current)
            if node.kind.is_composite:
                code = run_composite(node, mv)
            else:
                # the words a spec holds (protocol.node_argv), "magnus" left out
                argv = node_argv(run_id, node.internal_name, pipeline_file, mv)[1:]
                code = call([argv[0], *extra, *argv[1:]])
            if node.kind.is_terminal:
                return
            current = node.next_node if code == 0 else (node.on_failure or g.fail_node.name)

    def run_composite(node: Any, mv: str | None) -> int:
        items_file = Path(workdir) / f".items-{len(calls)}.json"

        def fan(mode: str, items: str | None = None) -> list[str]:
            argv = fan_argv(run_id, node.internal_name, mode, pipeline_file, mv, items)[1:]
            return [argv[0], *extra, *argv[1:]]

        out = call(fan("out", str(items_file)))
        if out == 0:
            if node.kind.value == "map":
                for item in json.loads(items_file.read_text(encoding="utf-8")):
                    run_graph(node.branch, item)
            else:
                for branch in node.branches:
                    run_graph(branch, mv)
        return call(fan("in"))

    run_graph(graph, None)
    status = _final_status(workdir, run_id, extra)
    return 0 if status == "SUCCESS" else 1


def _final_status(workdir: Path, run_id: str, extra: list[str]) -> str:
    from tests.helpers.runlog import load_run_log

    config = None
    if "--config-file" in extra:
        config = extra[extra.index("--config-file") + 1]
    return load_run_log(workdir, run_id, config).status.value


Driver = Callable[..., int]
