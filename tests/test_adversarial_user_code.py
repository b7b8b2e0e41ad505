"""A python task that cannot be imported or called is told in the user's terms: the step
and run FAIL, the message (run log and stderr) names file:line in the user's module and the
parameter at fault, and the traceback shows the user's frames, not magnus's or importlib's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.runlog import load_run_log, prepare_workdir, run_magnus

PIPELINE = """\
dag:
  start_at: step
  steps:
    step: {type: task, command: COMMAND, next: success}
    success: {type: success}
    fail: {type: fail}
"""
MODULES = {
    "syntax_mod.py": "x = 1\ndef f(:\n    pass\n",
    "raising_mod.py": "import os\n\nraise RuntimeError('broken at import')\n\ndef f():\n    pass\n",
    "deep_mod.py": "import raising_mod\n\ndef f():\n    pass\n",
    "typed_mod.py": (
        "from pydantic import BaseModel\n\n\n"
        "class Settings(BaseModel):\n    rate: float\n\n\n"
        "def count(n: int, label: str = 'x'):\n    return None\n\n\n"
        "def configure(settings: Settings):\n    return None\n\n\n"
        "def needs(must_have, optional=1):\n    return None\n\n\n"
        "def runtime_error(k: int = 3):\n    return helper(k)\n\n\n"
        "def helper(n):\n    return n / 0\n"
    ),
}
PARAMETERS = "n: not-a-number\nsettings: {rate: fast}\n"

CASES = {
    "missing_module": (
        "no_such_module.f",
        "cannot import 'no_such_module': ModuleNotFoundError: No module named 'no_such_module'",
        None,
    ),
    "syntax_error": (
        "syntax_mod.f",
        "cannot import 'syntax_mod': SyntaxError: invalid syntax (syntax_mod.py:2)",
        'syntax_mod.py", line 2',
    ),
    "error_at_import": (
        "raising_mod.f",
        "cannot import 'raising_mod': RuntimeError: broken at import (raising_mod.py:3)",
        'raising_mod.py", line 3, in <module>',
    ),
    "error_in_imported_module": (
        "deep_mod.f",
        "cannot import 'deep_mod': RuntimeError: broken at import (raising_mod.py:3)",
        'deep_mod.py", line 1, in <module>',
    ),
    "missing_function": (
        "typed_mod.nope",
        "module 'typed_mod' (typed_mod.py) has no function 'nope'",
        None,
    ),
    "cast_error": (
        "typed_mod.count",
        "parameter 'n' of count (typed_mod.py:8) cannot be cast to int: "
        "Input should be a valid integer",
        None,
    ),
    "model_cast_error": (
        "typed_mod.configure",
        "parameter 'settings' of configure (typed_mod.py:12) cannot be cast to Settings: "
        "rate: Input should be a valid number",
        None,
    ),
    "missing_argument": (
        "typed_mod.needs",
        "missing required parameter 'must_have' of needs (typed_mod.py:16)",
        None,
    ),
    "runtime_error": (
        "typed_mod.runtime_error",
        "ZeroDivisionError: division by zero (typed_mod.py:25)",
        'typed_mod.py", line 21, in runtime_error',
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_code_failures_name_the_users_file_and_line(tmp_path: Path, case: str) -> None:
    work = prepare_workdir(tmp_path)
    for name, text in MODULES.items():
        (work / name).write_text(text)
    (work / "params.yaml").write_text(PARAMETERS)
    command, message, frame = CASES[case]
    (work / "p.yaml").write_text(PIPELINE.replace("COMMAND", command))

    proc = run_magnus(["execute", "p.yaml", "-p", "params.yaml", "--run-id", "r"], work)
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr, proc.stderr
    # no frame of magnus's own nor of the import machinery, in the output or the step log
    log_files = list((work / ".catalog" / "r").rglob("step.attempt-1.execution.log"))
    assert len(log_files) == 1
    kept = log_files[0].read_text()
    for text in (proc.stderr, kept):
        assert "magnus_render" not in text, text
        assert "importlib" not in text and "<frozen" not in text, text
    if frame is not None:
        assert frame in proc.stderr and frame in kept
    else:
        assert "Traceback" not in proc.stderr
    run_log = load_run_log(work, "r")
    assert run_log.status.value == "FAIL"
    assert run_log.steps["step"].status.value == "FAIL"
    assert message in run_log.steps["step"].message
