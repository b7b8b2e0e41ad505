"""IR -> Amazon States Language: one state per node plus the few helper states it needs.

The state payload carries only ``run_id`` (the execution input's ``run_id``, else the
execution's name, so every container of a run shares it), ``map_variable`` inside map
iterations, ``failed_step`` (for the final Fail state's cause), ``error`` (the last caught
error) and, outside maps, the execution input's ``use_cached`` and ``parameters`` (as
JSON text), which only the run's first container reads: it creates the run log.
Parameters travel through the run log store, never through the payload, so the 256 KB
state limit never binds.

Failure routing mirrors the local executor: a failed task goes to its ``on_failure``
target, else to its graph's fail node, which a container runs to mark that graph FAIL.
Inside branches the fail node then *ends* the branch normally, so every branch runs to
completion as it does locally, and the composite's ``fan --mode in`` decides the
composite's status (exit 1 routes the composite like a failed task).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from magnus_render.errors import ConfigError, UnsupportedError
from magnus_render.pipeline.ir import Graph, Node, NodeKind, Route
from magnus_render.renderers.base import RenderOptions, Scope, walk
from magnus_render.renderers.stepfunctions.containers import BUCKET_SUB, ContainerStates
from magnus_render.renderers.stepfunctions.names import literal, state_name
from magnus_render.renderers.stepfunctions.settings import StepFunctionsSettings, settings_for

S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
START_STATE = "magnus.start"
#: the Pass states that turn the execution input into the state payload (START_STATE
#: first); a split definition keeps them all in the main machine
START_STATES = (START_STATE, "magnus.start-merge", "magnus.start-payload")
ITEMS_BUCKET_PLACEHOLDER = "MAGNUS_ITEMS_BUCKET_NOT_SET"
NO_FAILED_STEP = "none (a step's next was the fail node)"


class AslBuilder(ContainerStates):
    """Builds the definition; one instance per render (holds the settings and warnings)."""

    def __init__(
        self,
        root: Graph,
        settings: StepFunctionsSettings,
        options: RenderOptions,
        items_bucket: str | None,
    ):
        self.root = root
        self.settings = settings
        self.options = options
        self.items_bucket = items_bucket
        self.warnings: list[str] = []
        #: with --with-infra and an image: job definitions to create, by logical id
        self.define_jobs = False
        #: with --with-infra: the template creates the job and execution roles and takes
        #: the items bucket and job queue as parameters (DefinitionSubstitutions)
        self.with_infra = False
        self.job_definitions: dict[str, dict[str, Any]] = {}
        self._seen: dict[str, str] = {}
        self._retries: dict[int, tuple[StepFunctionsSettings, list[dict[str, Any]]]] = {}
        #: an as-is node's text for this target (the renderer's, which warns when None)
        self.as_is_text: Callable[[Node], str | None] = lambda node: (
            node.as_is.text_for("stepfunctions") if node.as_is is not None else None
        )

    # -- graphs -------------------------------------------------------------------------
    def definition(self, comment: str) -> dict[str, Any]:
        body = self.graph(Scope(self.root))
        merge, payload = START_STATES[1:]
        start = {
            "Type": "Pass",
            "Comment": "the execution input may hold run_id (default: the execution's "
            "name), use_cached (re-run: an earlier run's id) and parameters (initial "
            "values given at submit); absent fields mean a fresh run",
            "Parameters": {
                "defaults": {
                    "run_id.$": "$$.Execution.Name",
                    "use_cached": "",
                    "parameters": {},
                },
                "given.$": "$",
            },
            "Next": merge,
        }
        merged = {
            "Type": "Pass",
            "Parameters": {"input.$": "States.JsonMerge($.defaults, $.given, false)"},
            "Next": payload,
        }
        first = {
            "Type": "Pass",
            "Comment": "the payload: parameters stay in the run log; the first container "
            "creates it with use_cached and the parameters given at submit",
            "Parameters": {
                "run_id.$": "$.input.run_id",
                "failed_step": NO_FAILED_STEP,
                "use_cached.$": "$.input.use_cached",
                "parameters.$": "States.JsonToString($.input.parameters)",
            },
            "Next": body["StartAt"],
        }
        states = {START_STATE: start, merge: merged, payload: first, **body["States"]}
        return {"Comment": comment, "StartAt": START_STATE, "States": states}

    def graph(self, scope: Scope) -> dict[str, Any]:
        """The states of the scope's graph, one walk through the emitters table."""
        states: dict[str, Any] = {}
        for node, emitted in zip(scope.graph, walk(scope, self.node), strict=True):
            for name, state in emitted.items():
                self._claim(name, node)
                states[name] = state
        return {"StartAt": self.entry(scope.graph, scope.graph.start_at), "States": states}

    def _claim(self, name: str, node: Node) -> None:
        other = self._seen.setdefault(name, node.internal_name)
        if other != node.internal_name:  # pragma: no cover - names carry a hash when changed
            raise ConfigError(
                f"steps {other!r} and {node.internal_name!r} map to the same state name {name!r}"
            )

    def entry(self, graph: Graph, name: str) -> str:
        """The first state of node ``name`` of ``graph`` (a composite starts with its fan-out)."""
        node = graph.node(name)
        return state_name(node.internal_name, "fan-out" if node.kind.is_composite else "")

    # -- nodes --------------------------------------------------------------------------
    def emitters(self) -> dict[NodeKind, Callable[[Node, Route, Scope], dict[str, Any]]]:
        """Node kind -> the method that emits its states (the renderer's dispatch table)."""
        return {
            NodeKind.TASK: self.task,
            NodeKind.STUB: self.task,
            NodeKind.AS_IS: self.task,
            NodeKind.SUCCESS: self.success,
            NodeKind.FAIL: self.fail,
            NodeKind.PARALLEL: self.composite,
            NodeKind.MAP: self.composite,
            NodeKind.DAG: self.composite,
        }

    def node(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        emitter = self.emitters().get(node.kind)
        if emitter is None:  # pragma: no cover - every kind is in the table
            raise UnsupportedError(f"stepfunctions cannot render {node.kind.value} nodes")
        return emitter(node, route, scope)

    def success(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        return {state_name(node.internal_name): self._container(node, scope, end=True)}

    def task(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        states: dict[str, Any] = {}
        name = state_name(node.internal_name)
        state = self._container(node, scope)
        state["Catch"] = [self._catcher(self._failure_route(route, scope, states))]
        state["Next"] = self.entry(scope.graph, route.next or "")
        return {name: state, **states}

    def fail(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        name = state_name(node.internal_name)
        if not scope.root:
            return {name: self._container(node, scope, end=True)}
        state = self._container(node, scope)
        final = state_name(node.internal_name, "end")
        state["Next"] = final
        return {
            name: state,
            final: {
                "Type": "Fail",
                "Error": "magnus.PipelineFailed",
                "CausePath": "States.Format('step {} failed; the run log of run {} has the "
                "details', $.failed_step, $.run_id)",
            },
        }

    def composite(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        """Fan-out, the Parallel or Map state of the branches, then the fan-in, which
        carries the composite's outcome (its route); a failed fan-out routes as a failure."""
        settings = settings_for(self.settings, node)
        states: dict[str, Any] = {}
        failure = self._failure_route(route, scope, states)
        out_name = state_name(node.internal_name, "fan-out")
        main_name = state_name(node.internal_name)
        in_name = state_name(node.internal_name, "fan-in")

        items = node.kind is NodeKind.MAP
        fan_out = self._container(node, scope, mode="out", items=items)
        fan_out["Catch"] = [self._catcher(failure)]
        fan_out["Next"] = main_name

        if node.kind is NodeKind.MAP:
            main = self._map_state(node, scope, settings)
        else:
            branches = [self.graph(scope.branch(node, branch)) for branch in node.branches]
            main = {"Type": "Parallel", "Branches": branches}
        main["ResultPath"] = None
        # a branch that errors at the service level still gets its composite rolled up
        main["Catch"] = [self._catcher(in_name)]
        main["Next"] = in_name

        fan_in = self._container(node, scope, mode="in")
        fan_in["Catch"] = [self._catcher(failure)]
        fan_in["Next"] = self.entry(scope.graph, route.next or "")
        return {out_name: fan_out, main_name: main, in_name: fan_in, **states}

    def _map_state(
        self, node: Node, scope: Scope, settings: StepFunctionsSettings
    ) -> dict[str, Any]:
        branch = node.branch
        processor = self.graph(scope.branch(node, branch))
        processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
        state: dict[str, Any] = {
            "Type": "Map",
            "ItemReader": {
                "Resource": S3_GET_OBJECT,
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {
                    "Bucket": self._bucket(node),
                    "Key.$": self._items_key(node, scope),
                },
            },
            # each item is the iteration's complete map variable as a JSON string
            "ItemSelector": {
                "run_id.$": "$.run_id",
                "failed_step": NO_FAILED_STEP,
                "map_variable.$": "$$.Map.Item.Value",
            },
            "ItemProcessor": processor,
            "MaxConcurrency": settings.max_concurrency,
        }
        if settings.tolerated_failure_percentage is not None:
            percentage = settings.tolerated_failure_percentage
            state["ToleratedFailurePercentage"] = (
                int(percentage) if float(percentage).is_integer() else percentage
            )
        if settings.tolerated_failure_count is not None:
            state["ToleratedFailureCount"] = settings.tolerated_failure_count
        return state

    # -- routing ------------------------------------------------------------------------
    def _failure_route(self, route: Route, scope: Scope, extra: dict[str, Any]) -> str:
        """The state a failure goes to: its route's; one that lands on the root graph's
        fail node first passes a Pass naming the step (the final Fail state's cause)."""
        target = self.entry(scope.graph, route.on_failure or "")
        if not route.to_fail_node or not scope.root:
            return target
        node = route.node
        marker = state_name(node.internal_name, "failed")
        extra[marker] = {
            "Type": "Pass",
            "Result": node.name,
            "ResultPath": "$.failed_step",
            "Next": target,
        }
        return marker

    @staticmethod
    def _catcher(target: str) -> dict[str, Any]:
        return {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": target}

    # -- map items ----------------------------------------------------------------------
    def _bucket(self, node: Node) -> str:
        if self.items_bucket is None:
            where = f" ({node.source})" if node.source else ""
            message = (
                f"map step {node.name!r}{where}: no S3 bucket for its items; rendered "
                f"{ITEMS_BUCKET_PLACEHOLDER} (set executor.config.items_bucket or use an s3 "
                "run_log_store)"
            )
            if message not in self.warnings:
                self.warnings.append(message)
            return ITEMS_BUCKET_PLACEHOLDER
        return self.items_bucket

    def _items_key(self, node: Node, scope: Scope, url: bool = False) -> str:
        """Where ``fan --mode out`` writes this map's items: per run and, in an outer
        map, per outer iteration (a hash of its map variable keeps keys short)."""
        prefix = self.settings.items_prefix.strip("/")
        head = f"s3://{self._bucket(node)}/{prefix}" if url else prefix
        state = state_name(node.internal_name)
        if scope.in_map:
            template = _format_template(f"{head}/", "{}", f"/{state}/", "{}", ".json")
            return f"States.Format({template}, $.run_id, States.Hash($.map_variable, 'SHA-256'))"
        template = _format_template(f"{head}/", "{}", f"/{state}.json")
        return f"States.Format({template}, $.run_id)"


def _format_template(*parts: str) -> str:
    """A States.Format template; the literal parts are plain (bucket, prefix and state
    names are validated to safe characters), '{}' parts are placeholders."""
    for part in parts:
        plain = part.replace(BUCKET_SUB, "bucket")  # substituted by CloudFormation
        if part != "{}" and not literal(plain).startswith("'"):
            raise ConfigError(f"cannot use {part!r} in an S3 key template")
    return "'" + "".join(parts) + "'"
