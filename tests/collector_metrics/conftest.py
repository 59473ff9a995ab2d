"""Helpers for the collector metrics/exporter/tracing/cost tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest


def job(
    job_id: str,
    t0: datetime,
    *,
    backend: str = "aer",
    project: str = "alpha",
    status: str = "done",
    shots: int | None = 1000,
    queue_seconds: float | None = 0.2,
    run_seconds: float | None = 1.5,
    cost_usd: float = 0.0,
    attempts: int = 1,
    error_class: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A job snapshot as the proxy would ship it (terminal fields only when terminal)."""
    terminal = status in ("done", "error", "cancelled", "unknown")
    snap: dict[str, Any] = {
        "id": job_id,
        "backend": backend,
        "project": project,
        "status": status,
        "submitted_at": t0,
        "shots": shots,
        "num_circuits": 1,
        "attempts": attempts,
        "cost_usd": cost_usd if terminal else 0.0,
        "error_class": error_class,
    }
    if status != "queued" and queue_seconds is not None:
        snap["started_at"] = t0 + timedelta(seconds=queue_seconds)
        snap["queue_seconds"] = queue_seconds
    if terminal:
        e2e = (queue_seconds or 0.0) + (run_seconds or 0.0)
        snap["finished_at"] = t0 + timedelta(seconds=e2e)
        snap["run_seconds"] = run_seconds
        snap["e2e_seconds"] = e2e
    snap.update(extra)
    return snap


def put(store: Any, snaps: Iterable[Mapping[str, Any]]) -> None:
    """Write snapshots in one batch, as the shipper does."""
    store.upsert_jobs(list(snaps))


@pytest.fixture
def make_job():
    return job
