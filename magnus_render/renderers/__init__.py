"""Render targets, registered by name.

A target is a :class:`~magnus_render.renderers.base.Renderer` subclass. Built-in targets
are listed (in :mod:`magnus_render.contract.targets`) as import paths so that choosing one
imports only its module; third parties add targets through the ``magnus_render.targets``
entry point group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from magnus_render.contract.targets import (
    BUILTIN_TARGETS,
    ENTRY_POINT_GROUP,
    available,
    list_targets,
)
from magnus_render.errors import MagnusError
from magnus_render.registry import load

if TYPE_CHECKING:
    from magnus_render.renderers.base import Renderer

__all__ = ["BUILTIN_TARGETS", "ENTRY_POINT_GROUP", "get_renderer", "list_targets"]


def _renderer_base() -> type:
    from magnus_render.renderers.base import Renderer

    return Renderer


def get_renderer(name: str) -> type[Renderer]:
    """The renderer class registered under ``name``; MagnusError naming the choices if none."""
    targets, origins = available()
    path = targets.get(name)
    if path is None:
        raise MagnusError(f"unknown target {name!r}; choose one of: {', '.join(sorted(targets))}")
    return load(path, f"target {name!r}", origins.get(name), _renderer_base)
