"""What `magnus-render` does: load, pick a target, render, then print, write or check."""

from __future__ import annotations

import difflib
import os
import stat
import sys
import tempfile
from collections.abc import Callable
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
    renderer, pipeline_warnings = _renderer(
        pipeline_file, target, config_file, parameters_file, image, extra
    )
    result = renderer.render()
    if validate:
        check = getattr(renderer, "validate", None)
        if check is None:
            raise MagnusError(f"target {target!r} has no validator for --validate")
        check(result.text)
    return result.text, pipeline_warnings + result.warnings


def _renderer(
    pipeline_file: Path,
    target: str,
    config_file: Path | None,
    parameters_file: Path | None,
    image: str | None,
    extra: dict[str, Any] | None,
) -> tuple[Any, list[str]]:
    """The target's renderer for a loaded, checked pipeline, and the pipeline's warnings."""
    from magnus_render.config import load_config
    from magnus_render.pipeline import load_pipeline
    from magnus_render.renderers import get_renderer
    from magnus_render.renderers.base import RenderOptions
    from magnus_render.runtime.executors import check_config_types

    renderer_cls = get_renderer(target)
    pipeline = load_pipeline(pipeline_file)
    config = load_config(config_file)
    check_config_types(config)  # a typo fails here, not in the first container
    options = RenderOptions(
        pipeline_file=str(pipeline_file),
        config_file=str(config_file) if config_file else None,
        parameters_file=str(parameters_file) if parameters_file else None,
        image=image,
        extra={k: v for k, v in (extra or {}).items() if v not in (None, False)},
    )
    return renderer_cls(pipeline, config, options), [str(w) for w in pipeline.warnings]


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
    if check is not None or validate:  # both need the whole text
        text, warnings = render_text(
            pipeline, target, config_file, parameters_file, image, extra, validate
        )
        stream: Callable[[Callable[[str], Any]], None] = lambda write: write(text)  # noqa: E731
    else:
        renderer, warnings = _renderer(pipeline, target, config_file, parameters_file, image, extra)
        stream, render_warnings = renderer.render_stream()  # the text handed out in parts
        warnings += render_warnings
    for warning in warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if check is not None:
        return _check_drift(check, text)
    if output is None:
        stream(sys.stdout.write)
    else:
        write_atomically(output, stream)
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


def write_atomically(path: Path, text: str | Callable[[Callable[[str], Any]], None]) -> None:
    """Write-then-rename so a failed render never leaves half a file behind. The file gets
    the mode ``> path`` would give: an existing file's, else 0666 less the umask (mkstemp's
    private 0600 would hide a spec from the group that applies it). ``text`` may be a
    function that hands the text to a writer in parts (see ``Renderer.render_stream``)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_current_umask()
        # the name's start only: a name near the 255-byte limit is legal, its sibling
        # ``.NAME.RANDOM.tmp`` would not be
        prefix = f".{path.name[:100]}."
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    except OSError as exc:
        raise MagnusError(f"cannot write the output: {exc.strerror}", str(path)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if isinstance(text, str):
                handle.write(text)
            else:
                text(handle.write)
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise MagnusError(f"cannot write the output: {exc.strerror}", str(path)) from None
        raise


def _current_umask() -> int:
    """The process umask (reading it means setting it; restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
