"""Task runners: python (in-process), shell (bash subprocess), notebook (ploomber-engine).

Each runner takes the parameters in scope and returns a TaskOutcome: success, the new
parameter values, and the captured output (kept in the catalog as the execution log).
Python runs in-process because a process per step would cost more than most steps.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import io
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from magnus_render.runtime import procs
from magnus_render.runtime.arguments import bind_arguments
from magnus_render.runtime.parameters import (
    ENV_PREFIX,
    decode_value,
    encode_env_value,
)
from magnus_render.runtime.user_errors import ArgumentError, describe, shown_path, user_traceback

TRACK_PREFIX = "MAGNUS_TRACK_"
STEP_INDICATOR = "_STEP_"


def parameter_environment(params: Mapping[str, Any]) -> dict[str, str]:
    """MAGNUS_PRM_<name> for every parameter in scope (as magnus 0.5 exported them)."""
    return {ENV_PREFIX + name: encode_env_value(value) for name, value in params.items()}


def exported_parameters(
    given: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """MAGNUS_PRM_<name> a python task set in ``environ`` (a snapshot of os.environ, which
    it is by default), differing from what it got."""
    items = (environ if environ is not None else os.environ).items()
    return {
        key[len(ENV_PREFIX) :]: decode_value(value)
        for key, value in items
        if key.startswith(ENV_PREFIX) and given.get(key) != value
    }


def tracked(environ: Mapping[str, str], before: Mapping[str, str]) -> dict[str, Any]:
    """Metrics exported as MAGNUS_TRACK_<name> that were not there before the task.
    ``MAGNUS_TRACK_<name>_STEP_<n>`` is step n of a series (magnus 0.5), as
    ``track_this(step=n, name=...)`` records it; a plain ``<name>`` beside it is step 0."""
    found: dict[str, Any] = {}
    series: dict[str, dict[str, Any]] = {}
    for key, value in environ.items():
        if not key.startswith(TRACK_PREFIX) or before.get(key) == value:
            continue
        name = key[len(TRACK_PREFIX) :]
        base, sep, step = name.rpartition(STEP_INDICATOR)
        if sep and base and step.isdigit():
            series.setdefault(base, {})[str(int(step))] = decode_value(value)
        else:
            found[name] = decode_value(value)
    for base, steps in series.items():
        if base in found:
            steps.setdefault("0", found[base])
        found[base] = dict(sorted(steps.items(), key=lambda kv: int(kv[0])))
    return found


@dataclass
class TaskOutcome:
    ok: bool
    message: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    log: str = ""
    #: extra files to keep in the catalog (e.g. the executed notebook): name -> bytes
    artifacts: dict[str, bytes] = field(default_factory=dict)
    #: metrics a task exported as MAGNUS_TRACK_<name> (magnus 0.5)
    metrics: dict[str, Any] = field(default_factory=dict)


class _Tee(io.TextIOBase):
    """Writes to a buffer and echoes to the real stream."""

    def __init__(self, buffer: io.StringIO, echo: Any, lock: threading.Lock) -> None:
        self.buffer_ = buffer
        self.echo = echo
        self.lock = lock

    def write(self, text: str) -> int:
        with self.lock:
            self.buffer_.write(text)
        if self.echo is not None:
            with contextlib.suppress(OSError, ValueError):
                self.echo.write(text)
        return len(text)

    def flush(self) -> None:
        if self.echo is not None:
            with contextlib.suppress(OSError, ValueError):
                self.echo.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def task_environment(values: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """os.environ for one in-process task: the MAGNUS_PRM_* of its scope only, plus
    ``values``; afterwards exactly as before, whether the task succeeded, failed or
    raised, so nothing a task sets or removes there leaks into the next step (magnus 0.5
    left such changes in place). Yields the environment as it was before.

    os.environ decodes every entry on each read, so it is copied once before and once
    after, and only the entries that differ are written back (once per step matters)."""
    saved = dict(os.environ)
    for key in [k for k in saved if k.startswith(ENV_PREFIX) and k not in values]:
        del os.environ[key]
    os.environ.update(values)
    try:
        yield saved
    finally:
        after = dict(os.environ)
        for key in after.keys() - saved.keys():
            del os.environ[key]
        for key, value in saved.items():
            if after.get(key) != value:
                os.environ[key] = value


# -- python ----------------------------------------------------------------------------
def import_function(command: str) -> Callable[..., Any]:
    module_name, _, func_name = command.rpartition(".")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    module = importlib.import_module(module_name)
    func = getattr(module, func_name, None)
    if not callable(func):
        where = getattr(module, "__file__", None)
        shown = f" ({shown_path(where)})" if where else ""
        raise ImportError(f"module {module_name!r}{shown} has no function {func_name!r}")
    return func


def returned_parameters(result: Any) -> dict[str, Any]:
    """A task's return value as JSON-ready parameters (they travel in the run log)."""
    if result is None:
        return {}
    from pydantic import BaseModel

    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if not isinstance(result, dict):
        raise TypeError(
            f"a task must return None, a dict or a pydantic model, not {type(result).__name__}"
        )
    return {str(k): json_ready(v, str(k)) for k, v in result.items()}


def json_ready(value: Any, name: str) -> Any:
    """``value`` as plain JSON data (pydantic models dumped); TypeError naming ``name``."""
    import json

    def convert(obj: Any) -> Any:
        from pydantic import BaseModel

        if isinstance(obj, BaseModel):
            return obj.model_dump(mode="json")
        raise TypeError(f"{name!r}: {type(obj).__name__} values cannot be stored as JSON")

    try:
        return json.loads(json.dumps(value, default=convert, allow_nan=True))
    except ValueError as exc:
        raise TypeError(f"{name!r}: {exc}") from None


@dataclass
class AttemptInput:
    """What one attempt of a task is given, whichever runner its command type picks: the
    parameters, the environment, whether its output is echoed, and where set_parameter()
    values go."""

    params: dict[str, Any]
    env: dict[str, str]
    echo: bool = True
    collected: dict[str, Any] | None = None


def run_python(command: str, given: AttemptInput) -> TaskOutcome:
    params, env, echo, collected = given.params, given.env, given.echo, given.collected
    buffer = io.StringIO()
    lock = threading.Lock()
    out = _Tee(buffer, sys.stdout if echo else None, lock)
    err = _Tee(buffer, sys.stderr if echo else None, lock)
    env = {**parameter_environment(params), **env}
    metrics: dict[str, Any] = {}
    module = command.rpartition(".")[0]

    def failed(message: str, exc: BaseException | None = None) -> TaskOutcome:
        """The user's traceback (their frames only) and the message, in the step's log."""
        if exc is not None:
            err.write(user_traceback(exc))
        err.write(f"error: {message}\n")
        return TaskOutcome(False, message, log=buffer.getvalue())

    try:
        with (
            task_environment(env) as before,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                func = import_function(command)
            except Exception as exc:  # missing module, syntax error, error at import time
                return failed(describe(exc, f"cannot import {module!r}: "), exc)
            try:
                kwargs = bind_arguments(func, params)
            except ArgumentError as exc:
                return failed(str(exc))
            try:
                result = func(**kwargs)
                now = dict(os.environ)
                outputs = exported_parameters(env, now)  # magnus 0.5: os.environ[MAGNUS_PRM_x]
                outputs.update(collected or {})
                metrics = tracked(now, before)
            except SystemExit as exc:  # a task calling sys.exit() must not end the run
                if exc.code not in (None, 0):
                    return failed(f"the task called sys.exit({exc.code!r})")
                outputs, result = dict(collected or {}), None
                metrics = tracked(os.environ, before)
            except Exception as exc:
                return failed(describe(exc), exc)
            try:
                outputs.update(returned_parameters(result))
            except TypeError as exc:  # what it returned cannot be a parameter
                return failed(f"invalid task output: {exc}")
    finally:
        out.flush()
        err.flush()
    return TaskOutcome(True, outputs=outputs, log=buffer.getvalue(), metrics=metrics)


# -- shell -----------------------------------------------------------------------------
def shell_environment(params: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    full.update(env)
    for name, value in params.items():
        full[ENV_PREFIX + name] = encode_env_value(value)
    return full


#: Linux's limit on one environment variable (MAX_ARG_STRLEN), name and '=' included
MAX_ENV_ENTRY = 131072


def _start_failure(exc: OSError, environment: Mapping[str, str]) -> str:
    """Why bash could not start, naming the parameter when one is too large for it."""
    if exc.errno == errno.E2BIG:
        sizes = {k: len(k) + 1 + len(v.encode()) for k, v in environment.items()}
        key = max(sizes, key=sizes.__getitem__)
        if key.startswith(ENV_PREFIX) and sizes[key] > MAX_ENV_ENTRY:
            return (
                f"parameter {key[len(ENV_PREFIX) :]!r} is too large for a shell task: "
                f"{sizes[key]:,} bytes as {key}, and an environment variable holds at most "
                f"{MAX_ENV_ENTRY:,} (pass it through the catalog instead)"
            )
        return f"the environment is too large for a shell task ({sum(sizes.values()):,} bytes)"
    return f"cannot start bash: {exc.strerror or exc}"


def run_shell(
    command: str, params: dict[str, Any], env: dict[str, str], echo: bool = True
) -> TaskOutcome:
    """bash -e -o pipefail; MAGNUS_PRM_* exported by the command become parameters."""
    import shlex
    import tempfile  # here: a stub or python step needs neither (it loads shutil, random)

    environment = shell_environment(params, env)
    with tempfile.TemporaryDirectory(prefix="magnus-shell-") as tmp:
        dump = os.path.join(tmp, "env")
        trap = f"env -0 > {shlex.quote(dump)}"
        script = f"trap {shlex.quote(trap)} EXIT\n{command}"
        try:
            code, log = run_captured(
                ["bash", "-e", "-o", "pipefail", "-c", script], environment, echo
            )
        except OSError as exc:  # bash did not start: the step fails, the run goes on
            message = _start_failure(exc, environment)
            return TaskOutcome(False, message, log=f"error: {message}\n")
        exported: dict[str, str] = {}
        if code == 0 and os.path.exists(dump):
            for entry in Path(dump).read_bytes().split(b"\0"):
                key, sep, value = entry.decode("utf-8", "replace").partition("=")
                if sep and key.startswith((ENV_PREFIX, TRACK_PREFIX)):
                    exported[key] = value
    if code != 0:
        return TaskOutcome(False, f"shell command exited with code {code}", log=log)
    outputs = {
        key[len(ENV_PREFIX) :]: decode_value(value)
        for key, value in exported.items()
        if key.startswith(ENV_PREFIX) and environment.get(key) != value
    }
    metrics = tracked(exported, environment)
    return TaskOutcome(True, outputs=outputs, log=log, metrics=metrics)


def run_captured(argv: list[str], env: dict[str, str], echo: bool = True) -> tuple[int, str]:
    """Run a process, reading stdout and stderr concurrently (no pipe deadlock), echoing
    each to ours, and return (exit code, combined output). In its own session, so that
    stopping it (any exception while waiting: Ctrl-C, SIGTERM) stops its children too."""
    import subprocess  # here: a stub or python step's container never starts a process

    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    chunks: list[bytes] = []
    lock = threading.Lock()

    def pump(stream: Any, sink: Any) -> None:
        fd = stream.fileno()
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            with lock:
                chunks.append(data)
            if sink is not None:
                with contextlib.suppress(OSError, ValueError):
                    sink.write(data.decode("utf-8", "replace"))
                    sink.flush()
        stream.close()

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, sys.stdout if echo else None)),
        threading.Thread(target=pump, args=(proc.stderr, sys.stderr if echo else None)),
    ]
    try:
        for t in threads:
            t.daemon = True
            t.start()
        code = proc.wait()
    except BaseException:
        procs.stop_group(proc)
        for t in threads:
            if t.is_alive():
                t.join(timeout=5)
        raise
    for t in threads:
        t.join()
    return code, b"".join(chunks).decode("utf-8", "replace")
