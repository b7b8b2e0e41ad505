"""Every validation error of the front end: its message and the line it points at.

Each case is a small pipeline with the fault on a known line; the assertions pin both the
wording a user reads and the file:line it names, so a message that drifts to the wrong
line fails here. A few cases also go through the real `magnus validate` process to prove
exit code 2, the file:line prefix and the absence of a traceback.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from magnus_render.errors import PipelineError
from magnus_render.pipeline import load_pipeline

TERMINALS = """\
    success:
      type: success
    fail:
      type: fail
"""


def write(tmp_path: Path, text: str, name: str = "pipeline.yaml") -> Path:
    """Dedent ``text`` (a trailing TERMINALS stays as it is) and write it to ``name``."""
    tail = TERMINALS if text.endswith(TERMINALS) else ""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text[: len(text) - len(tail)]) + tail, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[tuple[int | None, str]]:
    with pytest.raises(PipelineError) as info:
        load_pipeline(path)
    for diagnostic in info.value.diagnostics:
        assert diagnostic.file == str(path) or diagnostic.file.endswith(path.name)
    return [(d.line, d.message) for d in info.value.diagnostics]


def assert_errors(path: Path, *expected: tuple[int, str]) -> None:
    """The errors are exactly ``expected``: (line, a fragment of the message), in order."""
    found = errors_of(path)
    assert len(found) == len(expected), found
    for (line, message), (want_line, fragment) in zip(found, expected, strict=True):
        assert fragment in message, found
        assert line == want_line, found


# name -> (pipeline text, [(line, message fragment), ...])
CASES: dict[str, tuple[str, list[tuple[int, str]]]] = {
    "yaml_syntax": (
        "dag:\n  start_at: a\n  steps: {a: [1, 2}\n",
        [(3, "YAML syntax error")],
    ),
    "missing_dag": (
        "description: no dag here\n",
        [
            (1, "unknown top-level key 'description' (a pipeline has only 'dag')"),
            (1, "missing top-level 'dag'"),
        ],
    ),
    "empty_file": ("", [(1, "a pipeline must be a mapping with a top-level 'dag', got empty")]),
    "dag_not_mapping": ("dag: [1]\n", [(1, "'dag' must be a mapping with start_at and steps")]),
    "top_level_typo": (
        "dga:\n  start_at: a\n",
        [(1, "unknown top-level key 'dga' (did you mean 'dag'?)"), (1, "missing top-level 'dag'")],
    ),
    "unknown_type": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: tsak
              command: m.f
              next: success
        """
        + TERMINALS,
        [(5, "step 'a': unknown node type 'tsak' (did you mean 'task'?)")],
    ),
    "unknown_field": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: task
              command: m.f
              next: success
              max_attempt: 3
        """
        + TERMINALS,
        [(8, "unknown field 'max_attempt' on task step 'a' (did you mean 'max_attempts'?)")],
    ),
    "unknown_graph_field": (
        """\
        dag:
          start_at: a
          stesp: {}
          steps:
            a:
              type: stub
              next: success
        """
        + TERMINALS,
        [(3, "unknown field 'stesp' in the pipeline (did you mean 'steps'?)")],
    ),
    "missing_type": (
        """\
        dag:
          start_at: a
          steps:
            a:
              command: m.f
              next: success
        """
        + TERMINALS,
        [(4, "step 'a' has no 'type'")],
    ),
    "missing_next": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: task
              command: m.f
        """
        + TERMINALS,
        [(4, "step 'a' has no 'next' (every non-terminal step needs one)")],
    ),
    "dangling_next": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: task
              command: m.f
              next: sucess
        """
        + TERMINALS,
        [
            (
                7,
                "step 'a': next names 'sucess', which is not a step of the pipeline "
                "(did you mean 'success'?)",
            )
        ],
    ),
    "dangling_on_failure": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: task
              command: m.f
              next: success
              on_failure: cleanup
        """
        + TERMINALS,
        [(8, "step 'a': on_failure names 'cleanup', which is not a step of the pipeline")],
    ),
    "missing_start_at_target": (
        """\
        dag:
          start_at: frist
          steps:
            first:
              type: stub
              next: success
        """
        + TERMINALS,
        [(2, "start_at names 'frist', which is not a step of the pipeline (did you mean")],
    ),
    "missing_start_at": (
        """\
        dag:
          steps:
            first:
              type: stub
              next: success
        """
        + TERMINALS,
        [(2, "the pipeline is missing 'start_at'")],
    ),
    "cycle": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: stub
              next: b
            b:
              type: stub
              next: c
            c:
              type: stub
              next: a
        """
        + TERMINALS,
        [(12, "cycle in the pipeline: a -> b -> c -> a (pipelines must be acyclic)")],
    ),
    "cycle_through_on_failure": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: stub
              next: b
            b:
              type: stub
              next: success
              on_failure: a
        """
        + TERMINALS,
        [(10, "cycle in the pipeline: a -> b -> a")],
    ),
    "two_success_nodes": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: stub
              next: done
            done:
              type: success
        """
        + TERMINALS,
        [(9, "the pipeline must have exactly one success node, found 2 (done, success)")],
    ),
    "no_fail_node": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: stub
              next: success
            success:
              type: success
        """,
        [(3, "the pipeline must have exactly one fail node, found none")],
    ),
    "branch_without_success": (
        """\
        dag:
          start_at: p
          steps:
            p:
              type: parallel
              next: success
              branches:
                left:
                  start_at: x
                  steps:
                    x:
                      type: stub
                      next: fail
                    fail:
                      type: fail
        """
        + TERMINALS,
        [(10, "branch 'left' of 'p' must have exactly one success node, found none")],
    ),
    "dot_in_name": (
        """\
        dag:
          start_at: a.b
          steps:
            a.b:
              type: stub
              next: success
        """
        + TERMINALS,
        [(4, "step name 'a.b' must not contain '.' (they separate parts of internal names)")],
    ),
    "percent_in_name": (
        """\
        dag:
          start_at: "50%"
          steps:
            "50%":
              type: stub
              next: success
        """
        + TERMINALS,
        [(4, "step name '50%' must not contain '%'")],
    ),
    "dot_in_branch_name": (
        """\
        dag:
          start_at: p
          steps:
            p:
              type: parallel
              next: success
              branches:
                v1.0:
                  start_at: x
                  steps:
                    x:
                      type: stub
                      next: success
                    success:
                      type: success
                    fail:
                      type: fail
        """
        + TERMINALS,
        [(8, "branch name 'v1.0' must not contain '.'")],
    ),
    "map_without_iterate_on": (
        """\
        dag:
          start_at: m
          steps:
            m:
              type: map
              iterate_as: x
              next: success
              branch:
                start_at: s
                steps:
                  s:
                    type: stub
                    next: success
                  success:
                    type: success
                  fail:
                    type: fail
        """
        + TERMINALS,
        [(4, "map step 'm' is missing required field 'iterate_on'")],
    ),
    "map_without_iterate_as": (
        """\
        dag:
          start_at: m
          steps:
            m:
              type: map
              iterate_on: xs
              next: success
              branch:
                start_at: s
                steps:
                  s:
                    type: stub
                    next: success
                  success:
                    type: success
                  fail:
                    type: fail
        """
        + TERMINALS,
        [(4, "map step 'm' is missing required field 'iterate_as'")],
    ),
    "map_iterate_as_not_a_name": (
        """\
        dag:
          start_at: m
          steps:
            m:
              type: map
              iterate_on: xs
              iterate_as: my-x
              next: success
              branch:
                start_at: s
                steps:
                  s:
                    type: stub
                    next: success
                  success:
                    type: success
                  fail:
                    type: fail
        """
        + TERMINALS,
        [(7, "map step 'm': iterate_as must be a parameter name, got 'my-x'")],
    ),
    "empty_branches": (
        """\
        dag:
          start_at: p
          steps:
            p:
              type: parallel
              next: success
              branches: {}
        """
        + TERMINALS,
        [(7, "parallel step 'p' has no branches")],
    ),
    "missing_branches": (
        """\
        dag:
          start_at: p
          steps:
            p:
              type: parallel
              next: success
        """
        + TERMINALS,
        [(4, "parallel step 'p' is missing required field 'branches'")],
    ),
    "empty_steps": (
        "dag:\n  start_at: a\n  steps: {}\n",
        [(3, "'steps' of the pipeline must be a non-empty mapping")],
    ),
    "missing_dag_definition_file": (
        """\
        dag:
          start_at: d
          steps:
            d:
              type: dag
              dag_definition: parts/missing.yaml
              next: success
        """
        + TERMINALS,
        [(6, "dag step 'd': dag_definition 'parts/missing.yaml' not found")],
    ),
    "python_command_not_dotted": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: task
              command: python train.py
              next: success
        """
        + TERMINALS,
        [(6, "a python command must be 'module.function', got 'python train.py'")],
    ),
    "wrong_value_type": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: task
              command: m.f
              max_attempts: many
              next: success
        """
        + TERMINALS,
        [(7, "field 'max_attempts': input should be a valid integer")],
    ),
    "duplicate_step": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: stub
              next: success
            a:
              type: stub
              next: success
        """
        + TERMINALS,
        [(7, "duplicate key 'a' (first defined on line 4)")],
    ),
    "duplicate_field": (
        """\
        dag:
          start_at: a
          steps:
            a:
              type: stub
              next: success
              next: fail
        """
        + TERMINALS,
        [(7, "duplicate key 'next' (first defined on line 6)")],
    ),
    "tab_indent": (
        "dag:\n  start_at: a\n\tsteps: {}\n",
        [(3, "a tab character where YAML allows only spaces")],
    ),
    "unsafe_tag": (
        "dag: !!python/object:os.system {}\n",
        [(1, "unsupported YAML tag '!!python/object:os.system'")],
    ),
    "two_documents": ("dag: {}\n---\ndag: {}\n", [(2, "expected one YAML document")]),
    "deep_nesting": (
        "dag:\n  description: " + "[" * 600 + "]" * 600 + "\n",
        [(2, "YAML nested more than 500 levels deep")],
    ),
    "billion_laughs": (
        "".join(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]\n"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ).replace("b: &b [*a", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a", 1),
        [(8, "aliases expand this document past 20,000,000 values: refusing it")],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_message_and_line(tmp_path: Path, case: str) -> None:
    text, expected = CASES[case]
    assert_errors(write(tmp_path, text), *expected)


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    import time

    started = time.perf_counter()
    errors_of(write(tmp_path, CASES["billion_laughs"][0]))
    assert time.perf_counter() - started < 2.0


def test_unreachable_step_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        dag:
          start_at: a
          steps:
            a:
              type: stub
              next: success
            orphan:
              type: stub
              next: success
        """
        + TERMINALS,
    )
    pipeline = load_pipeline(path)
    assert [(w.line, w.severity, w.message) for w in pipeline.warnings] == [
        (7, "warning", "step 'orphan' of the pipeline is unreachable from 'a'")
    ]


def test_include_cycle_names_the_chain(tmp_path: Path) -> None:
    body = """\
    dag:
      start_at: inc
      steps:
        inc:
          type: dag
          dag_definition: {target}
          next: success
    """
    write(tmp_path, body.format(target="b.yaml") + TERMINALS, "a.yaml")
    write(tmp_path, body.format(target="a.yaml") + TERMINALS, "b.yaml")
    with pytest.raises(PipelineError) as info:
        load_pipeline(tmp_path / "a.yaml")
    [diagnostic] = info.value.diagnostics
    assert diagnostic.file == str(tmp_path / "b.yaml")
    assert diagnostic.line == 6
    assert diagnostic.message == "dag step 'inc': include cycle a.yaml -> b.yaml -> a.yaml"


def test_errors_in_an_included_file_name_that_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        """\
        dag:
          start_at: d
          steps:
            d:
              type: dag
              dag_definition: sub/part.yaml
              next: success
        """
        + TERMINALS,
    )
    (tmp_path / "sub").mkdir()
    part = write(
        tmp_path / "sub", "dag:\n  start_at: x\n  steps:\n    x: {type: stub}\n", "part.yaml"
    )
    with pytest.raises(PipelineError) as info:
        load_pipeline(tmp_path / "pipeline.yaml")
    found = [(d.file, d.line, d.message) for d in info.value.diagnostics]
    assert (str(part), 4, "step 'x' has no 'next' (every non-terminal step needs one)") in found


def test_dag_definition_resolves_relative_to_the_including_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "dag:\n  start_at: success\n  steps:\n" + TERMINALS, "part.yaml")
    path = write(
        tmp_path,
        "dag:\n  start_at: d\n  steps:\n    d:\n      type: dag\n"
        "      dag_definition: sub/part.yaml\n      next: success\n" + TERMINALS,
    )
    monkeypatch.chdir(tmp_path / "sub")  # a cwd-relative lookup would find nothing here
    graph = load_pipeline(path).graph
    assert [n.internal_name for n in graph.walk()] == [
        "d",
        "d.dag.success",
        "d.dag.fail",
        "success",
        "fail",
    ]


def test_all_errors_are_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        dag:
          start_at: a
          steps:
            a:
              type: task
              command: m.f
              next: b
            b:
              type: stubb
              next: success
            c:
              type: task
              command: m.f
              next: nowhere
        """
        + TERMINALS,
    )
    assert_errors(
        path,
        (9, "unknown node type 'stubb'"),
        (14, "step 'c': next names 'nowhere'"),
    )


def test_a_broken_branch_does_not_hide_wiring_errors_around_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        dag:
          start_at: p
          steps:
            p:
              type: parallel
              next: finish
              branches:
                left:
                  start_at: x
                  steps:
                    x:
                      type: task
                      command: not a module
                      next: sucess
                    success:
                      type: success
                    fail:
                      type: fail
        """
        + TERMINALS,
    )
    assert_errors(
        path,
        (13, "a python command must be 'module.function'"),
        (14, "step 'x': next names 'sucess', which is not a step of branch 'left' of 'p'"),
        (6, "step 'p': next names 'finish', which is not a step of the pipeline"),
    )


def test_a_step_with_an_unknown_type_does_not_cascade(tmp_path: Path) -> None:
    """A misspelt terminal type is one error, not also 'no success node' or 'no next'."""
    path = write(
        tmp_path,
        """\
        dag:
          start_at: a
          steps:
            a:
              type: stub
              next: success
            success:
              type: sucess
            fail:
              type: fail
        """,
    )
    assert_errors(path, (8, "unknown node type 'sucess' (did you mean 'success'?)"))


def test_an_unknown_field_does_not_also_report_a_missing_next(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dag:\n  start_at: a\n  steps:\n    a:\n      type: stub\n      catalog: {got: [x]}\n"
        "      nxt: success\n" + TERMINALS,
    )
    assert_errors(
        path,
        (6, "unknown field 'catalog.got' on stub step 'a'"),
    )


def test_dangling_next_inside_a_map_branch_names_the_branch(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        dag:
          start_at: m
          steps:
            m:
              type: map
              iterate_on: xs
              iterate_as: x
              next: success
              branch:
                start_at: s
                steps:
                  s:
                    type: stub
                    next: done
                  success:
                    type: success
                  fail:
                    type: fail
        """
        + TERMINALS,
    )
    assert_errors(
        path, (14, "step 's': next names 'done', which is not a step of the branch of map 'm'")
    )


def test_a_long_cycle_is_found_without_recursion(tmp_path: Path) -> None:
    count = 5000
    lines = ["dag:", "  start_at: s0", "  steps:"]
    for i in range(count):
        lines += [f"    s{i}:", "      type: stub", f"      next: s{(i + 1) % count}"]
    path = tmp_path / "loop.yaml"
    path.write_text("\n".join(lines) + "\n" + TERMINALS)
    [(line, message)] = errors_of(path)
    assert message.startswith("cycle in the pipeline: s0 -> s1 -> s2 -> ")
    assert message.endswith(f"s{count - 1} -> s0 (pipelines must be acyclic)")
    assert line == 3 + 3 * count


# -- through the real command ---------------------------------------------------------------


def magnus(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "magnus_render.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


@pytest.mark.parametrize(
    "case",
    ["yaml_syntax", "unknown_type", "cycle", "missing_dag_definition_file", "billion_laughs"],
)
def test_validate_command_exits_2_with_file_and_line(tmp_path: Path, case: str) -> None:
    text, expected = CASES[case]
    path = write(tmp_path, text)
    result = magnus("validate", str(path))
    assert result.returncode == 2, result
    line, fragment = expected[0]
    assert f"{path}:{line}: " in result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_validate_command_prints_warnings_and_exits_0(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: success}\n"
        "    b: {type: stub, next: success}\n" + TERMINALS,
    )
    result = magnus("validate", str(path))
    assert result.returncode == 0, result.stderr
    assert f"{path}:5: warning: step 'b' of the pipeline is unreachable from 'a'" in result.stderr
    assert "valid (4 steps)" in result.stdout


def test_validate_command_on_a_missing_file(tmp_path: Path) -> None:
    result = magnus("validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "nope.yaml: file not found" in result.stderr
    assert "Traceback" not in result.stderr


# -- scalar values the YAML layer must refuse with a line (found by the adversarial suite) --

BAD_SCALARS = {
    "!!bool maybe": "invalid bool value 'maybe'",
    "9" * 5000: "invalid int value '999",
    "!!timestamp 2001-99-99": "unsupported YAML tag '!!timestamp'",
    "!!int zz": "invalid int value 'zz'",
    "!!float abc": "invalid float value 'abc'",
    "0x" + "f" * 5000: "input should be less than or equal to 1000 (got an integer of 20000 bits)",
    '"nul \x00 here"': "control characters are not allowed (found '\\x00')",
}


@pytest.mark.parametrize("value", sorted(BAD_SCALARS), ids=lambda v: v[:20])
def test_bad_scalar_values_are_refused_at_their_line(tmp_path: Path, value: str) -> None:
    path = write(
        tmp_path,
        "dag:\n  start_at: a\n  steps:\n    a:\n      type: task\n      command: m.f\n"
        f"      max_attempts: {value}\n      next: success\n" + TERMINALS,
    )
    assert_errors(path, (7, BAD_SCALARS[value]))


@pytest.mark.parametrize("where", ["dag", "branch"])
def test_null_start_at_is_refused(tmp_path: Path, where: str) -> None:
    branch_start = "~" if where == "branch" else "x"
    root_start = "~" if where == "dag" else "p"
    path = write(
        tmp_path,
        f"""\
        dag:
          start_at: {root_start}
          steps:
            p:
              type: parallel
              next: success
              branches:
                b:
                  start_at: {branch_start}
                  steps:
                    x: {{type: success}}
                    f: {{type: fail}}
        """
        + TERMINALS,
    )
    if where == "dag":
        assert_errors(path, (2, "start_at must name a step of the pipeline, got None"))
    else:
        assert_errors(path, (9, "start_at must name a step of branch 'b' of 'p', got None"))


def test_non_string_branch_name_is_reported_at_its_own_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        dag:
          start_at: p
          steps:
            p:
              type: parallel
              next: success
              branches:
                123:
                  start_at: x
                  steps:
                    x: {type: success}
                    f: {type: fail}
        """
        + TERMINALS,
    )
    assert_errors(path, (8, "parallel step 'p': 123 under 'branches' must be a string name"))


def test_a_misspelt_field_on_a_stub_is_a_warning_with_a_suggestion(tmp_path: Path) -> None:
    """Stubs take any extra key (as magnus does); one close to a real field is flagged."""
    path = write(
        tmp_path,
        "dag:\n  start_at: a\n  steps:\n    a:\n      type: stub\n      next: success\n"
        "      on_failur: fail\n      anything_else: 1\n" + TERMINALS,
    )
    pipeline = load_pipeline(path)
    assert [(w.line, w.message) for w in pipeline.warnings] == [
        (7, "stub step 'a' ignores field 'on_failur' (did you mean 'on_failure'?)")
    ]
    assert dict(pipeline.graph.nodes["a"].extras) == {"on_failur": "fail", "anything_else": 1}
