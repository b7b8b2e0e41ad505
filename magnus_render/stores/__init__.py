"""Run log stores, catalogs and secrets, registered by name.

A config file names a backend (``run_log_store: {type: chunked-fs}``); the registry maps
the name to ``module:Class`` so choosing one imports only its module (boto3 stays out of
a local run). Third parties add backends through the entry point groups below.
"""

from __future__ import annotations

from typing import Any

from magnus_render.registry import lookup
from magnus_render.registry import registered as _registered

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
    return _registered(builtins, group)[0]


def backend_class(section: str, name: str, config: Any = None) -> type:
    """The class registered under ``name``; a ConfigError naming the choices otherwise."""
    group, builtins = GROUPS[section]
    return lookup(builtins, group, name, section, _BASES[section], config)


def _run_log_store_base() -> type:
    from magnus_render.stores.run_log_base import RunLogStore

    return RunLogStore


def _catalog_base() -> type:
    from magnus_render.stores.catalog_base import Catalog

    return Catalog


def _secrets_base() -> type:
    from magnus_render.stores.secrets import Secrets

    return Secrets


_BASES = {
    "run_log_store": _run_log_store_base,
    "catalog": _catalog_base,
    "secrets": _secrets_base,
}
