"""Filling a store with days of jobs, counts, validation runs and notifications."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from collector.schema import JobResultRow, JobRow
from collector.store import Store
from slo.alert_state import AlertStateStore, log_table
from validators.store import ValidationStore, validation_runs

T0 = datetime(2026, 10, 1, tzinfo=UTC)
JOBS = JobRow.__table__
RESULTS = JobResultRow.__table__


def day_of_jobs(day: int, n: int, *, start: datetime = T0, circuits: int = 2) -> list[dict]:
    """``n`` finished jobs submitted evenly over day ``day`` after ``start``, each with
    ``circuits`` counts."""
    out = []
    for i in range(n):
        at = start + timedelta(days=day, seconds=(i + 0.5) * 86400 / n)
        out.append(
            {
                "id": str(uuid.uuid4()),
                "backend": "aer",
                "project": "p",
                "submitted_at": at,
                "started_at": at + timedelta(seconds=1),
                "finished_at": at + timedelta(seconds=3),
                "status": "done" if i % 10 else "error",
                "error_class": None if i % 10 else "transient",
                "queue_seconds": 1.0,
                "e2e_seconds": 3.0,
                "shots": 1000,
                "counts": [
                    {"num_clbits": 2, "counts": {"00": 480 + c, "11": 520 - c}}
                    for c in range(circuits)
                ],
            }
        )
    return out


def validation_rows(day: int, n: int, *, start: datetime = T0) -> list[dict[str, Any]]:
    return [
        {
            "run_id": str(uuid.uuid4()),
            "backend": "aer",
            "circuit": "bell",
            "family": "entangling",
            "ran_at": start + timedelta(days=day, seconds=(i + 0.5) * 86400 / n),
            "shots": 1000,
            "drift": False,
            "verdict": "ok",
            "evidence": {},
            "versions": {},
        }
        for i in range(n)
    ]


def log_rows(day: int, n: int, *, start: datetime = T0) -> list[dict[str, Any]]:
    return [
        {
            "at": start + timedelta(days=day, seconds=(i + 0.5) * 86400 / n),
            "receiver": "slack",
            "group_key": "g",
            "status": "firing",
            "fingerprints": ["abc"],
            "ok": True,
            "error": None,
        }
        for i in range(n)
    ]


def fill(
    store: Store, days: int, jobs_per_day: int, *, per_day_small: int = 5, start: datetime = T0
) -> None:
    """``days`` days of everything, from ``start``."""
    ValidationStore(store)
    AlertStateStore(store)
    for d in range(days):
        store.upsert_jobs(day_of_jobs(d, jobs_per_day, start=start))
        with store.engine.begin() as conn:
            conn.execute(insert(validation_runs), validation_rows(d, per_day_small, start=start))
            conn.execute(insert(log_table), log_rows(d, per_day_small, start=start))


def count(store: Store, table: Any, *where: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())
