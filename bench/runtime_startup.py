"""Start-up cost of one container: `magnus execute_single_node` on a stub node.

Prints, measured side by side in the same run (the cases alternate, so a busy machine
slows them alike), the median whole-process time of:

- ``python -c "import yaml"``: the floor (an interpreter that can read the pipeline);
- ``execute_single_node`` of the one step of a one-step pipeline (file-system run log);
- ``execute_single_node`` of the last step of a 5,000-step linear pipeline whose other
  4,999 steps are already in the run log (the journal is written directly, in seconds);
- the same last step with the compiled-pipeline cache off (``MAGNUS_PIPELINE_CACHE=0``);
- ``python -c pass`` (the interpreter alone) and the libraries alone that the container
  path imports before any code of magnus runs (msgspec for the run log, config and store
  settings; dataclasses for the IR; pickle and hashlib for the compiled cache; json,
  argparse): the floor of this design; and msgspec alone, with its share of what the
  1.5x target leaves above ``python -c pass``;
- what a cluster pod sees, for the one-step pipeline and the last of 5,000: "cold", a
  fresh, empty cache folder per call (a pod of an image without a baked cache: it builds
  the pipeline from YAML and writes the entry), and "baked", a folder filled once by
  ``magnus compile`` and then made read-only (docs/containers.md);

then the ratios against the targets (one step within 1.5x of ``import yaml``; the last of
5,000 within 1.2x of one step, warm, cold and baked, all against the one-step warm case),
and which heavy modules a container command imports.
With ``--reference``, the peer too: magnus 0.5.1's ``execute_single_node`` of the same
one-step pipeline (installed by bench/compare.py into bench/.cache/; 0.5.1 needs the run
log to exist, so both sides re-run the step of an existing run). The load average is
printed with the figures: on a shared machine, compare ratios, not milliseconds.
Every timed command runs once before timing (it fills the compiled-pipeline cache, kept in
a temporary folder). Run: python3 bench/runtime_startup.py [--repeat N] [--steps N]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("typer", "click", "rich", "jinja2", "boto3", "kubernetes", "magnus_render.renderers")
PROBE = """
import sys
from magnus_render.container_cli import dispatch
code = dispatch(sys.argv[1:])
heavy = {heavy!r}
print(code, ",".join(m for m in heavy if m in sys.modules) or "none")
"""
#: the libraries a stub step imports before magnus's own code: the floor of this design
LIBRARIES = "import msgspec.json, dataclasses, pickle, hashlib, json, argparse"
#: the one library that puts the 1.5x target out of reach (the run log, config and
#: settings models; what it imports: typing_extensions, inspect, uuid, decimal, ...)
MSGSPEC = "import msgspec"
SETUP = """
import json, sys
from magnus_render.runtime.entrypoints import execute_single_node
steps = int(sys.argv[1])
assert execute_single_node("r1", "s0", "p.yaml") == 0
path = ".run_log_store/r1.jsonl"
first = [json.loads(line) for line in open(path)]
template = first[-1]["v"]
with open(path, "a") as fh:
    for i in range(1, steps - 1):
        value = dict(template, name=f"s{i}", internal_name=f"s{i}")
        fh.write(json.dumps({"k": "step", "v": value}, separators=(",", ":")) + "\\n")
"""


def linear(steps: int) -> str:
    lines = ["dag:", "  start_at: s0", "  steps:"]
    for i in range(steps):
        nxt = f"s{i + 1}" if i < steps - 1 else "success"
        lines.append(f"    s{i}: {{type: stub, next: {nxt}}}")
    lines += ["    success: {type: success}", "    fail: {type: fail}"]
    return "\n".join(lines) + "\n"


def node_argv(step: str) -> list[str]:
    return [sys.executable, "-m", "magnus_render.cli", "execute_single_node", "r1", step]


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    fresh = env.get("BENCH_FRESH_CACHE")  # cold: the cache folder is emptied (untimed)
    if fresh:
        shutil.rmtree(fresh, ignore_errors=True)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed in {cwd}:\n{done.stderr}")
    return took


def baked(folder: Path, cache: Path, env: dict[str, str]) -> dict[str, str]:
    """``magnus compile`` into ``cache`` once, then read-only: an image's baked cache."""
    env = {**env, "MAGNUS_PIPELINE_CACHE_DIR": str(cache)}
    argv = [sys.executable, "-m", "magnus_render.cli", "compile", "--file", "p.yaml"]
    subprocess.run(argv, cwd=folder, env=env, check=True, capture_output=True)
    for entry in [*cache.iterdir(), cache]:
        entry.chmod(0o555 if entry.is_dir() else 0o444)
    return env


def cold(cache: Path, env: dict[str, str]) -> dict[str, str]:
    """A cache folder emptied before every call: a pod without a baked cache."""
    return {**env, "MAGNUS_PIPELINE_CACHE_DIR": str(cache), "BENCH_FRESH_CACHE": str(cache)}


def reference_case(folder: Path, env: dict[str, str]) -> tuple[str, list[str], Path, dict]:
    """magnus 0.5.1 re-running the stub step of an existing one-step run (file-system
    stores, as in bench/compare.py)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from compare import ensure_reference_venv

    magnus = str(ensure_reference_venv() / "bin" / "magnus")
    folder.mkdir()
    (folder / "p.yaml").write_text(linear(1))
    (folder / "ref.yaml").write_text(
        "executor: {type: local}\nrun_log_store: {type: file-system}\n"
        "catalog: {type: file-system}\n"
    )
    ref_env = {k: v for k, v in env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    config = ["--file", "p.yaml", "--config-file", "ref.yaml"]
    create = [magnus, "execute", *config, "--run-id", "r1"]
    subprocess.run(create, cwd=folder, env=ref_env, capture_output=True, check=True)
    argv = [magnus, "execute_single_node", "r1", "s0", *config]
    return ("magnus 0.5.1 execute_single_node", argv, folder, ref_env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--reference", action="store_true", help="also magnus 0.5.1")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="magnus-startup-") as tmp:
        one, big = Path(tmp, "one"), Path(tmp, "big")
        for folder, steps in ((one, 1), (big, args.steps)):
            folder.mkdir()
            (folder / "p.yaml").write_text(linear(steps))
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "XDG_CACHE_HOME": str(Path(tmp, "cache")),
            "MAGNUS_PIPELINE_CACHE_DIR": str(Path(tmp, "cache")),
        }
        env.pop("MAGNUS_PIPELINE_CACHE", None)
        # an installed package has its bytecode (pip compiles it): with
        # PYTHONDONTWRITEBYTECODE set and stale .pyc files, every call would compile sources
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        compile_all = [sys.executable, "-m", "compileall", "-q", "magnus_render", "magnus"]
        subprocess.run(compile_all, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-c", SETUP, str(args.steps)], cwd=big, env=env, check=True)
        last = f"s{args.steps - 1}"
        off = {**env, "MAGNUS_PIPELINE_CACHE": "0"}
        one_argv, big_argv = (
            [*node_argv("s0"), "--file", "p.yaml"],
            [*node_argv(last), "--file", "p.yaml"],
        )
        n = f"{args.steps:,}"
        cases = [
            ('python -c "import yaml"', [sys.executable, "-c", "import yaml"], one, env),
            ("one-step execute_single_node", one_argv, one, env),
            (f"last of {n} steps", big_argv, big, env),
            (f"last of {n}, no cache", big_argv, big, off),
            ("the libraries alone", [sys.executable, "-c", LIBRARIES], one, env),
            ("one-step, cold cache", one_argv, one, cold(Path(tmp, "cold-one"), env)),
            (f"last of {n}, cold cache", big_argv, big, cold(Path(tmp, "cold-big"), env)),
            ("one-step, baked cache", one_argv, one, baked(one, Path(tmp, "baked-one"), env)),
            (f"last of {n}, baked cache", big_argv, big, baked(big, Path(tmp, "baked-big"), env)),
        ]
        cases.append(("python -c pass", [sys.executable, "-c", "pass"], one, env))
        cases.append(("msgspec alone", [sys.executable, "-c", MSGSPEC], one, env))
        if args.reference:
            cases.append(reference_case(Path(tmp, "ref"), env))
        times: dict[str, list[float]] = {label: [] for label, *_ in cases}
        for _label, argv, cwd, case_env in cases:  # warm up: fills the compiled cache
            run(argv, cwd, case_env)
        for i in range(args.repeat):
            order = cases if i % 2 == 0 else cases[::-1]
            for label, argv, cwd, case_env in order:
                times[label].append(run(argv, cwd, case_env))
        med = {label: statistics.median(values) for label, values in times.items()}
        for label, value in med.items():
            print(f"{label:<38} {value * 1000:8.1f} ms  (median of {args.repeat})")
        labels = list(med)
        floor, single, many, uncached, models = (med[label] for label in labels[:5])
        print(f"{'one step / import yaml':<38} {single / floor:8.2f}x  (target <= 1.5x)")
        print(f"{f'last of {n} / one step':<38} {many / single:8.2f}x  (target <= 1.2x)")
        print(f"{'  the same without the cache':<38} {uncached / single:8.2f}x")
        libs = "the libraries alone / import yaml"
        print(f"{libs:<38} {models / floor:8.2f}x  (the design's floor)")
        bare = med["python -c pass"]
        print(f"{'one step - python -c pass':<38} {(single - bare) * 1000:8.1f} ms")
        print(f"{'import yaml - python -c pass':<38} {(floor - bare) * 1000:8.1f} ms")
        spec = med["msgspec alone"] - bare
        print(f"{'import msgspec - python -c pass':<38} {spec * 1000:8.1f} ms")
        budget = 1.5 * floor - bare  # what the target leaves for imports and the step
        print(f"{'  of the 1.5x budget above pass':<38} {spec / budget:8.0%}")
        for label in labels[5:9]:  # what a pod sees, against the one-step warm case
            print(f"{label + ' / one step':<38} {med[label] / single:8.2f}x")
        if args.reference:
            peer = med["magnus 0.5.1 execute_single_node"]
            print(f"{'magnus 0.5.1 / one step':<38} {peer / single:8.2f}x  (speed-up)")
            print(f"{'magnus 0.5.1 / import yaml':<38} {peer / floor:8.2f}x")
        load_after = os.getloadavg()[0]
        print(f"{'load average (1 min) before / after':<38} {load_before:.1f} / {load_after:.1f}")
        probe = PROBE.format(heavy=HEAVY)
        argv = [sys.executable, "-c", probe, "execute_single_node", "r1", "s0", "--file", "p.yaml"]
        found = subprocess.run(argv, cwd=one, env=env, capture_output=True, text=True)
        print(f"{'heavy modules imported':<38} {found.stdout.strip().split(' ', 1)[-1]}")
        print(json.dumps({k: round(v * 1000, 1) for k, v in med.items()}))


if __name__ == "__main__":
    main()
