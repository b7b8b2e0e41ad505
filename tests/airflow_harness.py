"""Runs rendered DAGs on the real Airflow: `airflow dags test` in a private AIRFLOW_HOME.

Airflow lives in its own venvs (`.ci/airflow-venv.sh`: `.venv-airflow` with 2.10.5,
`.venv-airflow3` with 3.1.8; MAGNUS_AIRFLOW_VENV / MAGNUS_AIRFLOW3_VENV name others):
its pins conflict with the dev extra. The DAGs' bash tasks call back into this
interpreter's magnus (``magnus_command``), so Airflow never imports magnus-render.
A missing venv fails the tests with the command that creates it: CI must run them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

VENVS = {
    "2": os.environ.get("MAGNUS_AIRFLOW_VENV", str(ROOT / ".venv-airflow")),
    "3": os.environ.get("MAGNUS_AIRFLOW3_VENV", str(ROOT / ".venv-airflow3")),
}
_FINISHED = re.compile(r"DagRun Finished: dag_id=\S+, .*?state=(\w+)")


def venv(major: str) -> Path:
    path = Path(VENVS[major])
    if not (path / "bin" / "airflow").exists():
        pytest.fail(
            f"Airflow {major} is not installed at {path}: run `bash .ci/airflow-venv.sh` "
            "(or point MAGNUS_AIRFLOW_VENV / MAGNUS_AIRFLOW3_VENV at a venv with Airflow)"
        )
    return path


@dataclass
class AirflowHome:
    """One initialised AIRFLOW_HOME (sqlite) for one Airflow venv."""

    major: str
    home: Path

    def env(self, dags: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MAGNUS_"))}
        for key in ("MAGNUS_PIPELINE_CACHE_DIR", "MAGNUS_PIPELINE_CACHE"):
            if key in os.environ:
                env[key] = os.environ[key]
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(extra or {})
        return env

    def airflow(self, args: list[str], dags: Path, cwd: Path, timeout: float = 900) -> Any:
        return subprocess.run(
            [str(venv(self.major) / "bin" / "airflow"), *args],
            cwd=cwd,
            env=self.env(dags),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def make_home(major: str, home: Path) -> AirflowHome:
    """A fresh AIRFLOW_HOME with its metadata database migrated (once per session)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dags").mkdir(exist_ok=True)
    airflow = AirflowHome(major, home)
    result = airflow.airflow(["db", "migrate"], home / "dags", home, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return airflow


@dataclass
class DagRun:
    returncode: int
    state: str | None
    output: str


def dags_test(airflow: AirflowHome, dag_file: Path, dag_id: str, conf: dict[str, Any]) -> DagRun:
    """`airflow dags test DAG_ID --conf JSON` with ``dag_file`` alone in its dags folder."""
    dags = dag_file.parent
    result = airflow.airflow(
        ["dags", "test", dag_id, "--conf", json.dumps(conf)], dags, cwd=dags.parent
    )
    output = result.stdout + result.stderr
    found = _FINISHED.search(output)
    return DagRun(result.returncode, found.group(1) if found else None, output)


def bash_config(workdir: Path) -> Path:
    """A config choosing the bash operator, calling this interpreter's magnus."""
    import yaml

    config = {
        "executor": {
            "type": "airflow",
            "config": {
                "operator": "bash",
                "working_dir": str(workdir),
                "magnus_command": [sys.executable, "-m", "magnus_render.cli"],
            },
        }
    }
    path = workdir / "airflow-config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
