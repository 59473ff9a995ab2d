"""Helpers for SLO engine tests: job snapshots and SLO models."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from slo.spec import parse_slos


def job(
    finished_at: datetime,
    status: str = "done",
    *,
    backend: str = "aer",
    project: str = "p",
    error_class: str | None = None,
    queue_seconds: float | None = 1.0,
    e2e_seconds: float | None = 2.0,
    cost_usd: float = 0.0,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A terminal job snapshot finishing at ``finished_at``."""
    return {
        "id": str(uuid.uuid4()),
        "backend": backend,
        "project": project,
        "tags": tags or {},
        "submitted_at": finished_at - timedelta(seconds=5),
        "started_at": finished_at - timedelta(seconds=3),
        "finished_at": finished_at,
        "status": status,
        "error_class": error_class if status != "done" else None,
        "queue_seconds": queue_seconds,
        "e2e_seconds": e2e_seconds,
        "cost_usd": cost_usd,
    }


def slos(*items: dict[str, Any]):
    return parse_slos(list(items), "test.yaml")
