"""slo: alert router state (active alerts, groups, per-receiver log, silences, history)

Revision ID: s0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "s0001"
down_revision = None
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slo_alerts",
        sa.Column("fingerprint", sa.String(16), primary_key=True),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.Column("generator_url", sa.Text, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "slo_alert_groups",
        sa.Column("group_key", sa.String(1000), primary_key=True),
        sa.Column("route_index", sa.Integer, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("alert_fingerprints", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("next_flush_at", TS, nullable=False),
    )
    op.create_table(
        "slo_alert_receivers",
        sa.Column("receiver", sa.String(200), primary_key=True),
        sa.Column("group_key", sa.String(1000), primary_key=True),
        sa.Column("last_firing", sa.JSON, nullable=False),
        sa.Column("open_fingerprints", sa.JSON, nullable=False),
        sa.Column("last_sent_at", TS),
        sa.Column("retry_pending", sa.Boolean, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("memo", sa.JSON, nullable=False),
    )
    op.create_table(
        "slo_silences",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("matchers", sa.JSON, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "slo_notification_log",
        sa.Column("id", Seq, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("receiver", sa.String(200), nullable=False),
        sa.Column("group_key", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fingerprints", sa.JSON, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_slo_notification_log_at", "slo_notification_log", ["at"])


def downgrade() -> None:
    op.drop_table("slo_notification_log")
    op.drop_table("slo_silences")
    op.drop_table("slo_alert_receivers")
    op.drop_table("slo_alert_groups")
    op.drop_table("slo_alerts")
