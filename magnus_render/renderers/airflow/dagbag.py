"""``--validate`` for the Airflow target: Airflow's own DagBag imports the rendered file.

Needs Airflow in this interpreter (``pip install 'magnus-render[airflow]'``); the import
runs in a subprocess with a private, empty AIRFLOW_HOME, so it neither reads nor writes
the user's Airflow setup and the import errors Airflow reports come back as text.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from magnus_render.errors import MagnusError

#: loads every file of a folder with DagBag; prints its import errors, exits 1 if any
_SCRIPT = """
import sys
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
for path, error in sorted(bag.import_errors.items()):
    print(f"{path}: {error}")
if not bag.dags:
    print("no DAG found")
sys.exit(1 if bag.import_errors or not bag.dags else 0)
"""


def import_errors(text: str, name: str, python: str | None = None) -> str:
    """The import errors DagBag reports for ``text`` saved as ``name``.py ('' when none)."""
    if python is None and importlib.util.find_spec("airflow") is None:
        raise MagnusError(
            "--validate imports the DAG with Airflow's DagBag: install Airflow "
            "(pip install 'magnus-render[airflow]')"
        )
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / f"{name}.py").write_text(text, encoding="utf-8")
        return folder_import_errors(Path(folder), python)


def folder_import_errors(dags: Path, python: str | None = None) -> str:
    """DagBag's import errors for every file of ``dags`` ('' when none), with a private
    AIRFLOW_HOME and sqlite database."""
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": home,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            }
        )
        result = subprocess.run(
            [python or sys.executable, "-c", _SCRIPT, str(dags)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
    if result.returncode == 0:
        return ""
    return (result.stdout.strip() or result.stderr.strip()[-3000:]).replace(str(dags), "dags")
