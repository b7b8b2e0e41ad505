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
from magnus_render.renderers.stepfunctions.names import substitution_key
from magnus_render.renderers.stepfunctions.settings import StepFunctionsSettings
from magnus_render.renderers.stepfunctions.split import Machine

ROLE = "StateMachineRole"
SCHEDULER_ROLE = "SchedulerRole"
EXECUTION_ROLE = "JobExecutionRole"


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
) -> Template:
    warnings: list[str] = []
    resources: dict[str, Any] = {}
    role_arn: Any = settings.role_arn
    if role_arn is None:
        resources[ROLE] = _state_machine_role(settings, machines, has_maps, items_bucket)
        role_arn = {"Fn::GetAtt": [ROLE, "Arn"]}
    job_definitions = job_definitions or {}
    secret_refs = sorted({v for spec in job_definitions.values() for v in spec["secrets"].values()})
    if secret_refs:
        resources[EXECUTION_ROLE] = _execution_role(secret_refs)
    for key, spec in sorted(job_definitions.items()):
        resources[key] = _job_definition(spec, settings)
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
        if subs:
            props["DefinitionSubstitutions"] = subs
        resources[ids[machine.name]] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": props,
        }
    schedule = options.extra.get("schedule")
    if schedule:
        resources[SCHEDULER_ROLE] = _scheduler_role()
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
            props["ScheduleExpressionTimezone"] = options.extra["timezone"]
        resources["Schedule"] = {"Type": "AWS::Scheduler::Schedule", "Properties": props}
    body = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"magnus pipeline {options.pipeline_file} on AWS Step Functions",
        "Resources": resources,
        "Outputs": {"StateMachineArn": {"Value": {"Ref": "StateMachine"}}},
    }
    return Template(body, warnings)


def _job_definition(spec: dict[str, Any], settings: StepFunctionsSettings) -> dict[str, Any]:
    """A Batch job definition for the container protocol; per-step resources and the
    command come from each task's ContainerOverrides, secrets are references only."""
    container: dict[str, Any] = {
        "Image": spec["image"],
        "Command": ["magnus", "--help"],
        "ResourceRequirements": [
            {"Type": "VCPU", "Value": settings.resources.vcpu or "1"},
            {"Type": "MEMORY", "Value": settings.resources.memory or "2048"},
        ],
    }
    if spec["secrets"]:
        container["Secrets"] = [
            {"Name": name, "ValueFrom": ref} for name, ref in sorted(spec["secrets"].items())
        ]
        container["ExecutionRoleArn"] = {"Fn::GetAtt": [EXECUTION_ROLE, "Arn"]}
    return {
        "Type": "AWS::Batch::JobDefinition",
        "Properties": {"Type": "container", "ContainerProperties": container},
    }


def _execution_role(secret_refs: list[str]) -> dict[str, Any]:
    """Lets Batch read the referenced secrets when it starts a container (and only those)."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": _assume("ecs-tasks.amazonaws.com"),
            "ManagedPolicyArns": [
                "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
            ],
            "Policies": [
                {
                    "PolicyName": "magnus-read-secrets",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "secretsmanager:GetSecretValue",
                                "Resource": secret_refs,
                            }
                        ],
                    },
                }
            ],
        },
    }


def _text(definition: dict[str, Any]) -> str:
    import json

    from magnus_render.yamltext import refuse_non_finite

    refuse_non_finite(definition)  # json.dumps would write NaN / Infinity, which is not JSON
    return json.dumps(definition)


def _assume(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def _sub_arn(kind: str, rest: str) -> dict[str, Any]:
    return {
        "Fn::Sub": f"arn:${{AWS::Partition}}:{kind}:${{AWS::Region}}:${{AWS::AccountId}}:{rest}"
    }


def _state_machine_role(
    settings: StepFunctionsSettings,
    machines: list[Machine],
    has_maps: bool,
    items_bucket: str | None,
) -> dict[str, Any]:
    statements: list[dict[str, Any]] = []
    if settings.launch == "batch":
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob"],
                "Resource": "*",
            }
        )
        rule = "rule/StepFunctionsGetEventsForBatchJobsRule"
    else:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "iam:PassRole"],
                "Resource": "*",
            }
        )
        rule = "rule/StepFunctionsGetEventsForECSTaskRule"
    rules = [_sub_arn("events", rule)]
    if has_maps or len(machines) > 1:
        names = [m.name for m in machines]
        statements.append(
            {
                "Effect": "Allow",
                "Action": [
                    "states:StartExecution",
                    "states:DescribeExecution",
                    "states:StopExecution",
                ],
                "Resource": [_sub_arn("states", f"stateMachine:{n}") for n in names]
                + [_sub_arn("states", f"execution:{n}/*") for n in names]
                + [_sub_arn("states", f"execution:{n}:*") for n in names],
            }
        )
        rules.append(_sub_arn("events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"))
    if has_maps and items_bucket:
        prefix = settings.items_prefix.strip("/")
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": f"arn:aws:s3:::{items_bucket}/{prefix}/*",
            }
        )
    statements.append(
        {
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": rules,
        }
    )
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": _assume("states.amazonaws.com"),
            "Policies": [
                {
                    "PolicyName": "magnus-state-machine",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                }
            ],
        },
    }


def _scheduler_role() -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": _assume("scheduler.amazonaws.com"),
            "Policies": [
                {
                    "PolicyName": "magnus-start-execution",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "states:StartExecution",
                                "Resource": {"Ref": "StateMachine"},
                            }
                        ],
                    },
                }
            ],
        },
    }


_AWS_EXPRESSION = re.compile(r"^(cron|rate|at)\(.+\)$")
_NUMBER = re.compile(r"\d+")


def schedule_expression(schedule: str) -> str:
    """A 5-field cron (as Argo and Kubernetes take it) -> EventBridge ``cron(...)``.

    EventBridge has a year field, wants ``?`` in one of day-of-month/day-of-week and
    numbers days of the week 1-7 from Sunday; ``cron(...)``, ``rate(...)`` and ``at(...)``
    pass through unchanged.
    """
    text = schedule.strip()
    if _AWS_EXPRESSION.match(text):
        return text
    fields = text.split()
    if len(fields) != 5:
        raise ConfigError(
            f"--schedule {schedule!r}: expected 5 cron fields (minute hour day-of-month "
            "month day-of-week) or an EventBridge cron(...)/rate(...) expression"
        )
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
