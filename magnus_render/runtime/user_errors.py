"""How a failure inside a user's python task is told: in the user's terms.

The traceback keeps the user's frames only (magnus's own frames and importlib's are noise
to someone fixing their module), and the one-line message names the place to look:
``file:line`` in their module, and the parameter when an argument could not be bound.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import traceback

#: frames from these folders are ours or the import machinery's, never the user's
_HIDDEN_DIRS = (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),  # magnus_render
    os.path.dirname(os.path.abspath(importlib.__file__)),  # importlib
)


class ArgumentError(ValueError):
    """A parameter could not be passed to the task function (missing, or not castable)."""


def _is_user_frame(filename: str) -> bool:
    if filename.startswith("<frozen importlib") or filename.startswith("<frozen runpy"):
        return False
    path = os.path.abspath(filename)
    return not any(path.startswith(folder + os.sep) for folder in _HIDDEN_DIRS)


def shown_path(filename: str) -> str:
    """A file name as the user knows it: relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


def _trim(te: traceback.TracebackException, seen: set[int]) -> None:
    if id(te) in seen:
        return
    seen.add(id(te))
    import traceback  # loaded already: ``te`` is one

    frames = [f for f in te.stack if _is_user_frame(f.filename)]
    te.stack = traceback.StackSummary.from_list(frames)
    for inner in (te.__cause__, te.__context__):
        if inner is not None:
            _trim(inner, seen)


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` with only the user's frames (chained exceptions too).
    ``traceback`` is imported only here and below: a step that does not fail never needs it."""
    import traceback

    te = traceback.TracebackException.from_exception(exc)
    _trim(te, set())
    return "".join(te.format())


def user_location(exc: BaseException) -> str:
    """``file:line`` of the user's code nearest the error ('' when none is known)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{shown_path(exc.filename)}:{exc.lineno}"
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_user_frame(f.filename)]
    if not frames:
        return ""
    last = frames[-1]
    return f"{shown_path(last.filename)}:{last.lineno}"


def describe(exc: BaseException, what: str = "") -> str:
    """One line for the run log: ``what``, the exception, and where in the user's code."""
    where = user_location(exc)
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError):
        text = f"SyntaxError: {exc.msg}"
    return f"{what}{text}" + (f" ({where})" if where else "")


def definition(func: Callable[..., Any]) -> str:
    """``qualname (file:line)`` of a function, for messages about its arguments."""
    name = getattr(func, "__qualname__", repr(func))
    try:
        file = inspect.getsourcefile(func) or ""
        line = inspect.getsourcelines(func)[1]
    except (TypeError, OSError):
        return name
    return f"{name} ({shown_path(file)}:{line})"


def cast_failure(func: Callable[..., Any], name: str, annotation: Any, exc: Any) -> str:
    """Why parameter ``name`` could not be cast to ``annotation`` (a pydantic error)."""
    wanted = getattr(annotation, "__name__", None) or repr(annotation)
    reasons = []
    for error in exc.errors()[:3]:
        loc = ".".join(str(p) for p in error.get("loc", ()))
        reasons.append(f"{loc}: {error['msg']}" if loc else error["msg"])
    return f"parameter {name!r} of {definition(func)} cannot be cast to {wanted}: " + "; ".join(
        reasons
    )
