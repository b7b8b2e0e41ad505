"""The IAM roles of ``--with-infra``'s template, each scoped to what its holder calls:
the state machine (Batch/ECS, nested executions, the map items), the containers' job role
(the stores' and items' buckets), the execution role (image, logs, secret references)
and the scheduler's."""

from __future__ import annotations

from typing import Any

from magnus_render.renderers.stepfunctions.settings import StepFunctionsSettings
from magnus_render.renderers.stepfunctions.split import Machine

ROLE = "StateMachineRole"
SCHEDULER_ROLE = "SchedulerRole"
EXECUTION_ROLE = "JobExecutionRole"
JOB_ROLE = "JobRole"
BUCKET_PARAMETER = "ItemsBucket"


def job_role(store_buckets: list[str], has_maps: bool) -> dict[str, Any]:
    """The role the containers assume: read and write the run log store, the catalog and
    the map items in their buckets, nothing else."""
    buckets: list[Any] = [f"arn:aws:s3:::{b}" for b in sorted(set(store_buckets))]
    if has_maps:
        buckets.append({"Fn::Sub": "arn:${AWS::Partition}:s3:::${" + BUCKET_PARAMETER + "}"})
    objects = [
        {"Fn::Sub": b["Fn::Sub"] + "/*"} if isinstance(b, dict) else f"{b}/*" for b in buckets
    ]
    statements: list[dict[str, Any]] = []
    if buckets:
        statements = [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": buckets},
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": objects,
            },
        ]
    props: dict[str, Any] = {"AssumeRolePolicyDocument": _assume("ecs-tasks.amazonaws.com")}
    if statements:
        props["Policies"] = [
            {
                "PolicyName": "magnus-stores",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }
        ]
    return {"Type": "AWS::IAM::Role", "Properties": props}


def execution_role(secret_refs: list[str]) -> dict[str, Any]:
    """Lets Batch/ECS pull the image and write logs when it starts a container, and read
    the referenced secrets (only those)."""
    props: dict[str, Any] = {
        "AssumeRolePolicyDocument": _assume("ecs-tasks.amazonaws.com"),
        "ManagedPolicyArns": [
            {
                "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                "AmazonECSTaskExecutionRolePolicy"
            }
        ],
    }
    if secret_refs:
        props["Policies"] = _secrets_policy(secret_refs)
    return {"Type": "AWS::IAM::Role", "Properties": props}


def _secrets_policy(secret_refs: list[str]) -> list[dict[str, Any]]:
    return [
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
    ]


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


def state_machine_role(
    settings: StepFunctionsSettings,
    machines: list[Machine],
    has_maps: bool,
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
                "Action": ["ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks"],
                "Resource": "*",
            }
        )
        # RunTask with role overrides passes those roles to ECS (and only those)
        statements.append(
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": [
                    settings.task_role_arn or {"Fn::GetAtt": [JOB_ROLE, "Arn"]},
                    settings.execution_role_arn or {"Fn::GetAtt": [EXECUTION_ROLE, "Arn"]},
                ],
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
    if has_maps:
        prefix = settings.items_prefix.strip("/")
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": {
                    "Fn::Sub": "arn:${AWS::Partition}:s3:::${" + BUCKET_PARAMETER + f"}}/{prefix}/*"
                },
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


def scheduler_role() -> dict[str, Any]:
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
