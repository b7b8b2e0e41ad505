"""Step Functions at 100,000 steps: the text is streamed, never held whole; the splitter
and the builder do not copy what they do not change; the JSON writer keeps its layout.

Counted, not timed: bytes traced by tracemalloc, objects compared by identity.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

from magnus_render.config import MagnusConfig
from magnus_render.pipeline import load_pipeline
from magnus_render.render import render_text
from magnus_render.renderers.base import RenderOptions
from magnus_render.renderers.stepfunctions import StepFunctionsRenderer, jsontext
from magnus_render.renderers.stepfunctions.split import split_definition
from magnus_render.yamltext import plain_text

#: stores every task can reach (the cluster targets refuse unshared file-system stores)
S3_STORES = {
    "run_log_store": {"type": "s3", "config": {"bucket": "magnus-test"}},
    "catalog": {"type": "s3", "config": {"bucket": "magnus-test"}},
}
RENDER = [sys.executable, "-c", "from magnus_render.cli import render_main; render_main()"]


def chain(path: Path, steps: int) -> Path:
    lines = ["dag:", "  start_at: s0", "  steps:"]
    for i in range(steps):
        nxt = f"s{i + 1}" if i + 1 < steps else "success"
        lines += [f"    s{i}:", "      type: task", "      command: m.f", f"      next: {nxt}"]
    lines += ["    success:", "      type: success", "    fail:", "      type: fail"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_streamed_text_equals_the_text_and_is_never_held_whole(tmp_path: Path) -> None:
    """3,000 steps (3.4 MB, split into nested machines): the CLI prints exactly what
    render_text returns, and while the text is streamed at most a fifth of it is held."""
    pipeline = chain(tmp_path / "p.yaml", 3000)
    config = tmp_path / "s3.yaml"  # stores every task can reach
    config.write_text(json.dumps(S3_STORES), encoding="utf-8")
    text, _ = render_text(pipeline, "stepfunctions", config)
    assert len(json.loads(text)["StateMachines"]) > 2
    printed = subprocess.run(
        [*RENDER, "--target", "stepfunctions", str(pipeline), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == text
    written = tmp_path / "out" / "sfn.json"
    subprocess.run(
        [*RENDER, "--target", "stepfunctions", "-c", str(config), "-o", str(written), pipeline],
        capture_output=True,
        check=True,
    )
    assert written.read_text(encoding="utf-8") == text

    options = RenderOptions(str(pipeline), config_file=str(config))
    renderer = StepFunctionsRenderer(
        load_pipeline(pipeline), MagnusConfig.model_validate(S3_STORES), options
    )
    stream, _ = renderer.render_stream()
    received: list[int] = []
    tracemalloc.start()
    try:
        stream(lambda part: received.append(len(part)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(received) == len(text) and len(received) > 3
    assert peak < len(text) / 5, (peak, len(text))


def test_states_that_stay_in_their_chunk_are_not_copied(tmp_path: Path) -> None:
    """Cutting a definition into chunks copies only the states whose transitions change
    (a chunk's last state, states that leave it); the others are the very same objects."""
    pipeline = chain(tmp_path / "p.yaml", 600)
    renderer = StepFunctionsRenderer(
        load_pipeline(pipeline), MagnusConfig(), RenderOptions(str(pipeline))
    )
    from magnus_render.renderers.stepfunctions.asl import AslBuilder
    from magnus_render.renderers.stepfunctions.settings import load_settings

    builder = AslBuilder(renderer.graph, load_settings(renderer.config), renderer.options, None)
    definition = builder.definition("c")
    originals = {id(s) for s in definition["States"].values()}
    machines = split_definition(definition, "m", 60_000, lambda part: f"arn:{part}")
    assert len(machines) > 5
    states = [s for m in machines for s in m.definition["States"].values()]
    copied = [s for s in states if id(s) not in originals and s.get("Type") == "Task"]
    kept = [s for s in states if id(s) in originals]
    assert len(kept) > 550  # the tasks; each ".failed" Pass leaves for the Fail state
    assert len(copied) <= 2 * len(machines), len(copied)


def test_states_of_the_same_settings_share_one_retry_list(tmp_path: Path) -> None:
    pipeline = chain(tmp_path / "p.yaml", 50)
    renderer = StepFunctionsRenderer(
        load_pipeline(pipeline), MagnusConfig(), RenderOptions(str(pipeline))
    )
    from magnus_render.renderers.stepfunctions.asl import AslBuilder
    from magnus_render.renderers.stepfunctions.settings import load_settings

    builder = AslBuilder(renderer.graph, load_settings(renderer.config), renderer.options, None)
    retries = [s["Retry"] for s in builder.definition("c")["States"].values() if "Retry" in s]
    assert len(retries) > 50
    assert len({id(r) for r in retries}) == 1


# -- the writer's layout ----------------------------------------------------------------
def reference(value: Any, indent: int = 0) -> str:
    """The layout as documented, written the slow obvious way (numbers as the YAML writer
    writes them: 1e20 is 1.0e+20)."""
    if isinstance(value, dict | list | tuple) and value:
        if isinstance(value, dict):
            items = [f"{json.dumps(k)}: {reference(value[k], indent + 2)}" for k in sorted(value)]
            open_, close = "{", "}"
        else:
            items = [reference(v, indent + 2) for v in value]
            open_, close = "[", "]"
        line = open_ + ", ".join(items) + close
        if indent + 2 + len(line) <= jsontext.WIDTH and "\n" not in line:
            return line
        pad = " " * (indent + 2)
        return open_ + "\n" + pad + f",\n{pad}".join(items) + "\n" + " " * indent + close
    if isinstance(value, dict | list | tuple):  # empty
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value) if isinstance(value, str) else plain_text(value)


def random_document(rnd: random.Random, shared: list[Any], depth: int = 0) -> Any:
    roll = rnd.random()
    if depth > 4 or roll < 0.35:
        numbers = [rnd.randint(-(10**6), 10**6), rnd.random() * 1e3, 1e20, 1e-7, -0.0]
        scalars = [None, True, False, *numbers]
        return rnd.choice([*scalars, "x" * rnd.randint(0, 45), 'é\n"\u2028', shared, (1, "a")])
    if roll < 0.7:
        return {
            "k" * rnd.randint(0, 12) + str(i): random_document(rnd, shared, depth + 1)
            for i in range(rnd.randint(0, 8))
        }
    return [random_document(rnd, shared, depth + 1) for _ in range(rnd.randint(0, 8))]


def test_writer_keeps_the_layout_and_sizes_agree() -> None:
    rnd = random.Random(18)
    shared: list[Any] = [{"ErrorEquals": ["a" * 30, "b" * 30]}, "x" * 40]
    for _ in range(1500):
        document = random_document(rnd, shared)
        text = reference(document) + "\n"
        assert jsontext.dumps(document) == text
        parts: list[str] = []
        jsontext.dump_to(document, parts.append, pieces=3)
        assert "".join(parts) == text
        memo: jsontext.Memo = {}
        assert jsontext.size(document, None, memo) == len(text)
        assert jsontext.size(document, None, memo) == len(text)  # from the memo
        limit = rnd.randint(0, len(text) + 5)
        counted = jsontext.size(document, limit, memo)
        assert counted == len(text) if len(text) <= limit else counted > limit
