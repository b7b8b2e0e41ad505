"""While a task runs, every parameter in scope is in its environment as MAGNUS_PRM_<name>,
JSON-encoded (strings too, as magnus 0.5 did), whatever the task type; afterwards the
process environment is exactly what it was, also when the task failed or raised."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers.deps import require
from tests.helpers.runlog import execute_in_process

TASKS = """
import json
import os


def start():
    return {"word": "spam", "n": 2, "nested": {"a": [1]}}


def read_env():
    assert os.environ["MAGNUS_PRM_word"] == '"spam"'
    assert json.loads(os.environ["MAGNUS_PRM_n"]) == 2
    assert json.loads(os.environ["MAGNUS_PRM_nested"]) == {"a": [1]}
    os.environ["MAGNUS_PRM_from_python"] = json.dumps("set in os.environ")
    os.environ["LEAKY_VARIABLE"] = "from read_env"
    del os.environ["KEPT_VARIABLE"]
    raise RuntimeError("fails after changing os.environ")


def after_failure():
    assert "LEAKY_VARIABLE" not in os.environ, "a failed step leaked its environment"
    assert os.environ["KEPT_VARIABLE"] == "kept", "a failed step removed a variable"
    assert "MAGNUS_PRM_from_python" not in os.environ
    os.environ["LEAKY_VARIABLE"] = "again"
    os.environ["MAGNUS_PRM_published"] = "[1, 2]"


def check_clean(published):
    assert published == [1, 2]
    assert "LEAKY_VARIABLE" not in os.environ, "a successful step leaked its environment"
"""

PIPELINE = """
dag:
  start_at: start
  steps:
    start: {type: task, command: env_tasks.start, next: shell}
    shell:
      type: task
      command_type: shell
      command: |
        test "$MAGNUS_PRM_word" = '"spam"'
        test "$MAGNUS_PRM_n" = 2
        test "$MAGNUS_PRM_nested" = '{"a": [1]}'
      next: read_env
    read_env: {type: task, command: env_tasks.read_env, next: success, on_failure: after}
    after: {type: task, command: env_tasks.after_failure, next: check}
    check: {type: task, command: env_tasks.check_clean, next: success}
    success: {type: success}
    fail: {type: fail}
"""


@pytest.fixture
def kept_variable() -> object:
    os.environ["KEPT_VARIABLE"] = "kept"
    yield
    os.environ.pop("KEPT_VARIABLE", None)


def test_python_and_shell_tasks_see_json_parameters_and_leak_nothing(
    tmp_path: Path, kept_variable: object
) -> None:
    (tmp_path / "env_tasks.py").write_text(TASKS)
    (tmp_path / "p.yaml").write_text(PIPELINE)
    before = dict(os.environ)
    code, log = execute_in_process("p.yaml", tmp_path, run_id="env")
    assert dict(os.environ) == before
    messages = {name: step.message for name, step in log.steps.items()}
    assert log.steps["shell"].status.value == "SUCCESS", messages
    assert "fails after changing os.environ" in log.steps["read_env"].message
    assert log.steps["after"].status.value == "SUCCESS", messages
    assert log.steps["check"].status.value == "SUCCESS", messages
    assert code == 0
    assert "from_python" not in log.parameters  # the step failed: nothing published
    assert log.parameters["published"] == [1, 2]


def notebook(path: Path, *sources: str) -> None:
    nbformat = require("nbformat")
    require("ploomber_engine")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path.write_text(nbformat.writes(nb))


NB_PIPELINE = """
dag:
  start_at: start
  steps:
    start: {type: task, command: env_nb_tasks.start, next: nb}
    nb: {type: task, command_type: notebook, command: env.ipynb, next: check}
    check: {type: task, command: env_nb_tasks.check_notebook, next: success}
    success: {type: success}
    fail: {type: fail}
"""

NB_CHECK = """

def check_notebook(word, from_notebook):
    assert "MAGNUS_TRACK_nb" not in os.environ and "LEAKY_VARIABLE" not in os.environ
    assert (word, from_notebook) == ("spam", {"x": 1})
"""


def test_notebook_tasks_see_json_parameters_and_publish_through_the_environment(
    tmp_path: Path,
) -> None:
    notebook(
        tmp_path / "env.ipynb",
        "import json, os",
        "assert os.environ['MAGNUS_PRM_word'] == '\"spam\"'\n"
        "assert json.loads(os.environ['MAGNUS_PRM_nested']) == {'a': [1]}",
        "os.environ['MAGNUS_PRM_from_notebook'] = json.dumps({'x': 1})\n"
        "os.environ['MAGNUS_TRACK_nb'] = '0.5'\n"
        "os.environ['LEAKY_VARIABLE'] = 'nb'",
    )
    (tmp_path / "env_nb_tasks.py").write_text(TASKS + NB_CHECK)
    (tmp_path / "p.yaml").write_text(NB_PIPELINE)
    before = dict(os.environ)
    code, log = execute_in_process("p.yaml", tmp_path, run_id="nb-env")
    assert dict(os.environ) == before
    assert code == 0, {name: step.message for name, step in log.steps.items()}
    assert log.steps["nb"].user_defined_metrics == {"nb": 0.5}
    assert log.parameters["from_notebook"] == {"x": 1}


def test_a_failing_notebook_leaves_the_environment_as_it_was(tmp_path: Path) -> None:
    notebook(
        tmp_path / "bad.ipynb",
        "import os\nos.environ['LEAKY_VARIABLE'] = 'x'\nos.environ['MAGNUS_PRM_q'] = '1'",
        "raise ValueError('broken')",
    )
    (tmp_path / "p.yaml").write_text(
        "dag:\n  start_at: nb\n  steps:\n"
        "    nb: {type: task, command_type: notebook, command: bad.ipynb, next: success}\n"
        "    success: {type: success}\n    fail: {type: fail}\n"
    )
    before = dict(os.environ)
    code, log = execute_in_process("p.yaml", tmp_path, run_id="nb-bad")
    assert code == 1 and "broken" in log.steps["nb"].message
    assert dict(os.environ) == before


def test_launch_time_parameters_reach_tasks_json_encoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MAGNUS_PRM_x given at launch is decoded once, then re-encoded for every task."""
    (tmp_path / "p.yaml").write_text(
        "dag:\n  start_at: sh\n  steps:\n"
        "    sh:\n      type: task\n      command_type: shell\n"
        '      command: test "$MAGNUS_PRM_label" = \'"not json"\'\n      next: success\n'
        "    success: {type: success}\n    fail: {type: fail}\n"
    )
    monkeypatch.setenv("MAGNUS_PRM_label", "not json")
    code, log = execute_in_process("p.yaml", tmp_path, run_id="launch")
    assert code == 0, log.steps["sh"].message
    assert json.dumps(log.parameters["label"]) == '"not json"'


def test_a_magnus_output_cell_must_print_a_dict() -> None:
    from magnus_render.runtime.notebook_task import output_cell_parameters

    def executed(text: str) -> bytes:
        cell = {
            "cell_type": "code",
            "metadata": {"tags": ["magnus_output"]},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": [text]}],
        }
        return json.dumps({"cells": [{"metadata": {}, "outputs": []}, cell]}).encode()

    assert output_cell_parameters(executed("{'a': 1, 'b': [2]}\n")) == {"a": 1, "b": [2]}
    with pytest.raises(ValueError, match=r"cell 2 .*must print a dict"):
        output_cell_parameters(executed("not a dict\n"))
