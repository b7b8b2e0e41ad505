"""What the `magnus` runtime commands do; each returns the process exit code.

0: the run / node / composite succeeded; 1: it failed; bad input raises a MagnusError
(exit 2, message naming the cause). Imports stay light: this is every container's path.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from magnus_render.contract.naming import check_run_id
from magnus_render.errors import MagnusError, RunError
from magnus_render.pipeline.ir import MAP_PLACEHOLDER, Node, resolve_name
from magnus_render.runtime import interrupt
from magnus_render.runtime.context import (
    RunContext,
    build_services,
    configured_store,
    generate_run_id,
)
from magnus_render.stores.models import Status


def _context(
    pipeline_file: Path | str,
    config_file: Path | str | None,
    parameters_file: Path | str | None,
    run_id: str,
    tag: str = "",
    use_cached: str | None = None,
    compiled: bool = False,
) -> RunContext:
    from magnus_render.config import load_config
    from magnus_render.runtime.executors import check_config_types
    from magnus_render.runtime.tracking import build_tracker

    config = load_config(config_file)
    check_config_types(config)
    if compiled:  # a container command: once per step, so from the compiled-pipeline cache
        from magnus_render.pipeline.compiled import load_compiled as load_pipeline
    else:
        from magnus_render.pipeline.build import load_pipeline
    pipeline = load_pipeline(pipeline_file)
    store, catalog, secrets = build_services(config)
    tracker = build_tracker(config)
    if use_cached:
        check_run_id(use_cached)
        if not store.exists(use_cached):
            raise RunError(f"--use-cached: no run {use_cached!r} in the {store.name} run log store")
    return RunContext(
        pipeline=pipeline,
        config=config,
        run_id=check_run_id(run_id),
        store=store,
        catalog=catalog,
        secrets=secrets,
        parameters_file=str(parameters_file) if parameters_file else None,
        config_file=str(config_file) if config_file else None,
        tag=tag,
        use_cached=use_cached,
        tracker=tracker,
    )


def make_executor(ctx: RunContext) -> Any:
    from magnus_render.runtime.executors import executor_class

    executor = executor_class(ctx.config.executor.type, ctx.config)(ctx)
    executor.validate()
    return executor


def execute_pipeline(
    pipeline_file: Path | str,
    config_file: Path | str | None = None,
    parameters_file: Path | str | None = None,
    run_id: str | None = None,
    tag: str = "",
    use_cached: str | None = None,
    quiet: bool = False,
    as_is_target: str | None = None,
) -> int:
    """`magnus execute`: run the whole pipeline here. 0 success, 1 failure; Ctrl-C or
    SIGTERM: the run is marked FAIL "interrupted (SIG...)" and Interrupted is raised.
    ``as_is_target``: see RunContext (set only by a rendered target's driver)."""
    from magnus_render.runtime import tracking
    from magnus_render.runtime.parameters import sourced_parameters
    from magnus_render.runtime.progress import make_reporter

    with interrupt.guard():
        ctx = _context(
            pipeline_file,
            config_file,
            parameters_file,
            run_id or generate_run_id(),
            tag,
            use_cached,
        )
        ctx.as_is_target = as_is_target
        for warning in ctx.pipeline.warnings:
            print(str(warning), file=sys.stderr)
        executor = make_executor(ctx)
        params, sources = sourced_parameters(parameters_file)
        try:
            _, created = ctx.create_run_log(params, sources)
        except (OSError, RunError) as exc:  # nothing ran yet: bad environment, exit 2
            from magnus_render.runtime.bookkeeping import bookkeeping_message

            raise RunError(bookkeeping_message(f"starting run {ctx.run_id}", exc)) from None
        if not created:
            raise RunError(f"run id {ctx.run_id!r} already exists; choose another --run-id")
        ctx.reporter = make_reporter(quiet)
        stopped: interrupt.Interrupted | None = None
        try:
            if ctx.reporter:
                ctx.reporter("run", text=f"run {ctx.run_id}: {ctx.pipeline.file}")
            tracking.start_run(ctx)
            if executor.own_signal_handling:
                interrupt.release()
            status = run_guarded(ctx, lambda: executor.execute_graph(ctx.pipeline.graph, None))
            if status is Status.PROCESSING:  # the graph ended without a terminal node
                status = Status.FAIL
                ctx.store.update_run(ctx.run_id, status=status)
            tracking.finish_run(ctx, status)
            interrupt.checkpoint()
        except KeyboardInterrupt as exc:
            if executor.own_signal_handling:  # a driver's Ctrl-C, as it always was
                raise
            stopped = _record_interrupt(ctx, exc)
            tracking.finish_run(ctx, Status.FAIL)
        finally:
            if ctx.reporter:
                ctx.reporter.close()
        if stopped is not None:
            print(f"run {ctx.run_id} {stopped.message}", file=sys.stderr)
            raise stopped
    done = "succeeded" if status is Status.SUCCESS else "FAILED"
    print(f"run {ctx.run_id} {done}", file=sys.stderr)
    return 0 if status is Status.SUCCESS else 1


def parse_map_variable(text: str | None, node: Node) -> dict[str, Any]:
    """--map-variable: a JSON object, outermost map first, with one value per enclosing map."""
    if text is None or text == "":
        value: Any = {}
    else:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise MagnusError(f"--map-variable is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise MagnusError("--map-variable must be a JSON object of map names to values")
    depth = node.internal_name.count(MAP_PLACEHOLDER)
    if len(value) < depth:
        raise MagnusError(
            f"{node.internal_name!r} is inside {depth} map(s): --map-variable needs "
            f"{depth} value(s), got {len(value)}"
        )
    return value


def _find(ctx: RunContext, internal_name: str) -> Node:
    try:
        return ctx.pipeline.graph.find(internal_name)
    except (KeyError, IndexError):
        raise MagnusError(
            f"no step {internal_name!r} in {ctx.pipeline.file} (pass the node's internal name,"
            " e.g. each.{map}.process)"
        ) from None


@interrupt.guarded
def execute_single_node(
    run_id: str,
    internal_name: str,
    pipeline_file: Path | str,
    config_file: Path | str | None = None,
    parameters_file: Path | str | None = None,
    map_variable: str | None = None,
    tag: str = "",
    use_cached: str | None = None,
    as_is: str | None = None,
    as_is_begin: str | None = None,
    as_is_end: int | None = None,
    iteration: bool = False,
    params: list[str] | None = None,
    params_json: str | None = None,
) -> int:
    """Run one node (a container's job). Composites run with their branches, locally.

    ``iteration`` (a map node): traverse only the branch of the iteration the map variable
    names, which ``magnus fan --mode out`` opened (one task per iteration, as Airflow's
    dynamic task mapping runs it); the fan-in then decides the map step.

    ``as_is`` (the text to run), ``as_is_begin`` (a file for the environment) and
    ``as_is_end`` (the inserted lines' exit code) run an as-is node on a rendered target;
    see :mod:`magnus_render.runtime.as_is`. ``params`` (``NAME=JSON``) and ``params_json``
    (an object): values given when the run was submitted, used if this node creates the
    run log (parameters.submitted_parameters; the run log records them as "submit").
    Ctrl-C / SIGTERM: the step is FAIL "interrupted (SIG...)" and Interrupted is raised;
    the run is left to whoever drives it (the shell script, an orchestrator's routing)."""
    from magnus_render.runtime import nodes

    ctx = _context(pipeline_file, config_file, parameters_file, run_id, tag, use_cached, True)
    ctx.take_submitted(params, params_json)
    node = _find(ctx, internal_name)
    variables = parse_map_variable(map_variable, node)
    given = [
        flag
        for flag, value in (
            ("--as-is", as_is),
            ("--as-is-begin", as_is_begin),
            ("--as-is-end", as_is_end),
        )
        if value is not None
    ]
    if given:
        from magnus_render.runtime import as_is as as_is_node

        if len(given) > 1:
            raise MagnusError(f"give one of {', '.join(given)}, not several")
        as_is_node.check_node(node, given[0])
        ctx.ensure_run_log()
        if as_is is not None:
            status = as_is_node.run(ctx, node, variables, as_is)
        elif as_is_begin is not None:
            env = as_is_node.begin(ctx, node, variables)
            as_is_node.write_environment(as_is_begin, env)
            return 0
        else:
            assert as_is_end is not None
            status = as_is_node.end(ctx, node, variables, as_is_end)
        return 0 if status is Status.SUCCESS else 1
    ctx.ensure_run_log()
    if iteration:
        from magnus_render.runtime.iteration import run_iteration

        return run_iteration(ctx, node, variables, run_guarded)
    if node.kind.is_composite:
        executor = make_executor(ctx)
        status = run_guarded(ctx, lambda: executor.execute_composite(node, variables))
    else:
        status = run_guarded(ctx, lambda: nodes.execute_node(ctx, node, variables))
    return 0 if status is Status.SUCCESS else 1


def run_guarded(ctx: RunContext, body: Callable[[], Status]) -> Status:
    """Run ``body``; when magnus's own files fail it (an OSError, a run log that cannot be
    written), mark the run FAIL if the store still takes a write and report on stderr."""
    from magnus_render.runtime.bookkeeping import bookkeeping_message
    from magnus_render.stores.run_log_base import RunLogWriteError

    try:
        return body()
    except (OSError, RunLogWriteError) as exc:
        message = bookkeeping_message(f"run {ctx.run_id}: magnus bookkeeping", exc)
    print(f"error: {message}", file=sys.stderr)
    try:
        ctx.store.update_run(ctx.run_id, status=Status.FAIL)
    except (OSError, MagnusError) as exc:
        print(
            f"error: {bookkeeping_message('marking the run FAIL in the run log', exc)}",
            file=sys.stderr,
        )
    return Status.FAIL


def _record_interrupt(ctx: RunContext, exc: KeyboardInterrupt) -> interrupt.Interrupted:
    """Mark every step and branch still PROCESSING, and the run, FAIL "interrupted
    (SIG...)" (only the process that owns the whole run may). A failure to record is
    reported, never raised: the interruption is what the caller must see."""
    import signal

    stopped = exc if isinstance(exc, interrupt.Interrupted) else None
    stopped = stopped or interrupt.Interrupted(interrupt.pending() or signal.SIGINT)
    try:
        interrupt.mark_run(ctx.store, ctx.run_id, stopped.message)
    except Exception as error:  # the store failing now must not hide the interruption
        why = f"error: could not record the interruption of run {ctx.run_id}: {error}"
        print(why, file=sys.stderr)
    return stopped


def record_interrupted(run_id: str, signal_name: str, config_file: Path | str | None = None) -> int:
    """`magnus interrupted`: what the shell script calls after a signal stopped it and its
    children: everything still PROCESSING in the run, and the run, becomes FAIL."""
    import signal

    name = signal_name.upper()
    try:
        signum = signal.Signals[name if name.startswith("SIG") else "SIG" + name]
    except KeyError:
        raise MagnusError(f"--signal: unknown signal {signal_name!r} (INT or TERM)") from None
    store = configured_store(config_file)
    if store.exists(check_run_id(run_id)):
        interrupt.mark_run(store, run_id, interrupt.Interrupted(signum).message)
    return 0


def write_items(items_file: str, items: list[str], config: Any = None) -> None:
    """Where the fan-out items go: a plain path, or a URL (s3://) whose writer takes the
    endpoint and region from the config's stores (a map on an S3-compatible server must
    write its items there, not to AWS)."""
    payload = json.dumps(items, ensure_ascii=False)
    if "://" in items_file:
        scheme = items_file.split("://", 1)[0]
        writer = ITEM_WRITERS.get(scheme)
        if writer is None:
            raise MagnusError(f"--items-file: no writer for {scheme}:// URLs")
        module_name, _, attr = writer.partition(":")
        import importlib

        getattr(importlib.import_module(module_name), attr)(items_file, payload, config)
        return
    path = Path(items_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(payload, encoding="utf-8")
    tmp.replace(path)


#: URL scheme -> "module:function(url, text, config)" writing the items
ITEM_WRITERS: dict[str, str] = {"s3": "magnus_render.stores.s3_client:write_items"}


@interrupt.guarded
def fan(
    run_id: str,
    internal_name: str,
    mode: str,
    pipeline_file: Path | str,
    config_file: Path | str | None = None,
    parameters_file: Path | str | None = None,
    map_variable: str | None = None,
    items_file: Path | str | None = None,
    tag: str = "",
    use_cached: str | None = None,
    params: list[str] | None = None,
    params_json: str | None = None,
) -> int:
    """`magnus fan`: open (out) or close (in) a composite's branches. Bookkeeping only: a
    signal is raised (exit 130 / 143) when it is done. ``params``, ``params_json``: as
    for :func:`execute_single_node` (a fan-out may be a run's first command)."""
    from magnus_render.runtime import nodes

    ctx = _context(pipeline_file, config_file, parameters_file, run_id, tag, use_cached, True)
    ctx.take_submitted(params, params_json)
    node = _find(ctx, internal_name)
    if not node.kind.is_composite:
        raise MagnusError(f"{internal_name!r} is a {node.kind.value} node, not parallel/map/dag")
    variables = parse_map_variable(map_variable, node)
    ctx.ensure_run_log()
    if mode == "in":
        status = run_guarded(ctx, lambda: nodes.fan_in(ctx, node, variables))
        return 0 if status is Status.SUCCESS else 1
    opened: list[Any] = []

    def open_branches() -> Status:
        opened.extend(nodes.fan_out(ctx, node, variables))
        return Status.SUCCESS

    try:
        if run_guarded(ctx, open_branches) is not Status.SUCCESS:
            return 1
    except nodes.FanOutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    branches = opened
    if items_file is not None:
        from magnus_render.contract.protocol import inert_json

        # each item becomes a --map-variable word inside a container: see inert_json
        items = [inert_json(json.dumps(b.map_variable, ensure_ascii=False)) for b in branches]
        try:
            write_items(str(items_file), items, ctx.config)
        except (MagnusError, OSError) as exc:
            # the branches are open but no iteration can start: the step failed here
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            message = f"could not write the map items to {items_file}: {reason}"
            print(f"error: {message}", file=sys.stderr)
            run_guarded(ctx, lambda: nodes.fail_fan_out(ctx, node, variables, branches, message))
            return 1
    return 0


__all__ = [
    "execute_pipeline",
    "execute_single_node",
    "fan",
    "record_interrupted",
    "resolve_name",
]
