"""The rendered script under real bash: traversal, routing, map items, exit codes, quoting.

Here the script's `magnus` is a recording program (set through the target's
``magnus_command`` setting): it logs the exact argv words it receives, writes the items a
map fan-out would write, and exits with the codes a test chooses. That isolates what the
script itself decides (which command runs next, with which words) from the runtime; the
conformance tests run the same scripts against the real runtime.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from magnus_render.config import MagnusConfig
from magnus_render.pipeline import load_pipeline
from magnus_render.renderers.base import RenderOptions
from magnus_render.renderers.shell import ShellRenderer, ShellSettings
from tests.conftest import SAMPLES

RECORDER = """
import json, os, sys
args = sys.argv[1:]
with open(os.environ["REC_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(args) + "\\n")
name = args[-1]  # positionals last, after --
if args[0] == "fan" and "--items-file" in args:
    items = json.loads(os.environ.get("REC_ITEMS", "{}")).get(name, [])
    with open(args[args.index("--items-file") + 1], "w", encoding="utf-8") as out:
        json.dump(items, out)
if name == os.environ.get("REC_BLOCK"):  # hold this node until the test releases it
    import time
    while not os.path.exists(os.environ["REC_RELEASE"]):
        time.sleep(0.05)
mode = args[args.index("--mode") + 1] if "--mode" in args else ""
key = name if args[0] == "execute_single_node" else args[0] + "-" + mode + ":" + name
sys.exit(json.loads(os.environ.get("REC_CODES", "{}")).get(key, 0))
"""

HOSTILE_NAMES = [
    "'; touch PWNED; '",
    "$(touch PWNED2) `touch PWNED3`",
    'a "quoted" ; touch PWNED4 && echo',
    "done",
    "ünïcødé ✓ \\ back; touch PWNED5",
]
HOSTILE_VALUES = [
    "it's",
    'say "hi"',
    "$(touch PWNED6)",
    "`touch PWNED7`",
    "; touch PWNED8;",
    "two\nlines",
    "ünïcødé ✓",
    "back\\slash",
    "",
]


def render(pipeline_path: Path, pipeline_word: str, settings: dict[str, Any] | None = None) -> str:
    config = MagnusConfig.model_validate({"executor": {"type": "shell", "config": settings or {}}})
    options = RenderOptions(pipeline_file=pipeline_word)
    return ShellRenderer(load_pipeline(pipeline_path), config, options).render().text


class Recorded:
    def __init__(self, result: subprocess.CompletedProcess[str], log: Path):
        self.code = result.returncode
        self.stderr = result.stderr
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        self.calls: list[list[str]] = [json.loads(line) for line in lines]

    def names(self) -> list[str]:
        """Each call as 'NAME' (a node) or 'out:NAME' / 'in:NAME' (a fan)."""
        return [
            c[-1] if c[0] == "execute_single_node" else f"{c[c.index('--mode') + 1]}:{c[-1]}"
            for c in self.calls
        ]


def run_script(
    tmp_path: Path,
    pipeline: Path,
    pipeline_word: str | None = None,
    settings: dict[str, Any] | None = None,
    codes: dict[str, int] | None = None,
    items: dict[str, list[str]] | None = None,
    args: tuple[str, ...] = ("run-1",),
) -> Recorded:
    recorder = tmp_path / "recorder.py"
    recorder.write_text(RECORDER, encoding="utf-8")
    all_settings = {"magnus_command": [sys.executable, str(recorder)], **(settings or {})}
    script = tmp_path / "wf.sh"
    script.write_text(render(pipeline, pipeline_word or str(pipeline), all_settings), "utf-8")
    log = tmp_path / "calls.jsonl"
    log.unlink(missing_ok=True)
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "REC_LOG": str(log),
        "REC_CODES": json.dumps(codes or {}),
        "REC_ITEMS": json.dumps(items or {}),
        "TMPDIR": str(scratch),
    }
    result = subprocess.run(
        ["bash", str(script), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert list(scratch.iterdir()) == [], "the script left scratch files behind"
    return Recorded(result, log)


def test_linear_run_calls_every_node_with_exact_words(tmp_path: Path) -> None:
    rec = run_script(tmp_path, SAMPLES / "hello.yaml", "samples/hello.yaml")
    assert rec.code == 0, rec.stderr
    assert rec.calls == [
        ["execute_single_node", "--file", "samples/hello.yaml", "--", "run-1", step]
        for step in ("initialize", "double", "train", "report", "success")
    ]


def test_run_options_are_passed_to_every_call(tmp_path: Path) -> None:
    rec = run_script(
        tmp_path, SAMPLES / "hello.yaml", args=("--use-cached", "old-run", "--tag", "t 1", "r2")
    )
    assert rec.code == 0, rec.stderr
    assert len(rec.calls) == 5
    for call in rec.calls:
        assert call[-2] == "r2"
        assert call[1:5] == ["--use-cached", "old-run", "--tag", "t 1"]


def test_default_run_id_is_generated(tmp_path: Path) -> None:
    rec = run_script(tmp_path, SAMPLES / "hello.yaml", args=())
    assert rec.code == 0, rec.stderr
    run_ids = {call[-2] for call in rec.calls}
    assert len(run_ids) == 1 and run_ids.pop()


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    rec = run_script(tmp_path, SAMPLES / "hello.yaml", args=("a", "b"))
    assert rec.code == 2 and "usage" in rec.stderr
    assert rec.calls == []


def test_failure_routes_to_on_failure(tmp_path: Path) -> None:
    rec = run_script(tmp_path, SAMPLES / "on_failure.yaml", codes={"risky": 1})
    assert rec.code == 0, rec.stderr
    assert rec.names() == ["risky", "recover", "success"]


def test_failure_without_on_failure_ends_in_fail_node_exit_1(tmp_path: Path) -> None:
    rec = run_script(tmp_path, SAMPLES / "failing.yaml", codes={"broken": 1})
    assert rec.code == 1, rec.stderr
    assert rec.names() == ["prepare", "broken", "fail"]


def test_bad_input_from_magnus_stops_the_script_with_its_code(tmp_path: Path) -> None:
    rec = run_script(tmp_path, SAMPLES / "hello.yaml", codes={"double": 2})
    assert rec.code == 2
    assert rec.names() == ["initialize", "double"]
    assert "stopping" in rec.stderr


def test_map_passes_every_item_verbatim_in_order(tmp_path: Path) -> None:
    items = [json.dumps({"chunk": value}) for value in HOSTILE_VALUES]
    rec = run_script(tmp_path, SAMPLES / "map.yaml", items={"each": items})
    assert rec.code == 0, rec.stderr
    assert rec.names() == [
        "chunk",
        "out:each",
        *[n for _ in items for n in ("each.{map}.process", "each.{map}.success")],
        "in:each",
        "summarize",
        "success",
    ]
    passed = [c[c.index("--map-variable") + 1] for c in rec.calls if "--map-variable" in c]
    assert passed == [item for item in items for _ in (1, 2)]
    assert not list(tmp_path.glob("PWNED*"))


def test_failed_fan_in_routes_like_a_failed_step(tmp_path: Path) -> None:
    items = [json.dumps({"chunk": "a"})]
    rec = run_script(
        tmp_path,
        SAMPLES / "map.yaml",
        codes={"each.{map}.process": 1, "fan-in:each": 1},
        items={"each": items},
    )
    assert rec.code == 1
    assert rec.names() == [
        "chunk",
        "out:each",
        "each.{map}.process",
        "each.{map}.fail",
        "in:each",
        "fail",
    ]


def test_nested_map_parallel_map(tmp_path: Path) -> None:
    regions = [json.dumps({"region": r}) for r in ("eu", "us")]
    seeds = {
        json.dumps({"region": r, "seed": s}) for r in ("eu", "us") for s in (1, 2)
    }  # what the inner fan-out would write for each region
    inner = {
        "regions.{map}.work.fitting.seeds": sorted(seeds),
        "regions.{map}.work.evaluation.seeds": sorted(seeds),
    }
    rec = run_script(tmp_path, SAMPLES / "nested.yaml", items={"regions": regions, **inner})
    assert rec.code == 0, rec.stderr
    names = rec.names()
    assert names[:2] == ["grid", "out:regions"]
    assert names[-2:] == ["in:regions", "success"]
    assert names.count("regions.{map}.work.fitting.seeds.{map}.fit") == 2 * 4
    assert names.count("out:regions.{map}.work") == 2
    fits = [c for c in rec.calls if c[-1].endswith(".fit")]
    assert {c[c.index("--map-variable") + 1] for c in fits} == seeds


@pytest.mark.parametrize("max_parallel", [1, 3])
def test_parallel_branches_all_run_before_fan_in(tmp_path: Path, max_parallel: int) -> None:
    rec = run_script(tmp_path, SAMPLES / "parallel.yaml", settings={"max_parallel": max_parallel})
    assert rec.code == 0, rec.stderr
    names = rec.names()
    branch_calls = {
        "both.python_branch.double",
        "both.python_branch.success",
        "both.shell_branch.echo",
        "both.shell_branch.wait",
        "both.shell_branch.success",
    }
    start, end = names.index("out:both"), names.index("in:both")
    assert set(names[start + 1 : end]) == branch_calls
    assert names[end:] == ["in:both", "report", "success"]


def test_concurrent_branch_that_stops_stops_the_script(tmp_path: Path) -> None:
    rec = run_script(
        tmp_path,
        SAMPLES / "parallel.yaml",
        settings={"max_parallel": 2},
        codes={"both.shell_branch.echo": 3},
    )
    assert rec.code == 3
    assert "in:both" not in rec.names()


def test_include_runs_the_dag_branch_between_fans(tmp_path: Path) -> None:
    rec = run_script(tmp_path, SAMPLES / "include.yaml")
    assert rec.code == 0, rec.stderr
    assert rec.names() == [
        "initialize",
        "out:training",
        "training.dag.double",
        "training.dag.train",
        "training.dag.success",
        "in:training",
        "report",
        "success",
    ]


def hostile_pipeline(folder: Path) -> Path:
    """A pipeline whose names, file name and map items all try to inject shell."""
    steps: dict[str, Any] = {}
    names = HOSTILE_NAMES
    for i, name in enumerate(names):
        nxt = names[i + 1] if i + 1 < len(names) else "each $(touch PWNED9)"
        steps[name] = {"type": "stub", "next": nxt}
    steps["each $(touch PWNED9)"] = {
        "type": "map",
        "iterate_on": "values",
        "iterate_as": "value",
        "next": "success",
        "branch": {
            "start_at": "`touch PWNED10`",
            "steps": {
                "`touch PWNED10`": {
                    "type": "task",
                    "command_type": "shell",
                    "command": 'printf "%s|%s\\n" "$MAGNUS_PRM_value" "${MAGNUS_PRM_evil-}"',
                    "next": "success",
                },
                "success": {"type": "success"},
                "fail": {"type": "fail"},
            },
        },
    }
    steps["success"] = {"type": "success"}
    steps["fail"] = {"type": "fail"}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "p $(touch PWNED11) 'q'.yaml"
    text = json.dumps({"dag": {"start_at": names[0], "steps": steps}}, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")  # JSON is YAML
    return path


def test_hostile_names_and_items_pass_through_as_single_words(tmp_path: Path) -> None:
    pipeline = hostile_pipeline(tmp_path / "in $(touch PWNED12)")
    items = [json.dumps({"value": v}, ensure_ascii=False) for v in HOSTILE_VALUES]
    rec = run_script(
        tmp_path,
        pipeline,
        settings={"max_parallel": 2},
        items={"each $(touch PWNED9)": items},
    )
    assert rec.code == 0, rec.stderr
    files = {c[c.index("--file") + 1] for c in rec.calls}
    assert files == {str(pipeline)}
    assert rec.names()[: len(HOSTILE_NAMES)] == HOSTILE_NAMES
    inner = [c for c in rec.calls if c[-1] == "each $(touch PWNED9).{map}.`touch PWNED10`"]
    assert sorted(c[c.index("--map-variable") + 1] for c in inner) == sorted(items)
    assert [p for p in tmp_path.rglob("PWNED*")] == []


LOG_GREETING = '[ -z "${GREETING-}" ] || echo "$GREETING" >> env.log'


def test_settings_and_overrides_are_rendered_quoted(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "dag:\n  start_at: a\n  steps:\n    a:\n      type: stub\n      next: success\n"
        "      overrides:\n        shell: odd\n"
        "    success:\n      type: success\n    fail:\n      type: fail\n",
        encoding="utf-8",
    )
    settings = {
        "max_parallel": 4,
        "overrides": {"odd": {"env": {"GREETING": "it's $(touch PWNED)"}}},
    }
    text = render(pipeline, "p.yaml", settings)
    assert "MAX_PARALLEL=4\n" in text
    assert "GREETING='it'\"'\"'s $(touch PWNED)' _magnus execute_single_node" in text
    rec = run_script(
        tmp_path,
        pipeline,
        settings={
            "overrides": {"odd": {"env": {"GREETING": "it's $(touch PWNED)"}}},
            "magnus_command": [
                "bash",
                "-c",
                '[ -z "${GREETING-}" ] || echo "$GREETING" >> env.log',
                "x",
            ],
        },
    )
    assert rec.code == 0, rec.stderr
    assert (tmp_path / "env.log").read_text(encoding="utf-8") == "it's $(touch PWNED)\n"
    assert not (tmp_path / "PWNED").exists()


def test_unknown_override_name_is_an_error(tmp_path: Path) -> None:
    from magnus_render.errors import ConfigError

    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "dag:\n  start_at: a\n  steps:\n    a:\n      type: stub\n      next: success\n"
        "      overrides:\n        shell: missing\n"
        "    success:\n      type: success\n    fail:\n      type: fail\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"p\.yaml:4: step 'a': overrides.shell 'missing'"):
        render(pipeline, "p.yaml")


def test_settings_reject_bad_values() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ShellSettings.model_validate({"max_parallel": 0})
    with pytest.raises(ValidationError):
        ShellSettings.model_validate({"overrides": {"x": {"env": {"BAD NAME": "1"}}}})
    with pytest.raises(ValidationError):
        ShellSettings.model_validate({"magnus_command": []})


def test_routes_to_steps_defined_earlier_in_the_file(tmp_path: Path) -> None:
    """Blocks run in topological order, not file order: an on_failure target written
    above its source still runs, and so does a next target written above."""
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "dag:\n  start_at: risky\n  steps:\n"
        "    recover:\n      type: stub\n      next: last\n"
        "    last:\n      type: stub\n      next: success\n"
        "    risky:\n      type: stub\n      next: last\n      on_failure: recover\n"
        "    success:\n      type: success\n    fail:\n      type: fail\n",
        encoding="utf-8",
    )
    failed = run_script(tmp_path, pipeline, codes={"risky": 1})
    assert failed.code == 0, failed.stderr
    assert failed.names() == ["risky", "recover", "last", "success"]
    passed = run_script(tmp_path, pipeline)
    assert passed.names() == ["risky", "last", "success"]
    last_fails = run_script(tmp_path, pipeline, codes={"last": 1})
    assert last_fails.code == 1
    assert last_fails.names() == ["risky", "last", "fail"]


def test_hostile_script_passes_bash_n_and_shellcheck(tmp_path: Path) -> None:
    pipeline = hostile_pipeline(tmp_path / "in $(touch PWNED12)")
    config = MagnusConfig.model_validate(
        {
            "executor": {
                "type": "shell",
                "config": {"magnus_command": ["magnus $(touch PWNED)", "it's"]},
            }
        }
    )
    renderer = ShellRenderer(load_pipeline(pipeline), config, RenderOptions(str(pipeline)))
    renderer.validate(renderer.render().text)
    assert not any("shellcheck not found" in w for w in renderer.warnings), renderer.warnings


def test_map_over_no_items_goes_straight_to_fan_in(tmp_path: Path) -> None:
    rec = run_script(tmp_path, SAMPLES / "map.yaml", items={"each": []})
    assert rec.code == 0, rec.stderr
    assert rec.names() == ["chunk", "out:each", "in:each", "summarize", "success"]


def test_unreadable_items_stop_the_script(tmp_path: Path) -> None:
    """A fan-out that exits 0 without writing the items file is a broken protocol: exit 2."""
    rec = run_script(
        tmp_path, SAMPLES / "map.yaml", settings={"python_command": ["false"]}, items={}
    )
    assert rec.code == 2
    assert "cannot read the map items" in rec.stderr
    assert rec.names() == ["chunk", "out:each"]


def test_term_stops_background_branches(tmp_path: Path) -> None:
    """SIGTERM while branches run in the background: the command running gets the signal
    (a blocked node does not hold the script), nothing further starts (no next step, no
    fan-in), the script records the interruption last and exits 143."""
    recorder = tmp_path / "recorder.py"
    recorder.write_text(RECORDER, encoding="utf-8")
    settings = {"max_parallel": 2, "magnus_command": [sys.executable, str(recorder)]}
    script = tmp_path / "wf.sh"
    script.write_text(render(SAMPLES / "parallel.yaml", "p.yaml", settings), "utf-8")
    log, release = tmp_path / "calls.jsonl", tmp_path / "release"
    env = {
        **os.environ,
        "REC_LOG": str(log),
        "REC_BLOCK": "both.shell_branch.echo",
        "REC_RELEASE": str(release),
    }
    proc = subprocess.Popen(
        ["bash", str(script), "run-1"], cwd=tmp_path, env=env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 90
        while "both.shell_branch.echo" not in (log.read_text("utf-8") if log.exists() else ""):
            assert time.monotonic() < deadline, "the blocking step never started"
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=90)  # the blocked node is never released
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 143
    names = [json.loads(line)[2] for line in log.read_text("utf-8").splitlines()]
    assert "both.shell_branch.wait" not in names
    assert "report" not in names and "success" not in names
    assert not any(
        json.loads(line)[0] == "fan" and "in" in json.loads(line)
        for line in log.read_text("utf-8").splitlines()
    )
    last = json.loads(log.read_text("utf-8").splitlines()[-1])
    assert last == ["interrupted", "run-1", "--signal", "TERM"]
