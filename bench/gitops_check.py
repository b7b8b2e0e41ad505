"""`magnus-render --manifest render.yaml --check` on a repository of 100 pipelines.

The check runs in a pre-commit hook, so its whole-process time is what a developer waits for
at every commit (target: under 3 s for 100 pipelines rendered for two targets). Prints the
wall and CPU time (best of 3) of the check on a current tree, of a full render into an empty
tree, and the ratio to the floor: starting Python and importing yaml, measured in the same run.

Run: python3 bench/gitops_check.py [PIPELINES]
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RENDER = "from magnus_render.cli import render_main; render_main()"
MANIFEST = """\
renders:
  - pipelines: pipelines/*.yaml
    target: argo
    kind: WorkflowTemplate
    image: registry.example/app:1
    config: configs/argo.yaml
    output: deploy/argo/{name}.yaml
    kustomization: true
  - pipelines: pipelines/*.yaml
    target: stepfunctions
    config: configs/stepfunctions.yaml
    output: deploy/sfn/{name}.json
"""
#: the cluster targets refuse stores their pods cannot share: the samples' own configs
TARGETS = ("argo", "stepfunctions")


def timed(args: list[str], cwd: Path) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def best(args: list[str], cwd: Path, repeat: int = 3) -> tuple[float, float, int]:
    runs = [timed(args, cwd) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[-1][2]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    samples = sorted((ROOT / "samples").glob("*.yaml"))
    samples = [s for s in samples if "dag_definition" not in s.read_text()]
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        (repo / "pipelines").mkdir()
        for i in range(count):
            shutil.copy(samples[i % len(samples)], repo / "pipelines" / f"p{i:03d}.yaml")
        (repo / "render.yaml").write_text(MANIFEST, encoding="utf-8")
        (repo / "configs").mkdir()
        for target in TARGETS:
            config = ROOT / "samples" / "golden" / target / "config.yaml"
            shutil.copy(config, repo / "configs" / f"{target}.yaml")
        command = [sys.executable, "-c", RENDER, "--manifest", "render.yaml"]
        floor = best([sys.executable, "-c", "import yaml"], repo)
        render = timed(command, repo)
        check = best([*command, "--check"], repo)
        if render[2] != 0 or check[2] != 0:
            done = subprocess.run(command, cwd=repo, capture_output=True, text=True)
            sys.exit(f"the render or the check failed:\n{done.stderr[-2000:]}")
    print(f"pipelines: {count} (x2 targets = {2 * count} specs + 1 kustomization)")
    print(f"floor (python -c 'import yaml'): wall {floor[0]:.3f} s, cpu {floor[1]:.3f} s")
    print(f"render into an empty tree:     wall {render[0]:.3f} s, cpu {render[1]:.3f} s")
    print(
        f"--check on a current tree:     wall {check[0]:.3f} s, cpu {check[1]:.3f} s "
        f"(target < 3 s; {check[0] / floor[0]:.1f}x the floor)"
    )


if __name__ == "__main__":
    main()
