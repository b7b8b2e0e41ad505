"""Step Functions settings: the config's ``executor.config`` when its type is stepfunctions.

Validated strictly (unknown keys are errors naming the config file and line) so a typo in
a job queue setting fails the render instead of silently producing a wrong spec. Per-step
``overrides: {stepfunctions: NAME}`` patch these settings with ``overrides.NAME``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from magnus_render.config import MagnusConfig
from magnus_render.errors import ConfigError, Diagnostic
from magnus_render.pipeline.ir import Node
from magnus_render.renderers.base import TargetSettings

TARGET = "stepfunctions"

#: errors of the service call itself (throttling, capacity), never of the node's command:
#: the node's own retries (max_attempts) happen inside the container and are recorded
#: there, so retrying States.TaskFailed here would run (and record) attempts twice.
DEFAULT_BATCH_ERRORS = (
    "Batch.AWSBatchException",
    "Batch.ServerException",
    "Batch.TooManyRequestsException",
)
DEFAULT_ECS_ERRORS = (
    "ECS.AmazonECSException",
    "ECS.ServerException",
    "ECS.ThrottlingException",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetryRule(_Strict):
    """One ASL retrier. ``error_equals`` defaults to the launch service's call errors."""

    error_equals: list[str] | None = None
    interval_seconds: int = Field(2, ge=1, le=99_999_999)
    backoff_rate: float = Field(2.0, ge=1.0)
    max_attempts: int = Field(3, ge=0, le=99_999_999)
    max_delay_seconds: int | None = Field(None, ge=1)


class Resources(_Strict):
    """Batch resource requirements (strings, as the Batch API takes them)."""

    vcpu: str | None = None
    memory: str | None = None
    gpu: str | None = None


class StepFunctionsSettings(TargetSettings):
    """Everything a rendered state machine needs to know about the AWS account."""

    launch: Literal["batch", "ecs"] = "batch"
    image: str | None = None
    # AWS Batch
    job_queue: str = "magnus"
    job_definition: str = "magnus"
    # ECS
    cluster: str = "magnus"
    task_definition: str = "magnus"
    container_name: str = "magnus"
    launch_type: Literal["FARGATE", "EC2"] = "FARGATE"
    subnets: list[str] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)
    assign_public_ip: bool = False
    # both
    resources: Resources = Field(default_factory=Resources)
    environment: dict[str, str] = Field(default_factory=dict)
    #: env var name -> Secrets Manager ARN or name: references, resolved by AWS at start
    secrets: dict[str, str] = Field(default_factory=dict)
    retry: list[RetryRule] = Field(default_factory=lambda: [RetryRule()])
    timeout_seconds: int | None = Field(None, ge=1)
    # Distributed Map
    max_concurrency: int = Field(0, ge=0)
    tolerated_failure_percentage: float | None = Field(None, ge=0, le=100)
    tolerated_failure_count: int | None = Field(None, ge=0)
    items_bucket: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
    items_prefix: str = Field("magnus/map-items", pattern=r"^[A-Za-z0-9_./\-]*$")
    # the state machine and its infrastructure
    state_machine_name: str = "magnus-pipeline"
    role_arn: str | None = None
    #: ARN up to the name of nested machines when a split happens without --with-infra
    state_machine_arn_prefix: str | None = None
    max_definition_bytes: int = Field(1_000_000, ge=10_000)
    #: named patches of these settings, chosen per step by ``overrides: {stepfunctions: NAME}``
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("environment", "secrets")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if (
                not name
                or not (name[0].isalpha() or name[0] == "_")
                or not all(c.isalnum() or c == "_" for c in name)
            ):
                raise ValueError(f"{name!r} is not a valid environment variable name")
        return value

    def retry_errors(self, rule: RetryRule) -> list[str]:
        if rule.error_equals is not None:
            return list(rule.error_equals)
        return list(DEFAULT_BATCH_ERRORS if self.launch == "batch" else DEFAULT_ECS_ERRORS)


def load_settings(config: MagnusConfig) -> StepFunctionsSettings:
    """The executor section's settings when it is ours, else the defaults."""
    if config.executor.type != TARGET:
        return StepFunctionsSettings()
    raw = config.executor.config
    try:
        settings = StepFunctionsSettings.model_validate(raw)
    except ValidationError as exc:
        raise _config_errors(config, exc) from None
    for name, patch in settings.overrides.items():
        try:
            _patched(settings, patch)
        except ValidationError as exc:
            raise _config_errors(config, exc, f"overrides.{name}.") from None
    return settings


def settings_for(base: StepFunctionsSettings, node: Node) -> StepFunctionsSettings:
    """The settings of one step: ``base`` patched by the step's stepfunctions override."""
    name = node.overrides.get(TARGET)
    if name is None:
        return base
    patch = base.overrides.get(name)
    if patch is None:
        known = ", ".join(sorted(base.overrides)) or "none are defined"
        where = node.source
        raise ConfigError(
            f"step {node.name!r} uses stepfunctions override {name!r}, which the config's "
            f"executor.config.overrides does not define (known: {known})",
            where.file if where else None,
            where.line if where else None,
        )
    return _patched(base, patch)


def _patched(base: StepFunctionsSettings, patch: dict[str, Any]) -> StepFunctionsSettings:
    if "overrides" in patch:
        raise ValueError("an override cannot define overrides")
    data = base.model_dump(exclude={"overrides"})
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return StepFunctionsSettings.model_validate(data)


def _config_errors(config: MagnusConfig, exc: ValidationError, prefix: str = "") -> ConfigError:
    diagnostics = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = loc[0] if loc and not prefix else "overrides"
        what = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
        where = prefix + ".".join(loc)
        line = config.line_of("executor", key)
        diagnostics.append(
            Diagnostic(f"executor: config.{where}: {what}", config.source_file, line)
        )
    return ConfigError.from_diagnostics(diagnostics)
