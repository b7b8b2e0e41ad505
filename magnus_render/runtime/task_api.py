"""The task-side API: what a python task (or notebook) calls while it runs.

Importable as ``from magnus_render import get_parameter, track_this, ...``. It works on the
step that is currently executing in this process; outside a step it explains why it can't.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from magnus_render.errors import MagnusError
from magnus_render.stores.models import DataCatalog, RunLog


@dataclass
class StepScope:
    """The executing step, as the task API sees it."""

    ctx: Any
    resolved_name: str
    map_variable: dict[str, Any]
    namespace: tuple[str, ...]
    params: dict[str, Any]
    collected: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    catalog_entries: list[DataCatalog] = field(default_factory=list)


_current: list[StepScope] = []


def _scope() -> StepScope:
    if not _current:
        raise MagnusError("the magnus task API can only be used inside a running step")
    return _current[-1]


def get_parameter(name: str | None = None, default: Any = None) -> Any:
    """One parameter in scope (or all of them as a dict when no name is given)."""
    scope = _scope()
    merged = {**scope.params, **scope.collected}
    if name is None:
        return merged
    return merged.get(name, default)


def set_parameter(**values: Any) -> None:
    """Publish parameters from this step (as if returned)."""
    # only JSON values travel (through the run log); pydantic models become dicts
    _scope().collected.update(json.loads(json.dumps(values, default=_reject)))


def track_this(step: int = 0, **metrics: Any) -> None:
    """Record metrics on this step's log (``step`` > 0 keeps a series per metric)."""
    from magnus_render.runtime.tasks import json_ready

    scope = _scope()
    for key, value in metrics.items():
        value = json_ready(value, key)
        known = scope.metrics.get(key)
        if _is_series(known):
            known[str(step)] = value  # a series goes on, step 0 included
        elif step:  # a series starts; a value tracked without a step is its step 0
            scope.metrics[key] = {
                **({"0": known} if key in scope.metrics else {}),
                str(step): value,
            }
        else:
            scope.metrics[key] = value


def _is_series(value: Any) -> TypeGuard[dict[str, Any]]:
    """How a series is kept (as magnus 0.5): ``{"<step>": value, ...}``."""
    return isinstance(value, dict) and bool(value) and all(str(k).isdigit() for k in value)


def get_secret(name: str) -> str:
    """A secret's value from the configured secrets backend (never logged)."""
    return _scope().ctx.secrets.get(name)


def get_run_id() -> str:
    return _scope().ctx.run_id


def get_run_log() -> RunLog:
    scope = _scope()
    return scope.ctx.store.get_run_log(scope.ctx.run_id)


def get_from_catalog(name: str, destination_folder: str | None = None) -> list[str]:
    """Fetch catalog entries matching a glob into the data folder; returns their paths."""
    scope = _scope()
    catalog = scope.ctx.catalog
    entries = catalog.get(scope.ctx.run_id, name, scope.namespace)
    scope.catalog_entries.extend(entries)
    paths = [str(catalog.data_folder / e.name) for e in entries]
    if destination_folder:
        moved = []
        for path in paths:
            target = Path(destination_folder) / Path(path).name
            target.parent.mkdir(parents=True, exist_ok=True)
            Path(path).replace(target)
            moved.append(str(target))
        paths = moved
    return paths


def put_in_catalog(filepath: str) -> None:
    """Put files of the data folder matching a glob in the catalog now."""
    scope = _scope()
    scope.catalog_entries.extend(scope.ctx.catalog.put(scope.ctx.run_id, filepath, scope.namespace))


def put_object(data: Any, name: str) -> None:
    """Keep a JSON-serializable object in the catalog under ``name``."""
    scope = _scope()
    payload = json.dumps(data, sort_keys=True).encode()
    entry = scope.ctx.catalog.put_object(scope.ctx.run_id, scope.namespace, f"{name}.json", payload)
    scope.catalog_entries.append(entry)


def get_object(name: str) -> Any:
    scope = _scope()
    raw = scope.ctx.catalog.get_object(scope.ctx.run_id, scope.namespace, f"{name}.json")
    return json.loads(raw)


def _reject(value: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"parameter value of type {type(value).__name__} is not JSON-serializable")
