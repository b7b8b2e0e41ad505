"""Re-run and submit-time parameters on every rendered target (issue 17).

The scenario (tests/helpers/rerun.py): a pipeline whose middle step fails runs through
the target; the step is fixed and the run is submitted again with ``use_cached``: the
steps before it (map iterations included) are reused, not executed (counter files), the
rest run, and the run log equals a local ``magnus execute --use-cached`` run's. A value
given at submit reaches the first task and the run log records it as given at submit.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from magnus_render.config import load_config
from magnus_render.pipeline import load_pipeline
from magnus_render.renderers.argo import ArgoRenderer
from magnus_render.renderers.base import RenderOptions
from tests.argo_player import magnus_shim, play_workflow
from tests.helpers import rerun
from tests.helpers.runlog import load_run_log, magnus_env, normalize


# -- Argo, through the test player ------------------------------------------------------
def _argo_docs(work: Path, pipeline: str, parameters_file: str | None = None) -> list[Any]:
    options = RenderOptions(
        pipeline_file=pipeline, config_file="argo.yaml", parameters_file=parameters_file
    )
    config = load_config(work / "argo.yaml")
    renderer = ArgoRenderer(load_pipeline(work / pipeline), config, options)
    os.chdir(work)  # the parameters file is read relative to where magnus-render runs
    return list(yaml.safe_load_all(renderer.render().text))


def _argo_log(work: Path, run_id: str) -> Any:
    return load_run_log(work, run_id, work / "argo.yaml")


def _argo_env(tmp_path: Path) -> dict[str, str]:
    bin_dir = magnus_shim(tmp_path / "bin", sys.executable)
    return magnus_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})


def test_argo_rerun_with_use_cached(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    old_local, new_local = rerun.local_rerun(tmp_path / "local")
    work = rerun.workdir(tmp_path / "argo")
    docs = _argo_docs(work, "rerun.yaml")
    env = _argo_env(tmp_path)
    play = play_workflow(docs, work, env, workflow_name="rerun-abc12")
    assert play.phase == "Failed"
    assert rerun.counters(work) == rerun.AFTER_FAILED_RUN
    assert normalize(_argo_log(work, "rerun-abc12")) == old_local
    (work / "fixed").write_text("")
    # `argo submit wf.yaml -p use_cached=rerun-abc12`: the same spec, not re-rendered
    play = play_workflow(
        docs, work, env, workflow_name="rerun-xyz34", arguments={"use_cached": "rerun-abc12"}
    )
    assert play.phase == "Succeeded", play.pods
    assert rerun.counters(work) == rerun.AFTER_RERUN
    new = _argo_log(work, "rerun-xyz34")
    assert normalize(new) == new_local
    rerun.check_rerun_log(new, "rerun-abc12")


def test_argo_run_id_and_parameter_given_at_submit(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    work = rerun.workdir(tmp_path / "argo")
    docs = _argo_docs(work, "greet.yaml", "greeting.yaml")
    arguments = {p["name"]: p["value"] for p in docs[0]["spec"]["arguments"]["parameters"]}
    assert arguments == {"use_cached": "", "run_id": "", "greeting": '"hello"'}
    env = _argo_env(tmp_path)
    play = play_workflow(docs, work, env, workflow_name="greet-1")  # the defaults
    assert play.phase == "Succeeded", play.pods
    assert json.loads((work / "greeting-seen").read_text()) == "hello"
    default = _argo_log(work, "greet-1")
    assert default.run_config["parameter_sources"] == {"greeting": "parameters_file"}
    given = {"greeting": '"bonjour"', "run_id": "my-run"}
    play = play_workflow(docs, work, env, workflow_name="greet-2", arguments=given)
    assert play.phase == "Succeeded", play.pods
    assert json.loads((work / "greeting-seen").read_text()) == "bonjour"
    log = _argo_log(work, "my-run")  # run_id given: the run is named by it
    assert log.parameters["greeting"] == "bonjour"
    assert log.run_config["parameter_sources"] == {"greeting": "submit"}
    assert log.run_config["initial_parameters"] == {"greeting": "bonjour"}


# -- shell, with bash -------------------------------------------------------------------
def _shell_script(work: Path, pipeline: str, parameters_file: str | None = None) -> Path:
    from tests.test_shell_conformance import render_script

    return render_script(work, work / pipeline, pipeline, parameters_file=parameters_file)


def test_shell_rerun_with_use_cached(tmp_path: Path) -> None:
    from tests.test_shell_conformance import run_script

    old_local, new_local = rerun.local_rerun(tmp_path / "local")
    work = rerun.workdir(tmp_path / "shell")
    script = _shell_script(work, "rerun.yaml")
    assert run_script(work, script, "old-run").returncode == 1
    assert rerun.counters(work) == rerun.AFTER_FAILED_RUN
    assert normalize(load_run_log(work, "old-run")) == old_local
    (work / "fixed").write_text("")
    result = run_script(work, script, "--use-cached", "old-run", "new-run")
    assert result.returncode == 0, result.stderr
    assert rerun.counters(work) == rerun.AFTER_RERUN
    new = load_run_log(work, "new-run")
    assert normalize(new) == new_local
    rerun.check_rerun_log(new, "old-run")


def test_shell_parameter_given_at_submit(tmp_path: Path) -> None:
    from tests.test_shell_conformance import run_script

    work = rerun.workdir(tmp_path / "shell")
    script = _shell_script(work, "greet.yaml", "greeting.yaml")
    result = run_script(work, script, "--param", 'greeting="bonjour"', "given")
    assert result.returncode == 0, result.stderr
    assert json.loads((work / "greeting-seen").read_text()) == "bonjour"
    log = load_run_log(work, "given")
    assert log.parameters["greeting"] == "bonjour"
    assert log.run_config["parameter_sources"] == {"greeting": "submit"}
    assert run_script(work, script, "plain").returncode == 0
    assert json.loads((work / "greeting-seen").read_text()) == "hello"
    plain = load_run_log(work, "plain")
    assert plain.run_config["parameter_sources"] == {"greeting": "parameters_file"}
    bad = run_script(work, script, "--param", "no-equals-sign", "bad")
    assert bad.returncode == 2 and "--param 'no-equals-sign'" in bad.stderr
    assert "Traceback" not in bad.stderr


# -- Step Functions, through the ASL interpreter ----------------------------------------
@contextmanager
def _sfn(
    tmp_path: Path, name: str, pipeline: str, parameters: str | None = None
) -> Iterator[tuple[Any, Path, dict[str, Any]]]:
    """(moto server, workdir, machines) for ``pipeline`` rendered with S3 stores."""
    from tests.sfn_harness import moto_server
    from tests.test_sfn_conformance import BUCKET, render_in, write_config

    work = rerun.workdir(tmp_path / "sfn")
    with moto_server(route_tasks=True, workdir=work) as server:
        server.client("s3").create_bucket(Bucket=BUCKET)
        config = write_config(server, work, name)
        if parameters:
            machines = _render_sfn_with_parameters(work, pipeline, config, parameters)
        else:
            machines = render_in(work, pipeline, config, name)
        yield server, work, machines


def _render_sfn_with_parameters(work: Path, pipeline: str, config: str, params: str) -> Any:
    from magnus_render.render import render_text

    old = os.getcwd()
    os.chdir(work)
    try:
        text, _ = render_text(Path(pipeline), "stepfunctions", Path(config), Path(params))
    finally:
        os.chdir(old)
    return {"magnus-greet": json.loads(text)}


def test_stepfunctions_rerun_with_use_cached(tmp_path: Path) -> None:
    from tests.sfn_harness import run_execution
    from tests.test_sfn_conformance import s3_run_log

    old_local, new_local = rerun.local_rerun(tmp_path / "local")
    with _sfn(tmp_path, "magnus-rerun", "rerun.yaml") as (server, work, machines):
        described = run_execution(server, machines, "exec-old")
        assert described["status"] == "FAILED", described
        assert rerun.counters(work) == rerun.AFTER_FAILED_RUN
        assert normalize(s3_run_log(server, "exec-old")) == old_local
        (work / "fixed").write_text("")
        described = run_execution(
            server, machines, "exec-new", execution_input={"use_cached": "exec-old"}
        )
        assert described["status"] == "SUCCEEDED", described
        assert rerun.counters(work) == rerun.AFTER_RERUN
        new = s3_run_log(server, "exec-new")
    assert normalize(new) == new_local
    rerun.check_rerun_log(new, "exec-old")


def test_stepfunctions_run_id_and_parameter_given_at_submit(tmp_path: Path) -> None:
    from tests.sfn_harness import run_execution
    from tests.test_sfn_conformance import s3_run_log

    with _sfn(tmp_path, "magnus-greet", "greet.yaml", "greeting.yaml") as (server, work, machines):
        given = {"run_id": "named-run", "parameters": {"greeting": "bonjour"}}
        described = run_execution(server, machines, "exec-1", execution_input=given)
        assert described["status"] == "SUCCEEDED", described
        seen = json.loads((work / "greeting-seen").read_text())
        log = s3_run_log(server, "named-run")
        described = run_execution(server, machines, "exec-2")  # no input: the defaults
        assert described["status"] == "SUCCEEDED", described
        default = s3_run_log(server, "exec-2")
        seen_default = json.loads((work / "greeting-seen").read_text())
    assert seen == "bonjour" and seen_default == "hello"
    assert log.parameters["greeting"] == "bonjour"
    assert log.run_config["parameter_sources"] == {"greeting": "submit"}
    assert default.run_config["parameter_sources"] == {"greeting": "parameters_file"}


# -- Kubernetes Jobs, through the API double --------------------------------------------
def _k8s_render(work: Path, pipeline: str, *flags: str) -> list[dict[str, Any]]:
    """``magnus-render --target k8s-jobs`` as a user runs it (exit 0, strict-valid)."""
    argv = ["-c", "k8s.yaml", "--validate", *flags, pipeline]
    proc = run_magnus_render(["--target", "k8s-jobs", *argv], work)
    assert proc.returncode == 0, proc.stderr
    return list(yaml.safe_load_all(proc.stdout))


def run_magnus_render(args: list[str], work: Path) -> Any:
    import subprocess

    code = "from magnus_render.cli import render_main; render_main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=work,
        env=magnus_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def _start_driver(
    kube: Any, docs: list[dict[str, Any]], job_name: str, env: dict[str, str] | None = None
) -> Any:
    """Run the driver Job's pod as the kubelet would: the ConfigMap's files at their mount
    path (a folder here), the container's env (the run id from the Job's name label, plus
    ``env`` as ``kubectl set env`` adds it) and its command, `$(VAR)` expanded."""
    import subprocess

    from tests.helpers.kubernetes import container_env, expand_command

    config_map = next(d for d in docs if d["kind"] == "ConfigMap")
    job = next(d for d in docs if d["kind"] == "Job")
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    spec_volumes = {v["name"] for v in pod["volumes"] if "configMap" in v}
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] in spec_volumes)
    spec_dir = kube.workdir / "spec"
    spec_dir.mkdir(exist_ok=True)
    for key, text in config_map["data"].items():
        (spec_dir / key).write_text(text, encoding="utf-8")
    added = [{"name": k, "value": v} for k, v in (env or {}).items()]
    entries = [*container.get("env", []), *added]
    variables = container_env(entries, {"MAGNUS_RUN_ID": job_name})
    argv = expand_command(container["command"], variables)
    assert argv[0] == "magnus-k8s-driver"
    argv = [sys.executable, "-m", "magnus_render.runtime.executors.k8s_job", *argv[1:]]
    argv = [w.replace(mount, str(spec_dir)) for w in argv]
    kubeconfig = str(kube.workdir.parent / "kubeconfig")
    return subprocess.run(
        argv,
        cwd=kube.workdir,
        env=magnus_env({**variables, "KUBECONFIG": kubeconfig}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _kube(tmp_path: Path) -> Any:
    from tests.k8s_fake_api import FakeKubernetes

    work = rerun.workdir(tmp_path / "work")
    api = FakeKubernetes(work, env=magnus_env())
    api.kubeconfig(tmp_path / "kubeconfig")
    return api


def test_k8s_jobs_rerun_with_use_cached(tmp_path: Path) -> None:
    old_local, new_local = rerun.local_rerun(tmp_path / "local")
    with _kube(tmp_path) as kube:
        work = kube.workdir
        first = _k8s_render(work, "rerun.yaml")
        job = next(d for d in first if d["kind"] == "Job")
        assert job["metadata"]["generateName"] == "magnus-rerun-"  # a new Job per create
        assert "name" not in job["metadata"]
        proc = _start_driver(kube, first, "magnus-rerun-x7k2p")  # the name Kubernetes gave
        assert proc.returncode == 1, proc.stderr
        assert rerun.counters(work) == rerun.AFTER_FAILED_RUN
        config = work / "spec" / "config.yaml"
        assert normalize(load_run_log(work, "magnus-rerun-x7k2p", config)) == old_local
        (work / "fixed").write_text("")
        again = _k8s_render(work, "rerun.yaml", "--use-cached", "magnus-rerun-x7k2p")
        assert again == _k8s_render(work, "rerun.yaml", "--use-cached", "magnus-rerun-x7k2p")
        proc = _start_driver(kube, again, "magnus-rerun-q9w3z")
        assert proc.returncode == 0, proc.stderr
        assert rerun.counters(work) == rerun.AFTER_RERUN
        new = load_run_log(work, "magnus-rerun-q9w3z", config)
        ran = sorted(j["metadata"]["name"] for j in kube.jobs() if "q9w3z" in j["metadata"]["name"])
    assert normalize(new) == new_local
    rerun.check_rerun_log(new, "magnus-rerun-x7k2p")
    assert ran == ["magnus-rerun-q9w3z-last", "magnus-rerun-q9w3z-middle"]  # no reused Job


def test_k8s_jobs_run_id_and_parameter_given_at_submit(tmp_path: Path) -> None:
    with _kube(tmp_path) as kube:
        work = kube.workdir
        docs = _k8s_render(work, "greet.yaml", "-p", "greeting.yaml", "--run-id", "Greet_1")
        job = next(d for d in docs if d["kind"] == "Job")
        assert job["metadata"]["name"].startswith("greet-1-")  # DNS-1123, hash suffixed
        # `kubectl set env --local -f job.yaml MAGNUS_PRM_greeting='"bonjour"'`
        given = {"MAGNUS_PRM_greeting": '"bonjour"'}
        proc = _start_driver(kube, docs, job["metadata"]["name"], given)
        assert proc.returncode == 0, proc.stderr
        seen = json.loads((work / "greeting-seen").read_text())
        log = load_run_log(work, "Greet_1", work / "spec" / "config.yaml")
    assert seen == "bonjour"
    assert log.parameters["greeting"] == "bonjour"
    assert log.run_config["parameter_sources"] == {"greeting": "environment"}


# -- rendering: every Argo kind takes the arguments; bad input is refused ----------------
def test_argo_kinds_take_the_arguments_and_pass_the_official_schemas(tmp_path: Path) -> None:
    from magnus_render.render import render_text

    work = rerun.workdir(tmp_path / "w")
    (work / "p.yaml").write_text("lr: 0.1\nname: x\n")
    old = os.getcwd()
    os.chdir(work)
    try:
        for kind, extra in (
            ("Workflow", {}),
            ("WorkflowTemplate", {}),
            ("CronWorkflow", {"schedule": "0 * * * *"}),
        ):
            text, _ = render_text(
                Path("rerun.yaml"),
                "argo",
                config_file=Path("argo.yaml"),
                parameters_file=Path("p.yaml"),
                extra={"kind": kind, **extra},
                validate=True,
            )
            spec = yaml.safe_load(text)["spec"]
            spec = spec.get("workflowSpec", spec)
            names = [p["name"] for p in spec["arguments"]["parameters"]]
            values = [p["value"] for p in spec["arguments"]["parameters"]]
            assert names == ["use_cached", "run_id", "lr", "name"], kind
            assert values == ["", "", "0.1", '"x"'], kind
    finally:
        os.chdir(old)


def test_a_parameter_named_like_a_submit_argument_is_refused(tmp_path: Path) -> None:
    work = rerun.workdir(tmp_path / "w")
    (work / "p.yaml").write_text("run_id: 3\n")
    for target, config in (("argo", "argo.yaml"), ("shell", None), ("k8s-jobs", "k8s.yaml")):
        argv = ["--target", target, "-p", "p.yaml", "rerun.yaml"]
        proc = run_magnus_render(argv + (["-c", config] if config else []), work)
        if target == "argo":  # workflow arguments share one namespace
            assert proc.returncode == 2, proc.stderr
            assert "p.yaml" in proc.stderr and "'run_id'" in proc.stderr
            assert "Traceback" not in proc.stderr
        else:  # parameters named run_id are fine where nothing is named after them
            assert proc.returncode == 0, proc.stderr


def test_k8s_jobs_run_id_is_checked_and_not_taken_with_a_schedule(tmp_path: Path) -> None:
    work = rerun.workdir(tmp_path / "w")
    base = ["--target", "k8s-jobs", "-c", "k8s.yaml", "rerun.yaml"]
    bad = run_magnus_render([*base, "--run-id", "no spaces"], work)
    assert bad.returncode == 2 and "--run-id 'no spaces'" in bad.stderr
    cron = run_magnus_render([*base, "--run-id", "r1", "--schedule", "0 * * * *"], work)
    assert cron.returncode == 2 and "--schedule" in cron.stderr
    assert "Traceback" not in bad.stderr + cron.stderr


def test_argo_parameters_file_only_in_the_image_still_renders(tmp_path: Path) -> None:
    work = rerun.workdir(tmp_path / "w")
    argv = ["--target", "argo", "-c", "argo.yaml", "-p", "/app/params.yaml", "rerun.yaml"]
    proc = run_magnus_render(argv, work)
    assert proc.returncode == 0, proc.stderr
    assert "/app/params.yaml is not here" in proc.stderr
    spec = yaml.safe_load(proc.stdout)["spec"]
    assert [p["name"] for p in spec["arguments"]["parameters"]] == ["use_cached", "run_id"]
