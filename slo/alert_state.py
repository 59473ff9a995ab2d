"""Persistence of the alert router's state in the store (slo/migrations tables).

The router keeps everything in memory and writes through only what changed, in one
transaction per ``process``/``flush`` call, so a restart neither re-pages nor forgets an
open incident; each receiver attempt is also written on its own, intent before and
outcome after (slo.delivery.ledger). Rows are upserted, never deleted and re-inserted,
so two writers (a former leader finishing a write) cannot collide on a primary key. Secrets never reach these tables: notifiers keep them out of the memo
and redact them from error messages, and the router redacts again before saving.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)

from collector import migrate
from collector.clock import as_utc
from collector.schema import UTCDateTime
from collector.store import Store
from slo.alerts import Alert, Matcher, Silence
from slo.errors import SLOError

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version_slo"

_TS = UTCDateTime()  # UTC on every dialect, whatever offset a provider gave
metadata = MetaData()
alerts_table = Table(
    "slo_alerts",
    metadata,
    Column("fingerprint", String(16), primary_key=True),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("generator_url", Text, nullable=False),
    Column("starts_at", _TS, nullable=False),
    Column("ends_at", _TS),
    Column("sources", JSON, nullable=False),
    Column("updated_at", _TS, nullable=False),
)
groups_table = Table(
    "slo_alert_groups",
    metadata,
    Column("group_key", String(1000), primary_key=True),
    Column("route_index", Integer, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("alert_fingerprints", JSON, nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("next_flush_at", _TS, nullable=False),
)
receivers_table = Table(
    "slo_alert_receivers",
    metadata,
    Column("receiver", String(200), primary_key=True),
    Column("group_key", String(1000), primary_key=True),
    Column("last_firing", JSON, nullable=False),
    Column("open_fingerprints", JSON, nullable=False),
    Column("last_sent_at", _TS),
    Column("retry_pending", Boolean, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("last_error", Text),
    Column("memo", JSON, nullable=False),
    # The receiver's current incident for this group (s0003): a new one starts after
    # the receiver has shown RESOLVED; Slack metadata and PagerDuty dedup keys carry it.
    Column("incident_id", String(40)),
)
silences_table = Table(
    "slo_silences",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("matchers", JSON, nullable=False),
    Column("starts_at", _TS, nullable=False),
    Column("ends_at", _TS, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", _TS, nullable=False),
)
log_table = Table(
    "slo_notification_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", _TS, nullable=False),
    Column("receiver", String(200), nullable=False),
    Column("group_key", String(1000), nullable=False),
    Column("status", String(16), nullable=False),
    Column("fingerprints", JSON, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
)


@dataclass
class ActiveAlert:
    """An alert the router knows about: firing, or resolved but not yet told to everyone."""

    alert: Alert
    sources: set[str]

    @property
    def fingerprint(self) -> str:
        return self.alert.fingerprint


@dataclass
class GroupState:
    group_key: str
    route_index: int
    labels: dict[str, str]
    created_at: datetime
    next_flush_at: datetime
    fingerprints: set[str] = field(default_factory=set)


@dataclass
class ReceiverState:
    """Alertmanager's notification log entry for one (receiver, group)."""

    receiver: str
    group_key: str
    last_firing: set[str] = field(default_factory=set)
    open_fingerprints: set[str] = field(default_factory=set)
    last_sent_at: datetime | None = None
    retry_pending: bool = False
    failures: int = 0
    last_error: str | None = None
    memo: dict[str, Any] = field(default_factory=dict)
    incident_id: str | None = None


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    receiver: str
    group_key: str
    status: str
    fingerprints: tuple[str, ...]
    ok: bool
    error: str | None = None


@dataclass
class Changes:
    """What one router call changed; saved in one transaction."""

    alerts: dict[str, ActiveAlert | None] = field(default_factory=dict)
    groups: dict[str, GroupState | None] = field(default_factory=dict)
    receivers: dict[tuple[str, str], ReceiverState | None] = field(default_factory=dict)
    log: list[LogEntry] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.alerts or self.groups or self.receivers or self.log)


@dataclass
class LoadedState:
    alerts: dict[str, ActiveAlert]
    groups: dict[str, GroupState]
    receivers: dict[tuple[str, str], ReceiverState]
    silences: dict[str, Silence]


def log_row(e: LogEntry) -> dict[str, Any]:
    return {
        "at": e.at,
        "receiver": e.receiver,
        "group_key": e.group_key,
        "status": e.status,
        "fingerprints": list(e.fingerprints),
        "ok": e.ok,
        "error": e.error,
    }


def upsert(conn: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows``, updating those whose primary key exists (SQLite and PostgreSQL)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    keys = [c.name for c in table.primary_key.columns]
    for i in range(0, len(rows), 500):
        stmt = dialect_insert(table)
        others = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        conn.execute(
            stmt.on_conflict_do_update(index_elements=keys, set_=others), rows[i : i + 500]
        )


def _alert_row(a: ActiveAlert, now: datetime) -> dict[str, Any]:
    return {
        "fingerprint": a.fingerprint,
        "labels": dict(a.alert.labels),
        "annotations": dict(a.alert.annotations),
        "generator_url": a.alert.generator_url,
        "starts_at": a.alert.starts_at or now,
        "ends_at": a.alert.ends_at,
        "sources": sorted(a.sources),
        "updated_at": now,
    }


def _group_row(g: GroupState) -> dict[str, Any]:
    return {
        "group_key": g.group_key,
        "route_index": g.route_index,
        "labels": g.labels,
        "alert_fingerprints": sorted(g.fingerprints),
        "created_at": g.created_at,
        "next_flush_at": g.next_flush_at,
    }


def receiver_row(r: ReceiverState) -> dict[str, Any]:
    return {
        "receiver": r.receiver,
        "group_key": r.group_key,
        "last_firing": sorted(r.last_firing),
        "open_fingerprints": sorted(r.open_fingerprints),
        "last_sent_at": r.last_sent_at,
        "retry_pending": r.retry_pending,
        "failures": r.failures,
        "last_error": r.last_error,
        "memo": r.memo,
        "incident_id": r.incident_id,
    }


def _incident_id(row: Any) -> str | None:
    # A conversation open since before s0003 has no incident id: "" keeps its PagerDuty
    # dedup_key the bare fingerprint it was triggered with, so its resolve matches.
    if row["incident_id"] is None and (row["open_fingerprints"] or row["memo"]):
        return ""
    return row["incident_id"]


class StateSchemaBehind(SLOError):
    """The store's alert state tables are older than this qsre (read-only open)."""

    def __init__(self, current: str, head: str | None) -> None:
        super().__init__(
            f"alert state schema: expected revision {head} (run `qsre run` once to "
            f"upgrade it), got {current!r}"
        )
        self.current, self.head = current, head


class AlertStateStore:
    """The router's state tables in a collector Store (migrated on open).

    ``read_only=True`` (what `qsre alerts` uses) never creates or upgrades them: a
    store whose router has never run reads as empty (``self.empty``), one whose
    state tables are behind this version is an error saying how to upgrade.
    """

    def __init__(self, store: Store, *, read_only: bool = False) -> None:
        self.store = store
        self.engine = store.engine
        self.empty = False
        if not read_only:
            migrate.upgrade(self.engine, MIGRATIONS, VERSION_TABLE)
            return
        with self.engine.connect() as conn:
            current = migrate.current_revision(conn, VERSION_TABLE)
        if current is None:
            self.empty = True
        elif current != migrate.head_revision(MIGRATIONS):
            raise StateSchemaBehind(current, migrate.head_revision(MIGRATIONS))

    # ------------------------------------------------------------------ reads
    def load(self) -> LoadedState:
        if self.empty:
            return LoadedState({}, {}, {}, {})
        with self.engine.connect() as conn:
            alerts: dict[str, ActiveAlert] = {}
            for r in conn.execute(select(alerts_table)).mappings():
                alert = Alert(
                    labels=r["labels"],
                    annotations=r["annotations"],
                    starts_at=as_utc(r["starts_at"]),
                    ends_at=as_utc(r["ends_at"]),
                    generator_url=r["generator_url"],
                )
                alerts[alert.fingerprint] = ActiveAlert(alert, set(r["sources"]))
            groups = {
                r["group_key"]: GroupState(
                    group_key=r["group_key"],
                    route_index=r["route_index"],
                    labels=dict(r["labels"]),
                    created_at=as_utc(r["created_at"]),  # type: ignore[arg-type]
                    next_flush_at=as_utc(r["next_flush_at"]),  # type: ignore[arg-type]
                    fingerprints=set(r["alert_fingerprints"]),
                )
                for r in conn.execute(select(groups_table)).mappings()
            }
            receivers = {
                (r["receiver"], r["group_key"]): ReceiverState(
                    receiver=r["receiver"],
                    group_key=r["group_key"],
                    last_firing=set(r["last_firing"]),
                    open_fingerprints=set(r["open_fingerprints"]),
                    last_sent_at=as_utc(r["last_sent_at"]),
                    retry_pending=bool(r["retry_pending"]),
                    failures=int(r["failures"]),
                    last_error=r["last_error"],
                    memo=dict(r["memo"] or {}),
                    incident_id=_incident_id(r),
                )
                for r in conn.execute(select(receivers_table)).mappings()
            }
            silences = {s.id: s for s in self._silences(conn)}
        return LoadedState(alerts, groups, receivers, silences)

    def _silences(self, conn: Any) -> list[Silence]:
        if self.empty:
            return []
        out = []
        for r in conn.execute(
            select(silences_table).order_by(silences_table.c.created_at)
        ).mappings():
            out.append(
                Silence(
                    id=r["id"],
                    matchers=tuple(Matcher(**m) for m in r["matchers"]),
                    starts_at=as_utc(r["starts_at"]),  # type: ignore[arg-type]
                    ends_at=as_utc(r["ends_at"]),  # type: ignore[arg-type]
                    created_by=r["created_by"],
                    comment=r["comment"],
                    created_at=as_utc(r["created_at"]),  # type: ignore[arg-type]
                )
            )
        return out

    def notification_log(
        self, *, receiver: str | None = None, limit: int | None = None
    ) -> list[LogEntry]:
        """Oldest first."""
        if self.empty:
            return []
        q = select(log_table).order_by(log_table.c.id)
        if receiver is not None:
            q = q.where(log_table.c.receiver == receiver)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [
                LogEntry(
                    at=as_utc(r["at"]),  # type: ignore[arg-type]
                    receiver=r["receiver"],
                    group_key=r["group_key"],
                    status=r["status"],
                    fingerprints=tuple(r["fingerprints"]),
                    ok=bool(r["ok"]),
                    error=r["error"],
                )
                for r in conn.execute(q).mappings()
            ]

    # ----------------------------------------------------------------- writes
    def save(self, changes: Changes, now: datetime) -> None:
        if not changes:
            return
        with self.engine.begin() as conn:
            self._replace(
                conn,
                alerts_table,
                alerts_table.c.fingerprint,
                changes.alerts,
                lambda a: _alert_row(a, now),
            )
            self._replace(conn, groups_table, groups_table.c.group_key, changes.groups, _group_row)
            for (receiver, group_key), state in changes.receivers.items():
                if state is None:
                    conn.execute(
                        delete(receivers_table).where(
                            (receivers_table.c.receiver == receiver)
                            & (receivers_table.c.group_key == group_key)
                        )
                    )
                else:
                    upsert(conn, receivers_table, [receiver_row(state)])
            if changes.log:
                conn.execute(insert(log_table), [log_row(e) for e in changes.log])

    @staticmethod
    def _replace(
        conn: Any,
        table: Table,
        key: Column[Any],
        items: Mapping[str, Any],
        to_row: Any,
    ) -> None:
        # Deleted items are deleted, the rest upserted: never delete + re-insert, which
        # breaks (UniqueViolation) as soon as a second writer saves the same row.
        if not items:
            return
        gone = [k for k, v in items.items() if v is None]
        for i in range(0, len(gone), 500):
            conn.execute(delete(table).where(key.in_(gone[i : i + 500])))
        upsert(conn, table, [to_row(v) for v in items.values() if v is not None])

    def save_silence(self, silence: Silence) -> None:
        with self.engine.begin() as conn:
            upsert(
                conn,
                silences_table,
                [
                    {
                        "id": silence.id,
                        "matchers": [m.to_json() for m in silence.matchers],
                        "starts_at": silence.starts_at,
                        "ends_at": silence.ends_at,
                        "created_by": silence.created_by,
                        "comment": silence.comment,
                        "created_at": silence.created_at,
                    }
                ],
            )

    def silences(self) -> list[Silence]:
        with self.engine.connect() as conn:
            return self._silences(conn)

    def delete_silences(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            with self.engine.begin() as conn:
                conn.execute(delete(silences_table).where(silences_table.c.id.in_(ids)))
