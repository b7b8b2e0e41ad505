"""Size limits of the front end: long chains load (no recursion), deep branch nesting is
refused with a clear message, and the work stays linear in the number of steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from magnus_render.errors import PipelineError
from magnus_render.pipeline import load_pipeline
from magnus_render.pipeline.build import MAX_NESTING

TERMINALS = ["    success:", "      type: success", "    fail:", "      type: fail"]


def linear(path: Path, count: int, *, loop: bool = False) -> Path:
    lines = ["dag:", "  start_at: s0", "  steps:"]
    for i in range(count):
        following = f"s{(i + 1) % count}" if loop else f"s{i + 1}"
        if i == count - 1 and not loop:
            following = "success"
        lines += [
            f"    s{i}:",
            "      type: task",
            "      command: m.f",
            f"      next: {following}",
        ]
    path.write_text("\n".join([*lines, *TERMINALS]) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_100k_step_linear_pipeline_loads(tmp_path: Path) -> None:
    pipeline = load_pipeline(linear(tmp_path / "long.yaml", 100_000))
    assert len(pipeline.graph) == 100_002
    assert pipeline.warnings == ()
    last = pipeline.graph.find("s99999")
    assert last.next_node == "success" and last.source is not None
    assert last.source.line == 3 + 4 * 99_999 + 1


@pytest.mark.slow
def test_a_100k_step_cycle_is_reported_not_a_recursion_error(tmp_path: Path) -> None:
    with pytest.raises(PipelineError) as info:
        load_pipeline(linear(tmp_path / "loop.yaml", 100_000, loop=True))
    [diagnostic] = info.value.diagnostics
    assert diagnostic.message.startswith("cycle in the pipeline: s0 -> s1 -> ")
    assert diagnostic.line == 3 + 4 * 100_000  # the `next: s0` of the last step


def nested_parallels(depth: int) -> str:
    """``depth`` parallel steps, each the only body step of the branch above it."""
    lines = ["dag:"]
    indent = "  "
    for level in range(depth):
        lines += [
            f"{indent}start_at: p{level}",
            f"{indent}steps:",
            f"{indent}  p{level}:",
            f"{indent}    type: parallel",
            f"{indent}    next: success",
            f"{indent}    branches:",
            f"{indent}      b:",
        ]
        indent += "        "
    lines += [f"{indent}start_at: success", f"{indent}steps:"]
    for level in range(depth + 1):
        pad = "  " + "        " * (depth - level)
        lines += [f"{pad}  success: {{type: success}}", f"{pad}  fail: {{type: fail}}"]
    return "\n".join(lines) + "\n"


def test_branches_nested_to_the_limit_load(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(nested_parallels(MAX_NESTING), encoding="utf-8")
    graph = load_pipeline(path).graph
    deepest = max(graph.walk(), key=lambda n: n.internal_name.count("."))
    assert deepest.internal_name.count(".") == 2 * MAX_NESTING


def test_branches_nested_past_the_limit_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "deeper.yaml"
    path.write_text(nested_parallels(MAX_NESTING + 1), encoding="utf-8")
    with pytest.raises(PipelineError) as info:
        load_pipeline(path)
    messages = [d.message for d in info.value.diagnostics]
    assert messages == [f"branches nested more than {MAX_NESTING} levels deep"]
    assert info.value.diagnostics[0].line is not None
