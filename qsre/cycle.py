"""One evaluation cycle: SLOs and failure-mode signals into the alert router.

The daemon runs it every ``alerting.evaluation_interval_s``; the demo runs it on
virtual time. Sources are separate so that each one's set of firing alerts is
complete on its own (absent alerts of a source resolve).

With replicas, every replica evaluates (so each serves the same SLO gauges) but
only the router lease holder routes: ``tick(route=False)`` evaluates without
touching the router, and ``fence`` (the holder's lease check) is asked before the
router persists or sends anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.clock import Clock
from collector.store import Store
from qsre.config import Config
from runbooks.catalog import runbook_base
from slo.alerts import Alert
from slo.engine import SLOEngine
from slo.rollup import Rollups
from slo.routing import FlushReport, Router
from slo.signals import SignalConfig, evaluate_signals

log = logging.getLogger(__name__)


@dataclass
class CycleResult:
    at: datetime
    statuses: list[Any]
    alerts: list[Alert]
    flush: FlushReport
    errors: list[str] = field(default_factory=list)


class EvaluationCycle:
    def __init__(
        self,
        config: Config,
        store: Store,
        router: Router,
        clock: Clock,
        *,
        health: Callable[[], Any] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.router = router
        self.clock = clock
        self.health = health
        # A new or edited SLO's rollups are built a few days per cycle (newest first),
        # so its history never holds a cycle up for more than a sixth of the interval.
        build_s = config.file.alerting.evaluation_interval_s / 6
        self.engine = SLOEngine(
            store, config.slos, clock=clock, rollups=Rollups(store, max_build_s=build_s)
        )
        self.signal_config = SignalConfig.from_mapping(
            config.file.alerting.signals, where=f"{config.source}: alerting.signals"
        )
        self.links = config.file.links
        # Resolved once: an unset links.runbook_base_url means the installed runbook
        # files (file:// URIs), so that every alert carries a link that works offline.
        self.runbook_base_url = runbook_base(self.links.runbook_base_url)
        self.last: CycleResult | None = None
        # Epoch seconds of the clock when the last tick finished (the
        # qsre_last_evaluation_timestamp_seconds gauge); None before the first.
        self.last_completed_s: float | None = None
        self._last_signals: list[Alert] = []

    def tick(
        self,
        now: datetime | None = None,
        *,
        route: bool = True,
        fence: Callable[[], bool] | None = None,
    ) -> CycleResult:
        """Evaluate everything as of ``now`` and, if ``route``, let the router notify
        what is due. ``fence`` is checked before each router step (a False answer
        stops routing for this tick; the evaluation itself still completes).

        A failing part is logged and skipped; the others still run (a broken SLO
        query must not silence an auth outage page).
        """
        now = now or self.clock.now()

        def may_route() -> bool:
            return route and (fence is None or fence())

        errors: list[str] = []
        statuses: list[Any] = []
        alerts: list[Alert] = []
        try:
            statuses = self.engine.evaluate(now)
            slo_alerts = self.engine.alerts(
                statuses,
                runbook_base_url=self.runbook_base_url,
                dashboard_base_url=self.links.dashboard_base_url,
            )
            if may_route():
                self.router.process(slo_alerts, now, source="slo")
            alerts.extend(slo_alerts)
        except Exception as exc:  # noqa: BLE001 - keep the other sources alive
            log.exception("SLO evaluation failed")
            errors.append(f"slo: {exc}")
        try:
            signal_alerts = evaluate_signals(
                self.store,
                now,
                self.signal_config,
                runbook_base_url=self.runbook_base_url,
                dashboard_base_url=self.links.dashboard_base_url,
                health=self.health() if self.health else None,
                previous=self._last_signals,
            )
            self._last_signals = signal_alerts
            if may_route():
                self.router.process(signal_alerts, now, source="signals")
            alerts.extend(signal_alerts)
        except Exception as exc:  # noqa: BLE001
            log.exception("signal evaluation failed")
            errors.append(f"signals: {exc}")
        report = self.router.flush(now) if may_route() else FlushReport()
        self.last = CycleResult(now, statuses, alerts, report, errors)
        self.last_completed_s = self.clock.now().timestamp()
        return self.last
