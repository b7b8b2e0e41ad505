"""pipeline.execute() gives the same run log as ``magnus execute`` of the YAML twin."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.helpers.runlog import load_run_log, normalize, prepare_workdir
from tests.test_sdk_samples import SAMPLE_NAMES, yaml_sample


def sdk_execute(name: str, workdir: Path, run_id: str, **kwargs) -> object:
    pipeline = importlib.import_module(f"samples.sdk.{name}").pipeline
    prepare_workdir(workdir)
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        return pipeline.execute(run_id=run_id, quiet=True, **kwargs)
    finally:
        os.chdir(cwd)


def yaml_execute(name: str, workdir: Path, run_id: str) -> tuple[int, object]:
    """``magnus execute samples/.../NAME.yaml`` in this process, in ``workdir``."""
    from magnus_render.runtime.entrypoints import execute_pipeline

    prepare_workdir(workdir)
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        code = execute_pipeline(
            pipeline_file=yaml_sample(name).relative_to(SAMPLES.parent), run_id=run_id, quiet=True
        )
    finally:
        os.chdir(cwd)
    return code, load_run_log(workdir, run_id)


def comparable(run_log: object) -> dict:
    """normalize(), and an executed notebook compared by name only: ploomber-engine writes
    run times into it, so its bytes differ between any two runs, SDK or not."""
    data = normalize(run_log)
    for step in data["steps"].values():
        step["catalog"] = [
            (name, stage, None if name.endswith(".ipynb") else digest)
            for name, stage, digest in step["catalog"]
        ]
    return data


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_same_run_log(name: str, tmp_path: Path) -> None:
    from magnus_render.errors import ExecutionFailedError

    code, from_yaml = yaml_execute(name, tmp_path / "yaml", run_id="yaml-run")
    try:
        from_sdk = sdk_execute(name, tmp_path / "sdk", "sdk-run")
        raised = False
    except ExecutionFailedError as exc:  # a failed run raises, carrying its run log
        from_sdk, raised = exc.run_log, True
    assert comparable(from_sdk) == comparable(from_yaml)
    assert (from_sdk.status.value == "SUCCESS") == (code == 0) == (not raised)
    assert from_sdk.run_id == "sdk-run"


def test_execute_with_config_and_parameters(tmp_path: Path) -> None:
    """Options as magnus execute's: a config file (chunked-fs store) and a parameters file."""
    workdir = prepare_workdir(tmp_path)
    (workdir / "config.yaml").write_text("run_log_store:\n  type: chunked-fs\n")
    (workdir / "params.yaml").write_text("greeting: hi\n")
    log = sdk_execute(
        "hello",
        workdir,
        "with-options",
        configuration_file="config.yaml",
        parameters_file="params.yaml",
        tag="t1",
    )
    assert log.status.value == "SUCCESS"
    assert log.tag == "t1"
    assert log.parameters["greeting"] == "hi"
    assert (workdir / ".run_log_store").exists()
    assert log.run_config["run_log_store"]["type"] == "chunked-fs"


def test_execute_writes_the_pipeline_it_ran(tmp_path: Path) -> None:
    workdir = prepare_workdir(tmp_path)
    sdk_execute("include", workdir, "kept", output_pipeline_definition="ran.yaml")
    from magnus_render.pipeline import load_pipeline

    pipeline = importlib.import_module("samples.sdk.include").pipeline
    assert load_pipeline(workdir / "ran.yaml").graph == pipeline.graph


def test_execute_with_the_buffered_store_returns_the_run_log(tmp_path: Path) -> None:
    """magnus 0.5's in-memory store: nothing on disk, yet execute() returns the run log."""
    workdir = prepare_workdir(tmp_path)
    (workdir / "mem.yaml").write_text("run_log_store:\n  type: buffered\n")
    log = sdk_execute("hello", workdir, "in-memory", configuration_file="mem.yaml")
    assert log.status.value == "SUCCESS" and log.parameters["x"] == 6
    assert not (workdir / ".run_log_store").exists()


def test_execute_with_a_render_only_executor_writes_the_yaml(tmp_path: Path, capsys) -> None:
    """magnus 0.5's SDK with the argo executor wrote the pipeline YAML and ran nothing."""
    workdir = prepare_workdir(tmp_path)
    (workdir / "argo-config.yaml").write_text("executor:\n  type: argo\n")
    result = sdk_execute("hello", workdir, "never-runs", configuration_file="argo-config.yaml")
    assert result is None
    pipeline = importlib.import_module("samples.sdk.hello").pipeline
    written = workdir / "magnus-pipeline.yaml"
    assert written.read_text() == pipeline.to_yaml(written)
    assert "magnus-render magnus-pipeline.yaml --target argo" in capsys.readouterr().err
    assert not (workdir / ".run_log_store").exists()


def test_execute_with_magnus_05_empty_string_defaults(tmp_path: Path) -> None:
    """magnus 0.5's execute() defaulted every option to "": callers passing them still run."""
    workdir = prepare_workdir(tmp_path)
    log = sdk_execute(
        "hello",
        workdir,
        "",
        configuration_file="",
        tag="",
        parameters_file="",
        use_cached="",
        log_level="WARNING",
    )
    assert log.status.value == "SUCCESS" and log.run_id and not log.use_cached
