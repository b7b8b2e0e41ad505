"""``experiment_tracker: {type: mlflow}``: one mlflow run per magnus run (named after the
run id, tagged with --tag), numbers logged as metrics (series with their steps), the rest
as params; checked through mlflow's own client on a local file store. Without mlflow, the
config is refused at start (exit 2); an unreachable tracker fails the step, not the
process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.deps import require
from tests.helpers.runlog import execute_in_process, load_run_log, magnus_env

require("mlflow")

TASKS = """
from magnus_render import track_this


def train():
    track_this(loss=0.5, epochs=3, model="resnet")
    track_this(step=1, acc=0.25)
    track_this(step=2, acc=0.75)
"""

PIPELINE = """
dag:
  start_at: train
  steps:
    train: {type: task, command: ml_tasks.train, next: shell}
    shell:
      type: task
      command_type: shell
      command: |
        export MAGNUS_TRACK_answer="42.0"
        export MAGNUS_TRACK_eggs='{"ham": "world"}'
      next: success
    success: {type: success}
    fail: {type: fail}
"""


@pytest.fixture(autouse=True)
def _reading_file_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's own mlflow client reads local file stores (mlflow 3 asks for this)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def project(tmp_path: Path, config: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "ml_tasks.py").write_text(TASKS)
    (tmp_path / "p.yaml").write_text(PIPELINE)
    (tmp_path / "config.yaml").write_text(config)
    return tmp_path


def run_magnus(
    args: list[str], workdir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``magnus ARGS`` as a real subprocess, without this test's MLFLOW_ALLOW_FILE_STORE:
    magnus must open the local store by itself."""
    environ = magnus_env(env)
    environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
    return subprocess.run(
        [sys.executable, "-m", "magnus_render.cli", *args],
        cwd=workdir,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def only_mlflow_run(uri: str) -> Any:
    mlflow_client = client(uri)
    experiment = mlflow_client.get_experiment_by_name("Default")
    runs = mlflow_client.search_runs([experiment.experiment_id])
    assert len(runs) == 1, runs
    return runs[0]


def check_logged(uri: str, run_id: str) -> None:
    run = only_mlflow_run(uri)
    assert run.info.run_name == run_id
    assert run.data.tags["magnus.run_id"] == run_id
    assert run.data.tags["magnus.tag"] == "nightly"
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"loss": 0.5, "epochs": 3.0, "acc": 0.75, "answer": 42.0}
    assert run.data.params == {"model": "resnet", "eggs": '{"ham": "world"}'}
    history = client(uri).get_metric_history(run.info.run_id, "acc")
    assert sorted((m.step, m.value) for m in history) == [(1, 0.25), (2, 0.75)]


def test_metrics_and_params_reach_the_default_local_store(tmp_path: Path) -> None:
    work = project(tmp_path, "experiment_tracker:\n  type: mlflow\n")
    proc = run_magnus(
        ["execute", "p.yaml", "-c", "config.yaml", "--run-id", "ml-run", "--tag", "nightly"],
        work,
        env={"MLFLOW_TRACKING_URI": ""},
    )
    assert proc.returncode == 0, proc.stderr
    assert (work / "mlruns").is_dir()
    check_logged((work / "mlruns").as_uri(), "ml-run")
    # the step log keeps its metrics as before
    log = load_run_log(work, "ml-run", "config.yaml")
    assert log.steps["train"].user_defined_metrics["acc"] == {"1": 0.25, "2": 0.75}


def test_tracking_uri_from_the_config_magnus_05_spelling(tmp_path: Path) -> None:
    store = (tmp_path / "elsewhere").as_uri()
    work = project(
        tmp_path / "w", f"experiment_tracker:\n  type: mlflow\n  config:\n    server_url: {store}\n"
    )
    proc = run_magnus(
        ["execute", "p.yaml", "-c", "config.yaml", "--run-id", "cfg-run", "--tag", "nightly"], work
    )
    assert proc.returncode == 0, proc.stderr
    check_logged(store, "cfg-run")
    assert not (work / "mlruns").exists()


def test_tracking_uri_from_the_environment(tmp_path: Path) -> None:
    store = (tmp_path / "from-env").as_uri()
    work = project(tmp_path / "w", "experiment_tracker:\n  type: mlflow\n")
    proc = run_magnus(
        ["execute", "p.yaml", "-c", "config.yaml", "--run-id", "env-run", "--tag", "nightly"],
        work,
        env={"MLFLOW_TRACKING_URI": store},
    )
    assert proc.returncode == 0, proc.stderr
    check_logged(store, "env-run")


def test_without_mlflow_installed_the_config_is_refused_at_start(tmp_path: Path) -> None:
    work = project(tmp_path, "executor:\n  type: local\nexperiment_tracker:\n  type: mlflow\n")
    code = (
        "import sys; sys.modules['mlflow'] = None  # as if mlflow were not installed\n"
        "from magnus_render.cli import magnus_main\n"
        "sys.argv = ['magnus', 'execute', 'p.yaml', '-c', 'config.yaml', '--run-id', 'no']\n"
        "magnus_main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        env=magnus_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "config.yaml:3:" in proc.stderr and "magnus-render[mlflow]" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (work / ".run_log_store").exists()  # nothing started


def test_unknown_tracker_setting_names_its_line(tmp_path: Path) -> None:
    work = project(
        tmp_path, "experiment_tracker:\n  type: mlflow\n  config:\n    tracking_url: x\n"
    )
    proc = run_magnus(["execute", "p.yaml", "-c", "config.yaml"], work)
    assert proc.returncode == 2
    assert "config.yaml:4:" in proc.stderr and "tracking_url" in proc.stderr


def test_an_unreachable_tracker_fails_the_step_not_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as sock:  # a port on 127.0.0.1 that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    config = (
        f"experiment_tracker:\n  type: mlflow\n  config:\n    server_url: http://127.0.0.1:{port}\n"
    )
    work = project(tmp_path, "")
    code, log = execute_in_process("p.yaml", work, run_id="down", config_text=config)
    assert code == 1
    assert log.status.value == "FAIL"
    step = log.steps["train"]
    assert step.status.value == "FAIL" and step.message.startswith("experiment tracker:")
    assert "shell" not in log.steps
