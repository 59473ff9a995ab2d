"""The jobs table carries no two indexes on the same key, on either dialect, and the
migrations build exactly the indexes the ORM declares."""

from __future__ import annotations

from sqlalchemy import inspect

from collector.schema import JobRow
from collector.store import Store, jobs_query


def test_no_duplicate_index_and_migrations_match_the_model(store_url) -> None:
    store = Store(store_url)
    with store.engine.connect() as conn:
        insp = inspect(conn)
        indexes = {i["name"]: tuple(i["column_names"]) for i in insp.get_indexes("jobs")}
        uniques = {u["name"]: tuple(u["column_names"]) for u in insp.get_unique_constraints("jobs")}
    keys = list(indexes.values()) + list(uniques.values())
    # PostgreSQL lists a unique constraint's index among the indexes too.
    distinct = {name: cols for name, cols in {**indexes, **uniques}.items()}
    assert len(set(distinct.values())) == len(distinct), keys
    assert "ix_jobs_idempotency_key" not in indexes
    declared = {i.name for i in JobRow.__table__.indexes}
    assert declared <= set(indexes), declared - set(indexes)
    store.close()


def _listing_plan(store: Store, **filters: str) -> str:
    """The plan of the statement `qsre jobs --backend/--project` runs (Store.jobs)."""
    q = jobs_query(limit=50, **filters)
    sql = str(q.compile(store.engine, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN " if store.engine.dialect.name == "sqlite" else "EXPLAIN "
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(explain + sql).all()
    return "\n".join(str(r[-1]) for r in rows)


def test_listing_a_retired_backend_reads_only_its_newest_rows(store_url) -> None:
    """A backend retired long ago holds the oldest fifth of the jobs: its listing
    must come from an index in (backend, seq) order, not from a walk back over every
    newer job (issue 15: 8 M rows filtered, 2.8 s at 10 M jobs on PostgreSQL)."""
    from datetime import UTC, datetime, timedelta

    store = Store(store_url)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        {
            "id": f"job-{i:06d}",
            "backend": "retired" if i < 4000 else f"live-{i % 4}",
            "project": "old-team" if i < 4000 else f"team-{i % 3}",
            "submitted_at": t0 + timedelta(seconds=i),
            "finished_at": t0 + timedelta(seconds=i + 1),
            "status": "done",
        }
        for i in range(20_000)
    ]
    for i in range(0, len(rows), 5000):
        store.upsert_jobs(rows[i : i + 5000])
    store.refresh_statistics()  # SQLite; on PostgreSQL autovacuum would, in time:
    if store.engine.dialect.name == "postgresql":
        # Statistics, and the old pages marked all-visible (index-only scans).
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE jobs"
            )
    plan = _listing_plan(store, backend="retired")
    # The n newest entries of that index, in its order, then n lookups by seq: no
    # backward walk of the primary key over every newer job, no full SCAN.
    assert "ix_jobs_backend_seq" in plan, plan
    assert "Backward using jobs_pkey" not in plan and "SCAN jobs" not in plan, plan
    listed = store.jobs(backend="retired", limit=3)
    assert [j.id for j in listed] == ["job-003999", "job-003998", "job-003997"]
    store.close()
