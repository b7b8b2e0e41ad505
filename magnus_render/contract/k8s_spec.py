"""Kubernetes settings and object bodies shared by the k8s-jobs target and k8s-job executor.

The renderer writes the driver's objects and the executor creates one Job per node at run
time; both must build pods the same way from the same settings, so the settings model and
the body builders live here, as plain dicts (no kubernetes import: rendering stays light).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from magnus_render import settings as settings_path
from magnus_render.config import MagnusConfig
from magnus_render.contract.k8s_pod import PodLevelSettings, pod_failure_policy, pod_fields
from magnus_render.errors import ConfigError

#: the executor type (and per-step override key) these settings belong to
EXECUTOR_TYPE = "k8s-job"
#: where the ConfigMap with pipeline, config and parameters is mounted in every pod
SPEC_MOUNT_PATH = "/magnus/spec"
SPEC_VOLUME = "magnus-spec"
#: the driver pod's environment naming its own Job, for the node Jobs' ownerReference
DRIVER_NAME_ENV = "MAGNUS_DRIVER_JOB_NAME"
DRIVER_UID_ENV = "MAGNUS_DRIVER_JOB_UID"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[mkMGTPE])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def literal(text: str) -> str:
    """``text`` as a container ``command``/``args`` word or env ``value`` that Kubernetes
    passes through unchanged: it expands ``$(VAR)`` there and turns ``$$`` into ``$``, so
    every ``$`` is doubled (a step named ``a $(HOME)`` must reach magnus as written)."""
    return text.replace("$", "$$")


class EnvRef(str):
    """A command word Kubernetes should expand: ``EnvRef("RUN")`` is ``$(RUN)``, never
    escaped by :func:`pod_spec` (every other word is a :func:`literal`)."""

    def __new__(cls, name: str) -> EnvRef:
        return super().__new__(cls, f"$({name})")


def literal_command(command: list[str]) -> list[str]:
    """Each word a :func:`literal`, except :class:`EnvRef` words (meant to expand)."""
    return [str(w) if isinstance(w, EnvRef) else literal(w) for w in command]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Toleration(_Strict):
    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"operator": self.operator}
        for key, field in (("key", "key"), ("value", "value"), ("effect", "effect")):
            if getattr(self, field) is not None:
                out[key] = getattr(self, field)
        if self.toleration_seconds is not None:
            out["tolerationSeconds"] = self.toleration_seconds
        return out


class SecretEnv(_Strict):
    """An environment variable read from a Kubernetes Secret: only the reference is rendered."""

    name: str
    secret_name: str
    key: str
    optional: bool = False

    @field_validator("name")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid environment variable name")
        return value


class PvcMount(_Strict):
    """A PersistentVolumeClaim mounted in every pod (run log store, catalog, data)."""

    claim_name: str
    mount_path: str
    sub_path: str | None = None
    read_only: bool = False

    @field_validator("claim_name")
    @classmethod
    def _claim(cls, value: str) -> str:
        return _dns_label(value)

    @field_validator("mount_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"mount_path must be absolute, got {value!r}")
        return value


class Resources(_Strict):
    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)

    @field_validator("requests", "limits")
    @classmethod
    def _quantities(cls, value: dict[str, str]) -> dict[str, str]:
        for name, quantity in value.items():
            if not _QUANTITY.match(str(quantity)):
                raise ValueError(f"{name}: {quantity!r} is not a Kubernetes quantity")
        return {k: str(v) for k, v in value.items()}

    def body(self) -> dict[str, Any]:
        return {k: dict(v) for k, v in (("requests", self.requests), ("limits", self.limits)) if v}


class PodSettings(PodLevelSettings):
    """What may differ from one step to another (also the shape of a per-step override)."""

    image: str | None = None
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    resources: Resources = Field(default_factory=Resources)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: tuple[SecretEnv, ...] = ()
    pvc_mounts: tuple[PvcMount, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    backoff_limit: int = Field(default=0, ge=0)
    active_deadline_seconds: int | None = Field(default=None, ge=1)
    #: node Jobs are deleted this long after they finish (None: kept until the driver
    #: Job, their owner, is deleted)
    ttl_seconds_after_finished: int | None = Field(default=3600, ge=0)

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        return settings_path.env_names(value, _ENV_NAME)


class K8sJobSettings(PodSettings):
    """``executor.config`` when its type is ``k8s-job``; also the k8s-jobs target's settings."""

    namespace: str = "default"
    #: the driver's service account (default: derived from the pipeline's name)
    service_account: str | None = None
    #: service account of node pods (default: the namespace's default, without a token)
    node_service_account: str | None = None
    #: restarts of a crashed driver pod (a driver that exits 1 or 2 is never restarted)
    driver_backoff_limit: int = Field(default=2, ge=0)
    #: the driver Job (and through its ownerReference every node Job) is deleted this
    #: long after the run ends; None keeps it
    driver_ttl_seconds_after_finished: int | None = Field(default=86400, ge=0)
    #: the whole run's deadline (``active_deadline_seconds`` is each node's)
    driver_active_deadline_seconds: int | None = Field(default=None, ge=1)
    #: how many node Jobs of one parallel or map node run at once
    parallelism: int = Field(default=4, ge=1)
    #: ConfigMap holding pipeline/config/parameters, mounted at ``spec_mount_path``
    config_map: str | None = None
    #: ConfigMap key -> path under the mount (included pipeline files keep their folders)
    config_map_items: dict[str, str] = Field(default_factory=dict)
    spec_mount_path: str = SPEC_MOUNT_PATH
    #: how often a failed API call is retried (exponential backoff) before giving up
    api_retries: int = Field(default=5, ge=0)
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("namespace", "service_account", "node_service_account", "config_map")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else _dns_label(value)

    def for_step(self, overrides: Any) -> K8sJobSettings:
        """These settings with the step's ``overrides[k8s-job]`` patch deep-merged in
        (:func:`magnus_render.settings.deep_merge`); an undefined name is a ConfigError."""
        name = (overrides or {}).get(EXECUTOR_TYPE)
        if name is None:
            return self
        if name not in self.overrides:
            known = ", ".join(sorted(self.overrides)) or "none"
            raise ConfigError(
                f"overrides.{EXECUTOR_TYPE} {name!r} is not defined in "
                f"executor.config.overrides (defined: {known})"
            )
        return step_settings(self, self.overrides[name])


def step_settings(settings: K8sJobSettings, patch: dict[str, Any] | None) -> K8sJobSettings:
    """The settings of a node's Job: ``settings`` with one override deep-merged in."""
    return settings_path.merged_settings(settings, patch, K8sJobSettings)


def check_overrides(settings: K8sJobSettings, config: MagnusConfig | None, nodes: Any) -> None:
    """Every override merges into valid settings and sets only per-pod fields
    (:class:`PodSettings`); every step names an override that exists."""
    settings_path.check_overrides(
        settings, EXECUTOR_TYPE, K8sJobSettings, config, nodes, allowed=PodSettings.model_fields
    )


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(f"{value!r} is not a DNS-1123 label (lowercase a-z, 0-9, '-', <= 63)")
    return value


def settings_from_config(config: MagnusConfig) -> K8sJobSettings:
    """The k8s-job settings of a config; defaults when its executor is of another type.

    Errors name the config file and the line of the offending key.
    """
    return settings_path.load_settings(K8sJobSettings, config, owner=EXECUTOR_TYPE)


def dns_name(text: str, max_length: int = 63) -> str:
    """A DNS-1123 label for any text (the shared naming rules: readable, with a stable hash
    suffix whenever the text had to change, so distinct inputs stay distinct)."""
    from magnus_render.contract.naming import dns_label

    return dns_label(text, max_length)


# -- bodies -----------------------------------------------------------------------------


def _env(settings: PodSettings, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    env = list(extra)
    env += [{"name": k, "value": literal(v)} for k, v in sorted(settings.env.items())]
    for ref in sorted(settings.secret_env, key=lambda r: r.name):
        key_ref: dict[str, Any] = {"name": ref.secret_name, "key": ref.key}
        if ref.optional:
            key_ref["optional"] = True
        env.append({"name": ref.name, "valueFrom": {"secretKeyRef": key_ref}})
    return env


def pod_spec(
    settings: K8sJobSettings,
    *,
    container: str,
    image: str,
    command: list[str],
    service_account: str | None,
    extra_env: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A pod spec running ``command`` once, with the spec ConfigMap and PVCs mounted.
    ``command`` holds the words the process should get (see :func:`literal_command`)."""
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    if settings.config_map:
        config_map: dict[str, Any] = {"name": settings.config_map}
        if settings.config_map_items:
            config_map["items"] = [
                {"key": k, "path": v} for k, v in sorted(settings.config_map_items.items())
            ]
        volumes.append({"name": SPEC_VOLUME, "configMap": config_map})
        mounts.append(
            {"name": SPEC_VOLUME, "mountPath": settings.spec_mount_path, "readOnly": True}
        )
    for index, pvc in enumerate(settings.pvc_mounts):
        volume = f"pvc-{index}"
        claim: dict[str, Any] = {"claimName": pvc.claim_name}
        if pvc.read_only:
            claim["readOnly"] = True
        volumes.append({"name": volume, "persistentVolumeClaim": claim})
        mount: dict[str, Any] = {"name": volume, "mountPath": pvc.mount_path}
        if pvc.sub_path:
            mount["subPath"] = pvc.sub_path
        if pvc.read_only:
            mount["readOnly"] = True
        mounts.append(mount)
    body: dict[str, Any] = {"name": container, "image": image, "command": literal_command(command)}
    env = _env(settings, extra_env or [])
    if env:
        body["env"] = env
    if settings.image_pull_policy:
        body["imagePullPolicy"] = settings.image_pull_policy
    resources = settings.resources.body()
    if resources:
        body["resources"] = resources
    if mounts:
        body["volumeMounts"] = mounts
    if settings.security_context:
        body["securityContext"] = dict(settings.security_context)
    spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [body]}
    spec.update(pod_fields(settings, sidecars_as_init=True))
    if service_account:
        spec["serviceAccountName"] = service_account
    else:
        spec["automountServiceAccountToken"] = False
    if settings.node_selector:
        spec["nodeSelector"] = dict(sorted(settings.node_selector.items()))
    if settings.tolerations:
        spec["tolerations"] = [t.body() for t in settings.tolerations]
    if volumes:
        spec["volumes"] = volumes
    return spec


def job_spec(
    settings: K8sJobSettings,
    pod: dict[str, Any],
    labels: dict[str, str],
    backoff_limit: int,
    deadline: int | None,
    ttl: int | None = None,
) -> dict[str, Any]:
    """A Job's spec around a pod spec: retries (crashes only), deadline and TTL."""
    spec: dict[str, Any] = {
        "backoffLimit": backoff_limit,
        "podFailurePolicy": pod_failure_policy(pod["containers"][0]["name"]),
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
    }
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return spec


def node_job_body(
    settings: K8sJobSettings,
    *,
    name: str,
    command: list[str],
    labels: dict[str, str],
    annotations: dict[str, str],
    owner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Job the k8s-job executor creates for one node (retries are magnus's own);
    ``owner``: the driver Job's :func:`owner_reference`."""
    image = settings.image or "MAGNUS_RENDER_IMAGE_NOT_SET"
    all_labels = {**settings.labels, **labels}
    pod = pod_spec(
        settings,
        container="node",
        image=image,
        command=command,
        service_account=settings.node_service_account,
    )
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": settings.namespace,
        "labels": all_labels,
        "annotations": dict(annotations),
    }
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": job_spec(
            settings,
            pod,
            all_labels,
            settings.backoff_limit,
            settings.active_deadline_seconds,
            settings.ttl_seconds_after_finished,
        ),
    }
