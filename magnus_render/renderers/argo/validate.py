"""Offline checks of a rendered Argo document, the way ``argo lint`` would do them.

Two layers:

- the official JSON schema (``api/jsonschema/schema.json`` of argo-workflows), corrected
  in memory: IntOrString accepts integers, and objects reject unknown fields;
- cross-reference checks no schema can express: templates, tasks and dependencies that
  exist, declared inputs and outputs, volumes for every mount, legal names, no cycles.

The upstream schemas of the Argo versions we target ship in the package, gzipped and
unchanged (``schemas/README.md``), so ``--validate`` works from an installed wheel and the
tests check against the same copy. ``$MAGNUS_ARGO_SCHEMA_DIR`` replaces them (e.g. with a
newer Argo's schema); the corrections are applied in code to either.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from magnus_render.contract.naming import is_dns_label
from magnus_render.errors import Diagnostic, MagnusError

SCHEMA_ENV = "MAGNUS_ARGO_SCHEMA_DIR"
_DEF = "io.argoproj.workflow.v1alpha1."
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_RESULTS = (
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "AnySucceeded",
    "AllFailed",
)
_TOKEN = re.compile(r"[A-Za-z0-9][-A-Za-z0-9_]*(?:\.[A-Za-z]+)?")
_EXPR = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


# -- schema ----------------------------------------------------------------------------
SHIPPED_SCHEMAS = Path(__file__).with_name("schemas")
_PATTERNS = ("argo-*.schema.json", "argo-*.schema.json.gz")


def schema_files_in(folder: Path) -> list[Path]:
    """The Argo schema files (plain or gzipped) in ``folder``, in a stable order."""
    return sorted(path for pattern in _PATTERNS for path in folder.glob(pattern))


def find_schema_files() -> list[Path]:
    """Schemas to validate against: ``$MAGNUS_ARGO_SCHEMA_DIR``'s when set, else the
    shipped ones. None found is the user's error (or a broken install), never a skip."""
    env = os.environ.get(SCHEMA_ENV)
    folder = Path(env) if env else SHIPPED_SCHEMAS
    found = schema_files_in(folder) if folder.is_dir() else []
    if not found:
        where = f"{SCHEMA_ENV}={env}" if env else f"the installed package ({folder})"
        raise MagnusError(
            f"no Argo JSON schema (argo-*.schema.json or .json.gz) in {where}: "
            "cannot run --validate"
        )
    return found


def _read_schema(path: Path) -> dict[str, Any]:
    """One schema file's JSON (gunzipped when it ends in .gz); errors name the file."""
    import gzip

    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        raw = json.loads(data)
    except (OSError, EOFError, ValueError) as exc:
        raise MagnusError(f"cannot read the Argo JSON schema: {exc}", str(path)) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("definitions"), dict):
        raise MagnusError("not an Argo JSON schema (no 'definitions' mapping)", str(path))
    return raw


def corrected_schema(raw: dict[str, Any]) -> dict[str, Any]:
    """The two documented corrections: integer IntOrString; unknown fields rejected."""
    schema = copy.deepcopy(raw)
    definitions = schema["definitions"]
    definitions[_INT_OR_STRING] = {"type": ["integer", "string"]}
    for name, definition in definitions.items():
        if name.endswith(".Plugin"):
            continue
        if (
            isinstance(definition, dict)
            and "properties" in definition
            and "additionalProperties" not in definition
        ):
            definition["additionalProperties"] = False
    return schema


@lru_cache(maxsize=8)
def _validator(schema_file: str, kind: str) -> Any:
    try:
        from jsonschema import Draft202012Validator
    except ImportError:
        raise MagnusError(
            "jsonschema is not installed: pip install 'jsonschema>=4.21,<5'"
        ) from None

    schema = corrected_schema(_read_schema(Path(schema_file)))
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "definitions": schema["definitions"],
        "$ref": f"#/definitions/{_DEF}{kind}",
    }
    return Draft202012Validator(root)


def schema_errors(doc: dict[str, Any], schema_file: Path) -> list[str]:
    """Problems the (corrected) JSON schema finds, as ``path: message`` lines."""
    kind = doc.get("kind")
    if kind not in ("Workflow", "WorkflowTemplate", "CronWorkflow"):
        return [f"kind: {kind!r} is not an Argo Workflow kind"]
    validator = _validator(str(schema_file), kind)
    out = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path))):
        where = ".".join(str(p) for p in err.absolute_path) or "(document)"
        out.append(f"{schema_file.name.removesuffix('.gz')}: {where}: {err.message}")
    return out


# -- cross references --------------------------------------------------------------------
def _workflow_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc.get("spec") or {}
    return spec.get("workflowSpec", spec) if doc.get("kind") == "CronWorkflow" else spec


def _depends_names(expression: str) -> list[str]:
    text = expression.replace("&&", " ").replace("||", " ").replace("!", " ")
    text = text.replace("(", " ").replace(")", " ")
    names = []
    for token in text.split():
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise ValueError(f"cannot parse {token!r}")
        name, _, result = token.partition(".")
        if result and result not in _RESULTS:
            raise ValueError(f"unknown task result {result!r} in {token!r}")
        names.append(name)
    return names


def reference_errors(docs: list[dict[str, Any]]) -> list[str]:
    """What ``argo lint`` would refuse and no schema catches."""
    errors: list[str] = []
    library = {
        name: _workflow_spec(d)
        for d in docs
        if d.get("kind") == "WorkflowTemplate"
        and isinstance(name := (d.get("metadata") or {}).get("name"), str)
    }
    for doc in docs:
        spec = _workflow_spec(doc)
        errors += _spec_errors(spec, library, doc.get("kind", "?"))
    return errors


def _spec_errors(spec: dict[str, Any], library: dict[str, Any], kind: str) -> list[str]:
    errors: list[str] = []
    templates: dict[str, dict[str, Any]] = {}
    for template in spec.get("templates") or []:
        name = template.get("name", "")
        if name in templates:
            errors.append(f"{kind}: template {name!r} is defined twice")
        if not is_dns_label(name):
            errors.append(f"{kind}: template name {name!r} is not a DNS-1123 label")
        templates[name] = template
    entry = spec.get("entrypoint")
    if entry is not None and entry not in templates:
        errors.append(f"{kind}: entrypoint {entry!r} is not a template")
    volumes = {v.get("name") for v in spec.get("volumes") or []}
    for name, template in templates.items():
        where = f"{kind}: template {name!r}"
        declared = {p["name"] for p in (template.get("inputs") or {}).get("parameters") or []}
        for ref in _expressions(template, skip=("dag",)):
            if ref.startswith("inputs.parameters.") and ref[18:] not in declared:
                errors.append(f"{where}: uses undeclared input {ref!r}")
        container = template.get("container") or {}
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") not in volumes:
                errors.append(f"{where}: volumeMount {mount.get('name')!r} has no volume")
        if "dag" in template:
            errors += _dag_errors(where, template, templates, library, declared)
    return errors


def _expressions(value: Any, skip: tuple[str, ...] = ()) -> Iterable[str]:
    if isinstance(value, str):
        yield from _EXPR.findall(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip:
                yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)


def _resolve(task: dict[str, Any], templates: dict[str, Any], library: dict[str, Any]) -> Any:
    if "template" in task:
        return templates.get(task["template"])
    ref = task.get("templateRef") or {}
    name = ref.get("name")
    other = library.get(name) if isinstance(name, str) else None
    if other is None:
        return None
    return {t.get("name"): t for t in other.get("templates") or []}.get(ref.get("template"))


def _dag_errors(
    where: str,
    template: dict[str, Any],
    templates: dict[str, Any],
    library: dict[str, Any],
    declared: set[str],
) -> list[str]:
    errors: list[str] = []
    tasks = {t.get("name", ""): t for t in template["dag"].get("tasks") or []}
    if len(tasks) != len(template["dag"].get("tasks") or []):
        errors.append(f"{where}: duplicate task names")
    parents: dict[str, list[str]] = {}
    for name, task in tasks.items():
        at = f"{where}, task {name!r}"
        if not is_dns_label(name):
            errors.append(f"{at}: name is not a DNS-1123 label")
        target = _resolve(task, templates, library)
        if target is None:
            errors.append(f"{at}: refers to a missing template")
            target = {}
        try:
            deps = _depends_names(task.get("depends", ""))
        except ValueError as exc:
            errors.append(f"{at}: depends: {exc}")
            deps = []
        deps += task.get("dependencies") or []
        parents[name] = deps
        for dep in deps:
            if dep not in tasks:
                errors.append(f"{at}: depends on missing task {dep!r}")
        inputs = (target.get("inputs") or {}).get("parameters") or []
        given = {p["name"] for p in (task.get("arguments") or {}).get("parameters") or []}
        wanted = {p["name"] for p in inputs}
        for extra in sorted(given - wanted):
            errors.append(f"{at}: argument {extra!r} is not an input of its template")
        for param in inputs:
            if param["name"] not in given and "value" not in param and "default" not in param:
                errors.append(f"{at}: input {param['name']!r} of its template is not given")
        looped = "withParam" in task or "withItems" in task
        for ref in _expressions(task):
            if ref == "item" and not looped:
                errors.append(f"{at}: uses {{{{item}}}} without withParam/withItems")
            elif ref.startswith("inputs.parameters.") and ref[18:] not in declared:
                errors.append(f"{at}: uses undeclared input {ref!r}")
            elif ref.startswith("tasks."):
                errors += _task_output_errors(at, ref, tasks, deps, templates, library)
    errors += _cycle_errors(where, parents)
    return errors


def _task_output_errors(
    at: str,
    ref: str,
    tasks: dict[str, Any],
    deps: list[str],
    templates: dict[str, Any],
    library: dict[str, Any],
) -> list[str]:
    parts = ref.split(".")
    if len(parts) != 5 or parts[2:4] != ["outputs", "parameters"]:
        return []
    other = parts[1]
    if other not in tasks:
        return [f"{at}: {ref!r} names a missing task"]
    if other not in deps:
        return [f"{at}: {ref!r} reads a task it does not depend on"]
    produced = _resolve(tasks[other], templates, library) or {}
    outputs = {p["name"] for p in (produced.get("outputs") or {}).get("parameters") or []}
    return [] if parts[4] in outputs else [f"{at}: {ref!r} is not an output of that task"]


def _cycle_errors(where: str, parents: dict[str, list[str]]) -> list[str]:
    state: dict[str, int] = {}
    for start in parents:
        if state.get(start):
            continue
        stack = [(start, iter(parents.get(start, ())))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            dep = next(it, None)
            if dep is None:
                state[node] = 2
                stack.pop()
            elif dep in parents and state.get(dep) == 1:
                return [f"{where}: dependency cycle through task {dep!r}"]
            elif dep in parents and not state.get(dep):
                state[dep] = 1
                stack.append((dep, iter(parents[dep])))
    return []


# -- entry points ------------------------------------------------------------------------
def validate_documents(
    docs: list[dict[str, Any]], schema_files: list[Path] | None = None
) -> list[str]:
    """Every problem found in ``docs`` (empty when valid). Schemas: given, else found."""
    files = find_schema_files() if schema_files is None else schema_files
    problems: list[str] = []
    for doc in docs:
        for schema_file in files:
            problems += schema_errors(doc, schema_file)
    problems += reference_errors(docs)
    return problems


def validate_text(text: str, schema_files: list[Path] | None = None) -> list[str]:
    """``--validate``: raise a MagnusError listing problems; return notes for the user."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    docs = [d for d in yaml.load_all(text, Loader=loader) if d is not None]
    files = find_schema_files() if schema_files is None else schema_files
    problems = validate_documents(docs, files)
    if problems:
        diagnostics = [Diagnostic(f"rendered Argo spec: {p}") for p in problems]
        raise MagnusError.from_diagnostics(diagnostics)
    return []
