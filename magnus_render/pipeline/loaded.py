"""The loaded pipeline, apart from the front end that builds it, so that a compiled
pipeline can be read back without importing the YAML loader and its models."""

from __future__ import annotations

from dataclasses import dataclass, field

from magnus_render.errors import Diagnostic
from magnus_render.pipeline.ir import Graph


@dataclass(frozen=True)
class Pipeline:
    """A loaded pipeline: its IR, where it came from, a hash of its definition, warnings."""

    graph: Graph
    file: str
    dag_hash: str
    warnings: tuple[Diagnostic, ...] = ()
    files: tuple[str, ...] = field(default=())
    #: each include as written, joined to its including file's folder, and the file it
    #: resolved to: the compiled cache checks the bytes found as written, so a retargeted
    #: symlink (a ``current -> release-N`` folder) is a miss, not another release's IR
    links: tuple[tuple[str, str], ...] = field(default=(), compare=False)
