"""The validators' ``validation_runs`` table as the SLO side reads it.

validators/ owns and migrates the table (slo never imports validators: it reads
results from the store, not from code). This one Core description serves every
reader in slo/ — SLIs and rollups, signals, the weekly report — so a column change
in the validators' migration has exactly one place to follow here.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
)

from collector.schema import UTCDateTime

_META = MetaData()
VALIDATION_RUNS = Table(
    "validation_runs",
    _META,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("run_id", String(36)),
    Column("backend", String(200)),
    Column("circuit", String(100)),
    Column("family", String(50)),
    Column("ran_at", UTCDateTime()),
    Column("shots", Integer),
    Column("calibration_at", UTCDateTime()),
    Column("fidelity", Float),
    Column("fidelity_mitigated", Float),  # validators migration v0002
    Column("divergence_tvd", Float),
    Column("divergence_p", Float),
    Column("drift_statistic", Float),
    Column("drift_threshold", Float),
    Column("drift", Boolean),
    Column("diverged", Boolean),
    Column("verdict", String(16)),
    Column("evidence", JSON),
    Column("versions", JSON),
)
