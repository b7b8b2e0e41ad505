"""The Task states that run a container (AWS Batch or ECS), for the ASL builder.

A mixin of :class:`~magnus_render.renderers.stepfunctions.asl.AslBuilder`: the command a
state passes (``execute_single_node`` or ``fan``, built with intrinsic functions from the
payload), its overrides, size limit, retries and timeout, and the job definitions the
CloudFormation template creates with ``--with-infra``.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Callable
from typing import Any

from magnus_render.contract.protocol import submit_options
from magnus_render.errors import ConfigError
from magnus_render.pipeline.ir import Graph, Node, NodeKind
from magnus_render.renderers.base import (
    RenderOptions,
    Scope,
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

#: DefinitionSubstitutions keys of --with-infra's template parameters and roles
BUCKET_SUB = "${ItemsBucket}"
JOB_QUEUE_SUB = "${JobQueue}"
JOB_ROLE_SUB = "${JobRoleArn}"
EXECUTION_ROLE_SUB = "${ExecutionRoleArn}"

_RUN_ID = "\x00run_id"
_MAP_VARIABLE = "\x00map_variable"
_ITEMS_FILE = "\x00items_file"
_USE_CACHED = "\x00use_cached"
_PARAMETERS = "\x00parameters"
#: how a state's Comment shows the words filled in at run time
_PLACEHOLDER_NAMES = {
    _RUN_ID: "RUN_ID",
    _MAP_VARIABLE: "MAP_VARIABLE",
    _ITEMS_FILE: "ITEMS_URL",
    _USE_CACHED: "USE_CACHED",
    _PARAMETERS: "PARAMETERS_JSON",
}


class ContainerStates:
    """Task states for container nodes; the builder supplies the fields declared here."""

    root: Graph
    settings: StepFunctionsSettings
    options: RenderOptions
    define_jobs: bool
    with_infra: bool
    job_definitions: dict[str, dict[str, Any]]
    as_is_text: Callable[[Node], str | None]
    #: id(settings) -> (settings, its Retry list); see ``_retry``
    _retries: dict[int, tuple[StepFunctionsSettings, list[dict[str, Any]]]]

    def _items_key(self, node: Node, scope: Scope, url: bool = False) -> str:
        raise NotImplementedError  # the builder's (asl.py)

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
        if scope.root and node.name == self.root.start_at and mode != "in":
            # the run's first container creates the run log: a re-run (later nodes read
            # use_cached from the run log) with the values given at submit (asl.py)
            argv = with_options(argv, *submit_options(_USE_CACHED, None, _PARAMETERS))
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
                "JobQueue": (
                    JOB_QUEUE_SUB
                    if self.with_infra and settings.job_queue == self.settings.job_queue
                    else settings.job_queue
                ),
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
            task_role = settings.task_role_arn or (JOB_ROLE_SUB if self.with_infra else None)
            execution_role = settings.execution_role_arn or (
                EXECUTION_ROLE_SUB if self.with_infra else None
            )
            if task_role:
                overrides["TaskRoleArn"] = task_role
            if execution_role:
                overrides["ExecutionRoleArn"] = execution_role
            params = {
                "Cluster": settings.cluster,
                "TaskDefinition": settings.task_definition,
                "LaunchType": settings.launch_type,
                "Overrides": overrides,
            }
            if settings.platform_version and settings.launch_type == "FARGATE":
                params["PlatformVersion"] = settings.platform_version
            if settings.enable_execute_command:
                params["EnableExecuteCommand"] = True
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
            state["Comment"] = shlex.join(_PLACEHOLDER_NAMES.get(w, w) for w in argv)
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
            elif word == _USE_CACHED:
                words.append("$.use_cached")
            elif word == _PARAMETERS:
                words.append("$.parameters")
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
