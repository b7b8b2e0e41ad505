"""Shared S3 plumbing for the s3 run log store, the s3 catalog and map items.

boto3 is imported here, lazily, so nothing else pays for it. Credentials and, unless
configured, the endpoint come from the standard boto3 chain (``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL`` point it at any S3-speaking server).
"""

from __future__ import annotations

import functools
import threading
from typing import Annotated, Any

import msgspec

from magnus_render.errors import MagnusError
from magnus_render.stores.run_log_base import StoreSettings


class S3Settings(StoreSettings):
    """Where the objects live. ``prefix`` is a folder inside the bucket ('' for the root)."""

    bucket: Annotated[str, msgspec.Meta(min_length=3, max_length=63)]
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None

    def key(self, *parts: str) -> str:
        head = self.prefix.strip("/")
        return "/".join([head, *parts] if head else parts)

    def url(self, key: str) -> str:
        """``s3://bucket/key``: how messages name an object (or, with a prefix, a folder)."""
        return f"s3://{self.bucket}/{key}"


class LazyS3Client:
    """The ``client`` of the S3 run log store and catalog: made on first use, once per
    store (a boto3 client costs about a second to load), from the store's settings."""

    settings: Any
    _client: Any = None
    _client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = make_client(self.settings.endpoint_url, self.settings.region)
        return self._client


@functools.lru_cache(maxsize=16)
def make_client(endpoint_url: str | None = None, region: str | None = None) -> Any:
    """An S3 client, shared per endpoint and region: creating a boto3 session costs
    about a second of loading service models, and clients are thread-safe."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MagnusError("S3 backends need boto3: pip install 'magnus-render[aws]'") from None
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=64,
        ),
    )


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def is_missing(exc: BaseException) -> bool:
    return error_code(exc) in ("NoSuchKey", "404", "NotFound")


def is_conflict(exc: BaseException) -> bool:
    """412: a condition (IfMatch/IfNoneMatch) failed; 409: a concurrent conditional write."""
    return error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


def client_error(exc: BaseException, what: str) -> MagnusError:
    """A user-facing error for a failed S3 call (bucket missing, access denied, ...)."""
    code = error_code(exc) or type(exc).__name__
    return MagnusError(f"S3 {what} failed: {code}: {exc}")


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key)."""
    if not url.startswith("s3://"):
        raise MagnusError(f"not an s3:// URL: {url!r}")
    bucket, _, key = url[5:].partition("/")
    if not bucket or not key:
        raise MagnusError(f"an s3:// URL needs a bucket and a key: {url!r}")
    return bucket, key


def write_items(url: str, text: str, config: Any = None) -> None:
    """The ``--items-file s3://...`` writer of ``magnus fan --mode out`` (a JSON array),
    through the endpoint and region the config's s3 stores use."""
    bucket, key = split_url(url)
    client = make_client(*endpoint_of(config))
    try:
        client.put_object(
            Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType="application/json"
        )
    except Exception as exc:
        if error_code(exc):
            raise client_error(exc, f"writing map items to {url}") from None
        raise


def endpoint_of(config: Any) -> tuple[str | None, str | None]:
    """``endpoint_url`` and ``region`` of the config's s3 run log store, else its s3
    catalog (the first that sets each); (None, None) leaves them to boto3's own chain."""
    found: dict[str, str | None] = {"endpoint_url": None, "region": None}
    for service in (config.run_log_store, config.catalog) if config is not None else ():
        if service.type == "s3":
            for key in found:
                if found[key] is None and isinstance(service.config.get(key), str):
                    found[key] = service.config[key]
    return found["endpoint_url"], found["region"]
