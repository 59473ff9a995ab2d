"""Incremental per-minute good/total buckets per SLI, kept in the store.

A 30-day evaluation then sums ~43k minute buckets (cumulative sums in slo.burn)
instead of scanning every event. Buckets live in ``slo_rollup_hours``: one row per
(SLI, hour) holding 60 float64 values for good and 60 for total, so reading 30
days is 720 small rows. For ``cost_budget`` the *total* slot holds the spend in USD
per minute and good is unused; ``buckets()`` turns spend into good/total with
``slo.burn.cost_budget_buckets`` (burn rate = spend rate / budgeted rate).

How every terminal job is counted exactly once (restart-safe, idempotent):

* A bucket is never incremented: a *dirty* minute is recomputed whole from the
  source table with ``GROUP BY`` and overwritten. Marking a minute dirty twice is
  harmless, so the cursor only has to guarantee that no change goes unnoticed.
* A job row gets its ``seq`` at first insert and turns terminal later (same seq).
  Rows read while not terminal go to ``slo_rollup_pending`` (persisted) and are
  rechecked every update; when terminal, their ``finished_at`` minute is dirty.
* ``seq``/``id`` values are handed out at insert time, not commit time: on
  PostgreSQL a row below the cursor can become visible after the cursor passed
  it (as in collector/exporter.py). Every update therefore rescans from a *safe*
  cursor: the newest recorded cursor that is at least ``gap_grace_s`` of clock time
  and ``gap_min_checks`` updates old. Rows already handled by this instance are
  skipped; a fresh instance simply recomputes their minutes again.
* A new SLI (or one whose filters changed: its key changes) is built once from
  the whole table in day-sized chunks. The dirty minute ranges of the last
  ``dirty_log_updates`` updates are logged, so a series that missed some updates
  (its SLO was not passed to ``update``) catches up by replaying them; one that
  missed more is rebuilt.

Validation SLIs read ``validation_runs`` (insert-only) by ``id`` cursor and bucket
by ``ran_at``; until the validators' table exists they are empty, and so is an SLI
reading a column a later validators migration adds (``mitigation_gain`` needs
``fidelity_mitigated``) until the store has been migrated.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import JSON as SAJSON
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    inspect,
    literal_column,
    select,
    text,
)

from collector import migrate
from collector.clock import as_utc
from collector.retention import pruned_history_start
from collector.schema import TERMINAL_STATUSES, UTCDateTime
from slo.burn import cost_budget_buckets
from slo.sli import JOBS, VALIDATION_RUNS, SLIQuery, Source, sli_query, source_table, time_column
from slo.spec import SLO

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version_slo"
MINUTES_PER_ROW = 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_IN_CHUNK = 500
_MERGE_GAP_MINUTES = 30  # recompute nearby dirty minutes in one query
# A read-only reader re-reads this much before a series' last update from the
# source: rows that turned terminal late (a long job, an adopted spool) with an
# earlier finished_at land there until the daemon's next update rechecks them.
READ_ONLY_RECHECK_MINUTES = 60

_META = MetaData()
SOURCES_T = Table(
    "slo_rollup_sources",
    _META,
    Column("source", String(32), primary_key=True),
    Column("cursor", BigInteger),
    Column("marks", SAJSON),
    Column("update_no", BigInteger),
    Column("updated_at", UTCDateTime()),
)
PENDING_T = Table("slo_rollup_pending", _META, Column("seq", BigInteger, primary_key=True))
SERIES_T = Table(
    "slo_rollup_series",
    _META,
    Column("sli_key", String(40), primary_key=True),
    Column("source", String(32)),
    Column("spec", SAJSON),
    Column("built_at", UTCDateTime()),
    Column("synced_update", BigInteger),
)
DIRTY_T = Table(
    "slo_rollup_dirty",
    _META,
    Column("source", String(32)),
    Column("update_no", BigInteger),
    Column("lo", BigInteger),
    Column("hi", BigInteger),
)
HOURS_T = Table(
    "slo_rollup_hours",
    _META,
    Column("sli_key", String(40), primary_key=True),
    Column("hour", BigInteger, primary_key=True),
    Column("good", LargeBinary),
    Column("total", LargeBinary),
)


def minute_of(at: datetime) -> int:
    """Whole minutes since the Unix epoch (floor)."""
    return int((as_utc(at) - _EPOCH).total_seconds() // 60)  # type: ignore[operator]


def instant_of(minute: int) -> datetime:
    return _EPOCH + timedelta(minutes=minute)


@dataclass
class _SourceState:
    cursor: int
    floor: int  # rows at or below are never rescanned
    marks: list[list[Any]]  # [cursor, iso time, update_no] after recent updates
    update_no: int
    fresh: bool
    log_floor: int = 1  # oldest update whose dirty ranges are still logged


class Rollups:
    """Per-minute good/total buckets per SLI in the store (see module doc).

    ``gap_grace_s`` / ``gap_min_checks``: how long (clock time and update cycles) a
    seq range stays in the rescan margin. ``startup_tail_rows``: rows below the
    cursor rescanned after the first build. ``bootstrap_chunk_minutes``: size of
    one GROUP BY when building a series from the whole table.
    ``dirty_log_updates``: how many updates' dirty ranges stay logged for series
    that skip updates.
    """

    def __init__(
        self,
        store: Any,
        *,
        gap_grace_s: float = 60.0,
        gap_min_checks: int = 3,
        startup_tail_rows: int = 1000,
        bootstrap_chunk_minutes: int = 1440,
        dirty_log_updates: int = 1440,
        read_only: bool = False,
        max_build_s: float | None = None,
        snapshot: bool = False,
    ) -> None:
        if snapshot and not read_only:
            raise ValueError("Rollups(snapshot=True) is for read-only readers")
        self.store = store
        self.read_only = read_only
        # A read-only reader that lives for one answer (a weekly report evaluates at
        # each day boundary): minutes it computed from the source are kept, so eight
        # overlapping 30-day windows read the store once (10 M jobs, no daemon:
        # 21.6 s for the SLO section). Rows landing later are not seen by it.
        self.snapshot = snapshot
        self._computed: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
        self.engine = store.engine
        self.gap_grace_s = gap_grace_s
        self.gap_min_checks = gap_min_checks
        self.startup_tail_rows = startup_tail_rows
        self.bootstrap_chunk_minutes = bootstrap_chunk_minutes
        self.dirty_log_updates = dirty_log_updates
        self.max_build_s = max_build_s
        self._seen: dict[str, set[int]] = {"jobs": set(), "validation_runs": set()}
        self._has_validation = False
        self._validation_columns: frozenset[str] = frozenset()
        # Per source: when the stored buckets were last brought up to date (None:
        # never, or no rollup tables); set by read-only ``buckets()`` calls.
        self.freshness: dict[str, datetime | None] = {}
        # What every SLO of one cycle asks alike (when each source's history starts,
        # which series are still being built), read once per ``update()``: three
        # queries per SLO were a third of a PostgreSQL cycle. Read-only objects,
        # which never update, read them afresh every time.
        self._per_update: dict[str, Any] = {}
        # PostgreSQL: hour rows already read, {sli_key: {hour: (xmin, good, total)}}.
        self._hours: dict[str, dict[int, tuple[str, np.ndarray, np.ndarray]]] = {}
        if not read_only:
            migrate.upgrade(self.engine, MIGRATIONS, VERSION_TABLE)

    # ------------------------------------------------------------------ public API
    def update(self, slos: Iterable[SLO], now: datetime) -> int:
        """Bring the buckets of these SLOs' SLIs up to date with the store.

        Returns the number of (series, minute) buckets recomputed. Safe to call
        from several processes (serialised per source) and after any crash.
        """
        if self.read_only:
            raise RuntimeError("Rollups(read_only=True) cannot update the store")
        self._per_update.clear()
        queries: dict[str, SLIQuery] = {}
        for slo in slos:
            q = sli_query(slo.sli)
            queries[q.key] = q
        rewritten = 0
        for source in ("jobs", "validation_runs"):
            group = [q for q in queries.values() if q.source == source]
            if not group:
                continue
            if source == "validation_runs":
                if not self._validation_table_exists():
                    continue
                group = [q for q in group if self._has_columns(q.columns)]
                if not group:
                    continue
            rewritten += self._update_source(source, group, as_utc(now))  # type: ignore[arg-type]
        return rewritten

    def buckets(
        self, slo: SLO, start: datetime, end: datetime
    ) -> tuple[np.ndarray, np.ndarray, datetime | None]:
        """(good, total, history_start) for the minutes in [start, end) (floored).

        ``history_start`` is when the SLI's source began recording (first job
        submitted / first validation run), None when it holds nothing yet.
        """
        q = sli_query(slo.sli)
        m0, m1 = minute_of(start), minute_of(end)
        n = max(0, m1 - m0)
        if self.read_only:
            raw_good, raw_total = self._read_without_writing(q, m0, n)
        else:
            raw_good, raw_total = self._read(q.key, m0, n)
        history = self._once_per_update(f"history:{q.source}", self._history_start, q.source)
        built_from = self.built_from(slo)
        if built_from is not None and history is not None:
            history = max(history, built_from)
        if q.value is not None:
            good, total = cost_budget_buckets(raw_total, slo)
            return good, total, history
        return raw_good, raw_total, history

    # ------------------------------------------------------------------ reading
    def _read(self, key: str, m0: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        good = np.zeros(n)
        total = np.zeros(n)
        if n == 0:
            return good, total
        h0, h1 = m0 // MINUTES_PER_ROW, (m0 + n - 1) // MINUTES_PER_ROW + 1
        span_good = np.zeros((h1 - h0) * MINUTES_PER_ROW)
        span_total = np.zeros_like(span_good)
        with self.engine.connect() as conn:
            for hour, (g, t) in self._hour_rows(conn, key, h0, h1).items():
                at = (hour - h0) * MINUTES_PER_ROW
                span_good[at : at + MINUTES_PER_ROW] = g
                span_total[at : at + MINUTES_PER_ROW] = t
        offset = m0 - h0 * MINUTES_PER_ROW
        return span_good[offset : offset + n].copy(), span_total[offset : offset + n].copy()

    def _hour_rows(
        self, conn: Connection, key: str, h0: int, h1: int
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """The stored hour rows of one series in [h0, h1): {hour: (good, total)}.

        Every cycle reads each SLO's whole window (30 days: ~700 rows of ~1 KB),
        while only its newest hours change. On PostgreSQL the rows read before are
        kept and only rows whose ``xmin`` changed are fetched again: a row gets a
        new ``xmin`` with every write of it, by this process or any other (replicas,
        a rebuild), so the copy is never stale. SQLite's cycle is fast without it.
        """
        where = (HOURS_T.c.sli_key == key, HOURS_T.c.hour >= h0, HOURS_T.c.hour < h1)
        cols = (HOURS_T.c.hour, HOURS_T.c.good, HOURS_T.c.total)
        if self.read_only or conn.dialect.name != "postgresql":
            return {
                int(h): (_unpack(g), _unpack(t))
                for h, g, t in conn.execute(select(*cols).where(*where))
            }
        xmin = literal_column("xmin::text")
        versions = {int(h): v for h, v in conn.execute(select(HOURS_T.c.hour, xmin).where(*where))}
        kept = self._hours.get(key, {})
        stale = [h for h, v in versions.items() if h not in kept or kept[h][0] != v]
        if stale:
            # One range from the oldest stale hour: usually the newest hour or two.
            fresh_where = (
                HOURS_T.c.sli_key == key,
                HOURS_T.c.hour >= min(stale),
                HOURS_T.c.hour < h1,
            )
            for h, v, g, t in conn.execute(
                select(HOURS_T.c.hour, xmin, HOURS_T.c.good, HOURS_T.c.total).where(*fresh_where)
            ):
                kept[int(h)] = (v, _unpack(g), _unpack(t))
        # Only this window's rows stay: hours that slid out, or were deleted, go.
        self._hours[key] = {h: kept[h] for h in versions if h in kept}
        return {h: (g, t) for h, (_, g, t) in self._hours[key].items()}

    def _read_without_writing(self, q: SLIQuery, m0: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Buckets for minutes [m0, m0 + n) without writing anything: the stored
        buckets where a daemon keeps this series up to date, the rest (and the last
        ``READ_ONLY_RECHECK_MINUTES`` before its last update, where late rows may
        still land) recomputed from the source table in memory."""
        good, total = np.zeros(n), np.zeros(n)
        if n == 0:
            return good, total
        if q.source == "validation_runs" and not (
            self._validation_table_exists() and self._has_columns(q.columns)
        ):
            return good, total
        synced_at = self._synced_at(q)
        self.freshness[q.source] = synced_at
        direct_from = m0
        if synced_at is not None:
            direct_from = max(m0, minute_of(synced_at) - READ_ONLY_RECHECK_MINUTES)
            stored = min(direct_from, m0 + n) - m0
            good[:stored], total[:stored] = self._read(q.key, m0, stored)
        if direct_from < m0 + n:
            g, t = self._computed_minutes(q, direct_from, m0 + n)
            good[direct_from - m0 :], total[direct_from - m0 :] = g, t
        return good, total

    def _computed_minutes(self, q: SLIQuery, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Minutes [lo, hi) of one series from its source table; with ``snapshot``,
        only the minutes not computed by an earlier call are read."""

        def compute(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
            if b <= a:
                return np.zeros(0), np.zeros(0)
            with self.engine.connect() as conn:
                g, t = self._compute(conn, q.source, [q], a, b)
            return g[0], t[0]

        if not self.snapshot:
            return compute(lo, hi)
        known = self._computed.get(q.key)
        if known is None:
            c0, cg, ct = lo, *compute(lo, hi)
        else:
            c0, cg, ct = known
            c1 = c0 + len(cg)
            # The span only grows, contiguously: a gap between the asked minutes and
            # the known ones is computed with them.
            before_g, before_t = compute(min(lo, c0), c0)
            after_g, after_t = compute(c1, max(hi, c1))
            cg = np.concatenate((before_g, cg, after_g))
            ct = np.concatenate((before_t, ct, after_t))
            c0 = min(lo, c0)
        self._computed[q.key] = (c0, cg, ct)
        return cg[lo - c0 : hi - c0].copy(), ct[lo - c0 : hi - c0].copy()

    def _synced_at(self, q: SLIQuery) -> datetime | None:
        """When the stored buckets of this series were last brought up to date with
        its source; None when the series is not stored or has fallen behind (its
        SLO was left out of recent updates)."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table(SERIES_T.name):
                return None
            row = conn.execute(
                select(
                    SOURCES_T.c.update_no,
                    SOURCES_T.c.updated_at,
                    SERIES_T.c.synced_update,
                    SERIES_T.c.spec,
                )
                .select_from(SERIES_T)
                .join(SOURCES_T, SOURCES_T.c.source == SERIES_T.c.source)
                .where(SERIES_T.c.sli_key == q.key)
            ).first()
        if row is None or row.synced_update != row.update_no:
            return None
        if (row.spec or {}).get("building"):
            return None  # still being built: compute it from the store
        return as_utc(row.updated_at)

    def _history_start(self, source: Source) -> datetime | None:
        if source == "validation_runs":
            if not self._validation_table_exists():
                return None
            col = VALIDATION_RUNS.c.ran_at
        else:
            col = JOBS.c.submitted_at
        with self.engine.connect() as conn:
            value = conn.execute(select(func.min(col))).scalar()
            # Retention deletes the oldest rows; the rollups still hold their counts.
            pruned = pruned_history_start(conn, source)
        starts = [t for t in (as_utc(value), pruned) if t is not None]
        return min(starts) if starts else None

    def _validation_table_exists(self) -> bool:
        if not self._has_validation:
            with self.engine.connect() as conn:
                self._has_validation = inspect(conn).has_table(VALIDATION_RUNS.name)
        return self._has_validation

    def _has_columns(self, columns: tuple[str, ...]) -> bool:
        missing = set(columns) - self._validation_columns
        if missing:
            # Re-inspected only while something is missing: once migrated, never again.
            with self.engine.connect() as conn:
                found = inspect(conn).get_columns(VALIDATION_RUNS.name)
            self._validation_columns = frozenset(c["name"] for c in found)
            missing -= self._validation_columns
        return not missing

    # ------------------------------------------------------------------ updating
    def _update_source(self, source: Source, queries: list[SLIQuery], now: datetime) -> int:
        rewritten = 0
        with self.engine.begin() as conn:
            self._lock(conn, source)
            state = self._load_state(conn, source, now)
            series: dict[str, int] = {}
            building: dict[str, dict[str, int]] = {}
            for r in conn.execute(
                select(SERIES_T.c.sli_key, SERIES_T.c.synced_update, SERIES_T.c.spec).where(
                    SERIES_T.c.sli_key.in_([q.key for q in queries])
                )
            ):
                series[r.sli_key] = r.synced_update
                if (r.spec or {}).get("building"):
                    building[r.sli_key] = r.spec["building"]
            previous = state.update_no
            state.update_no += 1
            # A series synced at update k can catch up from the dirty-range log if
            # it still holds every update after k; otherwise it is rebuilt.
            current = [
                q
                for q in queries
                if not state.fresh
                and q.key in series
                and state.log_floor - 1 <= series[q.key] <= previous
            ]
            to_build = [q for q in queries if q not in current]
            dirty = set() if state.fresh else self._scan(conn, source, state, now)
            ranges = _ranges(dirty)
            for lo, hi in ranges:
                rewritten += self._recompute(conn, source, current, lo, hi)
            rewritten += self._catch_up(conn, source, current, series, previous)
            self._log_ranges(conn, source, state, ranges)
            self._save_state(conn, source, state, now)
            if current:
                conn.execute(
                    SERIES_T.update()
                    .where(SERIES_T.c.sli_key.in_([q.key for q in current]))
                    .values(synced_update=state.update_no)
                )
        started = time.monotonic()
        if to_build:
            rewritten += self._build(source, to_build, state.update_no, now)
        resumed = [q for q in current if q.key in building]
        if resumed:
            rewritten += self._continue_builds(source, resumed, building, started)
        return rewritten

    def _catch_up(
        self,
        conn: Connection,
        source: Source,
        queries: list[SLIQuery],
        synced: dict[str, int],
        previous: int,
    ) -> int:
        """Replay logged dirty ranges for series that missed recent updates (their
        SLO was not passed to ``update`` for a while)."""
        rewritten = 0
        lagging: dict[int, list[SLIQuery]] = {}
        for q in queries:
            if synced[q.key] < previous:
                lagging.setdefault(synced[q.key], []).append(q)
        for since, group in lagging.items():
            stmt = select(DIRTY_T.c.lo, DIRTY_T.c.hi).where(
                DIRTY_T.c.source == source, DIRTY_T.c.update_no > since
            )
            minutes: set[int] = set()
            for lo, hi in conn.execute(stmt):
                minutes.update(range(int(lo), int(hi)))
            for lo, hi in _ranges(minutes):
                rewritten += self._recompute(conn, source, group, lo, hi)
        return rewritten

    def _log_ranges(
        self, conn: Connection, source: Source, state: _SourceState, ranges: list[tuple[int, int]]
    ) -> None:
        if ranges:
            rows = [
                {"source": source, "update_no": state.update_no, "lo": lo, "hi": hi}
                for lo, hi in ranges
            ]
            conn.execute(DIRTY_T.insert(), rows)
        oldest = state.update_no - self.dirty_log_updates
        if oldest >= state.log_floor:
            conn.execute(
                delete(DIRTY_T).where(DIRTY_T.c.source == source, DIRTY_T.c.update_no <= oldest)
            )
            state.log_floor = oldest + 1

    def _lock(self, conn: Connection, source: str) -> None:
        # SQLite transactions are BEGIN IMMEDIATE already (one writer at a time);
        # PostgreSQL replicas serialise their updates of one source here.
        if conn.dialect.name == "postgresql":
            key = 0x51_53_52_45_0000 + (1 if source == "jobs" else 2)
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    def _load_state(self, conn: Connection, source: Source, now: datetime) -> _SourceState:
        row = conn.execute(select(SOURCES_T).where(SOURCES_T.c.source == source)).first()
        if row is not None:
            marks = row.marks or {}
            return _SourceState(
                cursor=int(row.cursor),
                floor=int(marks.get("floor", 0)),
                marks=list(marks.get("marks", [])),
                update_no=int(row.update_no),
                fresh=False,
                log_floor=int(marks.get("log_floor", 1)),
            )
        # First update ever: everything up to max_seq is covered by the whole-table
        # build; rows still in flight become pending; the newest rows stay in the
        # rescan margin in case lower seqs commit late.
        id_col = _id_column(source)
        max_id = int(conn.execute(select(func.coalesce(func.max(id_col), 0))).scalar_one())
        if source == "jobs":
            non_terminal = select(JOBS.c.seq).where(
                JOBS.c.seq <= max_id, JOBS.c.status.not_in(TERMINAL_STATUSES)
            )
            conn.execute(PENDING_T.delete())
            conn.execute(PENDING_T.insert().from_select(["seq"], non_terminal))
        self._seen[source].clear()
        return _SourceState(
            cursor=max_id,
            floor=max(0, max_id - self.startup_tail_rows),
            marks=[[max_id, now.isoformat(), 0]],
            update_no=0,
            fresh=True,
            log_floor=1,
        )

    def _save_state(
        self, conn: Connection, source: Source, state: _SourceState, now: datetime
    ) -> None:
        state.marks.append([state.cursor, now.isoformat(), state.update_no])
        values = {
            "cursor": state.cursor,
            "marks": {"floor": state.floor, "marks": state.marks, "log_floor": state.log_floor},
            "update_no": state.update_no,
            "updated_at": now,
        }
        stmt = _insert(conn, SOURCES_T).values(source=source, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["source"], set_=values))

    def _safe_cursor(self, state: _SourceState, now: datetime) -> int:
        safe = state.floor
        for seq, at, update_no in state.marks:
            old = (now - datetime.fromisoformat(at)).total_seconds() >= self.gap_grace_s
            if old and state.update_no - update_no >= self.gap_min_checks:
                safe = max(safe, int(seq))
        state.marks = [m for m in state.marks if int(m[0]) > safe]
        state.floor = safe
        return safe

    def _scan(
        self, conn: Connection, source: Source, state: _SourceState, now: datetime
    ) -> set[int]:
        """Minutes touched since the last update (new rows, late rows, finished jobs)."""
        safe = self._safe_cursor(state, now)
        seen = self._seen[source]
        seen.difference_update([s for s in seen if s <= safe])
        id_col, t_col = _id_column(source), time_column(source)
        cols = [id_col, t_col]
        if source == "jobs":
            cols.append(JOBS.c.status)
        dirty: set[int] = set()
        new_pending: list[dict[str, int]] = []
        done_pending: list[int] = []
        stmt = select(*cols).where(id_col > safe).order_by(id_col)
        for row in conn.execute(stmt):
            ident = int(row[0])
            state.cursor = max(state.cursor, ident)
            if ident in seen:
                continue
            if source == "jobs" and row[2] not in TERMINAL_STATUSES:
                new_pending.append({"seq": ident})
                continue
            seen.add(ident)
            done_pending.append(ident)
            if row[1] is not None:
                dirty.add(minute_of(row[1]))
        if source == "jobs":
            if new_pending:
                conn.execute(_insert(conn, PENDING_T).on_conflict_do_nothing(), new_pending)
            dirty |= self._recheck_pending(conn, done_pending)
        return dirty

    def _recheck_pending(self, conn: Connection, also_done: list[int]) -> set[int]:
        pending = [int(s) for s in conn.execute(select(PENDING_T.c.seq)).scalars()]
        dirty: set[int] = set()
        pending_set = set(pending)
        finished: list[int] = [s for s in also_done if s in pending_set]
        for i in range(0, len(pending), _IN_CHUNK):
            chunk = pending[i : i + _IN_CHUNK]
            stmt = select(JOBS.c.seq, JOBS.c.finished_at).where(
                JOBS.c.seq.in_(chunk), JOBS.c.status.in_(TERMINAL_STATUSES)
            )
            for seq, finished_at in conn.execute(stmt):
                finished.append(int(seq))
                if finished_at is not None:
                    dirty.add(minute_of(finished_at))
        for i in range(0, len(finished), _IN_CHUNK):
            conn.execute(delete(PENDING_T).where(PENDING_T.c.seq.in_(finished[i : i + _IN_CHUNK])))
        return dirty

    def _build(self, source: Source, queries: list[SLIQuery], update_no: int, now: datetime) -> int:
        """Whole-table build of new or stale series, one transaction per chunk."""
        keys = [q.key for q in queries]
        t_col = time_column(source)
        where = [t_col.is_not(None)]
        if source == "jobs":
            where.append(JOBS.c.status.in_(TERMINAL_STATUSES))
        with self.engine.begin() as conn:
            lo_at, hi_at = conn.execute(
                select(func.min(t_col), func.max(t_col)).where(*where)
            ).one()
            conn.execute(delete(HOURS_T).where(HOURS_T.c.sli_key.in_(keys)))
            conn.execute(delete(SERIES_T).where(SERIES_T.c.sli_key.in_(keys)))
        progress: dict[str, int] | None = None
        if lo_at is not None:
            chunk = self.bootstrap_chunk_minutes
            lo = minute_of(lo_at) // chunk * chunk
            hi = (minute_of(hi_at) // chunk + 1) * chunk
            progress = {"lo": lo, "next": hi}
        with self.engine.begin() as conn:
            rows = [
                {
                    "sli_key": q.key,
                    "source": source,
                    "spec": {"key": q.key, **({"building": progress} if progress else {})},
                    "built_at": now,
                    "synced_update": update_no,
                }
                for q in queries
            ]
            conn.execute(_insert(conn, SERIES_T).on_conflict_do_nothing(), rows)
        rewritten = 0
        if progress is not None:
            started = time.monotonic()
            building = {q.key: progress for q in queries}
            rewritten = self._continue_builds(source, queries, building, started)
        log.info("started building rollups for %d SLI(s) from %s", len(queries), source)
        return rewritten

    def _continue_builds(
        self,
        source: Source,
        queries: Sequence[SLIQuery],
        building: dict[str, dict[str, int]],
        started: float,
    ) -> int:
        """Build series newest day first, one transaction per day, until done or
        ``max_build_s`` has passed (at least one day per update): a new SLO's history
        never holds up an evaluation cycle for long, and a crash resumes at the day
        it reached. Until done, ``buckets`` dates its history from the oldest day
        built, so windows reaching further back are incomplete, not undercounted."""
        groups: dict[tuple[int, int], list[SLIQuery]] = {}
        for q in queries:
            p = building[q.key]
            groups.setdefault((int(p["lo"]), int(p["next"])), []).append(q)
        chunk = self.bootstrap_chunk_minutes
        rewritten = 0
        for (lo, nxt), group in groups.items():
            while nxt > lo:
                start = max(lo, nxt - chunk)
                with self.engine.begin() as conn:
                    rewritten += self._recompute(conn, source, group, start, nxt)
                    done = start <= lo
                    for q in group:
                        spec: dict[str, Any] = {"key": q.key}
                        if not done:
                            spec["building"] = {"lo": lo, "next": start}
                        conn.execute(
                            SERIES_T.update().where(SERIES_T.c.sli_key == q.key).values(spec=spec)
                        )
                nxt = start
                if done:
                    log.info("built rollups for %d SLI(s) from %s", len(group), source)
                budget = self.max_build_s
                if budget is not None and time.monotonic() - started >= budget:
                    return rewritten
        return rewritten

    def building(self) -> dict[str, datetime]:
        """Where each series still being built starts, by SLI key (built series, and
        every series of a store without rollup tables, are absent)."""
        with self.engine.connect() as conn:
            if self.read_only and not inspect(conn).has_table(SERIES_T.name):
                return {}
            rows = conn.execute(select(SERIES_T.c.sli_key, SERIES_T.c.spec)).all()
        return {
            key: instant_of(int(spec["building"]["next"]))
            for key, spec in rows
            if (spec or {}).get("building")
        }

    def built_from(self, slo: SLO) -> datetime | None:
        """Where this SLO's series is built from while it is still being built (older
        minutes are not read yet: unknown, not zero); None once built or read-only."""
        if self.read_only:
            return None
        key = sli_query(slo.sli).key
        return self._once_per_update("building", self.building).get(key)

    def _once_per_update(self, name: str, compute: Callable[..., Any], *args: Any) -> Any:
        if self.read_only:
            return compute(*args)
        if name not in self._per_update:
            self._per_update[name] = compute(*args)
        return self._per_update[name]

    def _recompute(
        self, conn: Connection, source: Source, queries: Sequence[SLIQuery], lo: int, hi: int
    ) -> int:
        """Recompute minutes [lo, hi) of these series from the source table and store them."""
        if not queries or hi <= lo:
            return 0
        good, total = self._compute(conn, source, queries, lo, hi)
        for j, q in enumerate(queries):
            self._write(conn, q.key, lo, good[j], total[j])
        return (hi - lo) * len(queries)

    def _compute(
        self, conn: Connection, source: Source, queries: Sequence[SLIQuery], lo: int, hi: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(good, total) per query (rows) and minute [lo, hi) (columns), from the
        source table with one GROUP BY."""
        t_col = time_column(source)
        minute = _minute_expr(conn.dialect.name, t_col)
        cols: list[Any] = [minute.label("m")]
        for q in queries:
            if q.value is None:
                assert q.good is not None  # event SLIs always define good
                cols.append(func.sum(case((q.good, 1), else_=0)))
                cols.append(func.sum(case((q.total, 1), else_=0)))
            else:
                cols.append(literal_column("0"))
                cols.append(func.sum(case((q.total, q.value), else_=0.0)))
        where = [t_col >= instant_of(lo), t_col < instant_of(hi)]
        if source == "jobs":
            where.append(JOBS.c.status.in_(TERMINAL_STATUSES))
        stmt = (
            select(*cols)
            .select_from(source_table(source))
            .where(and_(*where))
            .group_by(literal_column("m"))
        )
        n = hi - lo
        good = np.zeros((len(queries), n))
        total = np.zeros((len(queries), n))
        for row in conn.execute(stmt):
            i = int(row[0]) - lo
            if not 0 <= i < n:
                continue
            for j in range(len(queries)):
                good[j, i] = float(row[1 + 2 * j] or 0)
                total[j, i] = float(row[2 + 2 * j] or 0)
        return good, total

    def _write(
        self, conn: Connection, key: str, lo: int, good: np.ndarray, total: np.ndarray
    ) -> None:
        hi = lo + len(good)
        h0, h1 = lo // MINUTES_PER_ROW, (hi - 1) // MINUTES_PER_ROW + 1
        partial = [h for h in {h0, h1 - 1} if h * 60 < lo or (h + 1) * 60 > hi]
        existing: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if partial:
            stmt = select(HOURS_T.c.hour, HOURS_T.c.good, HOURS_T.c.total).where(
                HOURS_T.c.sli_key == key, HOURS_T.c.hour.in_(partial)
            )
            for hour, g, t in conn.execute(stmt):
                existing[int(hour)] = (_unpack(g).copy(), _unpack(t).copy())
        rows = []
        for hour in range(h0, h1):
            g_row, t_row = existing.get(hour, (np.zeros(60), np.zeros(60)))
            a, b = max(lo, hour * 60), min(hi, (hour + 1) * 60)
            g_row[a - hour * 60 : b - hour * 60] = good[a - lo : b - lo]
            t_row[a - hour * 60 : b - hour * 60] = total[a - lo : b - lo]
            rows.append({"sli_key": key, "hour": hour, "good": _pack(g_row), "total": _pack(t_row)})
        stmt = _insert(conn, HOURS_T)
        stmt = stmt.on_conflict_do_update(
            index_elements=["sli_key", "hour"],
            set_={"good": stmt.excluded.good, "total": stmt.excluded.total},
        )
        conn.execute(stmt, rows)


def _id_column(source: Source) -> Any:
    return JOBS.c.seq if source == "jobs" else VALIDATION_RUNS.c.id


def _minute_expr(dialect: str, col: Any) -> Any:
    # Literal constants, not bind parameters: PostgreSQL only accepts the GROUP BY
    # if it is the very same expression as the selected one.
    if dialect == "sqlite":
        return cast(func.strftime(literal_column("'%s'"), col), Integer).op("/")(
            literal_column("60")
        )
    return cast(func.floor(func.extract("epoch", col) / literal_column("60")), BigInteger)


def _ranges(minutes: set[int]) -> list[tuple[int, int]]:
    """Sorted minutes as [lo, hi) ranges, merging ones less than half an hour apart."""
    out: list[list[int]] = []
    for m in sorted(minutes):
        if out and m <= out[-1][1] + _MERGE_GAP_MINUTES:
            out[-1][1] = m + 1
        else:
            out.append([m, m + 1])
    return [(a, b) for a, b in out]


def _pack(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype="<f8").tobytes()


def _unpack(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f8")


def _insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)
