"""Pruning the router's notification log older than a cutoff.

What is pruned: ``slo_notification_log`` (one row per notification sent or failed:
the weekly report's alert section and `qsre alerts log` read it).

What never is, because SLOs and past reports must still answer after raw rows go:
the rollup tables (``slo_rollup_*``: per-minute/hour/day SLI counts that outlive
the jobs they were counted from), alert state (open alerts, groups, receivers'
incidents) and silences. The delivery ledger (``slo_delivery_attempts``) is already
kept short by the router itself (finished attempts go after
``slo.routing.LEDGER_RETENTION_S``; open intents stay until a restart finishes them).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from collector.retention import Budget, PruneResult, Walk, prune_oldest
from slo.alert_state import log_table

NOTIFICATION_LOG_CURSOR = "slo_notification_log"


def notification_log_walk() -> Walk:
    return Walk(
        table=log_table,
        key=log_table.c.id,
        time_col=log_table.c.at,
        cursor_name=NOTIFICATION_LOG_CURSOR,
    )


def prune_notification_log(
    engine: Engine,
    cutoff: datetime,
    *,
    now: datetime,
    budget: Budget = Budget(),
    dry_run: bool = False,
    fence: Callable[[], bool] | None = None,
) -> PruneResult:
    """Delete notification log entries written before ``cutoff``, oldest first."""
    return prune_oldest(
        engine,
        notification_log_walk(),
        cutoff,
        now=now,
        budget=budget,
        dry_run=dry_run,
        fence=fence,
    )
