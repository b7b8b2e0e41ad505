"""Executors, registered by name like stores (entry point group magnus_render.executors)."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

EXECUTORS: dict[str, str] = {
    "local": "magnus_render.runtime.executors.local:LocalExecutor",
    "mocked": "magnus_render.runtime.executors.mocked:MockedExecutor",
    "local-subprocess": "magnus_render.runtime.executors.base:SubprocessExecutor",
    "k8s-job": "magnus_render.runtime.executors.k8s_job:K8sJobExecutor",
    "local-container": "magnus_render.runtime.executors.local_container:LocalContainerExecutor",
    "aws-batch": "magnus_render.runtime.executors.aws_batch:AwsBatchExecutor",
}
ENTRY_POINT_GROUP = "magnus_render.executors"


def registered_executors() -> dict[str, str]:
    """Name -> ``module:Class`` of every executor, built-ins first."""
    known = dict(EXECUTORS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        known.setdefault(ep.name, ep.value)
    return known


def executor_class(name: str, config: Any = None) -> type:
    known = registered_executors()
    path = known.get(name)
    if path is None:
        message = f"unknown type {name!r}; choose one of: {', '.join(sorted(known))}"
        from magnus_render.errors import ConfigError

        if config is not None:
            raise config.error("executor", message)
        raise ConfigError(f"executor: {message}")
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)
