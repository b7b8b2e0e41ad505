"""Run log comparison and sample-running helpers for conformance tests.

``normalize(run_log)`` keeps what must be equal wherever a pipeline ran (steps, statuses,
attempts, parameters, metrics, catalog entries, branch structure) and drops what may not
(timestamps, durations, run ids, code identities, messages, host paths), so a test can
assert ``normalize(local) == normalize(through_target)``.

``run_sample(name, tmp_path)`` runs ``magnus execute`` on a sample in a scratch directory
(samples/ symlinked there, as python tasks import ``samples.functions`` from the working
directory) and returns (exit code, RunLog).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"

LOG_SUFFIX = ".execution.log"


def _as_dict(run_log: Any) -> dict[str, Any]:
    if hasattr(run_log, "model_dump"):
        return run_log.model_dump(mode="json")
    if isinstance(run_log, (str, bytes)):
        return json.loads(run_log)
    return dict(run_log)


def _catalog(entries: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    out = []
    for e in entries:
        # execution logs may contain tracebacks with host paths: compare name and stage only
        digest = None if e["name"].endswith(LOG_SUFFIX) else e.get("data_hash")
        out.append((e["name"], e.get("stage", ""), digest))
    return sorted(out)


def _step(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": step["name"],
        "status": step["status"],
        "step_type": step.get("step_type"),
        "mock": step.get("mock", False),
        "attempts": [
            {
                "attempt_number": a["attempt_number"],
                "status": a["status"],
                "parameters": a.get("parameters", {}),
            }
            for a in step.get("attempts", [])
        ],
        "metrics": step.get("user_defined_metrics", {}),
        "catalog": _catalog(step.get("data_catalog", [])),
        "branches": {
            name: {
                "status": b["status"],
                "parameters": b.get("parameters", {}),
                "map_variable": b.get("map_variable"),
                "steps": {k: _step(v) for k, v in b.get("steps", {}).items()},
            }
            for name, b in step.get("branches", {}).items()
        },
    }


def normalize(run_log: Any) -> dict[str, Any]:
    """A host- and time-independent view of a run log (a RunLog, a dict or JSON text)."""
    data = _as_dict(run_log)
    return {
        "status": data["status"],
        "tag": data.get("tag", ""),
        "use_cached": data.get("use_cached", False),
        "parameters": data.get("parameters", {}),
        "steps": {name: _step(step) for name, step in data.get("steps", {}).items()},
    }


def prepare_workdir(workdir: Path) -> Path:
    """Make ``workdir`` able to run the samples (samples/ symlinked into it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    link = workdir / "samples"
    if not link.exists():
        link.symlink_to(SAMPLES, target_is_directory=True)
    return workdir


#: MAGNUS_ variables a test subprocess keeps: where compiled pipelines are cached (the
#: session's temp folder, tests/conftest.py), never the user's ~/.cache
KEPT = ("MAGNUS_PIPELINE_CACHE_DIR", "MAGNUS_PIPELINE_CACHE")


def magnus_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAGNUS_") or k in KEPT}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra or {})
    return env


def run_magnus(
    args: list[str], workdir: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``magnus ARGS`` as a real subprocess in ``workdir``."""
    return subprocess.run(
        [sys.executable, "-m", "magnus_render.cli", *args],
        cwd=workdir,
        env=magnus_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def load_run_log(workdir: Path, run_id: str, config_file: str | Path | None = None) -> Any:
    """Read a run's full RunLog through the configured store, from ``workdir``."""
    from magnus_render.config import load_config
    from magnus_render.runtime.context import build_services

    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        store = build_services(load_config(config_file))[0]
        return store.get_run_log(run_id)
    finally:
        os.chdir(cwd)


def run_sample(
    name: str,
    tmp_path: Path,
    run_id: str = "local-run",
    args: list[str] | None = None,
    config_file: str | Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """Run samples/<name>.yaml with ``magnus execute`` in tmp_path; (exit code, RunLog)."""
    workdir = prepare_workdir(tmp_path)
    cmd = ["execute", f"samples/{name}.yaml", "--run-id", run_id, *(args or [])]
    if config_file:
        cmd += ["--config-file", str(config_file)]
    proc = run_magnus(cmd, workdir, env)
    if proc.returncode not in (0, 1):
        raise AssertionError(f"magnus execute {name} exited {proc.returncode}:\n{proc.stderr}")
    return proc.returncode, load_run_log(workdir, run_id, config_file)


def execute_in_process(
    name: str,
    workdir: Path,
    run_id: str = "local-run",
    config_text: str | None = None,
    parameters_file: str | None = None,
    use_cached: str | None = None,
) -> tuple[int, Any]:
    """Like :func:`run_sample` but in this process (faster; for run log assertions).
    ``name`` is a sample name or a pipeline path (ending in .yaml) relative to workdir.
    Changes the working directory for the duration of the run."""
    from magnus_render.runtime.entrypoints import execute_pipeline

    workdir = prepare_workdir(workdir)
    config_file = None
    if config_text is not None:
        config_file = workdir / f"config-{run_id}.yaml"
        config_file.write_text(config_text, encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        code = execute_pipeline(
            pipeline_file=name if name.endswith(".yaml") else f"samples/{name}.yaml",
            config_file=str(config_file) if config_file else None,
            parameters_file=parameters_file,
            run_id=run_id,
            use_cached=use_cached,
            quiet=True,
        )
    finally:
        os.chdir(cwd)
    return code, load_run_log(workdir, run_id, config_file)
