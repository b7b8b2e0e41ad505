"""The public API for plugins: everything a third-party target, executor or backend may import.

A plugin imports only from this module (``from magnus_render.plugin import Renderer``), so
the private modules behind it can move without breaking plugins. Names resolve lazily: an
executor plugin loaded by ``magnus execute_single_node`` pays for the runtime names it
uses, not for the renderer machinery (and the reverse). docs/extending.md explains what
each name is for and the contract each kind of plugin keeps.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: entry point groups magnus reads (``[project.entry-points."<group>"]`` in a pyproject)
TARGETS_GROUP = "magnus_render.targets"
EXECUTORS_GROUP = "magnus_render.executors"
RUN_LOG_STORES_GROUP = "magnus_render.run_log_stores"
CATALOGS_GROUP = "magnus_render.catalogs"
SECRETS_GROUP = "magnus_render.secrets"

#: exit codes of ``magnus execute``, ``execute_single_node`` and ``fan`` (the protocol)
EXIT_SUCCESS = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

_EXPORTS: dict[str, str] = {
    # errors: raise these for clear messages (exit 2, no traceback)
    "MagnusError": "magnus_render.errors",
    "ConfigError": "magnus_render.errors",
    "RunError": "magnus_render.errors",
    "UnsupportedError": "magnus_render.errors",
    # the pipeline IR every target and executor walks
    "Pipeline": "magnus_render.pipeline.loaded",
    "load_pipeline": "magnus_render.pipeline.build",
    "Graph": "magnus_render.pipeline.ir",
    "Node": "magnus_render.pipeline.ir",
    "NodeKind": "magnus_render.pipeline.ir",
    "Route": "magnus_render.pipeline.ir",
    "CommandType": "magnus_render.pipeline.ir",
    "MAP_PLACEHOLDER": "magnus_render.pipeline.ir",
    "resolve_name": "magnus_render.pipeline.ir",
    # configuration
    "MagnusConfig": "magnus_render.config",
    "load_config": "magnus_render.config",
    # render targets
    "Renderer": "magnus_render.renderers.base",
    "RenderOptions": "magnus_render.renderers.base",
    "RenderResult": "magnus_render.renderers.base",
    "Scope": "magnus_render.renderers.base",
    "TargetSettings": "magnus_render.renderers.base",
    "PLACEHOLDER_IMAGE": "magnus_render.renderers.base",
    "node_argv": "magnus_render.renderers.base",
    "fan_argv": "magnus_render.renderers.base",
    "with_options": "magnus_render.renderers.base",
    "get_renderer": "magnus_render.renderers",
    "list_targets": "magnus_render.renderers",
    # executors
    "Executor": "magnus_render.runtime.executors.base",
    "ExecutorSettings": "magnus_render.runtime.executors.base",
    "LocalNodeExecutor": "magnus_render.runtime.executors.base",
    "NodeTriggeringExecutor": "magnus_render.runtime.executors.base",
    "RunContext": "magnus_render.runtime.context",
    "Branch": "magnus_render.runtime.nodes",
    "make_thread_safe": "magnus_render.runtime.executors.remote",
    "run_concurrently": "magnus_render.runtime.executors.remote",
    "record_launch_failure": "magnus_render.runtime.executors.remote",
    "encode_map_variable": "magnus_render.contract.protocol",
    "executor_class": "magnus_render.runtime.executors",
    # run log models and backends
    "Status": "magnus_render.stores.models",
    "RunLog": "magnus_render.stores.models",
    "StepLog": "magnus_render.stores.models",
    "BranchLog": "magnus_render.stores.models",
    "StepAttempt": "magnus_render.stores.models",
    "DataCatalog": "magnus_render.stores.models",
    "CodeIdentity": "magnus_render.stores.models",
    "now_iso": "magnus_render.stores.models",
    "RunLogStore": "magnus_render.stores.run_log_base",
    "RunLogNotFound": "magnus_render.stores.run_log_base",
    "RunLogCorrupt": "magnus_render.stores.log_codec",
    "StoreSettings": "magnus_render.stores.run_log_base",
    "Catalog": "magnus_render.stores.catalog_base",
    "CatalogSettings": "magnus_render.stores.catalog_base",
    "Secrets": "magnus_render.stores.secrets",
    "SecretNotFound": "magnus_render.stores.secrets",
    "backend_class": "magnus_render.stores",
}

__all__ = [
    "CATALOGS_GROUP",
    "EXECUTORS_GROUP",
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_SUCCESS",
    "MAP_PLACEHOLDER",
    "PLACEHOLDER_IMAGE",
    "RUN_LOG_STORES_GROUP",
    "SECRETS_GROUP",
    "TARGETS_GROUP",
    "Branch",
    "BranchLog",
    "Catalog",
    "CatalogSettings",
    "CodeIdentity",
    "CommandType",
    "ConfigError",
    "DataCatalog",
    "Executor",
    "ExecutorSettings",
    "Graph",
    "LocalNodeExecutor",
    "MagnusConfig",
    "MagnusError",
    "Node",
    "NodeKind",
    "NodeTriggeringExecutor",
    "Pipeline",
    "RenderOptions",
    "RenderResult",
    "Renderer",
    "Route",
    "RunContext",
    "RunError",
    "RunLog",
    "RunLogCorrupt",
    "RunLogNotFound",
    "RunLogStore",
    "Scope",
    "SecretNotFound",
    "Secrets",
    "Status",
    "StepAttempt",
    "StepLog",
    "StoreSettings",
    "TargetSettings",
    "UnsupportedError",
    "backend_class",
    "encode_map_variable",
    "executor_class",
    "fan_argv",
    "get_renderer",
    "list_targets",
    "load_config",
    "load_pipeline",
    "make_thread_safe",
    "node_argv",
    "now_iso",
    "record_launch_failure",
    "resolve_name",
    "run_concurrently",
    "with_options",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'magnus_render.plugin' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolve once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # for type checkers and IDEs; at run time names resolve in __getattr__
    from magnus_render.config import MagnusConfig, load_config
    from magnus_render.contract.protocol import encode_map_variable
    from magnus_render.errors import ConfigError, MagnusError, RunError, UnsupportedError
    from magnus_render.pipeline.build import load_pipeline
    from magnus_render.pipeline.ir import (
        MAP_PLACEHOLDER,
        CommandType,
        Graph,
        Node,
        NodeKind,
        Route,
        resolve_name,
    )
    from magnus_render.pipeline.loaded import Pipeline
    from magnus_render.renderers import get_renderer, list_targets
    from magnus_render.renderers.base import (
        PLACEHOLDER_IMAGE,
        Renderer,
        RenderOptions,
        RenderResult,
        Scope,
        TargetSettings,
        fan_argv,
        node_argv,
        with_options,
    )
    from magnus_render.runtime.context import RunContext
    from magnus_render.runtime.executors import executor_class
    from magnus_render.runtime.executors.base import (
        Executor,
        ExecutorSettings,
        LocalNodeExecutor,
        NodeTriggeringExecutor,
    )
    from magnus_render.runtime.executors.remote import (
        make_thread_safe,
        record_launch_failure,
        run_concurrently,
    )
    from magnus_render.runtime.nodes import Branch
    from magnus_render.stores import backend_class
    from magnus_render.stores.catalog_base import Catalog, CatalogSettings
    from magnus_render.stores.log_codec import RunLogCorrupt
    from magnus_render.stores.models import (
        BranchLog,
        CodeIdentity,
        DataCatalog,
        RunLog,
        Status,
        StepAttempt,
        StepLog,
        now_iso,
    )
    from magnus_render.stores.run_log_base import RunLogNotFound, RunLogStore, StoreSettings
    from magnus_render.stores.secrets import SecretNotFound, Secrets
