"""The Step Functions renderer: settings -> ASL builder -> (split) -> text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from magnus_render.errors import MagnusError
from magnus_render.pipeline.ir import NodeKind
from magnus_render.pipeline.no_gc import no_gc
from magnus_render.renderers.base import Renderer, RenderResult
from magnus_render.renderers.shared_stores import check_shared_stores
from magnus_render.renderers.stepfunctions.asl import AslBuilder
from magnus_render.renderers.stepfunctions.containers import BUCKET_SUB
from magnus_render.renderers.stepfunctions.jsontext import dump_to, dumps, size
from magnus_render.renderers.stepfunctions.names import substitution
from magnus_render.renderers.stepfunctions.settings import (
    StepFunctionsSettings,
    load_settings,
    settings_for,
)

#: CloudFormation's limit for a template body uploaded to S3 (1 MB; counted as 10^6 bytes)
MAX_TEMPLATE_BYTES = 1_000_000


def dump(document: Any) -> str:
    """Stable text: sorted keys, two-space indent, ASCII only, trailing newline."""
    return dumps(document)


class StepFunctionsRenderer(Renderer):
    name: ClassVar[str] = "stepfunctions"
    description: ClassVar[str] = "AWS Step Functions state machine (ASL), Batch or ECS tasks"
    settings_model: ClassVar[type[StepFunctionsSettings]] = StepFunctionsSettings
    max_object_bytes: ClassVar[int | None] = 1_000_000

    def emitters(self) -> dict[NodeKind, Callable[..., Any]]:
        settings = load_settings(self.config)
        return AslBuilder(self.graph, settings, self.options, None).emitters()

    def render(self) -> RenderResult:
        with no_gc():
            return RenderResult(dump(self._document()), self.warnings)

    def render_stream(self) -> tuple[Callable[[Callable[[str], Any]], None], list[str]]:
        """Like ``render``, but the text goes to ``write`` in parts: a 100,000-step
        definition is 110 MB of text that is never held whole."""
        with no_gc():
            document = self._document()

        def stream(write: Callable[[str], Any]) -> None:
            with no_gc():
                dump_to(document, write)

        return stream, self.warnings

    def _document(self) -> Any:
        """The document to print: one definition, the machines of a split one, or the
        CloudFormation template; warnings go to ``self.warnings``."""
        settings = load_settings(self.config)
        for node in self.graph.walk():
            settings_for(settings, node)  # an unknown override name fails early, with its line
        self._check_network(settings)
        check_shared_stores(
            self.config,
            "a Step Functions execution",
            [
                [v.mount_path for v in each.shared_volumes]
                for each in [settings, *(settings_for(settings, n) for n in self.graph.walk())]
            ],
            "mount a shared file system (EFS) in every task and declare it with "
            "executor.config.shared_volumes: [{mount_path: /mnt/magnus, efs_file_system_id: "
            "fs-...}]",
        )
        bucket = self._items_bucket(settings)
        with_infra = bool(self.options.extra.get("with_infra"))
        builder = AslBuilder(
            self.graph, settings, self.options, BUCKET_SUB if with_infra else bucket
        )
        builder.as_is_text = self.as_is_text
        builder.define_jobs = with_infra and settings.launch == "batch"
        builder.with_infra = with_infra
        comment = self.graph.description or f"magnus pipeline {self.pipeline.file}"
        definition = builder.definition(comment)
        self.warnings.extend(builder.warnings)
        from magnus_render.renderers.stepfunctions.split import split_definition

        machines = split_definition(
            definition,
            settings.state_machine_name,
            settings.max_definition_bytes,
            substitution if with_infra else self._arn_prefix(settings),
        )
        if len(machines) > 1:
            self.warn(
                f"the definition is over {settings.max_definition_bytes} bytes: split into "
                f"{len(machines)} state machines (nested with states:startExecution.sync:2)"
            )
        if with_infra:
            from magnus_render.renderers.stepfunctions.infra import template

            doc = template(
                machines,
                settings,
                self.options,
                self._has_maps(),
                bucket,
                builder.job_definitions,
                self._store_buckets(),
            )
            self.warnings.extend(doc.warnings)
            if self._any_secrets(settings) and not builder.job_definitions:
                self.warn(
                    "secret references need an image (--image or executor.config.image) "
                    "so that --with-infra can create the job definitions that carry them"
                )
            # the text is ASCII: characters are bytes; counting stops past the limit
            if size(doc.body, MAX_TEMPLATE_BYTES) > MAX_TEMPLATE_BYTES:
                raise MagnusError(
                    f"the CloudFormation template would be {size(doc.body):,} bytes, over "
                    f"CloudFormation's limit of {MAX_TEMPLATE_BYTES:,} bytes (1 MB, for a "
                    "template uploaded to S3): lower executor.config.max_definition_bytes "
                    "only splits the definition, so split the pipeline into smaller ones "
                    "(e.g. dag steps rendered apart)",
                    self.pipeline.file,
                )
            return doc.body
        if self.options.image or settings.image:
            self.warn(
                "the image belongs to the Batch job definition / ECS task definition: it is "
                "rendered only with --with-infra (Batch)"
            )
        if self.options.extra.get("schedule"):
            self.warn("--schedule is only rendered with --with-infra (EventBridge Scheduler)")
        if self._any_secrets(settings):
            self.warn(
                "secret references go into the job definitions that --with-infra creates "
                "(with an image); without it, add them to your own job definitions"
            )
        if len(machines) == 1:
            return machines[0].definition
        return {"StateMachines": {m.name: m.definition for m in machines}}

    def _check_network(self, settings: StepFunctionsSettings) -> None:
        """ECS tasks on Fargate use the awsvpc network mode: RunTask fails without subnets,
        so a spec without them would only fail at the first task."""
        for node in [None, *self.graph.walk()]:
            each = settings if node is None else settings_for(settings, node)
            if each.launch == "ecs" and each.launch_type == "FARGATE" and not each.subnets:
                step = "" if node is None else f" (step {node.internal_name!r})"
                raise self.config.error(
                    "executor",
                    f"config.subnets: ECS tasks on Fargate{step} need a network "
                    "configuration: set executor.config.subnets (and security_groups, "
                    "assign_public_ip), or launch_type: EC2",
                    "subnets" if "subnets" in self.config.executor.config else "launch",
                )

    def _arn_prefix(self, settings: StepFunctionsSettings) -> Callable[[str], str]:
        def arn_of(part: str) -> str:
            if settings.state_machine_arn_prefix is None:
                self.warn(
                    f"nested state machine {part} is referenced with a placeholder ARN: set "
                    "executor.config.state_machine_arn_prefix or use --with-infra"
                )
                return f"arn:aws:states:REGION:ACCOUNT_ID:stateMachine:{part}"
            return f"{settings.state_machine_arn_prefix}{part}"

        return arn_of

    def _any_secrets(self, settings: StepFunctionsSettings) -> bool:
        return any(settings_for(settings, n).secrets for n in self.graph.walk())

    def _has_maps(self) -> bool:
        return any(node.kind is NodeKind.MAP for node in self.graph.walk())

    def _store_buckets(self) -> list[str]:
        """Buckets of s3 run log store and catalog: the job role may use them."""
        found = []
        for service in (self.config.run_log_store, self.config.catalog):
            if service.type == "s3" and isinstance(service.config.get("bucket"), str):
                found.append(service.config["bucket"])
        return found

    def _items_bucket(self, settings: StepFunctionsSettings) -> str | None:
        if settings.items_bucket:
            return settings.items_bucket
        store = self.config.run_log_store
        if store.type == "s3" and isinstance(store.config.get("bucket"), str):
            return store.config["bucket"]
        return None

    def validate(self, text: str) -> None:
        from magnus_render.renderers.stepfunctions.validate import validate_text

        validate_text(text)
