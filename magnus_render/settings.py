"""One settings path for every render target and executor.

A target or executor validates the config's ``executor.config`` with its own pydantic
model (:func:`load_settings`). A step that says ``overrides: {<owner>: NAME}`` gets the
global settings with ``executor.config.overrides.NAME`` laid over them by
:func:`deep_merge` (:func:`step_settings`); :func:`check_overrides` proves, before
anything renders or runs, that every patch merges into valid step settings and that every
step names a patch that exists. The merge rule is the same everywhere:

- a mapping merges key by key, recursively (``environment: {B: 2}`` keeps a global
  ``environment: {A: 1}``: the step sees both);
- a list, a scalar or null replaces the global value (``tolerations: [...]`` is the
  step's whole list).

Every error has one wording, ``file:line: executor.config.<key path>: <what is wrong>``,
at the line of the deepest key of the path that the file holds (:func:`settings_error`).

The stores' and the tracker's settings, which every container reads, are msgspec Structs
instead (:func:`convert_settings`, :func:`struct_problems`): defining pydantic models
costs a container more than the whole rest of its start. pydantic is imported only by
the functions that need it (executor and target settings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from magnus_render.errors import ConfigError, Diagnostic

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    from magnus_render.pipeline.ir import Node

S = TypeVar("S", bound="BaseModel")
T = TypeVar("T")


class MagnusConfig(Protocol):
    """What this module reads of :class:`magnus_render.config.MagnusConfig` (which imports
    :func:`deep_merge` from here: the config layer sits above this one)."""

    source_file: str | None

    def line_at(self, section: str, path: tuple[str, ...]) -> int | None: ...


#: the message of a key the model does not know
UNKNOWN = "unknown setting"


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` laid over it: mappings merge key by key (recursively);
    lists, scalars and null replace. Neither argument is changed."""
    out = dict(base)
    for key, value in patch.items():
        old = out.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out


def env_names(env: Mapping[str, Any], pattern: re.Pattern[str]) -> dict[str, str]:
    """An ``env`` setting's values as text, once every name matches ``pattern`` (each
    place that sets environment variables has its own rule for a valid name)."""
    for name in env:
        if not pattern.match(name):
            raise ValueError(f"{name!r} is not a valid environment variable name")
    return {k: str(v) for k, v in env.items()}


def settings_error(
    exc: ValidationError,
    config: MagnusConfig | None,
    section: str = "executor",
    prefix: tuple[str, ...] = (),
) -> ConfigError:
    """One ConfigError for every problem pydantic found in ``<section>.config`` (below
    ``prefix`` inside it, e.g. ``("overrides", "gpu")``), in the one wording."""
    diagnostics = []
    for err in exc.errors():
        path = (*prefix, *(str(p) for p in err["loc"]))
        msg = UNKNOWN if err["type"] == "extra_forbidden" else _lower_first(err["msg"])
        diagnostics.append(_diagnostic(config, section, path, msg))
    return ConfigError.from_diagnostics(diagnostics)


def key_error(
    config: MagnusConfig | None, section: str, path: Iterable[str], message: str
) -> ConfigError:
    """A ConfigError about one key of ``<section>.config``, in the one wording."""
    return ConfigError.from_diagnostics([_diagnostic(config, section, tuple(path), message)])


def convert_settings(
    model: type[T],
    raw: Any,
    config: MagnusConfig | None,
    section: str,
    prefix: tuple[str, ...] = (),
) -> T:
    """``raw`` as the msgspec Struct ``model``; else one ConfigError listing every problem
    (:func:`struct_problems`) in the one wording, ``<section>.config.<key path>``."""

    def diagnostic(path: tuple[str | int, ...], message: str) -> Diagnostic:
        return _diagnostic(config, section, (*prefix, *(str(p) for p in path)), message)

    return convert_struct(model, raw, UNKNOWN, diagnostic)


def convert_struct(
    model: type[T],
    raw: Any,
    unknown: str,
    diagnostic: Callable[[tuple[str | int, ...], str], Diagnostic],
) -> T:
    """``raw`` as the msgspec Struct ``model``; else one ConfigError with a ``diagnostic``
    for every problem (:func:`struct_problems`), in the file's order."""
    import msgspec

    problems = [(path, NUL_TEXT) for path in nul_paths(raw)]
    if not problems:
        try:
            return msgspec.convert(raw, type=model, strict=LAX)
        except msgspec.ValidationError as exc:
            problems = struct_problems(model, raw, exc, unknown)
    diagnostics = [diagnostic(path, message) for path, message in problems]
    diagnostics.sort(key=lambda d: d.line or 0)  # in the file's order
    raise ConfigError.from_diagnostics(diagnostics) from None


#: why a setting holding a NUL byte is refused: no path, URL, name or environment value can
#: hold one (the operating system refuses it: a store's folder would fail the run later)
NUL_TEXT = "contains a NUL byte, which no path, name or URL can hold"


def nul_paths(raw: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """The key paths of every text (value or key) in ``raw`` that contains a NUL byte."""
    if isinstance(raw, str):
        return [path] if "\0" in raw else []
    found: list[tuple[str | int, ...]] = []
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            if isinstance(key, str) and "\0" in key:
                found.append((*path, key))
            else:
                found += nul_paths(value, (*path, key))
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            found += nul_paths(value, (*path, index))
    return found


#: msgspec's ``strict`` for settings: False, so a quoted number or boolean in a config file
#: (``max_conflict_retries: "50"``, ``autolog: "true"``) is read as pydantic's lax mode
#: read it before the move to msgspec (and magnus 0.5 before that); a number is still never
#: read as text, as pydantic 2 did not either
LAX = False

#: a msgspec error: ``<what> - at `$.a.b[0]` `` (or ``- at `key` in `$.a` `` for a key);
#: patterns, not compiled at import (``re`` caches them): an error is the rare path
_MSGSPEC_ERROR = r"(?s)(?P<what>.*?)(?: - at `(?P<at>[^`]*)`(?: in `(?P<in>[^`]*)`)?)?"
_FIELD_ERROR = r"Object (?P<kind>contains unknown|missing required) field `(?P<key>.*)`"
_PATH_PART = r"\.([^.\[]+)|\[(\d+|\.\.\.)\]"

Problem = tuple[tuple["str | int", ...], str]


def struct_problems(model: type, raw: Any, exc: Exception, unknown: str) -> list[Problem]:
    """Every problem in ``raw`` for the Struct ``model``, as (key path, message): msgspec
    stops at the first, so a mapping is checked again key by key (an unknown key is called
    ``unknown``, a missing one ``field required``) and a nested Struct is entered."""
    import msgspec

    if not isinstance(raw, Mapping):
        return [_parsed(str(exc), unknown)]
    fields = {f.encode_name: f for f in msgspec.structs.fields(model)}
    problems: list[Problem] = [((key,), unknown) for key in raw if key not in fields]
    for name, field in fields.items():
        if name not in raw:
            if field.required:
                problems.append(((name,), "field required"))
            continue
        kind = field.type
        try:
            msgspec.convert(raw[name], type=kind, strict=LAX)
        except msgspec.ValidationError as inner:
            value = raw[name]
            keys = (
                [k for k in value if not isinstance(k, str)] if isinstance(value, Mapping) else []
            )
            if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
                found = struct_problems(kind, value, inner, unknown)
            elif keys:  # msgspec names no key (``$[...]``): say which, at its line
                found = [
                    ((k,), f"a key must be text (quote it), not {_yaml_type(k)}") for k in keys
                ]
            else:
                found = [_parsed(str(inner), unknown, kind)]
            problems += [((name, *path), message) for path, message in found]
    return problems or [_parsed(str(exc), unknown)]


def _parsed(text: str, unknown: str, kind: Any = None) -> Problem:
    """One msgspec error message as (key path, message); the path ends at a mapping's
    value (``[...]``: msgspec does not name the key). msgspec quotes a value that is not
    one of a Literal's or Enum's: it may be a secret, so the choices (of ``kind``, the
    field's type) are named instead, as pydantic did."""
    match = re.fullmatch(_MSGSPEC_ERROR, text)
    what, at = (match["what"], match["in"] or match["at"] or "") if match else (text, "")
    path: list[str | int] = []
    for name, index in re.findall(_PATH_PART, at):
        if index == "...":
            break
        path.append(int(index) if index else name)
    if what.startswith("Invalid enum value "):
        what = "not one of the allowed values" + _choices(kind)
    field = re.fullmatch(_FIELD_ERROR, what)
    if field is not None:
        path.append(field["key"])
        what = unknown if field["kind"] == "contains unknown" else "field required"
    return tuple(path), _lower_first(re.sub(r"`(object|array)`", _yaml_name, what))


def _choices(kind: Any) -> str:
    """``: 'a', 'b'`` for a Literal or Enum type, '' for any other."""
    import enum
    import typing

    if typing.get_origin(kind) is typing.Literal:
        values: Iterable[Any] = typing.get_args(kind)
    elif isinstance(kind, type) and issubclass(kind, enum.Enum):
        values = (member.value for member in kind)
    else:
        return ""
    return ": " + ", ".join(repr(v) for v in values)


def _yaml_name(match: re.Match[str]) -> str:
    """msgspec's JSON name of a type as a YAML file calls it."""
    return "`mapping`" if match[1] == "object" else "`list`"


def _yaml_type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _diagnostic(
    config: MagnusConfig | None, section: str, path: tuple[str, ...], message: str
) -> Diagnostic:
    where = ".".join((section, "config", *path))
    if config is None:
        return Diagnostic(f"{where}: {message}")
    return Diagnostic(f"{where}: {message}", config.source_file, config.line_at(section, path))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def load_settings(
    model: type[S],
    config: MagnusConfig | None,
    section: str = "executor",
    owner: str | None = None,
) -> S:
    """``<section>.config`` validated by ``model``. With ``owner``, the section is read only
    when its type is ``owner`` (a target rendering a config written for another executor
    gets its defaults)."""
    raw: Any = {}
    if config is not None:
        part: Any = getattr(config, section)
        if owner is None or part.type == owner:
            raw = part.config or {}
    from pydantic import ValidationError

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise settings_error(exc, config, section) from None


def _patch_of(value: Any) -> dict[str, Any]:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    return dict(value or {})


def _base(settings: BaseModel, model: type[BaseModel], not_inherited: Collection[str]) -> dict:
    fields = model.model_fields
    skip = {"overrides", *not_inherited}
    data = settings.model_dump()
    return {k: v for k, v in data.items() if k in fields and k not in skip}


def merged_settings(
    settings: BaseModel,
    patch: Mapping[str, Any] | BaseModel | None,
    model: type[S],
    not_inherited: Collection[str] = (),
) -> S:
    """``model`` from the global ``settings`` (its fields ``model`` has, but
    ``not_inherited``) with ``patch`` deep-merged over them; may raise ValidationError."""
    merged = deep_merge(_base(settings, model, not_inherited), _patch_of(patch))
    return model.model_validate(merged)


def override_name(node: Node, owner: str, settings: BaseModel) -> str | None:
    """The override a step names for ``owner`` (None: none); an undefined one is an error
    at the step's line that names the key and the ones defined."""
    name = node.overrides.get(owner)
    if name is None:
        return None
    defined: Mapping[str, Any] = getattr(settings, "overrides", None) or {}
    if name not in defined:
        known = ", ".join(sorted(defined)) or "none"
        source = node.source
        raise ConfigError(
            f"step {node.internal_name!r}: overrides.{owner} {name!r} is not defined in "
            f"executor.config.overrides (defined: {known})",
            source.file if source else None,
            source.line if source else None,
        )
    return name


def step_settings(
    settings: BaseModel,
    owner: str,
    node: Node | None,
    model: type[S],
    not_inherited: Collection[str] = (),
) -> S:
    """The settings of one step (``node`` None: of a step without an override). The
    patches were checked by :func:`check_overrides`, so this raises only ConfigError."""
    name = None if node is None else override_name(node, owner, settings)
    if name is None and type(settings) is model and not not_inherited:
        return settings  # nothing to merge: the global settings are the step's
    defined: Mapping[str, Any] = getattr(settings, "overrides", None) or {}
    patch = None if name is None else defined[name]
    from pydantic import ValidationError

    try:
        return merged_settings(settings, patch, model, not_inherited)
    except ValidationError as exc:
        raise settings_error(exc, None, prefix=("overrides", name or "")) from None


def check_overrides(
    settings: BaseModel,
    owner: str,
    model: type[S],
    config: MagnusConfig | None,
    nodes: Iterable[Node] = (),
    *,
    allowed: Collection[str] | None = None,
    not_inherited: Collection[str] = (),
) -> dict[str, S]:
    """Every ``executor.config.overrides`` patch merged into valid ``model`` settings, by
    name; raises a ConfigError at the patch's line otherwise (a key of ``allowed``, default
    ``model``'s fields, may be patched; another known setting is one of the whole run),
    and at a step's line when it names an undefined patch."""
    keys = set(model.model_fields if allowed is None else allowed) - {"overrides"}
    known = set(type(settings).model_fields) | set(model.model_fields)
    out: dict[str, S] = {}
    from pydantic import ValidationError

    for name, raw in (getattr(settings, "overrides", None) or {}).items():
        patch = _patch_of(raw)
        for key in patch:
            if key not in keys:
                why = "cannot be set per step" if key in known else UNKNOWN
                raise key_error(config, "executor", ("overrides", name, key), why)
        try:
            out[name] = merged_settings(settings, patch, model, not_inherited)
        except ValidationError as exc:
            raise settings_error(exc, config, prefix=("overrides", name)) from None
    for node in nodes:
        override_name(node, owner, settings)
    return out
