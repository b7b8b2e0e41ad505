"""`magnus compile`: fill the compiled-pipeline cache ahead of time, e.g. in an image.

Why: on Argo, Kubernetes Jobs, Step Functions and Airflow every step is a fresh pod with
an empty cache, so each would parse and validate the whole pipeline again (O(n^2) over a
run). ``RUN magnus compile --file pipeline.yaml`` in a Dockerfile, with
``MAGNUS_PIPELINE_CACHE_DIR`` set to a folder of the image, bakes the compiled pipeline in;
every pod then only reads it (see docs/containers.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def compile_pipeline(pipeline_file: Path | str, config_file: Path | str | None = None) -> int:
    """Compile ``pipeline_file`` into the cache (errors as `magnus validate` gives them,
    exit 2); with ``config_file``, check the config as a container would, so a bad one
    fails the image build rather than every pod."""
    from magnus_render.pipeline.compiled import compile_into_cache

    if config_file is not None:
        check_config(config_file)
    pipeline, entries = compile_into_cache(pipeline_file)
    for warning in pipeline.warnings:
        print(str(warning), file=sys.stderr)
    used = f"--file {pipeline_file}"
    if not os.path.isabs(pipeline_file):
        used += f" from {os.getcwd()}, or --file {os.path.abspath(pipeline_file)} from anywhere"
    for entry, existed in entries:
        print(f"{'already compiled in' if existed else 'compiled into'} {entry}")
    folder = entries[0][0].parent
    print(f"used by magnus commands given {used}, with MAGNUS_PIPELINE_CACHE_DIR={folder}")
    return 0


def check_config(config_file: Path | str) -> None:
    """The config as every container reads it before its step: the types, the settings of
    the run log store, catalog and secrets, and the tracker; every problem in one
    ConfigError. Settings only: a backend's own setup (a ``.env`` file, a bucket) belongs
    to the pod, not the image build."""
    from magnus_render.config import load_config
    from magnus_render.errors import ConfigError
    from magnus_render.runtime.executors import check_config_types
    from magnus_render.runtime.tracking import build_tracker
    from magnus_render.stores import GROUPS, backend_class
    from magnus_render.stores.run_log_base import Configured, build_settings

    config = load_config(config_file)
    check_config_types(config)
    diagnostics = []
    for section in GROUPS:
        part = getattr(config, section)
        try:
            cls = backend_class(section, part.type, config)
            if issubclass(cls, Configured):  # every backend is (registry.lookup checks)
                build_settings(cls.settings_model, part.config, config, section)
        except ConfigError as exc:
            diagnostics += exc.diagnostics
    try:
        build_tracker(config)
    except ConfigError as exc:
        diagnostics += exc.diagnostics
    if diagnostics:
        diagnostics.sort(key=lambda d: d.line or 0)  # in the file's order
        raise ConfigError.from_diagnostics(diagnostics)
