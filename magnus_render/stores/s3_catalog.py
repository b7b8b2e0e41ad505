"""s3 catalog: entries at ``<prefix>/<run_id>/<@namespace...>/<path>`` in one bucket.

The same namespacing as the file-system catalog (map iterations are ``@``-prefixed
segments), so a run's ``catalog_relative_path`` values are identical on either backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from magnus_render.stores.catalog_base import NS_PREFIX, Catalog, _join, ns_segment
from magnus_render.stores.s3_client import (
    LazyS3Client,
    S3Settings,
    client_error,
    error_code,
    is_missing,
)


class S3CatalogSettings(S3Settings):
    """S3Settings and CatalogSettings' one field (a Struct has a single base with fields)."""

    prefix: str = "catalog"
    compute_data_folder: str = "."


class S3Catalog(LazyS3Client, Catalog):
    name = "s3"
    settings_model = S3CatalogSettings

    def location(self) -> str:
        return self.settings.url(self.settings.key("")).rstrip("/")

    def _dir(self, run_id: str, namespace: Sequence[str]) -> str:
        return self.settings.key(run_id, *(ns_segment(ns) for ns in namespace))

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(Bucket=self.settings.bucket, **kwargs)
        except Exception as exc:
            if error_code(exc) and not is_missing(exc):
                raise client_error(exc, what) from None
            raise

    def put_bytes(self, run_id: str, namespace: Sequence[str], rel: str, data: bytes) -> str:
        key = f"{self._dir(run_id, namespace)}/{rel}"
        self._call(f"putting catalog entry {key}", "put_object", Key=key, Body=data)
        return _join(run_id, [ns_segment(ns) for ns in namespace], rel)

    def get_bytes(self, run_id: str, namespace: Sequence[str], rel: str) -> bytes | None:
        key = f"{self._dir(run_id, namespace)}/{rel}"
        try:
            response = self._call(f"getting catalog entry {key}", "get_object", Key=key)
        except Exception as exc:
            if is_missing(exc):
                return None
            raise
        return response["Body"].read()

    def _keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.settings.bucket, Prefix=prefix):
                keys += [item["Key"] for item in page.get("Contents", ())]
        except Exception as exc:
            if error_code(exc):
                raise client_error(exc, f"listing catalog {prefix}") from None
            raise
        return keys

    def list_entries(self, run_id: str, namespace: Sequence[str]) -> list[str]:
        base = self._dir(run_id, namespace) + "/"
        found = []
        for key in self._keys(base):
            rel = key[len(base) :]
            if rel and not any(part.startswith(NS_PREFIX) for part in rel.split("/")[:-1]):
                found.append(rel)
        return sorted(found)

    def copy_run(self, old_run_id: str, new_run_id: str) -> None:
        old = self.settings.key(old_run_id) + "/"
        new = self.settings.key(new_run_id) + "/"
        for key in self._keys(old):
            self._call(
                f"copying catalog entry {key}",
                "copy_object",
                Key=new + key[len(old) :],
                CopySource={"Bucket": self.settings.bucket, "Key": key},
            )
