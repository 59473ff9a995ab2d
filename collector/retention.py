"""Deleting raw rows older than a cutoff, oldest first, in small bounded batches.

Every table that grows with traffic has an ever-increasing key (``jobs.seq``, an
``id``). A pruner walks that key from a cursor persisted in ``retention_cursors``:
each batch reads the next ``batch_rows`` rows above the cursor, deletes those older
than the cutoff in one short transaction, and moves the cursor up to the last row
it has settled. It stops at the first row younger than the cutoff (the boundary),
so a repeated call costs one index probe and never rescans pruned ranges (on
PostgreSQL that also avoids walking the dead index entries a VACUUM has not yet
removed).

What this gives, and what it does not:
- Rows are deleted in key order. A row older than the cutoff that sits *behind* a
  younger one (a spool shipped late gets a new ``seq`` with an old
  ``submitted_at``) is deleted when the boundary reaches it, not before.
- Rows a table says must stay (an in-flight job, an open delivery intent) are kept
  and passed over; the cursor does not come back for them.
- ``dry_run`` walks exactly the same way and counts what would go; nothing is
  written, the persisted cursors included.

The collector owns the cursor table; validators and slo prune their own tables
through :func:`prune_oldest` (imports point down only).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    delete,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from collector.clock import as_utc
from collector.schema import TERMINAL_STATUSES, JobResultRow, JobRow, UTCDateTime

DEFAULT_BATCH_ROWS = 5000

_META = MetaData()
CURSORS_T = Table(
    "retention_cursors",
    _META,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
JOBS = JobRow.__table__
JOB_RESULTS = JobResultRow.__table__

JOBS_CURSOR = "jobs"
JOB_RESULTS_CURSOR = "job_results"


@dataclass(frozen=True)
class Budget:
    """How much one call may do: rows per transaction, and when to stop starting
    batches (``max_seconds``; None: until the boundary). At least one batch runs."""

    batch_rows: int = DEFAULT_BATCH_ROWS
    max_seconds: float | None = 5.0
    # Between two batches, wait this many times the last batch's duration. Back to
    # back, a pruner holds the store's write lock nearly all the time and a waiting
    # writer (the evaluation cycle's rollups; SQLite has one writer at a time) only
    # gets it by luck: at 1.0, pruning takes at most half of the store's write time.
    yield_ratio: float = 1.0
    timer: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.batch_rows < 1:
            raise ValueError(f"batch_rows={self.batch_rows!r}: expected a positive integer")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"max_seconds={self.max_seconds!r}: expected a positive number")
        if not self.yield_ratio >= 0:
            raise ValueError(f"yield_ratio={self.yield_ratio!r}: expected a number >= 0")

    def deadline(self) -> float | None:
        return None if self.max_seconds is None else self.timer() + self.max_seconds

    def pause_after(self, batch_s: float) -> None:
        if self.yield_ratio > 0:
            time.sleep(batch_s * self.yield_ratio)


UNBOUNDED = Budget(max_seconds=None)


@dataclass(frozen=True)
class PruneResult:
    """What one pruning call deleted (or, with ``dry_run``, would delete)."""

    table: str
    cutoff: datetime
    deleted: int
    batches: int
    # True: the walk reached rows younger than the cutoff (nothing older is left
    # ahead of the cursor); False: it stopped on its budget or lost its lease.
    done: bool
    dry_run: bool
    seconds: float
    # The cursor after this call (in memory only for a dry run).
    cursor: int = 0
    skipped: bool = False  # the table does not exist in this store

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "cutoff": self.cutoff.isoformat(),
            "deleted": self.deleted,
            "batches": self.batches,
            "done": self.done,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 4),
            "cursor": self.cursor,
            "skipped": self.skipped,
        }


def ensure_cursor_table(engine: Engine) -> None:
    """Only for stores that predate migration c0006 in tests; real stores migrate."""
    _META.create_all(engine, tables=[CURSORS_T])


def has_table(engine: Engine, name: str) -> bool:
    return inspect(engine).has_table(name)


def read_cursor(conn: Connection, name: str) -> int:
    """The persisted position of ``name`` (0: never pruned)."""
    value = conn.execute(select(CURSORS_T.c.position).where(CURSORS_T.c.name == name)).scalar()
    return int(value or 0)


def _save_cursor(conn: Connection, name: str, position: int, now: datetime) -> None:
    # Never moves a cursor back: two pruners at once (the daemon and a manual
    # `qsre store prune`) just delete the same rows twice, the second finding none.
    _save(conn, name, position, now, up=True)


def _save(conn: Connection, name: str, position: int, now: datetime, *, up: bool) -> None:
    """Upsert ``name`` keeping the larger (``up``) or smaller position."""
    values = {"name": name, "position": position, "updated_at": now}
    keep = func.greatest if up else func.least
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(CURSORS_T).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"position": keep(CURSORS_T.c.position, position), "updated_at": now},
        )
        conn.execute(stmt)
        return
    if conn.dialect.name == "sqlite":
        conn.execute(sqlite.insert(CURSORS_T).values(**values).on_conflict_do_nothing())
    moves = CURSORS_T.c.position < position if up else CURSORS_T.c.position > position
    conn.execute(
        update(CURSORS_T)
        .where(CURSORS_T.c.name == name, moves)
        .values(position=position, updated_at=now)
    )


def _history_name(cursor_name: str) -> str:
    return f"{cursor_name}:history_start"


def _record_history_start(
    conn: Connection, cursor_name: str, rows: Sequence[Any], now: datetime
) -> None:
    oldest = min(as_utc(r[1]) for r in rows)
    micros = int(oldest.timestamp() * 1_000_000)
    _save(conn, _history_name(cursor_name), micros, now, up=False)


def pruned_history_start(conn: Connection, cursor_name: str) -> datetime | None:
    """The oldest time of any row a walk has deleted (None: nothing deleted yet).

    Retention removes the rows a store's history is dated from (``min(submitted_at)``):
    whoever asks when history began (the SLO engine: are its windows complete?) takes
    the earlier of this and the oldest row still there. ``cursor_name``: ``"jobs"``,
    ``"validation_runs"``.
    """
    if not inspect(conn).has_table(CURSORS_T.name):
        return None
    micros = conn.execute(
        select(CURSORS_T.c.position).where(CURSORS_T.c.name == _history_name(cursor_name))
    ).scalar()
    if micros is None:
        return None
    return datetime.fromtimestamp(micros / 1_000_000, UTC)


@dataclass(frozen=True)
class Walk:
    """One table's walk: its key, the time the cutoff applies to, and what must stay."""

    table: Table
    key: Any
    time_col: Any
    cursor_name: str
    # Extra columns read with each row, for ``keep`` and ``dependents``.
    columns: tuple[Any, ...] = ()
    # A row older than the cutoff that must stay anyway (passed over, never deleted).
    keep: Callable[[Any], bool] | None = None
    # Rows of other tables that go with the deleted ones, deleted first in the same
    # transaction; returns how many (counted, not deleted, in a dry run).
    dependents: Callable[[Connection, Sequence[Any], bool], int] | None = None
    # The walk never goes past this key (None: no limit).
    limit: int | None = None
    # False: the walked rows stay and only their ``dependents`` go (the counts of old
    # jobs); the result is then reported for ``reports``, the table that shrinks.
    removes_rows: bool = True
    reports: Table | None = None


def prune_oldest(
    engine: Engine,
    walk: Walk,
    cutoff: datetime,
    *,
    now: datetime,
    budget: Budget = Budget(),
    dry_run: bool = False,
    fence: Callable[[], bool] | None = None,
    start: int | None = None,
) -> PruneResult:
    """Delete ``walk.table``'s rows older than ``cutoff`` from the oldest key up, one
    transaction of at most ``budget.batch_rows`` rows at a time, until the first row
    younger than the cutoff or the budget runs out. ``fence`` (a lease check) is asked
    before each batch; False stops the walk. ``start`` overrides the persisted cursor
    (a dry run chains walks through it)."""
    cutoff = as_utc(cutoff)
    t0 = budget.timer()
    deadline = budget.deadline()
    name = (walk.reports if walk.reports is not None else walk.table).name
    if not has_table(engine, name):
        return PruneResult(name, cutoff, 0, 0, True, dry_run, 0.0, 0, skipped=True)
    if start is None:
        with engine.connect() as conn:
            start = read_cursor(conn, walk.cursor_name)
    cursor = start
    deleted = batches = 0
    done = False
    while True:
        if batches and deadline is not None and budget.timer() >= deadline:
            break
        if fence is not None and not fence():
            break
        started = time.perf_counter()
        with engine.begin() as conn:
            stmt = select(walk.key, walk.time_col, *walk.columns).where(walk.key > cursor)
            if walk.limit is not None:
                stmt = stmt.where(walk.key <= walk.limit)
            rows = conn.execute(stmt.order_by(walk.key).limit(budget.batch_rows)).all()
            settled, doomed, boundary = _settle(rows, cursor, cutoff, walk.keep)
            n = len(doomed) if walk.removes_rows else 0
            if doomed:
                if walk.dependents is not None:
                    gone = walk.dependents(conn, doomed, dry_run)
                    if not walk.removes_rows:
                        n = gone
                if walk.removes_rows and not dry_run:
                    keys = [r[0] for r in doomed]
                    n = conn.execute(delete(walk.table).where(walk.key.in_(keys))).rowcount
                    _record_history_start(conn, walk.cursor_name, doomed, now)
            if not dry_run and settled > cursor:
                _save_cursor(conn, walk.cursor_name, settled, now)
        batches += 1
        deleted += n
        cursor = settled
        if boundary or len(rows) < budget.batch_rows:
            done = True
            break
        budget.pause_after(time.perf_counter() - started)
    return PruneResult(name, cutoff, deleted, batches, done, dry_run, budget.timer() - t0, cursor)


def _settle(
    rows: Sequence[Any], cursor: int, cutoff: datetime, keep: Callable[[Any], bool] | None
) -> tuple[int, list[Any], bool]:
    """(the new cursor, the rows to delete, whether a row younger than the cutoff was
    met). Old rows after the boundary in the same batch go too; the cursor stops at
    the boundary, so the walk resumes there."""
    settled = cursor
    doomed: list[Any] = []
    boundary = False
    for row in rows:
        at = row[1]
        old = at is not None and as_utc(at) < cutoff
        if not old:
            boundary = True
            continue
        if not boundary:
            settled = int(row[0])
        if keep is None or not keep(row):
            doomed.append(row)
    return settled, doomed, boundary


# ---------------------------------------------------------------- collector's tables


def _delete_results(conn: Connection, jobs: Sequence[Any], dry_run: bool) -> int:
    ids = [r[2] for r in jobs]
    where = JOB_RESULTS.c.job_id.in_(ids)
    if dry_run:
        return int(
            conn.execute(select(func.count()).select_from(JOB_RESULTS).where(where)).scalar()
        )
    return int(conn.execute(delete(JOB_RESULTS).where(where)).rowcount)


def job_results_walk() -> Walk:
    """Jobs by ``seq``, taking only their counts: the jobs themselves stay."""
    return Walk(
        table=JOBS,
        key=JOBS.c.seq,
        time_col=JOBS.c.submitted_at,
        cursor_name=JOB_RESULTS_CURSOR,
        columns=(JOBS.c.id,),
        dependents=_delete_results,
        removes_rows=False,
        reports=JOB_RESULTS,
    )


def prune_job_results(
    engine: Engine,
    cutoff: datetime,
    *,
    now: datetime,
    budget: Budget = Budget(),
    dry_run: bool = False,
    fence: Callable[[], bool] | None = None,
    start: int | None = None,
) -> PruneResult:
    """Delete the counts of jobs submitted before ``cutoff`` (the jobs are kept)."""
    if has_table(engine, JOB_RESULTS.name):
        with engine.connect() as conn:
            if start is None:
                start = read_cursor(conn, JOB_RESULTS_CURSOR)
            # Jobs pruned already took their counts with them (see prune_jobs).
            start = max(start, read_cursor(conn, JOBS_CURSOR))
    return prune_oldest(
        engine,
        job_results_walk(),
        cutoff,
        now=now,
        budget=budget,
        dry_run=dry_run,
        fence=fence,
        start=start,
    )


def jobs_walk(*, results_cursor: int | None) -> Walk:
    """Jobs by ``seq``, never past the counts' cursor: a job goes only once its counts
    are gone, so no counts are ever left without their job. In-flight jobs (not in a
    terminal status) are kept: the finisher, not retention, settles them."""
    return Walk(
        table=JOBS,
        key=JOBS.c.seq,
        time_col=JOBS.c.submitted_at,
        cursor_name=JOBS_CURSOR,
        columns=(JOBS.c.id, JOBS.c.status),
        keep=lambda row: row[3] not in TERMINAL_STATUSES,
        dependents=_delete_results,
        limit=results_cursor,
    )


def prune_jobs(
    engine: Engine,
    cutoff: datetime,
    *,
    now: datetime,
    budget: Budget = Budget(),
    dry_run: bool = False,
    fence: Callable[[], bool] | None = None,
    results_cursor: int | None = None,
) -> PruneResult:
    """Delete jobs submitted before ``cutoff`` (and any counts they still have), up to
    the counts' cursor: call :func:`prune_job_results` first, with a cutoff no older
    than this one. ``results_cursor`` overrides the persisted one (dry runs)."""
    if results_cursor is None and has_table(engine, CURSORS_T.name):
        with engine.connect() as conn:
            results_cursor = read_cursor(conn, JOB_RESULTS_CURSOR)
    return prune_oldest(
        engine,
        jobs_walk(results_cursor=results_cursor or 0),
        cutoff,
        now=now,
        budget=budget,
        dry_run=dry_run,
        fence=fence,
    )


def prune_calibration_snapshots(
    engine: Engine, cutoff: datetime, *, dry_run: bool = False
) -> PruneResult:
    """Delete calibration snapshots captured before ``cutoff``, except each backend's
    latest (a report still shows the calibration a quiet backend last had). A small
    table (one row per backend per calibration): one statement, no cursor."""
    from collector.schema import CalibrationSnapshotRow

    t = CalibrationSnapshotRow.__table__
    cutoff = as_utc(cutoff)
    t0 = time.monotonic()
    if not has_table(engine, t.name):
        return PruneResult(t.name, cutoff, 0, 0, True, dry_run, 0.0, skipped=True)
    latest = select(func.max(t.c.id)).group_by(t.c.backend)
    where = (t.c.captured_at < cutoff, t.c.id.not_in(latest))
    with engine.begin() as conn:
        if dry_run:
            n = int(conn.execute(select(func.count()).select_from(t).where(*where)).scalar())
        else:
            n = int(conn.execute(delete(t).where(*where)).rowcount)
    return PruneResult(t.name, cutoff, n, 1, True, dry_run, time.monotonic() - t0)
