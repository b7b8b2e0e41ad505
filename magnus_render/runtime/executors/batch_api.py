"""AWS Batch names, clients and job records for the ``aws-batch`` executor.

What the executor needs from the Batch API apart from traversal: a legal job name, a
client with botocore's retries (boto3 imported only here, when a client is made), whether
an error means "slow down", and where a job's CloudWatch log stream is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from magnus_render.errors import MagnusError

#: error codes that mean "slow down", retried with backoff (botocore also retries them)
THROTTLING = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "Throttling", "RequestLimitExceeded"}
)
MAX_JOB_NAME = 128
_ILLEGAL = re.compile(r"[^A-Za-z0-9_-]")


def job_name(run_id: str, resolved_name: str) -> str:
    """A legal Batch job name, unique per run and step: readable, with a stable hash
    suffix whenever characters were replaced or the name was shortened."""
    raw = f"{run_id}-{resolved_name}"
    name = _ILLEGAL.sub("-", raw)
    if not name[0].isalnum():
        name = "j" + name
    if name == raw and len(name) <= MAX_JOB_NAME:
        return name
    digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
    return f"{name[: MAX_JOB_NAME - 11]}-{digest}"


def is_throttling(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""
    return code in THROTTLING


def make_batch_client(endpoint_url: str | None, region: str | None, retries: int) -> Any:
    """A Batch client with botocore's standard retries (throttling included)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MagnusError(
            "the aws-batch executor needs boto3: pip install 'magnus-render[aws]'"
        ) from None
    return boto3.session.Session().client(
        "batch",
        endpoint_url=endpoint_url,
        region_name=region,
        # botocore's max_attempts counts retries (total attempts = retries + 1)
        config=Config(retries={"max_attempts": retries, "mode": "standard"}),
    )


def log_stream(job: Mapping[str, Any]) -> str | None:
    """The CloudWatch log stream of a job's latest attempt (or its container)."""
    for attempt in reversed(job.get("attempts") or []):
        stream = (attempt.get("container") or {}).get("logStreamName")
        if stream:
            return str(stream)
    stream = (job.get("container") or {}).get("logStreamName")
    return str(stream) if stream else None
