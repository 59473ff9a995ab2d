"""collector: retention_cursors (where each retention walk has got to)

One row per pruned table (collector.retention): the highest key below which every
row older than its cutoff has been deleted. A pruning call starts there, so it never
rescans ranges already pruned (on PostgreSQL, nor the dead index entries a VACUUM
has not removed yet). validators and slo keep their walks' cursors here too.

Revision ID: c0006
Revises: c0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from collector.schema import UTCDateTime

revision = "c0006"
down_revision = "c0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_cursors")
