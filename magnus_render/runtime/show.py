"""`magnus show`: a run as an indented tree of steps and branches."""

from __future__ import annotations

import json
from typing import Any

from magnus_render.stores.models import BranchLog, RunLog, StepLog


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_run(run_log: RunLog) -> list[str]:
    lines = [f"run {run_log.run_id}  {run_log.status.value}"]
    if run_log.message:
        lines.append(f"  message: {run_log.message}")
    if run_log.tag:
        lines.append(f"  tag: {run_log.tag}")
    if run_log.original_run_id:
        lines.append(f"  re-run of: {run_log.original_run_id}")
    for key, value in run_log.parameters.items():
        lines.append(f"  param {key} = {_short(value)}")
    for step in run_log.steps.values():
        _step(step, "  ", lines)
    return lines


def _step(step: StepLog, indent: str, lines: list[str]) -> None:
    mock = ""
    if step.mock:  # reused by a re-run, mocked by the executor, or an as-is rendered nowhere
        mock = " (rendered nowhere)" if step.step_type == "as-is" else " (reused)"
    lines.append(f"{indent}{step.name} [{step.step_type}] {step.status.value}{mock}")
    inner = indent + "    "
    for attempt in step.attempts:
        duration = f"{float(attempt.duration):.3f}s" if attempt.duration else "-"
        msg = f": {attempt.message}" if attempt.message else ""
        lines.append(
            f"{inner}attempt {attempt.attempt_number} {attempt.status.value} {duration}{msg}"
        )
    for key, value in step.user_defined_metrics.items():
        lines.append(f"{inner}metric {key} = {_short(value)}")
    for entry in step.data_catalog:
        lines.append(f"{inner}catalog {entry.stage} {entry.name} {entry.data_hash[:12]}")
    for branch in step.branches.values():
        _branch(branch, inner, lines)


def _branch(branch: BranchLog, indent: str, lines: list[str]) -> None:
    lines.append(f"{indent}branch {branch.internal_name} {branch.status.value}")
    for key, value in branch.parameters.items():
        lines.append(f"{indent}    param {key} = {_short(value)}")
    for step in branch.steps.values():
        _step(step, indent + "    ", lines)


def print_run(run_log: RunLog) -> None:
    print("\n".join(render_run(run_log)))
