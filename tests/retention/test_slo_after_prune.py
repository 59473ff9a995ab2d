"""SLOs answer from rollups after the raw jobs they were counted from are pruned."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from collector.clock import VirtualClock
from collector.retention import prune_job_results, prune_jobs, pruned_history_start
from collector.store import Store
from slo.engine import SLOEngine
from slo.spec import parse_slos

from .kit import JOBS, T0, count, day_of_jobs

DAYS = 7
PER_DAY = 200
SLOS = parse_slos(
    [
        {"name": "success", "objective": 0.95, "sli": {"kind": "job_success"}, "window": "2d"},
        {
            "name": "queue",
            "objective": 0.9,
            "sli": {"kind": "queue_latency", "threshold_seconds": 60},
            "window": "1d",
        },
    ],
    "test.yaml",
)


def _store_with_history(url: str) -> tuple[Store, VirtualClock]:
    store = Store(url)
    for day in range(DAYS):
        jobs = day_of_jobs(day, PER_DAY)
        if day == 1:  # a bad day, outside every window by the end
            jobs = [{**j, "status": "error", "error_class": "backend"} for j in jobs]
        store.upsert_jobs(jobs)
    return store, VirtualClock(T0 + timedelta(days=DAYS))


def _status(engine: SLOEngine, at=None) -> list[dict]:
    """Every field of every status but ``history_start``: the oldest job still stored,
    which pruning moves by design (``history_complete`` is compared)."""
    return [
        {k: v for k, v in s.to_dict().items() if k != "history_start"} for s in engine.evaluate(at)
    ]


def _prune(store: Store, clock: VirtualClock, keep: timedelta) -> int:
    cutoff = clock.now() - keep
    prune_job_results(store.engine, cutoff, now=clock.now())
    return prune_jobs(store.engine, cutoff, now=clock.now()).deleted


def test_slo_status_is_unchanged_after_jobs_older_than_the_window_are_pruned(store_url) -> None:
    store, clock = _store_with_history(store_url)
    before = _status(SLOEngine(store, SLOS, clock=clock))
    assert before[0]["total"] == 2 * PER_DAY and before[0]["history_complete"]

    # What qsre.retention allows at the shortest: the longest window the engine reads
    # (the policy's 3d burn window) plus a day; the bad day goes.
    assert _prune(store, clock, timedelta(days=4)) == 3 * PER_DAY
    assert count(store, JOBS) == 4 * PER_DAY

    # The daemon's engine, and a fresh one (a restart), answer exactly as before.
    assert _status(SLOEngine(store, SLOS, clock=clock)) == before
    clock.advance(60)
    assert _status(SLOEngine(store, SLOS, clock=clock), T0 + timedelta(days=DAYS)) == before
    store.close()


def test_rollups_keep_the_counts_of_pruned_jobs_inside_the_window(store_url) -> None:
    store, clock = _store_with_history(store_url)
    engine = SLOEngine(store, SLOS, clock=clock)
    engine.evaluate()
    start = clock.now() - timedelta(days=2)
    before = engine.rollups.buckets(SLOS[0], start, clock.now())

    # Almost every raw row of the window goes; the per-minute counts stay.
    assert _prune(store, clock, timedelta(hours=6)) > (DAYS - 1) * PER_DAY
    engine.evaluate()
    good, total, _ = engine.rollups.buckets(SLOS[0], start, clock.now())
    np.testing.assert_array_equal(good, before[0])
    np.testing.assert_array_equal(total, before[1])
    assert total.sum() == 2 * PER_DAY
    with store.engine.connect() as conn:
        assert pruned_history_start(conn, "jobs") == min(
            j["submitted_at"] for j in day_of_jobs(0, PER_DAY)
        )
    store.close()


def test_slo_status_is_unchanged_after_pruning_inside_the_window(sqlite_url) -> None:
    store, clock = _store_with_history(sqlite_url)
    before = _status(SLOEngine(store, SLOS, clock=clock))
    _prune(store, clock, timedelta(hours=6))
    assert _status(SLOEngine(store, SLOS, clock=clock)) == before
    store.close()
