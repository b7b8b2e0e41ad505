"""The ``subprocess-pool`` executor: traverse here, run each node as a local subprocess.

Like the k8s-job and aws-batch executors, but the "somewhere else" is a child process on
this machine: each node runs as ``magnus execute_single_node`` (the container protocol),
and the outcome is read back from the run log, so the run log store must be one that
several processes can share (file-system, chunked-fs, s3). Branches of parallel, map and
dag steps are traversed by up to ``workers`` threads, each waiting on its own child.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from magnus_render.plugin import (
    Branch,
    ExecutorSettings,
    Node,
    NodeTriggeringExecutor,
    RunContext,
    make_thread_safe,
    record_launch_failure,
    resolve_name,
    run_concurrently,
)


class SubprocessPoolSettings(ExecutorSettings):
    """``executor: {type: subprocess-pool, config: {...}}``."""

    #: branches (or map iterations) of one step whose nodes run at once
    workers: int = Field(default=2, ge=1, le=256)
    #: how a node's process starts magnus; default: this interpreter's magnus_render.cli
    magnus_command: list[str] = Field(
        default_factory=lambda: [sys.executable, "-m", "magnus_render.cli"], min_length=1
    )
    #: extra environment for the node processes (per step through ``overrides``)
    environment: dict[str, str] = Field(default_factory=dict)
    #: a node process running longer is killed and its step recorded as failed
    timeout_seconds: float | None = Field(default=None, gt=0)


class SubprocessPoolExecutor(NodeTriggeringExecutor):
    name = "subprocess-pool"
    settings_model = SubprocessPoolSettings

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        make_thread_safe(ctx)  # branch threads share the store

    def trigger_node(self, node: Node, map_variable: Mapping[str, Any], argv: list[str]) -> int:
        import os

        settings: SubprocessPoolSettings = self.step_settings(node)
        command = [*settings.magnus_command, *argv[1:]]
        env = {**os.environ, **settings.environment}
        resolved = resolve_name(node.internal_name, map_variable)
        try:
            code = subprocess.run(
                command, env=env, check=False, timeout=settings.timeout_seconds
            ).returncode
        except subprocess.TimeoutExpired:
            why = f"the node process ran longer than {settings.timeout_seconds} s and was killed"
            record_launch_failure(self.ctx, node, resolved, why)
            return 1
        except OSError as exc:
            why = f"the node process could not start: {exc}"
            record_launch_failure(self.ctx, node, resolved, why)
            return 1
        if code not in (0, 1):
            # bad input or a crash before the node finished: say so in the run log
            why = f"magnus execute_single_node exited {code}"
            record_launch_failure(self.ctx, node, resolved, why)
        return code

    def run_branches(self, branches: Sequence[Branch]) -> None:
        workers = min(len(branches), self.settings.workers)
        if workers < 2:
            super().run_branches(branches)
            return
        run_concurrently(branches, self.execute_graph, workers)
