"""collector: exporter_checkpoints (the exporter's totals up to a seq cursor)

A restarted daemon used to aggregate the whole jobs table to seed /metrics (4.4 s
of GROUP BY plus a 1.1 s scan of pending jobs at 10 M jobs on PostgreSQL); with a
checkpoint it tails from the cursor, and counters keep counting jobs that
retention has deleted since.

Revision ID: c0007
Revises: c0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from collector.schema import UTCDateTime

revision = "c0007"
down_revision = "c0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exporter_checkpoints",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("cursor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("saved_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exporter_checkpoints")
