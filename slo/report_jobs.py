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

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Text,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.engine import Connection

from collector.schema import JobRow
from collector.store import Store

__all__ = [
    "CLIENT_REJECTIONS",
    "PERCENTILES",
    "JobGroup",
    "LatencyRow",
    "TagGroup",
    "Totals",
    "WeekJobs",
    "day_bucket",
    "job_groups",
    "latency_percentiles",
    "percentiles",
    "read_jobs",
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


def day_bucket(
    column: Any, day_starts: Sequence[datetime], dialect: str = ""
) -> ColumnElement[int]:
    """0 for [day_starts[0], day_starts[1]), 1 for the next day, ...

    PostgreSQL: ``width_bucket`` over the boundaries (a binary search per row);
    elsewhere a ``CASE``. Rows outside the period get -1 or the last index + 1; the
    callers' WHERE clauses keep them out."""
    if dialect == "postgresql":
        # Inlined, not bound: our own instants (isoformat of aware datetimes, never user
        # input), and a constant array lets the planner fold it once (~1.5x faster).
        edges = literal_column(
            "ARRAY[" + ", ".join(f"'{d.isoformat()}'" for d in day_starts) + "]::timestamptz[]"
        )
        return func.width_bucket(column, edges, type_=Integer) - 1
    return case(
        *((column < edge, i) for i, edge in enumerate(day_starts[1:])),
        else_=len(day_starts) - 1,
    )


def _period(day_starts: Sequence[datetime]) -> tuple[ColumnElement[bool], ...]:
    return (_J.c.submitted_at >= day_starts[0], _J.c.submitted_at < day_starts[-1])


@contextmanager
def _grouping(store: Store) -> Iterator[Connection]:
    """A connection for a GROUP BY whose group count the planner cannot estimate.

    PostgreSQL guesses one group per row for ``width_bucket(...)`` keys and then sorts
    millions of rows to disk; the groups are a few thousand, so hashing is right.
    ``SET LOCAL`` keeps the hint inside this read-only transaction."""
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.execute(text("SET LOCAL enable_sort = off"))
        yield conn


def job_groups(store: Store, day_starts: Sequence[datetime]) -> list[JobGroup]:
    """One row per (local day, backend, project, status, error_class) with jobs in it."""
    # The day and the keys are computed once, in a subquery: repeated in GROUP BY
    # with their own bound parameters, PostgreSQL evaluated them twice per row.
    rows = (
        select(
            day_bucket(_J.c.submitted_at, day_starts, store.dialect).label("day"),
            _J.c.backend,
            func.coalesce(_J.c.project, "").label("project"),
            _J.c.status,
            func.coalesce(_J.c.error_class, "").label("error_class"),
            _J.c.shots,
            _J.c.cost_usd,
        )
        .where(*_period(day_starts))
        .subquery()
    )
    keys = (rows.c.day, rows.c.backend, rows.c.project, rows.c.status, rows.c.error_class)
    q = select(
        *keys,
        func.count().label("jobs"),
        func.coalesce(func.sum(rows.c.shots), 0).label("shots"),
        func.coalesce(func.sum(rows.c.cost_usd), 0.0).label("cost"),
    ).group_by(*keys)
    with _grouping(store) as conn:
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

    SQL groups the jobs by their tags' JSON text (distinct tag sets are few: they are
    groups, like backends); each distinct text is decoded once here. A non-string
    value reads as its JSON (``true``, ``1``)."""
    rows = (
        select(
            day_bucket(_J.c.submitted_at, day_starts, store.dialect).label("day"),
            cast(_J.c.tags, Text).label("tags"),
            case((_J.c.status == "done", 1), else_=0).label("done"),
            _J.c.shots,
            _J.c.cost_usd,
        )
        .where(*_period(day_starts))
        .subquery()
    )
    keys = (rows.c.day, rows.c.tags, rows.c.done)
    q = select(
        *keys,
        func.count().label("jobs"),
        func.coalesce(func.sum(rows.c.shots), 0).label("shots"),
        func.coalesce(func.sum(rows.c.cost_usd), 0.0).label("cost"),
    ).group_by(*keys)
    merged: dict[tuple[int, str, bool], list[float]] = {}
    decoded: dict[str, list[str]] = {}
    with _grouping(store) as conn:
        for r in conn.execute(q):
            raw = r.tags or "{}"
            if raw not in decoded:
                try:
                    tags = json.loads(raw)
                except ValueError:
                    tags = {}
                decoded[raw] = [
                    f"{k}={v if isinstance(v, str) else json.dumps(v)}"
                    for k, v in (tags.items() if isinstance(tags, dict) else ())
                ]
            for tag in decoded[raw]:
                acc = merged.setdefault((int(r.day), tag, bool(r.done)), [0, 0, 0.0])
                acc[0] += int(r.jobs)
                acc[1] += int(r.shots)
                acc[2] += float(r.cost)
    return [
        TagGroup(day, tag, done, int(a[0]), int(a[1]), float(a[2]))
        for (day, tag, done), a in merged.items()
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
        [
            day_bucket(_J.c.submitted_at, day_starts, store.dialect).label("day"),
            _J.c.backend.label("backend"),
        ]
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


_LATENCY = ("queue_seconds", "e2e_seconds")
Percentiles = dict[str, tuple[int, list[float | None]]]  # column -> (samples, values)


def _pg_latency(
    store: Store, day_starts: Sequence[datetime], qs: Sequence[int], *, per_day_backend: bool
) -> tuple[dict[tuple[int, str], Percentiles], Percentiles]:
    """PostgreSQL, one scan: ``percentile_cont`` of both latency columns per (day,
    backend) and for the whole period (GROUPING SETS); the aggregates over one column
    share their sort."""
    rows = (
        select(
            day_bucket(_J.c.submitted_at, day_starts, store.dialect).label("day"),
            _J.c.backend,
            *(_J.c[name] for name in _LATENCY),
        )
        .where(*_period(day_starts))
        .subquery()
    )
    cols: list[Any] = []
    for name in _LATENCY:
        c = rows.c[name]
        cols += [func.count(c), *(func.percentile_cont(q / 100).within_group(c) for q in qs)]
    if per_day_backend:
        day, backend = rows.c.day, rows.c.backend
        stmt = select(day, backend, func.grouping(day, backend).label("g"), *cols).group_by(
            func.grouping_sets(tuple_(day, backend), tuple_())
        )
    else:
        stmt = select(literal(0), literal(""), literal(3), *cols)
    groups: dict[tuple[int, str], Percentiles] = {}
    whole: Percentiles = {}
    width = 1 + len(qs)
    with store.engine.connect() as conn:
        for r in conn.execute(stmt):
            values: Percentiles = {}
            for i, name in enumerate(_LATENCY):
                n = int(r[3 + i * width] or 0)
                vals = r[4 + i * width : 3 + (i + 1) * width]
                if n:
                    values[name] = (n, [float(v) for v in vals])
            if int(r[2]) == 0:
                groups[(int(r[0]), r[1])] = values
            else:
                whole = values
    return groups, whole


def latency_percentiles(
    store: Store, day_starts: Sequence[datetime], qs: Sequence[int], *, per_day_backend: bool
) -> tuple[dict[tuple[int, str], Percentiles], Percentiles]:
    """``(day, backend) -> column -> (samples, values)`` (empty unless
    ``per_day_backend``) and the same for the whole period. Jobs without a measured
    value are not samples."""
    if store.dialect == "postgresql":
        return _pg_latency(store, day_starts, qs, per_day_backend=per_day_backend)
    groups: dict[tuple[int, str], Percentiles] = {}
    whole: Percentiles = {}
    for name in _LATENCY:
        if per_day_backend:
            for key, v in percentiles(store, name, day_starts, qs, per_day_backend=True).items():
                groups.setdefault(key, {})[name] = v
        got = percentiles(store, name, day_starts, qs, per_day_backend=False).get((0, ""))
        if got is not None:
            whole[name] = got
    return groups, whole


def _p95(whole: Percentiles, name: str, qs: Sequence[int]) -> float | None:
    got = whole.get(name)
    return None if got is None else got[1][list(qs).index(95)]


@dataclass(frozen=True)
class WeekJobs:
    """Everything the report reads from the jobs table, as groups."""

    totals: Totals
    groups: tuple[JobGroup, ...]  # the week's, day = 0..6
    previous_totals: Totals
    baseline_groups: tuple[JobGroup, ...]  # the weeks before, day = 0..7*weeks-1
    latency: tuple[LatencyRow, ...]
    tags: tuple[TagGroup, ...]


def read_jobs(
    store: Store,
    day_starts: Sequence[datetime],
    days: Sequence[str],
    baseline_day_starts: Sequence[datetime],
) -> WeekJobs:
    """The week's groups, latency and tags; the baseline period's groups (whose last
    7 days are the previous week, so it is not read twice) and that week's p95s."""
    groups = job_groups(store, day_starts)
    per_day, whole = latency_percentiles(store, day_starts, PERCENTILES, per_day_backend=True)
    baseline = job_groups(store, baseline_day_starts)
    n_base = len(baseline_day_starts) - 1
    previous = [g for g in baseline if g.day >= n_base - 7]
    _, prev_whole = latency_percentiles(
        store, baseline_day_starts[-8:], (95,), per_day_backend=False
    )
    jobs: dict[tuple[int, str], int] = {}
    for g in groups:
        jobs[(g.day, g.backend)] = jobs.get((g.day, g.backend), 0) + g.jobs
    none: tuple[int, list[float | None]] = (0, [None] * len(PERCENTILES))
    latency = []
    for day, backend in sorted(jobs, key=lambda k: (k[1], k[0])):
        got = per_day.get((day, backend), {})
        qn, qp = got.get("queue_seconds", none)
        en, ep = got.get("e2e_seconds", none)
        latency.append(LatencyRow(days[day], backend, jobs[(day, backend)], qn, *qp, en, *ep))
    return WeekJobs(
        totals=totals(
            groups,
            _p95(whole, "queue_seconds", PERCENTILES),
            _p95(whole, "e2e_seconds", PERCENTILES),
        ),
        groups=tuple(groups),
        previous_totals=totals(
            previous,
            _p95(prev_whole, "queue_seconds", (95,)),
            _p95(prev_whole, "e2e_seconds", (95,)),
        ),
        baseline_groups=tuple(baseline),
        latency=tuple(latency),
        tags=tuple(tag_groups(store, day_starts)),
    )
