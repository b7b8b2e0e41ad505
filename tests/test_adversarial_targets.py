"""Hostile step names, commands, file names and map items through every target.

Names and items are built to inject shell (``$(touch PWNED1)``, backticks, quotes), Argo
expressions (``{{...}}``) and ASL intrinsics. Executed paths (``magnus execute``, the
rendered shell script in real bash, the Argo Workflow through the test player) must run
them as data: the run succeeds, the map sees every item verbatim, no PWNED file appears
anywhere, and nothing outside the run folder changes. Step Functions and Kubernetes specs
are checked statically: every name reaches a container as exactly one argv word.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from magnus_render.config import load_config
from magnus_render.pipeline import load_pipeline
from magnus_render.pipeline.build import load_pipeline_text
from magnus_render.renderers.argo import ArgoRenderer
from magnus_render.renderers.base import RenderOptions
from tests.argo_player import magnus_shim, play_workflow
from tests.conftest import ROOT
from tests.helpers.runlog import load_run_log, magnus_env, normalize
from tests.helpers.shared_stores import S3_STORES, played_argo_config
from tests.test_shell_conformance import render_script

NAMES = [
    "a $(touch PWNED1)",
    "b `touch PWNED2`",
    "c'; touch PWNED3; '",
    'd" && touch PWNED4 #',
    "f ${HOME} $$ \\",
    "g | tee PWNED5 > /dev/null",
    "ü ✓ 日本 🚀",
]
ARGO_EXPRESSION_NAME = "e {{inputs}} {{workflow_name}}"
ITEMS = [
    "$(touch PWNED10)",
    "{{workflow.name}}",
    "x'y\"z",
    "two\nlines",
    "States.Format('{}', $$.Execution.Name)",
    "ü ✓",
    "-" * 2 + "file /etc/passwd",
]
RENDER = [sys.executable, "-c", "from magnus_render.cli import render_main; render_main()"]
ECHO = "echo '$(touch PWNED7) `touch PWNED8`' > echoed.txt"


def hostile_pipeline(folder: Path, argo_names: bool = True, non_ascii: bool = True) -> Path:
    """Stubs with hostile names, a hostile shell command, a map over hostile items."""
    names = [*NAMES, *([ARGO_EXPRESSION_NAME] if argo_names else [])]
    names = [n for n in names if non_ascii or n.isascii()]
    steps: dict[str, Any] = {}
    for i, name in enumerate(names):
        steps[name] = {"type": "stub", "next": names[i + 1] if i + 1 < len(names) else "cmd"}
    steps["cmd"] = {"type": "task", "command_type": "shell", "command": ECHO, "next": "each"}
    inner = "w $(touch PWNED9)"
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
                    # one write per item: iterations run at once, and two appends (the
                    # value, then its newline) of two items could interleave
                    "command": 'line=$(printf "%s\\n" "$MAGNUS_PRM_value" | base64 -w0); '
                    'printf "%s\\n" "$line" >> items.b64',
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
    path = folder / "p $(touch PWNED11) 'q'.yaml"
    doc = {"dag": {"start_at": names[0], "steps": steps}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    (folder / "params.yaml").write_text(json.dumps({"values": ITEMS}), encoding="utf-8")
    return path


class Sandbox:
    """A run folder plus HOME and TMPDIR of its own; everything else is watched."""

    def __init__(self, tmp_path: Path) -> None:
        self.base = tmp_path
        self.run = tmp_path / "run"
        self.home = tmp_path / "home"
        self.tmp = tmp_path / "tmp"
        for folder in (self.run, self.home, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        (self.home / "keep.txt").write_text("untouched\n")
        self.before = self.outside()

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return magnus_env({"HOME": str(self.home), "TMPDIR": str(self.tmp), **(extra or {})})

    def outside(self) -> dict[str, tuple[int, int]]:
        """Every file outside the run folder and TMPDIR, with size and mtime."""
        seen = {}
        for path in self.base.rglob("*"):
            if self.run in path.parents or self.tmp in path.parents or path.is_dir():
                continue
            stat = path.stat()
            seen[str(path)] = (stat.st_size, stat.st_mtime_ns)
        return seen

    def assert_clean(self) -> None:
        assert self.outside() == self.before, "files outside the run folder changed"
        pwned = [*self.base.rglob("PWNED*"), *ROOT.glob("PWNED*"), *Path("/tmp").glob("PWNED*")]
        assert pwned == [], pwned


def assert_items_seen(run: Path) -> None:
    """Each map item reached its task verbatim (base64 per line: newlines survive)."""
    lines = (run / "items.b64").read_text().split()
    # MAGNUS_PRM_* values are JSON-encoded, strings included (as in magnus 0.5)
    seen = sorted(json.loads(base64.b64decode(line).decode()) for line in lines)
    assert seen == sorted(ITEMS)
    assert (run / "echoed.txt").read_text() == "$(touch PWNED7) `touch PWNED8`\n"


def run_local(box: Sandbox, pipeline: Path, run_id: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "magnus_render.cli", "execute", pipeline.name]
    cmd += ["--parameters-file", "params.yaml", "--run-id", run_id]
    return subprocess.run(
        cmd, cwd=box.run, env=box.env(), capture_output=True, text=True, timeout=300
    )


def test_hostile_pipeline_through_magnus_execute(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    pipeline = hostile_pipeline(box.run)
    result = run_local(box, pipeline, "local")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert_items_seen(box.run)
    log = load_run_log(box.run, "local")
    assert log.status.value == "SUCCESS"
    assert set(NAMES) <= set(log.steps)
    box.assert_clean()


@pytest.mark.slow  # ~30 magnus processes; test_shell_conformance covers hostile names in CI
def test_hostile_pipeline_through_the_shell_script(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    pipeline = hostile_pipeline(box.run)
    script = render_script(
        box.run, pipeline, pipeline.name, max_parallel=3, parameters_file="params.yaml"
    )
    result = subprocess.run(
        ["bash", str(script), "shell-run"],
        cwd=box.run,
        env=box.env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert_items_seen(box.run)
    assert load_run_log(box.run, "shell-run").status.value == "SUCCESS"
    box.assert_clean()


@pytest.mark.slow
def test_hostile_pipeline_through_argo_matches_local(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    pipeline = hostile_pipeline(box.run, argo_names=False)
    config = box.run / "argo.yaml"
    config.write_text(yaml.safe_dump(played_argo_config(box.run)), encoding="utf-8")
    options = RenderOptions(
        pipeline_file=pipeline.name,
        image="magnus:test",
        parameters_file="params.yaml",
        config_file=config.name,
    )
    doc = yaml.safe_load(
        ArgoRenderer(load_pipeline(pipeline), load_config(config), options).render().text
    )
    bin_dir = magnus_shim(box.tmp / "bin", sys.executable)
    env = box.env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    play = play_workflow(doc, box.run, env, workflow_name="argo-play")
    assert play.phase == "Succeeded", play.pods
    assert_items_seen(box.run)
    (box.run / "items.b64").unlink()
    assert run_local(box, pipeline, "local").returncode == 0
    assert normalize(load_run_log(box.run, "argo-play", config)) == normalize(
        load_run_log(box.run, "local", config)
    )
    box.assert_clean()


def test_argo_refuses_names_it_would_substitute(tmp_path: Path) -> None:
    """`{{` in a name cannot be escaped in Argo: a clear refusal, exit 2, no traceback."""
    pipeline = hostile_pipeline(tmp_path)
    result = subprocess.run(
        [*RENDER, "--target", "argo", str(pipeline), "--image", "i:1"],
        capture_output=True,
        text=True,
        env=magnus_env(),
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert "{{" in result.stderr and "Traceback" not in result.stderr
    assert f"{pipeline}:1: step " in result.stderr  # the usual file:line: form
    assert result.stdout == ""


# -- static checks of the specs that cannot run here ---------------------------------------
def render_cli(target: str, pipeline: Path, cwd: Path, *extra: str) -> str:
    out = cwd / f"out-{target}.txt"
    stores = cwd / "s3-stores.yaml"  # reachable from every pod or task
    stores.write_text(yaml.safe_dump(S3_STORES), encoding="utf-8")
    extra = ("-c", stores.name, *extra)
    result = subprocess.run(
        [*RENDER, "--target", target, pipeline.name, "--image", "i:1", "-o", str(out), *extra],
        capture_output=True,
        text=True,
        env=magnus_env(),
        cwd=cwd,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return out.read_text(encoding="utf-8")


_ASL_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'")
_ASL_BASE64 = re.compile(r"States\.Base64Decode\('([A-Za-z0-9+/=]*)'\)")


def intrinsic_args(expression: str) -> list[str]:
    """The top-level arguments of ``States.Array(...)``; string literals (plain or
    ``States.Base64Decode``) decoded."""
    assert expression.startswith("States.Array(") and expression.endswith(")"), expression
    body = expression[len("States.Array(") : -1]
    args, depth, current, quote, i = [], 0, "", False, 0
    while i < len(body):
        ch = body[i]
        if quote:
            current += ch
            if ch == "\\":
                current += body[i + 1]
                i += 1
            elif ch == "'":
                quote = False
        elif ch == "'":
            quote, current = True, current + ch
        elif ch in "(":
            depth, current = depth + 1, current + ch
        elif ch == ")":
            depth, current = depth - 1, current + ch
        elif ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += ch
        i += 1
    args.append(current.strip())
    decoded = []
    for arg in args:
        match, packed = _ASL_STRING.fullmatch(arg), _ASL_BASE64.fullmatch(arg)
        if packed:
            decoded.append(base64.b64decode(packed.group(1)).decode("utf-8"))
        else:
            decoded.append(re.sub(r"\\(.)", r"\1", match.group(1)) if match else arg)
    return decoded


def _commands(node: Any) -> list[str]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Command.$":
                found.append(value)
            else:
                found.extend(_commands(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_commands(value))
    return found


def test_stepfunctions_passes_each_hostile_name_as_one_argv_word(tmp_path: Path) -> None:
    pipeline = hostile_pipeline(tmp_path)
    asl = json.loads(render_cli("stepfunctions", pipeline, tmp_path))
    words = [intrinsic_args(c) for c in _commands(asl)]
    assert words, "no container commands found"
    internal = [w[-1] for w in words if "execute_single_node" in w]  # after --
    for name in [*NAMES, ARGO_EXPRESSION_NAME, "cmd"]:
        assert name in internal, (name, internal)
    for argv in words:
        assert argv[argv.index("--file") + 1] == pipeline.name
        assert argv[0] in ("magnus", "/usr/local/bin/magnus"), argv
    assert list(tmp_path.rglob("PWNED*")) == []


def test_k8s_jobs_carries_names_as_data_not_code(tmp_path: Path) -> None:
    """The pipeline travels in a ConfigMap; no container command holds a hostile word."""
    pipeline = hostile_pipeline(tmp_path)
    docs = list(yaml.safe_load_all(render_cli("k8s-jobs", pipeline, tmp_path)))
    config_maps = [d for d in docs if d and d.get("kind") == "ConfigMap"]
    texts = [v for cm in config_maps for v in (cm.get("data") or {}).values()]
    loaded = [load_pipeline_text(t, "cm.yaml") for t in texts if '"dag"' in t or "dag:" in t]
    assert loaded, "the pipeline is not in a ConfigMap"
    assert set(NAMES) <= set(loaded[0].graph.nodes)
    words = [
        w
        for d in docs
        if d
        for c in _containers(d)
        for w in c.get("command", []) + c.get("args", [])
    ]
    assert words, "no containers found"
    for word in words:
        assert "PWNED" not in word.upper() and "`" not in word, word
        assert "$(" not in word.replace("$(MAGNUS_RUN_ID)", ""), word


def _containers(node: Any) -> list[dict]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                found.extend(value)
            else:
                found.extend(_containers(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_containers(value))
    return found


@pytest.mark.slow
def test_hostile_pipeline_through_step_functions(tmp_path: Path) -> None:
    """The ASL run by moto's interpreter, tasks as local processes, S3 on 127.0.0.1."""
    from magnus_render.render import render_text
    from tests.sfn_harness import moto_server, run_execution

    box = Sandbox(tmp_path)
    # non-ASCII names are left out: the renderer passes them through States.Base64Decode,
    # which moto's interpreter (ported from LocalStack) decodes as ASCII and fails
    pipeline = hostile_pipeline(box.run, non_ascii=False)
    container_env = {"HOME": str(box.home), "TMPDIR": str(box.tmp)}
    with moto_server(route_tasks=True, workdir=box.run, container_env=container_env) as server:
        server.client("s3").create_bucket(Bucket="hostile")
        s3 = f"{{bucket: hostile, endpoint_url: '{server.endpoint}'}}"
        (box.run / "sfn.yaml").write_text(
            "executor:\n  type: stepfunctions\n  config:\n    items_bucket: hostile\n"
            "    state_machine_name: hostile\n"
            "    state_machine_arn_prefix: 'arn:aws:states:us-east-1:123456789012:stateMachine:'\n"
            f"run_log_store:\n  type: s3\n  config: {s3}\n"
            f"catalog:\n  type: s3\n  config: {s3}\n",
            encoding="utf-8",
        )
        cwd = os.getcwd()
        os.chdir(box.run)
        try:
            text, _ = render_text(
                Path(pipeline.name), "stepfunctions", Path("sfn.yaml"), Path("params.yaml")
            )
        finally:
            os.chdir(cwd)
        document = json.loads(text)
        machines = document.get("StateMachines") or {"hostile": document}
        described = run_execution(server, machines, "sfn-hostile", timeout=900)
    assert described["status"] == "SUCCEEDED", described
    assert_items_seen(box.run)
    (box.run / "routed-tasks.jsonl").unlink(missing_ok=True)
    box.assert_clean()
