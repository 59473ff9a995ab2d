"""A read-only SLO engine (what `qsre slo status` and the report use) writes nothing
and answers exactly what the writing engine answers, whether a daemon has built the
rollups, left them behind, or never run."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import numpy as np
from sqlalchemy import func, inspect, select, table

from collector.clock import VirtualClock
from slo.engine import SLOEngine
from slo.rollup import Rollups

from .engine_kit import job
from .test_rollup import SLOS, SPAN_MIN, T0, random_job

NOW = T0 + timedelta(minutes=SPAN_MIN + 30)


def snapshot(store) -> dict[str, int]:
    """Every table with its row count: what a read-only reader must leave as it was."""
    with store.engine.connect() as conn:
        names = inspect(conn).get_table_names()
        return {
            n: conn.execute(select(func.count()).select_from(table(n))).scalar_one() for n in names
        }


def statuses(engine: SLOEngine) -> list[tuple]:
    return [
        (s.name, s.good, s.total, s.sli_ratio, s.burn_rates, s.budget_remaining_ratio, s.firing)
        for s in engine.evaluate(NOW)
    ]


def close(a, b) -> bool:
    """Equal, floats to 1e-9 relative: summing spend in another order moves the last bit."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return a == b


def assert_same(read_only: list[tuple], writing: list[tuple]) -> None:
    for a, b in zip(read_only, writing, strict=True):
        assert a[0] == b[0]
        np.testing.assert_allclose(a[1:3], b[1:3], atol=1e-9, err_msg=a[0])
        for x, y in zip(a[3:], b[3:], strict=True):
            assert close(x, y), (a[0], x, y)


def fill(store, rng: random.Random, n: int, *, late_minutes: tuple[float, float] | None = None):
    jobs = [random_job(rng) for _ in range(n)]
    if late_minutes is not None:
        for j in jobs:
            j["finished_at"] = NOW - timedelta(minutes=rng.uniform(*late_minutes))
    store.upsert_jobs(jobs)


def test_without_a_daemon_nothing_is_written_and_answers_match(store) -> None:
    fill(store, random.Random(3), 400)
    before = snapshot(store)
    clock = VirtualClock(NOW)
    read_only = statuses(SLOEngine(store, SLOS, clock=clock, read_only=True))
    assert snapshot(store) == before, "a read-only evaluation wrote to the store"
    writing = statuses(SLOEngine(store, SLOS, clock=clock))
    assert_same(read_only, writing)


def test_stored_rollups_are_read_and_newer_rows_computed(store) -> None:
    rng = random.Random(5)
    fill(store, rng, 300)
    clock = VirtualClock(NOW - timedelta(minutes=20))
    daemon = SLOEngine(store, SLOS, clock=clock)
    daemon.evaluate()
    # After the daemon's last update: new jobs, some finishing before that update
    # (inside the recheck hour), some after it.
    fill(store, rng, 80, late_minutes=(0, 50))
    clock.set(NOW)
    before = snapshot(store)
    reader = SLOEngine(store, SLOS, clock=clock, read_only=True)
    read_only = statuses(reader)
    assert snapshot(store) == before
    assert reader.rollups.freshness["jobs"] == NOW - timedelta(minutes=20)
    assert_same(read_only, statuses(SLOEngine(store, SLOS, clock=clock)))


def test_the_stored_part_is_really_used(store) -> None:
    """Tamper with one stored bucket far before the last update: the read-only
    answer moves with it, so the stored rollups are read, not recomputed."""
    fill(store, random.Random(9), 200)
    clock = VirtualClock(NOW)
    SLOEngine(store, SLOS, clock=clock).evaluate()
    slo = SLOS[0]
    start, end = T0, NOW - timedelta(minutes=90)
    good_before, total_before, _ = Rollups(store, read_only=True).buckets(slo, start, end)
    store.upsert_jobs([job(T0 + timedelta(minutes=5), backend="aer")])  # not seen by rollups
    good_after, total_after, _ = Rollups(store, read_only=True).buckets(slo, start, end)
    assert total_after.sum() == total_before.sum()
    # The rollup update then counts it, and so does the reader.
    SLOEngine(store, SLOS, clock=clock).evaluate()
    _, total_updated, _ = Rollups(store, read_only=True).buckets(slo, start, end)
    assert total_updated.sum() == total_before.sum() + 1


def test_a_series_left_behind_is_computed_from_the_store(store) -> None:
    """A daemon that stopped evaluating an SLO (edited config) leaves its series
    behind; the reader must not trust it."""
    rng = random.Random(13)
    fill(store, rng, 150)
    clock = VirtualClock(NOW - timedelta(hours=3))
    SLOEngine(store, SLOS, clock=clock).evaluate()
    fill(store, rng, 150)
    clock.set(NOW - timedelta(hours=2))
    SLOEngine(store, SLOS[1:], clock=clock).evaluate()  # SLOS[0]'s series falls behind
    clock.set(NOW)
    assert_same(
        statuses(SLOEngine(store, SLOS, clock=clock, read_only=True)),
        statuses(SLOEngine(store, SLOS, clock=clock)),
    )


def test_a_read_only_rollups_refuses_to_update(store) -> None:
    import pytest

    with pytest.raises(RuntimeError, match="read_only"):
        Rollups(store, read_only=True).update(SLOS, NOW)
