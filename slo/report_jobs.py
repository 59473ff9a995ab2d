"""Job aggregates for the report, computed in SQL: memory grows with groups, not jobs.

The report never loads job rows. Counts, shots and spend come from one
``GROUP BY day, backend, project, status, error_class`` per period; latency
percentiles from ``percentile_cont`` on PostgreSQL and, on SQLite (which has no
percentile aggregate), from window functions that return only the two ranks each
percentile interpolates between. Both are numpy's ``linear`` method.

A job belongs to the local day of its ``submitted_at``: the day is a ``CASE`` over
the day boundaries, so time zones and DST days are exact on every dialect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, case, cast, func, literal, or_, select, true

from collector.schema import JobRow
from collector.store import Store

__all__ = [
    "CLIENT_REJECTIONS",
    "PERCENTILES",
    "JobGroup",
    "LatencyRow",
    "TagGroup",
    "Totals",
    "day_bucket",
    "job_groups",
    "latency_rows",
    "percentiles",
    "tag_groups",
    "totals",
]

PERCENTILES = (50, 95, 99)
CLIENT_REJECTIONS = ("quota", "invalid_input")
TERMINAL_FOR_SUCCESS = ("done", "error", "unknown")
_J = JobRow.__table__


@dataclass(frozen=True)
class JobGroup:
    """Jobs of one local day (index into the period's days), backend, project and outcome."""

    day: int
    backend: str
    project: str
    status: str
    error_class: str
    jobs: int
    shots: int
    cost_usd: float

    @property
    def terminal(self) -> bool:
        """Counts in the success rate's denominator."""
        return self.status in TERMINAL_FOR_SUCCESS and self.error_class not in CLIENT_REJECTIONS

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True)
class TagGroup:
    """Jobs carrying tag ``key`` = ``value`` on one local day, with one outcome."""

    day: int
    tag: str  # "key=value"
    done: bool
    jobs: int
    shots: int
    cost_usd: float


@dataclass(frozen=True)
class Totals:
    jobs: int
    terminal_jobs: int
    done_jobs: int
    success_rate: float | None
    spend_usd: float
    shots: int
    cost_per_successful_job_usd: float | None
    shots_per_job: float | None
    queue_p95_seconds: float | None
    e2e_p95_seconds: float | None


@dataclass(frozen=True)
class LatencyRow:
    day: str
    backend: str
    jobs: int
    queue_samples: int
    queue_p50_seconds: float | None
    queue_p95_seconds: float | None
    queue_p99_seconds: float | None
    e2e_samples: int
    e2e_p50_seconds: float | None
    e2e_p95_seconds: float | None
    e2e_p99_seconds: float | None


def ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def day_bucket(column: Any, day_starts: Sequence[datetime]) -> ColumnElement[int]:
    """``CASE``: 0 for [day_starts[0], day_starts[1]), 1 for the next day, ...

    Rows before the first or at/after the last boundary get the last index + 1; the
    callers' WHERE clauses keep them out."""
    return case(
        *((column < edge, i) for i, edge in enumerate(day_starts[1:])),
        else_=len(day_starts) - 1,
    )


def _period(day_starts: Sequence[datetime]) -> tuple[ColumnElement[bool], ...]:
    return (_J.c.submitted_at >= day_starts[0], _J.c.submitted_at < day_starts[-1])


def job_groups(store: Store, day_starts: Sequence[datetime]) -> list[JobGroup]:
    """One row per (local day, backend, project, status, error_class) with jobs in it."""
    day = day_bucket(_J.c.submitted_at, day_starts).label("day")
    project = func.coalesce(_J.c.project, "").label("project")
    error_class = func.coalesce(_J.c.error_class, "").label("error_class")
    q = (
        select(
            day,
            _J.c.backend,
            project,
            _J.c.status,
            error_class,
            func.count().label("jobs"),
            func.coalesce(func.sum(_J.c.shots), 0).label("shots"),
            func.coalesce(func.sum(_J.c.cost_usd), 0.0).label("cost"),
        )
        .where(*_period(day_starts))
        .group_by(day, _J.c.backend, project, _J.c.status, error_class)
    )
    with store.engine.connect() as conn:
        return [
            JobGroup(
                int(r.day),
                r.backend,
                r.project,
                r.status,
                r.error_class,
                int(r.jobs),
                int(r.shots),
                float(r.cost),
            )
            for r in conn.execute(q)
        ]


def tag_groups(store: Store, day_starts: Sequence[datetime]) -> list[TagGroup]:
    """Jobs per (local day, tag key=value, done or not): a job with 3 tags counts 3 times.

    The value is the store's JSON text of it (``true``/``1`` for non-strings)."""
    if store.dialect == "postgresql":
        each = func.json_each_text(_J.c.tags).table_valued("key", "value").alias("tag")
        only_objects: tuple[ColumnElement[bool], ...] = (
            func.json_typeof(_J.c.tags) == literal("object"),
        )
    else:
        each = func.json_each(_J.c.tags).table_valued("key", "value").alias("tag")
        only_objects = (func.json_type(_J.c.tags) == literal("object"),)
    day = day_bucket(_J.c.submitted_at, day_starts).label("day")
    done = case((_J.c.status == "done", 1), else_=0).label("done")
    value = func.coalesce(cast(each.c.value, String), "")
    q = (
        select(
            day,
            each.c.key,
            value.label("value"),
            done,
            func.count().label("jobs"),
            func.coalesce(func.sum(_J.c.shots), 0).label("shots"),
            func.coalesce(func.sum(_J.c.cost_usd), 0.0).label("cost"),
        )
        .select_from(_J)
        .join(each, true())
        .where(*_period(day_starts), *only_objects)
        .group_by(day, each.c.key, value, done)
    )
    with store.engine.connect() as conn:
        return [
            TagGroup(
                int(r.day),
                f"{r.key}={r.value}",
                bool(r.done),
                int(r.jobs),
                int(r.shots),
                float(r.cost),
            )
            for r in conn.execute(q)
        ]


def percentiles(
    store: Store,
    column_name: str,
    day_starts: Sequence[datetime],
    qs: Sequence[int],
    *,
    per_day_backend: bool,
) -> dict[tuple[int, str], tuple[int, list[float | None]]]:
    """``(day, backend) -> (samples, [value per q])`` of one latency column.

    Without ``per_day_backend`` there is one group for the whole period, keyed
    ``(0, "")``. Jobs without a measured value are not samples."""
    column = _J.c[column_name]
    keys: list[Any] = (
        [day_bucket(_J.c.submitted_at, day_starts).label("day"), _J.c.backend.label("backend")]
        if per_day_backend
        else [literal(0).label("day"), literal("").label("backend")]
    )
    where = (*_period(day_starts), column.is_not(None))
    out: dict[tuple[int, str], tuple[int, list[float | None]]] = {}
    if store.dialect == "postgresql":
        cols = [func.percentile_cont(q / 100).within_group(column) for q in qs]
        stmt = select(*keys, func.count(column), *cols).where(*where)
        if per_day_backend:
            stmt = stmt.group_by(*keys)
        with store.engine.connect() as conn:
            for r in conn.execute(stmt):
                if r[2]:
                    out[(int(r[0]), r[1])] = (int(r[2]), [float(v) for v in r[3:]])
        return out
    return _percentiles_by_rank(store, column, keys, where, qs, per_day_backend)


def _percentiles_by_rank(
    store: Store,
    column: Any,
    keys: list[Any],
    where: tuple[ColumnElement[bool], ...],
    qs: Sequence[int],
    per_day_backend: bool,
) -> dict[tuple[int, str], tuple[int, list[float | None]]]:
    """SQLite: rank the values of each group in SQL and fetch only ranks floor(q(n-1))
    and the one after it, then interpolate as numpy's ``linear`` does."""
    partition = keys if per_day_backend else None
    ranked = (
        select(
            *keys,
            column.label("v"),
            (func.row_number().over(partition_by=partition, order_by=column) - 1).label("i"),
            func.count().over(partition_by=partition).label("n"),
        )
        .where(*where)
        .subquery()
    )
    wanted = []
    for q in qs:
        lo = cast(q / 100 * (ranked.c.n - 1), Integer)
        wanted += [ranked.c.i == lo, ranked.c.i == lo + 1]
    stmt = select(ranked.c.day, ranked.c.backend, ranked.c.n, ranked.c.i, ranked.c.v).where(
        or_(*wanted)
    )
    values: dict[tuple[int, str], dict[int, float]] = {}
    sizes: dict[tuple[int, str], int] = {}
    with store.engine.connect() as conn:
        for r in conn.execute(stmt):
            key = (int(r.day), r.backend)
            values.setdefault(key, {})[int(r.i)] = float(r.v)
            sizes[key] = int(r.n)
    out: dict[tuple[int, str], tuple[int, list[float | None]]] = {}
    for key, n in sizes.items():
        ranks = values[key]
        row: list[float | None] = []
        for q in qs:
            pos = q / 100 * (n - 1)
            lo = math.floor(pos)
            a = ranks[lo]
            b = ranks.get(lo + 1, a)
            row.append(a + (b - a) * (pos - lo))
        out[key] = (n, row)
    return out


def totals(groups: Sequence[JobGroup], queue_p95: float | None, e2e_p95: float | None) -> Totals:
    jobs = sum(g.jobs for g in groups)
    terminal = sum(g.jobs for g in groups if g.terminal)
    done = sum(g.jobs for g in groups if g.done)
    done_terminal = sum(g.jobs for g in groups if g.done and g.terminal)
    spend = sum(g.cost_usd for g in groups)
    shots = sum(g.shots for g in groups)
    return Totals(
        jobs=jobs,
        terminal_jobs=terminal,
        done_jobs=done,
        success_rate=ratio(done_terminal, terminal),
        spend_usd=spend,
        shots=shots,
        cost_per_successful_job_usd=ratio(spend, done),
        shots_per_job=ratio(shots, jobs),
        queue_p95_seconds=queue_p95,
        e2e_p95_seconds=e2e_p95,
    )


def period_totals(store: Store, day_starts: Sequence[datetime]) -> tuple[Totals, list[JobGroup]]:
    """Totals of a period (and its groups), p95 latencies included."""
    groups = job_groups(store, day_starts)
    p95 = [
        percentiles(store, col, day_starts, (95,), per_day_backend=False).get((0, ""))
        for col in ("queue_seconds", "e2e_seconds")
    ]
    q95, e95 = (None if p is None else p[1][0] for p in p95)
    return totals(groups, q95, e95), groups


def latency_rows(
    store: Store, day_starts: Sequence[datetime], days: Sequence[str], groups: Sequence[JobGroup]
) -> tuple[LatencyRow, ...]:
    """Per local day and backend with jobs: job count and queue/e2e percentiles."""
    jobs: dict[tuple[int, str], int] = {}
    for g in groups:
        jobs[(g.day, g.backend)] = jobs.get((g.day, g.backend), 0) + g.jobs
    queue = percentiles(store, "queue_seconds", day_starts, PERCENTILES, per_day_backend=True)
    e2e = percentiles(store, "e2e_seconds", day_starts, PERCENTILES, per_day_backend=True)
    none: tuple[int, list[float | None]] = (0, [None] * len(PERCENTILES))
    rows = []
    for day, backend in sorted(jobs, key=lambda k: (k[1], k[0])):
        qn, qp = queue.get((day, backend), none)
        en, ep = e2e.get((day, backend), none)
        rows.append(LatencyRow(days[day], backend, jobs[(day, backend)], qn, *qp, en, *ep))
    return tuple(rows)
