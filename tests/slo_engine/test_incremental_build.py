"""A new SLO's rollups are built newest day first, a bounded amount per update: no
update holds an evaluation cycle up for the whole history, a restart resumes where
the build got to, and until it is done the SLO's windows that reach further back
than the days built are incomplete, never undercounted."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np

from collector.clock import VirtualClock
from slo.engine import SLOEngine
from slo.rollup import Rollups, minute_of
from slo.sli import sli_query

from .engine_kit import job, slos

T0 = datetime(2026, 11, 10, tzinfo=UTC)
DAYS = 5
NOW = T0 + timedelta(days=DAYS)
SLOS = slos(
    {"name": "success", "objective": 0.99, "sli": {"kind": "job_success"}, "window": "30d"},
)


def fill(store, rng: random.Random) -> None:
    store.upsert_jobs(
        job(
            T0 + timedelta(minutes=rng.uniform(0, DAYS * 1440 - 1)),
            rng.choice(["done"] * 9 + ["error"]),
        )
        for _ in range(600)
    )


def building(rollups: Rollups) -> datetime | None:
    """Where the SLO's series is built back to (None: built)."""
    return rollups.building().get(sli_query(SLOS[0].sli).key)


def test_a_new_slo_is_built_a_day_per_update_and_then_equals_a_full_build(store) -> None:
    fill(store, random.Random(1))
    # max_build_s=0: exactly one day per update.
    rollups = Rollups(store, max_build_s=0)
    engine = SLOEngine(store, SLOS, clock=VirtualClock(NOW), rollups=rollups)
    seen_from = []
    for _ in range(DAYS + 2):
        engine.evaluate()
        seen_from.append(building(rollups))
        # While building, history starts at the oldest day built: never older.
        if seen_from[-1] is not None:
            (status,) = engine.last_statuses
            assert status.history_start >= seen_from[-1]
    days_built = [f for f in seen_from if f is not None]
    assert days_built == sorted(days_built, reverse=True)  # newest day first
    assert len(days_built) >= DAYS - 1 and seen_from[-1] is None
    # Done: every minute equals a GROUP BY of the store itself.
    q = sli_query(SLOS[0].sli)
    with store.engine.connect() as conn:
        want_good, want_total = rollups._compute(conn, "jobs", [q], minute_of(T0), minute_of(NOW))
    good, total, _ = rollups.buckets(SLOS[0], T0, NOW)
    np.testing.assert_array_equal(total, want_total[0])
    np.testing.assert_array_equal(good, want_good[0])
    assert total.sum() == 600


def test_a_restart_resumes_the_build(store) -> None:
    fill(store, random.Random(2))
    first = Rollups(store, max_build_s=0)
    first.update(SLOS, NOW)
    reached = building(first)
    assert reached is not None and reached > T0
    second = Rollups(store, max_build_s=0)  # a new process: picks up at `reached`
    second.update(SLOS, NOW + timedelta(minutes=1))
    assert building(second) == reached - timedelta(days=1)


def test_jobs_arriving_during_the_build_are_counted(store) -> None:
    rng = random.Random(3)
    fill(store, rng)
    rollups = Rollups(store, max_build_s=0)
    rollups.update(SLOS, NOW)
    late = [job(NOW - timedelta(minutes=5), "done") for _ in range(7)]
    store.upsert_jobs(late)
    for i in range(DAYS + 2):
        rollups.update(SLOS, NOW + timedelta(minutes=1 + i))
    assert building(rollups) is None
    _, total, _ = rollups.buckets(SLOS[0], T0, NOW + timedelta(minutes=10))
    assert total.sum() == 607
