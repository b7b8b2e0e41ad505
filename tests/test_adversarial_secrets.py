"""A secret's value never lands in a run log, a catalog entry, an execution log or a
rendered spec, whichever backend supplied it and whatever the run went through (map
iterations, a failed attempt and its retry, a shell step)."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.helpers.runlog import load_run_log, magnus_env

SECRET = "s3cr3t-VALUE-4242"
MAGNUS = [sys.executable, "-m", "magnus_render.cli"]
RENDER = [sys.executable, "-c", "from magnus_render.cli import render_main; render_main()"]
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()

TASKS = f'''
import hashlib
from pathlib import Path

from magnus_render import get_secret


def _check() -> int:
    token = get_secret("TOKEN")
    assert hashlib.sha256(token.encode()).hexdigest() == "{DIGEST}"
    return len(token)


def use():
    return {{"token_length": _check()}}


def use_item(item: int) -> None:
    _check()
    print("used the secret for item", item)


def flaky() -> None:
    _check()
    marker = Path("flaky.marker")
    if not marker.exists():
        marker.write_text("1")
        raise RuntimeError("first attempt fails on purpose (TOKEN was read)")
'''

PIPELINE = """
dag:
  start_at: use
  steps:
    use: {type: task, command: sec_tasks.use, next: each}
    each:
      type: map
      iterate_on: items
      iterate_as: item
      next: flaky
      branch:
        start_at: work
        steps:
          work: {type: task, command: sec_tasks.use_item, next: success}
          success: {type: success}
          fail: {type: fail}
    flaky: {type: task, command: sec_tasks.flaky, max_attempts: 2, next: shell}
    shell: {type: task, command_type: shell, command: "echo shell step ran", next: success}
    success: {type: success}
    fail: {type: fail}
"""

BACKENDS = {
    "env": "secrets:\n  type: env\n",
    "dotenv": "secrets:\n  type: dotenv\n  config:\n    location: secrets.env\n",
}


def leaks(folder: Path, skip: set[str]) -> list[str]:
    """Files under ``folder`` holding the secret (plain or base64)."""
    needles = (SECRET.encode(), base64.b64encode(SECRET.encode()))
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and path.name not in skip:
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path))
    return found


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_secret_never_written_by_a_run(backend: str, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "sec_tasks.py").write_text(TASKS)
    (run / "p.yaml").write_text(PIPELINE)
    (run / "params.yaml").write_text("items: [1, 2, 3]\n")
    (run / "secrets.env").write_text(f"TOKEN={SECRET}\n")
    config = BACKENDS[backend] + "run_log_store:\n  type: chunked-fs\n"
    (run / "config.yaml").write_text(config)
    env = magnus_env({"PYTHONPATH": str(run), **({"TOKEN": SECRET} if backend == "env" else {})})
    result = subprocess.run(
        [*MAGNUS, "execute", "p.yaml", "-c", "config.yaml", "-p", "params.yaml", "--run-id", "sec"],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    log = load_run_log(run, "sec", run / "config.yaml")
    assert log.parameters.get("token_length") == len(SECRET)  # the tasks did read it
    assert [a.status.value for a in log.steps["flaky"].attempts] == ["FAIL", "SUCCESS"]
    assert leaks(run, set()) == [str(run / "secrets.env")]  # the scanner does find it
    assert leaks(run, {"secrets.env"}) == []
    assert SECRET not in result.stdout + result.stderr


TARGET_SETTINGS = {
    "argo": ("secrets_from_k8s: ['TOKEN=tok-secret:token']", "tok-secret"),
    "k8s-jobs": ("secret_env: [{name: TOKEN, secret_name: tok-secret, key: token}]", "tok-secret"),
    "stepfunctions": (
        "secrets: {TOKEN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tok-secret'}",
        "",
    ),
    "shell": ("max_parallel: 2", ""),
    "mermaid": ("{}", ""),
}


@pytest.mark.parametrize("target", sorted(TARGET_SETTINGS))
def test_secret_never_rendered_into_a_spec(target: str, tmp_path: Path) -> None:
    """The value sits in the environment and in the dotenv file the config names; a spec
    may carry a reference to it (checked, so the setting is not silently ignored), never
    the value."""
    settings, reference = TARGET_SETTINGS[target]
    (tmp_path / "secrets.env").write_text(f"TOKEN={SECRET}\n")
    executor = {"mermaid": "local", "k8s-jobs": "k8s-job"}.get(target, target)
    config = (
        f"executor:\n  type: {executor}\n  config:\n    {settings}\n"
        "secrets:\n  type: dotenv\n  config:\n    location: secrets.env\n"
        # stores every pod or task can reach (the cluster targets refuse others)
        "run_log_store:\n  type: s3\n  config: {bucket: magnus-test}\n"
        "catalog:\n  type: s3\n  config: {bucket: magnus-test}\n"
    )
    (tmp_path / "config.yaml").write_text(config)
    out = tmp_path / "spec.out"
    extra = ["--image", "img:1", "-o", str(out)]
    extra += ["--with-infra"] if target == "stepfunctions" else []
    result = subprocess.run(
        [*RENDER, str(SAMPLES / "hello.yaml"), "--target", target, "-c", "config.yaml", *extra],
        cwd=tmp_path,
        env=magnus_env({"TOKEN": SECRET}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert SECRET not in text and base64.b64encode(SECRET.encode()).decode() not in text
    assert SECRET not in result.stderr
    if reference:
        assert reference in text, f"the secret reference is missing from the {target} spec"
