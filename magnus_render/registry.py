"""Name -> class registries shared by targets, executors and backends, with plugins.

Built-ins are ``module:Class`` paths, so choosing one imports only its module; third
parties add names through entry point groups. A plugin that cannot be loaded (its module
is missing or fails to import, or it names something that is not a class of the right
kind) is the user's environment to fix: a MagnusError naming the plugin package and the
entry point, never a traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from magnus_render.errors import ConfigError, MagnusError


def registered(builtins: dict[str, str], group: str) -> tuple[dict[str, str], dict[str, str]]:
    """(name -> ``module:Class``, name -> where a plugin's name comes from); built-ins win.
    ``importlib.metadata`` is imported here, not at the top: it costs a container ~8 ms
    (it loads ``email``), and a built-in name never needs it (:func:`lookup`)."""
    from importlib.metadata import entry_points

    found = dict(builtins)
    origins: dict[str, str] = {}
    for ep in entry_points(group=group):
        if ep.name in found:
            continue
        found[ep.name] = ep.value
        dist = getattr(ep, "dist", None)
        package = f"the plugin package {dist.name!r}" if dist is not None else "a plugin"
        origins[ep.name] = f"{package} (entry point {ep.name} = {ep.value} in {group})"
    return found, origins


def load(
    path: str,
    what: str,
    origin: str | None,
    base: Callable[[], type] | None = None,
) -> type:
    """The class at ``path``; for a plugin (``origin`` set), a MagnusError saying what is
    wrong with it. ``base`` gives the class it must subclass (imported only when needed)."""
    module_name, _, attr = path.partition(":")
    if origin is None:  # built-in: a failure here is a bug in magnus-render, keep the traceback
        return getattr(importlib.import_module(module_name), attr)
    try:
        value = importlib.import_module(module_name)
        for part in attr.split("."):
            value = getattr(value, part)
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
        raise MagnusError(f"{what} comes from {origin}, which cannot be loaded: {why}") from None
    expected = base() if base is not None else None
    if expected is not None and not (isinstance(value, type) and issubclass(value, expected)):
        raise MagnusError(
            f"{what} comes from {origin}, which names {value!r}, not a subclass of "
            f"{expected.__module__}.{expected.__qualname__}"
        )
    return value  # type: ignore[return-value]


def lookup(
    builtins: dict[str, str],
    group: str,
    name: str,
    section: str,
    base: Callable[[], type],
    config: Any = None,
) -> type:
    """The class registered under ``name`` for the config's ``section``; an unknown name or
    a plugin that cannot load is a ConfigError (at the section's file and line when
    ``config``, a loaded config file, is given) naming the choices or the plugin."""
    origins: dict[str, str] = {}
    if name in builtins:  # built-ins win: no need to scan every package's entry points
        known = builtins
    else:
        known, origins = registered(builtins, group)
    path = known.get(name)
    if path is None:
        message = f"unknown type {name!r}; choose one of: {', '.join(sorted(known))}"
        if config is not None:
            raise config.error(section, message)
        raise ConfigError(f"{section}: {message}")
    try:
        return load(path, f"{section} {name!r}", origins.get(name), base)
    except MagnusError as exc:
        if config is not None:
            raise config.error(section, str(exc)) from None
        raise
