"""What `magnus-render` does: load, pick a target, render, then print, write or check."""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from magnus_render.errors import MagnusError


def render_text(
    pipeline_file: Path,
    target: str,
    config_file: Path | None = None,
    parameters_file: Path | None = None,
    image: str | None = None,
    extra: dict[str, Any] | None = None,
    validate: bool = False,
) -> tuple[str, list[str]]:
    """Render a pipeline file for a target: (spec text, warnings)."""
    from magnus_render.config import load_config
    from magnus_render.pipeline import load_pipeline
    from magnus_render.renderers import get_renderer
    from magnus_render.renderers.base import RenderOptions

    renderer_cls = get_renderer(target)
    pipeline = load_pipeline(pipeline_file)
    config = load_config(config_file)
    options = RenderOptions(
        pipeline_file=str(pipeline_file),
        config_file=str(config_file) if config_file else None,
        parameters_file=str(parameters_file) if parameters_file else None,
        image=image,
        extra={k: v for k, v in (extra or {}).items() if v not in (None, False)},
    )
    renderer = renderer_cls(pipeline, config, options)
    result = renderer.render()
    if validate:
        check = getattr(renderer, "validate", None)
        if check is None:
            raise MagnusError(f"target {target!r} has no validator for --validate")
        check(result.text)
    warnings = [str(w) for w in pipeline.warnings] + result.warnings
    return result.text, warnings


def render_command(
    pipeline: Path | None,
    target: str | None,
    config_file: Path | None,
    parameters_file: Path | None,
    output: Path | None,
    image: str | None,
    check: Path | None,
    validate: bool,
    list_only: bool,
    extra: dict[str, Any],
) -> int:
    from magnus_render.renderers import list_targets

    if list_only:
        sys.stdout.write("\n".join(list_targets()) + "\n")
        return 0
    if pipeline is None:
        raise MagnusError("no pipeline file given")
    if target is None:
        raise MagnusError(f"--target is required; choose one of: {', '.join(list_targets())}")
    if check is not None and output is not None:
        raise MagnusError("--check only compares with the committed file: drop --output")
    text, warnings = render_text(
        pipeline, target, config_file, parameters_file, image, extra, validate
    )
    for warning in warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if check is not None:
        return _check_drift(check, text)
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomically(output, text)
    return 0


def _check_drift(committed: Path, text: str) -> int:
    """GitOps drift check: 0 when the committed file equals the fresh render, else 1 + diff."""
    try:
        current = committed.read_text(encoding="utf-8")
    except OSError as exc:
        raise MagnusError(
            f"cannot read the committed spec: {exc.strerror}", str(committed)
        ) from None
    if current == text:
        sys.stderr.write(f"{committed}: up to date\n")
        return 0
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        text.splitlines(keepends=True),
        fromfile=f"{committed} (committed)",
        tofile=f"{committed} (rendered)",
    )
    sys.stdout.writelines(diff)
    sys.stderr.write(f"{committed}: out of date; re-render it\n")
    return 1


def write_atomically(path: Path, text: str) -> None:
    """Write-then-rename so a failed render never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
