"""The run log store and catalog must be reachable from every pod or task of a cluster run.

Each node of an Argo workflow, a Kubernetes Jobs run or a Step Functions execution runs in
its own pod or container, usually on another machine: a ``file-system``/``chunked-fs``
store or catalog only works there when its folder is on a volume every one of them mounts
(a PersistentVolumeClaim, an EFS file system), and ``buffered`` never does (it lives in
one process's memory). Rendering such a spec would give a run that fails, or worse looks
fine and loses its log, so the renderers refuse it here with the fix in the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from magnus_render.config import MagnusConfig
from magnus_render.errors import ConfigError

#: store type -> the settings key holding its folder, and that key's default
FOLDER_KEYS = {
    ("run_log_store", "file-system"): ("log_folder", ".run_log_store"),
    ("run_log_store", "chunked-fs"): ("log_folder", ".run_log_store"),
    ("catalog", "file-system"): ("catalog_location", ".catalog"),
}


def covered(path: str, mount_paths: Sequence[str]) -> bool:
    """Whether absolute ``path`` is at or below one of ``mount_paths``."""
    target = PurePosixPath(path)
    if not target.is_absolute() or ".." in target.parts:
        return False
    return any(target.is_relative_to(PurePosixPath(m)) for m in mount_paths)


def check_shared_stores(
    config: MagnusConfig,
    target: str,
    mount_sets: Sequence[Sequence[str]],
    fix: str,
) -> None:
    """Refuse a store or catalog that not every pod/task can reach.

    ``mount_sets`` holds the mount paths of each kind of pod the spec runs (the global
    settings and each per-step override that changes the volumes): the folder must be
    below a mount of every one. ``fix`` says how this target declares a shared volume.
    """
    problems: list[ConfigError] = []
    for section in ("run_log_store", "catalog"):
        service = getattr(config, section)
        what = section.replace("_", " ")
        configured = config.line_of(section) is not None
        default = "" if configured else " (the default)"
        line = config.line_of(section) if configured else config.line_of("executor")
        if service.type == "buffered":
            problems.append(
                ConfigError(
                    f"{section}: the 'buffered' {what} lives in one process's memory: the "
                    f"pods or tasks of {target} cannot share it; use type 's3' (or "
                    "'file-system' on a shared volume)",
                    config.source_file,
                    line,
                )
            )
            continue
        key = FOLDER_KEYS.get((section, service.type))
        if key is None:
            continue  # s3, do-nothing, or a plugin's backend: not a local folder
        folder = str(service.config.get(key[0], key[1]))
        if mount_sets and all(covered(folder, mounts) for mounts in mount_sets):
            continue
        mounted = sorted({m for mounts in mount_sets for m in mounts})
        declared = (
            f"the declared mounts are {', '.join(mounted)}" if mounted else "none is declared"
        )
        if configured and key[0] in service.config:
            line = config.line_of(section, key[0])
        problems.append(
            ConfigError(
                f"{section}: the {service.type!r} {what}{default} at {folder!r} is not on a "
                f"shared volume ({declared}), so the pods or tasks of {target} cannot all "
                f"reach it: use type 's3', or {fix} and set {section}.config.{key[0]} to an "
                "absolute path below its mount path",
                config.source_file,
                line,
            )
        )
    if problems:
        raise ConfigError.from_diagnostics([d for p in problems for d in p.diagnostics])
