"""Pod-level settings a real cluster asks for, shared by the Argo and k8s-jobs targets
(and the Job-level pieces of k8s-jobs: the pod failure policy, the owner reference).

Image pull secrets, pod and container security contexts, priority class, scheduler,
runtime class, host aliases, DNS, termination grace period, init containers and sidecars:
set globally in the executor's config and patched per step by ``overrides``, like every
other step setting. Kubernetes objects given inline (containers, security contexts, DNS
config) are checked here for their field names and the fields a pod cannot start
without, so a typo fails the render with the config's line; ``--validate`` then checks
every value against the official schemas (kubernetes-validate, Argo's JSON schema).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

CONTAINER_FIELDS = frozenset(
    [
        "args",
        "command",
        "env",
        "envFrom",
        "image",
        "imagePullPolicy",
        "lifecycle",
        "livenessProbe",
        "name",
        "ports",
        "readinessProbe",
        "resizePolicy",
        "resources",
        "restartPolicy",
        "securityContext",
        "startupProbe",
        "stdin",
        "stdinOnce",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "tty",
        "volumeDevices",
        "volumeMounts",
        "workingDir",
    ]
)
POD_SECURITY_FIELDS = frozenset(
    [
        "appArmorProfile",
        "fsGroup",
        "fsGroupChangePolicy",
        "runAsGroup",
        "runAsNonRoot",
        "runAsUser",
        "seLinuxChangePolicy",
        "seLinuxOptions",
        "seccompProfile",
        "supplementalGroups",
        "supplementalGroupsPolicy",
        "sysctls",
        "windowsOptions",
    ]
)
CONTAINER_SECURITY_FIELDS = frozenset(
    [
        "allowPrivilegeEscalation",
        "appArmorProfile",
        "capabilities",
        "privileged",
        "procMount",
        "readOnlyRootFilesystem",
        "runAsGroup",
        "runAsNonRoot",
        "runAsUser",
        "seLinuxOptions",
        "seccompProfile",
        "windowsOptions",
    ]
)
DNS_CONFIG_FIELDS = frozenset({"nameservers", "options", "searches"})


def _known_keys(value: dict[str, Any], known: frozenset[str], what: str) -> dict[str, Any]:
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(
            f"{what}: unknown field {unknown[0]!r} (Kubernetes names, camelCase: "
            f"{', '.join(sorted(known))})"
        )
    return value


def _container(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what}: a container must be a mapping")
    _known_keys(value, CONTAINER_FIELDS, what)
    name = value.get("name")
    if not isinstance(name, str) or len(name) > 63 or not _DNS_LABEL.match(name):
        raise ValueError(f"{what}: 'name' must be a DNS-1123 label, got {name!r}")
    if not isinstance(value.get("image"), str) or not value["image"]:
        raise ValueError(f"{what} {name!r}: 'image' is required")
    security = value.get("securityContext")
    if security is not None:
        if not isinstance(security, dict):
            raise ValueError(f"{what} {name!r}: securityContext must be a mapping")
        _known_keys(security, CONTAINER_SECURITY_FIELDS, f"{what} {name!r}: securityContext")
    return value


class HostAlias(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ip: str = Field(pattern=r"^[0-9a-fA-F.:]+$")
    hostnames: tuple[str, ...] = Field(min_length=1)


class PodLevelSettings(BaseModel):
    """Pod-level settings (mixed into the Argo and k8s-jobs step settings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: names of Secrets of type dockerconfigjson the kubelet pulls the image with
    image_pull_secrets: tuple[str, ...] = ()
    #: the pod's securityContext (runAsUser, fsGroup, seccompProfile, ...)
    pod_security_context: dict[str, Any] | None = None
    #: the magnus container's securityContext
    security_context: dict[str, Any] | None = None
    priority_class_name: str | None = None
    scheduler_name: str | None = None
    runtime_class_name: str | None = None
    host_aliases: tuple[HostAlias, ...] = ()
    dns_policy: Literal["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"] | None = None
    dns_config: dict[str, Any] | None = None
    termination_grace_period_seconds: int | None = Field(default=None, ge=0)
    #: Kubernetes containers run to completion before the magnus container starts
    init_containers: tuple[dict[str, Any], ...] = ()
    #: Kubernetes containers running beside the magnus container (stopped when it ends)
    sidecars: tuple[dict[str, Any], ...] = ()

    @field_validator("image_pull_secrets")
    @classmethod
    def _secret_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
                raise ValueError(f"{name!r} is not a Secret name")
        return value

    @field_validator("priority_class_name", "scheduler_name", "runtime_class_name")
    @classmethod
    def _object_name(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 253 or not _DNS_SUBDOMAIN.match(value)):
            raise ValueError(f"{value!r} is not a Kubernetes object name")
        return value

    @field_validator("pod_security_context")
    @classmethod
    def _pod_security(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _known_keys(value, POD_SECURITY_FIELDS, "field")

    @field_validator("security_context")
    @classmethod
    def _container_security(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _known_keys(value, CONTAINER_SECURITY_FIELDS, "field")

    @field_validator("dns_config")
    @classmethod
    def _dns(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _known_keys(value, DNS_CONFIG_FIELDS, "field")

    @field_validator("init_containers", "sidecars")
    @classmethod
    def _containers(cls, value: tuple[Any, ...]) -> tuple[dict[str, Any], ...]:
        names = [_container(c, f"container {i}")["name"] for i, c in enumerate(value)]
        if len(set(names)) != len(names):
            raise ValueError("container names must be unique")
        return value


def host_aliases(settings: PodLevelSettings) -> list[dict[str, Any]]:
    return [{"ip": a.ip, "hostnames": list(a.hostnames)} for a in settings.host_aliases]


def pod_fields(settings: PodLevelSettings, *, sidecars_as_init: bool) -> dict[str, Any]:
    """The pod spec's fields for these settings (a plain pod: k8s-jobs).
    ``sidecars_as_init``: sidecars become native sidecars (init containers that keep
    running, Kubernetes 1.29+), so a Job completes when the magnus container exits."""
    out: dict[str, Any] = {}
    if settings.image_pull_secrets:
        out["imagePullSecrets"] = [{"name": n} for n in settings.image_pull_secrets]
    if settings.pod_security_context:
        out["securityContext"] = dict(settings.pod_security_context)
    for key, value in (
        ("priorityClassName", settings.priority_class_name),
        ("schedulerName", settings.scheduler_name),
        ("runtimeClassName", settings.runtime_class_name),
        ("dnsPolicy", settings.dns_policy),
        ("terminationGracePeriodSeconds", settings.termination_grace_period_seconds),
    ):
        if value is not None:
            out[key] = value
    if settings.dns_config:
        out["dnsConfig"] = dict(settings.dns_config)
    if settings.host_aliases:
        out["hostAliases"] = host_aliases(settings)
    init = [dict(c) for c in settings.init_containers]
    if sidecars_as_init:
        init += [{**c, "restartPolicy": "Always"} for c in settings.sidecars]
    if init:
        out["initContainers"] = init
    return out


def argo_template_fields(settings: PodLevelSettings) -> dict[str, Any]:
    """The same settings on an Argo template: its own fields where Argo has them, the
    rest (pull secrets, runtime class, DNS, grace period) as the template's podSpecPatch,
    so they apply per step too (Argo has them only workflow-wide otherwise)."""
    out: dict[str, Any] = {}
    if settings.pod_security_context:
        out["securityContext"] = dict(settings.pod_security_context)
    if settings.priority_class_name:
        out["priorityClassName"] = settings.priority_class_name
    if settings.scheduler_name:
        out["schedulerName"] = settings.scheduler_name
    if settings.host_aliases:
        out["hostAliases"] = host_aliases(settings)
    if settings.init_containers:
        out["initContainers"] = [dict(c) for c in settings.init_containers]
    if settings.sidecars:
        out["sidecars"] = [dict(c) for c in settings.sidecars]
    patch = {
        k: v
        for k, v in pod_fields(settings, sidecars_as_init=False).items()
        if k
        in (
            "imagePullSecrets",
            "runtimeClassName",
            "dnsPolicy",
            "dnsConfig",
            "terminationGracePeriodSeconds",
        )
    }
    if patch:
        out["podSpecPatch"] = json.dumps(patch, sort_keys=True, separators=(",", ":"))
    return out


# -- Job-level pieces -------------------------------------------------------------------
#: exit codes that end a magnus process on purpose: 1 the pipeline (or node) failed, 2 bad
#: input. A pod that exits so must not be retried as if it had crashed.
FINAL_EXIT_CODES = (1, 2)


def pod_failure_policy(container: str) -> dict[str, Any]:
    """Fail the Job at once when ``container`` exits 1 or 2 (``backoffLimit`` then counts
    crashes only: OOM kills, lost nodes); a disrupted pod (preempted, evicted, drained)
    is retried without counting against it."""
    return {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": container,
                    "operator": "In",
                    "values": list(FINAL_EXIT_CODES),
                },
            },
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
        ]
    }


def owner_reference(name: str, uid: str) -> dict[str, Any]:
    """Makes a node Job a dependent of the driver Job: deleting the run (the driver Job,
    by hand or by its TTL) garbage-collects every node Job and their pods."""
    return {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid}
