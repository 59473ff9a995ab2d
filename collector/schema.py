"""The event store schema owned by the collector (SQLAlchemy 2.0 typed models).

Other packages (validators, slo) own their own tables and migrations; they share
the database but not this metadata, so the import direction stays downward.
Changes here go through an Alembic migration in ``collector/migrations``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets BIGSERIAL.
SeqType = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored and read back as UTC, on every dialect.

    Providers hand out local offsets (qiskit-ibm-runtime's calibration dates carry
    ``-05:00``); SQLite keeps no offset and would store the local wall time as if
    it were UTC. So every value is converted to UTC before it is bound (naive
    means UTC already; ISO strings and epoch seconds are accepted), and read back
    aware. On SQLite it is bound naive, the form earlier rows have, so stored
    strings keep comparing in time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = datetime.fromtimestamp(value, UTC)
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, ISO string or epoch seconds, got {value!r}")
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TERMINAL_STATUSES = ("done", "error", "cancelled", "unknown")
STATUSES = ("queued", "running", *TERMINAL_STATUSES)
ERROR_CLASSES = (
    "auth",
    "transient",
    "quota",
    "invalid_input",
    "backend",
    "result_corrupt",
    "timeout",
    # The backend ran out of something it needs for this job (a simulator's memory):
    # not the caller's malformed input, and not a fault that a retry clears.
    "resource",
    "unknown",
)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class JobRow(Base):
    """One row per proxied job (retries included: ``attempts`` counts them).

    ``seq`` is assigned on first insert and never changes; consumers that tail the
    table (the exporter, SLO rollups) use it as a cursor. A row reaches a terminal
    status once and stays there.
    """

    __tablename__ = "jobs"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    provider_job_id: Mapped[str | None] = mapped_column(String(200))
    backend: Mapped[str] = mapped_column(String(200))
    project: Mapped[str] = mapped_column(String(200), default="")
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    purpose: Mapped[str] = mapped_column(String(32), default="workload")
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    num_circuits: Mapped[int] = mapped_column(Integer, default=0)
    circuit_hash: Mapped[str | None] = mapped_column(String(64))
    max_qubits: Mapped[int | None] = mapped_column(Integer)
    max_depth: Mapped[int | None] = mapped_column(Integer)
    shots: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    queue_seconds: Mapped[float | None] = mapped_column(Float)
    run_seconds: Mapped[float | None] = mapped_column(Float)
    e2e_seconds: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    error_class: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    calibration_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recorder: Mapped[str | None] = mapped_column(String(200))
    # Counts summed over circuits minus the shots asked for, when not 0 (IonQ's
    # QPU counts are rounded probabilities; a provider bug shows here too).
    shots_discrepancy: Mapped[int | None] = mapped_column(Integer)
    # What only some jobs have: a primitive's pubs, precision, expectation values,
    # resilience options (see collector.estimator).
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The OpenTelemetry trace id (32 lowercase hex) of the job's span, when one was
    # emitted (collector.tracing.job_trace_id); dashboards link it to the trace UI.
    trace_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_jobs_backend_finished", "backend", "finished_at"),
        Index("ix_jobs_project_finished", "project", "finished_at"),
        Index("ix_jobs_status_finished", "status", "finished_at"),
        Index("ix_jobs_submitted", "submitted_at"),
        # Listings of one backend, newest first, whatever its age (c0008).
        Index("ix_jobs_backend_seq", "backend", "seq"),
    )


class JobResultRow(Base):
    """Raw counts for one circuit of one job."""

    __tablename__ = "job_results"

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    circuit_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    num_clbits: Mapped[int | None] = mapped_column(Integer)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)


class BackendRow(Base):
    """A backend seen by any proxy."""

    __tablename__ = "backends"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    num_qubits: Mapped[int | None] = mapped_column(Integer)
    provider: Mapped[str | None] = mapped_column(String(200))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_calibration_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CalibrationSnapshotRow(Base):
    """A summary of a backend's reported calibration, one per calibration timestamp."""

    __tablename__ = "calibration_snapshots"

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    backend: Mapped[str] = mapped_column(String(200))
    calibrated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("backend", "calibrated_at"),)


class ExporterCheckpointRow(Base):
    """The exporter's totals up to a ``jobs.seq`` cursor (collector.exporter), so that
    a restarted daemon tails from there instead of aggregating the whole jobs table,
    and its counters survive the retention of old rows."""

    __tablename__ = "exporter_checkpoints"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[int] = mapped_column(SeqType)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
