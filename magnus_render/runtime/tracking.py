"""Experiment trackers: where a step's metrics go besides its step log.

magnus 0.5's config section ``experiment_tracker: {type: mlflow, config: {server_url}}``.
Every metric a step records (``track_this``, ``MAGNUS_TRACK_*``) is always kept in its
step log; with ``mlflow`` it is also logged to one mlflow run per magnus run, named after
the run id and found again by its ``magnus.run_id`` tag, so every process (a container
per step included) writes to the same mlflow run. Numbers become metrics (a series keeps
its steps), anything else a param. mlflow is imported only when a tracker is used.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import msgspec

from magnus_render.config import TRACKER_TYPES, MagnusConfig

RUN_ID_TAG = "magnus.run_id"
TAG_TAG = "magnus.tag"


class MlflowSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``experiment_tracker.config`` for ``type: mlflow``."""

    #: magnus 0.5's name for the tracking URI
    server_url: str | None = None
    tracking_uri: str | None = None
    experiment_name: str = "Default"
    #: magnus 0.5 setting; mlflow autologging needs the full mlflow package, not offered
    autolog: bool = False


class MlflowTracker:
    """Logs a magnus run's metrics to one mlflow run (see module docstring)."""

    def __init__(self, settings: MlflowSettings) -> None:
        self.settings = settings
        self.uri = settings.tracking_uri or settings.server_url or default_tracking_uri()
        self._client: Any = None
        self._runs: dict[str, str] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            if _is_file_store(self.uri):
                # mlflow 3 refuses a file store unless asked: the local default is one
                os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def _experiment_id(self) -> str:
        name = self.settings.experiment_name
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment.experiment_id)
        return str(self.client.create_experiment(name))

    def mlflow_run_id(self, run_id: str, tag: str = "") -> str:
        """The mlflow run of this magnus run, created on first use."""
        found = self._runs.get(run_id)
        if found:
            return found
        experiment_id = self._experiment_id()
        runs = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{_quote(run_id)}'"
        )
        if runs:
            found = runs[0].info.run_id
        else:
            tags = {RUN_ID_TAG: run_id, **({TAG_TAG: tag} if tag else {})}
            found = self.client.create_run(experiment_id, tags=tags, run_name=run_id).info.run_id
        self._runs[run_id] = found
        return found

    def publish(self, run_id: str, tag: str, metrics: dict[str, Any]) -> None:
        """Log one step's metrics: numbers as metrics, the rest as params."""
        mlflow_run = self.mlflow_run_id(run_id, tag)
        for key, value in metrics.items():
            if _is_series(value):
                for step, item in sorted(value.items(), key=lambda kv: int(kv[0])):
                    self._log(mlflow_run, key, item, int(step))
            else:
                self._log(mlflow_run, key, value, None)

    def _log(self, mlflow_run: str, key: str, value: Any, step: int | None) -> None:
        if _is_number(value):
            self.client.log_metric(mlflow_run, key, float(value), step=step or 0)
            return
        name = key if step is None else f"{key}_{step}"
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        self.client.log_param(mlflow_run, name, text)

    def finish(self, run_id: str, succeeded: bool) -> None:
        """Mark the mlflow run finished or failed (the end of ``magnus execute``)."""
        mlflow_run = self._runs.get(run_id)
        if mlflow_run:
            self.client.set_terminated(mlflow_run, "FINISHED" if succeeded else "FAILED")

    def client_context(self, run_id: str, tag: str = "") -> AbstractContextManager[Any]:
        """magnus 0.5's ``get_experiment_tracker_context()``: the mlflow run, active, so a
        task can call ``mlflow.log_*`` itself."""
        import mlflow

        mlflow_run = self.mlflow_run_id(run_id, tag)
        mlflow.set_tracking_uri(self.uri)
        return mlflow.start_run(run_id=mlflow_run)


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, else a file store in ./mlruns (mlflow's classic default)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or Path("mlruns").resolve().as_uri()


def build_tracker(config: MagnusConfig) -> MlflowTracker | None:
    """The configured tracker, checked at start: None for ``do-nothing``; an unknown
    type, a bad setting or mlflow not installed is a ConfigError at the config's line."""
    section = config.experiment_tracker
    if section.type == "do-nothing":
        if section.config:
            raise config.error("experiment_tracker", "do-nothing takes no config")
        return None
    if section.type != "mlflow":
        raise config.error(
            "experiment_tracker",
            f"unknown type {section.type!r}; choose one of: {', '.join(TRACKER_TYPES)}",
        )
    from magnus_render.stores.run_log_base import build_settings

    settings = build_settings(MlflowSettings, section.config, config, "experiment_tracker")
    if settings.autolog:
        raise config.error(
            "experiment_tracker", "autolog is not supported (it needs the full mlflow)", "autolog"
        )
    if importlib.util.find_spec("mlflow") is None:
        raise config.error(
            "experiment_tracker",
            "type mlflow needs mlflow: pip install 'magnus-render[mlflow]'",
        )
    return MlflowTracker(settings)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_series(value: Any) -> bool:
    """``track_this(step=N, ...)`` values: a mapping of step numbers to values."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(k, str) and k.isdigit() for k in value)
    )


def _is_file_store(uri: str) -> bool:
    return uri.startswith("file:") or "://" not in uri


#: the user and password of a URL (``https://user:token@host``): mlflow's errors quote the
#: tracking URI whole, and a tracker's basic-auth password must never reach stderr or the log
_CREDENTIALS = r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]+@"


def describe_error(exc: BaseException) -> str:
    """A tracker's failure for messages: its type and text, credentials in URLs hidden."""
    import re

    return re.sub(_CREDENTIALS, r"\1***@", f"{type(exc).__name__}: {exc}")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def start_run(ctx: Any) -> None:
    """Make the tracker's run before any step, so parallel workers find one run. If the
    tracker cannot be reached, each step that tracks something fails with the reason."""
    if ctx.tracker is not None:
        try:
            ctx.tracker.mlflow_run_id(ctx.run_id, ctx.tag)
        except Exception as exc:
            print(f"warning: experiment tracker: {describe_error(exc)}", file=sys.stderr)


def finish_run(ctx: Any, status: Any) -> None:
    if ctx.tracker is not None:
        try:
            ctx.tracker.finish(ctx.run_id, status.value == "SUCCESS")
        except Exception as exc:
            print(f"warning: experiment tracker: {describe_error(exc)}", file=sys.stderr)
