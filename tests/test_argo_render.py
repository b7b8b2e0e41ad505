"""Rendered Argo specs: golden files, determinism, the official schemas (both versions,
corrected), hera's models made strict, cross-reference checks, names, kinds and size."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from magnus_render.config import load_config
from magnus_render.contract.naming import is_dns_label
from magnus_render.errors import MagnusError
from magnus_render.pipeline import load_pipeline, load_pipeline_text
from magnus_render.renderers.argo import ArgoRenderer
from magnus_render.renderers.argo.templates import RUN_ID
from magnus_render.renderers.argo.validate import (
    SHIPPED_SCHEMAS,
    reference_errors,
    schema_files_in,
    validate_documents,
)
from magnus_render.renderers.base import RenderOptions
from tests.conftest import ROOT, SAMPLES
from tests.golden import assert_golden
from tests.helpers.shared_stores import argo_config

SCHEMAS = schema_files_in(SHIPPED_SCHEMAS)
# a fixed list: a sample added later gets its golden file when its author adds it here
SAMPLE_NAMES = [
    "catalog",
    "failing",
    "hello",
    "include",
    "map",
    "nested",
    "on_failure",
    "parallel",
    "retry",
    "shell",
]
GOLDEN = ROOT / "samples" / "golden" / "argo"
IMAGE = "registry.example.com/magnus:1.0"


#: the stores on a volume every pod mounts (an Argo render refuses unshared ones)
CONFIG = "samples/golden/argo/config.yaml"


def render(sample: str, **extra: Any) -> str:
    pipeline = load_pipeline(SAMPLES / f"{sample}.yaml")
    options = RenderOptions(
        pipeline_file=f"samples/{sample}.yaml", config_file=CONFIG, image=IMAGE, extra=extra
    )
    return ArgoRenderer(pipeline, load_config(ROOT / CONFIG), options).render().text


def docs_of(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def test_both_schema_versions_present() -> None:
    names = ["argo-v3.7.18.schema.json.gz", "argo-v4.1.2.schema.json.gz"]
    assert [p.name for p in SCHEMAS] == names


@pytest.mark.parametrize("sample", SAMPLE_NAMES)
def test_golden(sample: str) -> None:
    assert_golden(GOLDEN / f"{sample}.yaml", render(sample))


@pytest.mark.parametrize("sample", SAMPLE_NAMES)
def test_sample_validates_against_both_schemas_and_cross_references(sample: str) -> None:
    docs = docs_of(render(sample))
    assert validate_documents(docs, SCHEMAS) == []


@pytest.mark.parametrize("kind", ["WorkflowTemplate", "CronWorkflow"])
def test_other_kinds_validate(kind: str) -> None:
    extra = {"kind": kind}
    if kind == "CronWorkflow":
        extra.update(schedule="0 3 * * *", timezone="Europe/Paris")
    docs = docs_of(render("nested", **extra))
    assert docs[0]["kind"] == kind
    assert validate_documents(docs, SCHEMAS) == []
    if kind == "CronWorkflow":
        assert docs[0]["spec"]["schedules"] == ["0 3 * * *"]
        assert docs[0]["spec"]["timezone"] == "Europe/Paris"


def test_kind_errors() -> None:
    with pytest.raises(MagnusError, match="needs --schedule"):
        render("hello", kind="CronWorkflow")
    with pytest.raises(MagnusError, match="not one of"):
        render("hello", kind="Job")
    with pytest.raises(MagnusError, match="only to --kind CronWorkflow"):
        render("hello", schedule="* * * * *")


def test_deterministic_across_processes() -> None:
    code = (
        "import sys; from tests.test_argo_render import render; sys.stdout.write(render('nested'))"
    )
    outs = set()
    for seed in ("0", "1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        outs.add(proc.stdout)
    assert len(outs) == 1 and outs == {render("nested")}


# -- the validator itself catches what it should ---------------------------------------------
def _broken(mutate) -> list[str]:
    doc = docs_of(render("map"))[0]
    mutate(doc)
    return validate_documents([doc], SCHEMAS)


def _main_tasks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["spec"]["templates"][0]["dag"]["tasks"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["spec"].update(retryStrategyy={}), "Additional properties"),
        (lambda d: d.update(kind="Workflw"), "not an Argo Workflow kind"),
        (lambda d: _main_tasks(d)[0].update(template="nope"), "missing template"),
        (lambda d: _main_tasks(d)[1].update(depends="ghost.Succeeded"), "missing task 'ghost'"),
        (lambda d: _main_tasks(d)[1].update(depends="chunk.Finished"), "unknown task result"),
        (lambda d: _main_tasks(d)[0].update(depends="success"), "dependency cycle"),
        (lambda d: _main_tasks(d)[0].update(name="Chunk_1"), "DNS-1123"),
        (
            lambda d: d["spec"]["templates"][-1]["container"].update(
                volumeMounts=[{"name": "data", "mountPath": "/data"}]
            ),
            "has no volume",
        ),
        (lambda d: _main_tasks(d)[0].pop("arguments"), "input 'name' of its template"),
        (lambda d: _main_tasks(d)[2].pop("withParam"), "without withParam"),
    ],
)
def test_validator_rejects(mutate, expected: str) -> None:
    problems = _broken(mutate)
    assert any(expected in p for p in problems), problems


def test_int_or_string_accepts_integers() -> None:
    doc = docs_of(render("hello"))[0]
    doc["spec"]["templates"][-1]["retryStrategy"] = {
        "limit": 2,
        "backoff": {"duration": "10s", "factor": 2},
    }
    assert validate_documents([doc], SCHEMAS) == []


HERA_CHECK = """
import json, sys
from hera.shared._pydantic import APIBaseModel
import hera.workflows.models as m
stack, classes = [APIBaseModel], []
while stack:
    for sub in stack.pop().__subclasses__():
        classes.append(sub); stack.append(sub)
for cls in classes:
    if cls.__name__ != "Plugin":
        cls.model_config["extra"] = "forbid"
for cls in classes:
    cls.model_rebuild(force=True)
problems = []
for doc in json.load(sys.stdin):
    model = getattr(m, doc["kind"])
    try:
        model.model_validate(doc)
    except Exception as exc:
        problems.append(str(exc))
json.dump(problems, sys.stdout)
"""


def hera_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Validate with hera's models made strict, in a child process (it patches hera)."""
    proc = subprocess.run(
        [sys.executable, "-c", HERA_CHECK],
        input=json.dumps(docs),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_all_samples_valid_for_strict_hera_models() -> None:
    docs = [docs_of(render(s))[0] for s in SAMPLE_NAMES]
    docs.append(docs_of(render("map", kind="WorkflowTemplate"))[0])
    docs.append(docs_of(render("map", kind="CronWorkflow", schedule="@daily"))[0])
    bad = copy.deepcopy(docs[0])
    bad["spec"]["templates"][0]["dag"]["tasks"][0]["dependz"] = "x"
    problems = hera_problems([*docs, bad])
    assert len(problems) == 1 and "dependz" in problems[0]


# -- names -------------------------------------------------------------------------------
HOSTILE = """
dag:
  start_at: "Étape 1: préparer"
  steps:
    "Étape 1: préparer":
      type: stub
      next: "2nd"
    "2nd":
      type: stub
      next: "x-fan-out"
    "x-fan-out":
      type: stub
      next: x
    x:
      type: parallel
      next: "{long}"
      branches:
        "Branch A/B":
          start_at: "it's \\"quoted\\""
          steps:
            "it's \\"quoted\\"":
              type: stub
              next: success
            success:
              type: success
            fail:
              type: fail
    "{long}":
      type: stub
      next: success
    success:
      type: success
    fail:
      type: fail
""".replace("{long}", " ".join(["a very long step name"] * 6))


def test_any_step_name_renders_to_legal_unique_names() -> None:
    pipeline = load_pipeline_text(HOSTILE, "hostile.yaml")
    text = ArgoRenderer(pipeline, argo_config(), RenderOptions("hostile.yaml", image="i")).render()
    docs = docs_of(text.text)
    assert validate_documents(docs, SCHEMAS) == []
    templates = docs[0]["spec"]["templates"]
    for template in templates:
        assert is_dns_label(template["name"])
        names = [t["name"] for t in (template.get("dag") or {}).get("tasks", [])]
        assert len(names) == len(set(names)) and all(is_dns_label(n) for n in names)
        assert all(n[0].isalpha() for n in names)  # depends expressions need a letter first
    # the step called "x-fan-out" and x's fan-out task do not collide
    main = [t["name"] for t in templates[0]["dag"]["tasks"]]
    assert "x-fan-out" in main and sum(n.startswith("x-fan-out") for n in main) == 2
    # internal names pass through unchanged as parameters
    values = {
        p["value"]
        for t in templates
        for task in (t.get("dag") or {}).get("tasks", [])
        for p in task.get("arguments", {}).get("parameters", [])
        if p["name"] == "name"
    }
    assert 'x.Branch A/B.it\'s "quoted"' in values


def test_names_with_argo_expressions_are_refused() -> None:
    text = HOSTILE.replace("x-fan-out", "{{item}}")
    pipeline = load_pipeline_text(text, "hostile.yaml")
    renderer = ArgoRenderer(pipeline, argo_config(), RenderOptions("hostile.yaml"))
    with pytest.raises(MagnusError, match="Argo would substitute"):
        renderer.render()


def test_placeholder_image_warns() -> None:
    pipeline = load_pipeline(SAMPLES / "hello.yaml")
    result = ArgoRenderer(pipeline, argo_config(), RenderOptions("samples/hello.yaml")).render()
    assert "MAGNUS_RENDER_IMAGE_NOT_SET" in result.text
    assert any("no container image given" in w for w in result.warnings)


def test_reference_errors_for_template_refs() -> None:
    library = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "lib"},
        "spec": {"templates": [{"name": "t", "container": {"image": "i"}}]},
    }
    user = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "w-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {"name": "a", "templateRef": {"name": "lib", "template": "t"}},
                            {"name": "b", "templateRef": {"name": "lib", "template": "zz"}},
                        ]
                    },
                }
            ],
        },
    }
    problems = reference_errors([library, user])
    assert len(problems) == 1 and "'b'" in problems[0] and "missing template" in problems[0]


def test_routing_shape_on_failure() -> None:
    """on_failure and the fail node are routed with depends; success is the only leaf."""
    tasks = {t["name"]: t for t in _main_tasks(docs_of(render("on_failure"))[0])}
    assert tasks["unreached"]["depends"] == "risky.Succeeded"
    assert tasks["recover"]["depends"] == "risky.Failed || risky.Errored"
    assert tasks["success"]["depends"].endswith("&& fail.Omitted")
    assert "risky" not in tasks["fail"]["depends"]  # risky has on_failure
    assert tasks["fail"]["template"] == "magnus-fail"


def test_map_fan_out_and_in_shape() -> None:
    doc = docs_of(render("map"))[0]
    tasks = {t["name"]: t for t in _main_tasks(doc)}
    assert tasks["each-iterations"]["withParam"] == (
        "{{tasks.each-fan-out.outputs.parameters.items}}"
    )
    assert tasks["each-iterations"]["arguments"]["parameters"] == [
        {"name": "map-variable", "value": "{{item}}"}
    ]
    assert "each-iterations.Failed" in tasks["each"]["depends"]  # fan-in runs regardless
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    fan_out = templates["magnus-fan-out-items"]
    assert fan_out["outputs"]["parameters"][0]["valueFrom"]["path"] == "/tmp/magnus-items.json"
    command = fan_out["container"]["command"]
    at = command.index("--items-file")
    assert command[at + 1] == "/tmp/magnus-items.json"
    node = templates["magnus-node-map"]["container"]["command"]
    at = node.index("--map-variable")
    assert node[at + 1] == "{{inputs.parameters.map-variable}}"
    # re-runs: the use_cached workflow argument reaches every container
    assert node[-5:-3] == ["--use-cached", "{{workflow.parameters.use_cached}}"]
    # positionals last, after "--": a step named "-x" is never read as an option
    assert node[-3:] == ["--", RUN_ID, "{{inputs.parameters.name}}"]
    # the run id: the run_id workflow argument, else the workflow's name
    assert RUN_ID == (
        "{{=workflow.parameters.run_id == '' ? workflow.name : workflow.parameters.run_id}}"
    )
    # a handful of shared templates, not one per step
    assert len(templates) <= 8


def test_size_1000_steps_under_200_kib() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from render_argo import chain_pipeline
    finally:
        sys.path.remove(str(ROOT / "bench"))
    pipeline = load_pipeline_text(chain_pipeline(1000), "big.yaml")
    doc = ArgoRenderer(pipeline, argo_config(), RenderOptions("big.yaml", image="i")).build()
    size = len(json.dumps(doc, separators=(",", ":")).encode())
    assert size < 200 * 1024, size


def test_one_graph_over_1_mib_is_cut_into_segments() -> None:
    """Once refused; now split (routing: tests/test_argo_segments.py)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from render_argo import chain_pipeline
    finally:
        sys.path.remove(str(ROOT / "bench"))
    pipeline = load_pipeline_text(chain_pipeline(8000), "huge.yaml")
    renderer = ArgoRenderer(pipeline, argo_config(), RenderOptions("huge.yaml", image="i"))
    docs = renderer.documents()
    assert [d["kind"] for d in docs][-2:] == ["WorkflowTemplate", "Workflow"]
    assert all(len(json.dumps(d, separators=(",", ":")).encode()) <= 1024 * 1024 for d in docs)


def test_cli_validate_finds_schema_and_prints(tmp_path: Path) -> None:
    out = tmp_path / "wf.yaml"
    proc = subprocess.run(
        [
            sys.executable, "-c", "from magnus_render.cli import render_main; render_main()",
            "samples/map.yaml", "--target", "argo", "--validate", "--image", IMAGE,
            "-c", CONFIG, "--output", str(out),
        ],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "schema not found" not in proc.stderr
    assert out.read_text(encoding="utf-8") == render("map")


def test_validate_raises_on_a_broken_spec() -> None:
    pipeline = load_pipeline(SAMPLES / "map.yaml")
    renderer = ArgoRenderer(pipeline, argo_config(), RenderOptions("samples/map.yaml"))
    text = renderer.render().text.replace("depends: chunk.Succeeded", "depends: chunk.Suceeded")
    with pytest.raises(MagnusError, match="unknown task result 'Suceeded'"):
        renderer.validate(text)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from magnus_render.cli import render_main; render_main()", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_kinds() -> None:
    proc = _cli("samples/hello.yaml", "-t", "argo", "--image", IMAGE, "--kind", "CronWorkflow",
                "--schedule", "0 3 * * *", "--timezone", "UTC", "-c", CONFIG)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = yaml.safe_load(proc.stdout)
    assert doc["kind"] == "CronWorkflow" and doc["spec"]["schedules"] == ["0 3 * * *"]
    assert doc["metadata"] == {"name": "hello"}
    bad = _cli("samples/hello.yaml", "-t", "argo", "--kind", "CronWorkflow")
    assert bad.returncode == 2 and "needs --schedule" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("schedule", "timezone", "problem"),
    [
        ("0 3 * *", None, "expected 5 fields"),
        ("0 24 * * *", None, "hour field '24': 24 is outside 0-23"),
        ("0 3 * * MON-SUN-1", None, "day-of-week field"),
        ("*/0 * * * *", None, "step '0' must be a positive number"),
        ("@fortnightly", None, "unknown macro"),
        ("0 3 * * *", "Europe/Atlantis", "unknown timezone"),
    ],
)
def test_bad_cron_schedule_is_refused_naming_the_flag(
    schedule: str, timezone: str | None, problem: str
) -> None:
    extra = {"kind": "CronWorkflow", "schedule": schedule, "timezone": timezone}
    with pytest.raises(MagnusError, match=r"--schedule|--timezone") as caught:
        render("hello", **extra)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    "schedule", ["@hourly", "@every 1h30m", "*/15 9-17 1,15 JAN-MAR mon-fri", "0 0 ? * 0"]
)
def test_good_cron_schedules_render(schedule: str) -> None:
    docs = docs_of(render("hello", kind="CronWorkflow", schedule=schedule, timezone="UTC"))
    assert docs[0]["spec"]["schedules"] == [schedule]
