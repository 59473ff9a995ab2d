"""Pruning deletes exactly the rows older than each cutoff, in batches, and nothing
else; a dry run counts the same rows and deletes none; repeated calls are cheap."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

from sqlalchemy import select

from collector.retention import JOB_RESULTS_CURSOR, JOBS_CURSOR, read_cursor
from collector.store import Store
from qsre.retention import RetentionPolicy, prune_store
from slo.alert_state import log_table
from validators.store import validation_runs

from .kit import JOBS, RESULTS, T0, count, fill

DAYS = 10
PER_DAY = 120
NOW = T0 + timedelta(days=DAYS)
POLICY = RetentionPolicy(
    jobs_s=6 * 86400,
    job_results_s=3 * 86400,
    validation_runs_s=5 * 86400,
    notification_log_s=4 * 86400,
    batch_rows=100,
)


def _filled(url: str) -> Store:
    store = Store(url)
    fill(store, DAYS, PER_DAY)
    # Two in-flight jobs as old as the oldest, recorded mid-stream: kept whatever
    # their age (the finisher settles them, not retention).
    store.upsert_jobs(
        {"id": str(uuid.uuid4()), "backend": "aer", "submitted_at": T0, "status": "running"}
        for _ in range(2)
    )
    return store


def _ids(store: Store, stmt) -> set:
    with store.engine.connect() as conn:
        return set(conn.execute(stmt).scalars())


def _rows(store: Store, stmt) -> set:
    with store.engine.connect() as conn:
        return {tuple(r) for r in conn.execute(stmt)}


def _snapshot(store: Store) -> dict[str, set]:
    return {
        "jobs": _ids(store, select(JOBS.c.id)),
        "results": _rows(store, select(RESULTS.c.job_id, RESULTS.c.circuit_index)),
        "validation": _ids(store, select(validation_runs.c.id)),
        "log": _ids(store, select(log_table.c.id)),
    }


def test_prune_deletes_exactly_the_rows_older_than_each_cutoff(store_url) -> None:
    store = _filled(store_url)
    jobs_cut, results_cut = NOW - timedelta(days=6), NOW - timedelta(days=3)
    want_jobs = _ids(
        store,
        select(JOBS.c.id).where((JOBS.c.submitted_at >= jobs_cut) | (JOBS.c.status == "running")),
    )
    young_jobs = select(JOBS.c.id).where(JOBS.c.submitted_at >= results_cut)
    want_results = count(store, RESULTS, RESULTS.c.job_id.in_(young_jobs))
    want_validation = _ids(
        store,
        select(validation_runs.c.id).where(validation_runs.c.ran_at >= NOW - timedelta(days=5)),
    )
    want_log = _ids(store, select(log_table.c.id).where(log_table.c.at >= NOW - timedelta(days=4)))
    before = _snapshot(store)

    results = {r.table: r for r in prune_store(store.engine, POLICY, NOW)}

    after = _snapshot(store)
    assert after["jobs"] == want_jobs
    assert len(after["results"]) == want_results == 3 * PER_DAY * 2
    assert count(store, RESULTS, RESULTS.c.job_id.not_in(young_jobs)) == 0
    assert after["validation"] == want_validation
    assert after["log"] == want_log
    assert results["jobs"].deleted == len(before["jobs"]) - len(want_jobs) == 4 * PER_DAY
    assert results["job_results"].deleted == 7 * PER_DAY * 2
    assert results["validation_runs"].deleted == len(before["validation"]) - len(want_validation)
    assert results["slo_notification_log"].deleted == len(before["log"]) - len(want_log)
    # In batches of at most batch_rows jobs: 7 days of jobs walked for their counts.
    assert results["job_results"].batches >= 7 * PER_DAY // POLICY.batch_rows
    assert all(r.done for r in results.values())
    store.close()


def test_dry_run_counts_the_same_rows_and_deletes_none(store_url) -> None:
    store = _filled(store_url)
    before = _snapshot(store)
    dry = prune_store(store.engine, POLICY, NOW, dry_run=True)
    assert _snapshot(store) == before
    with store.engine.connect() as conn:
        assert read_cursor(conn, JOBS_CURSOR) == read_cursor(conn, JOB_RESULTS_CURSOR) == 0
    real = prune_store(store.engine, POLICY, NOW)
    assert [(r.table, r.deleted) for r in dry] == [(r.table, r.deleted) for r in real]
    assert sum(r.deleted for r in real) > 0
    store.close()


def test_a_bounded_run_resumes_where_it_stopped_and_a_done_walk_costs_one_batch(
    sqlite_url,
) -> None:
    store = _filled(sqlite_url)
    whole = {r.table: r.deleted for r in prune_store(store.engine, POLICY, NOW, dry_run=True)}
    ticks = itertools.count()
    timer = lambda: float(next(ticks))  # noqa: E731 - each look at the clock is 1 s later
    runs = 0
    deleted = dict.fromkeys(whole, 0)
    while True:
        runs += 1
        results = prune_store(store.engine, POLICY, NOW, max_seconds=0.5, timer=timer)
        for r in results:
            # Out of time after the first batch: one transaction per table per run.
            assert r.batches == 1
            deleted[r.table] += r.deleted
        if all(r.done for r in results):
            break
    assert deleted == whole
    assert runs >= 7 * PER_DAY // POLICY.batch_rows
    # Up to date: the next run starts at the boundary, reads one batch and deletes nothing.
    again = prune_store(store.engine, POLICY, NOW)
    assert all(r.batches <= 1 and r.deleted == 0 and r.done for r in again)
    store.close()


def test_rows_kept_forever_when_retention_is_null(sqlite_url) -> None:
    store = _filled(sqlite_url)
    before = _snapshot(store)
    keep_all = RetentionPolicy(None, None, None, None)
    assert prune_store(store.engine, keep_all, NOW + timedelta(days=1000)) == []
    assert _snapshot(store) == before
    store.close()
