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
        from magnus_render.config import load_config
        from magnus_render.runtime.executors import check_config_types

        check_config_types(load_config(config_file))
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
