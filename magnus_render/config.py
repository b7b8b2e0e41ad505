"""The config file (magnus format): which executor, run log store, catalog and secrets.

Each section is ``{type: NAME, config: {...}}``. The section's ``config`` is validated by
the backend that registers under NAME (a store, an executor or a render target), so an
unknown setting is an error that names the file and line, not a silently dropped key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from magnus_render.errors import ConfigError, Diagnostic
from magnus_render.settings import convert_struct, deep_merge

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = ["MagnusConfig", "ServiceConfig", "deep_merge", "load_config", "validation_error"]

_T = TypeVar("_T")

DEFAULT_CONFIG_FILE = "magnus-config.yaml"
#: the experiment trackers a config may name (magnus 0.5's names)
TRACKER_TYPES = ("do-nothing", "mlflow")
#: the sections of a config file and the type each has when the file leaves it out
SECTIONS = {
    "executor": "local",
    "run_log_store": "file-system",
    "catalog": "file-system",
    "secrets": "env",
    "experiment_tracker": "do-nothing",
}


class ServiceConfig(msgspec.Struct, forbid_unknown_fields=True):
    """One section: the backend's registered name and its own settings."""

    type: str
    config: dict[str, Any] = {}

    def model_dump(self) -> dict[str, Any]:
        """The section as plain data (a copy: the run log's ``run_config`` keeps it)."""
        return msgspec.to_builtins(self)


def _default(section: str) -> Any:
    return msgspec.field(default_factory=lambda: ServiceConfig(SECTIONS[section]))


class _ConfigFile(msgspec.Struct, forbid_unknown_fields=True):
    """What a config file may hold (a section left out gets its default type)."""

    executor: ServiceConfig = _default("executor")
    run_log_store: ServiceConfig = _default("run_log_store")
    catalog: ServiceConfig = _default("catalog")
    secrets: ServiceConfig = _default("secrets")
    experiment_tracker: ServiceConfig = _default("experiment_tracker")


class MagnusConfig:
    """The whole config file. Defaults persist on disk: a run can always be inspected.
    Plain class (msgspec checks the file): a container reads one before any step."""

    executor: ServiceConfig
    run_log_store: ServiceConfig
    catalog: ServiceConfig
    secrets: ServiceConfig
    experiment_tracker: ServiceConfig

    def __init__(self, **sections: ServiceConfig | Mapping[str, Any]) -> None:
        unknown = sorted(set(sections) - set(SECTIONS))
        if unknown:
            raise TypeError(f"MagnusConfig() got unknown sections: {', '.join(unknown)}")
        for name, default in SECTIONS.items():
            value = sections.get(name)
            if value is None:
                value = ServiceConfig(default)
            elif not isinstance(value, ServiceConfig):
                value = _convert(ServiceConfig, value, name)
            setattr(self, name, value)
        #: where the file was read from, for messages (not part of the format)
        self.source_file: str | None = None
        #: line of each section's ``config`` key and of keys inside it, for messages
        self.source_lines: dict[str, Any] = {}
        #: the file as read and its source map: lines of keys at any depth, for messages
        self._raw: Any = None
        self._smap: Any = None

    @classmethod
    def model_validate(cls, data: Any) -> MagnusConfig:
        """A config from the data of a file (no file: errors have no line)."""
        file = _convert(_ConfigFile, {} if data is None else data)
        return cls(**{name: getattr(file, name) for name in SECTIONS})

    def model_dump(self) -> dict[str, Any]:
        """The sections as plain data (the source file and lines are never part of it)."""
        return {n: getattr(self, n).model_dump() for n in SECTIONS}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MagnusConfig):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable: compared by value, not hashable

    def __repr__(self) -> str:
        sections = ", ".join(f"{n}={getattr(self, n)!r}" for n in SECTIONS)
        return f"MagnusConfig({sections})"

    def line_at(self, section: str, path: tuple[str, ...]) -> int | None:
        """The line of the deepest key of ``<section>.config.<path>`` the file holds."""
        raw, smap = self._raw, self._smap
        if smap is None or not isinstance(raw, dict):
            return self.line_of(section, path[0] if path else None)
        line = smap.line_of(raw, section)
        node: Any = raw.get(section)
        for part in ("config", *path):
            if isinstance(node, dict) and part in node:
                line = smap.line_of(node, part) or line
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                line = smap.line_of(node) or line
            else:
                break
        return line

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
            line_at_path(data, smap, loc),
        )
        for loc in non_finite(data)
    ]
    if diagnostics:
        raise ConfigError.from_diagnostics(diagnostics)
    return data, smap


def line_at_path(data: Any, smap: Any, loc: tuple[Any, ...]) -> int | None:
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
        line = line_at_path(data, smap, err["loc"])
        where = ".".join(str(p) for p in err["loc"])
        msg = unknown if err["type"] == "extra_forbidden" else err["msg"]
        diagnostics.append(Diagnostic(f"{where}: {msg[:1].lower()}{msg[1:]}", file, line))
    return ConfigError.from_diagnostics(diagnostics)


def _convert(model: type[_T], data: Any, where: str = "", smap: Any = None, file: str = "") -> _T:
    """``data`` as the Struct ``model``, else one ConfigError listing every problem, each
    at the line of the deepest mapping or list item on its path when ``smap`` is given."""

    def diagnostic(loc: tuple[str | int, ...], message: str) -> Diagnostic:
        where_loc = ".".join(str(p) for p in (where, *loc) if p != "")
        line = line_at_path(data, smap, loc) if smap is not None else None
        return Diagnostic(f"{where_loc}: {message}", file or None, line)

    return convert_struct(model, data, "unknown section or field", diagnostic)


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
    elif "defaults" in data:
        raise ConfigError(
            "defaults: magnus 0.5's `defaults:` wrapper must be the file's only key and hold "
            "a mapping of sections",
            str(path),
            smap.line_of(data, "defaults"),
        )
    file = _convert(_ConfigFile, data, smap=smap, file=str(path))
    config = MagnusConfig(**{name: getattr(file, name) for name in SECTIONS})
    lines: dict[str, Any] = {}
    for section, body in data.items():
        if isinstance(body, dict):
            inner = body.get("config")
            keys = {k: smap.line_of(inner, k) for k in inner} if isinstance(inner, dict) else {}
            lines[section] = (smap.line_of(data, section), keys)
    config.source_file = str(path)
    config.source_lines = lines
    config._raw, config._smap = data, smap
    return config
