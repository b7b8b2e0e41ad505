"""The Step Functions renderer: settings -> ASL builder -> (split) -> text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from magnus_render.pipeline.ir import NodeKind
from magnus_render.renderers.base import Renderer, RenderResult
from magnus_render.renderers.stepfunctions.asl import AslBuilder
from magnus_render.renderers.stepfunctions.jsontext import dumps
from magnus_render.renderers.stepfunctions.names import substitution
from magnus_render.renderers.stepfunctions.settings import (
    StepFunctionsSettings,
    load_settings,
    settings_for,
)


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
        settings = load_settings(self.config)
        for node in self.graph.walk():
            settings_for(settings, node)  # an unknown override name fails early, with its line
        bucket = self._items_bucket(settings)
        builder = AslBuilder(self.graph, settings, self.options, bucket)
        builder.as_is_text = self.as_is_text
        with_infra = bool(self.options.extra.get("with_infra"))
        builder.define_jobs = with_infra and settings.launch == "batch"
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
            )
            self.warnings.extend(doc.warnings)
            if self._any_secrets(settings) and not builder.job_definitions:
                self.warn(
                    "secret references need an image (--image or executor.config.image) "
                    "so that --with-infra can create the job definitions that carry them"
                )
            return RenderResult(dump(doc.body), self.warnings)
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
            return RenderResult(dump(machines[0].definition), self.warnings)
        return RenderResult(
            dump({"StateMachines": {m.name: m.definition for m in machines}}), self.warnings
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
