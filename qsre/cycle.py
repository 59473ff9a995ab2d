"""One evaluation cycle: SLOs and failure-mode signals into the alert router.

The daemon runs it every ``alerting.evaluation_interval_s``; the demo runs it on
virtual time. Sources are separate so that each one's set of firing alerts is
complete on its own (absent alerts of a source resolve).
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
from slo.alerts import Alert
from slo.engine import SLOEngine
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
        self.engine = SLOEngine(store, config.slos, clock=clock)
        self.signal_config = SignalConfig.from_mapping(
            config.file.alerting.signals, where=f"{config.source}: alerting.signals"
        )
        self.links = config.file.links
        self.last: CycleResult | None = None
        self._last_signals: list[Alert] = []

    def tick(self, now: datetime | None = None) -> CycleResult:
        """Evaluate everything as of ``now`` and let the router notify what is due.

        A failing part is logged and skipped; the others still run (a broken SLO
        query must not silence an auth outage page).
        """
        now = now or self.clock.now()
        errors: list[str] = []
        statuses: list[Any] = []
        alerts: list[Alert] = []
        try:
            statuses = self.engine.evaluate(now)
            slo_alerts = self.engine.alerts(
                statuses,
                runbook_base_url=self.links.runbook_base_url,
                dashboard_base_url=self.links.dashboard_base_url,
            )
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
                runbook_base_url=self.links.runbook_base_url,
                dashboard_base_url=self.links.dashboard_base_url,
                health=self.health() if self.health else None,
                previous=self._last_signals,
            )
            self._last_signals = signal_alerts
            self.router.process(signal_alerts, now, source="signals")
            alerts.extend(signal_alerts)
        except Exception as exc:  # noqa: BLE001
            log.exception("signal evaluation failed")
            errors.append(f"signals: {exc}")
        report = self.router.flush(now)
        self.last = CycleResult(now, statuses, alerts, report, errors)
        return self.last
