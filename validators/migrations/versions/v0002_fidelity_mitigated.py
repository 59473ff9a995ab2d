"""validators: validation_runs.fidelity_mitigated (readout-mitigated fidelity)

Revision ID: v0002
Revises: v0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0002"
down_revision = "v0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: rows written before mitigation existed (and rows of
    # backends reporting no readout calibration) have no mitigated value.
    with op.batch_alter_table("validation_runs") as batch:
        batch.add_column(sa.Column("fidelity_mitigated", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("validation_runs") as batch:
        batch.drop_column("fidelity_mitigated")
