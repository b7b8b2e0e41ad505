"""rich markup in user-written text (step names, parameters, commands, task output, error
messages) is shown as written and never ends a run, on a terminal (rich live view) and
through a pipe (plain lines). The run log, the step logs in the catalog and a re-run with
``--use-cached`` come out as for any failed run."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.runlog import load_run_log, magnus_env, prepare_workdir, run_magnus
from tests.test_runtime_tty import run_on_tty

GREET = "[bold]greet"
EXPLODE = "x[/bold]explode[/]"
LABEL = "[/bold][link=file:///etc/passwd]label[/link][/]"

PIPELINE = f"""\
dag:
  description: "[red]unclosed"
  start_at: "{GREET}"
  steps:
    "{GREET}":
      type: task
      command_type: shell
      command: >-
        echo "[/bold] shell says $MAGNUS_PRM_label [link=http://x]";
        echo "[/] on stderr [bold" >&2;
        export MAGNUS_PRM_out="[/red]out"
      next: "{EXPLODE}"
    "{EXPLODE}":
      type: task
      command: mk_tasks.explode
      next: success
    success: {{type: success}}
    fail: {{type: fail}}
"""
FAILING = """
def explode(label: str, out: str) -> None:
    print("[/bold] python says", label, out)
    raise ValueError("[/bold] unbalanced [link=x] " + out)
"""
FIXED = """
def explode(label: str, out: str) -> dict:
    print("[/italic] fixed", label, out)
    return {"done": "[/]yes"}
"""


def _run(args: list[str], work: Path, terminal: bool) -> tuple[int, str]:
    if terminal:
        return run_on_tty(args, work)
    proc = run_magnus(args, work)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("terminal", [True, False], ids=["pty", "pipe"])
def test_markup_in_user_text_never_ends_a_run(tmp_path: Path, terminal: bool) -> None:
    work = prepare_workdir(tmp_path)
    (work / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    (work / "params.yaml").write_text(f'label: "{LABEL}"\n', encoding="utf-8")
    (work / "mk_tasks.py").write_text(FAILING, encoding="utf-8")

    code, output = _run(
        ["execute", "p.yaml", "-p", "params.yaml", "--run-id", "r1"], work, terminal
    )
    assert code == 1, output[-3000:]
    assert "Traceback" not in output.split("python says")[0], output[-3000:]
    assert "MarkupError" not in output
    assert "[/bold] unbalanced [link=x] [/red]out" in output  # the message, as written
    assert GREET in output and EXPLODE in output
    if terminal:
        assert "\x1b[" in output  # the rich live view drew

    log = load_run_log(work, "r1")
    assert log.status.value == "FAIL"
    assert log.parameters["label"] == LABEL
    assert log.steps[GREET].status.value == "SUCCESS"
    assert log.steps[EXPLODE].status.value == "FAIL"
    assert "ValueError: [/bold] unbalanced" in log.steps[EXPLODE].message
    for name in (GREET, EXPLODE):
        entries = [e for e in log.steps[name].data_catalog if e.name.endswith(".execution.log")]
        assert len(entries) == 1, name
    kept = [p.read_text() for p in (work / ".catalog" / "r1").rglob("*.execution.log")]
    assert len(kept) == 2
    # the shell sees the parameter JSON-encoded, as in magnus 0.5
    assert any(f"[/bold] shell says {json.dumps(LABEL)}" in text for text in kept)
    assert any("[/] on stderr [bold" in text for text in kept)
    assert any("ValueError: [/bold] unbalanced" in text for text in kept)

    code, shown = _run(["show", "r1"], work, terminal)
    assert code == 0 and GREET in shown and EXPLODE in shown and "[/bold] unbalanced" in shown

    (work / "mk_tasks.py").write_text(FIXED, encoding="utf-8")
    code, output = _run(
        ["execute", "p.yaml", "--run-id", "r2", "--use-cached", "r1"], work, terminal
    )
    assert code == 0, output[-3000:]
    again = load_run_log(work, "r2")
    assert again.status.value == "SUCCESS"
    assert again.steps[GREET].mock is True
    assert again.parameters["done"] == "[/]yes"


HANGUP_PIPELINE = """\
dag:
  start_at: wait
  steps:
    wait:
      type: task
      command_type: shell
      command: >-
        echo waiting; for i in $(seq 1 600); do [ -e go ] && break; sleep 0.05; done;
        echo "[/bold] done waiting"
      next: after
    after: {type: task, command_type: shell, command: 'echo "[/] after"', next: success}
    success: {type: success}
    fail: {type: fail}
"""


def test_a_terminal_gone_mid_run_does_not_end_the_run(tmp_path: Path) -> None:
    """The terminal closes while a step runs (writes to it fail with EIO): the live view
    gives way to plain lines that go nowhere and the run finishes; before, rich raised
    and the run died with the step PROCESSING."""
    work = prepare_workdir(tmp_path)
    (work / "p.yaml").write_text(HANGUP_PIPELINE, encoding="utf-8")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "magnus_render.cli", "execute", "p.yaml", "--run-id", "h"],
        cwd=work,
        env={**magnus_env(), "TERM": "xterm"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    try:
        while b"waiting" not in seen:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, seen
            seen += os.read(master, 65536)
    finally:
        os.close(master)  # the terminal goes away
    (work / "go").write_text("1")
    proc.wait(60)
    log = load_run_log(work, "h")
    assert log.status.value == "SUCCESS"
    assert [log.steps[s].status.value for s in ("wait", "after")] == ["SUCCESS", "SUCCESS"]
    kept = {p.name: p.read_text() for p in (work / ".catalog" / "h").rglob("*.execution.log")}
    assert "[/bold] done waiting" in kept["wait.attempt-1.execution.log"]
    assert "[/] after" in kept["after.attempt-1.execution.log"]


@pytest.mark.parametrize("terminal", [True, False], ids=["pty", "pipe"])
def test_markup_in_an_input_error_is_printed_as_written(tmp_path: Path, terminal: bool) -> None:
    """The CLI's error lines (exit 2) carry user text too: a file name, a YAML value."""
    work = prepare_workdir(tmp_path)
    (work / "[red]p.yaml").write_text('dag:\n  start_at: "[/bold]"\n  steps: {}\n')
    code, output = _run(["execute", "[red]p.yaml"], work, terminal)
    assert code == 2, output
    assert "[red]p.yaml:" in output and "Traceback" not in output
    code, output = _run(["execute", "[/bold]missing.yaml"], work, terminal)
    assert code == 2 and "[/bold]missing.yaml" in output and "Traceback" not in output
