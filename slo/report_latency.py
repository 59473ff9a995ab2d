"""Latency percentiles for the report, computed in SQL (never from job rows in Python).

PostgreSQL: ``percentile_cont`` per (local day, backend) and for the whole period in
one scan (GROUPING SETS). SQLite has no percentile aggregate: window functions rank
the values of each group and return only the two ranks each percentile interpolates
between. Both are numpy's ``linear`` method.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, cast, func, literal, or_, select, tuple_

from collector.store import Store
from slo.report_sql import JOBS as _J
from slo.report_sql import day_bucket
from slo.report_sql import period as _period

__all__ = [
    "LATENCY_COLUMNS",
    "PERCENTILES",
    "LatencyRow",
    "Percentiles",
    "latency_percentiles",
    "percentiles",
]

PERCENTILES = (50, 95, 99)


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


LATENCY_COLUMNS = ("queue_seconds", "e2e_seconds")
Percentiles = dict[str, tuple[int, list[float | None]]]  # column -> (samples, values)


def _pg_latency(
    store: Store,
    day_starts: Sequence[datetime],
    qs: Sequence[int],
    *,
    per_day_backend: bool,
    columns: Sequence[str] = LATENCY_COLUMNS,
) -> tuple[dict[tuple[int, str], Percentiles], Percentiles]:
    """PostgreSQL, one scan: ``percentile_cont`` of both latency columns per (day,
    backend) and for the whole period (GROUPING SETS); the aggregates over one column
    share their sort."""
    rows = (
        select(
            day_bucket(_J.c.submitted_at, day_starts, store.dialect).label("day"),
            _J.c.backend,
            *(_J.c[name] for name in columns),
        )
        .where(*_period(day_starts))
        .subquery()
    )
    cols: list[Any] = []
    for name in columns:
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
            for i, name in enumerate(columns):
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
    store: Store,
    day_starts: Sequence[datetime],
    qs: Sequence[int],
    *,
    per_day_backend: bool,
    columns: Sequence[str] = LATENCY_COLUMNS,
) -> tuple[dict[tuple[int, str], Percentiles], Percentiles]:
    """``(day, backend) -> column -> (samples, values)`` (empty unless
    ``per_day_backend``) and the same for the whole period, for ``columns`` (both
    latency columns by default). Jobs without a measured value are not samples."""
    if store.dialect == "postgresql":
        return _pg_latency(store, day_starts, qs, per_day_backend=per_day_backend, columns=columns)
    groups: dict[tuple[int, str], Percentiles] = {}
    whole: Percentiles = {}
    for name in columns:
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
