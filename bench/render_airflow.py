"""Render time of the Airflow target for 1,000 steps, and Airflow's parse time of the file.

Prints: the whole-process wall and CPU time of ``magnus-render --target airflow`` (best of
3, interpreter start-up and YAML loading included), the in-process render time alone
(target: under 0.5 s), the file's size and task count, and the time Airflow's DagBag takes
to parse the rendered file (its own ``dagbag_stats`` duration, best of 3; target: under
2 s, since the scheduler re-parses DAG files continuously), for each Airflow venv that
``.ci/airflow-venv.sh`` made (``.venv-airflow``: 2.10.5, ``.venv-airflow3``: 3.1.8).

Run: python3 bench/render_airflow.py [STEPS]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from render_shell import pipeline_yaml  # noqa: E402  (the same 1,000-step pipeline)

RENDER = "from magnus_render.cli import render_main; render_main()"
CONFIG = "executor:\n  type: airflow\n  config:\n    operator: bash\n    working_dir: /srv\n"
PARSE = """
import sys
from airflow.models.dagbag import DagBag
best = None
for _ in range(3):
    bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
    assert not bag.import_errors, bag.import_errors
    duration = bag.dagbag_stats[0].duration
    seconds = duration.total_seconds() if hasattr(duration, "total_seconds") else duration
    best = seconds if best is None else min(best, seconds)
dag = next(iter(bag.dags.values()))
print(f"{best:.3f} {len(dag.tasks)}")
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pipeline = folder / "bench.yaml"
        pipeline.write_text(pipeline_yaml(steps), encoding="utf-8")
        config = folder / "config.yaml"
        config.write_text(CONFIG, encoding="utf-8")
        dags = folder / "dags"
        dags.mkdir()
        out = dags / "bench.py"
        walls, cpus = [], []
        for _ in range(3):
            cpu, start = _cpu(), time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", RENDER, "--target", "airflow", str(pipeline), "-c",
                 str(config), "-o", str(out)],
                check=True, capture_output=True, cwd=ROOT,
            )  # fmt: skip
            walls.append(time.perf_counter() - start)
            cpus.append(_cpu() - cpu)
        print(f"{steps} steps: magnus-render process {min(walls):.3f} s wall, "
              f"{min(cpus):.3f} s CPU (best of 3)")  # fmt: skip

        from magnus_render.config import load_config
        from magnus_render.pipeline import load_pipeline
        from magnus_render.renderers.airflow import AirflowRenderer
        from magnus_render.renderers.base import RenderOptions

        loaded, settings = load_pipeline(pipeline), load_config(config)
        best = None
        for _ in range(3):
            start = time.perf_counter()
            AirflowRenderer(loaded, settings, RenderOptions(str(pipeline))).render()
            took = time.perf_counter() - start
            best = took if best is None else min(best, took)
        size = out.stat().st_size
        print(f"  render alone: {best:.3f} s (target < 0.5 s); file {size / 1024:.0f} KiB")
        for name, venv in (("2.10.5", ".venv-airflow"), ("3.1.8", ".venv-airflow3")):
            python = ROOT / venv / "bin" / "python"
            if not python.exists():
                print(f"  Airflow {name}: not installed (bash .ci/airflow-venv.sh)")
                continue
            env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
            env.update({"AIRFLOW_HOME": tmp, "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120"})  # fmt: skip
            result = subprocess.run(
                [str(python), "-c", PARSE, str(dags)], capture_output=True, text=True, env=env,
                check=False,
            )  # fmt: skip
            if result.returncode:
                print(f"  Airflow {name}: parse failed: {result.stderr[-2000:]}")
                continue
            seconds, tasks = result.stdout.strip().splitlines()[-1].split()
            print(f"  Airflow {name} DagBag parse: {seconds} s for {tasks} tasks (target < 2 s)")


if __name__ == "__main__":
    main()
