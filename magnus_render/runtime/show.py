"""`magnus show`: a run as an indented tree of steps and branches; `magnus runs`.

A map over thousands of items would print (and read) every iteration, so a step with
more than :data:`BIG` branches is summarised: counts by status, every branch that did
not succeed named, and only the first few branches (and the first few that did not
succeed) shown in full. The logs inside the other branches are never read.
`magnus show --json` still prints the whole run log.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from magnus_render.contract.naming import check_run_id
from magnus_render.errors import MagnusError
from magnus_render.runtime.context import configured_store
from magnus_render.stores.log_codec import RunLogCorrupt, to_json
from magnus_render.stores.models import BranchLog, RunLog, Status, StepLog
from magnus_render.stores.run_log_base import RunLogStore, parent_of

#: a step with more branches than this is summarised
BIG = 20
#: branches shown in full in a summary: the first ones, and the first that did not succeed
FIRST = 5
#: at most this many names of branches that did not succeed are listed
NAMED = 200


@dataclass
class Summary:
    """What is said about a summarised step's branches."""

    total: int
    counts: Counter[str]
    unfinished: list[tuple[str, str]]  # (name, status) of those that did not succeed
    shown: list[str] = field(default_factory=list)


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_DIGITS = re.compile(r"(\d+)")


def _natural(name: str) -> list[Any]:
    """Name order with numbers compared as numbers (each.2 before each.10)."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in _DIGITS.split(name)]


def summarise(branches: Iterable[BranchLog]) -> tuple[dict[str, Summary], set[str]]:
    """Summaries of the steps with many branches, and the names of the branches hidden."""
    by_step: dict[str, list[BranchLog]] = {}
    for log in branches:
        by_step.setdefault(parent_of(log.internal_name), []).append(log)
    summaries: dict[str, Summary] = {}
    hidden: set[str] = set()
    for step, logs in by_step.items():
        if len(logs) <= BIG:
            continue
        logs.sort(key=lambda log: _natural(log.internal_name))
        unfinished = [
            (log.internal_name, log.status.value)
            for log in logs
            if log.status is not Status.SUCCESS
        ]
        shown = [log.internal_name for log in logs[:FIRST]]
        shown += [name for name, _ in unfinished[:FIRST] if name not in shown]
        counts = Counter(log.status.value for log in logs)
        summaries[step] = Summary(len(logs), counts, unfinished, shown)
        hidden.update(log.internal_name for log in logs)
        hidden.difference_update(shown)
    return summaries, hidden


def _inside(name: str, hidden: set[str]) -> bool:
    """Whether a resolved name lies in a hidden branch (branches are every second dot)."""
    parts = name.split(".")
    return any(".".join(parts[:i]) in hidden for i in range(2, len(parts), 2))


def load(store: RunLogStore, run_id: str) -> tuple[RunLog, dict[str, Summary]]:
    """The run log to show (hidden branches and their steps left out) and the summaries.
    Reads every branch log but only the step logs of the branches shown."""
    header = store.get_run_header(run_id)
    branches = list(store.iter_branch_logs(run_id))
    summaries, hidden = summarise(branches)
    visible = [
        b
        for b in branches
        if b.internal_name not in hidden and not _inside(b.internal_name, hidden)
    ]
    steps = store.iter_step_logs(run_id, skip=lambda name: _inside(name, hidden))
    return store.assemble(header, [*steps, *visible]), summaries


def render_run(run_log: RunLog, summaries: dict[str, Summary] | None = None) -> list[str]:
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
        _step(step, "  ", lines, summaries or {})
    return lines


def _step(step: StepLog, indent: str, lines: list[str], summaries: dict[str, Summary]) -> None:
    mock = ""
    if step.mock:  # reused by a re-run, mocked by the executor, or an as-is rendered nowhere
        mock = " (rendered nowhere)" if step.step_type == "as-is" else " (reused)"
    lines.append(f"{indent}{step.name} [{step.step_type}] {step.status.value}{mock}")
    inner = indent + "    "
    for attempt in step.attempts:
        duration = _duration(attempt.duration)
        msg = f": {attempt.message}" if attempt.message else ""
        lines.append(
            f"{inner}attempt {attempt.attempt_number} {attempt.status.value} {duration}{msg}"
        )
    for key, value in step.user_defined_metrics.items():
        lines.append(f"{inner}metric {key} = {_short(value)}")
    for entry in step.data_catalog:
        lines.append(f"{inner}catalog {entry.stage} {entry.name} {entry.data_hash[:12]}")
    summary = summaries.get(step.internal_name)
    if summary is not None:
        _summary(summary, inner, lines)
    branches: Iterable[BranchLog] = step.branches.values()
    if summary is not None:
        order = {name: i for i, name in enumerate(summary.shown)}
        branches = sorted(branches, key=lambda b: order.get(b.internal_name, len(order)))
    for branch in branches:
        _branch(branch, inner, lines, summaries)
    if summary is not None and summary.total > len(summary.shown):
        lines.append(f"{inner}… {summary.total - len(summary.shown)} more branches not shown")


def _duration(text: str) -> str:
    """An attempt's duration (seconds as text) for the tree; one that is not a number (a
    hand-edited log, another writer's format) is shown as stored rather than failing."""
    if not text:
        return "-"
    try:
        return f"{float(text):.3f}s"
    except ValueError:
        return _short(text)


def _summary(summary: Summary, indent: str, lines: list[str]) -> None:
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
    lines.append(f"{indent}branches: {summary.total} ({counts})")
    by_status: dict[str, list[str]] = {}
    for name, status in summary.unfinished:
        by_status.setdefault(status, []).append(name)
    for status, names in sorted(by_status.items()):
        more = f" and {len(names) - NAMED} more" if len(names) > NAMED else ""
        lines.append(f"{indent}{status}: {', '.join(names[:NAMED])}{more}")
    lines.append(f"{indent}shown below: {', '.join(summary.shown)}")


def _branch(
    branch: BranchLog, indent: str, lines: list[str], summaries: dict[str, Summary]
) -> None:
    lines.append(f"{indent}branch {branch.internal_name} {branch.status.value}")
    for key, value in branch.parameters.items():
        lines.append(f"{indent}    param {key} = {_short(value)}")
    for step in sorted(branch.steps.values(), key=_started):  # in the order they ran
        _step(step, indent + "    ", lines, summaries)


def _started(step: StepLog) -> str:
    return step.attempts[0].start_time if step.attempts else ""


def print_run(run_log: RunLog, summaries: dict[str, Summary] | None = None) -> None:
    print("\n".join(render_run(run_log, summaries)))


def show(store: RunLogStore, run_id: str) -> None:
    """Print a run, big maps summarised."""
    run_log, summaries = load(store, run_id)
    print_run(run_log, summaries)


# -- the `magnus show` and `magnus runs` commands -------------------------------------
def show_run(run_id: str, config_file: Path | str | None = None, as_json: bool = False) -> int:
    store = configured_store(config_file)
    if as_json:
        run_log = store.get_run_log(check_run_id(run_id))
        text = msgspec.json.format(to_json(run_log), indent=2).decode()
        sys.stdout.write(text + "\n")
        return 0
    show(store, check_run_id(run_id))  # big maps summarised, their hidden logs not read
    return 0


def list_runs(config_file: Path | str | None = None, limit: int = 20) -> int:
    store = configured_store(config_file)
    for run_id in store.list_run_ids()[:limit]:
        try:
            header = store.get_run_header(run_id)
        except RunLogCorrupt:  # not hidden: `magnus show` names the file and the problem
            print(f"{run_id}  UNREADABLE (magnus show {run_id} says why)")
            continue
        except MagnusError:  # removed while listing
            continue
        tag = f"  tag={header.tag}" if header.tag else ""
        print(f"{run_id}  {header.status.value}{tag}")
    return 0
