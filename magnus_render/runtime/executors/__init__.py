"""Executors, registered by name like stores (entry point group magnus_render.executors)."""

from __future__ import annotations

from typing import Any

from magnus_render.errors import MagnusError
from magnus_render.registry import load, registered

EXECUTORS: dict[str, str] = {
    "local": "magnus_render.runtime.executors.local:LocalExecutor",
    "mocked": "magnus_render.runtime.executors.mocked:MockedExecutor",
    "local-subprocess": "magnus_render.runtime.executors.base:SubprocessExecutor",
    "k8s-job": "magnus_render.runtime.executors.k8s_job:K8sJobExecutor",
    "local-container": "magnus_render.runtime.executors.local_container:LocalContainerExecutor",
    "aws-batch": "magnus_render.runtime.executors.aws_batch:AwsBatchExecutor",
}
ENTRY_POINT_GROUP = "magnus_render.executors"


def executor_class(name: str, config: Any = None) -> type:
    known, origins = registered(EXECUTORS, ENTRY_POINT_GROUP)
    path = known.get(name)
    if path is None:
        message = f"unknown type {name!r}; choose one of: {', '.join(sorted(known))}"
        from magnus_render.errors import ConfigError

        if config is not None:
            raise config.error("executor", message)
        raise ConfigError(f"executor: {message}")
    try:
        return load(path, f"executor {name!r}", origins.get(name), _executor_base)
    except MagnusError as exc:
        if config is not None:
            raise config.error("executor", str(exc)) from None
        raise


def _executor_base() -> type:
    from magnus_render.runtime.executors.base import Executor

    return Executor
