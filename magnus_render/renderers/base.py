"""The renderer base: walk the IR once, dispatch on node kind, collect a spec.

Like a sqlglot dialect's generator, each target subclasses :class:`Renderer` and declares
only what differs: its settings model, a table from node kind to the method that emits
it, and its capability constants. What a target cannot express is raised through
:meth:`Renderer.unsupported` as a clear error, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

from pydantic import BaseModel, ConfigDict

from magnus_render.config import MagnusConfig
from magnus_render.errors import ConfigError, UnsupportedError
from magnus_render.pipeline.ir import Graph, Node, NodeKind, Route
from magnus_render.pipeline.loaded import Pipeline

#: image used when neither --image nor the config names one; a warning says so
PLACEHOLDER_IMAGE = "MAGNUS_RENDER_IMAGE_NOT_SET"


class TargetSettings(BaseModel):
    """Settings every target accepts; targets extend this model (unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class RenderOptions:
    """What the CLI passes to every renderer (paths as the containers will see them)."""

    pipeline_file: str
    config_file: str | None = None
    parameters_file: str | None = None
    image: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RenderResult:
    """The rendered text plus anything the CLI should tell the user."""

    text: str
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Scope:
    """Where the walk is: a graph, the composite it is a branch of (None: the root graph),
    and whether a map encloses it (its nodes then take a map variable)."""

    graph: Graph
    parent: Node | None = None
    in_map: bool = False

    @property
    def root(self) -> bool:
        return self.parent is None

    def branch(self, node: Node, branch: Graph) -> Scope:
        """The scope of one of ``node``'s branches."""
        return Scope(branch, node, self.in_map or node.kind is NodeKind.MAP)


#: an emitter: (node, its route, the scope it sits in) -> whatever the target builds
Emitter = Callable[[Node, Route, Scope], Any]


def walk(scope: Scope, emit: Emitter, nodes: Iterable[Node] | None = None) -> list[Any]:
    """Emit every node of the scope's graph (``nodes``: in this order or a subset; default
    all, in definition order) with its route; a composite's emitter recurses into its
    branches with ``walk(scope.branch(node, branch), ...)`` or refers to them by name."""
    graph = scope.graph
    return [emit(node, graph.route(node), scope) for node in (graph if nodes is None else nodes)]


def scopes(graph: Graph) -> Iterator[Scope]:
    """The scope of ``graph`` and of every nested branch, depth first in definition order
    (``Graph.walk_graphs``'s order), for targets that emit one flat unit per graph."""
    stack = [Scope(graph)]
    while stack:
        scope = stack.pop()
        yield scope
        for node in reversed(list(scope.graph)):
            stack.extend(scope.branch(node, b) for b in reversed(node.branches))


class Renderer:
    """Base class of every target. Subclasses fill ``name`` and the dispatch table."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    settings_model: ClassVar[type[TargetSettings]] = TargetSettings
    #: what one step may change through ``overrides: {<target>: NAME}`` (None: nothing)
    step_model: ClassVar[type[BaseModel] | None] = None
    #: whether the target decides map fan-out at run time (all real orchestrators do)
    dynamic_fan_out: ClassVar[bool] = True
    #: largest single rendered object in bytes, or None when the target has no limit
    max_object_bytes: ClassVar[int | None] = None

    def __init__(self, pipeline: Pipeline, config: MagnusConfig, options: RenderOptions):
        self.pipeline = pipeline
        self.graph: Graph = pipeline.graph
        self.config = config
        self.options = options
        self.warnings: list[str] = []

    # -- to be provided by targets ----------------------------------------------------
    def emitters(self) -> dict[NodeKind, Callable[..., Any]]:
        """Node kind -> method that emits it. Kinds missing here are unsupported."""
        return {}

    def render(self) -> RenderResult:
        raise NotImplementedError

    def render_stream(self) -> tuple[Callable[[Callable[[str], Any]], None], list[str]]:
        """(a function handing the text to ``write``, in one or more parts; warnings).
        ``magnus-render`` prints through it; a target whose text can be huge overrides it
        so that the whole text is never held in memory."""
        result = self.render()
        return (lambda write: write(result.text)), result.warnings

    # -- shared machinery -------------------------------------------------------------
    def emit(self, node: Node, *args: Any, **kwargs: Any) -> Any:
        """Dispatch ``node`` to its kind's emitter (refused when the table has none); the
        walk calls it as ``emit(node, route, scope)``."""
        emitter = self.emitters().get(node.kind)
        if emitter is None:
            self.unsupported(node, f"{node.kind.value} nodes are not supported")
        return emitter(node, *args, **kwargs)

    def visit(self, scope: Scope, nodes: Iterable[Node] | None = None) -> list[Any]:
        """The walk of one graph through this target's emitters (see :func:`walk`); the
        table is read once per graph, not once per node."""
        table = self.emitters()

        def emit(node: Node, route: Route, scope: Scope) -> Any:
            emitter = table.get(node.kind)
            if emitter is None:
                self.unsupported(node, f"{node.kind.value} nodes are not supported")
            return emitter(node, route, scope)

        return walk(scope, emit, nodes)

    def scopes(self) -> Iterator[Scope]:
        """Every graph of the pipeline with its scope, root first (see :func:`scopes`)."""
        return scopes(self.graph)

    def unsupported(self, node: Node | None, why: str) -> NoReturn:
        """Refuse what this target cannot express, as ``file:line: step ...: why``."""
        if node is None:
            raise UnsupportedError(f"target {self.name!r} cannot render this pipeline: {why}")
        source = node.source
        raise UnsupportedError(
            f"step {node.internal_name!r}: target {self.name!r} cannot render it: {why}",
            source.file if source else None,
            source.line if source else None,
        )

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def as_is_text(self, node: Node) -> str | None:
        """The text this target runs in place of an as-is node; None when it has none: a
        stub success (with a warning when a render_string names other targets only)."""
        text = node.as_is.text_for(self.name) if node.as_is is not None else None
        if node.as_is is not None:
            self._check_as_is_targets(node)
        if text is None and node.as_is is not None and node.as_is.texts:
            where = f"{node.source}: " if node.source else ""
            self.warn(
                f"{where}as-is step {node.internal_name!r} has no render_string for target "
                f"{self.name!r} (nor a 'default'): rendered as a stub that succeeds"
            )
        return text

    def _check_as_is_targets(self, node: Node) -> None:
        """A render_string entry for a target that does not exist is a typo nobody would
        notice (that target never renders it): warn, with the closest target name."""
        from magnus_render.pipeline.checks import suggest
        from magnus_render.pipeline.ir import AS_IS_DEFAULT
        from magnus_render.renderers import list_targets

        assert node.as_is is not None
        known = getattr(self, "_known_targets", None)
        if known is None:
            known = self._known_targets = [*list_targets(), AS_IS_DEFAULT]
        for key in node.as_is.texts:
            if key not in known:
                where = f"{node.source}: " if node.source else ""
                self.warn(
                    f"{where}as-is step {node.internal_name!r}: render_string names "
                    f"{key!r}, which is no target{suggest(key, known)}"
                )

    def settings(self) -> TargetSettings:
        """This target's settings: the config's executor section when its type names this
        target, else the defaults; with a ``step_model``, every override is checked too.
        Bad keys are errors naming the config file, line and key (one settings path:
        :mod:`magnus_render.settings`)."""
        from magnus_render.settings import check_overrides, load_settings

        settings = load_settings(self.settings_model, self.config, owner=self.name)
        if self.step_model is not None:
            check_overrides(settings, self.name, self.step_model, self.config, self.graph.walk())
        return settings

    def step_settings(self, settings: TargetSettings, node: Node) -> Any:
        """One step's ``step_model`` settings: the global ones with the step's
        ``overrides: {<target>: NAME}`` patch deep-merged in."""
        from magnus_render.settings import step_settings

        assert self.step_model is not None
        return step_settings(settings, self.name, node, self.step_model)

    def resolve_image(self, configured: str | None) -> str:
        """--image wins, then the config; else a placeholder and a warning, so a spec never
        names an image nobody chose without saying so."""
        if self.options.image:
            return self.options.image
        if configured:
            return configured
        self.warn(
            "no container image given (pass --image or set executor.config.image); "
            f"the spec uses the placeholder {PLACEHOLDER_IMAGE}"
        )
        return PLACEHOLDER_IMAGE


def node_argv(
    options: RenderOptions,
    run_id: str,
    internal_name: str,
    map_variable: str | None = None,
) -> list[str]:
    """The container command of one node: ``magnus execute_single_node ...`` as argv words.

    ``run_id`` and ``map_variable`` are passed through as the target's own expressions
    (e.g. ``{{workflow.name}}`` or ``"$RUN_ID"``); the map variable is the complete JSON
    object of the iteration, outer maps' values included (what ``magnus fan --mode out``
    writes as each item).
    """
    from magnus_render.contract import protocol

    return protocol.node_argv(
        run_id,
        internal_name,
        options.pipeline_file,
        map_variable,
        config_file=options.config_file,
        parameters_file=options.parameters_file,
    )


def fan_argv(
    options: RenderOptions,
    run_id: str,
    internal_name: str,
    mode: str,
    map_variable: str | None = None,
    items_file: str | None = None,
) -> list[str]:
    """``magnus fan RUN_ID NAME --mode out|in ...`` as argv words (see :func:`node_argv`)."""
    from magnus_render.contract import protocol

    return protocol.fan_argv(
        run_id,
        internal_name,
        mode,
        options.pipeline_file,
        map_variable,
        items_file,
        config_file=options.config_file,
        parameters_file=options.parameters_file,
    )


def with_options(argv: list[str], *options: str) -> list[str]:
    """A node or fan command line with more options, placed before its ``-- RUN_ID NAME``."""
    from magnus_render.contract import protocol

    return protocol.with_options(argv, *options)


#: the submit-time arguments of a rendered run besides its parameters (Argo workflow
#: arguments, Step Functions execution input): a re-run's old run id, and the run id
RERUN_ARGUMENTS = ("use_cached", "run_id")


def submit_parameters(options: RenderOptions) -> dict[str, Any]:
    """The initial parameters of ``--parameters-file`` (``-p FILE``), as the rendered run's
    submit-time defaults: each may be given another value when the run is submitted.
    Bad names or values are errors naming the file and line, as for ``magnus execute``."""
    if not options.parameters_file:
        return {}
    from magnus_render.contract.parameters import initial_parameters

    values = initial_parameters(options.parameters_file, environ={})
    for name in RERUN_ARGUMENTS:
        if name in values:
            raise ConfigError(
                f"parameter {name!r} has the name of a submit-time argument of every "
                f"rendered run ({', '.join(RERUN_ARGUMENTS)}); rename it",
                options.parameters_file,
            )
    return values
