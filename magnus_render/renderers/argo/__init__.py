"""The Argo Workflows target: a Workflow (or WorkflowTemplate / CronWorkflow) whose pods
call back into ``magnus execute_single_node`` and ``magnus fan``.

Shape of the output:

- one DAG template per graph or branch (``main`` for the root), built in ``dags.py``;
- leaf steps run through a few shared container templates (``templates.py``), taking
  the internal name (and, inside a map, the map variable) as input parameters; steps
  with ``overrides: {argo: NAME}`` get their own copies of those templates;
- a map fans out with ``magnus fan --mode out --items-file /tmp/magnus-items.json``
  exposed as an output parameter; its branch task has ``withParam`` over it and passes
  ``{{item}}`` (the full map-variable JSON) on; parallel (and included dag) branches are
  sibling tasks; the fan-in runs whatever the branches' phases and decides the step.

How the workflow ends Failed exactly when the local run fails: Argo judges a DAG by its
leaf tasks, and an *omitted* leaf inherits a failed ancestor's phase even when that
failure was handled by ``on_failure``. So (1) the fail node's template runs
``magnus execute_single_node`` for the fail node (which records the failure in the run
log) and then exits 1, and (2) the success task also depends on ``<fail>.Omitted``, which
makes it the only leaf: when success runs the DAG succeeds; when the fail node ran,
success is omitted and inherits the fail task's Failed phase. In branches the same holds,
and the fan-in (``magnus fan --mode in``) decides the composite step from the run log.

Run id: the ``run_id`` workflow argument, by default empty, meaning ``{{workflow.name}}``
(also for WorkflowTemplate and CronWorkflow, whose runs get their own names). The
``use_cached`` argument re-runs an earlier run (``argo submit wf.yaml -p use_cached=OLD``)
and each initial parameter of ``-p FILE`` is an argument too, passed to every container
as ``--param NAME=VALUE`` (the run log records a value that differs from the file's as
given at submit). The pipeline, config and parameters paths are written
into the containers' commands exactly as given on the command line, so give them as the
image will see them (relative to the image's working directory, or absolute).
Retries: ``max_attempts`` retries happen inside ``execute_single_node``; the
``retry_strategy`` setting adds Argo retries of the pod, for infrastructure failures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from magnus_render.contract.naming import UniqueNames
from magnus_render.errors import MagnusError, UnsupportedError
from magnus_render.pipeline.ir import Node, NodeKind, Route
from magnus_render.renderers.argo.dags import DagBuilder
from magnus_render.renderers.argo.settings import (
    ArgoSettings,
    load_settings,
    step_settings,
)
from magnus_render.renderers.argo.split import split_documents
from magnus_render.renderers.argo.templates import Profile, TemplateFactory
from magnus_render.renderers.base import Renderer, RenderResult, Scope, submit_parameters
from magnus_render.renderers.cron import check_schedule, check_timezone
from magnus_render.renderers.shared_stores import check_shared_stores
from magnus_render.settings import key_error, override_name

API_VERSION = "argoproj.io/v1alpha1"
KINDS = ("Workflow", "WorkflowTemplate", "CronWorkflow")
MAX_OBJECT_BYTES = 1024 * 1024


class ArgoRenderer(Renderer):
    name: ClassVar[str] = "argo"
    description: ClassVar[str] = "Argo Workflows: Workflow, WorkflowTemplate or CronWorkflow"
    settings_model = ArgoSettings  # type: ignore[assignment]  # not a TargetSettings
    max_object_bytes: ClassVar[int | None] = MAX_OBJECT_BYTES

    _emitters: dict[NodeKind, Callable[..., Any]]

    def emitters(self) -> dict[NodeKind, Callable[..., Any]]:
        """Leaf kinds -> one task on a shared template; composites -> fan-out/branches/fan-in."""
        return self._emitters

    def render(self) -> RenderResult:
        docs = self.documents()
        # the same list: notes from validate() reach the CLI's warnings too
        return RenderResult(dump_yaml(docs), self.warnings)

    def documents(self) -> list[dict[str, Any]]:
        """The Workflow, preceded by WorkflowTemplates when it must be split (see split.py)."""
        doc = self.build()
        limit = self.max_object_bytes or MAX_OBJECT_BYTES
        docs = split_documents(doc, _base_name(self.options.pipeline_file), limit)
        if len(docs) > 1:
            self.warn(
                f"the spec is over {limit // 1024} KiB: {len(docs) - 1} DAGs (branches, or "
                "segments of a long graph) moved into WorkflowTemplates (apply them before "
                "submitting the workflow)"
            )
        return docs

    def validate(self, text: str) -> None:
        """``magnus-render --validate``: schema (when found), cross-references, names."""
        from magnus_render.renderers.argo.validate import validate_text

        for note in validate_text(text):
            self.warn(note)

    # -- building ------------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        """The whole document as plain dicts in a fixed key order (size not checked)."""
        settings = load_settings(self.config)
        kind, schedule, timezone = self._kind()
        self._check_expressions()
        if self.options.image:  # --image replaces the global image; overrides still win
            settings = settings.model_copy(update={"image": self.options.image})
        image = self.resolve_image(settings.image)  # placeholder + warning when unset
        parameters: dict[str, Any] = {}
        if self.options.parameters_file and not Path(self.options.parameters_file).is_file():
            self.warn(
                f"parameters file {self.options.parameters_file} is not here (only in the "
                "image?): its parameters are not workflow arguments, so they cannot be "
                "given other values at submit; render where the file is to have them"
            )
        else:
            parameters = submit_parameters(self.options)
        template_names = UniqueNames()
        factory = TemplateFactory(
            self.options,
            image,
            template_names,
            UniqueNames(),
            settings.service_account_name,
            tuple(parameters),
        )
        profiles: dict[str, Profile] = {"": Profile("", step_settings(settings, None))}

        def profile_of(node: Node) -> Profile:
            key = override_name(node, "argo", settings)
            if key is None:
                return profiles[""]
            if key not in profiles:
                profiles[key] = Profile(key, step_settings(settings, settings.overrides[key]))
            return profiles[key]

        def map_parallelism(node: Node) -> int | None:
            return profile_of(node).settings.parallelism

        builder = DagBuilder(factory, template_names, profile_of, map_parallelism, self.visit)
        self._emitters = {k: builder.leaf for k in NodeKind if not k.is_composite}
        self._emitters.update({k: builder.composite for k in NodeKind if k.is_composite})

        def as_is(node: Node, route: Route, scope: Scope) -> Any:
            text = self.as_is_text(node)
            escaped = None if text is None else self._as_is(node, text)
            return builder.leaf(node, route, scope, as_is=escaped)

        self._emitters[NodeKind.AS_IS] = as_is
        builder.build(Scope(self.graph))
        check_shared_stores(
            self.config,
            "an Argo workflow",
            [
                [v.mount_path for v in p.settings.persistent_volumes if not v.read_only]
                for p in profiles.values()
            ],
            "mount a PersistentVolumeClaim in every step with executor.config."
            "persistent_volumes: [{name: CLAIM, mount_path: /mnt/magnus}]",
        )
        dags = builder.dags  # main first, then branches
        templates = dags + [factory.templates[n] for n in sorted(factory.templates)]

        spec: dict[str, Any] = {
            "entrypoint": dags[0]["name"],
            "arguments": {"parameters": _arguments(parameters)},
        }
        if settings.service_account_name:
            spec["serviceAccountName"] = settings.service_account_name
        if settings.parallelism is not None:
            spec["parallelism"] = settings.parallelism
        if settings.max_workflow_duration is not None:
            spec["activeDeadlineSeconds"] = settings.max_workflow_duration
        if settings.pod_gc is not None:
            spec["podGC"] = settings.pod_gc.model_dump(by_alias=True, exclude_none=True)
        if settings.ttl_strategy is not None:
            spec["ttlStrategy"] = settings.ttl_strategy.model_dump(by_alias=True, exclude_none=True)
        if factory.volumes:
            spec["volumes"] = [factory.volumes[n] for n in sorted(factory.volumes)]
        spec["templates"] = templates

        base = _base_name(self.options.pipeline_file)
        metadata: dict[str, Any] = (
            {"generateName": f"{base}-"} if kind == "Workflow" else {"name": base}
        )
        if settings.namespace:
            metadata["namespace"] = settings.namespace
        if settings.labels:
            metadata["labels"] = dict(sorted(settings.labels.items()))
        if settings.annotations:
            metadata["annotations"] = dict(sorted(settings.annotations.items()))
        if kind == "CronWorkflow":
            cron: dict[str, Any] = {"schedules": [schedule]}
            if timezone:
                cron["timezone"] = timezone
            cron["workflowSpec"] = spec
            spec = cron
        doc = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}
        return doc

    def _kind(self) -> tuple[str, str | None, str | None]:
        extra = self.options.extra
        kind = extra.get("kind") or "Workflow"
        schedule, timezone = extra.get("schedule"), extra.get("timezone")
        if kind not in KINDS:
            raise MagnusError(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
        if kind == "CronWorkflow" and not schedule:
            raise MagnusError("--kind CronWorkflow needs --schedule (a cron expression)")
        if kind != "CronWorkflow" and (schedule or timezone):
            raise MagnusError("--schedule and --timezone apply only to --kind CronWorkflow")
        if schedule:
            check_schedule(str(schedule))
        if timezone:
            check_timezone(str(timezone))
        return kind, schedule, timezone

    def _check_expressions(self) -> None:
        """Argo substitutes ``{{...}}`` everywhere; text that holds it cannot pass through."""
        for path in (
            self.options.pipeline_file,
            self.options.config_file,
            self.options.parameters_file,
        ):
            if path and "{{" in path:
                raise UnsupportedError(f"path {path!r} contains '{{{{', which Argo substitutes")
        for node in self.graph.walk():
            if "{{" in node.internal_name:
                self.unsupported(node, "the step name contains '{{', which Argo would substitute")
        if self.config.executor.type == self.name:
            for where, value in _strings(self.config.executor.config, ()):
                if "{{" in value:
                    raise key_error(
                        self.config,
                        "executor",
                        where,
                        f"{value!r} contains '{{{{', which Argo would substitute (it has no "
                        "escape for it)",
                    )

    def _as_is(self, node: Node, text: str) -> str:
        """The render_string as the as-is template's input: Argo would substitute ``{{``
        (it has no escape for it), and Kubernetes expands ``$(VAR)`` in a container's
        command unless ``$`` is written ``$$``."""
        if "{{" in text:
            self.unsupported(
                node,
                "its render_string contains '{{', which Argo would substitute and cannot "
                "escape; write it another way (e.g. with a variable: b='{'; echo \"$b$b\")",
            )
        return text.replace("$", "$$")


def _arguments(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """The workflow arguments: ``argo submit wf.yaml -p use_cached=OLD -p run_id=NEW -p
    lr=0.1`` re-runs, names the run and overrides an initial parameter (JSON, else the
    raw string) without re-rendering. Defaults: a fresh run named after the workflow, and
    the parameters file's values (Argo substitutes ``{{`` in values: see inert_json)."""
    args: list[dict[str, Any]] = [
        {
            "name": "use_cached",
            "value": "",
            "description": "re-run: the id of an earlier run whose successful steps are reused",
        },
        {
            "name": "run_id",
            "value": "",
            "description": "the run id (empty: the workflow's name)",
        },
    ]
    from magnus_render.contract.protocol import inert_json

    for name, value in parameters.items():
        text = inert_json(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
        args.append({"name": name, "value": text, "description": "initial parameter (JSON)"})
    return args


def _strings(value: Any, where: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every string in a settings tree (keys included) with its path of keys."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(str(key), (*where, str(key)))
            yield from _strings(item, (*where, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*where, str(index)))


def _base_name(pipeline_file: str) -> str:
    """A readable metadata name from the pipeline file's name (need not be unique)."""
    text = re.sub(r"[^a-z0-9]+", "-", Path(pipeline_file).stem.lower()).strip("-")[:40]
    return text.rstrip("-") or "magnus"


def dump_yaml(docs: list[dict[str, Any]]) -> str:
    """Deterministic multi-document YAML, strictly quoted (see ``magnus_render.yamltext``)."""
    from magnus_render.yamltext import STRICT, dump_all

    return dump_all(docs, STRICT)
