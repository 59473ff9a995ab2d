"""collector: drop ix_jobs_idempotency_key

The idempotency key defaults to the job id, so this index held the same
36-character keys as uq_jobs_id (~1 GB each at 10 M jobs on PostgreSQL), and no
query filters on the key: every byte of it was paid on each insert for nothing.

Revision ID: c0005
Revises: c0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "c0005"
down_revision = "c0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_jobs_idempotency_key", table_name="jobs")


def downgrade() -> None:
    op.create_index("ix_jobs_idempotency_key", "jobs", ["idempotency_key"])
