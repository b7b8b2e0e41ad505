"""Argo settings: the config file's ``executor`` section when its ``type`` is ``argo``.

Keys follow magnus 0.5's argo executor (snake_case); Argo's own structures (retry
strategy, TTL) also accept Argo's camelCase names. Every model forbids unknown keys, so a
typo is an error naming the file and line, never a silently dropped setting. Per-step
``overrides: {argo: NAME}`` deep-merge ``config.overrides.NAME`` into the step settings.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from magnus_render.config import MagnusConfig, deep_merge
from magnus_render.contract.k8s_pod import PodLevelSettings
from magnus_render.errors import ConfigError, Diagnostic


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


Quantity = str | int | float


class ResourceAmounts(_Strict):
    cpu: Quantity | None = None
    memory: Quantity | None = None
    gpu: int | None = Field(default=None, ge=0, description="nvidia.com/gpu")


class Resources(_Strict):
    requests: ResourceAmounts = ResourceAmounts()
    limits: ResourceAmounts = ResourceAmounts()


class Toleration(_Strict):
    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(default=None, alias="tolerationSeconds")


class Backoff(_Strict):
    duration: str | None = None
    factor: int | None = Field(default=None, ge=1)
    max_duration: str | None = Field(default=None, alias="maxDuration")

    @field_validator("duration", "max_duration", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class RetryStrategy(_Strict):
    """Argo-level retries of a pod (infrastructure); step retries are ``max_attempts``.
    ``retryPolicy`` defaults to OnError (pod errors, not steps that failed)."""

    limit: int = Field(ge=0)
    retry_policy: Literal["Always", "OnFailure", "OnError", "OnTransientError"] | None = Field(
        default=None, alias="retryPolicy"
    )
    backoff: Backoff | None = None


class SecretRef(_Strict):
    """A Kubernetes secret key exposed as an environment variable (never its value)."""

    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    name: str
    key: str


class PersistentVolume(_Strict):
    """An existing PVC mounted in every step (run log store, catalog)."""

    name: str = Field(description="the PersistentVolumeClaim's name")
    mount_path: str = Field(pattern=r"^/")
    read_only: bool = False


class PodGC(_Strict):
    strategy: Literal[
        "OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"
    ]


class TTLStrategy(_Strict):
    seconds_after_completion: int | None = Field(default=None, ge=0, alias="secondsAfterCompletion")
    seconds_after_success: int | None = Field(default=None, ge=0, alias="secondsAfterSuccess")
    seconds_after_failure: int | None = Field(default=None, ge=0, alias="secondsAfterFailure")


class StepSettings(PodLevelSettings):
    """What may differ from step to step (the global values, patched by ``overrides``);
    pod-level settings (security contexts, pull secrets, sidecars, ...) included."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    image: str | None = None
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    command_prefix: tuple[str, ...] = ()
    resources: Resources | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    affinity: dict[str, Any] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    secrets_from_k8s: tuple[SecretRef, ...] = ()
    persistent_volumes: tuple[PersistentVolume, ...] = ()
    service_account_name: str | None = None
    retry_strategy: RetryStrategy | None = None
    max_step_duration: int | None = Field(default=None, gt=0)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    #: on a map step: how many iterations run at once
    parallelism: int | None = Field(default=None, gt=0)

    @field_validator("secrets_from_k8s", mode="before")
    @classmethod
    def _magnus_secret_strings(cls, value: Any) -> Any:
        """magnus 0.5 wrote secrets as ``ENV_VAR=secret_name:key``; accept that too."""
        if not isinstance(value, list | tuple):
            return value
        out = []
        for item in value:
            if isinstance(item, str):
                env, sep, rest = item.partition("=")
                name, sep2, key = rest.partition(":")
                if not (sep and sep2 and env and name and key):
                    raise ValueError(f"{item!r} is not ENV_VAR=secret_name:key")
                item = {"env": env, "name": name, "key": key}
            out.append(item)
        return out


class ArgoSettings(StepSettings):
    """The whole ``executor.config`` of an argo config file."""

    namespace: str | None = None
    parallelism: int | None = Field(default=None, gt=0)
    max_workflow_duration: int | None = Field(default=None, gt=0)
    pod_gc: PodGC | None = None
    ttl_strategy: TTLStrategy | None = None
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)


#: settings that belong to the workflow, not to a step (not allowed in overrides)
WORKFLOW_ONLY = ("namespace", "max_workflow_duration", "pod_gc", "ttl_strategy", "overrides")


def _errors(exc: ValidationError, config: MagnusConfig, prefix: str) -> ConfigError:
    diagnostics = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        where = ".".join([prefix, *loc]) if prefix else ".".join(loc)
        key = (prefix.split(".")[0] if prefix else loc[0]) if (prefix or loc) else None
        msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
        msg = msg[:1].lower() + msg[1:]
        diag = config.error("executor", f"{where}: {msg}", key).diagnostics[0]
        diagnostics.append(diag)
    return ConfigError.from_diagnostics(diagnostics)


def load_settings(config: MagnusConfig) -> ArgoSettings:
    """Validate ``executor.config`` (only when the executor type is argo; else defaults)."""
    if config.executor.type != "argo":
        return ArgoSettings()
    try:
        settings = ArgoSettings.model_validate(config.executor.config)
    except ValidationError as exc:
        raise _errors(exc, config, "") from None
    for name, patch in settings.overrides.items():
        bad = [k for k in patch if k in WORKFLOW_ONLY]
        if bad:
            raise config.error(
                "executor",
                f"overrides.{name}.{bad[0]}: a workflow setting, not a step one",
                "overrides",
            )
        try:
            StepSettings.model_validate(patch)
        except ValidationError as exc:
            raise _errors(exc, config, f"overrides.{name}") from None
    return settings


def step_settings(settings: ArgoSettings, patch: dict[str, Any] | None) -> StepSettings:
    """The global step settings with one override deep-merged in."""
    base = settings.model_dump(exclude=set(WORKFLOW_ONLY) | {"parallelism"}, exclude_unset=True)
    merged = deep_merge(base, patch or {})
    return StepSettings.model_validate(merged)


__all__ = [
    "WORKFLOW_ONLY",
    "ArgoSettings",
    "Diagnostic",
    "StepSettings",
    "load_settings",
    "step_settings",
]
