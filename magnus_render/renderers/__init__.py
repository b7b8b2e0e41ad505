"""Render targets, registered by name.

A target is a :class:`~magnus_render.renderers.base.Renderer` subclass. Built-in targets
are listed here as import paths so that choosing one imports only its module; third
parties add targets through the ``magnus_render.targets`` entry point group.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from magnus_render.errors import MagnusError
from magnus_render.registry import load, registered

if TYPE_CHECKING:
    from magnus_render.renderers.base import Renderer

BUILTIN_TARGETS: dict[str, str] = {
    "shell": "magnus_render.renderers.shell:ShellRenderer",
    "argo": "magnus_render.renderers.argo:ArgoRenderer",
    "stepfunctions": "magnus_render.renderers.stepfunctions:StepFunctionsRenderer",
    "k8s-jobs": "magnus_render.renderers.k8s_jobs:K8sJobsRenderer",
    "airflow": "magnus_render.renderers.airflow:AirflowRenderer",
    "mermaid": "magnus_render.renderers.graph:MermaidRenderer",
    "dot": "magnus_render.renderers.graph:DotRenderer",
}

ENTRY_POINT_GROUP = "magnus_render.targets"


def _available() -> tuple[dict[str, str], dict[str, str]]:
    """(name -> ``module:Class``, name -> the plugin it comes from)."""
    builtins = {}
    for name, path in BUILTIN_TARGETS.items():
        module = path.partition(":")[0]
        if importlib.util.find_spec(module) is not None:
            builtins[name] = path
    return registered(builtins, ENTRY_POINT_GROUP)


def _renderer_base() -> type:
    from magnus_render.renderers.base import Renderer

    return Renderer


def list_targets() -> list[str]:
    return sorted(_available()[0])


def get_renderer(name: str) -> type[Renderer]:
    """The renderer class registered under ``name``; MagnusError naming the choices if none."""
    targets, origins = _available()
    path = targets.get(name)
    if path is None:
        raise MagnusError(f"unknown target {name!r}; choose one of: {', '.join(sorted(targets))}")
    return load(path, f"target {name!r}", origins.get(name), _renderer_base)
