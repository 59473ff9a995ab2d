"""Turns a validated ``Config`` into live objects: store, notifiers, router, engines.

The only place (with the CLI) that knows which pieces are wired together; library
code takes explicit arguments.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collector.clock import Clock
from collector.store import Store
from qsre.config import Config, ReceiverSection
from qsre.errors import ConfigError
from slo.alert_state import AlertStateStore
from slo.notify.alertmanager import AlertmanagerNotifier
from slo.notify.console import ConsoleNotifier
from slo.notify.pagerduty import PagerDutyNotifier
from slo.notify.slack import SlackNotifier
from slo.notify.webhook import WebhookNotifier
from slo.routing import Router

log = logging.getLogger(__name__)


def build_notifier(
    r: ReceiverSection, *, alert_log: Path | None = None, console_stream: Any = None
) -> Any:
    """A receiver from config. Secrets are read from the named env vars, never logged."""
    if r.type == "console":
        return ConsoleNotifier(
            r.name,
            stream=console_stream,
            log_path=Path(r.log_path) if r.log_path else alert_log,
        )
    if r.type == "slack":
        kwargs = {"api_url": r.api_url} if r.api_url else {}
        return SlackNotifier(r.name, channel=r.channel or "", token_env=r.token_env or "", **kwargs)
    if r.type == "pagerduty":
        kwargs = {"events_url": r.events_url} if r.events_url else {}
        return PagerDutyNotifier(r.name, routing_key_env=r.routing_key_env or "", **kwargs)
    if r.type == "webhook":
        return WebhookNotifier(r.name, url=r.url or "", bearer_token_env=r.bearer_token_env)
    if r.type == "alertmanager":
        kwargs = {"resend_interval_s": r.resend_interval_s} if r.resend_interval_s else {}
        return AlertmanagerNotifier(r.name, api_url=r.api_url or "", **kwargs)
    raise ConfigError("alerting.receivers", r.name, "a known receiver type", r.type)


def build_router(
    config: Config,
    store: Store,
    clock: Clock,
    *,
    alert_log: Path | None = None,
    console_stream: Any = None,
    fence: Callable[[], bool] | None = None,
) -> Router:
    """The alert router. ``fence`` (the daemon's router-lease check) is asked by the
    router right before every receiver call; False stops the flush."""
    notifiers = [
        build_notifier(r, alert_log=alert_log, console_stream=console_stream)
        for r in config.file.alerting.receivers
    ]
    if "console" in config.routing.fallback_receivers and all(
        n.name != "console" for n in notifiers
    ):
        # The default fallback receiver (QsreNotificationsFailing): stdout + the alert log.
        notifiers.append(ConsoleNotifier("console", stream=console_stream, log_path=alert_log))
    kwargs: dict[str, Any] = {}
    if fence is not None:
        if router_accepts_fence():
            kwargs["fence"] = fence
        else:
            # An older Router: the evaluation cycle still checks the fence before each
            # flush, but not before each receiver call inside it.
            log.warning("this Router takes no fence: fencing per flush, not per receiver call")
    return Router(config.routing, notifiers, state=AlertStateStore(store), clock=clock, **kwargs)


def router_accepts_fence() -> bool:
    return "fence" in inspect.signature(Router).parameters
