"""Side-by-side benchmark of magnus-render against magnus 0.5.1, the reference it replaces.

Installs magnus==0.5.1 (and ploomber-engine, which it imports) from PyPI into a venv under
bench/.cache/ (git-ignored), writes the same workloads into a scratch folder outside the
repository, and runs each through both projects' own console scripts, alternating which
goes first, so that drift in machine load hits both sides alike. Prints a Markdown table of
median wall time, the ratio, and the peak resident memory of each command.

    python3 bench/compare.py                 # 3 repeats of everything (20-30 minutes)
    python3 bench/compare.py --repeats 1 --only lin1,lin100,argo100

Timings are whole commands (start-up included), as a user or a container would run them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
REFERENCE = "magnus==0.5.1"
REFERENCE_VENV = CACHE / "magnus051"

TASKS_MODULE = '''\
"""Tasks for the benchmark: as cheap as possible, so the framework's cost is what shows."""


def noop() -> None:
    return None


def process(item: int) -> None:  # magnus 0.5.1 casts by annotation; it needs one
    return None
'''


@dataclass(frozen=True)
class Workload:
    """One row of the table: how to run it on each side."""

    key: str
    label: str
    pipeline: str
    mode: str  # "execute" or "argo"
    params: bool = False


WORKLOADS = [
    Workload("lin1", "local run, linear 1 step", "lin1.yaml", "execute"),
    Workload("lin100", "local run, linear 100 steps", "lin100.yaml", "execute"),
    Workload("lin500", "local run, linear 500 steps", "lin500.yaml", "execute"),
    Workload("lin1000", "local run, linear 1,000 steps", "lin1000.yaml", "execute"),
    Workload("map100", "local run, map over 100 items", "map100.yaml", "execute", params=True),
    Workload("argo100", "Argo render, 100 steps", "lin100.yaml", "argo"),
    Workload("argo1000", "Argo render, 1,000 steps", "lin1000.yaml", "argo"),
]


@dataclass
class Sample:
    """One timed command: wall seconds, peak RSS in MiB, and why it failed (if it did)."""

    seconds: float
    peak_mib: float
    failure: str = ""


@dataclass
class Row:
    workload: Workload
    samples: dict[str, list[Sample]] = field(default_factory=lambda: {"ref": [], "ours": []})


# -- setup ---------------------------------------------------------------------------------
def ensure_reference_venv() -> Path:
    """The venv holding magnus 0.5.1, created and installed once (cached)."""
    magnus = REFERENCE_VENV / "bin" / "magnus"
    marker = REFERENCE_VENV / ".installed"
    if marker.is_file() and magnus.is_file():
        return REFERENCE_VENV
    print(f"installing {REFERENCE} into {REFERENCE_VENV} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(REFERENCE_VENV)], check=True)
    pip = [str(REFERENCE_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, REFERENCE, "ploomber-engine"], check=True)
    marker.write_text(REFERENCE + "\n")
    return REFERENCE_VENV


def our_scripts() -> tuple[Path, Path]:
    """Our `magnus` and `magnus-render` console scripts, next to this interpreter."""
    bindir = Path(sys.executable).parent
    found = []
    for name in ("magnus", "magnus-render"):
        path = bindir / name
        if not path.is_file():
            located = shutil.which(name)
            if located is None:
                sys.exit(f"{name} not found: install magnus-render first (pip install -e .)")
            path = Path(located)
        found.append(path)
    return found[0], found[1]


def linear(n: int) -> dict:
    steps: dict[str, dict] = {}
    for i in range(n):
        nxt = f"s{i + 1}" if i + 1 < n else "success"
        steps[f"s{i}"] = {"type": "task", "command": "bench_tasks.noop", "next": nxt}
    steps["success"] = {"type": "success"}
    steps["fail"] = {"type": "fail"}
    return {"dag": {"description": f"{n} linear steps", "start_at": "s0", "steps": steps}}


def map_pipeline() -> dict:
    branch = {
        "start_at": "work",
        "steps": {
            "work": {"type": "task", "command": "bench_tasks.process", "next": "success"},
            "success": {"type": "success"},
            "fail": {"type": "fail"},
        },
    }
    each = {
        "type": "map",
        "iterate_on": "items",
        "iterate_as": "item",
        "next": "success",
        "branch": branch,
    }
    steps = {"each": each, "success": {"type": "success"}, "fail": {"type": "fail"}}
    return {"dag": {"start_at": "each", "steps": steps}}


def write_workspace(root: Path) -> None:
    """Pipelines, tasks, parameters and each side's configs (file-system stores for both)."""
    (root / "bench_tasks.py").write_text(TASKS_MODULE)
    for n in (1, 100, 500, 1000):
        (root / f"lin{n}.yaml").write_text(yaml.safe_dump(linear(n), sort_keys=False))
    (root / "map100.yaml").write_text(yaml.safe_dump(map_pipeline(), sort_keys=False))
    (root / "params.yaml").write_text(yaml.safe_dump({"items": list(range(100))}))
    for side in ("ref", "ours"):
        stores = {
            "run_log_store": {
                "type": "file-system",
                "config": {"log_folder": str(root / side / "runs")},
            },
            "catalog": {
                "type": "file-system",
                "config": {"catalog_location": str(root / side / "catalog")},
            },
        }
        local = {"executor": {"type": "local"}, **stores}
        (root / f"{side}-local.yaml").write_text(yaml.safe_dump(local))
    argo = {
        "executor": {
            "type": "argo",
            "config": {"image": "bench:latest", "output_file": str(root / "ref-argo-out.yaml")},
        },
        "run_log_store": {"type": "file-system", "config": {"log_folder": str(root / "ref")}},
    }
    (root / "ref-argo.yaml").write_text(yaml.safe_dump(argo))
    # ours refuses stores its pods cannot share: the same on a declared volume
    ours_argo = {
        "executor": {
            "type": "argo",
            "config": {"persistent_volumes": [{"name": "runs", "mount_path": str(root)}]},
        },
        "run_log_store": {"type": "file-system", "config": {"log_folder": str(root / "ours")}},
        "catalog": {"type": "file-system", "config": {"catalog_location": str(root / "cat")}},
    }
    (root / "ours-argo.yaml").write_text(yaml.safe_dump(ours_argo))


# -- measuring -----------------------------------------------------------------------------
def run_measured(argv: list[str], cwd: Path, timeout: float) -> Sample:
    """Run a command; wall time from spawn to exit and the child's peak RSS (wait4)."""
    env = {**os.environ, "PYTHONPATH": str(cwd), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("VIRTUAL_ENV", None)
    err_path = cwd / "output.txt"  # 0.5.1 logs its errors to stdout: keep both
    with open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=err, stderr=subprocess.STDOUT)
        deadline = start + timeout
        status, rusage = 0, None
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                _, status, rusage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                seconds = time.perf_counter() - start
                return Sample(seconds, rusage.ru_maxrss / 1024, f"timeout after {timeout:.0f} s")
            time.sleep(0.005)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = rusage.ru_maxrss / 1024  # KiB on Linux
    if proc.returncode != 0:
        return Sample(seconds, peak, _why(err_path.read_text(errors="replace"), proc.returncode))
    return Sample(seconds, peak)


def _why(stderr: str, code: int) -> str:
    """A short reason for a failure, from the last error-looking line of stderr."""
    for needle in ("RecursionError", "MemoryError", "Exception", "Error"):
        for line in reversed(stderr.splitlines()):
            if needle in line:
                return line.strip().strip("│ ").strip()[:80]
    return f"exit {code}"


def ref_argv(venv: Path, w: Workload, root: Path, run_id: str) -> list[str]:
    magnus = str(venv / "bin" / "magnus")
    if w.mode == "argo":
        return [magnus, "execute", "--file", w.pipeline, "--config-file", "ref-argo.yaml"]
    argv = [magnus, "execute", "--file", w.pipeline, "--config-file", "ref-local.yaml"]
    argv += ["--run-id", run_id]
    return argv + (["--parameters-file", "params.yaml"] if w.params else [])


def our_argv(scripts: tuple[Path, Path], w: Workload, root: Path, run_id: str) -> list[str]:
    magnus, render = (str(s) for s in scripts)
    if w.mode == "argo":
        out = str(root / "ours-argo-out.yaml")
        return [render, "--target", "argo", w.pipeline, "--image", "bench:latest", "-o", out,
                "-c", "ours-argo.yaml"]  # fmt: skip
    argv = [magnus, "execute", "--file", w.pipeline, "--config-file", "ours-local.yaml"]
    argv += ["--run-id", run_id]
    return argv + (["--parameters-file", "params.yaml"] if w.params else [])


def check_output(side: str, w: Workload, root: Path, run_id: str, sample: Sample) -> Sample:
    """A zero exit is not enough: the run log must say SUCCESS, the spec must exist."""
    if sample.failure:
        return sample
    if w.mode == "argo":
        out = root / f"{side}-argo-out.yaml"
        ok = out.is_file() and out.stat().st_size > 0
        if ok:
            out.unlink()
        return sample if ok else Sample(sample.seconds, sample.peak_mib, "no spec written")
    if side == "ref":
        log = root / "ref" / "runs" / f"{run_id}.json"
        status = json.loads(log.read_text()).get("status") if log.is_file() else "missing"
    else:
        status = _our_status(root, run_id)
    if status != "SUCCESS":
        return Sample(sample.seconds, sample.peak_mib, f"run log status {status}")
    return sample


def _our_status(root: Path, run_id: str) -> str:
    """Our run's final status, read through `magnus show --json` (the store's own reader)."""
    magnus = Path(sys.executable).parent / "magnus"
    result = subprocess.run(
        [str(magnus), "show", run_id, "--config-file", "ours-local.yaml", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return "missing"
    return json.loads(result.stdout).get("status", "missing")


# -- reporting -----------------------------------------------------------------------------
def _median(samples: list[Sample]) -> Sample | None:
    # a timed-out run counts with its time so far: the median becomes a lower bound
    good = [s for s in samples if not s.failure or s.failure.startswith("timeout")]
    if not good:
        return None
    return Sample(
        statistics.median(s.seconds for s in good), statistics.median(s.peak_mib for s in good)
    )


def _cell(median: Sample | None, samples: list[Sample], failure: str) -> str:
    """The median time, or why every run failed; partial failures are counted, not hidden."""
    if median is None:
        return f"fails ({failure})"
    bad = sum(1 for s in samples if s.failure)
    at_least = "≥ " if any(s.failure.startswith("timeout") for s in samples) else ""
    note = f" ({bad} of {len(samples)}: {failure})" if bad else ""
    return f"{at_least}{median.seconds:.2f} s{note}"


def table(rows: list[Row], repeats: int) -> str:
    head = (
        "| workload | magnus 0.5.1 | magnus-render | speed-up | peak RSS 0.5.1 | "
        "peak RSS magnus-render |\n|---|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for row in rows:
        ref, ours = _median(row.samples["ref"]), _median(row.samples["ours"])
        ref_fail = next((s.failure for s in row.samples["ref"] if s.failure), "")
        ours_fail = next((s.failure for s in row.samples["ours"] if s.failure), "")
        ref_t = _cell(ref, row.samples["ref"], ref_fail)
        ours_t = _cell(ours, row.samples["ours"], ours_fail)
        ratio = f"{ref.seconds / ours.seconds:.1f}x" if ref and ours else "n/a"
        if ref and "≥" in ref_t and ratio != "n/a":
            ratio = "≥ " + ratio
        ref_m = f"{ref.peak_mib:.0f} MiB" if ref else "n/a"
        ours_m = f"{ours.peak_mib:.0f} MiB" if ours else "n/a"
        lines.append(
            f"| {row.workload.label} | {ref_t} | {ours_t} | {ratio} | {ref_m} | {ours_m} |"
        )
    lines.append("")
    lines.append(
        f"Medians of {repeats} run(s) each, alternating sides; wall time of the whole command; "
        "speed-up = 0.5.1 time / magnus-render time; file-system run log and catalog on both."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--only", default="", help="comma-separated keys: " + ",".join(w.key for w in WORKLOADS)
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per command")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)

    chosen = [w for w in WORKLOADS if not args.only or w.key in args.only.split(",")]
    venv = ensure_reference_venv()
    scripts = our_scripts()
    root = Path(tempfile.mkdtemp(prefix="magnus-bench-"))
    write_workspace(root)
    rows = [Row(w) for w in chosen]
    try:
        for repeat in range(args.repeats):
            for row in rows:
                w = row.workload
                order = ["ours", "ref"] if repeat % 2 == 0 else ["ref", "ours"]
                for side in order:
                    run_id = f"{side}-{w.key}-{repeat}"
                    if side == "ref":
                        cmd = ref_argv(venv, w, root, run_id)
                    else:
                        cmd = our_argv(scripts, w, root, run_id)
                    sample = run_measured(cmd, root, args.timeout)
                    sample = check_output(side, w, root, run_id, sample)
                    row.samples[side].append(sample)
                    shown = sample.failure or f"{sample.seconds:.2f} s"
                    print(
                        f"[{repeat + 1}/{args.repeats}] {w.key:9} {side:4} {shown}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    raw = {
        row.workload.key: {side: [vars(x) for x in got] for side, got in row.samples.items()}
        for row in rows
    }
    (CACHE / "compare-last.json").write_text(json.dumps(raw, indent=1))
    print(table(rows, args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
