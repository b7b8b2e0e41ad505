"""magnus 0.5's ``magnus.sdk``: the same objects as :mod:`magnus_render.sdk` (plus Dag)."""

from magnus_render.sdk import Catalog, Dag, Fail, Map, Parallel, Pipeline, Step, Stub, Success, Task

__all__ = [
    "Catalog",
    "Dag",
    "Fail",
    "Map",
    "Parallel",
    "Pipeline",
    "Step",
    "Stub",
    "Success",
    "Task",
]
