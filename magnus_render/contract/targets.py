"""The names of the render targets, built-in and from plugins.

Both sides need them: the renderers to load one, the runtime to accept a rendered spec's
executor type in a container (a spec hands its config to each container unchanged). The
names live here so the runtime can read them without importing any renderer module.
"""

from __future__ import annotations

import importlib.util

from magnus_render.registry import registered

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


def available() -> tuple[dict[str, str], dict[str, str]]:
    """(name -> ``module:Class``, name -> the plugin it comes from)."""
    builtins = {}
    for name, path in BUILTIN_TARGETS.items():
        module = path.partition(":")[0]
        if importlib.util.find_spec(module) is not None:
            builtins[name] = path
    return registered(builtins, ENTRY_POINT_GROUP)


def list_targets() -> list[str]:
    return sorted(available()[0])
