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
from collector.proxy import ExecutionProxy
from collector.recorder import Recorder
from collector.retry import RetryPolicy
from collector.store import Store
from qsre.config import BackendSpec, Config, ReceiverSection
from qsre.errors import ConfigError
from slo.alert_state import AlertStateStore
from slo.notify.alertmanager import AlertmanagerNotifier
from slo.notify.console import ConsoleNotifier
from slo.notify.pagerduty import PagerDutyNotifier
from slo.notify.slack import SlackNotifier
from slo.notify.webhook import WebhookNotifier
from slo.routing import Router

log = logging.getLogger(__name__)


def dashboard_options(config: Config, store_url: str | None = None) -> dict[str, Any]:
    """Keyword arguments of ``dashboards.build_dashboards`` for this config: the
    PostgreSQL table panels only where the store is PostgreSQL (Grafana cannot
    query a SQLite file), rows linking to the configured trace UI."""
    from sqlalchemy.engine import make_url

    url = store_url or config.store_url
    section = config.file.dashboards
    on_postgres = make_url(url).get_backend_name() == "postgresql"
    return {
        "datasource_uid": section.datasource_uid,
        "postgres_datasource_uid": section.postgres_datasource_uid if on_postgres else None,
        "trace_url_template": config.file.links.trace_url_template,
    }


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


def backend_proxy(
    spec: BackendSpec,
    backend: Any,
    *,
    store: Store,
    clock: Clock,
    project: str = "",
    tags: dict[str, Any] | None = None,
    recorder: Recorder | None = None,
    retry: RetryPolicy | None = None,
) -> ExecutionProxy:
    """The recording proxy of a config backend: recorded under the config's name (for
    every kind: an Aer simulator calls itself ``aer_simulator_from(...)``), priced and
    limited as the config says."""
    return ExecutionProxy(
        backend,
        store=store,
        project=project,
        tags=tags,
        pricing=spec.pricing,
        quotas=spec.quotas,
        retry=retry,
        clock=clock,
        recorder=recorder,
        name=spec.name,
    )


class ValidationProxies:
    """A validators ``proxy_factory`` for config backends: the runner only hands over
    the backend object, so each backend built (or adopted) here remembers its spec,
    and validation jobs are recorded under the config name with its pricing and
    quotas (validation on a real QPU is real spend)."""

    def __init__(
        self, store: Store, clock: Clock, *, project: str, recorder: Recorder | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.project = project
        self.recorder = recorder
        # id(backend) -> (backend, spec); the backend is kept so that its id stays its own.
        self._specs: dict[int, tuple[Any, BackendSpec]] = {}

    def adopt(self, spec: BackendSpec, backend: Any) -> Any:
        self._specs[id(backend)] = (backend, spec)
        return backend

    def builder(self, spec: BackendSpec) -> Callable[[], Any]:
        """A zero-argument backend factory (the scheduler's form) that adopts what it builds."""
        return lambda: self.adopt(spec, spec.build(self.clock))

    def _spec(self, backend: Any) -> BackendSpec:
        entry = self._specs.get(id(backend))
        if entry is None or entry[0] is not backend:
            raise ConfigError(
                "validation",
                "backends",
                "a backend built from the config (its pricing and name are not known)",
                getattr(backend, "name", type(backend).__name__),
            )
        return entry[1]

    def sampler_options(self, backend: Any) -> dict[str, Any]:
        """How the runner records the suite when it runs through a sampler (IBM
        hardware): the same name, prices and quotas as through ``backend.run``."""
        spec = self._spec(backend)
        return {"backend_name": spec.name, "pricing": spec.pricing, "quotas": spec.quotas}

    def __call__(self, backend: Any, tags: dict[str, Any]) -> ExecutionProxy:
        return backend_proxy(
            self._spec(backend),
            backend,
            store=self.store,
            clock=self.clock,
            project=self.project,
            tags=tags,
            recorder=self.recorder,
        )


def validate_backend(spec: BackendSpec, *, store: Store, clock: Clock) -> Any:
    """``qsre validate`` on a config backend: the suite once, through a proxy that
    records under the config name at the backend's prices; returns the
    ``validators.runner.ValidationReport``."""
    from validators.runner import VALIDATION_PROJECT, run_validation

    proxies = ValidationProxies(store, clock, project=VALIDATION_PROJECT)
    backend = proxies.adopt(spec, spec.build(clock))
    drift_config, divergence_config = spec.validation.detector_configs()
    return run_validation(
        backend,
        store=store,
        suite=spec.validation.suite(),
        clock=clock,
        drift_config=drift_config,
        divergence_config=divergence_config,
        via=spec.validation.via,
        jobs=spec.validation.jobs,
        proxy_factory=proxies,
    )
