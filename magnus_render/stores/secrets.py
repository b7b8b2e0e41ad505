"""Secrets: `env` (process environment) and `dotenv` (a KEY=VALUE file).

Values are returned to task code only; the runtime never writes them to a run log, a
catalog entry or a rendered spec.
"""

from __future__ import annotations

import os
from pathlib import Path

from magnus_render.errors import MagnusError
from magnus_render.stores.run_log_base import Configured, StoreSettings


class SecretNotFound(MagnusError):
    exit_code = 1


class Secrets(Configured):
    section = "secrets"

    def get(self, name: str) -> str:
        raise SecretNotFound(f"secret {name!r} not found ({self.name} secrets)")


class DoNothingSecrets(Secrets):
    name = "do-nothing"


class EnvSettings(StoreSettings):
    prefix: str = ""
    suffix: str = ""


class EnvSecrets(Secrets):
    """A secret NAME is the environment variable ``prefix + NAME + suffix``."""

    name = "env"
    settings_model = EnvSettings

    def get(self, name: str) -> str:
        key = f"{self.settings.prefix}{name}{self.settings.suffix}"
        try:
            return os.environ[key]
        except KeyError:
            raise SecretNotFound(f"secret {name!r} not found: ${key} is not set") from None


class DotEnvSettings(StoreSettings):
    location: str = ".env"


class DotEnvSecrets(Secrets):
    """``KEY=VALUE`` lines; ``#`` comments, optional ``export`` and quotes allowed."""

    name = "dotenv"
    settings_model = DotEnvSettings

    def setup(self) -> None:
        super().setup()
        self._values: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._values is None:
            path = Path(self.settings.location)
            if not path.is_file():
                raise SecretNotFound(f"dotenv secrets file {path} does not exist")
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:  # its reason names no byte; the text is not shown
                line = exc.object[: exc.start].count(b"\n") + 1
                raise MagnusError("not UTF-8 text", str(path), line) from None
            self._values = parse_dotenv(text, str(path))
        return self._values

    def get(self, name: str) -> str:
        values = self._load()
        if name not in values:
            raise SecretNotFound(f"secret {name!r} not found in {self.settings.location}")
        return values[name]


def parse_dotenv(text: str, file: str = ".env") -> dict[str, str]:
    """KEY=VALUE lines. A malformed line is named by file and line only: its text may hold
    a secret, so it is never put in the message (nor in a traceback: no exception chain)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        problem = ""
        if not sep:
            problem = "no '=' in the line"
        elif not key.isidentifier():
            problem = "the name before '=' is not a valid variable name"
        value = value.strip()
        if value[:1] in ("'", '"'):
            end = value.find(value[0], 1)
            rest = value[end + 1 :].strip() if end > 0 else ""
            if end < 0:
                problem = problem or "a quoted value without its closing quote"
            elif rest and not rest.startswith("#"):
                problem = problem or "text after the closing quote"
            value = value[1:end]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if problem:
            raise MagnusError(
                f"not a KEY=VALUE line: {problem} (the line is not shown: it may hold a secret)",
                file,
                number,
            )
        values[key] = value
    return values
