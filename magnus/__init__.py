"""magnus 0.5 compatibility: ``import magnus`` keeps working on magnus-render.

A thin layer: the SDK names come from :mod:`magnus_render.sdk`, the task-side API from
:mod:`magnus.interaction` (built on magnus_render's runtime). Everything is imported on
first use, so ``import magnus`` inside a task costs next to nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.5.1+magnus-render"

_SDK = ("Catalog", "Dag", "Fail", "Map", "Parallel", "Pipeline", "Stub", "Success", "Task")
_INTERACTION = (
    "end_interactive_session",
    "get_experiment_tracker_context",
    "get_from_catalog",
    "get_object",
    "get_parameter",
    "get_run_id",
    "get_run_log",
    "get_secret",
    "get_tag",
    "put_in_catalog",
    "put_object",
    "set_parameter",
    "start_interactive_session",
    "track_this",
)
_WHERE = {**dict.fromkeys(_SDK, "magnus.sdk"), **dict.fromkeys(_INTERACTION, "magnus.interaction")}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'magnus' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
