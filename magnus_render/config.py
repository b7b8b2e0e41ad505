"""The config file (magnus format): which executor, run log store, catalog and secrets.

Each section is ``{type: NAME, config: {...}}``. The section's ``config`` is validated by
the backend that registers under NAME (a store, an executor or a render target), so an
unknown setting is an error that names the file and line, not a silently dropped key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from magnus_render.errors import ConfigError, Diagnostic

DEFAULT_CONFIG_FILE = "magnus-config.yaml"
#: the experiment trackers a config may name (magnus 0.5's names)
TRACKER_TYPES = ("do-nothing", "mlflow")


class ServiceConfig(BaseModel):
    """One section: the backend's registered name and its own settings."""

    model_config = ConfigDict(extra="forbid")
    type: StrictStr
    config: dict[str, Any] = Field(default_factory=dict)


class MagnusConfig(BaseModel):
    """The whole config file. Defaults persist on disk: a run can always be inspected."""

    model_config = ConfigDict(extra="forbid")
    executor: ServiceConfig = Field(default_factory=lambda: ServiceConfig(type="local"))
    run_log_store: ServiceConfig = Field(default_factory=lambda: ServiceConfig(type="file-system"))
    catalog: ServiceConfig = Field(default_factory=lambda: ServiceConfig(type="file-system"))
    secrets: ServiceConfig = Field(default_factory=lambda: ServiceConfig(type="env"))
    experiment_tracker: ServiceConfig = Field(
        default_factory=lambda: ServiceConfig(type="do-nothing")
    )

    #: where the file was read from, for messages (not part of the format)
    source_file: str | None = Field(default=None, exclude=True)
    #: line of each section's ``config`` key and of keys inside it, for messages
    source_lines: dict[str, Any] = Field(default_factory=dict, exclude=True)

    def line_of(self, section: str, key: str | None = None) -> int | None:
        entry = self.source_lines.get(section)
        if entry is None:
            return None
        line, keys = entry
        return keys.get(key, line) if key else line

    def check_types(self, choices: dict[str, set[str]]) -> None:
        """Each named section's ``type`` is one of its choices; else one ConfigError listing
        every unknown type with its file, line and the valid choices."""
        diagnostics: list[Diagnostic] = []
        for section, known in choices.items():
            name = getattr(self, section).type
            if name not in known:
                listed = ", ".join(sorted(known))
                error = self.error(section, f"unknown type {name!r}; choose one of: {listed}")
                diagnostics += error.diagnostics
        if diagnostics:
            diagnostics.sort(key=lambda d: d.line or 0)  # in the file's order
            raise ConfigError.from_diagnostics(diagnostics)

    def error(self, section: str, message: str, key: str | None = None) -> ConfigError:
        """A ConfigError pointing at ``section`` (and ``key`` in its config) of the file."""
        return ConfigError(f"{section}: {message}", self.source_file, self.line_of(section, key))


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` laid over it, nested mappings merged key by key: how a step's
    ``overrides`` entry patches a target's or executor's settings."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml_file(path: Path) -> tuple[Any, Any]:
    """A YAML settings file (config, render manifest) and its source map; a syntax error or
    an infinite or NaN number (``.inf``, ``.nan``: no spec or setting can hold one) is a
    ConfigError carrying the file and line."""
    from magnus_render.pipeline.yaml_source import load_yaml_file
    from magnus_render.yamltext import non_finite, path_text

    try:
        data, smap = load_yaml_file(path)
    except Exception as exc:  # PipelineError carries file:line already
        if hasattr(exc, "diagnostics"):
            raise ConfigError.from_diagnostics(exc.diagnostics) from None
        raise
    diagnostics = [
        Diagnostic(
            f"{path_text(loc)}: not a finite number (infinity and NaN cannot be rendered)",
            str(path),
            _line_at(data, smap, loc),
        )
        for loc in non_finite(data)
    ]
    if diagnostics:
        raise ConfigError.from_diagnostics(diagnostics)
    return data, smap


def _line_at(data: Any, smap: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest mapping key or list item on the path ``loc`` in ``data``."""
    node: Any = data
    line = smap.line_of(data)
    for part in loc:
        if isinstance(node, dict):
            line = smap.line_of(node, part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            line = smap.line_of(node) or line
    return line


def validation_error(
    exc: ValidationError, data: Any, smap: Any, file: str, unknown: str
) -> ConfigError:
    """One ConfigError for every problem pydantic found in ``data``, each at the line of
    the deepest mapping or list item on its path; an extra key is called ``unknown``."""
    diagnostics = []
    for err in exc.errors():
        line = _line_at(data, smap, err["loc"])
        where = ".".join(str(p) for p in err["loc"])
        msg = unknown if err["type"] == "extra_forbidden" else err["msg"]
        diagnostics.append(Diagnostic(f"{where}: {msg.lower()}", file, line))
    return ConfigError.from_diagnostics(diagnostics)


def load_config(path: str | Path | None) -> MagnusConfig:
    """Read a config file; no path means the defaults (or ./magnus-config.yaml if present)."""
    if path is None:
        default = Path(DEFAULT_CONFIG_FILE)
        if not default.is_file():
            return MagnusConfig()
        path = default
    path = Path(path)
    data, smap = read_yaml_file(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("a config file must be a mapping of sections", str(path), 1)
    # magnus 0.5 allowed a top-level `defaults` wrapper in magnus-config.yaml
    if "defaults" in data and isinstance(data["defaults"], dict) and len(data) == 1:
        data = data["defaults"]
    try:
        config = MagnusConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, smap, str(path), "unknown section or field") from None
    lines: dict[str, Any] = {}
    for section, body in data.items():
        if isinstance(body, dict):
            inner = body.get("config")
            keys = {k: smap.line_of(inner, k) for k in inner} if isinstance(inner, dict) else {}
            lines[section] = (smap.line_of(data, section), keys)
    config.source_file = str(path)
    config.source_lines = lines
    return config
