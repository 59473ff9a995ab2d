"""Validation results in the event store: ``validation_runs`` and ``validation_state``
(schema owned by validators, Alembic dir ``validators/migrations``). The scheduler's
lease lives in ``collector.lease`` (one mechanism for every singleton duty); the old
``scheduler_leases`` table of migration v0001 stays in the schema, unused.

The tables live in the same database as the collector's (one ``collector.store.Store``
engine) but in their own metadata and version table, so the import direction stays
downward. The SLO engine reads ``validation_runs`` by table name with SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
)

from collector import migrate
from collector.clock import as_utc
from collector.lease import Leases, qsre_leases
from collector.schema import UTCDateTime
from collector.store import Store

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version_validators"

# Verdict values of validation_runs.verdict (the metric label values plus 'error').
ROW_VERDICTS: tuple[str, ...] = ("ok", "warn", "drift", "diverged", "not_evaluated", "error")

_Seq = BigInteger().with_variant(Integer, "sqlite")
_TS = UTCDateTime()  # UTC on every dialect, whatever offset a provider gave
metadata = MetaData()

validation_runs = Table(
    "validation_runs",
    metadata,
    Column("id", _Seq, primary_key=True, autoincrement=True),
    Column("run_id", String(36), nullable=False),
    Column("backend", String(200), nullable=False),
    Column("circuit", String(100), nullable=False),
    Column("family", String(50), nullable=False),
    Column("ran_at", _TS, nullable=False),
    Column("job_id", String(36)),
    Column("shots", Integer, nullable=False),
    Column("calibration_at", _TS),
    Column("fidelity", Float),
    Column("tvd_ideal", Float),
    Column("fidelity_mitigated", Float),
    Column("divergence_tvd", Float),
    Column("divergence_p", Float),
    Column("drift_statistic", Float),
    Column("drift_threshold", Float),
    Column("drift", Boolean, nullable=False),
    Column("diverged", Boolean),
    Column("verdict", String(16), nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("versions", JSON, nullable=False),
)
validation_state = Table(
    "validation_state",
    metadata,
    Column("backend", String(200), primary_key=True),
    Column("detector_state", JSON, nullable=False),
    Column("baseline_calibration_at", _TS),
    Column("updated_at", _TS, nullable=False),
)

_RUN_COLUMNS = tuple(c.name for c in validation_runs.columns if c.name != "id")


@dataclass(frozen=True)
class ValidationRunRecord:
    """One ``validation_runs`` row: one circuit of one suite run on one backend."""

    run_id: str
    backend: str
    circuit: str
    family: str
    ran_at: datetime
    shots: int
    verdict: str
    drift: bool = False
    diverged: bool | None = None
    job_id: str | None = None
    calibration_at: datetime | None = None
    fidelity: float | None = None
    tvd_ideal: float | None = None
    # Hellinger fidelity of the readout-mitigated distribution (validators.mitigation);
    # ``fidelity`` is the raw one. None: the backend reports no readout calibration.
    fidelity_mitigated: float | None = None
    divergence_tvd: float | None = None
    divergence_p: float | None = None
    drift_statistic: float | None = None
    drift_threshold: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def __post_init__(self) -> None:
        if self.verdict not in ROW_VERDICTS:
            raise ValueError(
                f"validation run verdict {self.verdict!r}: expected one of {ROW_VERDICTS}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (datetimes as ISO 8601)."""
        out = asdict(self)
        for key in ("ran_at", "calibration_at"):
            out[key] = out[key].isoformat() if out[key] is not None else None
        return out


@dataclass(frozen=True)
class DetectorStateRecord:
    """One ``validation_state`` row: the runner's persisted per-backend state."""

    backend: str
    detector_state: dict[str, Any]
    updated_at: datetime
    baseline_calibration_at: datetime | None = None


def _record(row: Mapping[str, Any]) -> ValidationRunRecord:
    data = dict(row)
    data["ran_at"] = as_utc(data["ran_at"])
    data["calibration_at"] = as_utc(data["calibration_at"])
    data["evidence"] = dict(data["evidence"] or {})
    data["versions"] = dict(data["versions"] or {})
    return ValidationRunRecord(**data)


class ValidationStore:
    """Validation tables on an event store; opening runs the validators' migrations."""

    def __init__(self, store: Store | str, *, migrate_on_open: bool = True) -> None:
        self.store = Store(store) if isinstance(store, str) else store
        self.engine = self.store.engine
        if migrate_on_open:
            migrate.upgrade(self.engine, MIGRATIONS, VERSION_TABLE)

    @property
    def url(self) -> str:
        return self.store.url

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _insert(self, table: Table) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    # ---------------------------------------------------------------- writes
    def record_run(
        self, rows: Sequence[ValidationRunRecord], state: DetectorStateRecord | None = None
    ) -> list[int]:
        """Insert one suite run's rows and save the detector state in ONE transaction,
        so a crash never leaves a state that has seen runs the table lacks (or the
        reverse). Returns the new row ids in order."""
        with self.engine.begin() as conn:
            ids = self._insert_rows(conn, rows)
            if state is not None:
                self._save_state(conn, state)
        return ids

    def insert_runs(self, rows: Sequence[ValidationRunRecord]) -> list[int]:
        with self.engine.begin() as conn:
            return self._insert_rows(conn, rows)

    def _insert_rows(self, conn: Connection, rows: Sequence[ValidationRunRecord]) -> list[int]:
        ids = []
        for row in rows:
            values = {name: getattr(row, name) for name in _RUN_COLUMNS}
            # One statement per row: RETURNING with executemany is not portable, and a
            # suite run is ~8 rows.
            result = conn.execute(
                validation_runs.insert().values(**values).returning(validation_runs.c.id)
            )
            ids.append(int(result.scalar_one()))
        return ids

    def save_state(self, state: DetectorStateRecord) -> None:
        with self.engine.begin() as conn:
            self._save_state(conn, state)

    def _save_state(self, conn: Connection, state: DetectorStateRecord) -> None:
        stmt = self._insert(validation_state).values(
            backend=state.backend,
            detector_state=state.detector_state,
            baseline_calibration_at=state.baseline_calibration_at,
            updated_at=state.updated_at,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["backend"],
            set_={
                "detector_state": stmt.excluded.detector_state,
                "baseline_calibration_at": stmt.excluded.baseline_calibration_at,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        conn.execute(stmt)

    def delete_state(self, backend: str) -> bool:
        """Forget a backend's detector state (the next run learns a new baseline)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                validation_state.delete().where(validation_state.c.backend == backend)
            )
            return bool(result.rowcount)

    # ---------------------------------------------------------------- reads
    def load_state(self, backend: str) -> DetectorStateRecord | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(validation_state).where(validation_state.c.backend == backend))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return DetectorStateRecord(
            backend=row["backend"],
            detector_state=dict(row["detector_state"]),
            updated_at=as_utc(row["updated_at"]),  # type: ignore[arg-type]
            baseline_calibration_at=as_utc(row["baseline_calibration_at"]),
        )

    def _rows(self, query: Any) -> list[ValidationRunRecord]:
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query).mappings()]

    def latest(self, backend: str | None = None) -> list[ValidationRunRecord]:
        """The newest row of every (backend, circuit), sorted by backend and circuit."""
        t = validation_runs
        newest = select(func.max(t.c.id).label("id")).group_by(t.c.backend, t.c.circuit)
        if backend is not None:
            newest = newest.where(t.c.backend == backend)
        q = select(t).where(t.c.id.in_(newest.scalar_subquery())).order_by(t.c.backend, t.c.circuit)
        return self._rows(q)

    def latest_run(self, backend: str, *, evaluated: bool = False) -> list[ValidationRunRecord]:
        """Rows of the backend's newest suite run (``evaluated``: newest run with at
        least one row whose verdict is not 'error')."""
        t = validation_runs
        q = select(t.c.run_id).where(t.c.backend == backend)
        if evaluated:
            q = q.where(t.c.verdict != "error")
        q = q.order_by(t.c.ran_at.desc(), t.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            run_id = conn.execute(q).scalar()
        if run_id is None:
            return []
        return self._rows(select(t).where(t.c.run_id == run_id).order_by(t.c.circuit))

    def runs_since(
        self,
        since: datetime | None = None,
        *,
        backend: str | None = None,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> list[ValidationRunRecord]:
        """Rows with ``ran_at >= since`` (and ``id > after_id``), oldest first."""
        t = validation_runs
        q = select(t)
        if since is not None:
            q = q.where(t.c.ran_at >= since)
        if backend is not None:
            q = q.where(t.c.backend == backend)
        if after_id is not None:
            q = q.where(t.c.id > after_id)
        q = q.order_by(t.c.id)
        if limit is not None:
            q = q.limit(limit)
        return self._rows(q)

    def history(
        self, backend: str, circuit: str | None = None, *, limit: int = 100
    ) -> list[ValidationRunRecord]:
        """The backend's (or one circuit's) rows, newest first."""
        t = validation_runs
        q = select(t).where(t.c.backend == backend)
        if circuit is not None:
            q = q.where(t.c.circuit == circuit)
        return self._rows(q.order_by(t.c.ran_at.desc(), t.c.id.desc()).limit(limit))

    def last_ran_at(self, backend: str) -> datetime | None:
        t = validation_runs
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(t.c.ran_at)).where(t.c.backend == backend))
            return as_utc(value.scalar())

    def count_runs(self, backend: str | None = None) -> int:
        """Distinct suite runs (run ids), optionally of one backend."""
        t = validation_runs
        q = select(func.count(func.distinct(t.c.run_id)))
        if backend is not None:
            q = q.where(t.c.backend == backend)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    # ---------------------------------------------------------------- leases
    @cached_property
    def leases(self) -> Leases:
        return Leases(self.store)

    def acquire_lease(self, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``now + ttl_s``
        (``collector.lease.Leases.acquire``, for callers that need no epoch)."""
        return self.leases.acquire(name, holder, now, ttl_s) is not None

    def release_lease(self, name: str, holder: str) -> bool:
        """Give up ``holder``'s hold of ``name``, whichever epoch it is at."""
        t = qsre_leases
        q = select(t.c.epoch).where(t.c.name == name, t.c.holder == holder)
        with self.engine.connect() as conn:
            epoch = conn.execute(q).scalar()
        return epoch is not None and self.leases.release(name, holder, int(epoch))

    def lease_holder(self, name: str, now: datetime) -> str | None:
        """Current unexpired holder of a lease, if any."""
        lease = self.leases.current(name, now)
        return None if lease is None else lease.holder
