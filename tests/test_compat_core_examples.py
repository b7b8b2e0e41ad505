"""magnus-core's own examples (tests/compat/core_examples, re-created from
AstraZeneca/magnus-core's examples/) run as their docs say: the command in each
description, from the project root, as real processes; then the run log is checked
against what the docs show (printed lines, parameters, metrics, catalog entries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.deps import require
from tests.test_compat_projects import (
    magnus_subprocess,
    only_run,
    project,
    python_subprocess,
    statuses,
)


def entries(log: Any, step: str) -> set[tuple[str, str]]:
    return {
        (e.name, e.stage)
        for e in log.steps[step].data_catalog
        if not e.name.endswith(".execution.log")
    }


def examples(tmp_path: Path) -> Path:
    return project("core_examples", tmp_path)


# -- catalog ------------------------------------------------------------------------------
def test_catalog_yaml(tmp_path: Path) -> None:
    work = examples(tmp_path)
    proc = magnus_subprocess(
        work, "execute", "-f", "examples/catalog.yaml", "-c", "examples/configs/fs-catalog.yaml"
    )
    assert proc.returncode == 0, proc.stderr
    assert "Hello from magnus" in proc.stdout + proc.stderr
    log = only_run(work)
    assert set(statuses(log).values()) == {"SUCCESS"}
    assert entries(log, "Create Content") == {("data/hello.txt", "put")}
    assert entries(log, "Retrieve Content") == {("data/hello.txt", "get")}
    stored = work / ".catalog" / log.run_id / "data" / "hello.txt"
    assert stored.read_text() == "Hello from magnus\n"


def test_concepts_catalog_yaml(tmp_path: Path) -> None:
    """Files in two folders of the working directory; the second folder is deleted and
    comes back from the catalog with ``get: ["**/*"]``."""
    work = examples(tmp_path)
    proc = magnus_subprocess(
        work,
        "execute",
        "-f",
        "examples/concepts/catalog.yaml",
        "-c",
        "examples/configs/fs-catalog.yaml",
    )
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "Hello from data folder!!" in output and "Hello from another folder!!" in output
    log = only_run(work)
    assert entries(log, "create_content_in_data_folder") == {("data/hello.txt", "put")}
    assert entries(log, "create_content_in_another_folder") == {("another/world.txt", "put")}
    assert {("data/hello.txt", "get"), ("another/world.txt", "get")} <= entries(
        log, "retrieve_content_from_both"
    )
    assert (work / "another" / "world.txt").read_text() == "Hello from another folder!!"


# -- parameters through the environment ---------------------------------------------------
def test_task_shell_parameters(tmp_path: Path) -> None:
    work = examples(tmp_path)
    proc = magnus_subprocess(
        work,
        "execute",
        "-f",
        "examples/concepts/task_shell_parameters.yaml",
        "-p",
        "examples/concepts/parameters.yaml",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # as the comments in the pipeline show: JSON-encoded values
    assert 'MAGNUS_PRM_spam="Hello"' in lines
    assert 'MAGNUS_PRM_eggs={"ham": "Yes, please!!"}' in lines
    assert 'MAGNUS_PRM_spam="World"' in lines
    assert 'MAGNUS_PRM_eggs={"ham": "No, Thank you!!"}' in lines
    log = only_run(work)
    assert log.parameters == {"spam": "Universe", "eggs": {"ham": "Maybe, one more.."}}


def test_parameters_env(tmp_path: Path) -> None:
    work = examples(tmp_path)
    proc = magnus_subprocess(
        work,
        "execute",
        "-f",
        "examples/parameters_env.yaml",
        "-p",
        "examples/parameters_initial.yaml",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "MAGNUS_PRM_simple=1" in lines
    assert 'MAGNUS_PRM_inner={"x": 10, "y": "hello"}' in lines
    assert "10" in lines and "x=100 y='world'" in lines  # display again, cast to the model
    log = only_run(work)
    assert log.parameters == {"simple": 10, "inner": {"x": 100, "y": "world"}}


# -- notebooks ----------------------------------------------------------------------------
def test_notebook_env_parameters(tmp_path: Path) -> None:
    """The first notebook returns parameters through its ``magnus_output`` cell; the
    second reads them from os.environ and sets new ones there."""
    require("ploomber_engine")
    work = examples(tmp_path)
    proc = magnus_subprocess(
        work,
        "execute",
        "-f",
        "examples/concepts/notebook_env_parameters.yaml",
        "-p",
        "examples/concepts/parameters.yaml",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = only_run(work)
    assert set(statuses(log).values()) == {"SUCCESS"}
    api = log.steps["api notebook"]
    assert api.attempts[0].parameters == {"spam": "World", "eggs": {"ham": "No, Thank you!!"}}
    assert log.parameters == {"spam": "Universe", "eggs": {"ham": "Maybe, one more!!"}}
    assert '"World"' in proc.stdout and "ham='No, Thank you!!'" in proc.stdout
    names = {name for name, _ in entries(log, "native notebook")}
    assert "examples/concepts/notebook_native_parameters_out.ipynb" in names


# -- experiment tracking ------------------------------------------------------------------
ENV_METRICS = {"spam": "hello", "eggs": {"ham": "world"}, "answer": 42.0}
STEP_METRICS = {
    "spam": {"0": "hello", "1": "hey"},
    "eggs": {"0": {"ham": "world"}, "1": {"ham": "universe"}},
    "answer": 42.0,
}


@pytest.mark.parametrize(
    ("pipeline", "metrics"),
    [
        ("examples/concepts/experiment_tracking_env.yaml", ENV_METRICS),
        ("examples/concepts/experiment_tracking_env_step.yaml", STEP_METRICS),
    ],
)
def test_experiment_tracking_env(tmp_path: Path, pipeline: str, metrics: dict) -> None:
    work = examples(tmp_path)
    proc = magnus_subprocess(work, "execute", "-f", pipeline)
    assert proc.returncode == 0, proc.stderr
    assert only_run(work).steps["shell"].user_defined_metrics == metrics


@pytest.mark.parametrize(
    ("script", "metrics"),
    [
        ("examples/concepts/experiment_tracking_api.py", {**ENV_METRICS, "is_it_true": False}),
        ("examples/concepts/experiment_tracking_step.py", {**STEP_METRICS, "is_it_true": False}),
    ],
)
def test_experiment_tracking_api(tmp_path: Path, script: str, metrics: dict) -> None:
    work = examples(tmp_path)
    proc = python_subprocess(work, script)
    assert proc.returncode == 0, proc.stderr
    assert only_run(work).steps["Emit Metrics"].user_defined_metrics == metrics


def test_experiment_tracking_env_to_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/experiment_tracking_env.yaml with its mlflow config; the server the docs
    expect at 127.0.0.1:8080 is replaced by a local store (no mlflow server here)."""
    require("mlflow")
    from mlflow.tracking import MlflowClient

    work = examples(tmp_path)
    store = (tmp_path / "mlflow-store").as_uri()
    config = work / "examples" / "configs" / "mlflow-config.yaml"
    config.write_text(config.read_text().replace("http://127.0.0.1:8080", store))
    proc = magnus_subprocess(
        work,
        "execute",
        "-f",
        "examples/experiment_tracking_env.yaml",
        "-c",
        "examples/configs/mlflow-config.yaml",
    )
    assert proc.returncode == 0, proc.stderr
    run_id = only_run(work, "examples/configs/mlflow-config.yaml").run_id
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("Default").experiment_id])
    assert run.info.run_name == run_id
    assert run.data.metrics == {"answer": 42.0}
    assert run.data.params == {"spam": "hello", "eggs": '{"ham": "world"}'}
