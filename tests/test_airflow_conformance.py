"""Conformance on the real engine: each sample rendered with ``operator: bash`` and run by
``airflow dags test`` (Airflow 2.10.5, sqlite, a private AIRFLOW_HOME) leaves the run log
``magnus execute`` leaves, failing samples included, and the DAG run ends ``failed``
exactly when the local run failed. Also: a re-run through DAG params (``use_cached``) and
the initial parameters given as DAG params (the conf overrides them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from magnus_render.render import render_text
from tests.airflow_harness import AirflowHome, bash_config, dags_test, make_home
from tests.helpers.runlog import execute_in_process, load_run_log
from tests.test_shell_conformance import SAMPLE_NAMES, assert_same_run, own_workdir


@pytest.fixture(scope="session")
def airflow2(tmp_path_factory: pytest.TempPathFactory) -> AirflowHome:
    return make_home("2", tmp_path_factory.mktemp("airflow2-home"))


def render_dag(workdir: Path, sample: str, parameters: str | None = None) -> Path:
    """samples/<sample>.yaml as a bash-operator DAG in workdir/dags/ (paths relative to
    workdir, which is the tasks' working directory)."""
    config = bash_config(workdir)
    cwd = Path.cwd()
    import os

    os.chdir(workdir)
    try:
        text, _ = render_text(
            Path(f"samples/{sample}.yaml"),
            "airflow",
            config.relative_to(workdir),
            Path(parameters) if parameters else None,
        )
    finally:
        os.chdir(cwd)
    dags = workdir / "dags"
    dags.mkdir(exist_ok=True)
    path = dags / f"{Path(sample).name}.py"
    path.write_text(text, encoding="utf-8")
    return path


def dag_id(sample: str) -> str:
    return Path(sample).name


@pytest.mark.parametrize("sample", SAMPLE_NAMES)
def test_sample_on_airflow_matches_magnus_execute(
    sample: str, tmp_path: Path, airflow2: AirflowHome
) -> None:
    local = own_workdir(tmp_path / "local")
    local_code, local_log = execute_in_process(sample, local, run_id="local-run")

    workdir = own_workdir(tmp_path / "airflow")
    dag = render_dag(workdir, sample)
    run = dags_test(airflow2, dag, dag_id(sample), {"run_id": "airflow-run"})
    assert run.state == ("failed" if local_code else "success"), run.output[-6000:]
    config = workdir / "airflow-config.yaml"
    assert_same_run(local_log, load_run_log(workdir, "airflow-run", config))


def test_use_cached_rerun_through_dag_params(tmp_path: Path, airflow2: AirflowHome) -> None:
    """`--conf '{"use_cached": OLD}'`: the same run log as `magnus execute --use-cached`."""
    workdir = own_workdir(tmp_path / "w")
    first_code, _ = execute_in_process("failing", workdir, run_id="original")
    local_code, local_log = execute_in_process(
        "failing", workdir, run_id="local-rerun", use_cached="original"
    )
    dag = render_dag(workdir, "failing")
    run = dags_test(airflow2, dag, "failing", {"run_id": "airflow-rerun", "use_cached": "original"})
    assert run.state == "failed" and local_code == 1 == first_code, run.output[-4000:]
    rerun = load_run_log(workdir, "airflow-rerun", workdir / "airflow-config.yaml")
    assert rerun.use_cached and rerun.original_run_id == "original"
    assert any(step.mock for step in rerun.steps.values()), "nothing was reused"
    assert_same_run(local_log, rerun)


def test_initial_parameters_are_dag_params(tmp_path: Path, airflow2: AirflowHome) -> None:
    """The parameters file's values are the DAG params' defaults; the conf overrides one."""
    workdir = own_workdir(tmp_path / "w")
    (workdir / "params.yaml").write_text("x: 3\nname: spam\n", encoding="utf-8")
    dag = render_dag(workdir, "hello", "params.yaml")
    text = dag.read_text(encoding="utf-8")
    assert "'x': Param(3)" in text and "'name': Param('spam')" in text
    run = dags_test(airflow2, dag, "hello", {"run_id": "with-conf", "x": 5})
    assert run.state == "success", run.output[-4000:]
    log = load_run_log(workdir, "with-conf", workdir / "airflow-config.yaml")
    assert log.run_config["initial_parameters"] == {"x": 5, "name": "spam"}


def test_airflow_run_id_is_made_legal_for_magnus(tmp_path: Path, airflow2: AirflowHome) -> None:
    """Without a run_id in the conf, the magnus run id is the DAG id and Airflow's run id
    with ':', '+' and '.' made '-' (Airflow's own run id is not a legal magnus run id)."""
    workdir = own_workdir(tmp_path / "w")
    dag = render_dag(workdir, "hello")
    run = dags_test(airflow2, dag, "hello", {})
    assert run.state == "success", run.output[-4000:]
    logs = [p.stem for p in (workdir / ".run_log_store").glob("*.jsonl")]
    assert len(logs) == 1 and logs[0].startswith("hello-manual__"), logs
    assert all(c.isalnum() or c in "-_" for c in logs[0]), logs


def test_as_is_steps_run_their_text_on_airflow(tmp_path: Path, airflow2: AirflowHome) -> None:
    """tests/as_is/as_is.yaml: the render_string runs in the step's task ('{{' included,
    passed through Airflow's Jinja unchanged), `command` never runs, the failing text
    routes to on_failure (the check every rendered target passes: test_as_is)."""
    from tests.test_as_is import check_rendered, copy_pipeline

    workdir = tmp_path / "w"
    copy_pipeline(workdir)
    config = bash_config(workdir)
    cwd = Path.cwd()
    import os

    os.chdir(workdir)
    try:
        text, _ = render_text(Path("as_is.yaml"), "airflow", config.relative_to(workdir))
    finally:
        os.chdir(cwd)
    (workdir / "dags").mkdir()
    dag = workdir / "dags" / "as_is.py"
    dag.write_text(text, encoding="utf-8")
    run = dags_test(airflow2, dag, "as_is", {"run_id": "as-is-run"})
    assert run.state == "success", run.output[-6000:]
    check_rendered(load_run_log(workdir, "as-is-run", config), workdir)


@pytest.fixture(scope="session")
def airflow3(tmp_path_factory: pytest.TempPathFactory) -> AirflowHome:
    return make_home("3", tmp_path_factory.mktemp("airflow3-home"))


@pytest.mark.parametrize("sample", ["failing", "map"])
def test_sample_on_airflow3_matches_magnus_execute(
    sample: str, tmp_path: Path, airflow3: AirflowHome
) -> None:
    """The same on Airflow 3.1.8 (its `dags test` runs each task through the Task SDK,
    seconds per task, so two samples: a failing run and dynamic task mapping)."""
    local = own_workdir(tmp_path / "local")
    local_code, local_log = execute_in_process(sample, local, run_id="local-run")
    workdir = own_workdir(tmp_path / "airflow")
    dag = render_dag(workdir, sample)
    run = dags_test(airflow3, dag, dag_id(sample), {"run_id": "airflow-run"})
    assert run.state == ("failed" if local_code else "success"), run.output[-6000:]
    config = workdir / "airflow-config.yaml"
    assert_same_run(local_log, load_run_log(workdir, "airflow-run", config))
