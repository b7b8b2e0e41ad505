"""The render manifest: which pipelines a repository renders, for which targets, to where.

One YAML file (``render.yaml`` by convention) lists entries; each names a pipeline file or
glob, a target and an output path pattern. Expanding it gives one :class:`RenderJob` per
(pipeline, entry): the unit that is rendered, written or checked. Paths are relative to the
manifest's folder, which is also where rendering happens, so the paths written into specs
are the repository-relative ones a container image sees.
"""

from __future__ import annotations

import glob
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from magnus_render.config import line_at_path, read_yaml_file, validation_error
from magnus_render.errors import ConfigError, Diagnostic
from magnus_render.settings import NUL_TEXT, nul_paths

#: placeholders an output, config or parameters pattern may use
PLACEHOLDERS = ("{name}", "{target}", "{stem}")
#: targets whose specs are Kubernetes objects (a kustomization can list them)
K8S_TARGETS = ("argo", "k8s-jobs")


class ManifestEntry(BaseModel):
    """One line of the manifest: pipelines (a file or glob) rendered for one target."""

    model_config = ConfigDict(extra="forbid")
    pipelines: StrictStr
    target: StrictStr
    output: StrictStr
    config: StrictStr | None = None
    parameters: StrictStr | None = None
    image: StrictStr | None = None
    kind: Literal["Workflow", "WorkflowTemplate", "CronWorkflow"] | None = None
    schedule: StrictStr | None = None
    timezone: StrictStr | None = None
    with_infra: StrictBool = False
    kustomization: StrictBool = False


class Manifest(BaseModel):
    """The whole manifest file."""

    model_config = ConfigDict(extra="forbid")
    renders: list[ManifestEntry] = Field(min_length=1)


@dataclass(frozen=True)
class RenderJob:
    """One pipeline rendered for one entry; paths relative to the manifest's folder."""

    pipeline: str
    target: str
    output: str
    config: str | None
    parameters: str | None
    image: str | None
    extra: tuple[tuple[str, Any], ...]
    kustomization: bool
    #: manifest file and line of the entry, for messages
    origin: str
    #: the entry's line in the manifest
    line: int | None = None


def _fill(pattern: str, pipeline: Path, target: str) -> str:
    """The pattern for one pipeline, in the one spelling the tree scan also uses."""
    return _norm(
        pattern.replace("{name}", pipeline.stem)
        .replace("{stem}", pipeline.stem)
        .replace("{target}", target)
    )


def _norm(path: str) -> str:
    """``./deploy//a.yaml`` -> ``deploy/a.yaml``: outputs are compared, and found stale, as
    strings, so every spelling of one file must become the same string."""
    return posixpath.normpath(path)


def _outside(path: str) -> bool:
    return posixpath.isabs(path) or path == ".." or path.startswith("../")


def load_manifest(path: Path) -> tuple[Manifest, list[int | None]]:
    """Read and validate the manifest; errors name the file, the line and the field."""
    data, smap = read_yaml_file(path)
    if not isinstance(data, dict):
        raise ConfigError("a manifest must be a mapping with a 'renders' list", str(path), 1)
    nul = [
        Diagnostic(
            f"{'.'.join(map(str, loc))}: {NUL_TEXT}", str(path), line_at_path(data, smap, loc)
        )  # the key path as the field errors below spell it
        for loc in nul_paths(data)
    ]
    if nul:  # no file name can hold one: refused here, not as a crash while rendering
        raise ConfigError.from_diagnostics(nul)
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, smap, str(path), "unknown field") from None
    lines = [smap.line_of(entry) for entry in data["renders"]]
    return manifest, lines


def expand(manifest: Manifest, lines: list[int | None], manifest_file: str) -> list[RenderJob]:
    """Every (pipeline, entry) pair, sorted by output path; cwd is the manifest's folder.

    A glob that matches nothing, and two jobs writing one output, are errors: both mean the
    manifest no longer says what the tree holds.
    """
    jobs: list[RenderJob] = []
    diagnostics: list[Diagnostic] = []
    for entry, line in zip(manifest.renders, lines, strict=True):
        origin = f"{manifest_file}:{line}" if line else manifest_file
        if not glob.has_magic(entry.pipelines) or Path(entry.pipelines).is_file():
            # a file named as it is (even ``a[1].yaml``); a missing one is reported by its render
            matches = [entry.pipelines]
        else:
            matches = sorted(glob.glob(entry.pipelines, recursive=True))
        problems = _pattern_problems(entry, manifest_file, line)
        if problems:
            diagnostics += problems
            continue
        if not matches:
            diagnostics.append(
                Diagnostic(f"pipelines: {entry.pipelines!r} matches no file", manifest_file, line)
            )
        extra = {
            "kind": entry.kind,
            "schedule": entry.schedule,
            "timezone": entry.timezone,
            "with_infra": entry.with_infra,
        }
        for match in matches:
            pipeline = Path(_norm(match))
            jobs.append(
                RenderJob(
                    pipeline=pipeline.as_posix(),
                    target=entry.target,
                    output=_fill(entry.output, pipeline, entry.target),
                    config=_fill(entry.config, pipeline, entry.target) if entry.config else None,
                    parameters=(
                        _fill(entry.parameters, pipeline, entry.target)
                        if entry.parameters
                        else None
                    ),
                    image=entry.image,
                    extra=tuple(sorted((k, v) for k, v in extra.items() if v not in (None, False))),
                    kustomization=entry.kustomization,
                    origin=origin,
                    line=line,
                )
            )
    seen: dict[str, RenderJob] = {}
    for job in jobs:
        first = seen.setdefault(job.output, job)
        if first is not job:
            diagnostics.append(
                Diagnostic(
                    f"output {job.output!r} is written twice: by {first.pipeline} "
                    f"({first.origin}) and {job.pipeline} ({job.origin}); "
                    "use {name} in the output pattern",
                    manifest_file,
                    None,
                )
            )
    diagnostics += _misplaced_outputs(jobs, manifest_file)
    if diagnostics:
        raise ConfigError.from_diagnostics(diagnostics)
    return sorted(jobs, key=lambda j: j.output)


def _pattern_problems(
    entry: ManifestEntry, manifest_file: str, line: int | None
) -> list[Diagnostic]:
    """A typo in a placeholder, an output that is a folder, or fields that contradict each
    other, caught before any render (one message naming the manifest's fields, not one
    per pipeline naming the command-line flags)."""
    problems = []
    for key in ("output", "config", "parameters"):
        pattern = getattr(entry, key) or ""
        unknown = sorted(set(re.findall(r"\{[^{}]*\}", pattern)) - set(PLACEHOLDERS))
        if unknown:
            problems.append(
                f"{key}: unknown placeholder {', '.join(unknown)} in {pattern!r}; "
                f"use {', '.join(PLACEHOLDERS)}"
            )
    if entry.kustomization and entry.target not in K8S_TARGETS:
        problems.append(
            f"kustomization: lists Kubernetes specs, which target {entry.target!r} does not "
            f"render (use it with {' or '.join(K8S_TARGETS)})"
        )
    scheduled = entry.schedule or entry.timezone
    if entry.target == "argo" and scheduled and entry.kind != "CronWorkflow":
        problems.append(
            "schedule/timezone: only a CronWorkflow runs on a schedule; add kind: "
            f"CronWorkflow (this entry renders kind {entry.kind or 'Workflow'})"
        )
    if not entry.output.strip() or entry.output.endswith(("/", "/.")) or entry.output == ".":
        problems.append(f"output: {entry.output!r} names no file; e.g. deploy/{{name}}.yaml")
    return [Diagnostic(problem, manifest_file, line) for problem in problems]


def _file_on_the_way(output: str) -> str | None:
    """The first folder of ``output`` that exists as something else (checked before any
    write: found while writing, the outputs before it would be new and the rest old)."""
    parts = output.split("/")[:-1]
    for end in range(1, len(parts) + 1):
        folder = "/".join(parts[:end])
        if os.path.lexists(folder) and not os.path.isdir(folder):
            return folder
    return None


#: the longest file or folder name (bytes) that Linux and macOS file systems take
NAME_MAX = 255


def _name_too_long(output: str) -> str | None:
    """The first part of ``output`` that no file system would take (checked before any
    write: found while writing, the outputs before it would be new and the rest old)."""
    return next((p for p in output.split("/") if len(p.encode("utf-8")) > NAME_MAX), None)


def _misplaced_outputs(jobs: list[RenderJob], manifest_file: str) -> list[Diagnostic]:
    """Outputs outside the manifest's folder, or on a file the render reads.

    The stale-file sweep deletes files in every output folder, so an output folder outside the
    repository would let it reach there; an output on an input would replace the input.
    """
    inputs = {_norm(manifest_file): "the manifest"}
    for job in jobs:
        inputs.setdefault(job.pipeline, f"the pipeline of {job.origin}")
        for path, what in ((job.config, "config"), (job.parameters, "parameters")):
            if path:
                inputs.setdefault(path, f"the {what} file of {job.origin}")
    kustomizations = {
        posixpath.join(posixpath.dirname(job.output), "kustomization.yaml")
        for job in jobs
        if job.kustomization
    }
    diagnostics = []
    for job in jobs:
        if _outside(job.output):
            problem = "is outside the manifest's folder; outputs must stay in the repository"
        elif long_name := _name_too_long(job.output):  # first: a stat of it raises
            size = len(long_name.encode("utf-8"))
            problem = (
                f"cannot be written: a name of {size} bytes (at most {NAME_MAX}): "
                f"{long_name[:40]}..."
            )
        elif job.output in inputs:
            problem = f"is {inputs[job.output]}, which the render reads"
        elif job.output in kustomizations:
            problem = "is the kustomization.yaml written for the folder's specs"
        elif Path(job.output).is_dir():
            problem = "is a folder; the output pattern names a file, e.g. deploy/{name}.yaml"
        elif blocker := _file_on_the_way(job.output):
            problem = f"cannot be written: {blocker} is a file, not a folder"
        else:
            continue
        diagnostics.append(
            Diagnostic(
                f"output {job.output!r} of {job.pipeline} {problem}", manifest_file, job.line
            )
        )
    return diagnostics
