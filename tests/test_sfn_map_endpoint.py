"""Step Functions maps against an S3 server that only the config names: the containers
have no ``AWS_ENDPOINT_URL`` in their environment, so the fan-out must write its items
through the s3 stores' ``endpoint_url``; and a fan-out that cannot write them fails the
map step (never leaves it PROCESSING)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.runlog import execute_in_process, normalize, prepare_workdir
from tests.sfn_harness import MotoServer, moto_server, run_execution
from tests.test_sfn_conformance import render_in

BUCKET = "magnus-endpoint"


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoServer, Path]]:
    workdir = prepare_workdir(tmp_path_factory.mktemp("sfn-endpoint"))
    with moto_server(route_tasks=True, workdir=workdir, endpoint_env=False) as server:
        server.client("s3").create_bucket(Bucket=BUCKET)
        yield server, workdir


def write_config(server: MotoServer, workdir: Path, name: str, items_bucket: str) -> str:
    config = workdir / f"{name}.config.yaml"
    config.write_text(
        "executor:\n  type: stepfunctions\n  config:\n"
        f"    items_bucket: {items_bucket}\n    state_machine_name: {name}\n"
        f"run_log_store:\n  type: s3\n  config: {{bucket: {BUCKET}, endpoint_url: "
        f"'{server.endpoint}', prefix: runs, region: us-east-1}}\n"
        f"catalog:\n  type: s3\n  config: {{bucket: {BUCKET}, endpoint_url: "
        f"'{server.endpoint}'}}\n",
        encoding="utf-8",
    )
    return config.name


def run_log(server: MotoServer, run_id: str):
    from magnus_render.stores.s3_run_log import S3RunLogStore

    store = S3RunLogStore({"bucket": BUCKET, "endpoint_url": server.endpoint, "prefix": "runs"})
    return store.get_run_log(run_id)


def test_no_endpoint_in_the_environment() -> None:
    assert not any(k.startswith("AWS_ENDPOINT_URL") for k in os.environ)


def test_map_writes_its_items_to_the_configured_endpoint(
    aws: tuple[MotoServer, Path], tmp_path: Path
) -> None:
    server, workdir = aws
    config = write_config(server, workdir, "magnus-endpoint-map", BUCKET)
    machines = render_in(workdir, "samples/map.yaml", config, "magnus-endpoint-map")
    described = run_execution(server, machines, "sfn-endpoint-map")
    assert described["status"] == "SUCCEEDED", described
    fan_out = [t for t in server.tasks() if "--items-file" in t["command"]]
    assert fan_out and all(t["exit"] == 0 for t in fan_out), fan_out
    _, local = execute_in_process("map", tmp_path)
    assert normalize(run_log(server, "sfn-endpoint-map")) == normalize(local)
    listed = server.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="magnus/map-items/")
    assert [o["Key"] for o in listed.get("Contents", [])] == [
        "magnus/map-items/sfn-endpoint-map/each.json"
    ]


def test_failed_fan_out_marks_the_map_step_fail(aws: tuple[MotoServer, Path]) -> None:
    server, workdir = aws
    config = write_config(server, workdir, "magnus-missing-items", "magnus-no-such-bucket")
    machines = render_in(workdir, "samples/map.yaml", config, "magnus-missing-items")
    described = run_execution(server, machines, "sfn-missing-items")
    assert described["status"] == "FAILED", described
    log = run_log(server, "sfn-missing-items")
    each = log.steps["each"]
    assert each.status.value == "FAIL"
    assert "could not write the map items to s3://magnus-no-such-bucket/" in each.message
    assert "NoSuchBucket" in each.message
    assert each.attempts[-1].status.value == "FAIL" and each.attempts[-1].end_time
    assert all(b.status.value == "FAIL" for b in each.branches.values()), each.branches
    assert log.status.value == "FAIL"
    assert "summarize" not in log.steps
