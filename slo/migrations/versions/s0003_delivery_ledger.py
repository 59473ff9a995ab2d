"""slo: per-attempt delivery ledger and each receiver's current incident

Revision ID: s0003
Revises: s0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "s0003"
down_revision = "s0002"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # One row per receiver attempt: written (intent) before the call, completed
    # (outcome, answer) right after it. An intent without an outcome is a call that
    # may or may not have reached the receiver: a restarted router finishes it.
    op.create_table(
        "slo_delivery_attempts",
        sa.Column("id", Seq, primary_key=True, autoincrement=True),
        sa.Column("receiver", sa.String(200), nullable=False),
        sa.Column("group_key", sa.String(1000), nullable=False),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fingerprints", sa.JSON, nullable=False),
        sa.Column("intent_at", TS, nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("outcome_at", TS),
        sa.Column("answer", sa.Text),
    )
    op.create_index(
        "ix_slo_delivery_attempts_open", "slo_delivery_attempts", ["outcome", "receiver"]
    )
    with op.batch_alter_table("slo_alert_receivers") as batch:
        batch.add_column(sa.Column("incident_id", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("slo_alert_receivers") as batch:
        batch.drop_column("incident_id")
    op.drop_index("ix_slo_delivery_attempts_open", "slo_delivery_attempts")
    op.drop_table("slo_delivery_attempts")
