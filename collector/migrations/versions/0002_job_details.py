"""collector: jobs.shots_discrepancy and jobs.details

Revision ID: c0002
Revises: c0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0002"
down_revision = "c0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER a table's columns in place.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("shots_discrepancy", sa.Integer))
        batch.add_column(sa.Column("details", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("details")
        batch.drop_column("shots_discrepancy")
