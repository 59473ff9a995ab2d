"""collector: index jobs by (backend, seq) for listings

`qsre jobs --backend X` asks for the newest jobs of one backend:
``WHERE backend = X ORDER BY seq DESC LIMIT n``. Without an index in that order,
PostgreSQL walks the primary key backwards and filters, expecting a backend with
20 % of the rows to turn up within a few hundred; for a backend retired long ago
every newer row comes first (10 M jobs, the oldest 2 M on a retired backend:
8 M rows removed by filter, 2.8 s). With this index the listing reads its n
rows whatever the backend's age (3 ms), at 39-49 bytes per job on PostgreSQL.
``(backend, finished_at)`` stays: the signals' recent windows use it. A
``(project, seq)`` twin would cost as much again and take the store past its
900 bytes per job (issue 15): project listings keep the planner's choice.

Building it takes ~10 s per 10 M jobs on PostgreSQL, during which the shipper
waits (its spool keeps every event).

Revision ID: c0008
Revises: c0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "c0008"
down_revision = "c0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_backend_seq", "jobs", ["backend", "seq"])


def downgrade() -> None:
    op.drop_index("ix_jobs_backend_seq", table_name="jobs")
