"""Copy a whole qsre store to another database: SQLite → PostgreSQL, and back.

``copy_store(source_url, target_url)`` migrates the target to this version's schema
(every package that owns tables: collector, validators, slo), refuses a target that
already holds rows, then copies every table the packages own in one transaction on
the target, rows in primary-key order with their keys (``jobs.seq``, ids) kept, so
that rollup cursors, delivery ledgers and `qsre jobs show` references stay valid.
PostgreSQL sequences are moved past the copied keys, so the next job recorded on
the target gets a fresh ``seq``. Leases and version tables are not copied: leases
are held by running daemons, and the target has its own migrations.

The source is read in one snapshot (a deferred SQLite read transaction, a
PostgreSQL repeatable-read transaction), never written. Each table is verified
afterwards by its row count and a SHA-256 over its rows in primary-key order, with
values normalised across dialects: timestamps as UTC ISO text, JSON re-serialised
with sorted keys, floats by ``repr``, bytes as hex; a JSON ``null`` and an SQL NULL
stay distinct.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    cast,
    create_engine,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url

from qsre.errors import InputError, QsreError
from qsre.store_access import sqlite_file

# Tables the packages own but a copy leaves behind: the target's own migrations
# write its version tables; leases belong to the daemons running on a store.
NOT_COPIED = frozenset({"qsre_leases", "scheduler_leases"})
BATCH_ROWS = 5_000

Progress = Callable[[str, int, int], None]
"""``progress(table, rows_done, rows_total)``: called after each batch."""


class StoreCopyError(QsreError):
    """A copy that cannot start (bad source or target) or did not verify."""


class CopyRefused(InputError, StoreCopyError):
    """The user named a source or target a copy cannot use (the CLI exits 2): what,
    expected, got, like every other input error."""


@dataclass(frozen=True)
class TableCopy:
    name: str
    rows: int
    source_sha256: str
    target_rows: int
    target_sha256: str
    seconds: float

    @property
    def verified(self) -> bool:
        return self.rows == self.target_rows and self.source_sha256 == self.target_sha256


@dataclass(frozen=True)
class CopyReport:
    source: str
    target: str
    tables: tuple[TableCopy, ...]
    seconds: float
    skipped: tuple[str, ...] = field(default=())

    @property
    def verified(self) -> bool:
        return all(t.verified for t in self.tables)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "verified": self.verified,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "tables": {
                t.name: {
                    "rows": t.rows,
                    "target_rows": t.target_rows,
                    "sha256": t.source_sha256,
                    "target_sha256": t.target_sha256,
                    "verified": t.verified,
                    "seconds": round(t.seconds, 3),
                }
                for t in self.tables
            },
            "skipped": list(self.skipped),
        }


def _packages() -> list[tuple[str, Path, str]]:
    """(name, Alembic script directory, version table) of every package owning tables."""
    from collector import store as collector_store
    from slo import alert_state
    from validators import store as validators_store

    return [
        ("collector", collector_store.MIGRATIONS, collector_store.VERSION_TABLE),
        ("validators", validators_store.MIGRATIONS, validators_store.VERSION_TABLE),
        ("slo", alert_state.MIGRATIONS, alert_state.VERSION_TABLE),
    ]


def redact(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _dialect(url: str) -> str:
    try:
        return make_url(url).get_backend_name()
    except Exception as exc:  # noqa: BLE001 - reported with the URL
        raise CopyRefused(
            "store URL", "a database URL such as sqlite:///qsre.db or postgresql+psycopg://...", url
        ) from exc


def _check_source(url: str) -> Engine:
    """An engine on the source, which must hold a qsre store at this version's schema."""
    from collector import migrate

    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise CopyRefused(
            f"source {path}",
            "an existing SQLite file (qsre run, or any wrapped job, creates it)",
            "a path that does not exist",
        )
    if _dialect(url) == "sqlite":
        # Driver autocommit: the snapshot is the explicit BEGIN issued in _snapshot.
        engine = create_engine(url, connect_args={"isolation_level": None})
    else:
        engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = False
            for name, scripts, version_table in _packages():
                current = migrate.current_revision(conn, version_table)
                head = migrate.head_revision(scripts)
                if current is None:
                    continue
                found = True
                if current != head:
                    raise StoreCopyError(
                        f"source {redact(url)}: {name} schema is at {current}, this qsre "
                        f"copies {head}; open the source with this version first (run "
                        "`qsre run` once against it) so that both sides have one schema"
                    )
            if not found:
                raise StoreCopyError(f"source {redact(url)} holds no qsre store")
    except StoreCopyError:
        engine.dispose()
        raise
    except Exception as exc:  # noqa: BLE001 - unreachable, bad credentials
        engine.dispose()
        raise StoreCopyError(f"cannot read source {redact(url)}: {exc}") from exc
    return engine


def migrate_target(url: str) -> None:
    """Create or upgrade every package's tables on ``url`` (what a daemon's first
    start would do)."""
    from collector.store import Store
    from slo.alert_state import AlertStateStore
    from validators.store import ValidationStore

    try:
        store = Store(url)
    except Exception as exc:  # noqa: BLE001
        raise StoreCopyError(f"cannot open target {redact(url)}: {exc}") from exc
    try:
        ValidationStore(store)
        AlertStateStore(store)
    finally:
        store.close()


def copyable_tables(source: MetaData, target: MetaData) -> tuple[list[str], list[str]]:
    """(tables to copy, in the target's dependency order; source tables skipped)."""
    names = [
        t.name
        for t in target.sorted_tables
        if not t.name.startswith("alembic_version_") and t.name not in NOT_COPIED
    ]
    skipped = sorted(
        n
        for n in source.tables
        if n not in names and not n.startswith("alembic_version_") and n not in NOT_COPIED
    )
    return [n for n in names if n in source.tables], skipped


def _is_json(col: Column[Any]) -> bool:
    return isinstance(col.type, JSON)


def _order_by(table: Table, dialect: str) -> list[Any]:
    """Primary-key order (all columns for a table without one), identical on both
    dialects: strings in byte order, NULLs first."""
    cols = list(table.primary_key.columns) or list(table.columns)
    out = []
    for c in cols:
        expr: Any = cast(c, Text) if _is_json(c) else c
        if dialect == "postgresql" and (isinstance(c.type, String) or _is_json(c)):
            expr = expr.collate("C")
        out.append(expr.asc().nulls_first())
    return out


def _select(table: Table, dialect: str) -> Any:
    # JSON is read as its stored text: SQL NULL and JSON null stay distinct, and the
    # value is parsed once, here, whatever the driver would have done with it.
    cols = [cast(c, Text).label(c.name) if _is_json(c) else c for c in table.columns]
    return select(*cols).order_by(*_order_by(table, dialect))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _norm_json(value: str) -> Any:
    return ["json", json.dumps(json.loads(value), sort_keys=True, separators=(",", ":"))]


def _norm_time(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _norm_float(value: float) -> Any:
    return ["float", repr(float(value))]


def _norm_bytes(value: Any) -> Any:
    return ["bytes", bytes(value).hex()]


def _normaliser(col: Column[Any]) -> Callable[[Any], Any] | None:
    """How one column's values are written into the checksum, the same on both
    dialects (None: as they come, ints and text)."""
    if _is_json(col):
        return _norm_json
    if isinstance(col.type, DateTime):
        return _norm_time
    if isinstance(col.type, Float):
        return _norm_float
    if isinstance(col.type, LargeBinary):
        return _norm_bytes
    if isinstance(col.type, Boolean):
        return bool
    return None


class _Checksum:
    def __init__(self, table: Table) -> None:
        self.normalisers = [_normaliser(c) for c in table.columns]
        self.sha = hashlib.sha256()
        self.rows = 0

    def add(self, row: Sequence[Any]) -> None:
        normalised = [
            v if f is None or v is None else f(v)
            for v, f in zip(row, self.normalisers, strict=True)
        ]
        self.sha.update(json.dumps(normalised, separators=(",", ":")).encode())
        self.sha.update(b"\n")
        self.rows += 1

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def _json_value(value: str) -> Any:
    parsed = json.loads(value)
    return JSON.NULL if parsed is None else parsed


def _naive_utc(value: datetime) -> datetime:
    return _utc(value).replace(tzinfo=None)


def _converter(col: Column[Any], dialect: str, *, copy: bool) -> Callable[[Any], Any] | None:
    """How a source value is bound on the target (None: as it is). Through COPY
    (PostgreSQL) JSON goes as its stored text; through an INSERT, parsed."""
    if _is_json(col):
        return None if copy else _json_value
    if isinstance(col.type, DateTime):
        return _naive_utc if dialect == "sqlite" else _utc
    if isinstance(col.type, Boolean):
        return bool
    if isinstance(col.type, LargeBinary):
        return bytes
    return None


def _writable(table: Table) -> Table:
    """The target table as inserts see it: JSON columns with SQL NULL for None (the
    JSON null travels as JSON.NULL), so both kinds of null survive the copy."""
    meta = MetaData()
    cols = []
    for c in table.columns:
        type_ = JSON(none_as_null=True) if _is_json(c) else c.type
        cols.append(Column(c.name, type_, primary_key=c.primary_key, autoincrement=False))
    return Table(table.name, meta, *cols)


def _rows(conn: Connection, stmt: Any) -> Iterator[Sequence[Any]]:
    result = conn.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(stmt)
    yield from result


def _snapshot(engine: Engine) -> Connection:
    conn = engine.connect()
    if engine.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")
    else:
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return conn


def _reset_sequences(conn: Connection, tables: Sequence[Table]) -> None:
    """Move each serial column's sequence past the copied keys."""
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1:
            continue
        seq = conn.execute(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": pk[0].name}
        ).scalar()
        if seq is None:
            continue
        conn.execute(
            text(
                f"SELECT setval(:s, coalesce((SELECT max({pk[0].name}) FROM {table.name}), 0) + 1,"
                " false)"
            ),
            {"s": seq},
        )


def table_checksums(url: str, names: Sequence[str] | None = None) -> dict[str, tuple[int, str]]:
    """``{table: (rows, sha256)}`` of a store's copied tables (all of them by default),
    normalised as the copy verifies them."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        if names is None:
            names, _ = copyable_tables(meta, meta)
        out = {}
        with engine.connect() as conn:
            for name in names:
                table = meta.tables[name]
                checksum = _Checksum(table)
                for row in _rows(conn, _select(table, engine.dialect.name)):
                    checksum.add(row)
                out[name] = (checksum.rows, checksum.hexdigest())
        return out
    finally:
        engine.dispose()


def copy_store(
    source_url: str,
    target_url: str,
    *,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> CopyReport:
    """Copy every qsre table from ``source_url`` to ``target_url`` and verify it.

    The target is created or migrated to this version's schema first and must hold
    no rows in any table a copy writes (StoreCopyError otherwise, naming them).
    Raises StoreCopyError when a table's count or checksum differs after the copy.
    """
    t_start = clock()
    if redact(source_url) == redact(target_url):
        raise CopyRefused(
            "target", "another store than the source (not the same store)", redact(target_url)
        )
    path = sqlite_file(target_url)
    if path is not None and not path.parent.is_dir():
        raise CopyRefused("target", "a SQLite file in an existing folder", str(path))
    source = _check_source(source_url)
    try:
        migrate_target(target_url)
        target = create_engine(target_url)
        try:
            return _copy(source, target, source_url, target_url, progress, clock, t_start)
        finally:
            target.dispose()
    finally:
        source.dispose()


def _copy(
    source: Engine,
    target: Engine,
    source_url: str,
    target_url: str,
    progress: Progress | None,
    clock: Callable[[], float],
    t_start: float,
) -> CopyReport:
    src_meta, dst_meta = MetaData(), MetaData()
    src_meta.reflect(source)
    dst_meta.reflect(target)
    names, skipped = copyable_tables(src_meta, dst_meta)
    for name in names:
        theirs = {c.name for c in src_meta.tables[name].columns}
        ours = {c.name for c in dst_meta.tables[name].columns}
        if theirs != ours:
            raise StoreCopyError(
                f"table {name} differs between source and target: only in the source "
                f"{sorted(theirs - ours)}, only in the target {sorted(ours - theirs)}"
            )
    with target.connect() as conn:
        busy = {
            n: conn.execute(select(func.count()).select_from(dst_meta.tables[n])).scalar_one()
            for n in names
        }
    busy = {n: rows for n, rows in busy.items() if rows}
    if busy:
        listed = ", ".join(f"{n} ({rows} row{'s' * (rows != 1)})" for n, rows in busy.items())
        raise CopyRefused(
            f"target {redact(target_url)}",
            "a database holding no qsre rows yet (copy into a new one)",
            f"not empty: {listed}",
        )
    dst_dialect = target.dialect.name
    src_dialect = source.dialect.name
    copied: dict[str, tuple[int, str, float]] = {}
    with _snapshot(source) as src, target.begin() as dst:
        totals = {
            n: src.execute(select(func.count()).select_from(src_meta.tables[n])).scalar_one()
            for n in names
        }
        for name in names:
            t0 = clock()
            table = src_meta.tables[name]
            checksum = _Checksum(table)
            rows = _rows(src, _select(table, src_dialect))
            write = _copy_into if dst_dialect == "postgresql" else _insert_into
            write(dst, table, dst_meta.tables[name], rows, checksum, totals[name], progress)
            copied[name] = (checksum.rows, checksum.hexdigest(), clock() - t0)
        if dst_dialect == "postgresql":
            _reset_sequences(dst, [dst_meta.tables[n] for n in names])
        src.rollback()
    _refresh_statistics(target, names)
    after = table_checksums(target_url, names)
    tables = tuple(
        TableCopy(name, rows, sha, after[name][0], after[name][1], seconds)
        for name, (rows, sha, seconds) in copied.items()
    )
    report = CopyReport(
        redact(source_url), redact(target_url), tables, clock() - t_start, tuple(skipped)
    )
    if not report.verified:
        bad = ", ".join(
            f"{t.name} ({t.rows} → {t.target_rows} rows)" for t in tables if not t.verified
        )
        raise StoreCopyError(f"copy did not verify: {bad}")
    return report


def _insert_into(
    dst: Connection,
    table: Table,
    target: Table,
    rows: Iterator[Sequence[Any]],
    checksum: _Checksum,
    total: int,
    progress: Progress | None,
) -> None:
    """INSERTs of BATCH_ROWS rows (SQLite targets)."""
    writable = _writable(target)
    names = [c.name for c in table.columns]
    convert = [_converter(target.columns[n], "sqlite", copy=False) for n in names]
    batch: list[dict[str, Any]] = []
    for row in rows:
        checksum.add(row)
        batch.append(
            {
                n: v if f is None or v is None else f(v)
                for n, v, f in zip(names, row, convert, strict=True)
            }
        )
        if len(batch) >= BATCH_ROWS:
            dst.execute(insert(writable), batch)
            batch = []
            if progress is not None:
                progress(table.name, checksum.rows, total)
    if batch:
        dst.execute(insert(writable), batch)
    if progress is not None:
        progress(table.name, checksum.rows, total)


def _copy_into(
    dst: Connection,
    table: Table,
    target: Table,
    rows: Iterator[Sequence[Any]],
    checksum: _Checksum,
    total: int,
    progress: Progress | None,
) -> None:
    """PostgreSQL's COPY, on the target's own transaction."""
    names = [c.name for c in table.columns]
    convert = [_converter(target.columns[n], "postgresql", copy=True) for n in names]
    raw = dst.connection.driver_connection
    quoted = ", ".join(f'"{n}"' for n in names)
    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as cp:
        for row in rows:
            checksum.add(row)
            cp.write_row(
                [v if f is None or v is None else f(v) for v, f in zip(row, convert, strict=True)]
            )
            if progress is not None and checksum.rows % BATCH_ROWS == 0:
                progress(table.name, checksum.rows, total)
    if progress is not None:
        progress(table.name, checksum.rows, total)


def _refresh_statistics(target: Engine, names: Sequence[str]) -> None:
    """Planner statistics for the copied rows (a fresh PostgreSQL database has none
    until autovacuum gets to it; SQLite has none until someone runs ANALYZE)."""
    with target.begin() as conn:
        if target.dialect.name == "postgresql":
            for name in names:
                conn.exec_driver_sql(f'ANALYZE "{name}"')
        else:
            conn.exec_driver_sql("ANALYZE")
