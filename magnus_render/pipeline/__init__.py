"""Front end: pipeline YAML -> validated, immutable IR graph.

The names are imported on first use: a container that loads the compiled pipeline imports
only ``ir`` and ``loaded``, never the YAML front end and its pydantic models.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Graph": "magnus_render.pipeline.ir",
    "Node": "magnus_render.pipeline.ir",
    "NodeKind": "magnus_render.pipeline.ir",
    "Pipeline": "magnus_render.pipeline.loaded",
    "load_pipeline": "magnus_render.pipeline.build",
    "load_pipeline_text": "magnus_render.pipeline.build",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'magnus_render.pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
