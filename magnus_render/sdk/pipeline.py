"""The SDK's Pipeline: a list of steps that builds, renders, runs and writes itself as YAML.

A Pipeline is checked when it is made (as magnus 0.5 did), through the YAML front end, so
a mistake surfaces at once as ``your_file.py:LINE: message``. It keeps a snapshot of its
steps: changing a step afterwards does not change a pipeline already made.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magnus_render.errors import ExecutionFailedError, PipelineError
from magnus_render.pipeline.yaml_source import SourceMap
from magnus_render.sdk.assemble import Numbering, root_data
from magnus_render.sdk.steps import Graph
from magnus_render.sdk.yaml_out import dump_yaml

if TYPE_CHECKING:
    from magnus_render.pipeline.loaded import Pipeline as LoadedPipeline

#: where magnus 0.5 wrote the YAML of an SDK pipeline for non-local executors
DEFAULT_PIPELINE_FILE = "magnus-pipeline.yaml"


class Pipeline(Graph):
    """Steps plus where to start; ``add_terminal_nodes`` adds ``success`` and ``fail``."""

    def _complete(self) -> None:
        """Assemble, write and build at once, so a mistake is reported where it was made."""
        self._data, self._source_map = self._assemble()
        self._yaml = dump_yaml(self._data, self.location.file, self.location.line)
        self._loaded: LoadedPipeline = self._build()

    def _assemble(self, lines: Numbering | None = None) -> tuple[dict[str, Any], SourceMap]:
        smap = SourceMap(self.location.file)
        return root_data(self, smap, lines or Numbering()), smap

    def _build(self) -> LoadedPipeline:
        from magnus_render.pipeline.build import build_pipeline

        try:
            return build_pipeline(self._data, self._source_map, self._yaml)
        except PipelineError as exc:
            # again, numbering every location, to name each error's own file and line
            lines = Numbering(exact=True)
            data, smap = self._assemble(lines)
            try:
                build_pipeline(data, smap, self._yaml)
            except PipelineError as again:
                located = lines.relocate(again.diagnostics, smap.file)
                raise PipelineError.from_diagnostics(located) from None
            raise exc from None

    # -- the three things a pipeline does ----------------------------------------------
    @property
    def loaded(self) -> LoadedPipeline:
        """The built pipeline (IR graph, dag hash, warnings), as ``load_pipeline`` gives."""
        return self._loaded

    @property
    def graph(self) -> Any:
        """The IR graph, equal to the one the equivalent YAML builds."""
        return self._loaded.graph

    def to_yaml(self, path: str | os.PathLike[str] | None = None) -> str:
        """The equivalent pipeline YAML; with ``path``, also write it there (dag_definition
        paths are rewritten to stay correct from the new place)."""
        if path is None:
            return self._yaml
        target = Path(path)
        text = dump_yaml(_relocated(self._data, Path(self.location.file).parent, target.parent))
        from magnus_render.render import write_atomically

        write_atomically(target, text)
        return text

    def render(
        self,
        target: str,
        pipeline_file: str | os.PathLike[str] = DEFAULT_PIPELINE_FILE,
        config_file: str | os.PathLike[str] | None = None,
        parameters_file: str | os.PathLike[str] | None = None,
        image: str | None = None,
        write: bool = True,
        **extra: Any,
    ) -> str:
        """The target's spec, exactly what ``magnus-render PIPELINE_FILE --target`` prints.

        Containers load the pipeline from ``pipeline_file``, so the spec and that file
        must agree: by default this pipeline's YAML is written there first; with
        ``write=False`` the file must already hold this pipeline (a drift check).
        """
        from magnus_render.render import render_text

        path = Path(pipeline_file)
        if write:
            self.to_yaml(path)
        else:
            self._check_file(path)
        text, warnings = render_text(
            path,
            target,
            Path(config_file) if config_file else None,
            Path(parameters_file) if parameters_file else None,
            image,
            extra,
        )
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return text

    def _check_file(self, path: Path) -> None:
        from magnus_render.pipeline.build import load_pipeline

        on_disk = load_pipeline(path).graph
        if on_disk != self.graph or [n.internal_name for n in on_disk.walk()] != [
            n.internal_name for n in self.graph.walk()
        ]:
            raise PipelineError(
                f"does not hold the pipeline defined at {self.location.file}:"
                f"{self.location.line}; write it with to_yaml() or render with write=True",
                str(path),
            )

    def execute(
        self,
        configuration_file: str | os.PathLike[str] | None = None,
        run_id: str | None = None,
        tag: str = "",
        parameters_file: str | os.PathLike[str] | None = None,
        use_cached: str | None = None,
        log_level: str | None = None,
        output_pipeline_definition: str | os.PathLike[str] | None = None,
        *,
        config_file: str | os.PathLike[str] | None = None,
        quiet: bool = False,
        raise_on_failure: bool = True,
    ) -> Any:
        """Run with ``magnus execute``'s options; returns the run log of a successful run.
        A failed run raises ExecutionFailedError (with ``.run_log``), the exception magnus
        0.5's ``magnus execute`` raised, so a script whose pipeline fails exits non-zero;
        ``raise_on_failure=False`` returns the failed run log instead (magnus 0.5's SDK
        did that, and the script then exited 0). As in magnus 0.5, an executor that only
        renders (argo) runs nothing: the YAML is written for ``magnus-render`` and None is
        returned.

        The pipeline is written as YAML first (to ``output_pipeline_definition``, or to a
        temporary file) so that a re-run, or a container, loads exactly what ran here.
        ``MAGNUS_CONFIGURATION_FILE`` overrides the config file, as in magnus 0.5.
        """
        del log_level  # accepted for magnus 0.5 callers; logging is configured globally
        from magnus_render.runtime import entrypoints

        config = os.environ.get("MAGNUS_CONFIGURATION_FILE") or config_file or configuration_file
        target = _render_only_executor(Path(config) if config else None)
        if target is not None:  # magnus 0.5: e.g. argo; write the YAML, run nothing
            path = Path(output_pipeline_definition or DEFAULT_PIPELINE_FILE)
            self.to_yaml(path)
            hint = f" -c {config}" if config else ""
            print(
                f"executor {target!r} does not run pipelines here: wrote {path}; render it "
                f"with `magnus-render {path} --target {target}{hint}`",
                file=sys.stderr,
            )
            return None
        run_id = run_id or _new_run_id()
        with tempfile.TemporaryDirectory(prefix="magnus-sdk-") as scratch:
            yaml_file = Path(output_pipeline_definition or Path(scratch) / DEFAULT_PIPELINE_FILE)
            self.to_yaml(yaml_file)
            entrypoints.execute_pipeline(
                pipeline_file=yaml_file,
                config_file=Path(config) if config else None,
                parameters_file=Path(parameters_file) if parameters_file else None,
                run_id=run_id,
                tag=tag,
                use_cached=use_cached,
                quiet=quiet,
            )
        log = _run_log(run_id, Path(config) if config else None)
        if raise_on_failure and log.status.value != "SUCCESS":
            raise ExecutionFailedError(_failure_message(log), run_id=run_id, run_log=log)
        return log

    def __repr__(self) -> str:
        where = f"{self.location.file}:{self.location.line}"
        return f"Pipeline({len(self.steps)} steps, defined at {where})"


def _render_only_executor(config_file: Path | None) -> str | None:
    """The config's executor type when it is a render target and no executor (argo)."""
    from magnus_render.config import load_config
    from magnus_render.errors import ConfigError
    from magnus_render.renderers import list_targets
    from magnus_render.runtime.executors import executor_class

    kind = load_config(config_file).executor.type
    try:
        executor_class(kind)
    except ConfigError:
        if kind in list_targets():
            return kind
    return None


def _failure_message(log: Any) -> str:
    """``run X failed``, with the failed steps and their messages."""
    failed = [
        f"{name!r}" + (f" ({step.message})" if step.message else "")
        for name, step in log.steps.items()
        if step.status.value == "FAIL" and step.step_type not in ("fail",)
    ]
    where = f" at step {', '.join(failed)}" if failed else ""
    return f"run {log.run_id!r} failed{where}; see `magnus show {log.run_id}`"


def _new_run_id() -> str:
    from magnus_render.runtime.context import generate_run_id

    return generate_run_id()


def _run_log(run_id: str, config_file: Path | None) -> Any:
    from magnus_render.config import load_config
    from magnus_render.runtime.context import build_services

    store = build_services(load_config(config_file))[0]
    return store.get_run_log(run_id)


def _relocated(data: dict[str, Any], source_dir: Path, target_dir: Path) -> dict[str, Any]:
    """A copy of ``data`` whose relative dag_definition paths resolve from ``target_dir``."""
    if source_dir.resolve() == target_dir.resolve():
        return data

    def fix(value: Any) -> Any:
        if isinstance(value, dict):
            out = {k: fix(v) for k, v in value.items()}
            path = out.get("dag_definition")
            if out.get("type") == "dag" and isinstance(path, str) and not os.path.isabs(path):
                out["dag_definition"] = os.path.relpath(
                    (source_dir / path).resolve(), target_dir.resolve()
                )
            return out
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return fix(data)


__all__ = ["DEFAULT_PIPELINE_FILE", "ExecutionFailedError", "Pipeline", "PipelineError"]
