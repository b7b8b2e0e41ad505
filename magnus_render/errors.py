"""User-facing errors: each names where the problem is, so the CLI can print it and exit 2.

Anything raised as a MagnusError is the user's to fix; the CLI prints it without a traceback.
Any other exception is a bug in magnus-render and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar


@dataclass(frozen=True)
class Diagnostic:
    """One finding about an input file: where it is and what is wrong."""

    message: str
    file: str | None = None
    line: int | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}{prefix}{self.message}"


_E = TypeVar("_E", bound="MagnusError")


class MagnusError(Exception):
    """An error caused by the user's input or environment (exit code 2 by default)."""

    exit_code = 2

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.diagnostics: list[Diagnostic] = [Diagnostic(message, file, line)]
        super().__init__(str(self.diagnostics[0]))

    @classmethod
    def from_diagnostics(cls: type[_E], diagnostics: list[Diagnostic]) -> _E:
        err = cls(diagnostics[0].message, diagnostics[0].file, diagnostics[0].line)
        err.diagnostics = list(diagnostics)
        err.args = ("\n".join(str(d) for d in diagnostics),)
        return err

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)


class PipelineError(MagnusError):
    """The pipeline definition is invalid."""


class ConfigError(MagnusError):
    """The configuration file or a setting is invalid."""


class RunError(MagnusError):
    """A run cannot start or continue (missing run log, bad run id, ...)."""


class UnsupportedError(MagnusError):
    """A target cannot express a node or a setting."""


class ExecutionFailedError(MagnusError):
    """A run ended FAIL (magnus 0.5's ``magnus execute`` raised this same exception).
    ``run_log`` is the failed run's log, for callers that want to look at it."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        file: str | None = None,
        line: int | None = None,
        *,
        run_id: str = "",
        run_log: Any = None,
    ) -> None:
        super().__init__(message, file, line)
        self.run_id = run_id
        self.run_log = run_log
