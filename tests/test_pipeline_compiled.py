"""The compiled-pipeline cache: same IR as a fresh build, invalidated by any change to the
pipeline or an included file, never trusted from a foreign or corrupt entry."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
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


def test_group_writable_or_foreign_folders_are_a_miss(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a folder owned by root or this user and writable by neither group nor others
    is trusted: any other is neither read nor written, and never an error."""
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text(MAIN)
    Path("inner.yaml").write_text(INNER)
    expected = load_pipeline("p.yaml")
    load_compiled("p.yaml")
    (entry,) = _entries(cache)
    other = load_pipeline_text(MAIN.replace("first", "forged"), "p.yaml")
    entry.write_bytes(_dumps((FORMAT, [], other)))  # what a foreign writer could leave
    assert load_compiled("p.yaml") == other  # the trusted folder is read as is

    cache.chmod(0o770)
    assert load_compiled("p.yaml") == expected
    assert load_compiled("p.yaml") == expected
    assert pickle.loads(entry.read_bytes())[2] == other  # not rewritten either
    cache.chmod(0o700)
    if os.getuid() == 0:  # a folder of another (non-root) user
        os.chown(cache, 12345, 12345)
        assert load_compiled("p.yaml") == expected
        assert pickle.loads(entry.read_bytes())[2] == other
        os.chown(cache, 0, 0)


def test_two_processes_writing_one_entry_at_once(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers of the same entry (pods sharing a cache folder, parallel shell steps)
    both succeed; one whole entry is left, no temporary file."""
    steps = "\n".join(f"    s{i}: {{type: stub, next: s{i + 1}}}" for i in range(2000))
    text = f"dag:\n  start_at: s0\n  steps:\n{steps}\n    s2000: {{type: success}}\n"
    (tmp_path / "p.yaml").write_text(text + "    fail: {type: fail}\n")
    go = tmp_path / "go"
    script = (
        "import os, sys, time\n"
        "from magnus_render.pipeline.build import load_pipeline\n"
        "from magnus_render.pipeline.compiled import load_compiled\n"
        "load_pipeline('p.yaml')  # imports done: both start the real work together\n"
        "open(f'ready-{os.getpid()}', 'w').close()\n"
        "while not os.path.exists('go'): time.sleep(0.001)\n"
        "print(len(load_compiled('p.yaml').graph.nodes))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAGNUS_PIPELINE_CACHE_DIR": str(cache)}
    argv = [sys.executable, "-c", script]
    opts = {"cwd": tmp_path, "env": env, "stdout": subprocess.PIPE, "text": True}
    procs = [subprocess.Popen(argv, **opts) for _ in range(2)]  # type: ignore[call-overload]
    while len(list(tmp_path.glob("ready-*"))) < 2 and all(p.poll() is None for p in procs):
        time.sleep(0.01)
    go.touch()
    outputs = [proc.communicate()[0].strip() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert outputs == ["2002", "2002"]
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".pickle")] == []
    (entry,) = _entries(cache)
    monkeypatch.chdir(tmp_path)
    assert pickle.loads(entry.read_bytes())[2] == load_pipeline("p.yaml")


def test_a_retargeted_symlink_on_the_way_to_an_include_is_a_miss(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `current -> release-N` layout: the pipeline's bytes and path are the same in both
    releases, the included file is not; switching the link must not keep release 1's IR.
    The same for an include that is itself a link."""
    monkeypatch.chdir(tmp_path)
    for release in ("r1", "r2"):
        Path(release).mkdir()
        Path(release, "p.yaml").write_text(MAIN)
        Path(release, "inner.yaml").write_text(INNER.replace("mod.fn", f"mod.{release}"))
    Path("current").symlink_to("r1")

    def command() -> str:
        return load_compiled("current/p.yaml").graph.find("inc.dag.a").task.command

    assert command() == "mod.r1"
    assert command() == "mod.r1"  # from the cache
    Path("current").unlink()
    Path("current").symlink_to("r2")
    assert command() == "mod.r2"

    Path("inner-v3.yaml").write_text(INNER.replace("mod.fn", "mod.v3"))
    Path("r2", "inner.yaml").unlink()
    Path("r2", "inner.yaml").symlink_to(tmp_path / "r1" / "inner.yaml")
    assert command() == "mod.r1"
    Path("r2", "inner.yaml").unlink()
    Path("r2", "inner.yaml").symlink_to(tmp_path / "inner-v3.yaml")
    assert command() == "mod.v3"
    assert load_compiled("current/p.yaml") == load_pipeline("current/p.yaml")


def test_an_absolute_path_is_one_entry_from_any_working_directory(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From an absolute path the builder reads nothing relative to the working directory,
    so the key leaves it out (an image's WORKDIR need not match); a relative path keeps it."""
    (tmp_path / "p.yaml").write_text(MAIN)
    (tmp_path / "inner.yaml").write_text(INNER)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    absolute = str(tmp_path / "p.yaml")
    monkeypatch.chdir(tmp_path / "a")
    expected = load_pipeline(absolute)
    load_compiled(absolute)
    monkeypatch.chdir(tmp_path / "b")
    assert load_compiled(absolute) == expected
    assert len(_entries(cache)) == 1
    assert load_compiled("../p.yaml") == load_pipeline("../p.yaml")
    monkeypatch.chdir(tmp_path / "a")
    load_compiled("../p.yaml")
    assert len(_entries(cache)) == 3  # the relative path from a and from b


def test_the_same_include_bytes_by_another_route_are_a_hit(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Kubernetes ConfigMap mount reaches each file through `..data` links: a pipeline
    baked from plain files is still read from the cache there."""
    monkeypatch.chdir(tmp_path)
    Path("spec").mkdir()
    Path("spec/p.yaml").write_text(MAIN)
    Path("spec/inner.yaml").write_text(INNER)
    load_compiled("spec/p.yaml")
    (entry,) = _entries(cache)
    written = entry.stat().st_ino
    Path("spec/..2026_12_04").mkdir()
    Path("spec/..2026_12_04/inner.yaml").write_text(INNER)
    Path("spec/..data").symlink_to("..2026_12_04")
    Path("spec/inner.yaml").unlink()
    Path("spec/inner.yaml").symlink_to("..data/inner.yaml")
    assert load_compiled("spec/p.yaml").graph.find("inc.dag.a").task.command == "mod.fn"
    assert entry.stat().st_ino == written  # read, not rebuilt and rewritten
