"""The Airflow target's DAG files: golden files for every sample, ruff-clean, no exec/eval,
deterministic across processes, imported by Airflow's own DagBag on 2.10.5 and 3.1.8, the
KubernetesPodOperator built with the settings asked for, and bad input refused.

Regenerate the golden files with ``MAGNUS_UPDATE_GOLDEN=1 python3 -m pytest
tests/test_airflow_dags.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from magnus_render.config import load_config
from magnus_render.errors import MagnusError
from magnus_render.pipeline import load_pipeline
from magnus_render.renderers.airflow import AirflowRenderer
from magnus_render.renderers.airflow.dagbag import folder_import_errors
from magnus_render.renderers.base import RenderOptions
from tests.airflow_harness import venv
from tests.conftest import ROOT, SAMPLES
from tests.golden import assert_golden

GOLDEN = SAMPLES / "golden" / "airflow"
BASH = "samples/golden/airflow/bash.yaml"
KUBERNETES = "samples/golden/airflow/kubernetes.yaml"
SAMPLE_FILES = sorted(
    [p.name for p in SAMPLES.glob("*.yaml")] + ["notebooks/notebook.yaml", "included/training.yaml"]
)
#: the `magnus-render` command, run by this interpreter
RENDER = [sys.executable, "-c", "from magnus_render.cli import render_main; render_main()"]
#: samples also rendered with the KubernetesPodOperator and every pod setting
KPO_SAMPLES = ["hello.yaml", "map.yaml", "parallel.yaml"]


def render(sample: str, config: str) -> tuple[str, list[str]]:
    cwd = os.getcwd()
    os.chdir(ROOT)  # paths as the golden files name them, relative to the repository
    try:
        pipeline = load_pipeline(Path("samples") / sample)
        options = RenderOptions(pipeline_file=f"samples/{sample}", config_file=config)
        result = AirflowRenderer(pipeline, load_config(Path(config)), options).render()
    finally:
        os.chdir(cwd)
    return result.text, result.warnings


def golden_path(sample: str, kpo: bool = False) -> Path:
    return GOLDEN / f"{Path(sample).stem}{'-kubernetes' if kpo else ''}.py"


@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_bash_dag_matches_golden(sample: str) -> None:
    assert_golden(golden_path(sample), render(sample, BASH)[0])


@pytest.mark.parametrize("sample", KPO_SAMPLES)
def test_kubernetes_dag_matches_golden(sample: str) -> None:
    assert_golden(golden_path(sample, kpo=True), render(sample, KUBERNETES)[0])


def test_no_stale_golden_dags() -> None:
    expected = {golden_path(s).name for s in SAMPLE_FILES}
    expected |= {golden_path(s, kpo=True).name for s in KPO_SAMPLES}
    assert {p.name for p in GOLDEN.glob("*.py")} == expected


def test_golden_dags_are_ruff_clean_without_exec_or_eval() -> None:
    files = sorted(str(p) for p in GOLDEN.glob("*.py"))
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated",
         "--target-version", "py310", "--line-length", "100",
         "--select", "E,F,W,I,B,UP,SIM,RUF,S102,S307", *files],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for path in files:
        text = Path(path).read_text(encoding="utf-8")
        assert "exec(" not in text and "eval(" not in text, path


def test_render_is_deterministic_across_processes(tmp_path: Path) -> None:
    """Two renders in processes with different hash seeds give the same bytes."""
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"nested-{seed}.py"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [*RENDER, "--target", "airflow",
             "samples/nested.yaml", "-c", KUBERNETES, "-o", str(out)],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("major", ["2", "3"])
def test_dagbag_imports_every_golden_dag(major: str, tmp_path: Path) -> None:
    """Airflow 2.10.5 (the oldest supported) and 3.1.8 import each file with no error."""
    python = str(venv(major) / "bin" / "python")
    for kind in ("bash", "kubernetes"):  # one folder each: their DAG ids are the same
        dags = tmp_path / kind
        dags.mkdir()
        for path in GOLDEN.glob("*.py"):
            if path.stem.endswith("-kubernetes") == (kind == "kubernetes"):
                shutil.copy(path, dags / path.name)
        errors = folder_import_errors(dags, python)
        assert errors == "", f"Airflow {major}, {kind}:\n{errors}"
    broken = tmp_path / "bash" / "hello.py"
    broken.write_text(broken.read_text(encoding="utf-8").replace("def succeeded(", "def x("))
    assert "succeeded" in folder_import_errors(broken.parent, python)  # the check can fail


#: builds the DAG in the Airflow venv and prints every KubernetesPodOperator's settings
_DUMP_PODS = """
import json, runpy, sys
ns = runpy.run_path(sys.argv[1])
dag = ns["dag"]
out = {}
for task in dag.tasks:
    partial = getattr(task, "partial_kwargs", None)
    if partial is not None:  # a mapped task: its settings are its partial kwargs
        get = partial.get
    elif hasattr(task, "image"):
        get = lambda k, t=task: getattr(t, k)
    else:
        continue
    if get("cmds") is None:
        continue
    res = get("container_resources")
    out[task.task_id] = {
        "image": get("image"),
        "namespace": get("namespace"),
        "image_pull_policy": get("image_pull_policy"),
        "requests": res.requests if res else None,
        "limits": res.limits if res else None,
        "node_selector": get("node_selector"),
        "tolerations": [t.to_dict() for t in get("tolerations") or []],
        "volumes": [v.to_dict() for v in get("volumes") or []],
        "volume_mounts": [m.to_dict() for m in get("volume_mounts") or []],
        "secrets": [[s.deploy_type, s.deploy_target, s.secret, s.key] for s in get("secrets")],
        "service_account_name": get("service_account_name"),
        "image_pull_secrets": [s.name for s in get("image_pull_secrets") or []],
        "labels": get("labels"),
        "cmds": get("cmds")[:2],
        "retries": get("retries"),
    }
print(json.dumps(out, sort_keys=True, default=str))
"""


@pytest.mark.parametrize("major", ["2", "3"])
def test_kubernetes_pod_operator_gets_the_settings(major: str, tmp_path: Path) -> None:
    """Constructing the provider's operators from the rendered file: every pod setting of
    the config reaches KubernetesPodOperator (mapped map iterations included)."""
    python = str(venv(major) / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    result = subprocess.run(
        [python, "-c", _DUMP_PODS, str(golden_path("map.yaml", kpo=True))],
        capture_output=True, text=True, env=env, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    pods = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(pods) == {"chunk", "each__fan_out", "each", "each__fan_in", "summarize",
                         "success", "fail"}  # fmt: skip
    for task_id, pod in pods.items():
        assert pod["image"] == "registry.example.com/pipelines:1.4.2", task_id
        assert pod["namespace"] == "pipelines"
        assert pod["image_pull_policy"] == "IfNotPresent"
        assert pod["requests"] == {"cpu": "500m", "memory": "1Gi"}
        assert pod["limits"] == {"memory": "2Gi"}
        assert pod["node_selector"] == {"pool": "batch"}
        tol = pod["tolerations"][0]
        assert (tol["key"], tol["operator"], tol["value"], tol["effect"]) == (
            "dedicated", "Equal", "batch", "NoSchedule")  # fmt: skip
        assert pod["volumes"][0]["persistent_volume_claim"]["claim_name"] == "magnus-data"
        assert pod["volume_mounts"][0]["mount_path"] == "/data"
        assert pod["secrets"] == [["env", "DB_PASSWORD", "db", "password"]]
        assert pod["service_account_name"] == "magnus-runner"
        assert pod["image_pull_secrets"] == ["registry-credentials"]
        assert pod["labels"] == {"team": "data"}
        assert pod["cmds"] == ["sh", "-c"] and pod["retries"] == 0


def test_kubernetes_operator_refuses_unshared_stores(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("executor:\n  type: airflow\n  config:\n    image: x\n", encoding="utf-8")
    proc = subprocess.run(
        [*RENDER, "--target", "airflow",
         "samples/hello.yaml", "-c", str(config)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "run_log_store" in proc.stderr and "pvc_mounts" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_buffered_store_is_refused_even_on_one_machine(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "executor: {type: airflow, config: {operator: bash}}\nrun_log_store:\n  type: buffered\n",
        encoding="utf-8",
    )
    with pytest.raises(MagnusError, match="buffered"):
        render_file("hello.yaml", config)


def test_bash_operator_warns_that_stores_are_local(tmp_path: Path) -> None:
    _, warnings = render("hello.yaml", BASH)
    assert any("run_log_store 'file-system'" in w and "one machine" in w for w in warnings)


def test_unknown_setting_names_the_config_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "executor:\n  type: airflow\n  config:\n    operator: bash\n    shedule: '@daily'\n",
        encoding="utf-8",
    )
    with pytest.raises(MagnusError) as info:
        render_file("hello.yaml", config)
    assert "shedule" in str(info.value) and "c.yaml:" in str(info.value)


def test_jinja_in_a_map_name_is_refused_and_elsewhere_kept_literal(tmp_path: Path) -> None:
    """A step name with '{{' reaches its task inside {% raw %} (Airflow renders it back
    to itself); a map's name also passes through XCom into its iterations: refused."""
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "dag:\n  start_at: 'a{{ x }}'\n  steps:\n    'a{{ x }}':\n      type: stub\n"
        "      next: success\n    success:\n      type: success\n    fail:\n      type: fail\n",
        encoding="utf-8",
    )
    config = tmp_path / "c.yaml"
    config.write_text("executor: {type: airflow, config: {operator: bash}}\n", encoding="utf-8")
    text = (
        AirflowRenderer(load_pipeline(pipeline), load_config(config), RenderOptions(str(pipeline)))
        .render()
        .text
    )
    assert "'{% raw %}a{{ x }}{% endraw %}'" in text
    mapped = tmp_path / "m.yaml"
    mapped.write_text(
        "dag:\n  start_at: 'm{{ x }}'\n  steps:\n    'm{{ x }}':\n      type: map\n"
        "      iterate_on: xs\n      iterate_as: x\n      next: success\n      branch:\n"
        "        start_at: s\n        steps:\n          s: {type: stub, next: success}\n"
        "          success: {type: success}\n          fail: {type: fail}\n"
        "    success:\n      type: success\n    fail:\n      type: fail\n",
        encoding="utf-8",
    )
    with pytest.raises(MagnusError, match="Jinja") as info:
        AirflowRenderer(
            load_pipeline(mapped), load_config(config), RenderOptions(str(mapped))
        ).render()
    assert "m.yaml:4" in str(info.value)


def test_dag_settings_reach_the_dag(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "executor:\n  type: airflow\n  config:\n    operator: bash\n    dag_id: nightly.v2\n"
        "    schedule: '0 6 * * *'\n    start_date: 2025-03-04\n    owner: ops\n"
        "    tags: [b, a]\n",
        encoding="utf-8",
    )
    text = render_file("hello.yaml", config)
    assert "dag_id='nightly.v2'," in text and "schedule='0 6 * * *'," in text
    assert "datetime.datetime(2025, 3, 4, tzinfo=datetime.timezone.utc)" in text
    assert "'owner': 'ops'" in text and "tags=['a', 'b', 'magnus']" in text
    assert "catchup=False" in text


def test_schedule_flag_wins_over_the_config() -> None:
    from magnus_render.render import render_text

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        text, _ = render_text(
            Path("samples/hello.yaml"), "airflow", Path(KUBERNETES), extra={"schedule": "@hourly"}
        )
    finally:
        os.chdir(cwd)
    assert "schedule='@hourly'" in text


def render_file(sample: str, config: Path) -> str:
    pipeline = load_pipeline(SAMPLES / sample)
    options = RenderOptions(pipeline_file=f"samples/{sample}", config_file=str(config))
    return AirflowRenderer(pipeline, load_config(config), options).render().text


def test_validate_imports_with_dagbag_or_says_how_to_get_it() -> None:
    """--validate needs Airflow in this interpreter (the [airflow] extra): without it a
    clear error naming the extra; with it, DagBag's import of the file."""
    import importlib.util

    from magnus_render.render import render_text

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        if importlib.util.find_spec("airflow") is None:
            with pytest.raises(MagnusError, match=r"magnus-render\[airflow\]"):
                render_text(Path("samples/hello.yaml"), "airflow", Path(BASH), validate=True)
        else:
            render_text(Path("samples/hello.yaml"), "airflow", Path(BASH), validate=True)
    finally:
        os.chdir(cwd)


def test_composites_inside_a_map_are_said_to_run_in_the_iterations_task() -> None:
    """Airflow cannot expand a mapped group inside a mapped task: the render says which
    composites of a map's branch run inside each iteration's one task."""
    nested_warnings = [w for w in render("nested.yaml", BASH)[1] if "inside each" in w]
    assert len(nested_warnings) == 1, nested_warnings
    assert nested_warnings[0].startswith("map 'regions': "), nested_warnings
    assert "'regions.{map}.work.fitting.seeds'" in nested_warnings[0]
    flat_warnings = [w for w in render("map.yaml", BASH)[1] if "inside each" in w]
    assert flat_warnings == []


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ("nope", "expected 5 fields"),
        ("61 * * * *", "minute field '61'"),
        ("0 6 * * FUNDAY", "day-of-week field"),
        ("@every 1h", "not an Airflow preset"),
    ],
)
def test_bad_schedule_is_refused_naming_the_flag_or_the_config_line(
    tmp_path: Path, schedule: str, why: str
) -> None:
    """Airflow parses the schedule only when the scheduler imports the DAG file, so a typo
    would fail there, all day; the render refuses it with the flag or file:line named."""
    out = tmp_path / "dag.py"
    argv = [*RENDER, "--target", "airflow", "--schedule", schedule, "-c", BASH]
    flag = subprocess.run(
        [*argv, "samples/hello.yaml", "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert flag.returncode == 2, flag.stderr
    assert f"--schedule {schedule!r}" in flag.stderr and why in flag.stderr, flag.stderr
    assert "Traceback" not in flag.stderr and not out.exists()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"executor:\n  type: airflow\n  config:\n    operator: bash\n    schedule: '{schedule}'\n",
        encoding="utf-8",
    )
    with pytest.raises(MagnusError) as caught:
        render_file("hello.yaml", config)
    assert f"{config}:5:" in str(caught.value) and why in str(caught.value), caught.value
    for good in ("@quarterly", "0 6 * * MON-FRI", "*/15 0-6 1,15 JAN *"):
        config.write_text(
            f"executor:\n  type: airflow\n  config:\n    operator: bash\n    schedule: '{good}'\n",
            encoding="utf-8",
        )
        assert f"schedule={good!r}," in render_file("hello.yaml", config)


def test_kubernetes_operator_store_must_be_below_a_mount(tmp_path: Path) -> None:
    """The other cluster targets' rule: a declared volume is not enough, the store's
    folder must be below its mount path (else each pod writes its own disk)."""
    config = tmp_path / "c.yaml"
    config.write_text(
        "executor:\n  type: airflow\n  config:\n    image: x\n    pvc_mounts:\n"
        "      - {claim_name: magnus-data, mount_path: /data}\n"
        "run_log_store:\n  type: file-system\n  config: {log_folder: /elsewhere/logs}\n"
        "catalog:\n  type: file-system\n  config: {catalog_location: /data/catalog}\n",
        encoding="utf-8",
    )
    with pytest.raises(MagnusError) as caught:
        render_file("hello.yaml", config)
    assert f"{config}:9:" in str(caught.value), caught.value
    assert "'/elsewhere/logs' is not on a shared volume" in str(caught.value), caught.value
