"""One attempt of a task: the runner its command type picks, then the outputs checked.

Apart from the runners (tasks.py, notebook_task.py) so that the notebook runner can use
the python runner's helpers without the two modules importing each other.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

from magnus_render.pipeline.ir import CommandType, TaskSpec
from magnus_render.runtime.parameters import parameter_problem
from magnus_render.runtime.tasks import AttemptInput, TaskOutcome, run_python, run_shell


def run_task(
    task: TaskSpec,
    params: dict[str, Any],
    env: dict[str, str],
    echo: bool = True,
    collected: dict[str, Any] | None = None,
) -> TaskOutcome:
    """Run one attempt of a task. ``collected`` receives set_parameter() values."""
    if task.command_type is CommandType.SHELL:
        outcome = run_shell(task.command, params, env, echo)
    elif task.command_type is CommandType.NOTEBOOK:
        from magnus_render.runtime.notebook_task import run_notebook

        outcome = run_notebook(task, AttemptInput(params, env, echo, collected))
    else:
        outcome = run_python(task.command, AttemptInput(params, env, echo, collected))
    return _checked(outcome, echo)


def _checked(outcome: TaskOutcome, echo: bool) -> TaskOutcome:
    """A task that returned or exported a parameter the run log cannot carry fails."""
    for name, value in outcome.outputs.items() if outcome.ok else ():
        problem = parameter_problem(name, value)
        if problem:
            message = f"invalid task output: {problem}"
            if echo:
                with contextlib.suppress(OSError, ValueError):
                    print(f"error: {message}", file=sys.stderr, flush=True)
            outcome.ok, outcome.message, outcome.outputs = False, message, {}
            outcome.log += f"error: {message}\n"
            break
    return outcome
