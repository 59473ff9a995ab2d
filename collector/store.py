"""The event store: SQLite (WAL) by default, PostgreSQL by URL.

Opening a store runs the collector's Alembic migrations. Writes are idempotent
upserts keyed by the qsre job id, so a shipper may deliver the same spool batch
twice (after a crash between commit and cursor save) without doubling anything.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TypedDict, Unpack

from sqlalchemy import Engine, case, create_engine, event, func, literal_column, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from collector import migrate
from collector.clock import as_utc
from collector.errors import StoreError
from collector.ids import parse_short_job_id
from collector.records import JOB_FIELDS, Job, merge_snapshots
from collector.schema import (
    TERMINAL_STATUSES,
    BackendRow,
    CalibrationSnapshotRow,
    JobResultRow,
    JobRow,
)

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version_collector"


def create_store_engine(url: str, *, sqlite_busy_timeout_s: float = 60.0) -> Engine:
    """An engine configured for concurrent multi-process use of one store."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": sqlite_busy_timeout_s, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Autocommit at the driver level; the "begin" hook issues BEGIN IMMEDIATE
            # so a reader never has to upgrade to a writer (the cause of 'database is
            # locked' errors that busy_timeout cannot fix).
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout_s * 1000)}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=8)
    return create_engine(url, poolclass=NullPool)


_open_stores: weakref.WeakSet[Store] = weakref.WeakSet()
# Statistics are retaken when the jobs table has grown (or shrunk) this many times over.
_RESTAT_FACTOR = 2.0


def _dispose_pools_after_fork() -> None:
    # A forked child must not reuse the parent's pooled connections.
    for store in list(_open_stores):
        store.engine.dispose(close=False)


os.register_at_fork(after_in_child=_dispose_pools_after_fork)


class JobFilters(TypedDict, total=False):
    """What ``Store.jobs`` filters on (every key optional)."""

    since: datetime | None  # submitted at or after
    until: datetime | None  # submitted before
    backend: str | None
    project: str | None
    status: str | Sequence[str] | None
    purpose: str | None
    after_seq: int | None  # only jobs after this seq, oldest first
    limit: int | None
    newest_first: bool  # default True


def jobs_query(**filters: Unpack[JobFilters]) -> Any:
    """The statement ``Store.jobs`` runs (tests read its query plan)."""
    unknown = sorted(set(filters) - set(JobFilters.__annotations__))
    if unknown:  # keyword arguments a signature would have refused
        raise TypeError(
            f"jobs filters: unexpected {unknown}; expected {list(JobFilters.__annotations__)}"
        )
    since, until = filters.get("since"), filters.get("until")
    backend, project = filters.get("backend"), filters.get("project")
    status, purpose = filters.get("status"), filters.get("purpose")
    after_seq, limit = filters.get("after_seq"), filters.get("limit")
    newest_first = filters.get("newest_first", True)
    q = select(*JobRow.__table__.columns)
    if since is not None:
        q = q.where(JobRow.submitted_at >= since)
    if until is not None:
        q = q.where(JobRow.submitted_at < until)
    if backend is not None:
        q = q.where(JobRow.backend == backend)
    if project is not None:
        q = q.where(JobRow.project == project)
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        q = q.where(JobRow.status.in_(statuses))
    if purpose is not None:
        q = q.where(JobRow.purpose == purpose)
    if after_seq is not None:
        q = q.where(JobRow.seq > after_seq)
        newest_first = False
    q = q.order_by(JobRow.seq.desc() if newest_first else JobRow.seq.asc())
    if limit is not None:
        q = q.limit(limit)
        if backend is not None:
            q = _newest_by_index(q, newest_first)
    return q


def _newest_by_index(q: Any, newest_first: bool) -> Any:
    """The same listing, its seqs chosen by a subquery that selects seq alone.

    ``WHERE backend = X ORDER BY seq DESC LIMIT n``: PostgreSQL's planner expects a
    backend with 20 % of the jobs to turn up within ~5n rows of a backward walk of
    the primary key, and takes it; for a backend retired long ago every newer job
    comes first (500 k jobs: 400 k rows filtered, 45 ms; 10 M: 2.8 s). Asked for seq
    alone, it reads ``ix_jobs_backend_seq`` backwards, index only, n entries
    whatever the backend's age (0.2 ms), once autovacuum has marked the old pages
    all-visible, as it does on a settled store."""
    seqs = q.with_only_columns(JobRow.seq)
    return (
        select(*JobRow.__table__.columns)
        .where(JobRow.seq.in_(seqs))
        .order_by(JobRow.seq.desc() if newest_first else JobRow.seq.asc())
    )


class Store:
    """Handle on the event store. Thread-safe; one per process is plenty."""

    def __init__(
        self,
        url: str = "sqlite:///qsre.db",
        *,
        migrate_on_open: bool = True,
        sqlite_busy_timeout_s: float = 60.0,
    ) -> None:
        self.url = url
        try:
            self.engine = create_store_engine(url, sqlite_busy_timeout_s=sqlite_busy_timeout_s)
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"cannot open store {url!r}: {exc}") from exc
        if migrate_on_open:
            migrate.upgrade(self.engine, MIGRATIONS, VERSION_TABLE)
            # A store never analysed (or outgrown) plans its hottest queries on
            # guesses; a writer that opens the store puts that right.
            self.refresh_statistics()
        _open_stores.add(self)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------- maintenance
    def refresh_statistics(self, *, force: bool = False) -> bool:
        """Give SQLite's query planner statistics that match the store: ``ANALYZE``
        when the jobs table has none or has grown or shrunk by more than
        ``_RESTAT_FACTOR`` since the last one (SQLite 3.40's ``PRAGMA optimize``
        does not look at growth). Without them `jobs --backend` sorts every job of
        the backend (0.63 s at 1 M jobs, 0.3 ms with them); a sampled ANALYZE
        (``analysis_limit``) reads the first rows of each index only and leaves that
        plan as it was. A full one takes ~0.6 s per million jobs, so it runs once
        per doubling. True if it ran. PostgreSQL's autovacuum keeps its own
        statistics: nothing to do there."""
        if self.dialect != "sqlite":
            return False
        rows = self.approx_job_count()
        with self.engine.connect() as conn:
            analysed = self._analysed_rows(conn)
        if not force:
            if rows == 0:
                return False
            if analysed and analysed / _RESTAT_FACTOR <= rows <= analysed * _RESTAT_FACTOR:
                return False
        with self.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=0")
            conn.exec_driver_sql("ANALYZE")
        return True

    def approx_job_count(self) -> int:
        """The jobs table's size from its seq span, not count(*): two index lookups
        instead of a scan (0.3 s at 5 M jobs on SQLite), and old rows pruned from the
        low end keep it close. Reads only."""
        with self.engine.connect() as conn:
            return int(
                conn.exec_driver_sql(
                    "SELECT coalesce(max(seq) - min(seq) + 1, 0) FROM jobs"
                ).scalar_one()
            )

    @staticmethod
    def _analysed_rows(conn: Any) -> int | None:
        """The jobs row count the current statistics were taken at (None: none)."""
        if not conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).first():
            return None
        stat = conn.exec_driver_sql(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = 'jobs' LIMIT 1"
        ).scalar()
        return int(str(stat).split()[0]) if stat else None

    # ---------------------------------------------------------------- writes
    def _insert(self, table: Any) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def upsert_jobs(self, snapshots: Iterable[Mapping[str, Any]]) -> int:
        """Write full job snapshots idempotently. Returns the number of distinct jobs.

        A snapshot is a mapping with the ``Job`` fields (``id``, ``backend``,
        ``submitted_at`` and ``status`` required) plus optional ``counts``: a list of
        per-circuit ``{"num_clbits", "counts"}``. Rows only move forward in the
        lifecycle; once terminal, a row's fields are only filled in, never changed,
        so replaying any batch (a shipper crash between commit and cursor save)
        changes nothing.
        """
        latest: dict[str, dict[str, Any]] = {}
        for snap in snapshots:
            latest[snap["id"]] = merge_snapshots(latest.get(snap["id"]), snap)
        if not latest:
            return 0
        job_rows: list[dict[str, Any]] = []
        result_rows: list[dict[str, Any]] = []
        for snap in latest.values():
            row = {name: snap.get(name) for name in JOB_FIELDS}
            missing = [k for k in ("backend", "submitted_at", "status") if row[k] is None]
            if missing:
                raise ValueError(f"job snapshot {snap['id']} lacks required fields {missing}")
            row["tags"] = row["tags"] or {}
            row["purpose"] = row["purpose"] or str(row["tags"].get("purpose", "workload"))
            row["attempts"] = 1 if row["attempts"] is None else row["attempts"]
            row["cost_usd"] = row["cost_usd"] or 0.0
            row["num_circuits"] = row["num_circuits"] or 0
            row["project"] = row["project"] or ""
            for key in ("submitted_at", "started_at", "finished_at", "calibration_at"):
                value = row[key]
                if isinstance(value, str):
                    row[key] = datetime.fromisoformat(value)
            job_rows.append(row)
            for index, circuit in enumerate(snap.get("counts") or ()):
                result_rows.append(
                    {
                        "job_id": snap["id"],
                        "circuit_index": index,
                        "num_clbits": circuit.get("num_clbits"),
                        "counts": circuit["counts"],
                    }
                )
        job_stmt, result_stmt = self._upsert_statements
        with self.engine.begin() as conn:
            conn.execute(job_stmt, job_rows)
            if result_rows:
                conn.execute(result_stmt, result_rows)
        return len(job_rows)

    @cached_property
    def _upsert_statements(self) -> tuple[Any, Any]:
        """The two statements of ``upsert_jobs``, built once: building and keying the
        job upsert (a CASE per column) cost ~5 ms per batch, more than its rows."""
        table = JobRow.__table__
        stmt = self._insert(table)
        ex = stmt.excluded
        # Literal IN list: executemany cannot expand a bound list parameter.
        is_terminal = table.c.status.in_([literal_column(f"'{s}'") for s in TERMINAL_STATUSES])
        set_: dict[str, Any] = {
            c: case(
                (is_terminal, func.coalesce(table.c[c], ex[c])),
                else_=func.coalesce(ex[c], table.c[c]),
            )
            for c in JOB_FIELDS
            if c not in ("id", "status")
        }
        set_["status"] = case((is_terminal, table.c.status), else_=ex.status)
        return (
            stmt.on_conflict_do_update(index_elements=["id"], set_=set_),
            self._insert(JobResultRow.__table__).on_conflict_do_nothing(),
        )

    def mark_unknown(self, *, recorder: str, finished_at: datetime, message: str) -> int:
        """Non-terminal jobs of a dead recorder become ``unknown``; returns how many."""
        table = JobRow.__table__
        stmt = (
            update(table)
            .where(table.c.recorder == recorder, table.c.status.not_in(TERMINAL_STATUSES))
            .values(status="unknown", error_message=message, finished_at=finished_at)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount or 0

    def job_snapshots(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Stored state of some jobs as snapshot dicts (to merge partial events into)."""
        out: dict[str, dict[str, Any]] = {}
        cols = JobRow.__table__.columns
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                q = select(*cols).where(JobRow.id.in_(chunk))
                for row in conn.execute(q).mappings():
                    out[row["id"]] = {name: row[name] for name in JOB_FIELDS}
        return out

    def upsert_backend(
        self,
        name: str,
        *,
        seen_at: datetime,
        num_qubits: int | None = None,
        provider: str | None = None,
        calibration_at: datetime | None = None,
        calibration_summary: Mapping[str, Any] | None = None,
    ) -> None:
        """Record that a backend was seen, and its calibration snapshot if new."""
        table = BackendRow.__table__
        stmt = self._insert(table).values(
            name=name,
            num_qubits=num_qubits,
            provider=provider,
            first_seen=seen_at,
            last_seen=seen_at,
            last_calibration_at=calibration_at,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "last_seen": stmt.excluded.last_seen,
                "num_qubits": stmt.excluded.num_qubits,
                "last_calibration_at": func.coalesce(
                    stmt.excluded.last_calibration_at, table.c.last_calibration_at
                ),
            },
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
            if calibration_at is not None:
                snap = self._insert(CalibrationSnapshotRow.__table__).values(
                    backend=name,
                    calibrated_at=calibration_at,
                    captured_at=seen_at,
                    summary=dict(calibration_summary or {}),
                )
                conn.execute(snap.on_conflict_do_nothing())

    # ---------------------------------------------------------------- reads
    def jobs(self, **filters: Unpack[JobFilters]) -> list[Job]:
        """Jobs submitted in [since, until), filtered. Newest first unless told otherwise."""
        q = jobs_query(**filters)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [job_from_row(r) for r in rows]

    def job(self, job_id: str) -> Job | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(*JobRow.__table__.columns).where(JobRow.id == job_id))
                .mappings()
                .first()
            )
        return job_from_row(row) if row else None

    def find_jobs(self, ref: str, *, limit: int = 5) -> list[Job]:
        """Jobs a user's reference can mean: an exact qsre id or provider job id if any
        matches, else the short form `qsre jobs` lists (``collector.ids.short_job_id``),
        else ids with ``ref`` as a prefix or suffix (at most ``limit``; more
        than one means the reference is ambiguous)."""
        ref = ref.strip()
        if not ref:
            return []
        columns = select(*JobRow.__table__.columns)
        with self.engine.connect() as conn:
            exact = conn.execute(
                columns.where(or_(JobRow.id == ref, JobRow.provider_job_id == ref))
                .order_by(JobRow.seq.desc())
                .limit(limit)
            ).mappings()
            rows = list(exact)
            short = parse_short_job_id(ref)
            if not rows and short is not None:
                process, counter = short
                rows = list(
                    conn.execute(
                        columns.where(
                            JobRow.id.like(process + "%", escape="\\"),
                            JobRow.id.like("%" + counter, escape="\\"),
                        )
                        .order_by(JobRow.seq.desc())
                        .limit(limit)
                    ).mappings()
                )
            if not rows:
                # Escape LIKE's wildcards: the reference is text, not a pattern.
                literal = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                partial = columns.where(
                    or_(
                        JobRow.id.like(literal + "%", escape="\\"),
                        JobRow.id.like("%" + literal, escape="\\"),
                    )
                )
                rows = list(
                    conn.execute(partial.order_by(JobRow.seq.desc()).limit(limit)).mappings()
                )
        return [job_from_row(r) for r in rows]

    def counts(self, job_id: str) -> list[dict[str, int]]:
        """Raw counts per circuit of one job, in circuit order."""
        q = (
            select(JobResultRow.counts)
            .where(JobResultRow.job_id == job_id)
            .order_by(JobResultRow.circuit_index)
        )
        with self.engine.connect() as conn:
            return [dict(c) for c in conn.execute(q).scalars()]

    def count_jobs(self, **filters: Any) -> int:
        q = select(func.count()).select_from(JobRow)
        for key, value in filters.items():
            q = q.where(getattr(JobRow, key) == value)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def backends(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            q = select(*BackendRow.__table__.columns).order_by(BackendRow.name)
            rows = conn.execute(q).mappings().all()
        out = []
        for r in rows:
            d = dict(r)
            for k in ("first_seen", "last_seen", "last_calibration_at"):
                d[k] = as_utc(d[k])
            out.append(d)
        return out


def job_from_row(row: Mapping[str, Any]) -> Job:
    data = {name: row[name] for name in (*JOB_FIELDS, "seq")}
    for key in ("submitted_at", "started_at", "finished_at", "calibration_at"):
        data[key] = as_utc(data[key])
    data["tags"] = dict(data["tags"] or {})
    return Job(**data)
