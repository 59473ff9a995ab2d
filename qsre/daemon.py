"""`qsre run`: one process that wires it all.

- adopts spools left by dead user processes and ships them into the store;
- serves /metrics from the store (jobs recorded by any process appear);
- runs the validation schedules (one replica at a time, via a lease in the store);
- evaluates SLOs and failure-mode signals every evaluation interval and routes alerts;
- writes (and optionally posts) the weekly report on its cron.

Replicas. Any number of `qsre run` processes may share one (PostgreSQL) store. Each
serves the same /metrics and evaluates every cycle, but only the holder of the
``qsre-alert-router`` lease (qsre.duty, collector.lease) routes and notifies, and
every receiver call it makes is fenced by that very hold: a holder paused past its
TTL (SIGSTOP, GC, partition) sends nothing after it wakes. The lease is renewed
every TTL/3 on its own timer; another replica takes over within 2 x TTL of the
holder's death, starting from the alert state the old holder persisted. Log lines
carry the replica id (``<host>:<pid>:<hex>``).

SIGTERM/SIGINT stop it cleanly: schedules finish their current run, the router
flushes in-flight notifications, alert state is already persisted.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from collector.clock import SystemClock
from collector.exporter import StoreExporter, serve_metrics, stop_metrics_server
from collector.health import recorder_errors
from collector.lease import Leases
from collector.shipper import adopt_orphans
from collector.spool import default_spool_dir, spool_backlog
from collector.store import Store
from qsre.config import Config
from qsre.cycle import EvaluationCycle
from qsre.duty import ROUTER_LEASE, LeaseDuty, ReplicaLogFilter, replica_id
from qsre.retention import RetentionDuty
from qsre.watchdog import Watchdog
from qsre.wiring import build_router

log = logging.getLogger("qsre.daemon")
# How often SQLite's planner statistics are refreshed (a sampled ANALYZE: milliseconds).
STATISTICS_INTERVAL_S = 3600


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: structured logs for the daemon."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "replica": getattr(record, "replica", ""),
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def configure_json_logging(level: str = "INFO", *, replica: str = "") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    # On the handler, not a logger: records of every logger (libraries too) pass it.
    handler.addFilter(ReplicaLogFilter(replica))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("QSRE_LOG_LEVEL", level))


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        db: str | None = None,
        host: str | None = None,
        port: int | None = None,
        schedules: bool = True,
        adopt_interval_s: float = 10.0,
    ) -> None:
        self.config = config
        self.clock = SystemClock()
        self.store = Store(db or config.store_url)
        self.spool_dir = (
            Path(config.file.store.spool_dir)
            if config.file.store.spool_dir
            else default_spool_dir(self.store.url)
        )
        self.host = host or config.file.exporter.host
        self.port = config.file.exporter.port if port is None else port
        self.schedules_enabled = schedules
        self.adopt_interval_s = adopt_interval_s
        # Stable across restarts (the scheduler's job table is named after it) but
        # distinct for two replicas on one host.
        self.holder_id = f"{socket.gethostname()}-{self.port}"
        # Unique per process: the router lease holder and the log/metric identity.
        self.replica = replica_id()
        alerting = config.file.alerting
        self.router_duty = LeaseDuty(
            Leases(self.store), ROUTER_LEASE, self.replica, self.clock, ttl_s=alerting.lease_ttl_s
        )
        self.retention = RetentionDuty.from_config(
            config, self.store, self.clock, holder=self.replica
        )
        self._routing_epoch: int | None = None
        self.span_sink = self._configure_tracing()
        self.cycle = EvaluationCycle(
            config, self.store, self._follower_router(), self.clock, health=self._health
        )
        self.watchdog = Watchdog.from_config(
            alerting.watchdog,
            alerting.receivers,
            evaluation_interval_s=alerting.evaluation_interval_s,
            replica=self.replica,
        )
        self.exporter = metrics_exporter(
            self.store,
            self.clock,
            self.cycle,
            spool_events=self._spool_events,
            replica=self.replica,
            leases={ROUTER_LEASE: self.router_duty},
        )
        self.scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
        )
        self.validation = None
        self._stop = threading.Event()
        self._started_s = self.clock.now().timestamp()
        self._server: Any = None
        self.bound_port: int | None = None

    def _configure_tracing(self) -> Any:
        tracing = self.config.file.tracing
        if not tracing.otlp_endpoint and not tracing.console:
            return None
        from collector.tracing import configure_tracing, enable_tracing

        provider = configure_tracing(otlp_endpoint=tracing.otlp_endpoint, console=tracing.console)
        return enable_tracing(provider).emit

    # ------------------------------------------------------------ health & metrics
    def _spool_events(self) -> dict[str, float]:
        backlog = spool_backlog(self.spool_dir).events_by_state()
        return {state: float(n) for state, n in backlog.items()}

    def _health(self) -> Any:
        from slo.signals import HealthSnapshot

        return HealthSnapshot(
            spool_pending_bytes=spool_backlog(self.spool_dir).unshipped_bytes,
            spool_max_bytes=1024 * 1024 * 1024,
            recorder_errors_recent=int(sum(recorder_errors.snapshot().values())),
            store_reachable=True,
        )

    # ------------------------------------------------------------ jobs
    def adopt(self) -> None:
        try:
            adopted = adopt_orphans(
                self.spool_dir, self.store, clock=self.clock, span_sink=self.span_sink
            )
            if adopted:
                log.info("adopted %d orphaned spools: %s", len(adopted), adopted)
        except Exception:  # noqa: BLE001
            log.exception("spool adoption failed")

    @property
    def router(self) -> Any:
        return self.cycle.router

    def _follower_router(self) -> Any:
        # A read-only copy of the holder's persisted alert state (for qsre_alerts_firing
        # on every replica); its fence always says no, so it can never send.
        return build_router(self.config, self.store, self.clock, fence=_never)

    def renew_router_lease(self) -> None:
        """Take or renew the router lease (every TTL/3, own timer). A replica whose
        evaluation has stalled stands down, so a live replica can take over."""
        was = self.router_duty.current()
        lease = self.router_duty.renew(healthy=self._evaluation_fresh())
        if lease is not None and (was is None or was.epoch != lease.epoch):
            # Just became the holder: evaluate and route now, not at the next interval.
            try:
                self.scheduler.modify_job("evaluate", next_run_time=datetime.now(UTC))
            except Exception:  # noqa: BLE001 - not scheduled yet (start-up) or stopping
                log.debug("could not bring the evaluation forward", exc_info=True)

    def _evaluation_fresh(self) -> bool:
        interval = self.config.file.alerting.evaluation_interval_s
        last = self.cycle.last_completed_s or self._started_s
        # Three intervals (and never under two TTLs): a slow cycle with receiver
        # back-offs is not a stall; the stall alert uses the same three intervals.
        limit = max(3 * interval, 2 * self.router_duty.ttl_s)
        return self.clock.now().timestamp() - last <= limit

    def evaluate(self) -> None:
        lease = self.router_duty.current()
        fence = self.router_duty.fence_for(lease) if lease is not None else None
        leading = lease is not None and fence is not None and fence()
        if leading and lease is not None and self._routing_epoch != lease.epoch:
            # A new hold: start from what the previous holder persisted (open
            # incidents, what each receiver was told), not from this replica's copy.
            self.cycle.router = build_router(self.config, self.store, self.clock, fence=fence)
            self._routing_epoch = lease.epoch
            log.info("routing alerts (lease %s epoch %d)", ROUTER_LEASE, lease.epoch)
        elif not leading:
            if self._routing_epoch is not None:
                log.warning("not routing alerts any more (lease %s lost)", ROUTER_LEASE)
            self._routing_epoch = None
            self.cycle.router = self._follower_router()
        result = self.cycle.tick(self.clock.now(), route=leading, fence=fence)
        for e in result.errors:
            log.error("evaluation: %s", e)
        if result.flush.sent or result.flush.failed:
            log.info(
                "notifications sent=%d failed=%d", len(result.flush.sent), len(result.flush.failed)
            )
        if getattr(result.flush, "fenced", False):
            log.warning("flush stopped by the lease fence: this replica no longer routes")
        elif leading and self.watchdog is not None:
            self.watchdog.beat(self.clock.now(), fence)

    def weekly_report(self) -> None:
        from slo.report import build_weekly_report, post_report_to_slack

        weekly = self.config.file.reports.weekly
        lease = self.router_duty.current()
        if lease is None or not self.router_duty.fence_for(lease)():
            # A singleton duty: with replicas, only the router lease holder writes and
            # posts it (every replica's cron fires).
            log.info("weekly report skipped: this replica does not hold %s", ROUTER_LEASE)
            return
        try:
            paths = build_weekly_report(
                self.store,
                self.config.slos,
                clock=self.clock,
                out_dir=Path(weekly.out_dir),
                timezone=weekly.timezone,
            )
            log.info("weekly report written: %s", paths.html)
            if weekly.slack is not None:
                post_report_to_slack(
                    paths,
                    token_env=weekly.slack.token_env,
                    channel=weekly.slack.channel,
                    api_url=weekly.slack.api_url,
                )
        except Exception:  # noqa: BLE001
            log.exception("weekly report failed")

    def refresh_statistics(self) -> None:
        """SQLite's planner statistics follow the store's growth (Store.refresh_statistics)."""
        try:
            self.store.refresh_statistics()
        except Exception:  # noqa: BLE001 - a stale plan is no reason to stop the daemon
            log.exception("refreshing store statistics failed")

    def start(self) -> None:
        self._server, self._server_thread, self.bound_port = serve_metrics(
            self.exporter, self.host, self.port
        )
        log.info("serving /metrics on %s:%d", self.host, self.bound_port)
        self._started_s = self.clock.now().timestamp()
        self.adopt()
        self.renew_router_lease()  # before the first evaluation: the holder routes at once
        self.scheduler.add_job(
            self.renew_router_lease,
            "interval",
            seconds=self.router_duty.renew_interval_s,
            id="router_lease",
        )
        self.scheduler.add_job(self.adopt, "interval", seconds=self.adopt_interval_s, id="adopt")
        self.scheduler.add_job(
            self.refresh_statistics, "interval", seconds=STATISTICS_INTERVAL_S, id="statistics"
        )
        self.retention.schedule(self.scheduler)
        self.scheduler.add_job(
            self.evaluate,
            "interval",
            seconds=self.config.file.alerting.evaluation_interval_s,
            id="evaluate",
            next_run_time=datetime.now(UTC),
        )
        weekly = self.config.file.reports.weekly
        if weekly.enabled:
            self.scheduler.add_job(
                self.weekly_report,
                CronTrigger.from_crontab(weekly.cron, timezone=weekly.timezone),
                id="weekly_report",
            )
        self.scheduler.start()
        if self.schedules_enabled:
            self._start_validation()

    def _start_validation(self) -> None:
        from qsre.wiring import ValidationProxies
        from validators.runner import VALIDATION_PROJECT
        from validators.scheduler import ValidationScheduler

        specs = [b for b in self.config.backends if b.validation.enabled]
        if not specs:
            return
        validation = self.config.file.validation
        drift_config, divergence_config = validation.detector_configs()
        # Validation jobs are recorded under the config name, at the backend's prices.
        proxies = ValidationProxies(self.store, self.clock, project=VALIDATION_PROJECT)
        self.validation = ValidationScheduler(
            self.store,
            {b.name: proxies.builder(b) for b in specs},
            {b.name: b.validation.schedule_spec() for b in specs},
            clock=self.clock,
            holder_id=self.holder_id,
            lease_holder=self.replica,
            suite=validation.suite(),
            drift_config=drift_config,
            divergence_config=divergence_config,
            via={b.name: b.validation.via for b in specs},
            jobs=validation.jobs,
            proxy_factory=proxies,
        )
        self.validation.start()

    def stop(self) -> None:
        log.info("stopping")
        if self.validation is not None:
            self.validation.shutdown()
        self.scheduler.shutdown(wait=True)
        lease = self.router_duty.current()
        if lease is not None and self._routing_epoch == lease.epoch:
            try:
                self.router.flush(self.clock.now())
            except Exception:  # noqa: BLE001
                log.exception("final router flush failed")
        # Hand routing over now rather than after the TTL.
        self.router_duty.release()
        self.retention.release()
        if self.watchdog is not None:
            self.watchdog.close()
        if self._server is not None:
            stop_metrics_server(self._server, self._server_thread)
        # The next start resumes from here instead of aggregating the whole store.
        self.exporter.checkpoint()
        from collector.recorder import close_all

        close_all()
        log.info("stopped")

    def run_forever(self) -> None:
        configure_json_logging(replica=self.replica)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stop.set())
        self.start()
        self._stop.wait()
        self.stop()


def _never() -> bool:
    return False


def metrics_exporter(
    store: Store,
    clock: Any,
    cycle: EvaluationCycle,
    *,
    spool_events: Any = None,
    replica: str = "",
    leases: dict[str, LeaseDuty] | None = None,
) -> StoreExporter:
    """The store-tailing exporter plus every extra source: validation metrics, SLO
    gauges, the router's firing alerts and the daemon's own liveness (shared by the
    daemon and `demo --serve`)."""
    from validators.metrics import ValidationMetrics
    from validators.store import ValidationStore

    exporter = StoreExporter(
        store, clock, spool_events=spool_events, recorder_errors=recorder_errors
    )
    exporter.add_source(ValidationMetrics(ValidationStore(store), clock=clock))
    exporter.add_source(cycle.engine.metrics_source())
    exporter.add_source(_AlertsSource(cycle, clock))
    exporter.add_source(_RouterMetricsSource(cycle))
    exporter.add_source(_DaemonSource(cycle, replica, leases or {}))
    return exporter


def _kind_severities() -> tuple[tuple[str, str], ...]:
    from runbooks.catalog import RUNBOOK_KINDS, runbook_for

    return tuple((kind, runbook_for(kind).severity) for kind in RUNBOOK_KINDS)


_KIND_SEVERITIES = _kind_severities()


class _AlertsSource:
    """qsre_alerts_firing{kind,severity} from the router's live state. Given the
    evaluation cycle, it reads the cycle's router of the moment (the daemon swaps it
    when this replica takes or loses the router lease)."""

    def __init__(self, router_or_cycle: Any, clock: Any) -> None:
        self._source = router_or_cycle
        self.clock = clock

    @property
    def router(self) -> Any:
        src = self._source
        return src.router if isinstance(src, EvaluationCycle) else src

    def collect(self):  # noqa: ANN201
        from prometheus_client.core import GaugeMetricFamily

        g = GaugeMetricFamily(
            "qsre_alerts_firing",
            "Alerts firing (not silenced or inhibited) by kind and severity",
            labels=["kind", "severity"],
        )
        # Every known kind at its catalogue severity starts at 0: quiet is a 0, not
        # a missing series.
        counts = dict.fromkeys(_KIND_SEVERITIES, 0)
        counts.update(self.router.firing_counts(self.clock.now()))
        for (kind, severity), n in sorted(counts.items()):
            g.add_metric([kind, severity], n)
        yield g


class _RouterMetricsSource:
    """The current router's own metrics (``Router.metrics_source()``, when the Router
    has one), read through the cycle: the daemon swaps routers on lease changes."""

    def __init__(self, cycle: EvaluationCycle) -> None:
        self.cycle = cycle

    def collect(self):  # noqa: ANN201
        source = getattr(self.cycle.router, "metrics_source", None)
        if source is not None:
            yield from source().collect()


class _DaemonSource:
    """Watching the watcher: when this process last finished an evaluation cycle, who
    it is, and which leases it holds. One series each per process (bounded labels:
    the replica id, and the lease names qsre defines)."""

    def __init__(self, cycle: EvaluationCycle, replica: str, leases: dict[str, LeaseDuty]) -> None:
        self.cycle = cycle
        self.replica = replica
        self.leases = leases

    def collect(self):  # noqa: ANN201
        from prometheus_client.core import GaugeMetricFamily

        from collector.metrics import DAEMON_INFO, LAST_EVALUATION_TIMESTAMP, LEASE_HELD

        if self.cycle.last_completed_s is not None:
            # Absent until the first cycle: the stall rule's absent() covers a daemon
            # that never managed one.
            g = GaugeMetricFamily(LAST_EVALUATION_TIMESTAMP.name, LAST_EVALUATION_TIMESTAMP.help)
            g.add_metric([], self.cycle.last_completed_s)
            yield g
        if self.replica:
            info = GaugeMetricFamily(DAEMON_INFO.name, DAEMON_INFO.help, labels=["replica"])
            info.add_metric([self.replica], 1)
            yield info
        if self.leases:
            held = GaugeMetricFamily(LEASE_HELD.name, LEASE_HELD.help, labels=["lease"])
            for name, duty in sorted(self.leases.items()):
                lease = duty.current()
                live = lease is not None and lease.expires_at > duty.clock.now()
                held.add_metric([name], 1 if live else 0)
            yield held
