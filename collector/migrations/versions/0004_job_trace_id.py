"""collector: jobs.trace_id (the OpenTelemetry trace id of the job's span)

Revision ID: c0004
Revises: c0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0004"
down_revision = "c0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: jobs recorded before tracing (or without it) have no span.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("trace_id", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("trace_id")
