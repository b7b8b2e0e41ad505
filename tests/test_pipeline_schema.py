"""`magnus schema`: a valid Draft 2020-12 schema that every sample satisfies and that
refuses documents the loader refuses for their shape (editors flag the same mistakes)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

from magnus_render.pipeline.schema import pipeline_json_schema
from tests.conftest import SAMPLES
from tests.test_pipeline_roundtrip import GraphSpec, Writer, graph_specs

PIPELINE_FILES = sorted(p for p in SAMPLES.rglob("*.yaml") if "golden" not in p.parts)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = pipeline_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def errors(validator: Draft202012Validator, document: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(document)]


@pytest.mark.parametrize("path", PIPELINE_FILES, ids=lambda p: p.name)
def test_every_sample_validates(validator: Draft202012Validator, path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert errors(validator, document) == []


def test_samples_were_found() -> None:
    assert len(PIPELINE_FILES) >= 10


def step(**fields: Any) -> dict[str, Any]:
    return fields


def pipeline(steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"start_at": next(iter(steps)), "steps": steps, **extra}
    return {"dag": body}


TERMINALS = {"success": {"type": "success"}, "fail": {"type": "fail"}}
GOOD = pipeline({"a": step(type="task", command="m.f", next="success"), **TERMINALS})

INVALID = {
    "no dag": {"steps": {}},
    "extra top-level key": {**GOOD, "dga": {}},
    "unknown node type": pipeline({"a": step(type="tsak", command="m.f", next="success")}),
    "unknown task field": pipeline(
        {"a": step(type="task", command="m.f", next="success", nxt="x"), **TERMINALS}
    ),
    "task without command": pipeline({"a": step(type="task", next="success"), **TERMINALS}),
    "bad command_type": pipeline(
        {"a": step(type="task", command="x", command_type="java", next="s"), **TERMINALS}
    ),
    "max_attempts zero": pipeline(
        {"a": step(type="task", command="m.f", max_attempts=0, next="s"), **TERMINALS}
    ),
    "dot in step name": pipeline({"a.b": step(type="stub", next="success"), **TERMINALS}),
    "percent in step name": pipeline({"a%b": step(type="stub", next="success"), **TERMINALS}),
    "empty steps": {"dag": {"start_at": "a", "steps": {}}},
    "missing start_at": {"dag": {"steps": TERMINALS}},
    "map without iterate_as": pipeline(
        {
            "m": step(
                type="map",
                iterate_on="xs",
                next="success",
                branch={"start_at": "success", "steps": TERMINALS},
            ),
            **TERMINALS,
        }
    ),
    "parallel with empty branches": pipeline(
        {"p": step(type="parallel", next="success", branches={}), **TERMINALS}
    ),
    "branch with unknown key": pipeline(
        {
            "p": step(
                type="parallel",
                next="success",
                branches={"b": {"start_at": "success", "steps": TERMINALS, "stpes": {}}},
            ),
            **TERMINALS,
        }
    ),
    "success with a next": pipeline({"success": step(type="success", next="fail")}),
    "dag without definition": pipeline({"d": step(type="dag", next="success"), **TERMINALS}),
    "catalog typo": pipeline(
        {"a": step(type="task", command="m.f", catalog={"got": []}, next="s"), **TERMINALS}
    ),
}


def test_the_valid_base_document_validates(validator: Draft202012Validator) -> None:
    assert errors(validator, GOOD) == []


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_documents_are_refused(validator: Draft202012Validator, case: str) -> None:
    assert errors(validator, INVALID[case]), f"{case} should not validate"


def test_stub_allows_extra_keys_like_magnus(validator: Draft202012Validator) -> None:
    doc = pipeline({"a": step(type="stub", next="success", anything={"x": 1}), **TERMINALS})
    assert errors(validator, doc) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"render_string": "echo hi", "command": "never run"},
        {"render_string": {"shell": "echo hi", "default": "true"}},
        {"command_config": {"render_string": "echo hi"}},
        {},
    ],
)
def test_as_is_spellings_validate(validator: Draft202012Validator, fields: dict) -> None:
    doc = pipeline({"a": step(type="as-is", next="success", **fields), **TERMINALS})
    assert errors(validator, doc) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"render_string": "echo hi", "anything": 1},
        {"render_string": ""},
        {"render_string": {}},
        {"render_string": {"shell": 3}},
        {"command_config": {"render_string": "x", "other": 1}},
    ],
)
def test_as_is_refuses_unknown_keys_and_empty_text(
    validator: Draft202012Validator, fields: dict
) -> None:
    doc = pipeline({"a": step(type="as-is", next="success", **fields), **TERMINALS})
    assert errors(validator, doc)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=graph_specs())
def test_every_generated_valid_pipeline_validates(spec: GraphSpec) -> None:
    schema_validator = Draft202012Validator(pipeline_json_schema())
    with tempfile.TemporaryDirectory() as folder:
        document = {"dag": Writer(Path(folder), flow=False).graph(spec)}
    assert errors(schema_validator, document) == []


def test_cli_prints_the_schema_deterministically() -> None:
    runs = [
        subprocess.run(
            [sys.executable, "-m", "magnus_render.cli", "schema"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    assert json.loads(runs[0].stdout) == pipeline_json_schema()
