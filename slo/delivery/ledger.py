"""The delivery ledger: an intent before each receiver call, its outcome right after.

Each write is one small transaction that also saves the receiver's state (its memo:
the Slack ts, the PagerDuty keys already triggered; its current incident), so the
state on disk is never older than the last call that reached a receiver. A crash
between intent and outcome leaves an open intent: the restarted router treats that
(receiver, group) as *in doubt* (the call may have reached the far end) and retries
in a way that cannot double the notification (PagerDuty: same dedup_key; Slack: find
the message by its metadata before posting).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from collector.clock import as_utc
from collector.schema import UTCDateTime
from slo.alert_state import (
    LogEntry,
    ReceiverState,
    log_row,
    log_table,
    metadata,
    receiver_row,
    receivers_table,
    upsert,
)

_TS = UTCDateTime()

attempts_table = Table(
    "slo_delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("receiver", String(200), nullable=False),
    Column("group_key", String(1000), nullable=False),
    Column("incident_id", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("fingerprints", JSON, nullable=False),
    Column("intent_at", _TS, nullable=False),
    Column("outcome", String(16)),
    Column("outcome_at", _TS),
    Column("answer", Text),
    Index("ix_slo_delivery_attempts_open", "outcome", "receiver"),
)

OK = "ok"
FAILED = "failed"
# An intent a later attempt superseded without ever learning its outcome (a crash).
IN_DOUBT = "in_doubt"


@dataclass(frozen=True)
class Attempt:
    """One ledger row."""

    id: int
    receiver: str
    group_key: str
    incident_id: str
    status: str
    fingerprints: tuple[str, ...]
    intent_at: datetime
    outcome: str | None
    outcome_at: datetime | None
    answer: str | None


class DeliveryLedger:
    """Reads and writes ``slo_delivery_attempts`` (created by the slo migrations)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def intent(
        self,
        state: ReceiverState,
        *,
        status: str,
        fingerprints: tuple[str, ...],
        now: datetime,
    ) -> int:
        """Record that a call is about to be made; saves ``state`` with it. The id."""
        with self.engine.begin() as conn:
            upsert(conn, receivers_table, [receiver_row(state)])
            result = conn.execute(
                insert(attempts_table).values(
                    receiver=state.receiver,
                    group_key=state.group_key,
                    incident_id=state.incident_id or "",
                    status=status,
                    fingerprints=list(fingerprints),
                    intent_at=now,
                )
            )
            return int(result.inserted_primary_key[0])

    def outcome(
        self,
        attempt_id: int,
        state: ReceiverState,
        *,
        ok: bool,
        answer: str | None,
        log: LogEntry,
        now: datetime,
    ) -> None:
        """Record how the call ended, the receiver's state after it, and the log line."""
        t = attempts_table
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.id == attempt_id)
                .values(outcome=OK if ok else FAILED, outcome_at=now, answer=answer)
            )
            # Earlier intents of this (receiver, group) left open by a crash: this
            # attempt finished their job; they stay in the ledger as in doubt.
            conn.execute(
                update(t)
                .where(
                    (t.c.receiver == state.receiver)
                    & (t.c.group_key == state.group_key)
                    & (t.c.id < attempt_id)
                    & t.c.outcome.is_(None)
                )
                .values(outcome=IN_DOUBT, outcome_at=now)
            )
            upsert(conn, receivers_table, [receiver_row(state)])
            conn.execute(insert(log_table), [log_row(log)])

    def prune(self, before: datetime) -> int:
        """Forget finished attempts older than ``before`` (open intents are kept: they
        are what a restart finishes). The notification log keeps the history."""
        t = attempts_table
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(t).where(t.c.outcome.is_not(None) & (t.c.outcome_at < before))
            )
        return int(result.rowcount or 0)

    def open_intents(self) -> list[Attempt]:
        """Intents without an outcome, oldest first."""
        return self.attempts(open_only=True)

    def attempts(self, *, receiver: str | None = None, open_only: bool = False) -> list[Attempt]:
        q = select(attempts_table).order_by(attempts_table.c.id)
        if receiver is not None:
            q = q.where(attempts_table.c.receiver == receiver)
        if open_only:
            q = q.where(attempts_table.c.outcome.is_(None))
        with self.engine.connect() as conn:
            return [_attempt(r) for r in conn.execute(q).mappings()]


def _attempt(r: Any) -> Attempt:
    return Attempt(
        id=int(r["id"]),
        receiver=r["receiver"],
        group_key=r["group_key"],
        incident_id=r["incident_id"],
        status=r["status"],
        fingerprints=tuple(r["fingerprints"]),
        intent_at=as_utc(r["intent_at"]),  # type: ignore[arg-type]
        outcome=r["outcome"],
        outcome_at=as_utc(r["outcome_at"]),
        answer=r["answer"],
    )
