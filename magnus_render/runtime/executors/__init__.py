"""Executors, registered by name like stores (entry point group magnus_render.executors)."""

from __future__ import annotations

from typing import Any

from magnus_render.registry import lookup, registered

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
    return registered(EXECUTORS, ENTRY_POINT_GROUP)[0]


def executor_class(name: str, config: Any = None) -> type:
    """The executor class registered under ``name``; a ConfigError naming the choices."""
    return lookup(EXECUTORS, ENTRY_POINT_GROUP, name, "executor", _executor_base, config)


def _executor_base() -> type:
    from magnus_render.runtime.executors.base import Executor

    return Executor


def node_executor_types() -> set[str]:
    """Executor types a node or fan command accepts: every executor and every render
    target, since a rendered spec hands its config to each container unchanged."""
    from magnus_render.contract.targets import list_targets

    return set(registered_executors()) | set(list_targets())


def check_config_types(config: Any) -> None:
    """Every ``type`` in the config names a registered backend, the executor an executor or
    a render target: all typos at once, with file, line and choices, before anything runs
    or renders (a container would otherwise ignore an executor type it never uses)."""
    from magnus_render.config import TRACKER_TYPES
    from magnus_render.stores import GROUPS
    from magnus_render.stores import registered as backends

    if _all_builtin(config):  # the common case, decided without scanning entry points
        return
    choices = {section: set(backends(section)) for section in GROUPS}
    choices["executor"] = node_executor_types()
    choices["experiment_tracker"] = set(TRACKER_TYPES)
    config.check_types(choices)


def _all_builtin(config: Any) -> bool:
    """Every type in the config is a built-in name (so check_config_types has nothing to
    report); False means the full check with plugins has to decide."""
    import importlib.util

    from magnus_render.config import TRACKER_TYPES
    from magnus_render.stores import GROUPS

    if config.experiment_tracker.type not in TRACKER_TYPES:
        return False
    if any(
        getattr(config, section).type not in builtins for section, (_, builtins) in GROUPS.items()
    ):
        return False
    name = config.executor.type
    if name in EXECUTORS:
        return True
    from magnus_render.contract.targets import BUILTIN_TARGETS

    path = BUILTIN_TARGETS.get(name)
    return path is not None and importlib.util.find_spec(path.partition(":")[0]) is not None
