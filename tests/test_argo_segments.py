"""One graph over the object limit: its DAG is cut into segments (WorkflowTemplates).

A small object limit (a subclass with a lower ``max_object_bytes``) forces the split on
pipelines of ~60 steps. The split spec must validate (official Argo schemas and the
cross-reference checks), keep every object under the limit, and play exactly like the
unsplit spec: the same containers in the same order and the same workflow phase, for
success, unhandled failures and ``on_failure`` jumps across segments; with the real
runtime, the played run log equals ``magnus execute``'s.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from magnus_render.errors import UnsupportedError
from magnus_render.pipeline import load_pipeline_text
from magnus_render.renderers.argo import ArgoRenderer
from magnus_render.renderers.argo.split import compact_size
from magnus_render.renderers.argo.validate import (
    SHIPPED_SCHEMAS,
    schema_files_in,
    validate_documents,
)
from magnus_render.renderers.base import RenderOptions
from tests.argo_player import (
    PlayerError,
    evaluate_expression,
    evaluate_when,
    magnus_shim,
    play_workflow,
)
from tests.helpers.runlog import (
    execute_in_process,
    load_run_log,
    magnus_env,
    normalize,
    prepare_workdir,
)
from tests.helpers.shared_stores import s3_config
from tests.test_argo_routing import names, play

LIMIT = 6 * 1024


class SmallLimit(ArgoRenderer):
    max_object_bytes = LIMIT


def chain(steps: int, jumps: dict[int, int] | None = None, failing: tuple[int, ...] = ()) -> str:
    """``steps`` shell tasks s0 -> s1 -> ...; ``jumps`` adds on_failure edges (i -> j);
    the steps in ``failing`` exit 1."""
    lines = ["dag:", "  start_at: s0", "  steps:"]
    for i in range(steps):
        lines += [
            f"    s{i}:",
            "      type: task",
            "      command_type: shell",
            f"      command: {'exit 1' if i in failing else 'echo ok'}",
            f"      next: {f's{i + 1}' if i + 1 < steps else 'success'}",
        ]
        if jumps and i in jumps:
            lines.append(f"      on_failure: s{jumps[i]}")
    lines += ["    success:", "      type: success", "    fail:", "      type: fail"]
    return "\n".join(lines) + "\n"


def render(text: str, renderer: type[ArgoRenderer] = SmallLimit) -> list[dict[str, Any]]:
    pipeline = load_pipeline_text(text, "long.yaml")
    options = RenderOptions(pipeline_file="long.yaml", image="magnus:test")
    return list(yaml.safe_load_all(renderer(pipeline, s3_config(), options).render().text))


def segment_of(docs: list[dict[str, Any]], task: str) -> str:
    """The WorkflowTemplate whose segment runs ``task``."""
    for doc in docs[:-1]:
        if any(t["name"] == task for t in doc["spec"]["templates"][0]["dag"]["tasks"]):
            return doc["metadata"]["name"]
    raise AssertionError(f"{task} is in no segment")


JUMPS = {3: 50, 20: 45}


def test_split_is_valid_small_and_deterministic() -> None:
    text = chain(60, JUMPS)
    docs = render(text)
    assert [d["kind"] for d in docs[:-1]] == ["WorkflowTemplate"] * (len(docs) - 1)
    assert docs[-1]["kind"] == "Workflow" and len(docs) >= 4
    assert all(compact_size(d) <= LIMIT for d in docs)
    assert validate_documents(docs, schema_files_in(SHIPPED_SCHEMAS)) == []
    # the on_failure jumps and the fail routing really cross segments
    assert segment_of(docs, "s3") != segment_of(docs, "s50")
    assert segment_of(docs, "s20") != segment_of(docs, "s45")
    router = {t["name"] for t in docs[-1]["spec"]["templates"][0]["dag"]["tasks"]}
    assert {"fail", "success"} <= router
    assert render(text) == docs


@pytest.mark.parametrize(
    ("codes", "phase"),
    [
        ({}, "Succeeded"),
        ({"s30": 1}, "Failed"),  # unhandled failure mid-way: the fail node
        ({"s3": 1}, "Succeeded"),  # on_failure jump across segments, then success
        ({"s3": 1, "s50": 1}, "Failed"),  # the jump target fails too
        ({"s20": 1, "s46": 1}, "Failed"),  # a jump, then a failure in the last segment
        ({"s59": 1}, "Failed"),  # the very last step
        ({"s0": 1}, "Failed"),  # the first step
    ],
)
def test_split_plays_like_the_unsplit_spec(
    tmp_path: Path, codes: dict[str, int], phase: str
) -> None:
    text = chain(60, JUMPS)
    whole, whole_calls = play(tmp_path / "whole", render(text, ArgoRenderer)[0], codes)
    docs = render(text)
    parts, part_calls = play(tmp_path / "split", docs[-1], codes, library=docs[:-1])
    assert names(part_calls) == names(whole_calls)
    assert parts.phase == whole.phase == phase


def test_cuts_around_a_map_play_like_the_unsplit_spec(tmp_path: Path) -> None:
    """A map inside a long chain. Its iterations read the fan-out's output, so no cut
    between those; cuts just before the fan-out and between the iterations and the fan-in
    are legal and route exactly (limits chosen so that each case happens)."""
    text = chain(40).replace(
        "    s20:\n      type: task\n      command_type: shell\n      command: echo ok\n",
        "    s20:\n      type: map\n      iterate_on: xs\n      iterate_as: x\n"
        "      branch:\n        start_at: inner\n        steps:\n"
        "          inner:\n            type: task\n            command_type: shell\n"
        "            command: echo ok\n            next: success\n"
        "          success:\n            type: success\n          fail:\n            type: fail\n",
    )
    wanted: dict[str, list[dict[str, Any]]] = {}
    for limit in range(3400, 9000, 50):  # below 3400 the fan-out block cannot fit
        docs = render(text, type("Limited", (ArgoRenderer,), {"max_object_bytes": limit}))
        if not any(d["metadata"]["name"].startswith("long-part-") for d in docs[:-1]):
            continue  # the main DAG fits once the map's branch has moved out
        out, each, fan_in = (segment_of(docs, t) for t in ("s20-fan-out", "s20-iterations", "s20"))
        assert out == each
        first = next(d for d in docs[:-1] if d["metadata"]["name"] == out)
        if each != fan_in:
            wanted.setdefault("iterations | fan-in", docs)
        if first["spec"]["templates"][0]["dag"]["tasks"][0]["name"] == "s20-fan-out":
            wanted.setdefault("| fan-out", docs)
    assert set(wanted) == {"iterations | fan-in", "| fan-out"}
    items = {"s20": ['{"x": 1}', '{"x": 2}']}
    whole_doc = render(text, ArgoRenderer)[0]
    for docs in wanted.values():
        assert validate_documents(docs, schema_files_in(SHIPPED_SCHEMAS)) == []
        for codes in ({}, {"s20.{map}.inner": 1, "in:s20": 1}, {"out:s20": 1}):
            whole, whole_calls = play(tmp_path / "w", whole_doc, codes, items)
            parts, part_calls = play(tmp_path / "s", docs[-1], codes, items, library=docs[:-1])
            assert words(part_calls) == words(whole_calls)
            assert parts.phase == whole.phase


def words(calls: list[list[str]]) -> list[list[str]]:
    """The containers' words, without the pods' own items-file paths."""
    return [[w for i, w in enumerate(c) if i == 0 or c[i - 1] != "--items-file"] for c in calls]


def indent(text: str, pad: str) -> str:
    return "".join(pad + line + "\n" for line in text.splitlines())


def test_long_map_branch_is_split_and_gets_the_map_variable(tmp_path: Path) -> None:
    """A branch DAG (moved into its own WorkflowTemplate) still too big is cut in turn;
    each segment receives the map variable."""
    branch = chain(50, {5: 40}).replace("dag:\n", "")
    text = (
        "dag:\n  start_at: each\n  steps:\n    each:\n      type: map\n"
        "      iterate_on: xs\n      iterate_as: x\n      next: success\n      branch:\n"
        + indent(branch, "      ")
        + "    success:\n      type: success\n    fail:\n      type: fail\n"
    )
    docs = render(text)
    assert all(compact_size(d) <= LIMIT for d in docs)
    assert validate_documents(docs, schema_files_in(SHIPPED_SCHEMAS)) == []
    segments = [d for d in docs[:-1] if d["metadata"]["name"].endswith(("-part-1", "-part-2"))]
    assert len(segments) == 2
    for doc in segments:
        inputs = doc["spec"]["templates"][0]["inputs"]["parameters"]
        assert {"name": "map-variable"} in inputs
    items = {"each": ['{"x": 1}', '{"x": 2}']}
    for codes in ({}, {"each.{map}.s5": 1}, {"each.{map}.s5": 1, "each.{map}.s40": 1}):
        whole, whole_calls = play(tmp_path / "w", render(text, ArgoRenderer)[0], codes, items)
        wts = docs[:-1]
        parts, part_calls = play(tmp_path / "s", docs[-1], codes, items, library=wts)
        assert words(part_calls) == words(whole_calls)
        assert parts.phase == whole.phase


@pytest.mark.parametrize("kind", ["WorkflowTemplate", "CronWorkflow"])
def test_other_kinds_split_too(kind: str) -> None:
    pipeline = load_pipeline_text(chain(60, JUMPS), "long.yaml")
    extra = {"kind": kind, "schedule": "0 * * * *" if kind == "CronWorkflow" else None}
    options = RenderOptions(pipeline_file="long.yaml", image="magnus:test", extra=extra)
    docs = list(yaml.safe_load_all(SmallLimit(pipeline, s3_config(), options).render().text))
    assert docs[-1]["kind"] == kind and len(docs) >= 3
    assert all(compact_size(d) <= LIMIT for d in docs)
    assert validate_documents(docs, schema_files_in(SHIPPED_SCHEMAS)) == []


def test_ten_thousand_steps_fit_in_objects_under_one_mib() -> None:
    from bench.render_argo import chain_pipeline

    docs = render(chain_pipeline(10_000), ArgoRenderer)
    assert len(docs) >= 3 and docs[-1]["kind"] == "Workflow"
    assert all(compact_size(d) <= 1024 * 1024 for d in docs)
    assert validate_documents(docs, []) == []  # cross-references (schemas: above, smaller)
    tasks = [t for d in docs[:-1] for t in d["spec"]["templates"][0]["dag"]["tasks"]]
    assert len(tasks) == 10_000


def test_too_small_a_limit_is_a_clear_error() -> None:
    class Tiny(ArgoRenderer):
        max_object_bytes = 1500  # less than the shared container templates need

    with pytest.raises(UnsupportedError, match="over Kubernetes' 1 KiB object limit"):
        render(chain(20), Tiny)


@pytest.mark.parametrize(("failing", "exit_code"), [((3, 55), 1), ((3,), 0)])
def test_played_split_workflow_matches_local_run(
    tmp_path: Path, failing: tuple[int, ...], exit_code: int
) -> None:
    """The real runtime: s3 fails and jumps to s50 (another segment); s55, when it fails,
    has no on_failure: the fail node (in the router) ends the run Failed."""
    text = chain(60, {3: 50}, failing=failing)
    for name in ("local", "argo"):
        (prepare_workdir(tmp_path / name) / "long.yaml").write_text(text, encoding="utf-8")
    code, local = execute_in_process("long.yaml", tmp_path / "local", "local-run")
    assert code == exit_code
    docs = render(text)
    assert segment_of(docs, "s3") != segment_of(docs, "s50")
    bin_dir = magnus_shim(tmp_path / "bin", sys.executable)
    env = magnus_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    result = play_workflow(docs, tmp_path / "argo", env, workflow_name="argo-play")
    assert result.phase == ("Succeeded" if code == 0 else "Failed"), result.pods
    assert normalize(load_run_log(tmp_path / "argo", "argo-play")) == normalize(local)


# -- the player's model of when and DAG outputs ---------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'true' == 'true'", True),
        ("'false' == 'true' || 'Failed' == 'Failed'", True),
        ("'a' == 'a' && 'b' != 'b'", False),
        ("heads == heads", True),  # Argo reads bare words as strings
        ("!('x' == 'y')", True),
    ],
)
def test_player_when(text: str, expected: bool) -> None:
    assert evaluate_when(text) is expected


def test_player_expression() -> None:
    scope = {"tasks.a-1.status": "Error", "tasks.b.status": "Skipped"}
    test = "(tasks['a-1'].status in ['Failed', 'Error'] || tasks['b'].status == 'x')"
    assert evaluate_expression(f"{test} ? 'true' : 'false'", scope) == "true"
    assert evaluate_expression("tasks['b'].status == 'Omitted' ? 'y' : 'n'", scope) == "n"
    with pytest.raises(PlayerError, match="not in the scope"):
        evaluate_expression("tasks['c'].status == 'Failed'", scope)


def test_tasks_that_must_stay_together_over_the_budget_are_refused() -> None:
    """A task reading another's output (a map's items) cannot be cut from it."""
    from magnus_render.renderers.argo.segments import Dag, plan

    tasks = [
        {"name": "out", "template": "t"},
        {
            "name": "each",
            "template": "t",
            "depends": "out.Succeeded",
            "withParam": "{{tasks.out.outputs.parameters.items}}",
        },
        {"name": "after", "template": "t", "depends": "each.Succeeded"},
    ]
    dag = Dag(tasks)
    assert plan(dag, ["out", "each", "after"], 250) == [["out", "each"], ["after"]]
    with pytest.raises(UnsupportedError, match="from 'out' to 'each' must stay in one object"):
        plan(dag, ["out", "each", "after"], 150)


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("a.Succeeded", [[("a", "Succeeded")]]),
        ("a.Failed || a.Errored", [[("a", "Failed"), ("a", "Errored")]]),
        ("(a.Succeeded) && fail.Omitted", [[("a", "Succeeded")], [("fail", "Omitted")]]),
        (
            "(b.Succeeded || b.Skipped) && (c.Failed)",
            [[("b", "Succeeded"), ("b", "Skipped")], [("c", "Failed")]],
        ),
        ("a", None),  # bare names, negation and nesting are left alone (never cut across)
        ("!a.Failed", None),
        ("(a.Succeeded && b.Succeeded) || c.Failed", None),
    ],
)
def test_depends_shapes(text: str, terms: Any) -> None:
    from magnus_render.renderers.argo.segments import parse_depends

    assert parse_depends(text) == terms
