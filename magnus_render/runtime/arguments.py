"""Binding a python task's arguments: parameters by name, cast by the annotations.

A parameter that cannot be bound raises ArgumentError naming it and the function's
file:line (see user_errors), so the step fails in the user's terms.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from magnus_render.runtime.user_errors import ArgumentError, cast_failure, definition


def bind_arguments(func: Callable[..., Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments by name; annotated ones cast with pydantic. ValueError when unbindable."""
    signature, hints = _signature(func)
    kwargs: dict[str, Any] = {}
    takes_kwargs = False
    for name, p in signature.parameters.items():
        if p.kind is p.VAR_KEYWORD:
            takes_kwargs = True
            continue
        if p.kind is p.VAR_POSITIONAL:
            continue
        if name in params:
            kwargs[name] = _cast(func, params[name], hints.get(name), name)
        elif p.default is p.empty:
            raise ArgumentError(
                f"missing required parameter {name!r} of {definition(func)}: "
                "no parameter of that name is in scope"
            )
    if takes_kwargs:
        for name, value in params.items():
            kwargs.setdefault(name, value)
    return kwargs


_SIGNATURES: dict[Any, tuple[inspect.Signature, dict[str, Any]]] = {}
_ADAPTERS: dict[Any, Any] = {}
_PLAIN = (int, str, float, bool, dict, list)


def _signature(func: Callable[..., Any]) -> tuple[inspect.Signature, dict[str, Any]]:
    """Signature and resolved type hints, computed once per function."""
    cached = _SIGNATURES.get(func)
    if cached is None:
        import typing

        try:
            hints = typing.get_type_hints(func)
        except Exception:
            hints = {}
        cached = _SIGNATURES[func] = (inspect.signature(func), hints)
    return cached


def _cast(func: Callable[..., Any], value: Any, annotation: Any, name: str) -> Any:
    if annotation is None or annotation is inspect.Parameter.empty or annotation is Any:
        return value
    if annotation in _PLAIN and type(value) is annotation:
        return value  # already the right type: skip pydantic
    from pydantic import TypeAdapter, ValidationError

    try:
        adapter = _ADAPTERS.get(annotation)
        if adapter is None:
            adapter = _ADAPTERS[annotation] = TypeAdapter(annotation)
    except TypeError:  # unhashable annotation
        adapter = TypeAdapter(annotation)
    except Exception:
        return value  # an annotation pydantic cannot handle: pass the value as it is
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise ArgumentError(cast_failure(func, name, annotation, exc)) from None
