"""magnus-render: one pipeline definition, run locally or compiled for an orchestrator.

The task-side API (get_parameter, set_parameter, ...) is exported lazily so that importing
the package stays cheap for every container start.
"""

from __future__ import annotations

from typing import Any

from magnus_render.version import __version__

__all__ = ["__version__"]

_TASK_API = {
    "get_parameter",
    "set_parameter",
    "track_this",
    "get_secret",
    "get_from_catalog",
    "put_in_catalog",
    "put_object",
    "get_object",
    "get_run_id",
    "get_run_log",
}


def __getattr__(name: str) -> Any:
    if name in _TASK_API:
        from magnus_render.runtime import task_api

        return getattr(task_api, name)
    raise AttributeError(f"module 'magnus_render' has no attribute {name!r}")
