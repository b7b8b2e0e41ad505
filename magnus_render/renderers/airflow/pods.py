"""The KubernetesPodOperator keyword arguments of a pod's settings, as Python source:
literals and ``k8s.V1...`` model calls, one keyword per line when long (ruff's width)."""

from __future__ import annotations

import json
from typing import Any

from magnus_render.renderers.airflow.settings import KubernetesPod


def _call(name: str, kwargs: list[tuple[str, Any]], indent: str) -> str:
    """``name(k=v, ...)``, one keyword per line when it would be long (ruff's width)."""
    parts = [f"{k}={v if isinstance(v, _Code) else repr(v)}" for k, v in kwargs if v is not None]
    flat = f"{name}({', '.join(parts)})"
    if len(indent) + len(flat) <= 80:
        return flat
    inner = indent + "    "
    return f"{name}(\n" + "".join(f"{inner}{p},\n" for p in parts) + f"{indent})"


class _Code(str):
    """Source text placed as is (a nested call), not repr()'d."""


def pod_lines(pod: KubernetesPod) -> list[str]:
    """KubernetesPodOperator keyword arguments for pod settings, as literal source lines."""
    entries: list[tuple[str, str]] = [
        ("namespace", repr(pod.namespace)),
        ("image", repr(pod.image)),
    ]
    if pod.image_pull_policy:
        entries.append(("image_pull_policy", repr(pod.image_pull_policy)))
    resources = pod.resources
    if resources.requests or resources.limits:
        kwargs = [
            ("requests", dict(sorted(resources.requests.items())) or None),
            ("limits", dict(sorted(resources.limits.items())) or None),
        ]
        entries.append(("container_resources", _call("k8s.V1ResourceRequirements", kwargs, "    ")))
    if pod.env:
        entries.append(("env_vars", repr(dict(sorted(pod.env.items())))))
    if pod.secret_env:
        secrets = [
            f"Secret({'env'!r}, {ref.name!r}, {ref.secret_name!r}, {ref.key!r})"
            for ref in sorted(pod.secret_env, key=lambda r: r.name)
        ]
        entries.append(("secrets", _list(secrets)))
    if pod.pvc_mounts:
        volumes = []
        mounts = []
        for i, m in enumerate(pod.pvc_mounts):
            claim = _call(
                "k8s.V1PersistentVolumeClaimVolumeSource",
                [("claim_name", m.claim_name), ("read_only", m.read_only or None)],
                "            ",
            )
            volumes.append(
                _call(
                    "k8s.V1Volume",
                    [("name", f"pvc-{i}"), ("persistent_volume_claim", _Code(claim))],
                    "        ",
                )
            )
            mounts.append(
                _call(
                    "k8s.V1VolumeMount",
                    [
                        ("name", f"pvc-{i}"),
                        ("mount_path", m.mount_path),
                        ("sub_path", m.sub_path),
                        ("read_only", m.read_only or None),
                    ],
                    "        ",
                )
            )
        entries += [("volumes", _list(volumes)), ("volume_mounts", _list(mounts))]
    if pod.node_selector:
        entries.append(("node_selector", repr(dict(sorted(pod.node_selector.items())))))
    if pod.tolerations:
        tolerations = [
            _call(
                "k8s.V1Toleration",
                [
                    ("key", t.key),
                    ("operator", t.operator),
                    ("value", t.value),
                    ("effect", t.effect),
                    ("toleration_seconds", t.toleration_seconds),
                ],
                "        ",
            )
            for t in pod.tolerations
        ]
        entries.append(("tolerations", _list(tolerations)))
    if pod.labels:
        entries.append(("labels", repr(dict(sorted(pod.labels.items())))))
    if pod.service_account:
        entries.append(("service_account_name", repr(pod.service_account)))
    if pod.image_pull_secrets:
        refs = [f"k8s.V1LocalObjectReference(name={n!r})" for n in pod.image_pull_secrets]
        entries.append(("image_pull_secrets", _list(refs)))
    if pod.active_deadline_seconds:
        entries.append(("active_deadline_seconds", repr(pod.active_deadline_seconds)))
    return [f"    {json.dumps(k)}: {v}," for k, v in entries]


def _list(items: list[str]) -> str:
    flat = f"[{', '.join(items)}]"
    if len(flat) <= 70 and "\n" not in flat:
        return flat
    return "[\n" + "".join(f"        {i},\n" for i in items) + "    ]"
