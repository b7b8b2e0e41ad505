"""aws-secrets-manager secrets: values fetched at run time, in the container, never rendered.

Two layouts: with ``secret_id`` one secret holds a JSON object and a secret NAME is a key
in it (magnus 0.5's layout); without it, NAME (after ``prefix``) is a secret's own id.
Values are cached for the life of the process and never logged.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from magnus_render.errors import MagnusError
from magnus_render.stores.run_log_base import StoreSettings
from magnus_render.stores.s3_client import error_code
from magnus_render.stores.secrets import SecretNotFound, Secrets


class AwsSecretsSettings(StoreSettings):
    secret_id: str | None = None
    prefix: str = ""
    region: str | None = None
    endpoint_url: str | None = None


class AwsSecretsManager(Secrets):
    name = "aws-secrets-manager"
    settings_model = AwsSecretsSettings

    def setup(self) -> None:
        super().setup()
        self._client: Any = None
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
            except ImportError:
                raise MagnusError(
                    "aws-secrets-manager needs boto3: pip install 'magnus-render[aws]'"
                ) from None
            self._client = boto3.session.Session().client(
                "secretsmanager",
                region_name=self.settings.region,
                endpoint_url=self.settings.endpoint_url,
            )
        return self._client

    def _fetch(self, secret_id: str, shown_as: str) -> str:
        with self._lock:
            if secret_id in self._cache:
                return self._cache[secret_id]
        try:
            response = self.client.get_secret_value(SecretId=secret_id)
        except Exception as exc:
            code = error_code(exc)
            if not code:
                raise
            raise SecretNotFound(f"secret {shown_as!r}: AWS Secrets Manager said {code}") from None
        value = response.get("SecretString")
        if value is None:
            raise SecretNotFound(f"secret {shown_as!r} is binary; only string secrets work")
        with self._lock:
            self._cache[secret_id] = value
        return value

    def get(self, name: str) -> str:
        if self.settings.secret_id is None:
            return self._fetch(self.settings.prefix + name, name)
        raw = self._fetch(self.settings.secret_id, self.settings.secret_id)
        try:
            values = json.loads(raw)
        except json.JSONDecodeError:
            raise SecretNotFound(
                f"secret {self.settings.secret_id!r} is not a JSON object of names"
            ) from None
        if not isinstance(values, dict) or name not in values:
            raise SecretNotFound(f"secret {name!r} not found in {self.settings.secret_id!r}")
        return str(values[name])
