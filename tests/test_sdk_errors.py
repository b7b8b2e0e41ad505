"""SDK mistakes give the YAML front end's messages, pointing at the Python line that made
the bad step (or wrote the bad ``>>``)."""

from __future__ import annotations

import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from magnus_render.errors import PipelineError
from magnus_render.pipeline import load_pipeline_text
from tests.conftest import ROOT


def run_script(tmp_path: Path, body: str) -> PipelineError:
    """Run ``body`` as a user's pipeline.py; return the PipelineError it raises."""
    script = tmp_path / "pipeline.py"
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    with pytest.raises(PipelineError) as caught:
        runpy.run_path(str(script))
    return caught.value


def lines(error: PipelineError) -> list[tuple[str, int | None, str]]:
    return [(Path(d.file or "").name, d.line, d.message) for d in error.diagnostics]


HEADER = "from magnus_render.sdk import Catalog, Map, Parallel, Pipeline, Stub, Task\n"


def test_bad_fields_point_at_the_step_line(tmp_path: Path) -> None:
    error = run_script(
        tmp_path,
        HEADER
        + textwrap.dedent(
            """\
            a = Task(name="a", command="notdotted")
            b = Task(name="b", command="x.y", comand_type="shell", terminate_with_success=True)
            c = Stub(name="c", next="nowhere")
            a >> b
            Pipeline(steps=[a, b, c], start_at=a)
            """
        ),
    )
    assert lines(error) == [
        (
            "pipeline.py",
            2,
            "step 'a': a python command must be 'module.function', got 'notdotted'",
        ),
        (
            "pipeline.py",
            3,
            "unknown field 'comand_type' on task step 'b' (did you mean 'command_type'?)",
        ),
        ("pipeline.py", 4, "step 'c': next names 'nowhere', which is not a step of the pipeline"),
    ]


def test_same_messages_as_the_yaml_form(tmp_path: Path) -> None:
    """The YAML twin of a broken SDK pipeline reports the very same messages."""
    error = run_script(
        tmp_path,
        HEADER
        + 'a = Task(name="a", command="m.f", max_attempts=0, terminate_with_success=True)\n'
        + "Pipeline(steps=[a])\n",
    )
    yaml_text = textwrap.dedent(
        """\
        dag:
          start_at: a
          steps:
            a: {type: task, command: m.f, max_attempts: 0, next: success}
            success: {type: success}
            fail: {type: fail}
        """
    )
    with pytest.raises(PipelineError) as from_yaml:
        load_pipeline_text(yaml_text, "p.yaml")
    assert [m for *_, m in lines(error)] == [d.message for d in from_yaml.value.diagnostics]
    assert lines(error)[0][:2] == ("pipeline.py", 2)


def test_missing_next_points_at_the_step(tmp_path: Path) -> None:
    error = run_script(
        tmp_path,
        HEADER
        + textwrap.dedent(
            """\
            inner = Task(name="inner", command="m.f")
            body = Pipeline(steps=[inner])
            """
        ),
    )
    assert lines(error) == [
        ("pipeline.py", 2, "step 'inner' has no 'next' (every non-terminal step needs one)")
    ]


def test_chaining_twice_points_at_the_second_arrow(tmp_path: Path) -> None:
    error = run_script(
        tmp_path,
        HEADER
        + textwrap.dedent(
            """\
            a = Stub(name="a")
            b = Stub(name="b")
            c = Stub(name="c")
            a >> b
            a >> c
            """
        ),
    )
    assert lines(error) == [
        ("pipeline.py", 6, "step 'a' already has a next step (b); cannot chain it to 'c'")
    ]


def test_duplicate_step_names(tmp_path: Path) -> None:
    error = run_script(
        tmp_path,
        HEADER
        + textwrap.dedent(
            """\
            a = Stub(name="a", terminate_with_success=True)
            again = Stub(name="a", terminate_with_success=True)
            Pipeline(steps=[a, again])
            """
        ),
    )
    assert lines(error) == [("pipeline.py", 3, "duplicate step name 'a' (first defined on line 2)")]


def test_a_dangling_next_set_by_arrow_points_at_the_arrow(tmp_path: Path) -> None:
    error = run_script(
        tmp_path,
        HEADER
        + textwrap.dedent(
            """\
            a = Stub(name="a")
            b = Stub(name="b", terminate_with_success=True)

            a >> b
            Pipeline(steps=[a])
            """
        ),
    )
    assert lines(error) == [
        ("pipeline.py", 5, "step 'a': next names 'b', which is not a step of the pipeline")
    ]


def test_not_a_step(tmp_path: Path) -> None:
    error = run_script(tmp_path, HEADER + 'Pipeline(steps=["a"])\n')
    assert lines(error) == [
        (
            "pipeline.py",
            2,
            "steps[0] is not a step (Task, Stub, AsIs, Parallel, Map, Dag, Success or Fail): "
            "got str",
        )
    ]


def test_valid_pipeline_with_every_kind(tmp_path: Path) -> None:
    """The happy path: nothing raised, terminal steps added, on_failure by object."""
    script = tmp_path / "pipeline.py"
    script.write_text(
        HEADER
        + textwrap.dedent(
            """\
            fix = Task(name="fix", command="m.fix", terminate_with_success=True)
            one = Task(name="one", command="m.f", catalog=Catalog(put=["*.csv"]), on_failure=fix)
            each = Map(name="each", iterate_on="xs", iterate_as="x",
                       branch=Pipeline(steps=[Stub(name="s", terminate_with_success=True)]))
            par = Parallel(name="par", branches={"b": Pipeline(steps=[Stub(name="t",
                           terminate_with_success=True)])}, terminate_with_failure=True)
            one >> each >> par
            pipeline = Pipeline(steps=[one, each, par, fix], description="all kinds")
            """
        ),
        encoding="utf-8",
    )
    pipeline = runpy.run_path(str(script))["pipeline"]
    graph = pipeline.graph
    assert list(graph.nodes) == ["one", "each", "par", "fix", "success", "fail"]
    assert graph.node("one").on_failure == "fix"
    assert graph.node("par").next_node == "fail"
    assert graph.node("one").catalog.put == ("*.csv",)
    assert graph.node("one").source.line == 3


def test_script_error_names_the_python_file(tmp_path: Path) -> None:
    """Run as a user would (python pipeline.py): the message names file and line."""
    script = tmp_path / "pipeline.py"
    script.write_text(HEADER + 'Pipeline(steps=[Task(name="a", command="bad")])\n')
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 1
    assert f"{script}:2: step 'a': a python command must be 'module.function'" in result.stderr


def test_step_made_in_another_module_names_that_module(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text(
        "from magnus_render.sdk import Task\n\n\ndef make():\n"
        '    return Task(name="helper", command="bad", terminate_with_success=True)\n'
    )
    sys.path.insert(0, str(tmp_path))
    try:
        error = run_script(
            tmp_path,
            HEADER
            + "import helpers\n"
            + 'first = Stub(name="first", terminate_with_success=True)\n'
            + "Pipeline(steps=[first, helpers.make()])\n",
        )
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("helpers", None)
    assert lines(error) == [
        ("helpers.py", 5, "step 'helper': a python command must be 'module.function', got 'bad'")
    ]
