"""Run log stores, catalogs and secrets, registered by name.

A config file names a backend (``run_log_store: {type: chunked-fs}``); the registry maps
the name to ``module:Class`` so choosing one imports only its module (boto3 stays out of
a local run). Third parties add backends through the entry point groups below.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from magnus_render.errors import ConfigError

RUN_LOG_STORES: dict[str, str] = {
    "buffered": "magnus_render.stores.run_log_buffered:BufferedRunLogStore",
    "file-system": "magnus_render.stores.run_log_fs:FileSystemRunLogStore",
    "chunked-fs": "magnus_render.stores.run_log_chunked:ChunkedFsRunLogStore",
    "s3": "magnus_render.stores.s3_run_log:S3RunLogStore",
}
CATALOGS: dict[str, str] = {
    "file-system": "magnus_render.stores.catalog_fs:FileSystemCatalog",
    "do-nothing": "magnus_render.stores.catalog_base:DoNothingCatalog",
    "s3": "magnus_render.stores.s3_catalog:S3Catalog",
}
SECRETS: dict[str, str] = {
    "env": "magnus_render.stores.secrets:EnvSecrets",
    "env-secrets-manager": "magnus_render.stores.secrets:EnvSecrets",  # magnus 0.5's name
    "dotenv": "magnus_render.stores.secrets:DotEnvSecrets",
    "do-nothing": "magnus_render.stores.secrets:DoNothingSecrets",
    "aws-secrets-manager": "magnus_render.stores.aws_secrets:AwsSecretsManager",
}

GROUPS = {
    "run_log_store": ("magnus_render.run_log_stores", RUN_LOG_STORES),
    "catalog": ("magnus_render.catalogs", CATALOGS),
    "secrets": ("magnus_render.secrets", SECRETS),
}


def registered(section: str) -> dict[str, str]:
    """Name -> ``module:Class`` for one kind of backend, built-ins first."""
    group, builtins = GROUPS[section]
    found = dict(builtins)
    for ep in entry_points(group=group):
        found.setdefault(ep.name, ep.value)
    return found


def backend_class(section: str, name: str, config: Any = None) -> type:
    """The class registered under ``name``; a ConfigError naming the choices otherwise."""
    known = registered(section)
    path = known.get(name)
    if path is None:
        message = f"unknown type {name!r}; choose one of: {', '.join(sorted(known))}"
        if config is not None:
            raise config.error(section, message)
        raise ConfigError(f"{section}: {message}")
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)
