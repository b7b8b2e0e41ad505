"""``--with-infra``: a CloudFormation template around the state machine(s).

Holds the state machine, nested parts of a split definition (wired by
DefinitionSubstitutions, so no ARN is guessed), an IAM role scoped to what the states call,
and, with ``--schedule``, an EventBridge Scheduler schedule plus the role it assumes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from magnus_render.errors import ConfigError
from magnus_render.renderers.base import RenderOptions
from magnus_render.renderers.stepfunctions.iam import (
    BUCKET_PARAMETER,
    EXECUTION_ROLE,
    JOB_ROLE,
    ROLE,
    SCHEDULER_ROLE,
    execution_role,
    job_role,
    scheduler_role,
    state_machine_role,
)
from magnus_render.renderers.stepfunctions.names import substitution_key
from magnus_render.renderers.stepfunctions.settings import StepFunctionsSettings
from magnus_render.renderers.stepfunctions.split import Machine

QUEUE_PARAMETER = "JobQueue"
COMPUTE_PARAMETER = "ComputeEnvironment"
CREATE_QUEUE = "CreateJobQueue"
QUEUE_RESOURCE = "MagnusJobQueue"


@dataclass
class Template:
    body: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _logical_id(name: str) -> str:
    return "".join(c for c in name.title() if c.isalnum()) or "StateMachine"


def template(
    machines: list[Machine],
    settings: StepFunctionsSettings,
    options: RenderOptions,
    has_maps: bool,
    items_bucket: str | None,
    job_definitions: dict[str, dict[str, Any]] | None = None,
    store_buckets: list[str] | None = None,
) -> Template:
    warnings: list[str] = []
    resources: dict[str, Any] = {}
    parameters: dict[str, Any] = {}
    conditions: dict[str, Any] = {}
    rules: dict[str, Any] = {}
    substitutions: dict[str, Any] = {}
    if has_maps:
        parameters[BUCKET_PARAMETER] = {
            "Type": "String",
            "Description": "S3 bucket where map steps' items are written (magnus fan) and read",
            "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            **({"Default": items_bucket} if items_bucket else {}),
        }
        substitutions[BUCKET_PARAMETER] = {"Ref": BUCKET_PARAMETER}
    if settings.launch == "batch":
        _job_queue(settings, parameters, conditions, rules, resources, substitutions)
    role_arn: Any = settings.role_arn
    if role_arn is None:
        resources[ROLE] = state_machine_role(settings, machines, has_maps)
        role_arn = {"Fn::GetAtt": [ROLE, "Arn"]}
    job_definitions = job_definitions or {}
    secret_refs = sorted({v for spec in job_definitions.values() for v in spec["secrets"].values()})
    if settings.task_role_arn is None:
        resources[JOB_ROLE] = job_role(store_buckets or [], has_maps)
        substitutions["JobRoleArn"] = {"Fn::GetAtt": [JOB_ROLE, "Arn"]}
    else:
        substitutions["JobRoleArn"] = settings.task_role_arn
    if settings.execution_role_arn is None:
        resources[EXECUTION_ROLE] = execution_role(secret_refs)
        substitutions["ExecutionRoleArn"] = {"Fn::GetAtt": [EXECUTION_ROLE, "Arn"]}
    else:
        substitutions["ExecutionRoleArn"] = settings.execution_role_arn
    for key, spec in sorted(job_definitions.items()):
        resources[key] = _job_definition(spec, settings, substitutions)
    ids = {
        m.name: ("StateMachine" if i == 0 else _logical_id(m.name)) for i, m in enumerate(machines)
    }
    for machine in machines:
        props: dict[str, Any] = {
            "StateMachineName": machine.name,
            "StateMachineType": "STANDARD",
            "RoleArn": role_arn,
            "Definition": machine.definition,
        }
        text = _text(machine.definition)
        subs: dict[str, Any] = {
            substitution_key(other.name): {"Ref": ids[other.name]}
            for other in machines
            if "${" + substitution_key(other.name) + "}" in text
        }
        subs.update({key: {"Ref": key} for key in job_definitions if "${" + key + "}" in text})
        subs.update({k: v for k, v in substitutions.items() if "${" + k + "}" in text})
        if subs:
            props["DefinitionSubstitutions"] = subs
        resources[ids[machine.name]] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": props,
        }
    schedule = options.extra.get("schedule")
    if schedule:
        resources[SCHEDULER_ROLE] = scheduler_role()
        props = {
            "Description": f"runs {machines[0].name} on a schedule",
            "ScheduleExpression": schedule_expression(schedule),
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": {
                "Arn": {"Ref": "StateMachine"},
                "RoleArn": {"Fn::GetAtt": [SCHEDULER_ROLE, "Arn"]},
                "Input": "{}",
            },
        }
        if options.extra.get("timezone"):
            from magnus_render.renderers.cron import check_timezone

            check_timezone(str(options.extra["timezone"]))
            props["ScheduleExpressionTimezone"] = options.extra["timezone"]
        resources["Schedule"] = {"Type": "AWS::Scheduler::Schedule", "Properties": props}
    body: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"magnus pipeline {options.pipeline_file} on AWS Step Functions",
    }
    if parameters:
        body["Parameters"] = parameters
    if rules:
        body["Rules"] = rules
    if conditions:
        body["Conditions"] = conditions
    body["Resources"] = resources
    body["Outputs"] = {"StateMachineArn": {"Value": {"Ref": "StateMachine"}}}
    return Template(body, warnings)


def _job_queue(
    settings: StepFunctionsSettings,
    parameters: dict[str, Any],
    conditions: dict[str, Any],
    rules: dict[str, Any],
    resources: dict[str, Any],
    substitutions: dict[str, Any],
) -> None:
    """The JobQueue parameter (an existing queue), or, left empty, a queue the template
    creates on the ComputeEnvironment parameter."""
    parameters[QUEUE_PARAMETER] = {
        "Type": "String",
        "Description": "AWS Batch job queue (name or ARN) the tasks are submitted to; "
        "empty: create one on ComputeEnvironment",
        "Default": settings.job_queue,
    }
    parameters[COMPUTE_PARAMETER] = {
        "Type": "String",
        "Description": "AWS Batch compute environment (name or ARN) for the job queue "
        "created when JobQueue is empty",
        "Default": settings.compute_environment or "",
    }
    empty_queue = {"Fn::Equals": [{"Ref": QUEUE_PARAMETER}, ""]}
    conditions[CREATE_QUEUE] = empty_queue
    rules["JobQueueOrComputeEnvironment"] = {
        "RuleCondition": empty_queue,
        "Assertions": [
            {
                "Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": COMPUTE_PARAMETER}, ""]}]},
                "AssertDescription": "with an empty JobQueue, name a ComputeEnvironment",
            }
        ],
    }
    resources[QUEUE_RESOURCE] = {
        "Type": "AWS::Batch::JobQueue",
        "Condition": CREATE_QUEUE,
        "Properties": {
            "Priority": 1,
            "ComputeEnvironmentOrder": [
                {"Order": 1, "ComputeEnvironment": {"Ref": COMPUTE_PARAMETER}}
            ],
        },
    }
    substitutions[QUEUE_PARAMETER] = {
        "Fn::If": [CREATE_QUEUE, {"Ref": QUEUE_RESOURCE}, {"Ref": QUEUE_PARAMETER}]
    }


def _job_definition(
    spec: dict[str, Any], settings: StepFunctionsSettings, roles: dict[str, Any]
) -> dict[str, Any]:
    """A Batch job definition for the container protocol; per-step resources and the
    command come from each task's ContainerOverrides, secrets are references only."""
    container: dict[str, Any] = {
        "Image": spec["image"],
        "Command": ["magnus", "--help"],
        "ResourceRequirements": [
            {"Type": "VCPU", "Value": settings.resources.vcpu or "1"},
            {"Type": "MEMORY", "Value": settings.resources.memory or "2048"},
        ],
        "JobRoleArn": roles["JobRoleArn"],
        "ExecutionRoleArn": roles["ExecutionRoleArn"],
    }
    if spec["secrets"]:
        container["Secrets"] = [
            {"Name": name, "ValueFrom": ref} for name, ref in sorted(spec["secrets"].items())
        ]
    efs = [v for v in settings.shared_volumes if v.efs_file_system_id]
    if efs:
        container["Volumes"] = [
            {
                "Name": f"shared-{index}",
                "EfsVolumeConfiguration": {
                    "FileSystemId": v.efs_file_system_id,
                    "RootDirectory": v.root_directory,
                    "TransitEncryption": "ENABLED",
                },
            }
            for index, v in enumerate(efs)
        ]
        container["MountPoints"] = [
            {"SourceVolume": f"shared-{index}", "ContainerPath": v.mount_path}
            for index, v in enumerate(efs)
        ]
    return {
        "Type": "AWS::Batch::JobDefinition",
        "Properties": {"Type": "container", "ContainerProperties": container},
    }


def _text(definition: dict[str, Any]) -> str:
    import json

    from magnus_render.yamltext import refuse_non_finite

    refuse_non_finite(definition)  # json.dumps would write NaN / Infinity, which is not JSON
    return json.dumps(definition)


_AWS_EXPRESSION = re.compile(r"^(cron|rate|at)\(.+\)$")
_NUMBER = re.compile(r"\d+")
#: the cron macros Argo and Kubernetes take, as the 5 fields they stand for
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def schedule_expression(schedule: str) -> str:
    """A 5-field cron (as Argo and Kubernetes take it) -> EventBridge ``cron(...)``.

    EventBridge has a year field, wants ``?`` in one of day-of-month/day-of-week and
    numbers days of the week 1-7 from Sunday; ``cron(...)``, ``rate(...)`` and ``at(...)``
    pass through unchanged.
    """
    from magnus_render.renderers.cron import check_schedule

    text = schedule.strip()
    if _AWS_EXPRESSION.match(text):
        return text
    if text.startswith("@"):
        check_schedule(text)  # an unknown macro is named as such
    text = _MACROS.get(text, text)
    if text.startswith("@every"):
        raise ConfigError(
            f"--schedule {schedule!r}: EventBridge has no @every; use rate(...) instead"
        )
    if len(text.split()) != 5:
        raise ConfigError(
            f"--schedule {schedule!r}: expected 5 cron fields (minute hour day-of-month "
            "month day-of-week) or an EventBridge cron(...)/rate(...) expression"
        )
    check_schedule(text)
    fields = text.split()
    minute, hour, dom, month, dow = fields
    if dow != "*":
        dow = _NUMBER.sub(lambda m: str(int(m.group()) % 7 + 1), dow)
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom = "?"
    else:
        raise ConfigError(
            f"--schedule {schedule!r}: EventBridge cannot restrict both day-of-month and "
            "day-of-week; use '*' for one of them"
        )
    return f"cron({minute} {hour} {dom} {month} {dow} *)"
