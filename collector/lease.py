"""Leases with a fencing epoch: one holder per singleton duty among daemon replicas.

    leases = Leases(store)
    lease = leases.acquire("qsre-alert-router", "host:pid:abcd", now, ttl_s=30)
    if lease is not None and leases.is_current(lease, clock.now()):
        ...  # act as the one holder

A row of ``qsre_leases`` names the holder, its ``expires_at`` and an ``epoch``.
``acquire`` takes a free or expired lease, or renews the caller's own live one, in
one atomic upsert: on PostgreSQL ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``
locks the conflicting row and re-checks the condition on its newest version, and on
SQLite the store begins every write transaction IMMEDIATE, so writers serialise.
Two processes acquiring at once: exactly one gets a ``Lease``.

The epoch grows every time the lease is *taken* (holder changed, or the previous
hold had lapsed), never on a renewal of a live hold, and never goes back: release
expires the row instead of deleting it. So a ``Lease`` value names one continuous
hold, and ``is_current`` is a fencing check: a holder that was paused past its TTL
(SIGSTOP, a long GC, a partition) gets False on waking even if nobody took over and
even if its own renewal thread re-acquired in between (that is a new hold, a new
epoch). Callers check it right before each externally visible action.

Times come from the callers' clocks (injected, like everywhere in qsre), so replicas
must agree on time to well under the TTL (NTP does; the TTL is seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, Column, MetaData, String, Table, case, select, update

from collector.schema import UTCDateTime
from collector.store import Store

# The table is created by migration c0003; this Core description is for queries only.
_metadata = MetaData()
qsre_leases = Table(
    "qsre_leases",
    _metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("acquired_at", UTCDateTime(), nullable=False),
)

# Release sets expires_at here rather than deleting the row: the epoch must survive.
_RELEASED_AT = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Lease:
    """One continuous hold of a lease: who, which epoch, until when."""

    name: str
    holder: str
    epoch: int
    expires_at: datetime


class Leases:
    """Leases stored in the event store (``qsre_leases``); thread-safe."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def acquire(self, name: str, holder: str, now: datetime, ttl_s: float) -> Lease | None:
        """Take the lease (free or expired) or renew it (held live by ``holder``) until
        ``now + ttl_s``. Returns the hold, or None when someone else holds it live.

        A take increments the epoch; a renewal keeps it. One statement, one
        transaction.
        """
        if not ttl_s > 0:
            raise ValueError(f"lease ttl_s={ttl_s!r}: expected a positive number of seconds")
        if now.tzinfo is None:
            raise ValueError(f"lease now={now!r}: expected a timezone-aware datetime")
        expires = now + timedelta(seconds=ttl_s)
        t = qsre_leases
        stmt = self.store._insert(t).values(
            name=name, holder=holder, epoch=1, expires_at=expires, acquired_at=now
        )
        renewal = (t.c.holder == stmt.excluded.holder) & (t.c.expires_at > now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "holder": stmt.excluded.holder,
                "expires_at": stmt.excluded.expires_at,
                "epoch": case((renewal, t.c.epoch), else_=t.c.epoch + 1),
                "acquired_at": case((renewal, t.c.acquired_at), else_=stmt.excluded.acquired_at),
            },
            # Ours and live (a renewal) or lapsed (anyone may take it); else untouched.
            where=renewal | (t.c.expires_at <= now),
        ).returning(t.c.holder, t.c.epoch, t.c.expires_at)
        with self.store.engine.begin() as conn:
            row = conn.execute(stmt).first()
        if row is None or row.holder != holder:
            return None
        return Lease(
            name=name, holder=holder, epoch=int(row.epoch), expires_at=_utc(row.expires_at)
        )

    def release(self, name: str, holder: str, epoch: int) -> bool:
        """Give up this hold (only if it is still ``holder``'s at ``epoch``), so another
        replica takes over at its next attempt instead of after the expiry."""
        t = qsre_leases
        stmt = (
            update(t)
            .where(t.c.name == name, t.c.holder == holder, t.c.epoch == epoch)
            .values(expires_at=_RELEASED_AT)
        )
        with self.store.engine.begin() as conn:
            return bool(conn.execute(stmt).rowcount)

    def is_current(self, lease: Lease, now: datetime) -> bool:
        """Fencing check: the row still has this holder and epoch and has not expired
        at ``now``. One indexed read."""
        t = qsre_leases
        q = select(t.c.epoch).where(
            t.c.name == lease.name,
            t.c.holder == lease.holder,
            t.c.epoch == lease.epoch,
            t.c.expires_at > now,
        )
        with self.store.engine.connect() as conn:
            return conn.execute(q).first() is not None

    def current(self, name: str, now: datetime) -> Lease | None:
        """The live hold of ``name`` at ``now``, if any (diagnostics, ``qsre`` status)."""
        t = qsre_leases
        q = select(t.c.holder, t.c.epoch, t.c.expires_at).where(
            t.c.name == name, t.c.expires_at > now
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        return Lease(
            name=name, holder=row.holder, epoch=int(row.epoch), expires_at=_utc(row.expires_at)
        )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
