"""Values that cross module boundaries: a job's recorded state and a stored job."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.clock import as_utc
from collector.schema import TERMINAL_STATUSES

_STATUS_RANK = {"queued": 0, "running": 1, "done": 2, "error": 2, "cancelled": 2, "unknown": 2}


def status_rank(status: str) -> int:
    """Lifecycle order: a later state never gets overwritten by an earlier one."""
    return _STATUS_RANK.get(status, 0)


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored. Field names are the recorded fields (and `qsre jobs --json` keys)."""

    id: str
    backend: str
    project: str
    status: str
    submitted_at: datetime
    provider_job_id: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    purpose: str = "workload"
    idempotency_key: str | None = None
    num_circuits: int = 0
    circuit_hash: str | None = None
    max_qubits: int | None = None
    max_depth: int | None = None
    shots: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    queue_seconds: float | None = None
    run_seconds: float | None = None
    e2e_seconds: float | None = None
    error_class: str | None = None
    error_message: str | None = None
    attempts: int = 1
    cost_usd: float = 0.0
    calibration_at: datetime | None = None
    recorder: str | None = None
    shots_discrepancy: int | None = None
    details: dict[str, Any] | None = None
    # The OpenTelemetry trace of the job's span (collector.ids.job_trace_id), where
    # spans are emitted; None otherwise.
    trace_id: str | None = None
    seq: int | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = as_utc(value).isoformat()  # type: ignore[union-attr]
        return out


JOB_FIELDS = tuple(f.name for f in dataclasses.fields(Job) if f.name != "seq")


def merge_snapshots(base: dict[str, Any] | None, event: Mapping[str, Any]) -> dict[str, Any]:
    """Fold a (possibly partial) lifecycle event into a job's state.

    Fields only get filled in or move forward: ``None`` never erases a value, and the
    status never goes back (``running`` after ``done`` is ignored). Once terminal,
    existing fields are kept, so replays are harmless.
    """
    if base is None:
        return {k: v for k, v in event.items() if v is not None}
    merged = dict(base)
    was_terminal = base.get("status") in TERMINAL_STATUSES
    for key, value in event.items():
        if value is None:
            continue
        if key == "status":
            if not was_terminal and status_rank(value) >= status_rank(
                merged.get("status", "queued")
            ):
                merged[key] = value
        elif not was_terminal or merged.get(key) is None:
            merged[key] = value
    return merged
