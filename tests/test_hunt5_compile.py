"""`magnus compile` and the compiled-pipeline cache (and the pipeline front end they run)
against hostile input: a pipeline that is not a regular file (a pipe can be read once: the
cache read it for the key, then the builder found it empty), a cache folder shared with the
user's own pickles or that is a file, spellings of "off", NUL bytes in a pipeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.helpers.runlog import magnus_env


def _magnus(
    args: list[str], workdir: Path, stdin: bytes, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "magnus_render.cli", *args],
        cwd=workdir,
        env=magnus_env(env),
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("cache", ["1", "0"], ids=["cache-on", "cache-off"])
def test_a_step_reads_its_pipeline_from_a_pipe(tmp_path: Path, cache: str) -> None:
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("golden"))
    pipeline = (tmp_path / "samples" / "hello.yaml").read_bytes()
    args = ["execute_single_node", "r", "initialize", "--file", "/dev/stdin"]
    folder = tmp_path / "cache"
    env = {"MAGNUS_PIPELINE_CACHE": cache, "MAGNUS_PIPELINE_CACHE_DIR": str(folder)}
    proc = _magnus(args, tmp_path, pipeline, **env)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"hello from magnus-render" in proc.stdout + proc.stderr
    assert not folder.exists() or not list(folder.iterdir())  # a pipe has no entry


def test_compiling_a_pipe_says_what_to_compile_instead(tmp_path: Path) -> None:
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("golden"))
    pipeline = (tmp_path / "samples" / "hello.yaml").read_bytes()
    folder = tmp_path / "cache"
    proc = _magnus(
        ["compile", "--file", "/dev/stdin"],
        tmp_path,
        pipeline,
        MAGNUS_PIPELINE_CACHE_DIR=str(folder),
    )
    assert proc.returncode == 2, proc.stderr.decode()
    assert b"/dev/stdin: not a regular file" in proc.stderr
    assert b"Traceback" not in proc.stderr
    assert not folder.exists() or not list(folder.iterdir())
    # a pipe carrying a broken pipeline reports the pipeline's error, as a file would
    proc = _magnus(
        ["compile", "--file", "/dev/stdin"],
        tmp_path,
        b"dag: [",
        MAGNUS_PIPELINE_CACHE_DIR=str(folder),
    )
    assert proc.returncode == 2 and b"/dev/stdin:2: YAML syntax" in proc.stderr, proc.stderr


def test_a_cache_folder_shared_with_the_user_s_own_pickles_keeps_them(tmp_path: Path) -> None:
    """The cache keeps at most MAX_ENTRIES entries by removing the oldest `*.pickle` files:
    pointed at a folder that holds the user's own pickles (models, datasets), it removed
    them. Only files named as entries are its to remove."""
    from magnus_render.pipeline.compiled import MAX_ENTRIES

    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("golden"))
    folder = tmp_path / "models"
    folder.mkdir(mode=0o700)
    mine = [folder / f"model-{i}.pickle" for i in range(MAX_ENTRIES + 10)]
    for i, path in enumerate(mine):
        path.write_bytes(b"weights")
        os.utime(path, (1_000_000 + i, 1_000_000 + i))  # older than any entry
    where = {"MAGNUS_PIPELINE_CACHE_DIR": str(folder)}
    proc = _magnus(["compile", "--file", "samples/hello.yaml"], tmp_path, b"", **where)
    assert proc.returncode == 0, proc.stderr.decode()
    assert all(path.exists() for path in mine)
    assert len(list(folder.iterdir())) == len(mine) + 2  # the relative and absolute entries


def test_the_oldest_entries_beyond_the_limit_are_still_removed(tmp_path: Path) -> None:
    from magnus_render.pipeline.compiled import MAX_ENTRIES

    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("golden"))
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    old = [folder / f"{i:064x}.pickle" for i in range(MAX_ENTRIES)]
    for i, path in enumerate(old):
        path.write_bytes(b"stale")
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    where = {"MAGNUS_PIPELINE_CACHE_DIR": str(folder)}
    proc = _magnus(["compile", "--file", "samples/hello.yaml"], tmp_path, b"", **where)
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(list(folder.iterdir())) == MAX_ENTRIES
    assert not old[0].exists() and not old[1].exists() and old[2].exists()


@pytest.mark.parametrize("off", ["off", "False", "NO", " 0 "])
def test_every_spelling_of_off_turns_the_cache_off(tmp_path: Path, off: str) -> None:
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("golden"))
    folder = tmp_path / "cache"
    env = {"MAGNUS_PIPELINE_CACHE": off, "MAGNUS_PIPELINE_CACHE_DIR": str(folder)}
    proc = _magnus(["compile", "--file", "samples/hello.yaml"], tmp_path, b"", **env)
    assert proc.returncode == 2, proc.stderr.decode()
    assert b"the compiled-pipeline cache is off" in proc.stderr
    args = ["execute_single_node", "r", "initialize", "--file", "samples/hello.yaml"]
    proc = _magnus(args, tmp_path, b"", **env)
    assert proc.returncode == 0, proc.stderr.decode()
    assert not folder.exists()


def test_a_cache_dir_that_is_a_file_is_named_as_not_a_folder(tmp_path: Path) -> None:
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("golden"))
    (tmp_path / "notes").write_text("mine\n")
    env = {"MAGNUS_PIPELINE_CACHE_DIR": "notes"}
    proc = _magnus(["compile", "--file", "samples/hello.yaml"], tmp_path, b"", **env)
    assert proc.returncode == 2, proc.stderr.decode()
    assert b"the pipeline cache notes (MAGNUS_PIPELINE_CACHE_DIR" in proc.stderr
    assert b"is not a folder" in proc.stderr
    assert (tmp_path / "notes").read_text() == "mine\n"
    args = ["execute_single_node", "r", "initialize", "--file", "samples/hello.yaml"]
    assert _magnus(args, tmp_path, b"", **env).returncode == 0  # a step runs uncached


NUL_INCLUDE = """\
dag:
  start_at: b
  steps:
    b:
      type: dag
      dag_definition: "sub\\0.yaml"
      next: success
    success: {type: success}
    fail: {type: fail}
"""


def test_a_nul_byte_in_an_include_path_is_a_pipeline_error(tmp_path: Path) -> None:
    """`magnus compile` (and validate, render) crashed with ``ValueError: embedded null
    byte`` while resolving the include."""
    (tmp_path / "p.yaml").write_text(NUL_INCLUDE, encoding="utf-8")
    env = {"MAGNUS_PIPELINE_CACHE_DIR": str(tmp_path / "cache")}
    for args in (["compile", "--file", "p.yaml"], ["validate", "p.yaml"]):
        proc = _magnus(args, tmp_path, b"", **env)
        assert proc.returncode == 2, proc.stderr.decode()
        assert b"Traceback" not in proc.stderr
        assert b"p.yaml:6: dag step 'b': dag_definition contains a NUL byte" in proc.stderr


NUL_COMMAND = """\
dag:
  start_at: a
  steps:
    a:
      type: task
      command_type: shell
      command: "echo \\0hi"
      next: success
    success: {type: success}
    fail: {type: fail}
"""


def test_a_nul_byte_in_a_shell_command_is_a_pipeline_error_not_a_stuck_run(
    tmp_path: Path,
) -> None:
    """The command reached bash's argv: ``ValueError: embedded null byte``, a traceback, and
    the run left PROCESSING."""
    (tmp_path / "p.yaml").write_text(NUL_COMMAND, encoding="utf-8")
    for args in (["execute", "p.yaml", "--run-id", "r"], ["validate", "p.yaml"]):
        proc = _magnus(args, tmp_path, b"")
        assert proc.returncode == 2, proc.stderr.decode()
        assert b"Traceback" not in proc.stderr
        assert b"p.yaml:7: step 'a': command contains a NUL byte" in proc.stderr
    assert not (tmp_path / ".run_log_store").exists()  # refused before the run began


def test_ctrl_c_while_an_entry_is_written_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from magnus_render.pipeline import compiled
    from tests.helpers.pipelines import STUB

    (tmp_path / "p.yaml").write_text(STUB, encoding="utf-8")
    folder = tmp_path / "cache"
    monkeypatch.setenv("MAGNUS_PIPELINE_CACHE_DIR", str(folder))
    monkeypatch.setenv("MAGNUS_PIPELINE_CACHE", "1")

    def interrupted(src: object, dst: object) -> None:
        raise KeyboardInterrupt  # the signal lands as the entry is renamed into place

    monkeypatch.setattr(compiled.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        compiled.compile_into_cache(tmp_path / "p.yaml")
    assert sorted(p.name for p in folder.iterdir()) == []
