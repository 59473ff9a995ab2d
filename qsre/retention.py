"""Retention as policy: which raw rows go, when, and who deletes them.

``store.retention`` in qsre.yaml says how long each kind of raw row is kept; this
module turns it into cutoffs and runs each owning package's pruner (collector:
jobs, their counts and calibration snapshots; validators: validation runs; slo: the
notification log). Rollups, alert state, silences and the detector state are never
pruned: SLOs and past reports answer from rollups after raw rows are gone.

The daemon runs it as one leased duty (``qsre-retention``): every
``interval_s`` the holder deletes for at most ``max_run_s``, in transactions of
``batch_rows`` rows, checking its lease before each batch. Evaluation runs on its
own scheduler thread; a batch is one short transaction, so a cycle waits at most
for one batch (docs/retention.md has the measurements). `qsre store prune` runs the
same walk by hand, to the end, or counts with ``--dry-run``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from collector.clock import Clock
from collector.lease import Leases
from collector.retention import (
    Budget,
    PruneResult,
    prune_calibration_snapshots,
    prune_job_results,
    prune_jobs,
)
from collector.store import Store
from qsre.config import Config, RetentionSection
from qsre.duty import LeaseDuty
from qsre.errors import ConfigError
from slo.errors import SLOError
from slo.policy import get_policy
from slo.retention import prune_notification_log
from slo.spec import SLO
from slo.windows import CalendarWindow, factor_period_s
from validators.retention import prune_validation_runs

log = logging.getLogger(__name__)

RETENTION_LEASE = "qsre-retention"
# The order of the walk: counts before their jobs (a job goes only once its counts
# are gone), then the small tables.
TABLES = (
    "job_results",
    "jobs",
    "calibration_snapshots",
    "validation_runs",
    "slo_notification_log",
)
# A calendar month is up to 31 days (plus a DST hour); a week is 7.
_CALENDAR_SLACK_S = 2 * 86400
# History must begin before the longest window does (slo.rollup dates it from the
# oldest job still stored), so jobs are kept a day longer than any SLO reads.
_HISTORY_MARGIN_S = 86400


@dataclass(frozen=True)
class RetentionPolicy:
    """Retention per table in seconds (None: kept forever), and the duty's pacing."""

    jobs_s: int | None
    job_results_s: int | None
    validation_runs_s: int | None
    notification_log_s: int | None
    enabled: bool = True
    interval_s: float = 300.0
    max_run_s: float = 10.0
    batch_rows: int = 5000

    @classmethod
    def from_section(cls, section: RetentionSection) -> RetentionPolicy:
        return cls(
            jobs_s=section.seconds("jobs"),
            job_results_s=section.seconds("job_results"),
            validation_runs_s=section.seconds("validation_runs"),
            notification_log_s=section.seconds("notification_log"),
            enabled=section.enabled,
            interval_s=section.interval_s,
            max_run_s=section.max_run_s,
            batch_rows=section.batch_rows,
        )

    @classmethod
    def from_config(cls, config: Config) -> RetentionPolicy:
        """The configured policy; a ConfigError if jobs would go before the longest
        SLO window (a new or edited SLO builds its rollups from raw jobs)."""
        policy = cls.from_section(config.file.store.retention)
        if not config.slos or policy.jobs_s is None:
            return policy
        slo = max(config.slos, key=_evaluated_s)
        needed = _evaluated_s(slo) + _HISTORY_MARGIN_S
        if policy.jobs_s < needed:
            raise ConfigError(
                config.source,
                "store.retention.jobs",
                f"at least {-(-needed // 86400)}d: SLO {slo.name!r} evaluates "
                f"{_evaluated_s(slo) // 86400} d of history (window and burn windows), "
                "and a new or edited SLO builds its rollups from raw jobs",
                config.file.store.retention.jobs,
            )
        return policy

    def retention_s(self, table: str) -> int | None:
        return {
            "job_results": self.job_results_s,
            "jobs": self.jobs_s,
            "calibration_snapshots": self.jobs_s,
            "validation_runs": self.validation_runs_s,
            "slo_notification_log": self.notification_log_s,
        }[table]

    def cutoffs(self, now: datetime) -> dict[str, datetime | None]:
        """Per table, the instant before which rows go (None: kept forever)."""
        out: dict[str, datetime | None] = {}
        for table in TABLES:
            keep_s = self.retention_s(table)
            out[table] = None if keep_s is None else now - timedelta(seconds=keep_s)
        return out


def _evaluated_s(slo: SLO) -> int:
    """How far back the engine reads for this SLO: its window or its longest burn
    window, whichever is longer."""
    extra = _CALENDAR_SLACK_S if isinstance(slo.window, CalendarWindow) else 0
    period = factor_period_s(slo.window) + extra
    try:
        burn = max(get_policy(slo.policy).windows_s(), default=0)
    except SLOError:  # a policy defined elsewhere: the window alone
        burn = 0
    return max(period, burn)


def prune_store(
    engine: Engine,
    policy: RetentionPolicy,
    now: datetime,
    *,
    dry_run: bool = False,
    max_seconds: float | None = None,
    fence: Callable[[], bool] | None = None,
    timer: Callable[[], float] = time.monotonic,
) -> list[PruneResult]:
    """Run every pruner in order under one time budget (None: each to its boundary).
    Tables kept forever are left out of the result. Every pruner runs at least one
    batch, so a run is bounded by ``max_seconds`` plus one batch per table."""
    deadline = None if max_seconds is None else timer() + max_seconds
    cutoffs = policy.cutoffs(now)

    def budget() -> Budget:
        left = None if deadline is None else max(deadline - timer(), 1e-3)
        return Budget(batch_rows=policy.batch_rows, max_seconds=left, timer=timer)

    common: dict[str, Any] = {"now": now, "dry_run": dry_run, "fence": fence}
    results: list[PruneResult] = []
    results_cursor: int | None = None
    for table in TABLES:
        cutoff = cutoffs[table]
        if cutoff is None:
            continue
        if table == "job_results":
            result = prune_job_results(engine, cutoff, budget=budget(), **common)
            results_cursor = result.cursor
        elif table == "jobs":
            # A dry run deleted no counts: the jobs walk stops where the counts'
            # walk would have got to, as a real run's would.
            result = prune_jobs(
                engine,
                cutoff,
                budget=budget(),
                results_cursor=results_cursor if dry_run else None,
                **common,
            )
        elif table == "calibration_snapshots":
            result = prune_calibration_snapshots(engine, cutoff, dry_run=dry_run)
        elif table == "validation_runs":
            result = prune_validation_runs(engine, cutoff, budget=budget(), **common)
        else:
            result = prune_notification_log(engine, cutoff, budget=budget(), **common)
        results.append(result)
    return results


def summary(results: Sequence[PruneResult]) -> str:
    """One log line: ``jobs 5000, job_results 12000 (more to go)``."""
    parts = [
        f"{r.table} {r.deleted}{'' if r.done else ' (more to go)'}"
        for r in results
        if not r.skipped
    ]
    return ", ".join(parts) or "nothing to prune"


class RetentionDuty:
    """The daemon's retention duty: one replica at a time (lease ``qsre-retention``),
    at most ``max_run_s`` of deleting per run, checking the lease before each batch."""

    def __init__(self, store: Store, policy: RetentionPolicy, clock: Clock, *, holder: str):
        self.store = store
        self.policy = policy
        self.clock = clock
        # The lease outlives the gap between two runs, so the holder keeps it; a dead
        # holder's duty passes to another replica within about two intervals.
        ttl_s = 2 * policy.interval_s + policy.max_run_s
        self.duty = LeaseDuty(Leases(store), RETENTION_LEASE, holder, clock, ttl_s=ttl_s)
        self.last: list[PruneResult] = []

    @classmethod
    def from_config(cls, config: Config, store: Store, clock: Clock, *, holder: str):
        return cls(store, RetentionPolicy.from_config(config), clock, holder=holder)

    def run(self) -> list[PruneResult] | None:
        """One bounded run; None when another replica holds the duty or it is off."""
        if not self.policy.enabled:
            return None
        lease = self.duty.renew()
        if lease is None:
            return None
        try:
            results = prune_store(
                self.store.engine,
                self.policy,
                self.clock.now(),
                max_seconds=self.policy.max_run_s,
                fence=self.duty.fence_for(lease),
            )
        except Exception:  # noqa: BLE001 - retried next interval; never stops the daemon
            log.exception("retention: pruning failed")
            return None
        self.last = results
        if any(r.deleted for r in results):
            log.info("retention: deleted %s", summary(results))
        return results

    def schedule(self, scheduler: Any) -> None:
        """Add the duty to the daemon's APScheduler (its own job: evaluation never
        waits for it); the first run comes one minute after start."""
        if not self.policy.enabled:
            return
        first = datetime.now(UTC) + timedelta(seconds=min(60.0, self.policy.interval_s))
        scheduler.add_job(
            self.run,
            "interval",
            seconds=self.policy.interval_s,
            id="retention",
            next_run_time=first,
        )

    def release(self) -> None:
        self.duty.release()
