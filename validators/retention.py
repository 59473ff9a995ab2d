"""Pruning validation runs older than a cutoff (collector.retention does the walking).

Only ``validation_runs`` is pruned: one row per reference circuit per suite run,
read by the weekly report and `qsre validation` history. The detector state
(``validation_state``: each backend's CUSUM statistics and baseline) is one row per
backend and is never pruned; losing it would restart drift detection from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from collector.retention import Budget, PruneResult, Walk, prune_oldest
from validators.store import validation_runs

VALIDATION_RUNS_CURSOR = "validation_runs"


def validation_runs_walk() -> Walk:
    return Walk(
        table=validation_runs,
        key=validation_runs.c.id,
        time_col=validation_runs.c.ran_at,
        cursor_name=VALIDATION_RUNS_CURSOR,
    )


def prune_validation_runs(
    engine: Engine,
    cutoff: datetime,
    *,
    now: datetime,
    budget: Budget = Budget(),
    dry_run: bool = False,
    fence: Callable[[], bool] | None = None,
) -> PruneResult:
    """Delete validation runs that ran before ``cutoff``, oldest first, in batches."""
    return prune_oldest(
        engine,
        validation_runs_walk(),
        cutoff,
        now=now,
        budget=budget,
        dry_run=dry_run,
        fence=fence,
    )
