"""Where a run's initial parameters come from, and what a parameter may be.

Shared by the runtime (which starts runs from them) and the renderers (which make each
initial parameter of ``-p FILE`` a value that may be given again when a rendered run is
submitted): the parameters file, ``MAGNUS_PRM_<name>`` variables and submit-time values
(``--param NAME=JSON``, ``--params-json OBJECT``), each checked to be plain JSON data.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from magnus_render.errors import MagnusError

ENV_PREFIX = "MAGNUS_PRM_"


class ParameterError(MagnusError):
    """A parameter name or value the run log cannot carry: refused before a run starts
    (exit 2); a task that produces one fails its step."""


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def decode_value(text: str) -> Any:
    """Strict JSON when it parses, else the raw string (as magnus does for MAGNUS_PRM_*);
    ``NaN`` and ``Infinity`` are not JSON, so they stay strings."""
    try:
        return json.loads(text, parse_constant=_not_json)
    except ValueError:
        return text


def parameter_problem(name: Any, value: Any) -> str | None:
    """Why ``name: value`` cannot be a parameter, or None. Names are Python identifiers
    (python tasks take them as arguments, shell tasks as MAGNUS_PRM_<name>); values are
    plain JSON data: a run log is JSON and a value must read back as it was written."""
    if not isinstance(name, str) or not name.isidentifier():
        return (
            f"parameter name {name!r} is not a Python identifier "
            "(letters, digits and '_', not starting with a digit)"
        )
    problem = _value_problem(value)
    return f"parameter {name!r}: {problem}" if problem else None


def _value_problem(value: Any) -> str | None:
    """Walks without recursion: a value may nest deeper than Python's stack."""
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        item, where = pending.pop()
        at = f" (at {where})" if where else ""
        if item is None or isinstance(item, (bool, int)):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return f"{item!r} (NaN or infinity) cannot be stored as JSON{at}"
        elif isinstance(item, str):
            if "\0" in item:
                return f"the value holds a NUL byte{at}"
        elif isinstance(item, (list, tuple)):
            pending.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, dict):
            for key, v in item.items():
                if not isinstance(key, str):
                    return f"mapping key {key!r} is not a string{at}"
                if "\0" in key:
                    return f"a mapping key holds a NUL byte{at}"
                pending.append((v, f"{where}[{key!r}]"))
        else:
            return f"a {type(item).__name__} value cannot be stored as JSON{at}"
    return None


def check_parameters(
    values: Mapping[Any, Any], file: str | None = None, line_of: Any = None
) -> dict[str, Any]:
    """``values`` when every name and value can be a parameter, else a ParameterError
    naming the first that cannot (``line_of(name)`` gives its line in ``file``)."""
    for name, value in values.items():
        problem = parameter_problem(name, value)
        if problem:
            raise ParameterError(problem, file, line_of(name) if line_of else None)
    return dict(values)


#: where a run's starting value of a parameter came from (run_config.parameter_sources)
FROM_FILE = "parameters_file"
FROM_ENV = "environment"
FROM_SUBMIT = "submit"


def initial_parameters(
    parameters_file: str | Path | None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """--parameters-file (a YAML mapping), then MAGNUS_PRM_<name> from the environment."""
    return sourced_parameters(parameters_file, environ)[0]


def sourced_parameters(
    parameters_file: str | Path | None, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """:func:`initial_parameters` and, per name, where its value came from."""
    params: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if parameters_file:
        from magnus_render.pipeline.yaml_source import load_yaml_file

        path = Path(parameters_file)
        if not path.is_file():
            raise MagnusError(f"parameters file {path} does not exist")
        data, source = load_yaml_file(path)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise MagnusError(
                "a parameters file must be a mapping of names to values", str(path), 1
            )
        params.update(check_parameters(data, str(path), lambda k: source.line_of(data, k)))
        sources.update(dict.fromkeys(params, FROM_FILE))
    env = os.environ if environ is None else environ
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            name, decoded = key[len(ENV_PREFIX) :], decode_value(value)
            problem = parameter_problem(name, decoded)
            if problem:
                raise ParameterError(f"environment variable {key}: {problem}")
            params[name] = decoded
            sources[name] = FROM_ENV
    return params, sources


def submitted_parameters(
    pairs: list[str] | None = None, params_json: str | None = None
) -> dict[str, Any]:
    """Values given when a rendered run was submitted: ``--param NAME=JSON`` words (Argo,
    the shell script; JSON, else the raw string, as for MAGNUS_PRM_<name>) and
    ``--params-json OBJECT`` (Step Functions' execution input).
    Bad input is a ParameterError (exit 2) naming the option."""
    values: dict[str, Any] = {}
    if params_json:
        try:
            data = json.loads(params_json, parse_constant=_not_json)
        except ValueError as exc:
            raise ParameterError(f"--params-json is not a JSON object: {exc}") from None
        if not isinstance(data, dict):
            raise ParameterError("--params-json must be a JSON object of names to values")
        for name, value in data.items():
            problem = parameter_problem(name, value)
            if problem:
                raise ParameterError(f"--params-json: {problem}")
        values.update(data)
    for pair in pairs or []:
        name, sep, text = pair.partition("=")
        if not sep:
            raise ParameterError(f"--param {pair!r}: write NAME=JSON (e.g. lr=0.1)")
        value = decode_value(text)  # JSON, else the raw string, as MAGNUS_PRM_<name>
        problem = parameter_problem(name, value)
        if problem:
            raise ParameterError(f"--param {name}: {problem}")
        values[name] = value
    return values
