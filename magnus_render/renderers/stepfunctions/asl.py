"""IR -> Amazon States Language: one state per node plus the few helper states it needs.

The state payload carries only ``run_id`` (the execution's name, so every container of a
run shares it), ``map_variable`` inside map iterations, ``failed_step`` (for the final
Fail state's cause) and ``error`` (the last caught error). Parameters travel through the
run log store, never through the payload, so the 256 KB state limit never binds.

Failure routing mirrors the local executor: a failed task goes to its ``on_failure``
target, else to its graph's fail node, which a container runs to mark that graph FAIL.
Inside branches the fail node then *ends* the branch normally, so every branch runs to
completion as it does locally, and the composite's ``fan --mode in`` decides the
composite's status (exit 1 routes the composite like a failed task).
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from magnus_render.errors import ConfigError, UnsupportedError
from magnus_render.pipeline.ir import Graph, Node, NodeKind
from magnus_render.renderers.base import (
    RenderOptions,
    fan_argv,
    node_argv,
    with_options,
)
from magnus_render.renderers.stepfunctions.names import job_name, literal, state_name
from magnus_render.renderers.stepfunctions.settings import StepFunctionsSettings, settings_for

#: ECS caps the JSON of a task's overrides at 8,192 characters; Batch allows more, but a
#: command that fits ECS fits everywhere, so one limit serves both launch types
MAX_OVERRIDES_CHARS = 8192
#: what the run id ($$.Execution.Name, at most 80 characters) may add at run time
RUN_ID_RESERVE = 80

BATCH_RESOURCE = "arn:aws:states:::batch:submitJob.sync"
ECS_RESOURCE = "arn:aws:states:::ecs:runTask.sync"
S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
START_STATE = "magnus.start"
ITEMS_BUCKET_PLACEHOLDER = "MAGNUS_ITEMS_BUCKET_NOT_SET"
NO_FAILED_STEP = "none (a step's next was the fail node)"

_RUN_ID = "\x00run_id"
_MAP_VARIABLE = "\x00map_variable"
_ITEMS_FILE = "\x00items_file"


@dataclass(frozen=True)
class Scope:
    """Where a graph sits: the root graph ends in Fail/Succeed; map branches see a variable."""

    graph: Graph
    root: bool
    in_map: bool


class AslBuilder:
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
        self.job_definitions: dict[str, dict[str, Any]] = {}
        self._seen: dict[str, str] = {}
        self._fail_nodes: dict[int, Node] = {}
        self._retries: dict[int, tuple[StepFunctionsSettings, list[dict[str, Any]]]] = {}
        #: an as-is node's text for this target (the renderer's, which warns when None)
        self.as_is_text: Callable[[Node], str | None] = lambda node: (
            node.as_is.text_for("stepfunctions") if node.as_is is not None else None
        )

    # -- graphs -------------------------------------------------------------------------
    def definition(self, comment: str) -> dict[str, Any]:
        body = self.graph(self.root, Scope(self.root, root=True, in_map=False))
        start = {
            "Type": "Pass",
            "Comment": "the run id is the execution's name; parameters stay in the run log",
            "Parameters": {"run_id.$": "$$.Execution.Name", "failed_step": NO_FAILED_STEP},
            "Next": body["StartAt"],
        }
        states = {START_STATE: start, **body["States"]}
        return {"Comment": comment, "StartAt": START_STATE, "States": states}

    def graph(self, graph: Graph, scope: Scope) -> dict[str, Any]:
        states: dict[str, Any] = {}
        for node in graph:
            for name, state in self.node(node, scope).items():
                self._claim(name, node)
                states[name] = state
        return {"StartAt": self.entry(graph, graph.start_at), "States": states}

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
    def emitters(self) -> dict[NodeKind, Callable[[Node, Scope], dict[str, Any]]]:
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

    def node(self, node: Node, scope: Scope) -> dict[str, Any]:
        emitter = self.emitters().get(node.kind)
        if emitter is None:  # pragma: no cover - every kind is in the table
            raise UnsupportedError(f"stepfunctions cannot render {node.kind.value} nodes")
        return emitter(node, scope)

    def success(self, node: Node, scope: Scope) -> dict[str, Any]:
        return {state_name(node.internal_name): self._container(node, scope, end=True)}

    def task(self, node: Node, scope: Scope) -> dict[str, Any]:
        states: dict[str, Any] = {}
        name = state_name(node.internal_name)
        state = self._container(node, scope)
        state["Catch"] = [self._catcher(self._failure_route(node, scope, states))]
        state["Next"] = self.entry(scope.graph, node.next_node or "")
        return {name: state, **states}

    def fail(self, node: Node, scope: Scope) -> dict[str, Any]:
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

    def composite(self, node: Node, scope: Scope) -> dict[str, Any]:
        settings = settings_for(self.settings, node)
        states: dict[str, Any] = {}
        route = self._failure_route(node, scope, states)
        out_name = state_name(node.internal_name, "fan-out")
        main_name = state_name(node.internal_name)
        in_name = state_name(node.internal_name, "fan-in")

        items = node.kind is NodeKind.MAP
        fan_out = self._container(node, scope, mode="out", items=items)
        fan_out["Catch"] = [self._catcher(route)]
        fan_out["Next"] = main_name

        if node.kind is NodeKind.MAP:
            main = self._map_state(node, scope, settings)
        else:
            branches = [
                self.graph(branch, Scope(branch, root=False, in_map=scope.in_map))
                for branch in node.branches
            ]
            main = {"Type": "Parallel", "Branches": branches}
        main["ResultPath"] = None
        # a branch that errors at the service level still gets its composite rolled up
        main["Catch"] = [self._catcher(in_name)]
        main["Next"] = in_name

        fan_in = self._container(node, scope, mode="in")
        fan_in["Catch"] = [self._catcher(route)]
        fan_in["Next"] = self.entry(scope.graph, node.next_node or "")
        return {out_name: fan_out, main_name: main, in_name: fan_in, **states}

    def _map_state(
        self, node: Node, scope: Scope, settings: StepFunctionsSettings
    ) -> dict[str, Any]:
        branch = node.branch
        processor = self.graph(branch, Scope(branch, root=False, in_map=True))
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
    def _failure_route(self, node: Node, scope: Scope, extra: dict[str, Any]) -> str:
        """Where a failure of ``node`` goes; in the root graph, via a Pass naming the step."""
        fail = self._fail_nodes.get(id(scope.graph))
        if fail is None:  # Graph.fail_node scans the graph: once per graph, not per step
            fail = self._fail_nodes[id(scope.graph)] = scope.graph.fail_node
        if node.on_failure is not None and node.on_failure != fail.name:
            return self.entry(scope.graph, node.on_failure)
        fail_entry = self.entry(scope.graph, fail.name)
        if not scope.root:
            return fail_entry
        marker = state_name(node.internal_name, "failed")
        extra[marker] = {
            "Type": "Pass",
            "Result": node.name,
            "ResultPath": "$.failed_step",
            "Next": fail_entry,
        }
        return marker

    @staticmethod
    def _catcher(target: str) -> dict[str, Any]:
        return {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": target}

    # -- containers ---------------------------------------------------------------------
    def _container(
        self,
        node: Node,
        scope: Scope,
        *,
        mode: str | None = None,
        items: bool = False,
        end: bool = False,
    ) -> dict[str, Any]:
        settings = settings_for(self.settings, node)
        map_var = _MAP_VARIABLE if scope.in_map else None
        if mode is None:
            argv = node_argv(self.options, _RUN_ID, node.internal_name, map_var)
            text = self.as_is_text(node) if node.kind is NodeKind.AS_IS else None
            if text is not None:  # execute_single_node records it while `sh -c TEXT` runs
                argv = with_options(argv, "--as-is", text)
        else:
            items_file = _ITEMS_FILE if items else None
            argv = fan_argv(self.options, _RUN_ID, node.internal_name, mode, map_var, items_file)
        command = self._command(node, scope, argv)
        name = state_name(node.internal_name, f"fan-{mode}" if mode else "")
        env = [{"Name": k, "Value": v} for k, v in sorted(settings.environment.items())]
        if settings.launch == "batch":
            overrides: dict[str, Any] = {"Command.$": command}
            if env:
                overrides["Environment"] = env
            requirements = [
                {"Type": kind, "Value": value}
                for kind, value in (
                    ("GPU", settings.resources.gpu),
                    ("MEMORY", settings.resources.memory),
                    ("VCPU", settings.resources.vcpu),
                )
                if value is not None
            ]
            if requirements:
                overrides["ResourceRequirements"] = requirements
            params: dict[str, Any] = {
                "JobName": job_name(name),
                "JobQueue": settings.job_queue,
                "JobDefinition": self._job_definition(settings),
                "ContainerOverrides": overrides,
            }
            resource = BATCH_RESOURCE
        else:
            container: dict[str, Any] = {"Name": settings.container_name, "Command.$": command}
            if env:
                container["Environment"] = env
            if settings.resources.vcpu is not None:
                container["Cpu"] = int(float(settings.resources.vcpu) * 1024)
            if settings.resources.memory is not None:
                container["Memory"] = int(settings.resources.memory)
            overrides = {"ContainerOverrides": [container]}
            params = {
                "Cluster": settings.cluster,
                "TaskDefinition": settings.task_definition,
                "LaunchType": settings.launch_type,
                "Overrides": overrides,
            }
            if settings.subnets:
                params["NetworkConfiguration"] = {
                    "AwsvpcConfiguration": {
                        "Subnets": list(settings.subnets),
                        "SecurityGroups": list(settings.security_groups),
                        "AssignPublicIp": "ENABLED" if settings.assign_public_ip else "DISABLED",
                    }
                }
            resource = ECS_RESOURCE
        self._check_size(node, argv, env)
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": resource,
            "Parameters": params,
            "ResultPath": None,
        }
        if "Base64Decode" in command:  # the command is not readable as it stands
            state["Comment"] = shlex.join(
                {_RUN_ID: "RUN_ID", _MAP_VARIABLE: "MAP_VARIABLE", _ITEMS_FILE: "ITEMS_URL"}.get(
                    w, w
                )
                for w in argv
            )
        if settings.timeout_seconds is not None:
            state["TimeoutSeconds"] = settings.timeout_seconds
        retry = self._retry(settings)
        if retry:
            state["Retry"] = retry
        if end:
            state["End"] = True
        return state

    def _retry(self, settings: StepFunctionsSettings) -> list[dict[str, Any]]:
        """The Retry list, one object shared by every state of the same settings (nothing
        mutates a built state: 100,000 states need not hold 100,000 copies)."""
        cached = self._retries.get(id(settings))
        if cached is not None and cached[0] is settings:
            return cached[1]
        retry = [
            {
                "ErrorEquals": settings.retry_errors(rule),
                "IntervalSeconds": rule.interval_seconds,
                "BackoffRate": rule.backoff_rate,
                "MaxAttempts": rule.max_attempts,
                **({"MaxDelaySeconds": rule.max_delay_seconds} if rule.max_delay_seconds else {}),
            }
            for rule in settings.retry
        ]
        self._retries[id(settings)] = (settings, retry)
        return retry

    def _job_definition(self, settings: StepFunctionsSettings) -> str:
        """The configured name, or (with --with-infra and an image) a placeholder for a
        job definition the template creates, one per distinct image and secrets."""
        image = self.options.image or settings.image
        if not self.define_jobs or image is None:
            return settings.job_definition
        spec = {"image": image, "secrets": dict(sorted(settings.secrets.items()))}
        digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
        key = f"JobDefinition{digest}"
        self.job_definitions[key] = spec
        return "${" + key + "}"

    def _command(self, node: Node, scope: Scope, argv: list[str]) -> str:
        words = []
        for word in argv:
            if word == _RUN_ID:
                words.append("$.run_id")
            elif word == _MAP_VARIABLE:
                words.append("$.map_variable")
            elif word == _ITEMS_FILE:
                words.append(self._items_key(node, scope, url=True))
            else:
                words.append(literal(word))
        return f"States.Array({', '.join(words)})"

    def _check_size(self, node: Node, argv: list[str], env: list[dict[str, str]]) -> None:
        """The overrides as the service receives them (intrinsics evaluated) must stay under
        the ECS limit; the run id is counted at its longest, a map variable is not known
        until run time."""
        words = ["x" * RUN_ID_RESERVE if w == _RUN_ID else w for w in argv]
        # the JSON is at most 12 characters per character (an escaped surrogate pair) plus
        # quotes, commas and keys: most commands are far below the limit without dumping
        chars = sum(map(len, words)) + sum(len(e["Name"]) + len(e["Value"]) for e in env)
        if 12 * chars + 3 * len(words) + 30 * len(env) + 40 <= MAX_OVERRIDES_CHARS:
            return
        size = len(json.dumps({"Command": words, "Environment": env}, separators=(",", ":")))
        if size > MAX_OVERRIDES_CHARS:
            raise ConfigError(
                f"step {node.internal_name!r}: its container overrides would be {size} "
                f"characters, over the {MAX_OVERRIDES_CHARS}-character limit; shorten the "
                "pipeline/config paths or the step's environment",
                node.source.file if node.source else None,
                node.source.line if node.source else None,
            )

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
        if part != "{}" and not literal(part).startswith("'"):
            raise ConfigError(f"cannot use {part!r} in an S3 key template")
    return "'" + "".join(parts) + "'"
