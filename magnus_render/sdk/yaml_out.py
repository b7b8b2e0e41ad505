"""Write pipeline data as YAML a person would write: block style, keys in the order given,
multi-line commands as ``|`` blocks (``magnus_render.yamltext``'s SOURCE style)."""

from __future__ import annotations

from typing import Any

from magnus_render import yamltext
from magnus_render.errors import PipelineError


def dump_yaml(data: Any, file: str = "<sdk>", line: int | None = None) -> str:
    """YAML text of ``data``; a value YAML cannot hold is a PipelineError, not a crash."""
    try:
        return yamltext.dump(data, yamltext.SOURCE)
    except (TypeError, yamltext.NonFiniteNumber) as exc:
        raise PipelineError(
            f"cannot write the pipeline as YAML: {exc} (step fields must be plain YAML "
            "values: str, int, finite float, bool, list, dict)",
            file,
            line,
        ) from None
