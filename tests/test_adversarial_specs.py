"""Names and values an orchestrator would rewrite reach the containers as written.

Kubernetes expands ``$(VAR)`` and ``$$`` in container commands and env values; Argo
substitutes ``{{...}}`` in parameter values (map items included); a step named ``-x``
looks like an option to a command line. One small hostile pipeline (step names ``-lead``,
``--help``, ``$(HOME)``, ``$$``, quotes, ``[bold]``, unicode; map items with ``{{...}}``;
an env setting with ``$(HOME)``) runs through each target, played by the test machinery
that models those rewrites (``tests/helpers/kubernetes.py``, ``tests/argo_player.py``,
``tests/k8s_fake_api.py``), and its run log must equal the local run's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from magnus_render.config import load_config
from magnus_render.contract.k8s_spec import literal
from magnus_render.contract.protocol import encode_map_variable
from magnus_render.pipeline import load_pipeline
from magnus_render.renderers.argo import ArgoRenderer
from magnus_render.renderers.base import RenderOptions
from tests.argo_player import Player, magnus_shim, play_workflow, substitute_globals
from tests.helpers.deps import require
from tests.helpers.kubernetes import container_env, expand
from tests.helpers.runlog import load_run_log, magnus_env, normalize

NAMES = ["-lead", "--help", "x $(HOME) $$ [bold] 'q' \"d\" \\ ü"]
ITEMS = ["$(HOME)", "$$", "{{workflow.name}}", "-lead", "[bold]", "ü ✓", "a\\b", "{{=1+1}}"]
#: the same hostility in fewer items, for the runs kept out of the slow set
FEW_ITEMS = ["$(HOME) $$ -lead", "{{workflow.name}} {{=1+1}} [bold]", "ü ✓ a\\b $é"]
ENV_VALUE = "$(HOME) $$ {x} $é"
INNER = "-in $(HOME) $$"  # the task in the map: a Job of its own on k8s-jobs
RENDER = [sys.executable, "-c", "from magnus_render.cli import render_main; render_main()"]


def hostile(folder: Path, names: list[str] = NAMES, items: list[str] = ITEMS) -> Path:
    steps: dict[str, Any] = {}
    for i, name in enumerate(names):
        steps[name] = {"type": "stub", "next": names[i + 1] if i + 1 < len(names) else "env"}
    steps["env"] = {
        "type": "task",
        "command_type": "shell",
        "command": 'export MAGNUS_PRM_seen="$HOSTILE_ENV"',
        "next": "each",
    }
    inner = INNER
    steps["each"] = {
        "type": "map",
        "iterate_on": "values",
        "iterate_as": "value",
        "next": "success",
        "branch": {
            "start_at": inner,
            "steps": {
                inner: {
                    "type": "task",
                    "command_type": "shell",
                    "command": 'export MAGNUS_PRM_got="<$MAGNUS_PRM_value>"',
                    "next": "success",
                },
                "success": {"type": "success"},
                "fail": {"type": "fail"},
            },
        },
    }
    steps["success"] = {"type": "success"}
    steps["fail"] = {"type": "fail"}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hostile.yaml"
    doc = {"dag": {"start_at": names[0], "steps": steps}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    (folder / "params.yaml").write_text(json.dumps({"values": items}), encoding="utf-8")
    return path


def local_log(
    folder: Path, pipeline: Path, names: list[str] = NAMES, items: list[str] = ITEMS
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "magnus_render.cli", "execute", pipeline.name]
    cmd += ["--parameters-file", "params.yaml", "--run-id", "local"]
    env = magnus_env({"HOSTILE_ENV": ENV_VALUE})
    proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    log = normalize(load_run_log(folder, "local"))
    assert log["parameters"]["seen"] == ENV_VALUE
    # shell tasks see parameters JSON-encoded (magnus 0.5), so each item arrives quoted
    assert sorted(log["parameters"]["got"]) == sorted(f"<{json.dumps(i)}>" for i in items)
    assert set(names) <= set(log["steps"])
    return log


# -- the models and the escapes, quickly --------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A) $(B) $$(A) $$ $", "1 $(B) $(A) $ $"),
        ("$(unclosed", "$(unclosed"),
        ("a$bc$", "a$bc$"),
        ("$(A)$(A)", "11"),
        ("$é", "$Ã\udca9"),  # Go copies the byte after '$' as a code point
    ],
)
def test_kubernetes_expansion_model(text: str, expected: str) -> None:
    assert expand(text, {"A": "1"}) == expected


def test_env_values_expand_in_order() -> None:
    entries = [{"name": "A", "value": "1"}, {"name": "B", "value": "$(A)$(C)"}, {"name": "C"}]
    assert container_env(entries, {"C": "3"}) == {"A": "1", "B": "1$(C)", "C": "3"}


@pytest.mark.parametrize("text", [*NAMES, *ITEMS, ENV_VALUE, "$$$(", "$", ""])
def test_literal_survives_kubernetes(text: str) -> None:
    assert expand(literal(text), {"HOME": "/root", "A": "1"}) == text


@pytest.mark.parametrize("item", [*ITEMS, ENV_VALUE, "{{{x}}}", "\\{{", {"n": [{"$": "{{"}]}])
def test_map_variable_word_survives_argo_and_kubernetes(item: Any) -> None:
    word = encode_map_variable({"value": item})
    assert word is not None and "$" not in word and "{{" not in word
    seen = expand(substitute_globals(word, {"workflow.name": "wf"}), {"HOME": "/root"})
    assert json.loads(seen) == {"value": item}


def test_argo_refuses_braces_in_a_config_value(tmp_path: Path) -> None:
    pipeline = hostile(tmp_path)
    config = tmp_path / "argo.yaml"
    config.write_text(
        "executor:\n  type: argo\n  config:\n    image: i:1\n"
        "    annotations:\n      note: 'run {{workflow.name}}'\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [*RENDER, "--target", "argo", pipeline.name, "-c", config.name],
        cwd=tmp_path,
        env=magnus_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "argo.yaml:5: executor: config.annotations.note:" in proc.stderr
    assert "{{" in proc.stderr and "Traceback" not in proc.stderr


def test_argo_spec_escapes_dollars_in_commands_and_env(tmp_path: Path) -> None:
    pipeline = hostile(tmp_path)
    doc = argo_doc(tmp_path, pipeline)
    tasks = [t for tpl in doc["spec"]["templates"] for t in (tpl.get("dag") or {}).get("tasks", [])]
    values = [p["value"] for t in tasks for p in t["arguments"]["parameters"]]
    assert "x $$(HOME) $$$$ [bold] 'q' \"d\" \\ ü" in values
    env = [
        e for tpl in doc["spec"]["templates"] for e in (tpl.get("container") or {}).get("env", [])
    ]
    assert {e["value"] for e in env} == {literal(ENV_VALUE)}


# -- whole runs ---------------------------------------------------------------------------
class RecordingPods(Player):
    """Plays the Workflow without running magnus: records what each container receives
    (after Argo's substitution and the kubelet's expansion) and writes the map items as
    ``magnus fan --mode out`` does."""

    def __init__(self, doc: dict[str, Any], workdir: Path) -> None:
        super().__init__(doc, workdir, {}, workflow_name="argo-play")
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def run_container(self, argv: list[str], env: dict[str, str]) -> int:
        self.calls.append((argv, env))
        if "--items-file" in argv:
            items = [encode_map_variable({"value": item}) for item in ITEMS]
            Path(argv[argv.index("--items-file") + 1]).write_text(json.dumps(items), "utf-8")
        return 0


def test_argo_containers_receive_names_items_and_env_as_written(tmp_path: Path) -> None:
    pipeline = hostile(tmp_path)
    player = RecordingPods(argo_doc(tmp_path, pipeline), tmp_path)
    assert player.run().phase == "Succeeded"
    names, items = set(), []
    for argv, env in player.calls:
        assert env["HOSTILE_ENV"] == ENV_VALUE
        assert argv[argv.index("magnus") + 1] in ("execute_single_node", "fan")
        assert argv[-3:-1] == ["--", "argo-play"], argv  # the name is never an option
        names.add(argv[-1])
        if "--map-variable" in argv and argv[-1].endswith(INNER):
            items.append(json.loads(argv[argv.index("--map-variable") + 1])["value"])
    assert {*NAMES, "env", "each", f"each.{{map}}.{INNER}"} <= names
    assert sorted(items) == sorted(ITEMS)


def argo_doc(folder: Path, pipeline: Path) -> dict[str, Any]:
    config = folder / "argo.yaml"
    config.write_text(
        yaml.safe_dump(
            {"executor": {"type": "argo", "config": {"env": {"HOSTILE_ENV": ENV_VALUE}}}}
        ),
        encoding="utf-8",
    )
    options = RenderOptions(pipeline_file=pipeline.name, image="i:1", parameters_file="params.yaml")
    renderer = ArgoRenderer(load_pipeline(pipeline), load_config(config), options)
    return yaml.safe_load(renderer.render().text)


@pytest.mark.slow  # ~30 magnus processes; the recorded play below runs in CI
def test_hostile_pipeline_through_argo_matches_local(tmp_path: Path) -> None:
    pipeline = hostile(tmp_path)
    doc = argo_doc(tmp_path, pipeline)
    bin_dir = magnus_shim(tmp_path.parent / f"{tmp_path.name}-bin", sys.executable)
    env = magnus_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    play = play_workflow(doc, tmp_path, env, workflow_name="argo-play")
    assert play.phase == "Succeeded", play.pods
    assert normalize(load_run_log(tmp_path, "argo-play")) == local_log(tmp_path, pipeline)


@pytest.mark.slow  # ~30 magnus processes; the k8s-jobs run and the recorded play run in CI
def test_hostile_pipeline_through_the_shell_script_matches_local(tmp_path: Path) -> None:
    pipeline = hostile(tmp_path)
    script = tmp_path / "wf.sh"
    config = tmp_path / "shell.yaml"
    magnus = [sys.executable, "-m", "magnus_render.cli"]
    config.write_text(
        yaml.safe_dump({"executor": {"type": "shell", "config": {"magnus_command": magnus}}}),
        encoding="utf-8",
    )
    render = [*RENDER, "--target", "shell", pipeline.name, "-p", "params.yaml"]
    render += ["-c", config.name, "-o", script.name]
    proc = subprocess.run(render, cwd=tmp_path, env=magnus_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    env = magnus_env({"HOSTILE_ENV": ENV_VALUE})
    proc = subprocess.run(
        ["bash", script.name, "shell-run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert normalize(load_run_log(tmp_path, "shell-run", config)) == local_log(tmp_path, pipeline)


def test_hostile_pipeline_through_k8s_jobs_matches_local(tmp_path: Path) -> None:
    require("kubernetes")
    from tests.k8s_fake_api import FakeKubernetes

    work = tmp_path / "work"
    pipeline = hostile(work, items=FEW_ITEMS)
    config = work / "k8s.yaml"
    settings = {"image": "i:1", "parallelism": 2, "env": {"HOSTILE_ENV": ENV_VALUE}}
    config.write_text(yaml.safe_dump({"executor": {"type": "k8s-job", "config": settings}}))
    with FakeKubernetes(work, env=magnus_env()) as api:
        api.kubeconfig(tmp_path / "kubeconfig")
        env = magnus_env({"KUBECONFIG": str(tmp_path / "kubeconfig")})
        driver = [sys.executable, "-m", "magnus_render.runtime.executors.k8s_job"]
        driver += ["--file", pipeline.name, "--config-file", config.name]
        driver += ["--parameters-file", "params.yaml", "--run-id", "k8s-run"]
        proc = subprocess.run(
            driver, cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        commands = [
            b["spec"]["template"]["spec"]["containers"][0]["command"] for b in api.created_jobs
        ]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ["--", "k8s-run", literal(f"each.{{map}}.{INNER}")] in [c[-3:] for c in commands]
    assert normalize(load_run_log(work, "k8s-run", config)) == local_log(
        work, pipeline, items=FEW_ITEMS
    )


@pytest.mark.slow  # a moto server and ~30 task processes
def test_hostile_pipeline_through_step_functions_matches_local(tmp_path: Path) -> None:
    """ASL run by moto's interpreter (tasks as local processes, S3 on 127.0.0.1)."""
    from magnus_render.render import render_text
    from tests.sfn_harness import moto_server, run_execution

    work = tmp_path / "work"
    # moto's interpreter decodes States.Base64Decode as ASCII: non-ASCII names left out
    names = [n for n in NAMES if n.isascii()] + ["x $(HOME) $$ [bold] 'q' \\"]
    pipeline = hostile(work, names)
    container_env = {"HOSTILE_ENV": ENV_VALUE}
    with moto_server(route_tasks=True, workdir=work, container_env=container_env) as server:
        server.client("s3").create_bucket(Bucket="hostile")
        s3 = f"{{bucket: hostile, endpoint_url: '{server.endpoint}'}}"
        (work / "sfn.yaml").write_text(
            "executor:\n  type: stepfunctions\n  config:\n    items_bucket: hostile\n"
            "    state_machine_name: hostile\n"
            f"run_log_store:\n  type: s3\n  config: {s3}\n"
            f"catalog:\n  type: s3\n  config: {s3}\n",
            encoding="utf-8",
        )
        cwd = os.getcwd()
        os.chdir(work)
        try:
            text, _ = render_text(
                Path(pipeline.name), "stepfunctions", Path("sfn.yaml"), Path("params.yaml")
            )
        finally:
            os.chdir(cwd)
        described = run_execution(server, {"hostile": json.loads(text)}, "sfn-run", timeout=900)
        assert described["status"] == "SUCCEEDED", described
        remote = normalize(load_run_log(work, "sfn-run", work / "sfn.yaml"))
    (work / "routed-tasks.jsonl").unlink(missing_ok=True)
    assert remote == local_log(work, pipeline, names)


def test_rich_progress_prints_markup_like_names_as_written(tmp_path: Path) -> None:
    """On a terminal the live view prints step names: ``[/]`` and ``[bold]`` are text."""
    import pty

    name = "a [/] [bold]b [red"
    steps = {
        name: {"type": "stub", "next": "success"},
        "success": {"type": "success"},
        "fail": {"type": "fail"},
    }
    (tmp_path / "rich.yaml").write_text(json.dumps({"dag": {"start_at": name, "steps": steps}}))
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "magnus_render.cli", "execute", "rich.yaml", "--run-id", "tty"],
        cwd=tmp_path,
        env=magnus_env({"TERM": "xterm", "COLUMNS": "200"}),
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert proc.wait(timeout=120) == 0, output.decode(errors="replace")
    assert name in output.decode(errors="replace")
    assert load_run_log(tmp_path, "tty").status.value == "SUCCESS"


def test_k8s_jobs_driver_escapes_values_but_expands_its_run_id(tmp_path: Path) -> None:
    pipeline = hostile(tmp_path)
    settings = {"image": "i:1", "env": {"HOSTILE_ENV": ENV_VALUE}}
    (tmp_path / "k8s.yaml").write_text(
        yaml.safe_dump({"executor": {"type": "k8s-job", "config": settings}})
    )
    out = tmp_path / "k8s-out.yaml"
    proc = subprocess.run(
        [*RENDER, "--target", "k8s-jobs", pipeline.name, "-c", "k8s.yaml", "-o", out.name],
        cwd=tmp_path,
        env=magnus_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    job = next(d for d in yaml.safe_load_all(out.read_text()) if d and d["kind"] == "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    variables = container_env(container["env"], {"MAGNUS_RUN_ID": "driver-1"})
    assert variables["HOSTILE_ENV"] == ENV_VALUE
    assert expand(container["command"][-1], variables) == "driver-1"
