"""The container protocol's command lines, built in one place.

Renderers place these argv words in their specs and executors that run nodes elsewhere
(k8s-job, local-container) launch them; both import from here so there is one builder.

Options come first and the positional RUN_ID and NAME last, after ``--``: a step named
``-x`` or ``--help`` (any name the loader accepts) is then never read as an option.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def service_args(
    config_file: str | None = None,
    parameters_file: str | None = None,
    tag: str | None = None,
    use_cached: str | None = None,
) -> list[str]:
    argv: list[str] = []
    if config_file:
        argv += ["--config-file", config_file]
    if parameters_file:
        argv += ["--parameters-file", parameters_file]
    if tag:
        argv += ["--tag", tag]
    if use_cached:
        argv += ["--use-cached", use_cached]
    return argv


def node_argv(
    run_id: str,
    internal_name: str,
    pipeline_file: str,
    map_variable: str | None = None,
    **services: Any,
) -> list[str]:
    """``magnus execute_single_node --file F [...] [--map-variable JSON] -- RUN_ID NAME``.

    ``run_id`` and ``map_variable`` may be a target's own expressions (``{{workflow.name}}``,
    ``"$RUN_ID"``); the map variable is the complete JSON object of the iteration.
    """
    argv = ["magnus", "execute_single_node", "--file", pipeline_file]
    argv += service_args(**services)
    if map_variable is not None:
        argv += ["--map-variable", map_variable]
    return [*argv, "--", run_id, internal_name]


def fan_argv(
    run_id: str,
    internal_name: str,
    mode: str,
    pipeline_file: str,
    map_variable: str | None = None,
    items_file: str | None = None,
    **services: Any,
) -> list[str]:
    """``magnus fan --mode out|in --file F [...] -- RUN_ID NAME`` as argv words."""
    argv = ["magnus", "fan", "--mode", mode, "--file", pipeline_file]
    argv += service_args(**services)
    if map_variable is not None:
        argv += ["--map-variable", map_variable]
    if items_file is not None:
        argv += ["--items-file", items_file]
    return [*argv, "--", run_id, internal_name]


def submit_options(
    use_cached: str | None,
    params: Mapping[str, str] | None = None,
    params_json: str | None = None,
) -> list[str]:
    """The re-run and submit-time options of a node or fan command (add them with
    :func:`with_options`): ``--use-cached OLD`` (empty: a fresh run), ``--param NAME=VALUE``
    per parameter and ``--params-json OBJECT``; each value may be a target's own
    expression (``{{workflow.parameters.use_cached}}``, ``$.parameters``)."""
    words: list[str] = []
    if use_cached is not None:
        words += ["--use-cached", use_cached]
    for name, value in (params or {}).items():
        words += ["--param", f"{name}={value}"]
    if params_json is not None:
        words += ["--params-json", params_json]
    return words


def with_options(argv: list[str], *options: str) -> list[str]:
    """``argv`` of :func:`node_argv` or :func:`fan_argv` with more options, placed before
    its ``--`` so that the run id and the step name stay the last two words."""
    at = len(argv) - 3
    if at < 0 or argv[at] != "--":
        raise ValueError("not a node or fan command line (no `-- RUN_ID NAME` at its end)")
    return [*argv[:at], *options, *argv[at:]]


def interrupted_argv(run_id: str, signal_name: str, config_file: str | None = None) -> list[str]:
    """``magnus interrupted RUN_ID --signal INT|TERM [--config-file C]``: after a signal
    stopped a run's driver (the shell script) and its children, mark the run FAIL."""
    return ["magnus", "interrupted", run_id, "--signal", signal_name, *service_args(config_file)]


def encode_map_variable(map_variable: Mapping[str, Any] | None) -> str | None:
    """The --map-variable word for a concrete iteration (stable key order: outer first)."""
    if not map_variable:
        return None
    return inert_json(json.dumps(dict(map_variable), separators=(",", ":"), ensure_ascii=False))


def inert_json(text: str) -> str:
    """JSON ``text`` with every ``$`` and every ``{{`` spelled as a ``\\u`` escape: the same
    value to any JSON reader, but nothing an orchestrator rewrites on its way into a
    container (Kubernetes expands ``$(VAR)`` and ``$$`` in commands and env values; Argo
    substitutes ``{{...}}`` in parameter values, map items included). Outside strings
    JSON has no ``$`` and never two ``{`` in a row, so only string contents change."""
    return text.replace("$", "\\u0024").replace("{{", "{\\u007b")
