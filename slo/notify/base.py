"""What every receiver gets and promises.

A receiver gets one ``Notification`` per (receiver, alert group) flush and a mutable
``memo`` (persisted by the router right after every attempt, success or not, in the
delivery ledger's outcome transaction) where it keeps what it needs to continue the
same conversation later: the Slack message ts, the PagerDuty alerts already triggered.
A receiver raises ``NotifyError`` on failure; its message never contains a secret.
Before every request (retries included) a receiver calls
``slo.delivery.hooks.before_call()``, which enforces the router's leadership fence.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from slo.alerts import Alert, AlertingError, InvalidAlert

REDACTED = "[REDACTED]"


class NotifyError(AlertingError):
    """A receiver failed to deliver. ``retryable`` False means the far end rejected the
    request (e.g. HTTP 400): sending it again would fail the same way."""

    def __init__(self, receiver: str, message: str, *, retryable: bool = True) -> None:
        self.receiver = receiver
        self.retryable = retryable
        self.detail = message  # without the "receiver ...:" prefix
        super().__init__(f"receiver {receiver!r}: {message}")


@dataclass(frozen=True)
class Notification:
    """One group notification for one receiver."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    firing: tuple[Alert, ...]
    resolved: tuple[Alert, ...]
    new_firing: tuple[Alert, ...]
    now: datetime
    external_url: str = ""
    is_repeat: bool = False
    # This receiver's incident for the group (new after it has shown RESOLVED): Slack
    # marks its message with it, PagerDuty folds it into the dedup_key.
    incident_id: str = ""
    # A previous attempt for this incident may have reached the receiver without us
    # learning so (crash, timeout): the receiver must not create a second message.
    in_doubt: bool = False

    @property
    def status(self) -> str:
        return "firing" if self.firing else "resolved"

    @property
    def alerts(self) -> tuple[Alert, ...]:
        return self.firing + self.resolved

    @property
    def common_labels(self) -> dict[str, str]:
        return _common(a.labels for a in self.alerts)

    @property
    def common_annotations(self) -> dict[str, str]:
        return _common(a.annotations for a in self.alerts)

    @property
    def title(self) -> str:
        lead = (self.firing or self.resolved)[0]
        count = len(self.alerts)
        tail = f" (+{count - 1} more)" if count > 1 else ""
        summary = lead.annotations.get("summary") or lead.name
        return f"[{self.status.upper()}] {summary}{tail}"


def _common(maps: Iterable[Mapping[str, str]]) -> dict[str, str]:
    out: dict[str, str] | None = None
    for m in maps:
        out = dict(m) if out is None else {k: v for k, v in out.items() if m.get(k) == v}
    return out or {}


@runtime_checkable
class Notifier(Protocol):
    """A receiver. ``resend_interval_s`` (or None) asks the router to re-send a firing
    group at least that often (Alertmanager forgets alerts that are not re-sent)."""

    name: str
    resend_interval_s: float | None

    def notify(self, notification: Notification, memo: MutableMapping[str, Any]) -> None: ...

    def secrets(self) -> tuple[str, ...]: ...


def secret_from_env(
    receiver: str, env_name: str | None, environ: Mapping[str, str] | None = None
) -> str:
    """Read a secret by the name of its environment variable. Errors name the variable,
    never a value."""
    if not env_name:
        raise InvalidAlert(f"receivers.{receiver}.*_env", env_name, "an environment variable name")
    env = os.environ if environ is None else environ
    value = env.get(env_name)
    if not value:
        raise InvalidAlert(
            f"receivers.{receiver}", env_name, f"environment variable {env_name} to be set"
        )
    return value


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced; used on every error message we keep."""
    for s in secrets:
        if s:
            text = text.replace(s, REDACTED)
    return text


def no_sleep(_seconds: float) -> None:
    """A sleep that does not wait (tests inject it to keep retry back-offs instant)."""


Sleep = Callable[[float], None]
