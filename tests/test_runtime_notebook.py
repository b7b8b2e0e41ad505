"""Notebook tasks run in-process with ploomber-engine: parameters injected, the task API
usable from the notebook, the executed notebook kept in the catalog."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.deps import require
from tests.helpers.runlog import execute_in_process

require("ploomber_engine")


def test_notebook_sample(tmp_path: Path) -> None:
    code, log = execute_in_process("samples/notebooks/notebook.yaml", tmp_path, "nb")
    assert code == 0
    assert log.parameters["y"] == 30  # x=3 from initialize, injected, times 10
    step = log.steps["notebook"]
    assert step.user_defined_metrics == {"y": 30}
    names = [e.name for e in step.data_catalog]
    assert "samples/notebooks/simple_out.ipynb" in names
    executed = tmp_path / ".catalog" / "nb" / "samples" / "notebooks" / "simple_out.ipynb"
    outputs = json.loads(executed.read_text())["cells"]
    assert any("hello: y is 30" in json.dumps(c.get("outputs", [])) for c in outputs)
    log_file = tmp_path / ".catalog" / "nb" / "@logs" / "notebook.attempt-1.execution.log"
    assert "hello: y is 30" in log_file.read_text()


def test_failing_notebook_fails_the_step(tmp_path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise ValueError('broken notebook')")]
    (tmp_path / "bad.ipynb").write_text(nbformat.writes(nb))
    (tmp_path / "p.yaml").write_text(
        "dag:\n  start_at: nb\n  steps:\n"
        "    nb: {type: task, command_type: notebook, command: bad.ipynb, next: success}\n"
        "    success: {type: success}\n    fail: {type: fail}\n"
    )
    code, log = execute_in_process("p.yaml", tmp_path, "bad")
    assert code == 1
    assert "broken notebook" in log.steps["nb"].message
