"""as-is steps (magnus's fourth mode): validation, the two spellings, the per-target
mapping, local stub semantics, the SDK, and the shell target running the text with bash.

The rendered Argo, Kubernetes Jobs and Step Functions runs are in test_as_is_targets.py;
both use tests/as_is/as_is.yaml, whose rendered run is checked by :func:`check_rendered`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from magnus_render.errors import PipelineError
from magnus_render.pipeline import load_pipeline, load_pipeline_text
from magnus_render.pipeline.ir import NodeKind
from tests.helpers.runlog import load_run_log, magnus_env, run_magnus

AS_IS_DIR = Path(__file__).resolve().parent / "as_is"
PIPELINE = AS_IS_DIR / "as_is.yaml"
MARKER = "as-is-marker.txt"


def copy_pipeline(workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(PIPELINE, workdir / "as_is.yaml"))


def check_rendered(run_log, workdir: Path, marker: str = '"hello" $(x) $$ {{y}}\n') -> None:
    """What a rendered run of tests/as_is/as_is.yaml must leave: the text ran (with the
    parameters in scope, `$(`, `$$` and `{{` literal), `command` never ran, the failing
    text routed to on_failure, and each as-is step is a recorded step with an attempt."""
    assert (workdir / MARKER).read_text(encoding="utf-8") == marker
    assert (workdir / "before-failure").exists()
    assert (workdir / "recovered").exists()
    assert not (workdir / "never-run").exists()
    assert run_log.status.value == "SUCCESS"
    steps = run_log.steps
    assert [name for name in steps] == ["setup", "inject", "broken", "recovered", "success"]
    for name, status in (("inject", "SUCCESS"), ("broken", "FAIL"), ("recovered", "SUCCESS")):
        step = steps[name]
        assert step.step_type == "as-is" and not step.mock, step
        assert step.status.value == status, step
        [attempt] = step.attempts
        assert attempt.status.value == status
        assert attempt.start_time and attempt.end_time and attempt.duration
    assert steps["inject"].attempts[0].parameters == {"greeting": "hello"}
    assert "exited 3" in steps["broken"].message


# -- validation -------------------------------------------------------------------------
BAD = {
    "unknown key with a suggestion": (
        "      render_string: echo hi\n      nxt: success\n      next: success\n",
        7,
        "unknown field 'nxt' on as-is step 'a' (did you mean 'next'?)",
    ),
    "empty text": ('      render_string: ""\n      next: success\n', 6, "non-empty string"),
    "text not a string": ("      render_string: [a]\n      next: success\n", 6, "non-empty"),
    "empty mapping text": (
        "      render_string: {shell: ''}\n      next: success\n",
        6,
        "non-empty",
    ),
    "both spellings": (
        "      render_string: a\n      command_config: {render_string: b}\n      next: success\n",
        7,
        "either on the step or under command_config",
    ),
    "unknown key in command_config": (
        "      command_config: {render_string: b, shell: x}\n      next: success\n",
        6,
        "unknown field 'command_config.shell'",
    ),
}


def _one_step(fields: str) -> str:
    return (
        "dag:\n  start_at: a\n  steps:\n    a:\n      type: as-is\n"
        f"{fields}    success:\n      type: success\n    fail:\n      type: fail\n"
    )


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_as_is_step_is_refused_with_file_and_line(case: str, tmp_path: Path) -> None:
    fields, line, words = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text(_one_step(fields), encoding="utf-8")
    proc = run_magnus(["validate", str(path)], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{path}:{line}:" in proc.stderr and words in proc.stderr, proc.stderr


def test_both_spellings_and_the_mapping_give_the_same_ir() -> None:
    on_step = load_pipeline_text(_one_step("      render_string: echo hi\n      next: success\n"))
    nested = load_pipeline_text(
        _one_step("      command_config:\n        render_string: echo hi\n      next: success\n")
    )
    mapping = load_pipeline_text(
        _one_step("      render_string: {default: echo hi}\n      next: success\n")
    )
    nodes = [p.graph.node("a") for p in (on_step, nested, mapping)]
    assert all(n.kind is NodeKind.AS_IS for n in nodes)
    assert nodes[0].as_is == nodes[1].as_is == nodes[2].as_is
    assert nodes[0].as_is is not None and nodes[0].as_is.text_for("argo") == "echo hi"


def test_mapping_picks_the_target_then_default() -> None:
    node = load_pipeline(PIPELINE).graph.node("inject")
    assert node.as_is is not None
    assert "{{" not in (node.as_is.text_for("argo") or "")
    assert "{{y}}" in (node.as_is.text_for("shell") or "")
    assert node.as_is.command == "touch never-run"


def test_as_is_flags_refuse_other_steps(tmp_path: Path) -> None:
    workdir = tmp_path
    copy_pipeline(workdir)
    proc = run_magnus(
        ["execute_single_node", "r", "setup", "--file", "as_is.yaml", "--as-is", "true"], workdir
    )
    assert proc.returncode == 2 and "as-is steps only" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


# -- interactive executors: a stub that says it was rendered nowhere -------------------
@pytest.mark.parametrize("executor", ["local", "mocked"])
def test_local_run_records_as_is_as_rendered_nowhere(executor: str, tmp_path: Path) -> None:
    copy_pipeline(tmp_path)
    (tmp_path / "c.yaml").write_text(f"executor:\n  type: {executor}\n", encoding="utf-8")
    proc = run_magnus(["execute", "as_is.yaml", "-c", "c.yaml", "--run-id", "local"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("never-run", MARKER, "before-failure", "recovered"):
        assert not (tmp_path / name).exists(), name  # nothing ran: neither command nor text
    run_log = load_run_log(tmp_path, "local", tmp_path / "c.yaml")
    assert list(run_log.steps) == ["setup", "inject", "broken", "success"]
    for name in ("inject", "broken"):
        step = run_log.steps[name]
        assert step.mock and step.status.value == "SUCCESS" and step.step_type == "as-is"
        assert "rendered nowhere" in step.message
    shown = run_magnus(["show", "local", "-c", "c.yaml"], tmp_path)
    assert "inject [as-is] SUCCESS (rendered nowhere)" in shown.stdout, shown.stdout


# -- the SDK ----------------------------------------------------------------------------
def test_sdk_as_is_step_round_trips_to_yaml(tmp_path: Path) -> None:
    from magnus_render.sdk import AsIs, Pipeline, Task

    setup = Task(name="setup", command_type="shell", command="true")
    inject = AsIs(
        name="inject",
        command="touch never-run",
        render_string={"argo": "echo argo", "default": "echo $(x) {{y}}"},
        terminate_with_success=True,
    )
    setup >> inject
    pipeline = Pipeline(steps=[setup, inject], start_at=setup)
    path = tmp_path / "p.yaml"
    pipeline.to_yaml(str(path))
    from_yaml = load_pipeline(path).graph.node("inject")
    assert from_yaml.kind is NodeKind.AS_IS and from_yaml.as_is is not None
    assert dict(from_yaml.as_is.texts) == {"argo": "echo argo", "default": "echo $(x) {{y}}"}
    assert from_yaml.as_is.command == "touch never-run"


def test_sdk_as_is_unknown_keyword_names_the_python_line() -> None:
    from magnus_render.sdk import AsIs, Pipeline

    step = AsIs(name="a", render_string="x", nxt="b", terminate_with_success=True)
    line = sys._getframe().f_lineno - 1
    with pytest.raises(PipelineError) as info:
        Pipeline(steps=[step], start_at=step).to_yaml()
    assert f"test_as_is.py:{line}" in str(info.value) and "'nxt'" in str(info.value)


# -- the shell target ---------------------------------------------------------------------
def render_cli(workdir: Path, target: str, pipeline: str, *extra: str):
    """``magnus-render --target TARGET PIPELINE ...`` as a real subprocess."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from magnus_render.cli import render_main; render_main()",
            *("--target", target, pipeline, *extra),
        ],
        cwd=workdir,
        env=magnus_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _shell_config(workdir: Path) -> str:
    (workdir / "shell.yaml").write_text(
        "executor:\n  type: shell\n  config:\n"
        f"    magnus_command: [{sys.executable}, -m, magnus_render.cli]\n"
        f"    python_command: [{sys.executable}]\n",
        encoding="utf-8",
    )
    return "shell.yaml"


def test_shell_target_runs_the_text_as_its_own_lines(tmp_path: Path) -> None:
    copy_pipeline(tmp_path)
    config = _shell_config(tmp_path)
    proc = render_cli(tmp_path, "shell", "as_is.yaml", "-c", config, "-o", "wf.sh")
    assert proc.returncode == 0, proc.stderr
    script = (tmp_path / "wf.sh").read_text(encoding="utf-8")
    # the text is in the script as lines, not as a quoted argument
    assert "\nprintf '%s $(x) $$ {{y}}\\n' \"$MAGNUS_PRM_greeting\" > as-is-marker.txt\n" in script
    run = subprocess.run(
        ["bash", "wf.sh", "shell-run"],
        cwd=tmp_path,
        env=magnus_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    check_rendered(load_run_log(tmp_path, "shell-run", tmp_path / config), tmp_path)


def test_shell_text_runs_under_errexit_and_pipefail(tmp_path: Path) -> None:
    """`false` stops the lines (set -e holds even though the script runs them inside
    `if`), and a failing pipeline stage fails the step (pipefail)."""
    (tmp_path / "p.yaml").write_text(
        _one_step(
            "      render_string: |\n        false | true\n        touch after-pipe\n"
            "      next: success\n"
        ).replace(
            "    fail:",
            "    other:\n      type: as-is\n      render_string: x\n      next: success\n    fail:",
        ),
        encoding="utf-8",
    )
    config = _shell_config(tmp_path)
    proc = render_cli(tmp_path, "shell", "p.yaml", "-c", config, "-o", "wf.sh")
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run(
        ["bash", "wf.sh", "r"],
        cwd=tmp_path,
        env=magnus_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    assert not (tmp_path / "after-pipe").exists()
    run_log = load_run_log(tmp_path, "r", tmp_path / config)
    assert run_log.steps["a"].status.value == "FAIL"


def test_target_without_text_renders_a_stub_and_warns(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        _one_step("      render_string: {argo: touch argo-only}\n      next: success\n"),
        encoding="utf-8",
    )
    config = _shell_config(tmp_path)
    proc = render_cli(tmp_path, "shell", "p.yaml", "-c", config, "-o", "wf.sh")
    assert proc.returncode == 0, proc.stderr
    assert "p.yaml:4: as-is step 'a' has no render_string for target 'shell'" in proc.stderr
    assert "touch argo-only" not in (tmp_path / "wf.sh").read_text(encoding="utf-8")
    run = subprocess.run(
        ["bash", "wf.sh", "r"],
        cwd=tmp_path,
        env=magnus_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    step = load_run_log(tmp_path, "r", tmp_path / config).steps["a"]
    assert step.mock and step.status.value == "SUCCESS"


def test_render_string_naming_no_target_warns_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        _one_step("      render_string: {agro: x, default: 'true'}\n      next: success\n"),
        encoding="utf-8",
    )
    proc = render_cli(tmp_path, "shell", "p.yaml", "-c", _shell_config(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "p.yaml:4: as-is step 'a': render_string names 'agro', which is no target" in (
        proc.stderr
    )
    assert "(did you mean 'argo'?)" in proc.stderr


def test_shell_rerun_reuses_succeeded_as_is_steps_without_running_them(tmp_path: Path) -> None:
    copy_pipeline(tmp_path)
    config = _shell_config(tmp_path)
    assert render_cli(tmp_path, "shell", "as_is.yaml", "-c", config, "-o", "wf.sh").returncode == 0
    first = subprocess.run(
        ["bash", "wf.sh", "first"],
        cwd=tmp_path,
        env=magnus_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    (tmp_path / MARKER).unlink()
    (tmp_path / "before-failure").unlink()
    again = subprocess.run(
        ["bash", "wf.sh", "--use-cached", "first", "again"],
        cwd=tmp_path,
        env=magnus_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / MARKER).exists()  # succeeded before: reused, not run again
    assert (tmp_path / "before-failure").exists()  # failed before: runs again
    steps = load_run_log(tmp_path, "again", tmp_path / config).steps
    assert steps["inject"].mock and steps["inject"].status.value == "SUCCESS"
    assert not steps["broken"].mock and steps["broken"].status.value == "FAIL"
    assert steps["recovered"].mock  # succeeded before, reached again through on_failure
