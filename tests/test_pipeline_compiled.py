"""The compiled-pipeline cache: same IR as a fresh build, invalidated by any change to the
pipeline or an included file, never trusted from a foreign or corrupt entry."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from magnus_render.errors import PipelineError
from magnus_render.pipeline.build import load_pipeline, load_pipeline_text
from magnus_render.pipeline.compiled import FORMAT, LazyNodes, _dumps, load_compiled

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

MAIN = """\
dag:
  start_at: first
  steps:
    first: {type: stub, next: inc}
    inc: {type: dag, dag_definition: inner.yaml, next: success}
    success: {type: success}
    fail: {type: fail}
"""
INNER = """\
dag:
  start_at: a
  steps:
    a: {type: task, command: mod.fn, next: success}
    success: {type: success}
    fail: {type: fail}
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MAGNUS_PIPELINE_CACHE_DIR", str(folder))
    monkeypatch.delenv("MAGNUS_PIPELINE_CACHE", raising=False)
    return folder


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pickle"))


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.yaml")))
def test_cached_ir_equals_a_fresh_build(
    sample: str, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    path = Path("samples") / sample
    fresh = load_pipeline(path)
    load_compiled(path)  # builds and writes the entry
    assert len(_entries(cache)) == 1
    cached = load_compiled(path)  # read back
    assert isinstance(cached.graph.nodes, LazyNodes)
    assert cached == fresh  # graph (every node, branch and field), file, hash, warnings
    assert [n.internal_name for n in cached.graph.walk()] == [
        n.internal_name for n in fresh.graph.walk()
    ]
    assert [n.source for n in cached.graph.walk()] == [n.source for n in fresh.graph.walk()]


def test_second_load_does_not_parse_yaml(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "p.yaml").write_text(MAIN)
    (tmp_path / "inner.yaml").write_text(INNER)
    probe = (
        "import sys; from magnus_render.pipeline.compiled import load_compiled;"
        "p = load_compiled('p.yaml'); p.graph.find('inc.dag.a');"
        "print('magnus_render.pipeline.build' in sys.modules, 'yaml' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAGNUS_PIPELINE_CACHE_DIR": str(cache)}

    def run() -> str:
        argv = [sys.executable, "-c", probe]
        return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True).stdout

    assert run().split() == ["True", "True"]  # built
    assert run().split() == ["False", "False"]  # from the cache


def test_changed_pipeline_or_include_is_rebuilt(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text(MAIN)
    Path("inner.yaml").write_text(INNER)
    assert load_compiled("p.yaml").graph.find("inc.dag.a").task.command == "mod.fn"
    assert load_compiled("p.yaml").graph.find("inc.dag.a").task.command == "mod.fn"

    Path("inner.yaml").write_text(INNER.replace("mod.fn", "mod.other"))  # same size
    assert load_compiled("p.yaml").graph.find("inc.dag.a").task.command == "mod.other"

    Path("p.yaml").write_text(MAIN.replace("first", "start"))
    loaded = load_compiled("p.yaml")
    assert loaded.graph.start_at == "start" and "first" not in loaded.graph.nodes
    assert loaded == load_pipeline("p.yaml")

    Path("inner.yaml").unlink()  # a vanished include is an error again, with its name
    with pytest.raises(PipelineError, match=r"inner\.yaml"):
        load_compiled("p.yaml")


def test_broken_include_after_caching_is_reported(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text(MAIN)
    Path("inner.yaml").write_text(INNER)
    load_compiled("p.yaml")
    Path("inner.yaml").write_text(INNER.replace("type: task", "type: tsak"))
    with pytest.raises(PipelineError, match=r"inner.yaml:4:.*tsak"):
        load_compiled("p.yaml")


def test_corrupt_or_foreign_entries_are_not_trusted(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text(MAIN)
    Path("inner.yaml").write_text(INNER)
    expected = load_pipeline("p.yaml")
    load_compiled("p.yaml")
    (entry,) = _entries(cache)

    entry.write_bytes(b"not a pickle")
    assert load_compiled("p.yaml") == expected  # rebuilt and rewritten
    assert pickle.loads(entry.read_bytes())[2] == expected

    # an entry someone else could have written is never unpickled: a well-formed entry of
    # another pipeline would otherwise be taken for this one
    other = load_pipeline_text(MAIN.replace("first", "forged"), "p.yaml")
    forged = _dumps((FORMAT, [], other))
    entry.write_bytes(forged)
    entry.chmod(0o666)
    assert load_compiled("p.yaml") == expected
    cache.chmod(0o777)
    entry.write_bytes(forged)
    assert load_compiled("p.yaml") == expected
    cache.chmod(0o700)


def test_no_cache_when_disabled_or_unwritable(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text(MAIN)
    Path("inner.yaml").write_text(INNER)
    monkeypatch.setenv("MAGNUS_PIPELINE_CACHE", "0")
    assert load_compiled("p.yaml") == load_pipeline("p.yaml")
    assert not cache.exists()
    monkeypatch.delenv("MAGNUS_PIPELINE_CACHE")
    cache.write_text("a file where the folder should be")  # cannot be created
    assert load_compiled("p.yaml") == load_pipeline("p.yaml")
