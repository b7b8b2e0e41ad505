"""magnus 0.5's task-side API, with its signatures, on top of magnus_render's runtime.

Where magnus 0.5 and magnus_render differ only in spelling (``cast_as``, a
``destination_folder`` of ``""``) this module translates. Objects are pickled as magnus
0.5 did, so any Python object round-trips exactly; a pickle is only ever read back from
the run's own catalog, written by the same project's code.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from typing import Any

from magnus_render.errors import MagnusError
from magnus_render.runtime import task_api
from magnus_render.stores.catalog_base import CatalogError

#: magnus 0.5's NativePickler extension
PICKLE_EXTENSION = ".pickle"


def get_parameter(key: str | None = None, cast_as: Any = None) -> Any:
    """One parameter (or, without ``key``, all of them), cast to ``cast_as`` if given:
    a pydantic model is built from a dict; other types are called on the value."""
    params = task_api.get_parameter()
    if not key:
        return _cast(params, cast_as)
    if key not in params:
        raise MagnusError(f"Parameter {key} is not set before")
    return _cast(params[key], cast_as)


def _cast(value: Any, cast_as: Any) -> Any:
    if not cast_as:
        return value
    from pydantic import BaseModel

    if isinstance(cast_as, type) and issubclass(cast_as, BaseModel):
        return value if isinstance(value, cast_as) else cast_as.model_validate(value)
    if isinstance(cast_as, type) and issubclass(cast_as, dict):
        return dict(value)
    return cast_as(value)


def set_parameter(**kwargs: Any) -> None:
    """Publish parameters from this step (pydantic models are stored as dicts)."""
    task_api.set_parameter(**kwargs)


def track_this(step: int = 0, **kwargs: Any) -> None:
    """Record metrics on this step; ``step`` > 0 keeps a series (as magnus 0.5)."""
    task_api.track_this(step=step, **kwargs)


def get_secret(secret_name: str) -> str:
    return task_api.get_secret(secret_name)


def get_from_catalog(name: str, destination_folder: str = "") -> list[str]:
    """Fetch catalog entries matching a glob into the data folder (or ``destination_folder``)."""
    return task_api.get_from_catalog(name, destination_folder or None)


def put_in_catalog(filepath: str) -> None:
    task_api.put_in_catalog(filepath)


def put_object(data: Any, name: str) -> None:
    """Keep any picklable Python object in the catalog under ``name``."""
    scope = task_api._scope()
    entry = scope.ctx.catalog.put_object(
        scope.ctx.run_id, scope.namespace, f"{name}{PICKLE_EXTENSION}", pickle.dumps(data)
    )
    scope.catalog_entries.append(entry)


def get_object(name: str) -> Any:
    """An object kept earlier in this run with :func:`put_object`."""
    scope = task_api._scope()
    try:
        raw = scope.ctx.catalog.get_object(
            scope.ctx.run_id, scope.namespace, f"{name}{PICKLE_EXTENSION}"
        )
    except CatalogError as exc:
        raise MagnusError(
            f"No object by the name {name} has been put in the catalog before."
        ) from exc
    return pickle.loads(raw)  # the run's own object, as magnus 0.5 did


def get_run_id() -> str:
    return task_api.get_run_id()


def get_run_log() -> Any:
    return task_api.get_run_log()


def get_tag() -> str:
    return task_api._scope().ctx.tag


def get_experiment_tracker_context() -> contextlib.AbstractContextManager[Any]:
    """The tracker's client context: with ``mlflow``, this run's mlflow run, active (so
    ``mlflow.log_*`` work inside it); with ``do-nothing``, an empty context."""
    ctx = task_api._scope().ctx
    if ctx.tracker is None:
        return _nothing()
    return ctx.tracker.client_context(ctx.run_id, ctx.tag)


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield None


def start_interactive_session(
    run_id: str = "", config_file: str = "", tag: str = "", parameters_file: str = ""
) -> None:
    """Use the task API outside a pipeline (a notebook, a REPL); see magnus.session."""
    from magnus.session import start

    start(run_id, config_file, tag, parameters_file)


def end_interactive_session() -> None:
    """Record what the interactive session did (parameters, metrics, catalog) and end it."""
    from magnus.session import end

    end()
