"""Generic webhook: the Alertmanager webhook payload (version "4") over httpx."""

from __future__ import annotations

import time
from collections.abc import Mapping, MutableMapping
from datetime import datetime
from typing import Any

import httpx

from slo.alerts import Alert
from slo.notify.base import Notification, Sleep, secret_from_env
from slo.notify.http_post import post_json

# Alertmanager's "zero" time for an alert that has not ended.
ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(value: datetime | None) -> str:
    if value is None:
        return ZERO_TIME
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def webhook_alert(alert: Alert, status: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": rfc3339(alert.starts_at),
        "endsAt": rfc3339(alert.ends_at if status == "resolved" else None),
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
    }


def webhook_payload(notification: Notification) -> dict[str, Any]:
    """Alertmanager webhook JSON, version "4"."""
    alerts = [webhook_alert(a, "firing") for a in notification.firing]
    alerts += [webhook_alert(a, "resolved") for a in notification.resolved]
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": 0,
        "status": notification.status,
        "receiver": notification.receiver,
        "groupLabels": dict(notification.group_labels),
        "commonLabels": notification.common_labels,
        "commonAnnotations": notification.common_annotations,
        "externalURL": notification.external_url,
        "alerts": alerts,
    }


class WebhookNotifier:
    def __init__(
        self,
        name: str,
        *,
        url: str,
        bearer_token_env: str | None = None,
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        timeout_s: float = 10.0,
        sleep: Sleep = time.sleep,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.resend_interval_s: float | None = None
        self._url = url
        self._token = secret_from_env(name, bearer_token_env, environ) if bearer_token_env else ""
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._client = httpx.Client(timeout=timeout_s)

    def secrets(self) -> tuple[str, ...]:
        return (self._token,) if self._token else ()

    def close(self) -> None:
        self._client.close()

    def notify(self, notification: Notification, memo: MutableMapping[str, Any]) -> None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        post_json(
            self._client,
            self._url,
            webhook_payload(notification),
            receiver=self.name,
            secrets=self.secrets(),
            headers=headers,
            max_attempts=self._max_attempts,
            backoff_s=self._backoff_s,
            sleep=self._sleep,
        )
