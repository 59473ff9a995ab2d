"""A restarted exporter resumes from its checkpoint: the same /metrics as one that
aggregated the whole store, without the whole-table GROUP BY, and counters that keep
the jobs retention has deleted since."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, event

from collector.clock import VirtualClock
from collector.exporter import StoreExporter
from collector.schema import ExporterCheckpointRow, JobRow

from .conftest import job, put
from .test_exporter import _random_jobs, _samples


def fresh_ids(jobs: list[dict], prefix: str) -> list[dict]:
    """New jobs, not updates of the earlier ones (_random_jobs numbers from j0)."""
    return [{**j, "id": f"{prefix}-{j['id']}"} for j in jobs]


def statements(store) -> list[str]:
    """Every SQL statement the store's engine runs from now on."""
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, v in a.items():
        assert b[key] == pytest.approx(v, rel=1e-9), key


def test_restart_resumes_from_the_checkpoint(store, t0):
    put(store, _random_jobs(t0, 150, seed=3))
    put(store, [job("q1", t0, status="queued"), job("r1", t0, status="running")])
    clock = VirtualClock(t0)
    first = StoreExporter(store, clock, startup_tail_rows=20)
    first.refresh()
    assert first.checkpoint() is True
    # While it is down: more jobs, and the in-flight ones finish.
    put(store, fresh_ids(_random_jobs(t0 + timedelta(hours=1), 40, seed=4), "later"))
    put(store, [job("q1", t0, status="done"), job("r1", t0, status="error", error_class="auth")])

    seen = statements(store)
    resumed = StoreExporter(store, clock, startup_tail_rows=20)
    resumed.start()
    assert resumed.restored_from == first.cursor
    assert not [s for s in seen if "GROUP BY" in s.upper()], "aggregated the whole table"
    with store.engine.begin() as conn:  # the same store, aggregated from scratch
        conn.execute(delete(ExporterCheckpointRow.__table__))
    fresh = StoreExporter(store, clock, startup_tail_rows=20)
    fresh.start()
    assert fresh.restored_from is None
    assert_same(_samples(fresh), _samples(resumed))


def test_counters_keep_jobs_that_retention_deleted(store, t0):
    put(store, _random_jobs(t0, 60, seed=5))
    clock = VirtualClock(t0)
    exporter = StoreExporter(store, clock, startup_tail_rows=0)
    before = _samples(exporter)
    exporter.checkpoint()
    t = JobRow.__table__
    with store.engine.begin() as conn:  # retention took every row but the newest
        conn.execute(delete(t).where(t.c.seq < exporter.cursor))
    after_restart = _samples(StoreExporter(store, clock, startup_tail_rows=0))
    counters = {k: v for k, v in before.items() if k[0].endswith("_total")}
    assert counters and all(after_restart[k] == pytest.approx(v) for k, v in counters.items())


def test_a_checkpoint_ahead_of_the_store_is_ignored(store, t0):
    put(store, _random_jobs(t0, 30, seed=6))
    clock = VirtualClock(t0)
    exporter = StoreExporter(store, clock, startup_tail_rows=0)
    exporter.refresh()
    exporter.checkpoint()
    with store.engine.begin() as conn:
        conn.execute(ExporterCheckpointRow.__table__.update().values(cursor=exporter.cursor + 1000))
    again = StoreExporter(store, clock, startup_tail_rows=0)
    again.start()
    assert again.restored_from is None
    assert_same(_samples(exporter), _samples(again))


def test_checkpoints_are_written_each_interval_and_never_move_back(store, t0):
    put(store, _random_jobs(t0, 20, seed=8))
    clock = VirtualClock(t0)
    exporter = StoreExporter(store, clock, checkpoint_interval_s=300)
    exporter.refresh()

    def stored_cursor() -> int | None:
        t = ExporterCheckpointRow.__table__
        with store.engine.connect() as conn:
            return conn.execute(t.select()).first() and conn.execute(t.select()).first().cursor

    assert stored_cursor() is None  # not before one interval has passed
    clock.advance(301)
    put(store, fresh_ids(_random_jobs(t0, 5, seed=9), "later"))
    exporter.refresh()
    assert stored_cursor() == exporter.cursor
    behind = StoreExporter(store, clock, startup_tail_rows=0, checkpoint_interval_s=None)
    behind._started, behind._cursor = True, 1  # a replica far behind
    assert behind.checkpoint() is False
    assert stored_cursor() == exporter.cursor
