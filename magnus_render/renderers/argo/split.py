"""Keep every object under Kubernetes' 1 MiB limit by moving branch DAGs out.

When the whole Workflow is too big, each DAG template other than the entrypoint moves
into a WorkflowTemplate of its own (with copies of the few container templates it
uses), and tasks that called it by ``template`` call it by ``templateRef``. The result
is a multi-document list: the WorkflowTemplates first (they must exist before the
Workflow is submitted), then the Workflow. A single graph that is still too big on its
own is cut into segments, each a DAG in a WorkflowTemplate of its own, run one after
another by the original template with the routing preserved (``segments.py``).
"""

from __future__ import annotations

import json
from typing import Any

from magnus_render.contract.naming import dns_label
from magnus_render.errors import UnsupportedError
from magnus_render.renderers.argo.segments import Dag, split_dag

API_VERSION = "argoproj.io/v1alpha1"


def compact_size(doc: Any) -> int:
    """Bytes of ``doc`` as compact JSON (what the API server stores)."""
    return len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    return spec["workflowSpec"] if doc["kind"] == "CronWorkflow" else spec


def split_documents(doc: dict[str, Any], base: str, limit: int) -> list[dict[str, Any]]:
    """``[doc]`` when it fits, else WorkflowTemplates + the slimmed document."""
    if compact_size(doc) <= limit:
        return [doc]
    spec = _spec(doc)
    templates = {t["name"]: t for t in spec["templates"]}
    entry = spec["entrypoint"]
    moved = [name for name, t in templates.items() if "dag" in t and name != entry]
    library = {name: dns_label(f"{base}-{name}") for name in moved}
    namespace = doc["metadata"].get("namespace")

    def part(name: str) -> list[dict[str, Any]]:
        dag = _retarget(templates[name], library)
        used = sorted(
            {
                task["template"]
                for task in dag["dag"]["tasks"]
                if "template" in task and task["template"] not in library
            }
        )
        return [dag] + [templates[n] for n in used if n != name]

    out: list[dict[str, Any]] = []
    for name in moved:
        metadata: dict[str, Any] = {"name": library[name]}
        if namespace:
            metadata["namespace"] = namespace
        wt_spec: dict[str, Any] = {"templates": part(name)}
        if "volumes" in spec:
            wt_spec["volumes"] = spec["volumes"]
        out.append(
            {
                "apiVersion": API_VERSION,
                "kind": "WorkflowTemplate",
                "metadata": metadata,
                "spec": wt_spec,
            }
        )
    spec["templates"] = part(entry)
    out.append(doc)
    out = [part for item in out for part in _segmented(item, base, limit)]
    for item in out:
        size = compact_size(item)
        if size > limit:
            what = item["metadata"].get("name") or item["metadata"].get("generateName")
            raise UnsupportedError(
                f"target 'argo': {item['kind']} {what!r} would be {size / 1024:.0f} KiB, over "
                f"Kubernetes' {limit // 1024} KiB object limit, even after moving every branch "
                "into its own WorkflowTemplate and cutting graphs into segments. Split the "
                "pipeline into smaller files joined with `type: dag` steps, or group steps "
                "into maps."
            )
    return out


def _retarget(template: dict[str, Any], library: dict[str, str]) -> dict[str, Any]:
    """A copy of a DAG template whose calls to moved DAGs use ``templateRef``."""
    tasks = []
    for task in template["dag"]["tasks"]:
        target = task.get("template")
        if target in library:
            new = {
                "name": task["name"],
                "templateRef": {"name": library[target], "template": target},
            }
            new.update({k: v for k, v in task.items() if k not in ("name", "template")})
            task = new
        tasks.append(task)
    return {**template, "dag": {**template["dag"], "tasks": tasks}}


def _segmented(doc: dict[str, Any], base: str, limit: int) -> list[dict[str, Any]]:
    """``[doc]`` when it fits, else segment WorkflowTemplates + ``doc`` with its (only)
    DAG template replaced by the router that runs them (see ``segments.py``)."""
    if compact_size(doc) <= limit:
        return [doc]
    spec = _spec(doc)
    dag, others = spec["templates"][0], spec["templates"][1:]
    if "dag" not in dag:
        return [doc]
    metadata = doc["metadata"]
    prefix = metadata["name"] if doc["kind"] == "WorkflowTemplate" else base
    names = [dns_label(f"{prefix}-part-{k + 1}") for k in range(len(dag["dag"]["tasks"]))]
    by_name = {t["name"]: t for t in others}

    def wrap(k: int, segment: dict[str, Any]) -> dict[str, Any]:
        used = sorted({t["template"] for t in segment["dag"]["tasks"] if "template" in t})
        wt_spec: dict[str, Any] = {"templates": [segment] + [by_name[n] for n in used]}
        if "volumes" in spec:
            wt_spec["volumes"] = spec["volumes"]
        meta: dict[str, Any] = {"name": names[k]}
        if metadata.get("namespace"):
            meta["namespace"] = metadata["namespace"]
        return {"apiVersion": API_VERSION, "kind": "WorkflowTemplate", "metadata": meta,
                "spec": wt_spec}  # fmt: skip

    overhead = compact_size(wrap(0, {"name": dag["name"], "dag": {"tasks": []}})) + compact_size(
        others
    )
    budget = limit - overhead - limit // 32  # the routing outputs are estimated: a margin
    tasks = Dag(dag["dag"]["tasks"])
    for _ in range(8):  # shrink when an estimate was short
        if budget <= 0:
            break
        router, segments = split_dag(
            dag, budget, lambda k, name: {"name": names[k], "template": name}, tasks
        )
        used = {t["template"] for t in router["dag"]["tasks"] if "template" in t}
        slim = _with_templates(doc, [router] + [t for t in others if t["name"] in used])
        parts = [wrap(k, s) for k, s in enumerate(segments)] + [slim]
        if all(compact_size(p) <= limit for p in parts):
            return parts
        budget = budget * 4 // 5
    return [doc]  # the caller reports the size


def _with_templates(doc: dict[str, Any], templates: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of ``doc`` whose (workflow) spec has ``templates`` (``doc`` is unchanged)."""
    if doc["kind"] == "CronWorkflow":
        inner = {**doc["spec"]["workflowSpec"], "templates": templates}
        return {**doc, "spec": {**doc["spec"], "workflowSpec": inner}}
    return {**doc, "spec": {**doc["spec"], "templates": templates}}
