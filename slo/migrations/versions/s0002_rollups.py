"""slo: per-minute SLI rollups (packed per hour), their cursors and pending jobs

Revision ID: s0002
Revises: s0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "s0002"
down_revision = "s0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # One cursor per source table (jobs, validation_runs): highest seq/id read,
    # the recent (cursor, time, update) marks that bound the rescan margin, and
    # the number of update cycles so far.
    op.create_table(
        "slo_rollup_sources",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("marks", sa.JSON, nullable=False),
        sa.Column("update_no", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    # Jobs read while not yet terminal; rechecked every update until they are.
    op.create_table(
        "slo_rollup_pending",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    )
    # One row per rolled-up SLI (see slo.sli.sli_key): built once, then kept in
    # step with its source; synced_update says which update cycle it last saw.
    op.create_table(
        "slo_rollup_series",
        sa.Column("sli_key", sa.String(40), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("built_at", TS, nullable=False),
        sa.Column("synced_update", sa.BigInteger, nullable=False),
    )
    # Minute ranges [lo, hi) recomputed by each update, kept for a while so that a
    # series left out of some updates can replay them instead of being rebuilt.
    op.create_table(
        "slo_rollup_dirty",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("update_no", sa.BigInteger, nullable=False),
        sa.Column("lo", sa.BigInteger, nullable=False),
        sa.Column("hi", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_slo_rollup_dirty_source_update", "slo_rollup_dirty", ["source", "update_no"]
    )
    # 60 per-minute buckets per row, float64 little-endian (good, total); hour =
    # whole hours since the Unix epoch. Packing keeps a 30-day read at 720 rows.
    op.create_table(
        "slo_rollup_hours",
        sa.Column("sli_key", sa.String(40), primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("good", sa.LargeBinary, nullable=False),
        sa.Column("total", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slo_rollup_hours")
    op.drop_table("slo_rollup_dirty")
    op.drop_table("slo_rollup_series")
    op.drop_table("slo_rollup_pending")
    op.drop_table("slo_rollup_sources")
