"""Step Functions renderer: golden specs, both validators, settings errors, limits, names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from magnus_render.errors import ConfigError, MagnusError
from tests.conftest import ROOT, SAMPLES
from tests.golden import assert_golden

GOLDEN = SAMPLES / "golden" / "stepfunctions"
CONFIG = "samples/golden/stepfunctions/config.yaml"
SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.yaml"))
BATCH = "arn:aws:states:::batch:submitJob.sync"
#: stores every task can reach (a render refuses others), for configs about something else
S3_STORES = (
    "run_log_store:\n  type: s3\n  config: {bucket: magnus-test}\n"
    "catalog:\n  type: s3\n  config: {bucket: magnus-test}\n"
)


def render(
    pipeline: str,
    config: str | None = CONFIG,
    extra: dict[str, Any] | None = None,
    cwd: Path = ROOT,
) -> tuple[str, list[str]]:
    """Render with paths relative to ``cwd`` (as the containers will see them)."""
    import os

    from magnus_render.render import render_text

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return render_text(
            Path(pipeline), "stepfunctions", Path(config) if config else None, extra=extra
        )
    finally:
        os.chdir(old)


def states_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state of a definition, nested branches and processors included."""
    found: dict[str, dict[str, Any]] = {}
    stack = [definition]
    while stack:
        graph = stack.pop()
        for name, state in graph["States"].items():
            found[name] = state
            stack.extend(state.get("Branches", ()))
            if "ItemProcessor" in state:
                stack.append(state["ItemProcessor"])
    return found


def both_validators(definitions: dict[str, dict[str, Any]]) -> list[str]:
    from magnus_render.renderers.stepfunctions.validate import (
        asl_validator_problems,
        statelint_problems,
    )

    problems = [f"{n}: {p}" for n, d in definitions.items() for p in statelint_problems(d)]
    for name, found in asl_validator_problems(definitions).items():
        problems += [f"{name}: {p}" for p in found]
    return problems


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_golden(name: str) -> None:
    text, _ = render(f"samples/{name}.yaml")
    assert_golden(GOLDEN / f"{name}.json", text)


def test_every_sample_passes_statelint_and_asl_validator() -> None:
    """Batch and ECS launch, plain and CloudFormation-wrapped: one asl-validator run."""
    from magnus_render.renderers.stepfunctions.validate import machines_in

    definitions = {}
    for name in SAMPLE_NAMES:
        definitions[name] = json.loads(render(f"samples/{name}.yaml")[0])
        infra = json.loads(render(f"samples/{name}.yaml", extra={"with_infra": True})[0])
        for key, machine in machines_in(infra).items():
            definitions[f"{name}-infra-{key}"] = machine
    assert len(definitions) == 2 * len(SAMPLE_NAMES)
    assert both_validators(definitions) == []


def test_validators_catch_a_broken_definition() -> None:
    """The check above can fail, and needs both tools: asl-validator alone sees a Task
    without Resource, statelint alone sees States.ALL that is not the last catcher."""
    from magnus_render.renderers.stepfunctions.validate import (
        asl_validator_problems,
        statelint_problems,
    )

    no_resource = json.loads(render("samples/hello.yaml")[0])
    del no_resource["States"]["double"]["Resource"]
    all_first = json.loads(render("samples/hello.yaml")[0])
    all_first["States"]["train"]["Catch"].append(
        {"ErrorEquals": ["States.TaskFailed"], "Next": "report"}
    )
    assert asl_validator_problems({"no_resource": no_resource})
    assert statelint_problems(all_first)
    assert both_validators({"a": no_resource}) and both_validators({"b": all_first})


def test_statelint_gap_is_narrow() -> None:
    """Only ReaderConfig.InputType (unknown to statelint 3.1.0) is forgiven."""
    from magnus_render.renderers.stepfunctions.validate import statelint_problems

    definition = json.loads(render("samples/map.yaml")[0])
    assert statelint_problems(definition) == []
    definition["States"]["each"]["ItemReader"]["ReaderConfig"]["Bogus"] = 1
    assert statelint_problems(definition)


def test_deterministic_across_processes() -> None:
    code = (
        "import sys; from pathlib import Path; from magnus_render.render import render_text;"
        f"sys.stdout.write(render_text(Path('samples/nested.yaml'), 'stepfunctions',"
        f" Path('{CONFIG}'), extra={{'with_infra': True, 'schedule': '0 3 * * *'}})[0])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1 and len(next(iter(outputs))) > 1000


def test_task_state_shape() -> None:
    definition = json.loads(render("samples/hello.yaml")[0])
    states = definition["States"]
    start = states[definition["StartAt"]]
    # the execution input's fields over these defaults, then the payload
    assert start["Parameters"]["defaults"]["run_id.$"] == "$$.Execution.Name"
    assert start["Parameters"]["defaults"]["use_cached"] == ""
    payload = states[states[start["Next"]]["Next"]]
    assert payload["Parameters"]["run_id.$"] == "$.input.run_id"
    assert payload["Next"] == "initialize"
    first = states["initialize"]["Parameters"]["ContainerOverrides"]["Command.$"]
    assert "'--use-cached', $.use_cached, '--params-json', $.parameters, '--'" in first
    train = states["train"]
    assert train["Resource"] == "arn:aws:states:::batch:submitJob.sync"
    params = train["Parameters"]
    assert params["JobQueue"] == "magnus-queue" and params["JobDefinition"] == "magnus-job"
    assert params["ContainerOverrides"]["Command.$"] == (
        "States.Array('magnus', 'execute_single_node', '--file', "
        f"'samples/hello.yaml', '--config-file', '{CONFIG}', '--', $.run_id, 'train')"
    )
    assert params["ContainerOverrides"]["Environment"] == [{"Name": "LOG_LEVEL", "Value": "info"}]
    assert train["ResultPath"] is None  # the payload never grows
    assert train["Catch"][0]["Next"] == "train.failed"
    assert states["train.failed"] == {
        "Next": "fail",
        "Result": "train",
        "ResultPath": "$.failed_step",
        "Type": "Pass",
    }
    assert states["fail"]["Next"] == "fail.end"
    assert states["fail.end"]["Type"] == "Fail"
    assert "$.failed_step" in states["fail.end"]["CausePath"]
    assert states["success"]["End"] is True


def test_on_failure_routes_to_its_target() -> None:
    states = json.loads(render("samples/on_failure.yaml")[0])["States"]
    assert states["risky"]["Catch"][0]["Next"] == "recover"
    assert states["recover"]["Catch"][0]["Next"] == "recover.failed"


def test_retry_from_settings_not_from_max_attempts() -> None:
    """max_attempts runs inside the container (each attempt recorded there), so the ASL
    retries only service errors; settings replace the retriers."""
    states = json.loads(render("samples/retry.yaml")[0])["States"]
    retry = states["flaky"]["Retry"]
    assert "States.TaskFailed" not in json.dumps(retry)
    assert retry[0]["ErrorEquals"][0].startswith("Batch.")


def test_map_is_a_distributed_map_over_the_fan_out_items() -> None:
    states = json.loads(render("samples/map.yaml")[0])["States"]
    fan_out = states["each.fan-out"]
    assert (
        "'--items-file', States.Format('s3://magnus-runs/magnus/map-items/{}/each.json'"
        in (fan_out["Parameters"]["ContainerOverrides"]["Command.$"])
    )
    each = states["each"]
    assert each["ItemReader"]["Parameters"] == {
        "Bucket": "magnus-runs",
        "Key.$": "States.Format('magnus/map-items/{}/each.json', $.run_id)",
    }
    assert each["ItemSelector"]["map_variable.$"] == "$$.Map.Item.Value"
    assert each["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert each["MaxConcurrency"] == 10
    assert each["Catch"][0]["Next"] == each["Next"] == "each.fan-in"
    process = each["ItemProcessor"]["States"]["each.map.process"]
    command = process["Parameters"]["ContainerOverrides"]["Command.$"]
    # '{map}' needs escaping in a literal: it travels base64-encoded instead
    assert "States.Base64Decode('ZWFjaC57bWFwfS5wcm9jZXNz')" in command
    assert command.endswith(
        "'--map-variable', $.map_variable, '--', $.run_id, "
        "States.Base64Decode('ZWFjaC57bWFwfS5wcm9jZXNz'))"
    )
    assert "each.{map}.process" in process["Comment"]


def test_nested_map_items_are_keyed_per_outer_iteration() -> None:
    states = states_of(json.loads(render("samples/nested.yaml")[0]))
    inner = states["regions.map.work.fitting.seeds"]
    key = inner["ItemReader"]["Parameters"]["Key.$"]
    assert "States.Hash($.map_variable, 'SHA-256')" in key
    assert inner["ItemSelector"]["run_id.$"] == "$.run_id"


def test_tolerated_failure_and_ecs_launch(tmp_path: Path) -> None:
    config = tmp_path / "ecs.yaml"
    config.write_text(
        "executor:\n  type: stepfunctions\n  config:\n    launch: ecs\n"
        "    items_bucket: b-u-c\n    cluster: c1\n    task_definition: td:3\n"
        "    subnets: [subnet-1]\n    security_groups: [sg-1]\n"
        "    tolerated_failure_percentage: 5\n    resources: {vcpu: '0.5', memory: '1024'}\n"
        + S3_STORES
    )
    definition = json.loads(render(str(SAMPLES / "map.yaml"), str(config))[0])
    each = definition["States"]["each"]
    assert each["ToleratedFailurePercentage"] == 5
    task = definition["States"]["chunk"]
    assert task["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    params = task["Parameters"]
    assert params["Cluster"] == "c1" and params["TaskDefinition"] == "td:3"
    net = params["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert net == {
        "AssignPublicIp": "DISABLED",
        "SecurityGroups": ["sg-1"],
        "Subnets": ["subnet-1"],
    }
    container = params["Overrides"]["ContainerOverrides"][0]
    assert container["Cpu"] == 512 and container["Memory"] == 1024
    assert task["Retry"][0]["ErrorEquals"][0].startswith("ECS.")
    assert both_validators({"ecs": definition}) == []


def test_per_step_override(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        (SAMPLES / "hello.yaml")
        .read_text()
        .replace(
            "      command: samples.functions.train\n",
            "      command: samples.functions.train\n      overrides: {stepfunctions: big}\n",
        )
    )
    states = json.loads(render(str(pipeline))[0])["States"]
    assert states["train"]["Parameters"]["JobQueue"] == "magnus-big-queue"
    assert states["train"]["Parameters"]["ContainerOverrides"]["ResourceRequirements"] == [
        {"Type": "MEMORY", "Value": "16384"},
        {"Type": "VCPU", "Value": "4"},
    ]
    assert states["double"]["Parameters"]["JobQueue"] == "magnus-queue"


def test_unknown_override_names_the_step_line(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        (SAMPLES / "hello.yaml")
        .read_text()
        .replace(
            "      command: samples.functions.train\n",
            "      command: samples.functions.train\n      overrides: {stepfunctions: huge}\n",
        )
    )
    with pytest.raises(ConfigError) as info:
        render(str(pipeline))
    assert f"{pipeline}:14:" in str(info.value) and "'huge'" in str(info.value)


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("    job_queu: x\n", 4, "job_queu: unknown setting"),
        ("    max_concurrency: -1\n", 4, "max_concurrency"),
        ("    launch: lambda\n", 4, "launch"),
        ("    overrides:\n      big: {vcpus: 3}\n", 6, "overrides.big.vcpus: unknown setting"),
    ],
)
def test_bad_settings_name_config_file_and_line(
    tmp_path: Path, body: str, line: int, words: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("# settings\nexecutor:\n  type: stepfunctions\n  config:\n" + body)
    # the line of the key, or of `config:` for nested problems
    with pytest.raises(ConfigError) as info:
        render(str(SAMPLES / "hello.yaml"), str(config))
    message = str(info.value)
    assert words in message
    assert f"{config}:" in message
    reported = int(message.split(f"{config}:")[1].split(":")[0])
    assert reported in (line, line + 1)


def test_cli_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("executor:\n  type: stepfunctions\n  config:\n    job_queu: x\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from magnus_render.cli import render_main; render_main()",
            str(SAMPLES / "hello.yaml"),
            "--target",
            "stepfunctions",
            "-c",
            str(config),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2
    assert f"{config}:4:" in proc.stderr and "Traceback" not in proc.stderr


def test_parameters_and_secrets_never_in_the_spec(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("greeting: parameter-value-xyzzy\n")
    dotenv = tmp_path / ".env"
    dotenv.write_text("API_KEY=secret-value-plugh\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"secrets:\n  type: dotenv\n  config: {{location: {dotenv}}}\n"
        "executor:\n  type: stepfunctions\n  config:\n    items_bucket: bkt\n"
        "    secrets: {API_KEY: 'arn:aws:secretsmanager:us-east-1:1:secret:api'}\n" + S3_STORES
    )
    from magnus_render.render import render_text

    for extra in ({}, {"with_infra": True}):
        text, _ = render_text(SAMPLES / "map.yaml", "stepfunctions", config, params, extra=extra)
        assert "parameter-value-xyzzy" not in text and "secret-value-plugh" not in text
        assert "greeting" not in text


def test_state_names_for_hostile_step_names(tmp_path: Path) -> None:
    """Quotes, braces, backslashes, spaces, unicode and 200 characters: names are legal
    (<= 80 chars, unique), the command carries the exact name, validators pass."""
    names = ["it's {odd}", 'back\\slash "q"', "ünïcode step", "x" * 200, "x" * 199 + "y"]
    steps = []
    for i, name in enumerate(names):
        nxt = json.dumps(names[i + 1]) if i + 1 < len(names) else "success"
        steps.append(f"    {json.dumps(name)}:\n      type: stub\n      next: {nxt}\n")
    pipeline = tmp_path / "hostile.yaml"
    pipeline.write_text(
        f"dag:\n  start_at: {json.dumps(names[0])}\n  steps:\n"
        + "".join(steps)
        + "    success:\n      type: success\n    fail:\n      type: fail\n"
    )
    definition = json.loads(render(str(pipeline))[0])
    states = definition["States"]
    assert all(len(n) <= 80 for n in states)
    task_names = [n for n, s in states.items() if s.get("Resource") == BATCH]
    assert len(task_names) == len(names) + 2
    import base64
    import re

    decoded = set()
    for name in task_names:
        command = states[name]["Parameters"]["ContainerOverrides"]["Command.$"]
        for blob in re.findall(r"Base64Decode\('([^']*)'\)", command):
            decoded.add(base64.b64decode(blob).decode())
        for plain in re.findall(r"'([^']*)'", command):
            decoded.add(plain)
    assert set(names) <= decoded
    assert both_validators({"hostile": definition}) == []


def test_command_over_the_limit_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"executor:\n  type: stepfunctions\n  config:\n    environment:\n      BIG: {'v' * 9000}\n"
        + S3_STORES
    )
    with pytest.raises(MagnusError, match="8192-character limit"):
        render(str(SAMPLES / "hello.yaml"), str(config))


def test_with_infra_template_and_schedule() -> None:
    text, _ = render(
        "samples/map.yaml",
        extra={"with_infra": True, "schedule": "30 2 * * 1-5", "timezone": "UTC"},
    )
    doc = json.loads(text)
    resources = doc["Resources"]
    assert resources["StateMachine"]["Type"] == "AWS::StepFunctions::StateMachine"
    assert resources["StateMachine"]["Properties"]["RoleArn"] == {
        "Fn::GetAtt": ["StateMachineRole", "Arn"]
    }
    policy = json.dumps(resources["StateMachineRole"])
    assert "batch:SubmitJob" in policy
    assert "arn:${AWS::Partition}:s3:::${ItemsBucket}/magnus/map-items/*" in policy
    assert "magnus-runs" not in json.dumps(resources["StateMachine"])  # the bucket is a parameter
    assert doc["Parameters"]["ItemsBucket"]["Default"] == "magnus-runs"
    schedule = resources["Schedule"]["Properties"]
    assert schedule["ScheduleExpression"] == "cron(30 2 ? * 2-6 *)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["Target"]["Arn"] == {"Ref": "StateMachine"}


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 3 * * *", "cron(0 3 * * ? *)"),
        ("*/15 * * * 0", "cron(*/15 * ? * 1 *)"),
        ("0 0 1 * *", "cron(0 0 1 * ? *)"),
        ("rate(5 minutes)", "rate(5 minutes)"),
    ],
)
def test_schedule_expression(cron: str, expected: str) -> None:
    from magnus_render.renderers.stepfunctions.infra import schedule_expression

    assert schedule_expression(cron) == expected


def test_schedule_with_both_days_is_refused() -> None:
    from magnus_render.renderers.stepfunctions.infra import schedule_expression

    with pytest.raises(ConfigError):
        schedule_expression("0 0 1 * 1")


def _chain(path: Path, steps: int) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from render_sfn import write_pipeline
    finally:
        sys.path.pop(0)
    write_pipeline(path, steps)


def test_large_definition_is_split_into_nested_machines(tmp_path: Path) -> None:
    """500 steps with a 40 kB budget: every machine fits and validates, every step is
    in exactly one machine, and the parts are reached through startExecution.sync:2."""
    pipeline = tmp_path / "big.yaml"
    _chain(pipeline, 500)
    config = tmp_path / "c.yaml"
    config.write_text(
        "executor:\n  type: stepfunctions\n  config:\n    max_definition_bytes: 40000\n"
        "    state_machine_arn_prefix: 'arn:aws:states:us-east-1:123456789012:stateMachine:'\n"
        + S3_STORES
    )
    text, warnings = render(str(pipeline), str(config))
    machines = json.loads(text)["StateMachines"]
    assert len(machines) > 10
    from magnus_render.renderers.stepfunctions.jsontext import dumps

    assert all(len(dumps(m)) <= 40_000 for m in machines.values())
    tasks = [
        n for m in machines.values() for n, s in states_of(m).items() if s.get("Resource") == BATCH
    ]
    assert sorted(tasks) == sorted([f"s{i}" for i in range(500)] + ["success", "fail"])
    main = machines["magnus-pipeline"]
    nested = [s for s in main["States"].values() if s.get("Resource", "").endswith("sync:2")]
    assert nested and all(
        s["Parameters"]["StateMachineArn"].startswith("arn:aws:states:us-east-1:") for s in nested
    )
    assert any("split into" in w for w in warnings)
    from magnus_render.renderers.stepfunctions.validate import statelint_problems

    assert [p for m in machines.values() for p in statelint_problems(m)] == []
    # asl-validator is slow on big machines: the parent and one part of each kind
    sample = {n: machines[n] for n in ("magnus-pipeline", "magnus-pipeline-part-1")}
    assert both_validators(sample) == []


def test_thousand_steps_render_fast(tmp_path: Path) -> None:
    """The bench target (1,000 steps under 0.5 s) with slack for a loaded CI machine."""
    import time

    from magnus_render.pipeline import load_pipeline
    from magnus_render.renderers.base import RenderOptions
    from magnus_render.renderers.stepfunctions import StepFunctionsRenderer
    from tests.helpers.shared_stores import s3_config

    pipeline = tmp_path / "chain.yaml"
    _chain(pipeline, 1000)
    loaded = load_pipeline(pipeline)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        StepFunctionsRenderer(loaded, s3_config(), RenderOptions(str(pipeline))).render()
        best = min(best, time.perf_counter() - started)
    assert best < 2.0


def test_secret_references_go_into_job_definitions(tmp_path: Path) -> None:
    """With --with-infra and an image, each distinct image/secrets pair gets a Batch job
    definition holding the secrets as references; tasks point at it by substitution."""
    config = tmp_path / "c.yaml"
    config.write_text(
        "executor:\n  type: stepfunctions\n  config:\n    image: repo/magnus:1\n"
        "    secrets: {API_KEY: 'arn:aws:secretsmanager:us-east-1:1:secret:api'}\n"
        "    overrides:\n      other: {image: 'repo/magnus:2', secrets: {DB: db-secret}}\n"
        + S3_STORES
    )
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        (SAMPLES / "hello.yaml")
        .read_text()
        .replace(
            "      command: samples.functions.train\n",
            "      command: samples.functions.train\n      overrides: {stepfunctions: other}\n",
        )
    )
    text, _ = render(str(pipeline), str(config), extra={"with_infra": True})
    resources = json.loads(text)["Resources"]
    jobs = {k: v for k, v in resources.items() if v["Type"] == "AWS::Batch::JobDefinition"}
    assert len(jobs) == 2
    images = {j["Properties"]["ContainerProperties"]["Image"]: j for j in jobs.values()}
    with_secret = images["repo/magnus:1"]["Properties"]["ContainerProperties"]
    assert with_secret["Secrets"] == [
        {"Name": "API_KEY", "ValueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:api"}
    ]
    # an override is a patch: the step keeps API_KEY and adds DB
    assert [
        s["Name"] for s in images["repo/magnus:2"]["Properties"]["ContainerProperties"]["Secrets"]
    ] == ["API_KEY", "DB"]
    machine = resources["StateMachine"]["Properties"]
    states = machine["Definition"]["States"]
    train, double = (states[n]["Parameters"]["JobDefinition"] for n in ("train", "double"))
    assert train != double and {train, double} == {"${" + k + "}" for k in jobs}
    subs = machine["DefinitionSubstitutions"]
    assert {k: subs[k] for k in jobs} == {k: {"Ref": k} for k in jobs}
    assert states["train"]["Parameters"]["JobQueue"] == "${JobQueue}"
    assert subs["JobQueue"] == {
        "Fn::If": ["CreateJobQueue", {"Ref": "MagnusJobQueue"}, {"Ref": "JobQueue"}]
    }
    for job in jobs.values():
        props = job["Properties"]["ContainerProperties"]
        assert props["JobRoleArn"] == {"Fn::GetAtt": ["JobRole", "Arn"]}
        assert props["ExecutionRoleArn"] == {"Fn::GetAtt": ["JobExecutionRole", "Arn"]}
    policy = json.dumps(resources["JobExecutionRole"])
    assert "secretsmanager:GetSecretValue" in policy and "secret:api" in policy


def test_cli_validate_runs_both_validators(tmp_path: Path) -> None:
    """`magnus-render --validate` exits 0 on a sample; a validator finding exits 2."""

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "from magnus_render.cli import render_main; render_main()",
                *args,
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )

    out = tmp_path / "map.json"
    ok = cli("samples/map.yaml", "-t", "stepfunctions", "--validate", "-c", CONFIG, "-o", str(out))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(out.read_text())["StartAt"] == "magnus.start"
    from magnus_render.errors import MagnusError
    from magnus_render.renderers.stepfunctions.validate import validate_text

    broken = json.loads(out.read_text())
    del broken["States"]["chunk"]["Resource"]
    with pytest.raises(MagnusError, match="asl-validator"):
        validate_text(json.dumps(broken))


# -- issue 17: the last mile on a real AWS account ---------------------------------------------
def _ecs_config(tmp_path: Path, extra: str) -> str:
    config = tmp_path / "ecs.yaml"
    config.write_text(
        "executor:\n  type: stepfunctions\n  config:\n    launch: ecs\n"
        "    items_bucket: b-u-c\n" + extra + S3_STORES,
        encoding="utf-8",
    )
    return str(config)


def test_fargate_without_a_network_is_refused_naming_the_line(tmp_path: Path) -> None:
    config = _ecs_config(tmp_path, "    cluster: c1\n")
    with pytest.raises(ConfigError) as caught:
        render(str(SAMPLES / "hello.yaml"), config)
    assert f"{config}:4:" in str(caught.value)
    assert "Fargate" in str(caught.value) and "subnets" in str(caught.value)
    # EC2 tasks need no awsvpc network; an override that drops the subnets is refused too
    render(str(SAMPLES / "hello.yaml"), _ecs_config(tmp_path, "    launch_type: EC2\n"))
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        (SAMPLES / "hello.yaml")
        .read_text()
        .replace(
            "      command: samples.functions.train\n",
            "      command: samples.functions.train\n      overrides: {stepfunctions: bare}\n",
        )
    )
    config = _ecs_config(tmp_path, "    subnets: [s-1]\n    overrides: {bare: {subnets: []}}\n")
    with pytest.raises(ConfigError, match="step 'train'"):
        render(str(pipeline), config)


def test_ecs_platform_version_exec_and_role_overrides(tmp_path: Path) -> None:
    role = "arn:aws:iam::123456789012:role/"
    config = _ecs_config(
        tmp_path,
        "    subnets: [s-1]\n    platform_version: 1.4.0\n    enable_execute_command: true\n"
        f"    task_role_arn: {role}task\n    execution_role_arn: {role}exec\n",
    )
    definition = json.loads(render(str(SAMPLES / "hello.yaml"), config)[0])
    params = definition["States"]["train"]["Parameters"]
    assert params["PlatformVersion"] == "1.4.0" and params["EnableExecuteCommand"] is True
    assert params["Overrides"]["TaskRoleArn"] == f"{role}task"
    assert params["Overrides"]["ExecutionRoleArn"] == f"{role}exec"
    assert both_validators({"ecs": definition}) == []
    # --with-infra: roles the template creates, passed (and only those) to ECS
    doc = json.loads(
        render(
            str(SAMPLES / "hello.yaml"),
            _ecs_config(tmp_path, "    subnets: [s-1]\n"),
            extra={"with_infra": True},
        )[0]
    )
    machine = doc["Resources"]["StateMachine"]["Properties"]
    overrides = machine["Definition"]["States"]["train"]["Parameters"]["Overrides"]
    assert overrides["TaskRoleArn"] == "${JobRoleArn}"
    assert machine["DefinitionSubstitutions"]["JobRoleArn"] == {"Fn::GetAtt": ["JobRole", "Arn"]}
    statements = doc["Resources"]["StateMachineRole"]["Properties"]["Policies"][0]
    passing = [
        s for s in statements["PolicyDocument"]["Statement"] if s["Action"] == "iam:PassRole"
    ]
    assert passing[0]["Resource"] == [
        {"Fn::GetAtt": ["JobRole", "Arn"]},
        {"Fn::GetAtt": ["JobExecutionRole", "Arn"]},
    ]
    with pytest.raises(ConfigError, match="platform_version"):
        render(str(SAMPLES / "hello.yaml"), _ecs_config(tmp_path, "    platform_version: new\n"))


def test_with_infra_roles_bucket_parameter_and_queue(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "executor:\n  type: stepfunctions\n  config:\n    image: repo/magnus:1\n"
        "    compute_environment: ce-spot\n"
        "    shared_volumes: [{mount_path: /mnt/efs, efs_file_system_id: fs-0123abcd}]\n"
        "run_log_store:\n  type: s3\n  config: {bucket: run-logs}\n"
        "catalog:\n  type: file-system\n  config: {catalog_location: /mnt/efs/catalog}\n",
        encoding="utf-8",
    )
    doc = json.loads(render("samples/map.yaml", str(config), extra={"with_infra": True})[0])
    assert doc["Parameters"]["ItemsBucket"]["Default"] == "run-logs"  # the store's bucket
    assert doc["Parameters"]["JobQueue"]["Default"] == "magnus"
    assert doc["Parameters"]["ComputeEnvironment"]["Default"] == "ce-spot"
    queue = doc["Resources"]["MagnusJobQueue"]
    assert queue["Condition"] == "CreateJobQueue"
    assert queue["Properties"]["ComputeEnvironmentOrder"][0]["ComputeEnvironment"] == {
        "Ref": "ComputeEnvironment"
    }
    job_role = json.dumps(doc["Resources"]["JobRole"])
    assert "arn:aws:s3:::run-logs/*" in job_role and "${ItemsBucket}/*" in job_role
    job = next(r for r in doc["Resources"].values() if r["Type"] == "AWS::Batch::JobDefinition")[
        "Properties"
    ]["ContainerProperties"]
    assert job["MountPoints"] == [{"ContainerPath": "/mnt/efs", "SourceVolume": "shared-0"}]
    assert job["Volumes"][0]["EfsVolumeConfiguration"]["FileSystemId"] == "fs-0123abcd"
    machine = doc["Resources"]["StateMachine"]["Properties"]
    reader = machine["Definition"]["States"]["each"]["ItemReader"]["Parameters"]
    assert reader["Bucket"] == "${ItemsBucket}"
    assert machine["DefinitionSubstitutions"]["ItemsBucket"] == {"Ref": "ItemsBucket"}
    from magnus_render.renderers.stepfunctions.validate import machines_in

    assert both_validators(machines_in(doc)) == []


def test_with_infra_over_the_cloudformation_limit_is_refused(tmp_path: Path) -> None:
    pipeline = tmp_path / "big.yaml"
    _chain(pipeline, 3000)
    with pytest.raises(MagnusError, match=r"CloudFormation template would be [\d,]+ bytes"):
        render(str(pipeline), ROOT / CONFIG, extra={"with_infra": True}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("schedule", "timezone", "problem"),
    [
        ("0 3 * *", None, "expected 5 cron fields"),
        ("61 * * * *", None, "minute field '61': 61 is outside 0-59"),
        ("@fortnightly", None, "unknown macro"),
        ("0 3 * * *", "Mars/Olympus", "unknown timezone"),
    ],
)
def test_bad_schedule_is_refused_naming_the_flag(
    schedule: str, timezone: str | None, problem: str
) -> None:
    extra = {"with_infra": True, "schedule": schedule, "timezone": timezone}
    with pytest.raises(ConfigError, match=r"--schedule|--timezone") as caught:
        render("samples/hello.yaml", extra=extra)
    assert problem in str(caught.value)


def test_schedule_macros_become_eventbridge_cron() -> None:
    from magnus_render.renderers.stepfunctions.infra import schedule_expression

    assert schedule_expression("@hourly") == "cron(0 * * * ? *)"
    assert schedule_expression("@daily") == "cron(0 0 * * ? *)"


def test_stores_the_tasks_cannot_share_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "executor:\n  type: stepfunctions\n  config:\n"
        "    shared_volumes: [{mount_path: /mnt/efs}]\n"
        "run_log_store:\n  type: chunked-fs\n  config: {log_folder: /mnt/efs/logs}\n"
        "catalog:\n  type: file-system\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        render(str(SAMPLES / "hello.yaml"), str(config))
    message = str(caught.value)
    assert f"{config}:8: catalog: the 'file-system' catalog at '.catalog'" in message
    assert "shared_volumes" in message and "run_log_store" not in message
