"""`magnus graph` for every sample matches its committed golden picture.

Regenerate with ``MAGNUS_UPDATE_GOLDEN=1 python3 -m pytest tests/test_graph_golden.py``.
Every dot file must parse with pydot (pure Python, in the dev extra); when Graphviz's own
``dot`` is installed (it needs apt, so it is optional) it must parse with it too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from magnus_render.config import MagnusConfig
from magnus_render.pipeline import load_pipeline, load_pipeline_text
from magnus_render.renderers.base import RenderOptions
from magnus_render.renderers.graph import DotRenderer, MermaidRenderer
from tests.conftest import ROOT, SAMPLES
from tests.golden import assert_golden

GOLDEN = SAMPLES / "golden" / "graph"
#: every sample pipeline (included dags and the notebook one too), relative to samples/
SAMPLE_FILES = sorted(
    str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*.yaml") if "golden" not in p.parts
)
FORMATS = {"mmd": MermaidRenderer, "dot": DotRenderer}


def picture(path: Path, suffix: str) -> str:
    pipeline = load_pipeline(path)
    renderer = FORMATS[suffix](pipeline, MagnusConfig(), RenderOptions(str(path)))
    return renderer.render().text


def test_every_sample_is_covered() -> None:
    assert len(SAMPLE_FILES) >= 10, SAMPLE_FILES
    stems = [Path(s).stem for s in SAMPLE_FILES]
    assert len(set(stems)) == len(stems), "golden files are named by stem: keep stems unique"


@pytest.mark.parametrize("suffix", sorted(FORMATS))
@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_graph_matches_golden(sample: str, suffix: str) -> None:
    text = picture(SAMPLES / sample, suffix)
    assert_golden(GOLDEN / f"{Path(sample).stem}.{suffix}", text)


def test_no_stale_golden_files() -> None:
    expected = {f"{Path(s).stem}.{suffix}" for s in SAMPLE_FILES for suffix in FORMATS}
    assert {p.name for p in GOLDEN.iterdir()} <= expected


@pytest.mark.parametrize("fmt,suffix", [("mermaid", "mmd"), ("dot", "dot")])
def test_cli_prints_the_golden_picture(fmt: str, suffix: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "magnus_render.cli",
            "graph",
            "samples/nested.yaml",
            "--format",
            fmt,
        ],
        capture_output=True,
        text=True,
        cwd=SAMPLES.parent,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (GOLDEN / f"nested.{suffix}").read_text(encoding="utf-8")


def test_cli_rejects_an_unknown_format() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "magnus_render.cli",
            "graph",
            "samples/hello.yaml",
            "--format",
            "png",
        ],
        capture_output=True,
        text=True,
        cwd=SAMPLES.parent,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown format 'png'; choose mermaid or dot" in result.stderr
    assert "Traceback" not in result.stderr


NO_GRAPHVIZ = "Graphviz 'dot' is not installed (apt only); pydot checks the syntax instead"


def parse_dot(text: str) -> Any:
    """The one graph pydot parses from ``text``; fails the test when it does not parse."""
    with warnings.catch_warnings():  # pydot 4.0 calls names pyparsing 3.3 deprecates
        warnings.filterwarnings("ignore", message=".* deprecated - use ")
        import pydot

        graphs = pydot.graph_from_dot_data(text)  # None (and a message on stdout) on errors
    assert graphs is not None and len(graphs) == 1, f"not one DOT graph:\n{text}"
    return graphs[0]


def all_nodes(graph: Any) -> list[Any]:
    """Node statements of ``graph`` and its nested subgraphs (not the default ``node``)."""
    nodes = [n for n in graph.get_nodes() if n.get_name() not in ("node", "edge", "graph")]
    for sub in graph.get_subgraphs():
        nodes += all_nodes(sub)
    return nodes


@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_golden_dot_files_parse_with_pydot(sample: str) -> None:
    path = GOLDEN / f"{Path(sample).stem}.dot"
    graph = parse_dot(path.read_text(encoding="utf-8"))
    steps = sum(1 for _ in load_pipeline(SAMPLES / sample).graph.walk())
    assert len(all_nodes(graph)) == steps


def test_pydot_check_rejects_broken_dot() -> None:
    """The pydot check can fail: a golden file with an unbalanced quote would be caught."""
    text = (GOLDEN / "hello.dot").read_text(encoding="utf-8").replace('label="', 'label="x', 1)
    text = text.replace('"', "", 1)
    with pytest.raises(AssertionError, match="not one DOT graph"):
        parse_dot(text)


@pytest.mark.skipif(shutil.which("dot") is None, reason=NO_GRAPHVIZ)
def test_golden_dot_files_parse_with_graphviz() -> None:
    files = sorted(GOLDEN.glob("*.dot"))
    assert files
    for path in files:
        result = subprocess.run(
            ["dot", "-Tcanon", str(path)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, f"{path}: {result.stderr}"
        assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr


HOSTILE = """\
dag:
  start_at: 'say "hi" <b>#1</b>'
  steps:
    'say "hi" <b>#1</b>':
      type: stub
      next: 'back\\slash {x} ü'
    'back\\slash {x} ü':
      type: parallel
      next: success
      branches:
        'end':
          start_at: success
          steps:
            success: {type: success}
            fail: {type: fail}
    success: {type: success}
    fail: {type: fail}
"""


def test_mermaid_escapes_hostile_names() -> None:
    pipeline = load_pipeline_text(HOSTILE, "hostile.yaml")
    text = MermaidRenderer(pipeline, MagnusConfig(), RenderOptions("hostile.yaml")).render().text
    assert 'n0["say #quot;hi#quot; #lt;b#gt;#35;1#lt;/b#gt; (stub)"]' in text
    assert '"hi"' not in text and "<b>" not in text


def test_dot_with_hostile_names_parses_with_pydot() -> None:
    pipeline = load_pipeline_text(HOSTILE, "hostile.yaml")
    text = DotRenderer(pipeline, MagnusConfig(), RenderOptions("hostile.yaml")).render().text
    labels = {node.get_label() for node in all_nodes(parse_dot(text))}
    assert '"say \\"hi\\" <b>#1</b> (stub)"' in labels, labels


@pytest.mark.skipif(shutil.which("dot") is None, reason=NO_GRAPHVIZ)
def test_dot_with_hostile_names_parses(tmp_path: Path) -> None:
    pipeline = load_pipeline_text(HOSTILE, "hostile.yaml")
    text = DotRenderer(pipeline, MagnusConfig(), RenderOptions("hostile.yaml")).render().text
    result = subprocess.run(
        ["dot", "-Tcanon"], input=text, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert 'say \\"hi\\" <b>#1</b> (stub)' in result.stdout


def test_pictures_are_deterministic() -> None:
    """The same picture from processes with different string hashing (set and dict order
    of str keys could differ between them; within one process it never would)."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from tests.test_graph_golden import picture; "
        "sys.stdout.write(picture(Path(sys.argv[1]), sys.argv[2]))"
    )
    for suffix in ("dot", "mmd"):
        texts = {
            subprocess.run(
                [sys.executable, "-c", code, str(SAMPLES / "nested.yaml"), suffix],
                env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
            for seed in ("1", "2", "3")
        }
        assert len(texts) == 1 and texts.pop() == picture(SAMPLES / "nested.yaml", suffix)


def test_cli_graph_of_an_invalid_pipeline_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("dag:\n  start_at: a\n  steps:\n    a: {type: tsk}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "magnus_render.cli", "graph", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{path}:4: step 'a': unknown node type 'tsk' (did you mean 'task'?)" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_pictures_show_every_node_and_edge(sample: str) -> None:
    """Independent of the golden files: one shape per IR node, one arrow per edge."""
    import re

    graph = load_pipeline(SAMPLES / sample).graph
    nodes = list(graph.walk())
    ids = {node.internal_name: f"n{i}" for i, node in enumerate(nodes)}
    expected: set[tuple[str, str, str]] = set()
    for node in nodes:
        prefix = node.internal_name.rpartition(".")[0]
        for kind, target in (("next", node.next_node), ("on_failure", node.on_failure)):
            if target is not None:
                full = f"{prefix}.{target}" if prefix else target
                expected.add((ids[node.internal_name], ids[full], kind))
        for branch in node.branches:
            start = f"{branch.internal_name}.{branch.start_at}"
            expected.add((ids[node.internal_name], ids[start], "branch"))

    dot = picture(SAMPLES / sample, "dot")
    assert len(re.findall(r"^\s*n\d+ \[label=", dot, re.M)) == len(nodes)
    dot_edges = {
        (a, b, {"": "next", "dashed": "on_failure", "bold": "branch"}[style or ""])
        for a, b, style in re.findall(r"^\s*(n\d+) -> (n\d+)(?: \[style=(\w+))?", dot, re.M)
    }
    assert dot_edges == expected

    mermaid = picture(SAMPLES / sample, "mmd")
    arrows = {"-->": "next", "-. on_failure .->": "on_failure", "==>": "branch"}
    pattern = r"^\s*(n\d+) (-->|-\. on_failure \.->|==>) (n\d+)$"
    mermaid_edges = {(a, b, arrows[arrow]) for a, arrow, b in re.findall(pattern, mermaid, re.M)}
    assert mermaid_edges == expected
    assert len(re.findall(r"^\s*n\d+[\[\(\{]", mermaid, re.M)) == len(nodes)
