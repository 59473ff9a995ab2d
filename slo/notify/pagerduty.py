"""PagerDuty Events API v2 over httpx: one trigger per alert, one resolve per alert.

``dedup_key`` is the alert fingerprint plus this receiver's incident id, so PagerDuty
folds re-sends (retries, a restart after a crash) into one incident, while a re-fire
after PagerDuty has shown the resolve is a new incident with a new key. On top of that
the memo remembers which alerts were already triggered, so repeats and restarts never
send a second trigger. A 4xx other than 429 fails the notification (never "sent"); the
router tries it again on the group's next interval, not on every flush.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

import httpx

from slo.alerts import Alert
from slo.notify.base import Notification, NotifyError, Sleep, secret_from_env
from slo.notify.http_post import post_json

log = logging.getLogger(__name__)

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
ENQUEUE_PATH = "/v2/enqueue"


def events_base_url(url: str) -> str:
    """The Events API base URL, whether given as a base or as the full ``/v2/enqueue``
    endpoint PagerDuty documents (appending the path twice answers 404)."""
    url = url.strip().rstrip("/")
    if url.endswith(ENQUEUE_PATH):
        url = url[: -len(ENQUEUE_PATH)]
    return url.rstrip("/")


def dedup_key(fingerprint: str, incident_id: str) -> str:
    return f"{fingerprint}-{incident_id}" if incident_id else fingerprint


_SEVERITY = {"page": "critical", "ticket": "warning", "info": "info"}
SUMMARY_MAX_CHARS = 1024


class PagerDutyNotifier:
    def __init__(
        self,
        name: str,
        *,
        routing_key_env: str,
        events_url: str = DEFAULT_EVENTS_URL,
        source: str = "qsre",
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        timeout_s: float = 10.0,
        sleep: Sleep = time.sleep,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.resend_interval_s: float | None = None
        self._routing_key = secret_from_env(name, routing_key_env, environ)
        self._url = events_base_url(events_url) + ENQUEUE_PATH
        self.last_answer = ""  # the receiver's last answer body (no secret), for `alerts test`
        self._source = source
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._client = httpx.Client(timeout=timeout_s)

    def secrets(self) -> tuple[str, ...]:
        return (self._routing_key,)

    def close(self) -> None:
        self._client.close()

    def event(self, alert: Alert, action: str, notification: Notification) -> dict[str, Any]:
        """The Events v2 body for one alert (routing key included)."""
        summary = alert.annotations.get("summary") or alert.name or alert.fingerprint
        labels = alert.labels
        body: dict[str, Any] = {
            "routing_key": self._routing_key,
            "event_action": action,
            "dedup_key": dedup_key(alert.fingerprint, notification.incident_id),
        }
        if action == "trigger":
            body["payload"] = {
                "summary": f"[{labels.get('severity', '?')}] {summary}"[:SUMMARY_MAX_CHARS],
                "source": labels.get("backend") or self._source,
                "severity": _SEVERITY.get(labels.get("severity", ""), "error"),
                "timestamp": (alert.starts_at or notification.now).isoformat(),
                "component": labels.get("backend", ""),
                "group": labels.get("slo") or labels.get("kind", ""),
                "class": labels.get("kind", ""),
                "custom_details": {
                    "labels": dict(labels),
                    "annotations": dict(alert.annotations),
                    "fingerprint": alert.fingerprint,
                },
            }
            links = []
            if alert.annotations.get("runbook_url"):
                links.append({"href": alert.annotations["runbook_url"], "text": "Runbook"})
            if alert.annotations.get("dashboard_url"):
                links.append({"href": alert.annotations["dashboard_url"], "text": "Dashboard"})
            if links:
                body["links"] = links
        return body

    def notify(self, notification: Notification, memo: MutableMapping[str, Any]) -> None:
        triggered: list[str] = list(memo.get("triggered", []))
        errors: list[str] = []
        retryable = False
        todo = [(a, "trigger") for a in notification.firing if a.fingerprint not in triggered]
        todo += [(a, "resolve") for a in notification.resolved if a.fingerprint in triggered]
        for alert, action in todo:
            try:
                resp = post_json(
                    self._client,
                    self._url,
                    self.event(alert, action, notification),
                    receiver=self.name,
                    secrets=self.secrets(),
                    max_attempts=self._max_attempts,
                    backoff_s=self._backoff_s,
                    sleep=self._sleep,
                )
            except NotifyError as exc:
                retryable = retryable or exc.retryable
                errors.append(f"{action} {alert.fingerprint}: {exc.detail}")
                continue
            self.last_answer = resp.text[:300]
            if action == "trigger":
                triggered.append(alert.fingerprint)
            else:
                triggered.remove(alert.fingerprint)
            # Kept as we go: after a failure mid-batch, the next flush does not re-trigger
            # the alerts PagerDuty already accepted.
            memo["triggered"] = triggered
        memo.pop("rejected", None)  # kept by earlier versions; a 4xx is now retried later
        if errors:
            raise NotifyError(self.name, "; ".join(errors), retryable=retryable)
