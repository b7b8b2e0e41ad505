"""Start-up cost of one container: `magnus execute_single_node` on a stub node.

Prints the median whole-process time of: a bare interpreter, importing pydantic+typer (the
floor every magnus command pays), and execute_single_node of a stub and a python task,
plus whether any heavy module (rich, jinja2, boto3, kubernetes, renderers) got imported.
Run: python3 bench/runtime_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = """
dag:
  start_at: s
  steps:
    s: {type: stub, next: t}
    t: {type: task, command: startup_tasks.t, next: success}
    success: {type: success}
    fail: {type: fail}
"""
PROBE = """
import sys
from magnus_render.cli import app
try:
    app(["execute_single_node", "probe", "s", "--file", "p.yaml"])
except SystemExit:
    pass
heavy = ("rich", "jinja2", "boto3", "kubernetes", "ploomber_engine", "magnus_render.renderers")
print(",".join(m for m in heavy if m in sys.modules) or "none")
"""


def timed(argv: list[str], cwd: Path, repeat: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="magnus-startup-") as tmp:
        work = Path(tmp)
        (work / "p.yaml").write_text(PIPELINE)
        (work / "startup_tasks.py").write_text("def t():\n    return {'ok': 1}\n")
        cases = [
            ("python -c pass", [py, "-c", "pass"]),
            ("import pydantic, typer", [py, "-c", "import pydantic, typer"]),
            (
                "execute_single_node stub",
                [
                    py,
                    "-m",
                    "magnus_render.cli",
                    "execute_single_node",
                    "r1",
                    "s",
                    "--file",
                    "p.yaml",
                ],
            ),
            (
                "execute_single_node task",
                [
                    py,
                    "-m",
                    "magnus_render.cli",
                    "execute_single_node",
                    "r1",
                    "t",
                    "--file",
                    "p.yaml",
                ],
            ),
        ]
        for label, argv in cases:
            print(f"{label:<28} {timed(argv, work, args.repeat) * 1000:8.1f} ms", flush=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        heavy = subprocess.run(
            [py, "-c", PROBE], cwd=work, env=env, capture_output=True, text=True, check=False
        ).stdout.strip()
        print(f"{'heavy modules imported':<28} {heavy}")


if __name__ == "__main__":
    main()
