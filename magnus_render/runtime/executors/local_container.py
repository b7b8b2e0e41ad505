"""The ``local-container`` executor: traverse here, run each node in a docker/podman container.

Like magnus's local-container: the image holds the code; the run log store, the catalog,
the secrets file and the working directory are bind-mounted at the same paths, so the
container's ``magnus execute_single_node`` writes the same run log the driver reads. The
engine is the configured one, else the first of podman and docker that answers
``<engine> info``; none usable is a clear error before the run starts. Traversal,
resuming and bounded branch threads are the remote driver's (:mod:`.remote_driver`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from magnus_render.errors import ConfigError
from magnus_render.pipeline.ir import Node, resolve_name
from magnus_render.runtime.executors.base import ExecutorSettings
from magnus_render.runtime.executors.remote import record_launch_failure
from magnus_render.runtime.executors.remote_driver import RemoteDriverExecutor

ENGINES = ("podman", "docker")
#: how long ``<engine> info`` may take before the engine counts as unusable
PROBE_SECONDS = 60


class LocalContainerSettings(ExecutorSettings):
    image: str
    engine: Literal["auto", "podman", "docker"] = "auto"
    #: words put before ``run`` (e.g. podman's ``--root DIR``)
    engine_args: list[str] = Field(default_factory=list)
    #: extra ``run`` options (e.g. ``--network=none``, ``-v SRC:DST:ro``)
    run_args: list[str] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict)
    #: names of variables copied from the driver's environment (values never on a command line)
    pass_env: list[str] = Field(default_factory=list)
    user: str | None = None
    #: mount the working directory at the same path and run there (pipeline, config, data)
    mount_workdir: bool = True
    #: containers running at once for parallel branches and map iterations
    parallelism: int = Field(default=2, ge=1)

    @field_validator("environment")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        return {str(k): str(v) for k, v in value.items()}


def probe_engine(name: str) -> str | None:
    """None when ``name`` can run containers here, else why not (for the error message)."""
    path = shutil.which(name)
    if path is None:
        return "not installed"
    try:
        proc = subprocess.run(
            [path, "info"],
            capture_output=True,
            text=True,
            timeout=PROBE_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`{name} info` could not run: {exc}"
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return f"`{name} info` failed: {lines[-1] if lines else f'exit {proc.returncode}'}"
    return None


def choose_engine(wanted: str) -> str:
    """The engine to use; ConfigError listing why each candidate is unusable."""
    candidates = ENGINES if wanted == "auto" else (wanted,)
    problems = []
    for name in candidates:
        problem = probe_engine(name)
        if problem is None:
            return name
        problems.append(f"{name}: {problem}")
    raise ConfigError(
        "executor: local-container needs a working container engine, and none is usable ("
        + "; ".join(problems)
        + "). Install podman or start the docker daemon, or choose another executor."
    )


class LocalContainerExecutor(RemoteDriverExecutor):
    name = "local-container"
    settings_model = LocalContainerSettings

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.engine: str | None = None
        self._out = threading.Lock()

    def validate(self) -> None:
        super().validate()
        self.engine = choose_engine(self.settings.engine)

    def mounts(self) -> list[str]:
        """Host directories the node needs, mounted at the same path (deduplicated)."""
        paths: list[Path] = []
        if self.settings.mount_workdir:
            paths.append(Path.cwd())
        for service in (self.ctx.store, self.ctx.catalog, self.ctx.secrets):
            settings = getattr(service, "settings", None)
            for key in ("log_folder", "catalog_location"):
                value = getattr(settings, key, None)
                if value:
                    folder = Path(value).resolve()
                    folder.mkdir(parents=True, exist_ok=True)
                    paths.append(folder)
            location = getattr(settings, "location", None)
            if location and Path(location).exists():
                paths.append(Path(location).resolve())
        for extra in (self.ctx.config_file, self.ctx.parameters_file, self.ctx.pipeline.file):
            if extra:
                paths.append(Path(extra).resolve().parent)
        chosen: list[Path] = []
        for path in sorted(set(paths), key=lambda p: len(p.parts)):
            if not any(path.is_relative_to(c) for c in chosen):
                chosen.append(path)
        return [f"{p}:{p}" for p in chosen]

    def container_argv(
        self, node: Node, map_variable: Mapping[str, Any], argv: list[str]
    ) -> list[str]:
        settings: LocalContainerSettings = self.step_settings(node)
        assert self.engine is not None
        resolved = resolve_name(node.internal_name, map_variable)
        words = [self.engine, *settings.engine_args, "run", "--rm"]
        words += ["--label", f"magnus-render/run={self.ctx.run_id}"]
        words += ["--label", f"magnus-render/step={resolved}"]
        for mount in self.mounts():
            words += ["-v", mount]
        if settings.mount_workdir:
            words += ["-w", str(Path.cwd())]
        if settings.user:
            words += ["--user", settings.user]
        for key, value in sorted(settings.environment.items()):
            words += ["-e", f"{key}={value}"]
        for key in settings.pass_env:
            words += ["-e", key]  # the engine copies the value from its own environment
        words += [*settings.run_args, settings.image, *argv]
        return words

    def run_remote(self, node: Node, map_variable: Mapping[str, Any], argv: list[str]) -> int:
        words = self.container_argv(node, map_variable, argv)
        resolved = resolve_name(node.internal_name, map_variable)
        proc = subprocess.Popen(
            words, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._out:
                sys.stdout.write(f"[{resolved}] {line}")
                sys.stdout.flush()
        code = proc.wait()
        if code not in (0, 1):
            # the engine failed (image missing, mount refused) before or around the node
            why = f"{self.engine} run exited {code} (the container did not run the node)"
            with self._out:
                print(f"[{resolved}] {why}", file=sys.stderr)
            record_launch_failure(self.ctx, node, resolved, why)
        return code
