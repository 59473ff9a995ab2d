"""validators: validation_runs, validation_state, scheduler_leases

Revision ID: v0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets BIGSERIAL.
Seq = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "validation_runs",
        sa.Column("id", Seq, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("backend", sa.String(200), nullable=False),
        sa.Column("circuit", sa.String(100), nullable=False),
        sa.Column("family", sa.String(50), nullable=False),
        sa.Column("ran_at", TS, nullable=False),
        sa.Column("job_id", sa.String(36)),
        sa.Column("shots", sa.Integer, nullable=False),
        sa.Column("calibration_at", TS),
        sa.Column("fidelity", sa.Float),
        sa.Column("tvd_ideal", sa.Float),
        sa.Column("divergence_tvd", sa.Float),
        sa.Column("divergence_p", sa.Float),
        sa.Column("drift_statistic", sa.Float),
        sa.Column("drift_threshold", sa.Float),
        sa.Column("drift", sa.Boolean, nullable=False),
        sa.Column("diverged", sa.Boolean),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("versions", sa.JSON, nullable=False),
    )
    op.create_index("ix_validation_runs_backend_ran", "validation_runs", ["backend", "ran_at"])
    op.create_index("ix_validation_runs_ran", "validation_runs", ["ran_at"])
    op.create_table(
        "validation_state",
        sa.Column("backend", sa.String(200), primary_key=True),
        sa.Column("detector_state", sa.JSON, nullable=False),
        sa.Column("baseline_calibration_at", TS),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scheduler_leases")
    op.drop_table("validation_state")
    op.drop_index("ix_validation_runs_ran", table_name="validation_runs")
    op.drop_index("ix_validation_runs_backend_ran", table_name="validation_runs")
    op.drop_table("validation_runs")
