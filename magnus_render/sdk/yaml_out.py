"""Write pipeline data as YAML a person would write: block style, keys in the order given,
multi-line commands as ``|`` blocks. Safe dumper only; output is deterministic."""

from __future__ import annotations

from typing import Any

import yaml

from magnus_render.errors import PipelineError

_Base: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(data: Any, file: str = "<sdk>", line: int | None = None) -> str:
    """YAML text of ``data``; a value YAML cannot hold is a PipelineError, not a crash."""
    try:
        return yaml.dump(
            data,
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=10_000,
        )
    except yaml.representer.RepresenterError as exc:
        raise PipelineError(
            f"cannot write the pipeline as YAML: {exc.args[0] if exc.args else exc} "
            "(step fields must be plain YAML values: str, int, float, bool, list, dict)",
            file,
            line,
        ) from None
