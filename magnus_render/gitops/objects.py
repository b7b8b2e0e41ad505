"""Kubernetes objects two specs of one output folder would both define.

Pipeline names become object names after Kubernetes' naming rules, so ``my pipe.yaml`` and
``my-pipe.yaml`` both render a WorkflowTemplate ``my-pipe``. In one folder (one kustomization,
one Argo CD application) the second would silently replace the first in the cluster, or make
``kubectl apply -k`` fail: the render names the pair instead.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from magnus_render.gitops.sync import Outcome

#: (folder, apiVersion, kind, namespace, name)
ObjectKey = tuple[str, str, str, str, str]


def object_keys(output: str, text: str) -> list[ObjectKey]:
    """Every named object of a rendered multi-document spec (``generateName`` ones never
    clash: each is a new object)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    folder = posixpath.dirname(output)
    keys = []
    for doc in yaml.load_all(text, Loader=loader):
        meta: Any = doc.get("metadata") if isinstance(doc, dict) else None
        if isinstance(meta, dict) and meta.get("name"):
            namespace = str(meta.get("namespace") or "")
            api, kind = str(doc.get("apiVersion")), str(doc.get("kind"))
            keys.append((folder, api, kind, namespace, str(meta["name"])))
    return keys


def mark_clashes(outcomes: list[Outcome], targets: tuple[str, ...]) -> None:
    """Turn every rendered spec that defines an object another spec of its folder defines
    into a failed outcome (so it keeps its previous file, like any failed render)."""
    owners: dict[ObjectKey, list[Outcome]] = {}
    for outcome in outcomes:
        if outcome.text is not None and outcome.job.target in targets:
            for key in dict.fromkeys(object_keys(outcome.job.output, outcome.text)):
                owners.setdefault(key, []).append(outcome)
    for (_, _, kind, namespace, name), sharing in sorted(owners.items()):
        if len(sharing) < 2:
            continue
        where = f" in namespace {namespace!r}" if namespace else ""
        files = " and ".join(o.job.output for o in sharing)
        for outcome in sharing:
            job = outcome.job
            message = (
                f"{job.pipeline} ({job.target}, {job.origin}):\n{files} both define {kind} "
                f"{name!r}{where}; rename one pipeline or give them separate output folders"
            )
            if outcome.error is None:
                outcome.text, outcome.error = None, message
