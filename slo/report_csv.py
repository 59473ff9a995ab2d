"""The report's long tables as CSV files beside the HTML page (linked from it).

A table that grows with days x backends x keys (daily spend, latency per day, alert
episodes, validation events) reads better in a spreadsheet than inline. Cells that
a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) are prefixed
with ``'``: backend, project and tag names are user input.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from slo.report_data import ReportData

__all__ = ["CSV_FILES", "write_csv_files"]

CSV_FILES = {
    "daily_spend": "daily_spend.csv",
    "spend_by_tag": "spend_by_tag.csv",
    "latency": "latency_per_day.csv",
    "incidents": "incidents.csv",
    "alert_episodes": "alert_episodes.csv",
    "validation_events": "validation_events.csv",
    "slo_burn_down": "slo_burn_down.csv",
}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return " ".join(str(v) for v in value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow([_cell(v) for v in row])


def write_csv_files(data: ReportData, out_dir: Path) -> dict[str, Path]:
    """Write every long table of ``data``; name -> path (``CSV_FILES``)."""
    paths = {name: out_dir / filename for name, filename in CSV_FILES.items()}
    _write(
        paths["daily_spend"],
        ("day", "dimension", "key", "jobs", "spend_usd"),
        ((r.day, r.dimension, r.key, r.jobs, r.spend_usd) for r in data.cost.daily),
    )
    _write(
        paths["spend_by_tag"],
        ("tag", "jobs", "successful_jobs", "shots", "spend_usd", "cost_per_successful_job_usd"),
        (
            (t.key, t.jobs, t.done_jobs, t.shots, t.spend_usd, t.cost_per_successful_job_usd)
            for t in data.cost.by_tag
        ),
    )
    lat_fields = (
        "day", "backend", "jobs", "queue_samples", "queue_p50_seconds", "queue_p95_seconds",
        "queue_p99_seconds", "e2e_samples", "e2e_p50_seconds", "e2e_p95_seconds",
        "e2e_p99_seconds",
    )  # fmt: skip
    _write(
        paths["latency"],
        lat_fields,
        ([getattr(r, f) for f in lat_fields] for r in data.latency),
    )
    inc_fields = (
        "alertname", "kind", "severity", "subject", "started_at", "resolved_at",
        "duration_seconds", "open_seconds_at_week_end", "episodes", "runbook",
    )  # fmt: skip
    _write(
        paths["incidents"],
        inc_fields,
        ([getattr(i, f) for f in inc_fields] for i in data.alerts.incidents),
    )
    ep_fields = (
        "fingerprint", "alertname", "kind", "severity", "subject", "started_at",
        "resolved_at", "resolve_seconds",
    )  # fmt: skip
    _write(
        paths["alert_episodes"],
        ep_fields,
        ([getattr(e, f) for f in ep_fields] for e in data.alerts.episodes),
    )
    ev_fields = (
        "backend", "circuit", "ran_at", "verdict", "fidelity", "divergence_tvd",
        "drift_statistic",
    )  # fmt: skip
    _write(
        paths["validation_events"],
        ev_fields,
        ([getattr(e, f) for f in ev_fields] for e in data.fidelity.events),
    )
    _write(
        paths["slo_burn_down"],
        ("slo", "at", "sli_ratio", "budget_remaining_ratio"),
        (
            (s.name, p.at, p.sli_ratio, p.budget_remaining_ratio)
            for s in data.slos
            for p in s.burn_down
        ),
    )
    return paths
