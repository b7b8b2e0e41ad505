"""to_yaml() and render() details: lossless YAML for every field, relocation of includes,
deterministic text, snapshots, and the drift check of render(write=False)."""

from __future__ import annotations

import runpy
import textwrap
from pathlib import Path

import pytest

from magnus_render.errors import PipelineError
from magnus_render.pipeline import load_pipeline, load_pipeline_text
from magnus_render.sdk import Catalog, Dag, Fail, Map, Parallel, Pipeline, Stub, Success, Task
from tests.test_sdk_samples import shape


def every_field() -> Pipeline:
    notebook = Task(
        name="notebook",
        command="notebooks/explore.ipynb",
        command_type="notebook",
        notebook_output_path="out/explore.ipynb",
        optional_ploomber_args={"log_output": True, "nested": {"k": [1, 2]}},
        catalog=Catalog(),
        overrides={"argo": "big"},
    )
    shell = Task(
        name="shell",
        command_type="shell",
        command="echo 'multi'\nline: \"quoted\" é\n",
        max_attempts=2,
        catalog={"get": ["a/*.csv"]},
        on_failure="recover",
        next=notebook,
    )
    recover = Stub(name="recover", note="kept", numbers=[1, 2], next="done")
    body = Stub(name="body", terminate_with_success=True)
    each = Map(
        name="each",
        iterate_on="items",
        iterate_as="item",
        branch=Pipeline(steps=[body], description="one item"),
        overrides={"local": "small"},
    )
    par = Parallel(
        name="par",
        branches={"b1": Pipeline(steps=[Stub(name="s", terminate_with_failure=True)])},
        terminate_with_success=True,
    )
    notebook >> each >> par
    return Pipeline(
        steps=[shell, notebook, each, par, recover, Success(name="done"), Fail(name="oops")],
        description="every field",
    )


def test_every_field_round_trips() -> None:
    pipeline = every_field()
    text = pipeline.to_yaml()
    reloaded = load_pipeline_text(text, "x.yaml")
    assert shape(reloaded.graph) == shape(pipeline.graph)
    graph = pipeline.graph
    assert graph.node("notebook").catalog is not None  # an empty Catalog() is kept
    assert graph.node("shell").catalog.get == ("a/*.csv",)
    assert graph.node("recover").extras == {"note": "kept", "numbers": (1, 2)}
    assert graph.node("par").next_node == "done"  # the graph's own success step
    assert graph.node("par").branches[0].node("s").next_node == "fail"
    assert "command: |" in text  # multi-line commands stay readable


def test_yaml_is_deterministic_across_processes(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = "import samples.sdk.nested as m; print(m.pipeline.to_yaml(), end='')"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            cwd=Path(__file__).resolve().parent.parent,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    from samples.sdk.nested import pipeline

    assert outputs.pop() == pipeline.to_yaml()


def test_to_yaml_path_relocates_includes(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "parts").mkdir(parents=True)
    (project / "parts" / "inner.yaml").write_text(
        "dag:\n  start_at: s\n  steps:\n    s: {type: stub, next: success}\n"
        "    success: {type: success}\n    fail: {type: fail}\n"
    )
    (project / "build.py").write_text(
        textwrap.dedent(
            """\
            from magnus_render.sdk import Dag, Pipeline
            pipeline = Pipeline(steps=[Dag(name="inc", dag_definition="parts/inner.yaml",
                                           terminate_with_success=True)])
            """
        )
    )
    pipeline = runpy.run_path(str(project / "build.py"))["pipeline"]
    elsewhere = tmp_path / "out" / "deep" / "p.yaml"
    text = pipeline.to_yaml(elsewhere)
    assert "dag_definition: ../../project/parts/inner.yaml" in text
    assert elsewhere.read_text() == text
    assert shape(load_pipeline(elsewhere).graph) == shape(pipeline.graph)
    assert "dag_definition: parts/inner.yaml" in pipeline.to_yaml()  # unchanged in place


def test_pipeline_is_a_snapshot() -> None:
    a = Stub(name="a", terminate_with_success=True)
    pipeline = Pipeline(steps=[a])
    before = pipeline.to_yaml()
    a.fields["next"] = "elsewhere"
    assert pipeline.to_yaml() == before
    assert pipeline.graph.node("a").next_node == "success"


def test_render_write_false_checks_the_file(tmp_path: Path) -> None:
    pipeline = every_field()
    target = tmp_path / "p.yaml"
    with pytest.raises(PipelineError, match="file not found"):
        pipeline.render("mermaid", pipeline_file=target, write=False)
    target.write_text(every_field().to_yaml().replace("every field", "changed"))
    with pytest.raises(PipelineError, match="does not hold the pipeline"):
        pipeline.render("mermaid", pipeline_file=target, write=False)
    written = pipeline.render("mermaid", pipeline_file=target)  # writes, then renders
    assert pipeline.render("mermaid", pipeline_file=target, write=False) == written


def test_unrepresentable_value_is_a_clear_error() -> None:
    with pytest.raises(PipelineError, match="cannot write the pipeline as YAML") as caught:
        Pipeline(steps=[Stub(name="a", thing=object(), terminate_with_success=True)])
    assert caught.value.diagnostics[0].line is not None


def test_terminal_step_cannot_be_chained() -> None:
    with pytest.raises(PipelineError, match="is terminal"):
        Success() >> Stub(name="x")


def test_execute_honours_magnus_configuration_file(tmp_path: Path, monkeypatch) -> None:
    from tests.helpers.runlog import prepare_workdir

    workdir = prepare_workdir(tmp_path)
    (workdir / "cfg.yaml").write_text("run_log_store:\n  type: chunked-fs\n")
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("MAGNUS_CONFIGURATION_FILE", "cfg.yaml")
    task = Task(name="init", command="samples.functions.initialize", terminate_with_success=True)
    log = Pipeline(steps=[task]).execute(run_id="env-config", quiet=True)
    assert log.status.value == "SUCCESS"
    assert log.run_config["run_log_store"]["type"] == "chunked-fs"


def test_dag_step_in_sdk_matches_yaml(tmp_path: Path) -> None:
    from tests.conftest import SAMPLES

    inc = Dag(name="training", dag_definition=str(SAMPLES / "included" / "training.yaml"))
    inc_pipeline = Pipeline(steps=[inc >> Stub(name="after", terminate_with_success=True)])
    del inc_pipeline
    with pytest.raises(PipelineError, match=r"dag_definition 'missing\.yaml' not found"):
        Pipeline(steps=[Dag(name="d", dag_definition="missing.yaml", terminate_with_success=True)])
