"""Quota guards, checked before submission: a per-job shot cap, a per-project daily
spend cap and a per-backend budget over a period. A breach raises
``QuotaExceeded`` naming the limit and the value; nothing is sent to the backend.

Spend is read from the store (all processes' jobs) at most every ``refresh_s`` of
clock time and advanced locally in between, so the check costs microseconds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.clock import Clock
from collector.cost import spend_usd
from collector.errors import QuotaExceeded
from collector.store import Store

PERIODS = ("day", "week", "month")


@dataclass(frozen=True, slots=True)
class Quotas:
    """Limits for one proxy. ``None`` disables a limit."""

    max_shots_per_job: int | None = None
    project_daily_spend_usd: float | None = None
    backend_budget_usd: float | None = None
    backend_budget_period: str = "month"

    def __post_init__(self) -> None:
        if self.backend_budget_period not in PERIODS:
            raise ValueError(
                f"Quotas.backend_budget_period={self.backend_budget_period!r}: expected one of {PERIODS}"
            )
        for name in ("max_shots_per_job", "project_daily_spend_usd", "backend_budget_usd"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"Quotas.{name}={value!r}: expected a number >= 0 or None")


def period_start(now: datetime, period: str) -> datetime:
    """Start (UTC) of the day, ISO week or month containing ``now``."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown budget period {period!r}: expected one of {PERIODS}")


class QuotaGuard:
    def __init__(
        self,
        quotas: Quotas,
        *,
        store: Store,
        clock: Clock,
        backend: str,
        project: str,
        refresh_s: float = 60.0,
    ) -> None:
        self.quotas = quotas
        self.store = store
        self.clock = clock
        self.backend = backend
        self.project = project
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        # scope -> (period_start, refreshed_at, spent_usd)
        self._spent: dict[str, tuple[datetime, datetime, float]] = {}

    def _spent_usd(self, scope: str, start: datetime, now: datetime) -> float:
        cached = self._spent.get(scope)
        if cached and cached[0] == start and (now - cached[1]).total_seconds() < self.refresh_s:
            return cached[2]
        if scope == "project":
            value = spend_usd(self.store, since=start, project=self.project)
        else:
            value = spend_usd(self.store, since=start, backend=self.backend)
        self._spent[scope] = (start, now, value)
        return value

    def check(self, total_shots: int, estimated_cost_usd: float) -> None:
        q = self.quotas
        if q.max_shots_per_job is not None and total_shots > q.max_shots_per_job:
            raise QuotaExceeded(
                "max_shots_per_job", total_shots, q.max_shots_per_job, f"backend {self.backend}"
            )
        if q.project_daily_spend_usd is None and q.backend_budget_usd is None:
            return
        now = self.clock.now()
        with self._lock:
            if q.project_daily_spend_usd is not None:
                spent = self._spent_usd("project", period_start(now, "day"), now)
                if spent + estimated_cost_usd > q.project_daily_spend_usd:
                    raise QuotaExceeded(
                        "project_daily_spend_usd",
                        round(spent + estimated_cost_usd, 6),
                        q.project_daily_spend_usd,
                        f"project {self.project!r} on {now.date().isoformat()}",
                    )
            if q.backend_budget_usd is not None:
                start = period_start(now, q.backend_budget_period)
                spent = self._spent_usd("backend", start, now)
                if spent + estimated_cost_usd > q.backend_budget_usd:
                    raise QuotaExceeded(
                        "backend_budget_usd",
                        round(spent + estimated_cost_usd, 6),
                        q.backend_budget_usd,
                        f"backend {self.backend} this {q.backend_budget_period}",
                    )

    def charge(self, cost_usd: float) -> None:
        """Count a finished job's cost until the next refresh from the store."""
        if cost_usd <= 0:
            return
        with self._lock:
            for scope, (start, refreshed, spent) in list(self._spent.items()):
                self._spent[scope] = (start, refreshed, spent + cost_usd)
