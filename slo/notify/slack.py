"""Slack via slack-sdk's WebClient: one message per alert group, kept up to date.

The first notification posts (chat_postMessage) and the ts goes into the memo; repeats
and the resolution edit that message (chat_update) and reply in its thread, so one
incident is one Slack message however long it lasts and whatever restarts happen.

Each posted message carries the incident in its ``metadata`` (event_type
``qsre_incident``, payload ``{"incident": ..., "group_key": ...}``). When a previous
attempt is in doubt (a crash or a timeout after the post may have reached Slack) and no
ts was saved, the notifier looks the message up in the channel's history
(conversations.history with include_all_metadata) and updates it instead of posting a
second one. That lookup needs the channel ID (``C...``) as ``channel``: with a channel
name Slack answers channel_not_found, and we post (a duplicate beats a lost page).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from slo.alerts import Alert
from slo.delivery.hooks import backoff_sleep, before_call
from slo.notify.base import Notification, NotifyError, Sleep, redact, secret_from_env

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
METADATA_EVENT_TYPE = "qsre_incident"
# How far back (messages) a recovery looks for a message it posted but never saved.
HISTORY_LOOKUP_LIMIT = 200


def api_base_url(url: str) -> str:
    """Slack's Web API base with its trailing ``/api/`` (slack-sdk joins method names onto
    it), whether the configured URL had ``/api``, ``/api/`` or neither."""
    url = url.strip().rstrip("/")
    if not url.endswith("/api"):
        url += "/api"
    return url + "/"


_EMOJI = {"page": ":rotating_light:", "ticket": ":warning:", "info": ":information_source:"}


class SleepingRateLimitHandler(RateLimitErrorRetryHandler):
    """slack-sdk's 429 handler (waits int(Retry-After) + random()) with an injectable sleep
    and random source, so tests can honour Retry-After without the wall-clock wait."""

    def __init__(self, max_retry_count: int, sleep: Sleep, rng: random.Random) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self._rng = rng

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error  # type: ignore[misc]
        state.next_attempt_requested = True
        retry_after = next(
            (v for k, v in response.headers.items() if k.lower() == "retry-after"), None
        )
        first = retry_after[0] if isinstance(retry_after, list) else retry_after
        seconds = int(first) if first and str(first).isdigit() else 1
        backoff_sleep(self._sleep, seconds + self._rng.random())
        before_call()  # the retry is a receiver call: the fence is checked again
        state.increment_current_attempt()


class _SleepingBackoffMixin:
    _sleep: Sleep

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        backoff_sleep(
            self._sleep,
            self.interval_calculator.calculate_sleep_duration(state.current_attempt),  # type: ignore[attr-defined]
        )
        before_call()  # the retry is a receiver call: the fence is checked again
        state.increment_current_attempt()


class SleepingServerErrorHandler(_SleepingBackoffMixin, ServerErrorRetryHandler):
    def __init__(self, max_retry_count: int, sleep: Sleep) -> None:
        super().__init__(max_retry_count, BackoffRetryIntervalCalculator(backoff_factor=0.5))
        self._sleep = sleep


class SleepingConnectionErrorHandler(_SleepingBackoffMixin, ConnectionErrorRetryHandler):
    def __init__(self, max_retry_count: int, sleep: Sleep) -> None:
        super().__init__(max_retry_count, BackoffRetryIntervalCalculator(backoff_factor=0.5))
        self._sleep = sleep


def retry_handlers(
    max_retry_count: int, sleep: Sleep, seed: int | None = None
) -> list[RetryHandler]:
    rng = random.Random(seed)
    return [
        SleepingConnectionErrorHandler(max_retry_count, sleep),
        SleepingRateLimitHandler(max_retry_count, sleep, rng),
        SleepingServerErrorHandler(max_retry_count, sleep),
    ]


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{label}*\n{value or '—'}"}


def blocks(notification: Notification) -> list[dict[str, Any]]:
    """Block Kit for a group: title, severity, SLO, burn rates, budget left, links."""
    lead: Alert = (notification.firing or notification.resolved)[0]
    ann = lead.annotations
    sev = lead.labels.get("severity", "")
    icon = ":white_check_mark:" if notification.status == "resolved" else _EMOJI.get(sev, "")
    out: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"{notification.title}"[:150]},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{icon} {ann.get('description', '')}".strip()},
            "fields": [
                _field("Severity", sev),
                _field("SLO", lead.labels.get("slo", "")),
                _field("Burn rates", ann.get("burn_rates", "")),
                _field("Budget left", ann.get("budget_remaining", "")),
                _field("Backend", lead.labels.get("backend", "")),
                _field(
                    "Alerts",
                    f"{len(notification.firing)} firing, {len(notification.resolved)} resolved",
                ),
            ],
        },
    ]
    buttons = []
    if ann.get("runbook_url"):
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Runbook"},
                "url": ann["runbook_url"],
                "action_id": "runbook",
            }
        )
    if ann.get("dashboard_url"):
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Dashboard"},
                "url": ann["dashboard_url"],
                "action_id": "dashboard",
            }
        )
    if buttons:
        out.append({"type": "actions", "elements": buttons})
    out.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"group `{notification.group_key}` · "
                    f"{notification.now:%Y-%m-%d %H:%M:%S} UTC",
                }
            ],
        }
    )
    return out


class SlackNotifier:
    def __init__(
        self,
        name: str,
        *,
        channel: str,
        token_env: str,
        api_url: str = DEFAULT_API_URL,
        max_retry_count: int = 3,
        timeout_s: int = 10,
        sleep: Sleep = time.sleep,
        seed: int | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.resend_interval_s: float | None = None
        self.channel = channel
        self._token = secret_from_env(name, token_env, environ)
        self.last_answer = ""  # Slack's last answer (no secret), for `qsre alerts test`
        self._client = WebClient(
            token=self._token,
            base_url=api_base_url(api_url),
            timeout=timeout_s,
            retry_handlers=retry_handlers(max_retry_count, sleep, seed),
        )

    def secrets(self) -> tuple[str, ...]:
        return (self._token,)

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        before_call()
        try:
            resp = getattr(self._client, method)(**kwargs)
        except SlackApiError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            err = exc.response.get("error") if exc.response is not None else ""
            retryable = status == 429 or (isinstance(status, int) and status >= 500)
            raise NotifyError(
                self.name,
                redact(f"{method} failed: HTTP {status} {err}", self.secrets()),
                retryable=retryable,
            ) from None
        except (SlackClientError, OSError) as exc:
            raise NotifyError(
                self.name, redact(f"{method} failed: {type(exc).__name__}: {exc}", self.secrets())
            ) from None
        data = dict(resp.data) if isinstance(resp.data, dict) else {}
        if method != "conversations_history":
            self.last_answer = redact(
                str({k: data[k] for k in ("ok", "channel", "ts", "error") if k in data}),
                self.secrets(),
            )
        return data

    def find_message(self, channel: str, incident_id: str) -> str | None:
        """The ts of the message this notifier posted for ``incident_id``, if Slack has
        one (a post whose answer was lost to a crash or a timeout)."""
        data = self._call(
            "conversations_history",
            channel=channel,
            include_all_metadata=True,
            limit=HISTORY_LOOKUP_LIMIT,
        )
        for message in data.get("messages") or ():
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if (
                meta.get("event_type") == METADATA_EVENT_TYPE
                and payload.get("incident") == incident_id
            ):
                return str(message.get("ts"))
        return None

    def notify(self, notification: Notification, memo: MutableMapping[str, Any]) -> None:
        text = notification.title
        body = blocks(notification)
        ts = memo.get("ts")
        recovered = False
        if not ts and notification.in_doubt and notification.incident_id:
            channel = memo.get("channel") or self.channel
            try:
                ts = self.find_message(channel, notification.incident_id)
            except NotifyError as exc:
                # Without the lookup we cannot tell; a second message beats a lost page.
                log.warning("receiver %s: could not look for an earlier post: %s", self.name, exc)
            if ts:
                memo["ts"], memo["channel"] = ts, channel
                recovered = True
        if not ts:
            kwargs: dict[str, Any] = {}
            if notification.incident_id:
                kwargs["metadata"] = {
                    "event_type": METADATA_EVENT_TYPE,
                    "event_payload": {
                        "incident": notification.incident_id,
                        "group_key": notification.group_key[:200],
                    },
                }
            data = self._call(
                "chat_postMessage", channel=self.channel, text=text, blocks=body, **kwargs
            )
            memo["ts"] = data.get("ts")
            memo["channel"] = data.get("channel") or self.channel
            return
        channel = memo.get("channel") or self.channel
        self._call("chat_update", channel=channel, ts=ts, text=text, blocks=body)
        if recovered and notification.status == "firing":
            # The post we are recovering already said this; the update refreshes it.
            return
        if notification.status == "resolved":
            reply = f":white_check_mark: Resolved: {text}"
        elif notification.new_firing:
            names = ", ".join(a.name for a in notification.new_firing)
            reply = f"New in this group: {names}"
        else:
            reply = f"Still firing: {text}"
        self._call("chat_postMessage", channel=channel, thread_ts=ts, text=reply)
