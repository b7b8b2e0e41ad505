"""as-is steps on the container targets: Argo (played), Kubernetes Jobs (the k8s-job
executor against the fake API) and Step Functions (moto's ASL interpreter, Batch and ECS).

Each run of tests/as_is/as_is.yaml must run the injected text (it writes a marker file
with `$(`, `$$` and, except on Argo, `{{` literal), never run `command`, route the failing
text to on_failure and record every as-is step with an attempt (test_as_is.check_rendered).
This is the one place where a rendered run differs from `magnus execute` (which runs
nothing for an as-is step): the local side is checked in test_as_is.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from magnus_render.config import MagnusConfig
from magnus_render.errors import UnsupportedError
from magnus_render.pipeline import load_pipeline, load_pipeline_text
from magnus_render.renderers.argo import ArgoRenderer
from magnus_render.renderers.base import RenderOptions
from tests.argo_player import Player, magnus_shim
from tests.helpers.deps import require
from tests.helpers.runlog import load_run_log, magnus_env
from tests.test_as_is import PIPELINE, _one_step, check_rendered, copy_pipeline

ARGO_MARKER = '"hello" $(x) $$\n'


# -- Argo -------------------------------------------------------------------------------
def _argo_docs(pipeline: Path, word: str) -> list[dict]:
    options = RenderOptions(pipeline_file=word, image="magnus:test")
    text = ArgoRenderer(load_pipeline(pipeline), MagnusConfig(), options).render().text
    return list(yaml.safe_load_all(text))


def test_argo_runs_the_text_in_the_step_container(tmp_path: Path) -> None:
    workdir = tmp_path / "argo"
    copy_pipeline(workdir)
    [doc] = _argo_docs(workdir / "as_is.yaml", "as_is.yaml")
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    command = templates["magnus-as-is"]["container"]["command"]
    at = command.index("--as-is")  # an option: before `-- RUN_ID NAME`
    assert command[at + 1] == "{{inputs.parameters.as-is}}" and command[-3] == "--"
    bin_dir = magnus_shim(tmp_path / "bin", sys.executable)
    env = magnus_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    play = Player(doc, workdir, env, "argo-as-is").run()
    assert play.phase == "Succeeded", play.pods
    check_rendered(load_run_log(workdir, "argo-as-is"), workdir, ARGO_MARKER)


def test_argo_refuses_braces_it_would_substitute() -> None:
    pipeline = load_pipeline_text(
        _one_step("      render_string: echo {{workflow.name}}\n      next: success\n"), "p.yaml"
    )
    renderer = ArgoRenderer(pipeline, MagnusConfig(), RenderOptions(pipeline_file="p.yaml"))
    with pytest.raises(UnsupportedError) as info:
        renderer.render()
    assert "p.yaml:4" in str(info.value) and "'{{'" in str(info.value)


def test_argo_as_is_step_keeps_its_override_settings() -> None:
    pipeline = load_pipeline_text(
        _one_step(
            "      render_string: echo hi\n      overrides: {argo: big}\n      next: success\n"
        ),
        "p.yaml",
    )
    config = MagnusConfig.model_validate(
        {"executor": {"type": "argo", "config": {"overrides": {"big": {"image": "big:1"}}}}}
    )
    options = RenderOptions(pipeline_file="p.yaml", image="magnus:test")
    doc = yaml.safe_load(ArgoRenderer(pipeline, config, options).render().text)
    tasks = {t["name"]: t for t in doc["spec"]["templates"][0]["dag"]["tasks"]}
    template = {t["name"]: t for t in doc["spec"]["templates"]}[tasks["a"]["template"]]
    assert template["container"]["image"] == "big:1"
    assert "--as-is" in template["container"]["command"][:-3]


# -- Kubernetes Jobs ----------------------------------------------------------------------
def _drive_k8s(tmp_path: Path, *extra: str) -> tuple[Path, Path, dict[str, dict]]:
    """Run tests/as_is/as_is.yaml with the k8s-job executor against the fake API (which
    expands commands like a kubelet); (workdir, config, Job bodies by step)."""
    import subprocess

    from tests.k8s_fake_api import FakeKubernetes

    workdir = tmp_path / "work"
    copy_pipeline(workdir)
    config = workdir / "k8s.yaml"
    config.write_text(
        "executor:\n  type: k8s-job\n  config: {image: 'local/magnus:test', api_retries: 3}\n",
        encoding="utf-8",
    )
    with FakeKubernetes(workdir, env=magnus_env()) as api:
        api.kubeconfig(tmp_path / "kubeconfig")
        env = magnus_env({"KUBECONFIG": str(tmp_path / "kubeconfig")})
        argv = [sys.executable, "-m", "magnus_render.runtime.executors.k8s_job"]
        argv += ["--file", "as_is.yaml", "--config-file", str(config), "--run-id", "k8s-as-is"]
        proc = subprocess.run(
            [*argv, *extra],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        bodies = {b["metadata"]["annotations"]["magnus-render/step"]: b for b in api.created_jobs}
    return workdir, config, bodies


def test_k8s_job_executor_alone_records_as_is_as_rendered_nowhere(tmp_path: Path) -> None:
    """Used directly (not as the k8s-jobs target's driver) the executor is interactive."""
    require("kubernetes")
    require("kubernetes_validate")
    workdir, config, bodies = _drive_k8s(tmp_path)
    assert sorted(bodies) == ["setup"]  # no Job for an as-is step
    assert not (workdir / "as-is-marker.txt").exists()
    steps = load_run_log(workdir, "k8s-as-is", config).steps
    assert steps["inject"].mock and "rendered nowhere" in steps["inject"].message


def test_k8s_jobs_driver_runs_the_text_in_a_job(tmp_path: Path) -> None:
    require("kubernetes")
    require("kubernetes_validate")
    from magnus_render.renderers.k8s_jobs import K8sJobsRenderer

    rendered = K8sJobsRenderer(
        load_pipeline(PIPELINE),
        MagnusConfig(),
        RenderOptions(pipeline_file="as_is.yaml", image="magnus:test"),
    ).render()
    driver = list(yaml.safe_load_all(rendered.text))[-1]
    command = driver["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[-2:] == ["--as-is-target", "k8s-jobs"]
    workdir, config, bodies = _drive_k8s(tmp_path, *command[-2:])
    inject = bodies["inject"]["spec"]["template"]["spec"]["containers"][0]["command"]
    at = inject.index("--as-is")
    assert at < len(inject) - 3 and "$$(x) $$$$ {{y}}" in inject[at + 1]  # `$` escaped
    check_rendered(load_run_log(workdir, "k8s-as-is", config), workdir)


# -- Step Functions -------------------------------------------------------------------------
@pytest.mark.parametrize("launch", ["batch", "ecs"])
def test_step_functions_runs_the_text_in_the_task(tmp_path: Path, launch: str) -> None:
    require("moto")
    from tests.sfn_harness import moto_server, run_execution
    from tests.test_sfn_conformance import BUCKET, render_in, s3_run_log, write_config

    workdir = tmp_path / "containers"
    copy_pipeline(workdir)
    with moto_server(route_tasks=True, workdir=workdir) as server:
        server.client("s3").create_bucket(Bucket=BUCKET)
        name = f"magnus-as-is-{launch}"
        extra = "    launch: ecs\n" if launch == "ecs" else ""
        config = write_config(server, workdir, name, extra)
        machines = render_in(workdir, "as_is.yaml", config, name)
        described = run_execution(server, machines, f"sfn-as-is-{launch}", timeout=300)
        assert described["status"] == "SUCCEEDED", described
        check_rendered(s3_run_log(server, f"sfn-as-is-{launch}"), workdir)
