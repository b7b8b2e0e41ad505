"""Parameters: where a run's values come from, what a step sees, where its writes go.

Scopes follow the branch structure: a step reads the run's parameters overlaid by the
parameters of each enclosing branch (outermost first) and the map variable; its writes go
to the innermost enclosing branch (or the run, at the root). Composites roll branch
parameters up into their enclosing scope at fan-in. Values travel only through the run log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from magnus_render.errors import MagnusError
from magnus_render.stores.models import BranchLog
from magnus_render.stores.run_log_base import RunLogStore

ENV_PREFIX = "MAGNUS_PRM_"


def decode_value(text: str) -> Any:
    """JSON when it parses, else the raw string (as magnus does for MAGNUS_PRM_*)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def encode_env_value(value: Any) -> str:
    """How a parameter is put in a task's environment: JSON, strings included (magnus 0.5
    set ``MAGNUS_PRM_spam='"Hello"'``), so every value reads back as what it was."""
    return json.dumps(value)


def initial_parameters(
    parameters_file: str | Path | None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """--parameters-file (a YAML mapping), then MAGNUS_PRM_<name> from the environment."""
    params: dict[str, Any] = {}
    if parameters_file:
        from magnus_render.pipeline.yaml_source import load_yaml_file

        path = Path(parameters_file)
        if not path.is_file():
            raise MagnusError(f"parameters file {path} does not exist")
        try:
            data, _ = load_yaml_file(path)
        except MagnusError:
            raise
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise MagnusError(
                "a parameters file must be a mapping of names to values", str(path), 1
            )
        params.update(data)
    env = os.environ if environ is None else environ
    for key, value in env.items():
        if key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX):
            params[key[len(ENV_PREFIX) :]] = decode_value(value)
    return params


def enclosing_branches(resolved_name: str) -> list[str]:
    """Resolved names of the branches around a node, outermost first."""
    parts = resolved_name.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts), 2)]


def scope(
    store: RunLogStore,
    run_id: str,
    resolved_name: str,
    map_variable: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The parameters a node sees (see module docstring)."""
    params = dict(store.get_run_header(run_id).parameters)
    for branch_name in enclosing_branches(resolved_name):
        branch = store.get_branch_log(run_id, branch_name)
        if branch is not None:
            params.update(branch.parameters)
    if map_variable:
        params.update(map_variable)
    return params


def write(store: RunLogStore, run_id: str, resolved_name: str, values: Mapping[str, Any]) -> None:
    """Store a step's new parameter values in its innermost scope."""
    if not values:
        return
    branches = enclosing_branches(resolved_name)
    if not branches:
        store.update_run(run_id, parameters=dict(values))
        return
    name = branches[-1]
    branch = store.get_branch_log(run_id, name) or BranchLog(internal_name=name)
    branch.parameters.update(values)
    store.put_branch_log(run_id, branch)
