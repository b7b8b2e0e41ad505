"""The local-container executor: engine choice, its clear error, and runs through an engine.

Without podman or a docker daemon the executor must stop before the run with a message
naming each engine and why it is unusable. A stand-in engine (a script that runs the
container command on the host) checks the command line and the run log quickly; the real
podman run (runc, vfs storage, no network, an image imported from a local root
filesystem) is ``slow`` and skipped with the reason when podman cannot run here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.helpers.runlog import load_run_log, normalize, prepare_workdir, run_magnus

FAKE_ENGINE = textwrap.dedent(
    """\
    #!{python}
    # Stand-in container engine: `info` succeeds; `run` runs the command on the host.
    import json, os, subprocess, sys
    args = sys.argv[1:]
    with open({log!r}, "a") as log:
        log.write(json.dumps(args) + "\\n")
    if args[:1] == ["info"]:
        sys.exit(0)
    assert args[:2] == ["run", "--rm"], args
    i, env, cwd = 2, dict(os.environ), None
    while args[i].startswith("-"):
        flag = args[i]
        if flag in ("-v", "--label", "--user"):
            i += 2
        elif flag == "-w":
            cwd, i = args[i + 1], i + 2
        elif flag == "-e":
            key, _, value = args[i + 1].partition("=")
            if _:
                env[key] = value
            i += 2
        else:
            i += 1
    argv = args[i + 1:]  # after the image
    if argv[0] == "magnus":
        argv = [{python!r}, "-m", "magnus_render.cli", *argv[1:]]
    sys.exit(subprocess.run(argv, cwd=cwd, env=env).returncode)
    """
)


def _config(workdir: Path, **settings: object) -> Path:
    executor = {"image": "localhost/magnus:test", **settings}
    path = workdir / "container-config.yaml"
    path.write_text(yaml.safe_dump({"executor": {"type": "local-container", "config": executor}}))
    return path


def _bin(tmp_path: Path, engines: dict[str, str]) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, text in engines.items():
        script = folder / name
        script.write_text(text)
        script.chmod(0o755)
    return folder


def _fake_engine(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "engine-calls.jsonl"
    text = FAKE_ENGINE.format(python=sys.executable, log=str(log))
    return _bin(tmp_path, {"podman": text}), log


def test_no_usable_engine_is_a_clear_error_before_the_run(tmp_path: Path) -> None:
    workdir = prepare_workdir(tmp_path / "work")
    broken_docker = "#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n"
    folder = _bin(tmp_path, {"docker": broken_docker})
    config = _config(workdir)
    proc = run_magnus(
        ["execute", "samples/hello.yaml", "-c", str(config), "--run-id", "r1"],
        workdir,
        env={"PATH": str(folder)},
    )
    assert proc.returncode == 2, proc.stderr
    assert "podman: not installed" in proc.stderr
    assert "docker: `docker info` failed: Cannot connect to the Docker daemon" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (workdir / ".run_log_store").exists() or not any(
        (workdir / ".run_log_store").iterdir()
    )


def test_configured_engine_missing_names_it(tmp_path: Path) -> None:
    workdir = prepare_workdir(tmp_path / "work")
    folder = _bin(tmp_path, {})
    proc = run_magnus(
        ["execute", "samples/hello.yaml", "-c", str(_config(workdir, engine="docker"))],
        workdir,
        env={"PATH": str(folder)},
    )
    assert proc.returncode == 2
    assert "docker: not installed" in proc.stderr
    assert "podman:" not in proc.stderr  # only the configured engine is tried


def test_bad_setting_names_file_and_line(tmp_path: Path) -> None:
    workdir = prepare_workdir(tmp_path / "work")
    config = workdir / "c.yaml"
    config.write_text(
        "executor:\n  type: local-container\n  config:\n    image: x\n    engin: podman\n"
    )
    proc = run_magnus(["execute", "samples/hello.yaml", "-c", str(config)], workdir)
    assert proc.returncode == 2
    assert f"{config}:5:" in proc.stderr and "engin" in proc.stderr


@pytest.mark.parametrize("sample", ["parallel", "failing"])
def test_run_through_an_engine_equals_local(tmp_path: Path, sample: str) -> None:
    workdir = prepare_workdir(tmp_path / "work")
    folder, calls = _fake_engine(tmp_path)
    local = run_magnus(["execute", f"samples/{sample}.yaml", "--run-id", "local"], workdir)
    config = _config(
        workdir, environment={"PYTHONPATH": str(ROOT)}, pass_env=["SECRET_TOKEN"], parallelism=2
    )
    env = {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "SECRET_TOKEN": "hush-hush"}
    args = ["execute", f"samples/{sample}.yaml", "-c", str(config), "--run-id", "boxed"]
    proc = run_magnus(args, workdir, env=env)
    assert proc.returncode == local.returncode, proc.stdout + proc.stderr
    assert normalize(load_run_log(workdir, "boxed", config)) == normalize(
        load_run_log(workdir, "local")
    )
    runs = [line for line in calls.read_text().splitlines() if line.startswith('["run"')]
    assert runs, "no container was started"
    import json

    first = json.loads(runs[0])
    assert first[first.index("-w") + 1] == str(workdir.resolve())
    assert f"{workdir.resolve()}:{workdir.resolve()}" in first
    assert "SECRET_TOKEN" in first and "hush-hush" not in calls.read_text()
    image_at = first.index("localhost/magnus:test")
    assert first[image_at + 1 : image_at + 3] == ["magnus", "execute_single_node"]


# -- real podman ----------------------------------------------------------------------------
CONTAINERS_CONF = """\
[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


def _podman_env(tmp_path: Path) -> dict[str, str]:
    conf = tmp_path / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    storage = tmp_path / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path}/graph"\nrunroot = "{tmp_path}/run"\n'
    )
    return {"CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage)}


def _podman_unusable(env: dict[str, str]) -> str | None:
    if os.geteuid() != 0:
        return "podman here needs root"
    if shutil.which("podman") is None or shutil.which("runc") is None:
        return "podman and runc are not installed (apt-get install podman runc)"
    try:
        proc = subprocess.run(
            ["podman", "info"], env={**os.environ, **env}, capture_output=True, timeout=120
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"podman info: {exc}"
    return None if proc.returncode == 0 else f"podman info failed: {proc.stderr[-300:]!r}"


@pytest.mark.slow
def test_podman_run_equals_local(tmp_path: Path) -> None:
    env = _podman_env(tmp_path)
    why = _podman_unusable(env)
    if why:
        pytest.skip(why)
    # an image from a local root filesystem: the host's /usr and Python are mounted into it
    rootfs = tmp_path / "rootfs"
    for folder in ("usr", "etc", "tmp", "root", "proc", "sys", "dev"):
        (rootfs / folder).mkdir(parents=True)
    for link in ("bin", "lib", "lib64", "sbin"):
        (rootfs / link).symlink_to(f"usr/{link}")
    tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True)
    subprocess.run(
        ["podman", "import", "-", "localhost/magnus-host:test"],
        input=tar.stdout,
        env={**os.environ, **env},
        capture_output=True,
        check=True,
        timeout=300,
    )
    prefix = Path(sys.prefix).resolve()
    python_bin = Path(sys.executable).resolve().parent
    workdir = prepare_workdir(tmp_path / "work")
    config = _config(
        workdir,
        image="localhost/magnus-host:test",
        engine="podman",
        run_args=["-v", "/usr:/usr:ro", "-v", f"{prefix}:{prefix}:ro", "-v", f"{ROOT}:{ROOT}:ro"],
        environment={
            "PATH": f"{python_bin}:/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "HOME": "/root",
        },
    )
    local = run_magnus(["execute", "samples/hello.yaml", "--run-id", "local"], workdir)
    args = ["execute", "samples/hello.yaml", "-c", str(config), "--run-id", "podman"]
    proc = run_magnus(args, workdir, env=env, timeout=600)
    assert proc.returncode == local.returncode == 0, proc.stdout + proc.stderr
    assert normalize(load_run_log(workdir, "podman", config)) == normalize(
        load_run_log(workdir, "local")
    )
    assert "[initialize] hello from magnus-render" in proc.stdout


def test_engine_failure_is_recorded_in_the_run_log(tmp_path: Path) -> None:
    workdir = prepare_workdir(tmp_path / "work")
    engine = "#!/bin/sh\n[ \"$1\" = info ] && exit 0\necho 'Error: image not known' >&2\nexit 125\n"
    folder = _bin(tmp_path, {"podman": engine})
    config = _config(workdir)
    env = {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}
    args = ["execute", "samples/hello.yaml", "-c", str(config), "--run-id", "broken"]
    proc = run_magnus(args, workdir, env=env)
    assert proc.returncode == 1, proc.stderr
    log = load_run_log(workdir, "broken", config)
    assert log.status.value == "FAIL"
    first = log.steps["initialize"]
    assert first.status.value == "FAIL"
    assert "podman run exited 125" in first.message
    assert "Error: image not known" in proc.stdout
