"""collector: jobs, job_results, backends, calibration_snapshots

Revision ID: c0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0001"
down_revision = None
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("provider_job_id", sa.String(200)),
        sa.Column("backend", sa.String(200), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("num_circuits", sa.Integer, nullable=False),
        sa.Column("circuit_hash", sa.String(64)),
        sa.Column("max_qubits", sa.Integer),
        sa.Column("max_depth", sa.Integer),
        sa.Column("shots", sa.Integer),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("queue_seconds", sa.Float),
        sa.Column("run_seconds", sa.Float),
        sa.Column("e2e_seconds", sa.Float),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_class", sa.String(32)),
        sa.Column("error_message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("calibration_at", TS),
        sa.Column("recorder", sa.String(200)),
        sa.UniqueConstraint("id", name="uq_jobs_id"),
    )
    op.create_index("ix_jobs_backend_finished", "jobs", ["backend", "finished_at"])
    op.create_index("ix_jobs_project_finished", "jobs", ["project", "finished_at"])
    op.create_index("ix_jobs_status_finished", "jobs", ["status", "finished_at"])
    op.create_index("ix_jobs_submitted", "jobs", ["submitted_at"])
    op.create_index("ix_jobs_idempotency_key", "jobs", ["idempotency_key"])
    op.create_table(
        "job_results",
        sa.Column("job_id", sa.String(36), primary_key=True),
        sa.Column("circuit_index", sa.Integer, primary_key=True),
        sa.Column("num_clbits", sa.Integer),
        sa.Column("counts", sa.JSON, nullable=False),
    )
    op.create_table(
        "backends",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("num_qubits", sa.Integer),
        sa.Column("provider", sa.String(200)),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("last_calibration_at", TS),
    )
    op.create_table(
        "calibration_snapshots",
        sa.Column("id", Seq, primary_key=True, autoincrement=True),
        sa.Column("backend", sa.String(200), nullable=False),
        sa.Column("calibrated_at", TS, nullable=False),
        sa.Column("captured_at", TS, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.UniqueConstraint(
            "backend", "calibrated_at", name="uq_calibration_snapshots_backend_calibrated_at"
        ),
    )


def downgrade() -> None:
    op.drop_table("calibration_snapshots")
    op.drop_table("backends")
    op.drop_table("job_results")
    op.drop_table("jobs")
