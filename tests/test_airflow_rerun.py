"""Clear-and-rerun as Airflow does it: a cleared task runs its step's command again in the
same DAG run, so under the same magnus run id. The step's earlier failed attempts stay in
the run log, the new ones are numbered after them, succeeded steps are left alone, and the
run ends SUCCESS when the re-run reaches the success node.

(``airflow dags test`` always makes a new DAG run, so the clear is played here with the
same commands the cleared tasks run.)
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.runlog import load_run_log, run_magnus

PIPELINE = """\
dag:
  start_at: first
  steps:
    first:
      type: task
      command_type: shell
      command: echo first
      next: flaky
    flaky:
      type: task
      command_type: shell
      command: test -f fixed
      max_attempts: 2
      next: last
    last:
      type: stub
      next: success
    success:
      type: success
    fail:
      type: fail
"""


def node(workdir: Path, step: str) -> int:
    args = ["execute_single_node", "--file", "p.yaml", "--", "the-run", step]
    return run_magnus(args, workdir).returncode


def test_cleared_failed_step_runs_again_as_new_attempts(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    assert node(tmp_path, "first") == 0
    assert node(tmp_path, "flaky") == 1  # both attempts fail
    assert node(tmp_path, "fail") == 0  # the DAG run ends failed here
    assert load_run_log(tmp_path, "the-run").status == "FAIL"
    first_before = load_run_log(tmp_path, "the-run").steps["first"]

    (tmp_path / "fixed").write_text("", encoding="utf-8")  # the user fixed the cause
    # the user clears `flaky` and its downstream: those tasks run again, `first` does not
    assert node(tmp_path, "flaky") == 0
    assert node(tmp_path, "last") == 0
    assert node(tmp_path, "success") == 0

    log = load_run_log(tmp_path, "the-run")
    flaky = log.steps["flaky"]
    assert [(a.attempt_number, a.status) for a in flaky.attempts] == [
        (1, "FAIL"),
        (2, "FAIL"),
        (3, "SUCCESS"),
    ]
    assert flaky.status == "SUCCESS"
    assert log.steps["first"] == first_before
    assert log.status == "SUCCESS"
