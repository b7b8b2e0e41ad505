"""Define a pipeline in Python: the same IR, checks, run and render as the YAML form.

>>> from magnus_render.sdk import Pipeline, Task
>>> hello = Task(name="hello", command="samples.functions.initialize", terminate_with_success=True)
>>> pipeline = Pipeline(steps=[hello], start_at=hello)
"""

from magnus_render.errors import ExecutionFailedError
from magnus_render.sdk.pipeline import Pipeline
from magnus_render.sdk.steps import (
    AsIs,
    Catalog,
    Dag,
    Fail,
    Map,
    Parallel,
    Step,
    Stub,
    Success,
    Task,
)

__all__ = [
    "AsIs",
    "Catalog",
    "Dag",
    "ExecutionFailedError",
    "Fail",
    "Map",
    "Parallel",
    "Pipeline",
    "Step",
    "Stub",
    "Success",
    "Task",
]
