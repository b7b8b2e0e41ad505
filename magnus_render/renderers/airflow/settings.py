"""Settings of the Airflow target: ``executor: {type: airflow, config: {...}}``.

The DAG-level keys (dag id, schedule, owner, tags...) are Airflow's; the pod keys are the
k8s-jobs target's own model (:class:`~magnus_render.contract.k8s_spec.PodSettings`), so a config
moves between the two Kubernetes targets unchanged, plus what only a pod operator has
(service account, image pull secrets). Unknown keys are errors with the config's line.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from magnus_render.contract.k8s_spec import PodSettings
from magnus_render.errors import ConfigError
from magnus_render.renderers.base import TargetSettings
from magnus_render.renderers.cron import check_schedule

_DAG_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_PRESETS = (
    "@once",
    "@continuous",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
)
#: Airflow's default ``core.max_map_length``: a mapped task over more items fails
MAX_MAP_LENGTH = 1024


class KubernetesPod(PodSettings):
    """What a step's pod may set (also the shape of a per-step override)."""

    namespace: str = "default"
    service_account: str | None = None
    image_pull_secrets: tuple[str, ...] = ()


class AirflowSettings(TargetSettings, KubernetesPod):
    """``executor.config`` when its type is ``airflow``."""

    operator: Literal["kubernetes", "bash"] = "kubernetes"
    dag_id: str | None = None
    schedule: str | None = None
    start_date: datetime.date = datetime.date(2024, 1, 1)
    owner: str = "magnus"
    tags: tuple[str, ...] = ()
    #: the BashOperator's cwd (default: the folder magnus-render runs in)
    working_dir: str | None = None
    #: how a bash task starts magnus, e.g. [python3, -m, magnus_render.cli]
    magnus_command: tuple[str, ...] = ("magnus",)
    #: the largest map Airflow expands (its core.max_map_length)
    max_map_length: int = Field(default=MAX_MAP_LENGTH, ge=1)
    #: per-step pod settings, chosen by a step's ``overrides: {airflow: NAME}``
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("dag_id")
    @classmethod
    def _dag_id(cls, value: str | None) -> str | None:
        if value is not None and not _DAG_ID.match(value):
            raise ValueError(f"{value!r} is not an Airflow DAG id (letters, digits, '_.-')")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_airflow_schedule(value, "schedule")
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("working_dir")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"working_dir must be absolute, got {value!r}")
        return value

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, patch in value.items():
            try:
                KubernetesPod.model_validate(patch)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
                raise ValueError(f"override {name!r}: {where}: {msg}") from None
        return value

    def pod_for(self, override: str | None) -> KubernetesPod:
        """The pod settings of a step: these, with its override patched in (deep merge)."""
        from magnus_render.settings import deep_merge

        fields = set(KubernetesPod.model_fields)
        base = {k: v for k, v in self.model_dump().items() if k in fields}
        if override is None:
            return KubernetesPod.model_validate(base)
        return KubernetesPod.model_validate(deep_merge(base, self.overrides[override]))


def check_airflow_schedule(schedule: str, flag: str) -> None:
    """An Airflow preset, or a cron expression checked field by field (ranges, names), so a
    typo fails at render naming ``flag`` rather than when the scheduler parses the DAG."""
    if schedule in _PRESETS:
        return
    if schedule.strip().startswith("@"):
        raise ConfigError(f"{flag} {schedule!r}: not an Airflow preset ({', '.join(_PRESETS)})")
    check_schedule(schedule, flag)
