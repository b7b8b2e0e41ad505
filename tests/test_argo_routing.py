"""Routing under Argo's rules, with a recording stand-in for ``magnus`` (fast, no runtime):
which containers run in which order, with which words, and the workflow's final phase.

The real runtime is exercised by test_argo_conformance.py; here a test chooses each
node's exit code, so failure paths (a failing map, a failing branch, a fan-out that
cannot start) are covered without writing pipelines that fail in those ways.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from magnus_render.pipeline import load_pipeline
from magnus_render.renderers.argo import ArgoRenderer
from magnus_render.renderers.base import RenderOptions
from tests.argo_player import Play, Player, evaluate_depends
from tests.conftest import SAMPLES
from tests.helpers.shared_stores import argo_config

RECORDER = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["REC_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(args) + "\\n")
name = args[-1]  # positionals last, after --
if args[0] == "fan" and "--items-file" in args:
    items = json.loads(os.environ.get("REC_ITEMS", "{{}}")).get(name, [])
    with open(args[args.index("--items-file") + 1], "w", encoding="utf-8") as out:
        json.dump(items, out)
mode = args[args.index("--mode") + 1] if "--mode" in args else ""
key = name if args[0] == "execute_single_node" else mode + ":" + name
sys.exit(json.loads(os.environ.get("REC_CODES", "{{}}")).get(key, 0))
"""


def doc_of(sample: str) -> dict[str, Any]:
    pipeline = load_pipeline(SAMPLES / f"{sample}.yaml")
    options = RenderOptions(pipeline_file=f"samples/{sample}.yaml", image="i")
    return yaml.safe_load(ArgoRenderer(pipeline, argo_config(), options).render().text)


def play(
    tmp_path: Path,
    doc: dict[str, Any],
    codes: dict[str, int] | None = None,
    items: dict[str, list[str]] | None = None,
    library: list[dict[str, Any]] | None = None,
) -> tuple[Play, list[list[str]]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "magnus"
    shim.write_text(RECORDER.format(python=sys.executable), encoding="utf-8")
    shim.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    log.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "REC_LOG": str(log),
        "REC_CODES": json.dumps(codes or {}),
        "REC_ITEMS": json.dumps(items or {}),
    }
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    result = Player(doc, work, env, workflow_name="wf-1", library=library or ()).run()
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return result, calls


def names(calls: list[list[str]]) -> list[str]:
    return [
        c[-1] if c[0] == "execute_single_node" else f"{c[c.index('--mode') + 1]}:{c[-1]}"
        for c in calls
    ]


def test_linear_success(tmp_path: Path) -> None:
    result, calls = play(tmp_path, doc_of("hello"))
    assert result.phase == "Succeeded"
    assert names(calls) == ["initialize", "double", "train", "report", "success"]
    assert calls[0] == [
        "execute_single_node", "--file", "samples/hello.yaml", "--use-cached", "",
        "--", "wf-1", "initialize",
    ]  # fmt: skip


def test_failure_without_on_failure_ends_failed(tmp_path: Path) -> None:
    result, calls = play(tmp_path, doc_of("hello"), codes={"double": 1})
    assert names(calls) == ["initialize", "double", "fail"]
    assert result.phase == "Failed"


def test_handled_failure_ends_succeeded(tmp_path: Path) -> None:
    result, calls = play(tmp_path, doc_of("on_failure"), codes={"risky": 1})
    assert names(calls) == ["risky", "recover", "success"]
    assert result.phase == "Succeeded"


def test_without_the_omitted_guard_argo_would_report_failed(tmp_path: Path) -> None:
    """Why success also depends on fail.Omitted: Argo's omitted leaves inherit failures."""
    doc = doc_of("on_failure")
    for task in doc["spec"]["templates"][0]["dag"]["tasks"]:
        if task["name"] == "success":
            task["depends"] = task["depends"].replace(" && fail.Omitted", "")
    result, _ = play(tmp_path, doc, codes={"risky": 1})
    assert result.phase == "Failed"  # the spurious outcome the guard prevents


def test_failing_recovery_reaches_fail(tmp_path: Path) -> None:
    result, calls = play(tmp_path, doc_of("on_failure"), codes={"risky": 1, "recover": 1})
    assert names(calls) == ["risky", "recover", "fail"]
    assert result.phase == "Failed"


MAP_ITEMS = {"each": ['{"chunk": "a"}', '{"chunk": "b"}']}


def test_map_items_passed_verbatim_and_fan_in_after_all(tmp_path: Path) -> None:
    result, calls = play(tmp_path, doc_of("map"), items=MAP_ITEMS)
    assert result.phase == "Succeeded"
    assert names(calls) == [
        "chunk",
        "out:each",
        "each.{map}.process",
        "each.{map}.success",
        "each.{map}.process",
        "each.{map}.success",
        "in:each",
        "summarize",
        "success",
    ]
    assert calls[2][-7:-5] == ["--map-variable", '{"chunk": "a"}']
    assert calls[4][-7:-5] == ["--map-variable", '{"chunk": "b"}']


def test_failing_iteration_still_fans_in_and_fan_in_decides(tmp_path: Path) -> None:
    codes = {"each.{map}.process": 1, "in:each": 1}
    result, calls = play(tmp_path, doc_of("map"), codes=codes, items=MAP_ITEMS)
    assert names(calls)[-2:] == ["in:each", "fail"]
    assert names(calls).count("each.{map}.fail") == 2
    assert result.phase == "Failed"


def test_fan_in_success_overrides_failed_branches(tmp_path: Path) -> None:
    codes = {"each.{map}.process": 1}  # branches fail, but the fan-in says the step succeeded
    result, calls = play(tmp_path, doc_of("map"), codes=codes, items=MAP_ITEMS)
    assert names(calls)[-3:] == ["in:each", "summarize", "success"]
    assert result.phase == "Succeeded"


def test_fan_out_failure_routes_to_fail(tmp_path: Path) -> None:
    result, calls = play(tmp_path, doc_of("map"), codes={"out:each": 1})
    assert names(calls) == ["chunk", "out:each", "fail"]
    assert result.phase == "Failed"


def test_empty_map_fans_in(tmp_path: Path) -> None:
    result, calls = play(tmp_path, doc_of("map"), items={"each": []})
    assert names(calls) == ["chunk", "out:each", "in:each", "summarize", "success"]
    assert result.phase == "Succeeded"


def test_parallel_branches_then_fan_in(tmp_path: Path) -> None:
    result, calls = play(tmp_path, doc_of("parallel"), codes={"both.python_branch.double": 1})
    got = names(calls)
    assert got[:2] == ["initialize", "out:both"]
    assert "both.python_branch.fail" in got and "both.shell_branch.success" in got
    assert got[-3:] == ["in:both", "report", "success"]
    assert result.phase == "Succeeded"


def test_nested_map_variables_flow_inwards(tmp_path: Path) -> None:
    items = {
        "regions": ['{"region": "eu"}'],
        "regions.{map}.work.fitting.seeds": ['{"region": "eu", "seed": 1}'],
        "regions.{map}.work.evaluation.seeds": ['{"region": "eu", "seed": 1}'],
    }
    result, calls = play(tmp_path, doc_of("nested"), items=items)
    assert result.phase == "Succeeded"
    fit = next(c for c in calls if c[-1].endswith(".fit"))
    assert fit[-7:-5] == ["--map-variable", '{"region": "eu", "seed": 1}']
    inner_out = next(c for c in calls if c[-1] == "regions.{map}.work.fitting.seeds")
    assert inner_out[-9:-7] == ["--map-variable", '{"region": "eu"}']


@pytest.mark.parametrize(
    ("expression", "phases", "expected"),
    [
        ("a.Succeeded", {"a": "Succeeded"}, True),
        ("a.Failed || a.Errored", {"a": "Error"}, True),
        (
            "(a.Succeeded || b.Succeeded) && c.Omitted",
            {"a": "Omitted", "b": "Succeeded", "c": "Omitted"},
            True,
        ),
        (
            "(a.Succeeded || b.Succeeded) && c.Omitted",
            {"a": "Succeeded", "b": "Omitted", "c": "Failed"},
            False,
        ),
        ("!a.Failed", {"a": "Succeeded"}, True),
        ("a", {"a": "Skipped"}, True),
    ],
)
def test_player_depends_language(expression: str, phases: dict[str, str], expected: bool) -> None:
    assert evaluate_depends(expression, phases) is expected


# -- over the size limit: branches move into WorkflowTemplates ----------------------------------
class SmallLimit(ArgoRenderer):
    max_object_bytes = 6 * 1024


def split_docs(sample: str) -> list[dict[str, Any]]:
    pipeline = load_pipeline(SAMPLES / f"{sample}.yaml")
    options = RenderOptions(pipeline_file=f"samples/{sample}.yaml", image="i")
    result = SmallLimit(pipeline, argo_config(), options).render()
    assert any("WorkflowTemplates" in w for w in result.warnings)
    return list(yaml.safe_load_all(result.text))


def test_split_spec_is_valid_and_small() -> None:
    from magnus_render.renderers.argo.split import compact_size
    from magnus_render.renderers.argo.validate import (
        SHIPPED_SCHEMAS,
        schema_files_in,
        validate_documents,
    )

    docs = split_docs("nested")
    kinds = [d["kind"] for d in docs]
    assert kinds[-1] == "Workflow" and set(kinds[:-1]) == {"WorkflowTemplate"}
    assert all(compact_size(d) <= SmallLimit.max_object_bytes for d in docs)
    assert validate_documents(docs, schema_files_in(SHIPPED_SCHEMAS)) == []
    refs = [t for t in docs[-1]["spec"]["templates"][0]["dag"]["tasks"] if "templateRef" in t]
    library = {d["metadata"]["name"] for d in docs[:-1]}
    assert refs and all(r["templateRef"]["name"] in library for r in refs)


def test_split_spec_plays_like_the_single_document(tmp_path: Path) -> None:
    items = {
        "regions": ['{"region": "eu"}', '{"region": "us"}'],
        "regions.{map}.work.fitting.seeds": ['{"seed": 1}'],
        "regions.{map}.work.evaluation.seeds": ['{"seed": 2}'],
    }
    codes = {"regions.{map}.work.evaluation.seeds.{map}.evaluate": 1, "in:regions": 1}
    whole, whole_calls = play(tmp_path / "whole", doc_of("nested"), codes, items)
    docs = split_docs("nested")
    library = [d for d in docs if d["kind"] == "WorkflowTemplate"]
    (tmp_path / "split").mkdir()
    parts, part_calls = play(tmp_path / "split", docs[-1], codes, items, library)
    assert parts.phase == whole.phase == "Failed"

    def words(calls: list[list[str]]) -> list[list[str]]:  # pod directories differ
        return [[w for i, w in enumerate(c) if i == 0 or c[i - 1] != "--items-file"] for c in calls]

    assert words(part_calls) == words(whole_calls)
