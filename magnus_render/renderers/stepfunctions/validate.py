"""``--validate`` for Step Functions: statelint (PyPI) and asl-validator (npm) together.

Each misses cases the other catches (statelint: a Task without Resource; asl-validator:
States.ALL not last), so both must pass. A split render holds several machines; each is
checked. Heavy tools are imported or started only here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from magnus_render.errors import MagnusError

ASL_VALIDATOR_ENV = "MAGNUS_ASL_VALIDATOR"

#: statelint 3.1.0 predates ``ReaderConfig.InputType``, which a Distributed Map needs to
#: read a JSON array from S3 (AWS and moto both parse the object only with it); this exact
#: finding, and nothing else, is ignored. asl-validator still checks the field.
_STATELINT_GAPS = (re.compile(r'^Field "InputType" not allowed in .*\.ItemReader\.ReaderConfig$'),)


def machines_in(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The state machine definitions in rendered output (plain, split or CloudFormation)."""
    if "StateMachines" in document:
        return dict(document["StateMachines"])
    if "Resources" in document:
        found = {}
        for name, resource in document["Resources"].items():
            if resource.get("Type") == "AWS::StepFunctions::StateMachine":
                found[name] = resource["Properties"]["Definition"]
        return found
    return {"definition": document}


def statelint_problems(definition: dict[str, Any]) -> list[str]:
    try:
        from statelint.linter import Linter
    except ImportError:
        raise MagnusError("statelint is not installed: pip install 'statelint>=3.1,<4'") from None
    return [
        problem
        for problem in Linter.validate(definition)
        if not any(gap.match(problem) for gap in _STATELINT_GAPS)
    ]


def find_asl_validator() -> str:
    """$MAGNUS_ASL_VALIDATOR, then PATH, then a local npm install under .ci/node."""
    explicit = os.environ.get(ASL_VALIDATOR_ENV)
    if explicit:
        return explicit
    found = shutil.which("asl-validator")
    if found:
        return found
    for base in (Path.cwd(), *Path.cwd().parents):
        candidate = base / ".ci" / "node" / "node_modules" / ".bin" / "asl-validator"
        if candidate.is_file():
            return str(candidate)
    raise MagnusError(
        "asl-validator is not installed: npm install --prefix .ci/node asl-validator@4 "
        f"(or put it on PATH, or set {ASL_VALIDATOR_ENV})"
    )


def asl_validator_problems(definitions: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Run asl-validator once over all definitions (node starts slowly); problems by name."""
    tool = find_asl_validator()
    problems: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="magnus-asl-") as tmp:
        names = {}
        argv = [tool]
        for index, (name, definition) in enumerate(sorted(definitions.items())):
            path = Path(tmp) / f"{index}.json"
            path.write_text(json.dumps(definition), encoding="utf-8")
            names[str(path)] = name
            argv += ["--json-path", str(path)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode == 0:
        return problems
    current = "asl-validator"
    for line in (proc.stdout + proc.stderr).splitlines():
        marker = re.match(r'^\S+ State machine definition "(.+)" is (valid|invalid)', line)
        if marker:
            valid = marker.group(2) == "valid"
            current = "" if valid else names.get(marker.group(1), marker.group(1))
            continue
        if current and line.strip():
            problems.setdefault(current, []).append(line.strip())
    if not problems:
        problems["asl-validator"] = [f"exit {proc.returncode}: {proc.stderr.strip()}"]
    return problems


def validate_text(text: str) -> None:
    """Raise a MagnusError listing every problem either validator finds."""
    definitions = machines_in(json.loads(text))
    messages = []
    for name, definition in sorted(definitions.items()):
        messages += [f"{name}: statelint: {p}" for p in statelint_problems(definition)]
    for name, found in sorted(asl_validator_problems(definitions).items()):
        messages += [f"{name}: asl-validator: {p}" for p in found]
    if messages:
        raise MagnusError("the rendered state machine is invalid:\n" + "\n".join(messages))
