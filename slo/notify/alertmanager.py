"""Forward alerts to an Alertmanager (``POST /api/v2/alerts``) for its own fan-out.

Alertmanager resolves an alert that carries no endsAt after ``resolve_timeout`` (5 m by
default), so the router re-sends firing groups every ``resend_interval_s`` (asked for via
the Notifier attribute); resolved alerts go out with their endsAt.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

import httpx

from slo.alerts import Alert
from slo.notify.base import Notification, Sleep
from slo.notify.http_post import post_json
from slo.notify.webhook import rfc3339


def am_alert(alert: Alert, resolved: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "generatorURL": alert.generator_url,
    }
    if alert.starts_at is not None:
        body["startsAt"] = rfc3339(alert.starts_at)
    if resolved and alert.ends_at is not None:
        body["endsAt"] = rfc3339(alert.ends_at)
    return body


class AlertmanagerNotifier:
    def __init__(
        self,
        name: str,
        *,
        api_url: str,
        resend_interval_s: float = 60.0,
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        timeout_s: float = 10.0,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.name = name
        self.resend_interval_s: float | None = resend_interval_s
        self._url = api_url.rstrip("/") + "/api/v2/alerts"
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._client = httpx.Client(timeout=timeout_s)

    def secrets(self) -> tuple[str, ...]:
        return ()

    def close(self) -> None:
        self._client.close()

    def notify(self, notification: Notification, memo: MutableMapping[str, Any]) -> None:
        payload = [am_alert(a, False) for a in notification.firing]
        payload += [am_alert(a, True) for a in notification.resolved]
        post_json(
            self._client,
            self._url,
            payload,
            receiver=self.name,
            max_attempts=self._max_attempts,
            backoff_s=self._backoff_s,
            sleep=self._sleep,
        )
