"""Notebook tasks: executed in-process with ploomber-engine (imported only here).

Parameters are injected into the cell tagged ``parameters`` and are in os.environ as
``MAGNUS_PRM_*``. A notebook publishes parameters as magnus 0.5 let it: through the task
API, by setting ``os.environ["MAGNUS_PRM_x"]``, or by printing a dict in a cell tagged
``magnus_output``. The executed notebook is kept in the catalog.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any

from magnus_render.pipeline.ir import TaskSpec
from magnus_render.runtime.tasks import (
    AttemptInput,
    TaskOutcome,
    _Tee,
    exported_parameters,
    parameter_environment,
    task_environment,
    tracked,
)

#: magnus 0.5's default ``output_cell_tag``
OUTPUT_CELL_TAG = "magnus_output"


def notebook_output_path(task: TaskSpec) -> str:
    if task.notebook_output_path:
        return task.notebook_output_path
    base, _, _ = task.command.rpartition(".ipynb")
    return f"{base or task.command}_out.ipynb"


def output_cell_parameters(executed: bytes) -> dict[str, Any]:
    """Parameters printed (as a Python or JSON dict literal) by cells tagged
    ``magnus_output``; ValueError naming the cell when a printout is not a dict."""
    collected: dict[str, Any] = {}
    for number, cell in enumerate(json.loads(executed).get("cells", []), start=1):
        if OUTPUT_CELL_TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        for output in cell.get("outputs", []):
            text = output.get("text")
            if text is None:
                continue
            text = "".join(text) if isinstance(text, list) else text
            try:
                value = ast.literal_eval(text.strip())
            except (ValueError, SyntaxError):
                value = None
            if not isinstance(value, dict):
                raise ValueError(
                    f"cell {number} (tagged {OUTPUT_CELL_TAG}) must print a dict of "
                    f"parameters, printed {text.strip()[:200]!r}"
                )
            collected.update({str(k): v for k, v in value.items()})
    return collected


def run_notebook(task: TaskSpec, given: AttemptInput) -> TaskOutcome:
    """Execute in-process with ploomber-engine, parameters injected; keep the output."""
    params, env, echo, collected = given.params, given.env, given.echo, given.collected
    try:
        from ploomber_engine import execute_notebook
    except ImportError:
        return TaskOutcome(
            False, "notebook tasks need ploomber-engine: pip install 'magnus-render[notebook]'"
        )
    buffer = io.StringIO()
    lock = threading.Lock()
    out = _Tee(buffer, sys.stdout if echo else None, lock)
    output_path = notebook_output_path(task)
    with tempfile.TemporaryDirectory(prefix="magnus-nb-") as tmp:
        target = os.path.join(tmp, os.path.basename(output_path))
        env = {**parameter_environment(params), **env}
        try:
            with (
                task_environment(env) as before,
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(out),
            ):
                options = {"log_output": True, "progress_bar": False}
                options.update(task.optional_ploomber_args)
                execute_notebook(task.command, target, parameters=dict(params), **options)
                now = dict(os.environ)
                outputs = exported_parameters(env, now)  # the notebook set os.environ[...]
                metrics = tracked(now, before)
                outputs.update(output_cell_parameters(Path(target).read_bytes()))
        except Exception as exc:
            traceback.print_exc(file=out)
            artifacts = {}
            if os.path.exists(target):
                artifacts[output_path] = Path(target).read_bytes()
            return TaskOutcome(
                False, f"{type(exc).__name__}: {exc}", log=buffer.getvalue(), artifacts=artifacts
            )
        artifacts = {output_path: Path(target).read_bytes()}
    outputs.update(collected or {})
    return TaskOutcome(
        True, outputs=outputs, log=buffer.getvalue(), artifacts=artifacts, metrics=metrics
    )
