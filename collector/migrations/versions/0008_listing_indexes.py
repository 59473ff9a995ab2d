"""collector: index jobs by (backend, seq) and (project, seq) for listings

`qsre jobs --backend X` (and `--project`) asks for the newest jobs of one backend:
``WHERE backend = X ORDER BY seq DESC LIMIT n``. Without an index in that order,
PostgreSQL walks the primary key backwards and filters, expecting a backend with
20 % of the rows to turn up within a few hundred; for a backend retired long ago
every newer row comes first (10 M jobs, the oldest 2 M on a retired backend:
8 M rows removed by filter, 2.8 s). With these indexes the listing reads its n
rows whatever the backend's age (0.1 ms), at ~39 bytes per job each on
PostgreSQL. ``(backend, finished_at)`` stays: the signals' recent windows use it.

Building them takes ~10 s each per 10 M jobs on PostgreSQL, during which the
shipper waits (its spool keeps every event).

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
    op.create_index("ix_jobs_project_seq", "jobs", ["project", "seq"])


def downgrade() -> None:
    op.drop_index("ix_jobs_project_seq", table_name="jobs")
    op.drop_index("ix_jobs_backend_seq", table_name="jobs")
