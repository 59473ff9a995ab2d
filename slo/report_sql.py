"""SQL building blocks of the report's job queries: the local-day bucket of a job, the
period filter, and a connection for GROUP BYs over millions of jobs.

A job belongs to the local day of its ``submitted_at``: the day is computed against
the day boundaries (local midnights as UTC instants), so time zones and DST days are
exact on every dialect.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, func, literal_column, text
from sqlalchemy.engine import Connection

from collector.schema import JobRow
from collector.store import Store

__all__ = ["JOBS", "day_bucket", "grouping_connection", "period"]

JOBS = JobRow.__table__


def day_bucket(
    column: Any, day_starts: Sequence[datetime], dialect: str = ""
) -> ColumnElement[int]:
    """0 for [day_starts[0], day_starts[1]), 1 for the next day, ...

    PostgreSQL: ``width_bucket`` over the boundaries (a binary search per row);
    elsewhere a ``CASE``. Rows outside the period get -1 or the last index + 1; the
    callers' WHERE clauses keep them out."""
    if dialect == "postgresql":
        # Inlined, not bound: our own instants (isoformat of aware datetimes, never
        # user input), so the plan sees one constant array.
        edges = literal_column(
            "ARRAY[" + ", ".join(f"'{d.isoformat()}'" for d in day_starts) + "]::timestamptz[]"
        )
        return func.width_bucket(column, edges, type_=Integer) - 1
    return case(
        *((column < edge, i) for i, edge in enumerate(day_starts[1:])),
        else_=len(day_starts) - 1,
    )


def period(day_starts: Sequence[datetime]) -> tuple[ColumnElement[bool], ...]:
    """``submitted_at`` in [first boundary, last boundary)."""
    return (JOBS.c.submitted_at >= day_starts[0], JOBS.c.submitted_at < day_starts[-1])


@contextmanager
def grouping_connection(store: Store) -> Iterator[Connection]:
    """A connection for a GROUP BY whose group count the planner cannot estimate.

    PostgreSQL guesses one group per row for ``width_bucket(...)`` keys and then sorts
    millions of rows to disk; the groups are a few thousand, so hashing is right.
    ``SET LOCAL`` keeps the hint inside this read-only transaction."""
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.execute(text("SET LOCAL enable_sort = off"))
        yield conn
