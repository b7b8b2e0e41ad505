"""The `magnus` package exposes magnus 0.5's public names with magnus 0.5's signatures
(written down here from magnus 0.5.1's source), and stays cheap to import."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import magnus
from magnus_render.errors import MagnusError
from tests.conftest import ROOT

#: magnus 0.5.1's ``magnus/__init__.py`` exports
MAGNUS_05_NAMES = [
    "end_interactive_session",
    "get_experiment_tracker_context",
    "get_from_catalog",
    "get_object",
    "get_parameter",
    "get_run_id",
    "get_run_log",
    "get_secret",
    "put_in_catalog",
    "put_object",
    "start_interactive_session",
    "set_parameter",
    "track_this",
    "Stub",
    "Pipeline",
    "Task",
    "Parallel",
    "Map",
    "Catalog",
    "Success",
    "Fail",
]

#: parameter names of magnus 0.5.1's functions and SDK constructors (keyword use)
SIGNATURES = {
    "track_this": ["step", "kwargs"],
    "set_parameter": ["kwargs"],
    "get_parameter": ["key", "cast_as"],
    "get_secret": ["secret_name"],
    "get_from_catalog": ["name", "destination_folder"],
    "put_in_catalog": ["filepath"],
    "put_object": ["data", "name"],
    "get_object": ["name"],
    "get_run_id": [],
    "get_run_log": [],
    "get_tag": [],
    "get_experiment_tracker_context": [],
    "start_interactive_session": ["run_id", "config_file", "tag", "parameters_file"],
    "end_interactive_session": [],
}

SDK_KEYWORDS = {
    "Task": [
        "name",
        "command",
        "command_type",
        "catalog",
        "overrides",
        "notebook_output_path",
        "optional_ploomber_args",
        "terminate_with_success",
        "terminate_with_failure",
        "on_failure",
        "next",
    ],
    "Stub": ["name", "terminate_with_success", "terminate_with_failure", "catalog", "next"],
    "Parallel": ["name", "branches", "terminate_with_success", "terminate_with_failure", "next"],
    "Map": ["name", "branch", "iterate_on", "iterate_as", "overrides", "next", "on_failure"],
    "Success": ["name"],
    "Fail": ["name"],
    "Catalog": ["get", "put"],
    "Pipeline": ["steps", "start_at", "name", "description", "add_terminal_nodes"],
}

EXECUTE_KEYWORDS = [
    "configuration_file",
    "run_id",
    "tag",
    "parameters_file",
    "use_cached",
    "log_level",
    "output_pipeline_definition",
]


@pytest.mark.parametrize("name", MAGNUS_05_NAMES)
def test_every_magnus_05_name_is_there(name: str) -> None:
    assert getattr(magnus, name) is not None
    assert name in magnus.__all__


def test_sdk_module_path_and_identity() -> None:
    import magnus_render.sdk
    from magnus.sdk import Pipeline, Task

    assert Task is magnus.Task is magnus_render.sdk.Task
    assert Pipeline is magnus.Pipeline


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_function_signatures(name: str) -> None:
    params = list(inspect.signature(getattr(magnus, name)).parameters)
    assert params == SIGNATURES[name]


@pytest.mark.parametrize("name", sorted(SDK_KEYWORDS))
def test_sdk_keywords(name: str) -> None:
    params = inspect.signature(getattr(magnus, name)).parameters
    missing = [k for k in SDK_KEYWORDS[name] if k not in params]
    assert missing == []


def test_execute_keywords() -> None:
    params = inspect.signature(magnus.Pipeline.execute).parameters
    assert [k for k in EXECUTE_KEYWORDS if k not in params] == []


def test_unknown_name() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        magnus.nope  # noqa: B018


def test_task_api_outside_a_step_says_why() -> None:
    with pytest.raises(MagnusError, match="inside a running step"):
        magnus.get_parameter("x")
    with pytest.raises(MagnusError, match="inside a running step"):
        magnus.put_object({}, "x")


def test_end_without_start_is_harmless(capsys: pytest.CaptureFixture[str]) -> None:
    magnus.end_interactive_session()
    assert "no interactive session" in capsys.readouterr().err


def test_import_magnus_is_cheap() -> None:
    """Task code does `import magnus`: it must not pull in the runtime, the SDK or pydantic."""
    code = (
        "import sys, magnus; "
        "heavy = [m for m in ('pydantic', 'magnus_render.runtime', 'magnus_render.sdk', 'yaml')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert out.strip() == "[]"


#: the SDK constructors' full signatures (magnus 0.5's order; the wiring keywords are
#: declared once in sdk/steps.py and spelled out into each signature)
STEP_SIGNATURES = {
    "Task": "(name, command, command_type=None, *, next=None, on_failure=None, catalog=None, "
    "max_attempts=None, overrides=None, notebook_output_path=None, "
    "optional_ploomber_args=None, terminate_with_success=False, "
    "terminate_with_failure=False, **unknown)",
    "Stub": "(name, *, next=None, on_failure=None, catalog=None, overrides=None, "
    "terminate_with_success=False, terminate_with_failure=False, **extras)",
    "Parallel": "(name, branches, *, next=None, on_failure=None, overrides=None, "
    "terminate_with_success=False, terminate_with_failure=False, **unknown)",
    "Map": "(name, branch, iterate_on, iterate_as, *, next=None, on_failure=None, "
    "overrides=None, terminate_with_success=False, terminate_with_failure=False, **unknown)",
}


@pytest.mark.parametrize("name", sorted(STEP_SIGNATURES))
def test_step_signatures_read_as_magnus(name: str) -> None:
    signature = inspect.signature(getattr(magnus, name))
    plain = signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
        return_annotation=signature.empty,
    )
    assert str(plain) == STEP_SIGNATURES[name]
