"""Job aggregates for the report, computed in SQL: memory grows with groups, not jobs.

The report never loads job rows. Counts, shots and spend come from one
``GROUP BY day, backend, project, status, error_class`` per period (the week, and
the 4 weeks before it whose last 7 days are the previous week); tags from a GROUP BY
of the jobs' tag sets; latency percentiles from ``slo.report_latency``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Text, case, cast, func, select

from collector.store import Store
from slo.report_latency import (
    LATENCY_COLUMNS,
    PERCENTILES,
    LatencyRow,
    Percentiles,
    latency_percentiles,
)
from slo.report_sql import JOBS as _J
from slo.report_sql import day_bucket, grouping_connection, period

__all__ = [
    "CLIENT_REJECTIONS",
    "JobGroup",
    "LatencyRow",
    "TagGroup",
    "Totals",
    "WeekJobs",
    "job_groups",
    "ratio",
    "read_jobs",
    "tag_groups",
    "totals",
]

CLIENT_REJECTIONS = ("quota", "invalid_input")
TERMINAL_FOR_SUCCESS = ("done", "error", "unknown")


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


def ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


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
        .where(*period(day_starts))
        .subquery()
    )
    keys = (rows.c.day, rows.c.backend, rows.c.project, rows.c.status, rows.c.error_class)
    q = select(
        *keys,
        func.count().label("jobs"),
        func.coalesce(func.sum(rows.c.shots), 0).label("shots"),
        func.coalesce(func.sum(rows.c.cost_usd), 0.0).label("cost"),
    ).group_by(*keys)
    with grouping_connection(store) as conn:
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
        .where(*period(day_starts))
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
    with grouping_connection(store) as conn:
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


READ_CONCURRENCY = 3


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
    7 days are the previous week, so it is not read twice) and that week's p95s.

    On PostgreSQL the queries run concurrently (``READ_CONCURRENCY`` connections):
    each is one single-threaded scan, and a report at 10 M jobs is bound by them."""
    calls: dict[str, Callable[[], Any]] = {
        "baseline": lambda: job_groups(store, baseline_day_starts),
        **{
            name: partial(
                latency_percentiles,
                store,
                day_starts,
                PERCENTILES,
                per_day_backend=True,
                columns=(name,),
            )
            for name in LATENCY_COLUMNS
        },
        "previous_p95": lambda: latency_percentiles(
            store, baseline_day_starts[-8:], (95,), per_day_backend=False
        )[1],
        "groups": lambda: job_groups(store, day_starts),
        "tags": lambda: tag_groups(store, day_starts),
    }
    if store.dialect == "postgresql":
        with ThreadPoolExecutor(READ_CONCURRENCY, thread_name_prefix="report") as pool:
            futures = {k: pool.submit(fn) for k, fn in calls.items()}
            got = {k: f.result() for k, f in futures.items()}
    else:
        got = {k: fn() for k, fn in calls.items()}
    groups: list[JobGroup] = got["groups"]
    baseline: list[JobGroup] = got["baseline"]
    per_day: dict[tuple[int, str], Percentiles] = defaultdict(dict)
    whole: Percentiles = {}
    for name in LATENCY_COLUMNS:
        detail, total = got[name]
        for key, values in detail.items():
            per_day[key].update(values)
        whole.update(total)
    prev_whole: Percentiles = got["previous_p95"]
    n_base = len(baseline_day_starts) - 1
    previous = [g for g in baseline if g.day >= n_base - 7]
    jobs: dict[tuple[int, str], int] = {}
    for g in groups:
        jobs[(g.day, g.backend)] = jobs.get((g.day, g.backend), 0) + g.jobs
    none: tuple[int, list[float | None]] = (0, [None] * len(PERCENTILES))
    latency = []
    for day, backend in sorted(jobs, key=lambda k: (k[1], k[0])):
        cell = per_day.get((day, backend), {})
        qn, qp = cell.get("queue_seconds", none)
        en, ep = cell.get("e2e_seconds", none)
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
        tags=tuple(got["tags"]),
    )
