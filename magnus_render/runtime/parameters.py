"""Parameters: what a step sees and where its writes go (where a run's initial values
come from is :mod:`magnus_render.contract.parameters`, re-exported here).

Scopes follow the branch structure: a step reads the run's parameters overlaid by the
parameters of each enclosing branch (outermost first) and the map variable; its writes go
to the innermost enclosing branch (or the run, at the root). Composites roll branch
parameters up into their enclosing scope at fan-in. Values travel only through the run log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from magnus_render.contract.parameters import (
    ENV_PREFIX,
    FROM_ENV,
    FROM_FILE,
    FROM_SUBMIT,
    ParameterError,
    check_parameters,
    decode_value,
    initial_parameters,
    parameter_problem,
    sourced_parameters,
    submitted_parameters,
)
from magnus_render.stores.models import BranchLog
from magnus_render.stores.run_log_base import RunLogStore

__all__ = [
    "ENV_PREFIX",
    "FROM_ENV",
    "FROM_FILE",
    "FROM_SUBMIT",
    "ParameterError",
    "check_parameters",
    "decode_value",
    "enclosing_branches",
    "encode_env_value",
    "initial_parameters",
    "parameter_problem",
    "scope",
    "sourced_parameters",
    "submitted_parameters",
    "write",
]


def encode_env_value(value: Any) -> str:
    """How a parameter is put in a task's environment: JSON, strings included (magnus 0.5
    set ``MAGNUS_PRM_spam='"Hello"'``), so every value reads back as what it was."""
    return json.dumps(value)


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
