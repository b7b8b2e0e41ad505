"""The run context: everything a node needs, built once per process.

One object carries the loaded pipeline, the services the config file names (run log store,
catalog, secrets), the run id and re-run settings, so the executor and the container entry
points share exactly one way of executing a node.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from magnus_render.config import MagnusConfig
from magnus_render.pipeline.loaded import Pipeline
from magnus_render.stores import backend_class
from magnus_render.stores.catalog_base import Catalog
from magnus_render.stores.models import CodeIdentity, RunLog, Status, StepLog
from magnus_render.stores.run_log_base import RunLogStore
from magnus_render.stores.secrets import Secrets

_ADJECTIVES = [
    "amber",
    "brave",
    "calm",
    "dapper",
    "eager",
    "fancy",
    "gentle",
    "happy",
    "icy",
    "jolly",
    "keen",
    "lucky",
    "merry",
    "noble",
    "odd",
    "proud",
    "quick",
    "rapid",
    "shiny",
    "tidy",
    "upbeat",
    "vivid",
    "witty",
    "young",
    "zesty",
]
_NOUNS = [
    "otter",
    "falcon",
    "badger",
    "heron",
    "lynx",
    "marten",
    "newt",
    "osprey",
    "panda",
    "quokka",
    "raven",
    "stoat",
    "tapir",
    "urchin",
    "vole",
    "walrus",
    "yak",
    "zebra",
    "bison",
    "crane",
    "dingo",
    "egret",
    "ferret",
    "gecko",
]


def generate_run_id() -> str:
    """A readable unique id, also a valid DNS-1123 label and Step Functions name."""
    import secrets as _random  # here: a container is given its run id

    stamp = time.strftime("%H%M%S", time.gmtime())
    return f"{_random.choice(_ADJECTIVES)}-{_random.choice(_NOUNS)}-{stamp}-{_random.token_hex(2)}"


def code_identity(cwd: str | None = None) -> CodeIdentity:
    """The git commit and tree cleanliness, computed once per process; never a remote call."""
    cached = _CODE_IDENTITY.get(cwd or "")
    if cached is not None:
        return cached
    identity = CodeIdentity(code_identifier_type="git")
    if not _may_be_in_git(cwd):
        identity.code_identifier_type = "unknown"
        identity.code_identifier_message = "not a git repository (or no commit)"
        _CODE_IDENTITY[cwd or ""] = identity
        return identity
    import subprocess  # here: a step outside a git tree starts no process at all

    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
    try:
        # one process: `status --branch` reports the commit (branch.oid) and the changes
        proc = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=cwd,
            env=env,
            check=False,
        )
        lines = proc.stdout.splitlines()
        oid = next((ln.split()[2] for ln in lines if ln.startswith("# branch.oid ")), None)
        if proc.returncode == 0 and oid and oid != "(initial)":
            clean = not any(ln and not ln.startswith("#") for ln in lines)
            identity.code_identifier = oid
            identity.code_identifier_dependable = clean
            identity.code_identifier_message = "" if clean else "uncommitted changes"
        else:
            identity.code_identifier_type = "unknown"
            identity.code_identifier_message = "not a git repository (or no commit)"
    except (OSError, subprocess.SubprocessError):
        identity.code_identifier_type = "unknown"
        identity.code_identifier_message = "git is not available"
    _CODE_IDENTITY[cwd or ""] = identity
    return identity


_CODE_IDENTITY: dict[str, CodeIdentity] = {}


def _may_be_in_git(cwd: str | None) -> bool:
    """Whether git could find a repository from ``cwd``: a ``.git`` (folder or file) in it
    or a parent, or ``GIT_DIR`` set. Why: most images hold no ``.git``, and asking git
    costs a process (about 5 ms) in every container for the same answer."""
    if os.environ.get("GIT_DIR"):
        return True
    folder = os.path.abspath(cwd or os.getcwd())
    while True:
        if os.path.lexists(os.path.join(folder, ".git")):
            return True
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent


@dataclass
class RunContext:
    """What every node execution needs; see module docstring."""

    pipeline: Pipeline
    config: MagnusConfig
    run_id: str
    store: RunLogStore
    catalog: Catalog
    secrets: Secrets
    parameters_file: str | None = None
    config_file: str | None = None
    tag: str = ""
    use_cached: str | None = None
    #: the original run's step/branch logs, loaded lazily for re-runs
    _original: dict[str, Any] = field(default_factory=dict)
    #: progress reporter (plain lines or rich); set by the entry point
    reporter: Any = None
    #: the rendered target whose render_string as-is steps run (the k8s-jobs driver);
    #: None: interactive, as-is steps are recorded as rendered nowhere
    as_is_target: str | None = None
    #: the experiment tracker (runtime/tracking.py); None for magnus's do-nothing
    tracker: Any = None
    #: parameter values given when a rendered run was submitted (``--param``,
    #: ``--params-json``); used by whichever node creates the run log
    submitted: dict[str, Any] = field(default_factory=dict)

    # -- re-runs ------------------------------------------------------------------------
    def original_step(self, name: str) -> StepLog | None:
        if not self.use_cached:
            return None
        return self.store.get_step_log(self.use_cached, name)

    def reused_message(self, old: StepLog) -> str:
        """A reused step's message: the original run and the attempt that succeeded there
        (or, when that step was itself reused, where it came from)."""
        done = [a.attempt_number for a in old.attempts if a.status is Status.SUCCESS]
        tail = f", attempt {done[-1]}" if done else f" ({old.message})"
        return f"succeeded in run {self.use_cached}{tail}"

    # -- services ------------------------------------------------------------------------
    @property
    def executor_type(self) -> str:
        return self.config.executor.type

    def take_submitted(self, params: list[str] | None, params_json: str | None) -> None:
        """The values given when the run was submitted (``--param``, ``--params-json``),
        for :meth:`ensure_run_log`; bad ones exit 2 before anything runs."""
        if params or params_json:
            from magnus_render.runtime.parameters import submitted_parameters

            self.submitted = submitted_parameters(params, params_json)

    def ensure_run_log(self) -> None:
        """Create the run log if this is the run's first node. A re-run is a property of
        the run: a node not given --use-cached reuses from the run log's original run
        (Step Functions passes the execution input's use_cached to the first container)."""
        from magnus_render.runtime.parameters import sourced_parameters

        if not self.store.exists(self.run_id):
            self.create_run_log(*sourced_parameters(self.parameters_file))
        if not self.use_cached:
            header = self.store.get_run_header(self.run_id)
            if header.use_cached and header.original_run_id:
                self.use_cached = header.original_run_id

    def create_run_log(
        self, initial_parameters: dict[str, Any], sources: dict[str, str] | None = None
    ) -> tuple[RunLog, bool]:
        """Create the run log (race-safe: the first caller wins, others reuse it).
        ``sources``: where each initial value came from (parameters.sourced_parameters)."""
        original = None
        if self.use_cached:
            original = self.store.get_run_header(self.use_cached)
        starting = _starting_parameters(original, initial_parameters)
        if original is not None:
            sources = dict.fromkeys(starting, f"run {self.use_cached}")
        else:
            sources = {k: v for k, v in (sources or {}).items() if k in starting}
        for name, value in self.submitted.items():
            # a target passes every parameter at submit, the rendered file's value by
            # default: only a value that differs from the file's was given at submit
            if name in initial_parameters and initial_parameters[name] == value:
                continue
            starting[name] = value
            sources[name] = "submit"
        header = RunLog(
            run_id=self.run_id,
            dag_hash=self.pipeline.dag_hash,
            tag=self.tag,
            use_cached=bool(self.use_cached),
            original_run_id=self.use_cached or "",
            parameters=dict(starting),
            run_config={
                "initial_parameters": dict(starting),
                "parameter_sources": dict(sorted(sources.items())),
                "pipeline_file": str(self.pipeline.file),
                "executor": self.config.executor.model_dump(),
                "run_log_store": {"type": self.config.run_log_store.type},
                "catalog": {"type": self.config.catalog.type},
                "secrets": {"type": self.config.secrets.type},
            },
        )
        stored, created = self.store.create_run_log(header)
        if created and self.use_cached:
            self.catalog.copy_run(self.use_cached, self.run_id)
        return stored, created


def _starting_parameters(original: RunLog | None, initial: dict[str, Any]) -> dict[str, Any]:
    """A re-run starts from the original run's initial parameters (reused steps re-apply
    their outputs); runs recorded without them fall back to the final parameters."""
    if original is None:
        return dict(initial)
    recorded = original.run_config.get("initial_parameters")
    return dict(recorded if isinstance(recorded, dict) else original.parameters)


def build_services(config: MagnusConfig) -> tuple[RunLogStore, Catalog, Secrets]:
    """Instantiate the backends the config names (errors point at the config file)."""
    store_cls = backend_class("run_log_store", config.run_log_store.type, config)
    catalog_cls = backend_class("catalog", config.catalog.type, config)
    secrets_cls = backend_class("secrets", config.secrets.type, config)
    return (
        store_cls(config.run_log_store.config, config),
        catalog_cls(config.catalog.config, config),
        secrets_cls(config.secrets.config, config),
    )


def dump_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def data_folder(ctx: RunContext) -> Path:
    return ctx.catalog.data_folder


def configured_store(config_file: Path | str | None) -> Any:
    """The run log store a config file names (the defaults without one)."""
    from magnus_render.config import load_config

    config = load_config(config_file)
    return build_services(config)[0]
