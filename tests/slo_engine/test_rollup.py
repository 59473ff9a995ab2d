"""Rollups equal direct counts over the store, whatever order rows arrive in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, select

from collector.schema import JobRow
from slo.rollup import SERIES_T, SOURCES_T, Rollups, minute_of

from .engine_kit import job, slos

T0 = datetime(2026, 11, 16, tzinfo=UTC)
SPAN_MIN = 6 * 60

SLOS = slos(
    {"name": "all-success", "objective": 0.99, "sli": {"kind": "job_success"}, "window": "1d"},
    {
        "name": "ibm-success",
        "objective": 0.99,
        "sli": {"kind": "job_success", "backend": "ibm", "project": ["chem", "fin"]},
        "window": "1d",
    },
    {
        "name": "team-auth",
        "objective": 0.999,
        "sli": {"kind": "auth_errors", "tags": {"team": "q"}},
        "window": "1d",
    },
    {
        "name": "queue",
        "objective": 0.9,
        "sli": {"kind": "queue_latency", "threshold_seconds": 60},
        "window": "1d",
    },
    {
        "name": "validation-e2e",
        "objective": 0.9,
        "sli": {"kind": "e2e_latency", "threshold_seconds": 300, "tags": {"purpose": "workload"}},
        "window": "1d",
    },
    {
        "name": "spend",
        "objective": 0.5,
        "sli": {"kind": "cost_budget", "budget_usd": 50},
        "window": "1d",
    },
)


def oracle(slo, jobs: dict[str, dict]) -> tuple[np.ndarray, np.ndarray]:
    """Per-minute (good, total) from the final job states, written from the SLI spec."""
    good, total = np.zeros(SPAN_MIN + 60), np.zeros(SPAN_MIN + 60)
    sli = slo.sli
    for j in jobs.values():
        if j["status"] not in ("done", "error", "cancelled", "unknown"):
            continue
        if sli.backends and j["backend"] not in sli.backends:
            continue
        if sli.projects and j["project"] not in sli.projects:
            continue
        tags = {**j["tags"]}
        tags.setdefault("purpose", "workload")
        if any(tags.get(k) != v for k, v in sli.tags):
            continue
        i = minute_of(j["finished_at"]) - minute_of(T0)
        if sli.kind == "job_success":
            if j["status"] == "cancelled" or j["error_class"] in ("quota", "invalid_input"):
                continue
            total[i] += 1
            good[i] += j["status"] == "done"
        elif sli.kind == "auth_errors":
            total[i] += 1
            good[i] += j["error_class"] != "auth"
        elif sli.kind in ("queue_latency", "e2e_latency"):
            value = j["queue_seconds"] if sli.kind == "queue_latency" else j["e2e_seconds"]
            if value is None:
                continue
            total[i] += 1
            good[i] += value <= sli.threshold_seconds
        else:
            total[i] += j["cost_usd"]
    if sli.kind == "cost_budget":
        per_min = sli.budget_usd / 1440 / slo.error_budget
        return per_min - total, np.full_like(total, per_min)
    return good, total


def random_job(rng: random.Random) -> dict:
    status = rng.choice(["done"] * 6 + ["error", "cancelled", "unknown"])
    finished = T0 + timedelta(seconds=rng.uniform(0, SPAN_MIN * 60))
    j = job(
        finished,
        status,
        backend=rng.choice(["ibm", "aer", "ionq"]),
        project=rng.choice(["chem", "fin", "ops"]),
        error_class=rng.choice(["auth", "transient", "quota", "invalid_input", "backend"]),
        queue_seconds=rng.choice([None, 5.0, 60.0, 61.0, 3600.0]),
        e2e_seconds=rng.choice([None, 10.0, 300.0, 900.0]),
        cost_usd=round(rng.uniform(0, 2), 3),
        tags=rng.choice([{}, {"team": "q"}, {"team": "x", "purpose": "validation"}]),
    )
    return j


def assert_matches(rollups: Rollups, jobs: dict[str, dict]) -> None:
    for slo in SLOS:
        good, total, history = rollups.buckets(slo, T0, T0 + timedelta(minutes=SPAN_MIN + 60))
        want_good, want_total = oracle(slo, jobs)
        np.testing.assert_allclose(total, want_total, atol=1e-9, err_msg=slo.name)
        np.testing.assert_allclose(good, want_good, atol=1e-9, err_msg=slo.name)
        assert history is not None and history <= T0 + timedelta(minutes=SPAN_MIN)


def test_rollups_equal_direct_counts_for_out_of_order_streams(store) -> None:
    rng = random.Random(7)
    jobs: dict[str, dict] = {}
    rollups = Rollups(store, gap_grace_s=0, gap_min_checks=2)
    now = T0 + timedelta(minutes=SPAN_MIN)
    in_flight: list[dict] = []
    for step in range(12):
        batch = []
        for _ in range(rng.randint(20, 60)):
            j = random_job(rng)
            if rng.random() < 0.3:
                # First recorded while queued (no finish yet); turns terminal later,
                # keeping the seq it got at first insert.
                queued = {**j, "status": "queued", "finished_at": None, "error_class": None}
                queued["queue_seconds"] = queued["e2e_seconds"] = None
                batch.append(queued)
                in_flight.append(j)
                jobs[j["id"]] = queued
            else:
                batch.append(j)
                jobs[j["id"]] = j
        # Some earlier queued jobs finish now, in random order.
        rng.shuffle(in_flight)
        finishing, in_flight = in_flight[: len(in_flight) // 2], in_flight[len(in_flight) // 2 :]
        batch += finishing
        for j in finishing:
            jobs[j["id"]] = j
        rng.shuffle(batch)
        store.upsert_jobs(batch)
        if step == 0 or rng.random() < 0.7:
            rollups.update(SLOS, now)
            now += timedelta(seconds=30)
    # Everything still in flight finishes (late, long after the cursor passed it).
    store.upsert_jobs(in_flight)
    for j in in_flight:
        jobs[j["id"]] = j
    rollups.update(SLOS, now)
    assert_matches(rollups, jobs)

    # Idempotent: another update with nothing new changes nothing.
    before = [rollups.buckets(s, T0, now) for s in SLOS]
    assert rollups.update(SLOS, now + timedelta(seconds=30)) == 0
    for (g0, t0, _), s in zip(before, SLOS, strict=True):
        g1, t1, _ = rollups.buckets(s, T0, now)
        assert np.array_equal(g0, g1) and np.array_equal(t0, t1)

    # Direct SQL agrees as well (not only the Python oracle).
    with store.engine.connect() as conn:
        terminal_non_cancelled = conn.execute(
            select(func.count()).where(
                JobRow.status.in_(("done", "error", "unknown")),
                (JobRow.error_class.is_(None))
                | JobRow.error_class.not_in(("quota", "invalid_input")),
            )
        ).scalar_one()
    _, total, _ = rollups.buckets(SLOS[0], T0, now + timedelta(hours=1))
    assert total.sum() == terminal_non_cancelled


def test_new_instance_continues_from_the_cursor(store) -> None:
    rng = random.Random(11)
    jobs = {}
    first = [random_job(rng) for _ in range(200)]
    store.upsert_jobs(first)
    jobs.update({j["id"]: j for j in first})
    queued = [random_job(rng) for _ in range(30)]
    store.upsert_jobs([{**j, "status": "running", "finished_at": None} for j in queued])
    now = T0 + timedelta(minutes=SPAN_MIN)
    Rollups(store, startup_tail_rows=0).update(SLOS, now)
    with store.engine.connect() as conn:
        built = dict(conn.execute(select(SERIES_T.c.sli_key, SERIES_T.c.built_at)).all())
        cursor = conn.execute(select(SOURCES_T.c.cursor)).scalar_one()

    # "Restart": a new instance, the running jobs finish and new ones arrive.
    second = [random_job(rng) for _ in range(100)]
    for j in queued + second:
        j["finished_at"] = T0 + timedelta(minutes=SPAN_MIN - rng.uniform(1, 20))
    store.upsert_jobs(queued + second)
    jobs.update({j["id"]: j for j in queued + second})
    restarted = Rollups(store, startup_tail_rows=0)
    rewritten = restarted.update(SLOS, now + timedelta(minutes=1))
    assert_matches(restarted, jobs)
    with store.engine.connect() as conn:
        assert dict(conn.execute(select(SERIES_T.c.sli_key, SERIES_T.c.built_at)).all()) == built
        assert conn.execute(select(SOURCES_T.c.cursor)).scalar_one() > cursor
    # Incremental: only the last ~20 minutes (+ the rescan margin) recomputed, not
    # a rebuild of 6 h × 6 series.
    assert 0 < rewritten <= 60 * len(built)


def test_row_committed_late_below_the_cursor_is_counted(store) -> None:
    """A seq handed out before the cursor moved on but committed after (PostgreSQL)."""
    table = JobRow.__table__
    now = T0 + timedelta(minutes=SPAN_MIN)

    def row(seq: int, minute: int, status: str = "error") -> dict:
        j = job(T0 + timedelta(minutes=minute, seconds=10), status, error_class="backend")
        j.update(seq=seq, purpose="workload", attempts=1, num_circuits=1)
        return j

    with store.engine.begin() as conn:
        conn.execute(table.insert(), [row(s, s) for s in range(1, 11)])
    # No start-up tail: only the gap tracking of later updates protects seq 15.
    rollups = Rollups(store, gap_grace_s=60, gap_min_checks=3, startup_tail_rows=0)
    rollups.update(SLOS[:1], now)
    with store.engine.begin() as conn:
        conn.execute(table.insert(), [row(20, 20)])
    rollups.update(SLOS[:1], now + timedelta(seconds=5))
    with store.engine.begin() as conn:
        conn.execute(table.insert(), [row(15, 15), row(21, 21)])
    rollups.update(SLOS[:1], now + timedelta(seconds=10))
    good, total, _ = rollups.buckets(SLOS[0], T0, now)
    assert total[[1, 10, 15, 20, 21]].tolist() == [1, 1, 1, 1, 1]
    assert total.sum() == 13 and good.sum() == 0


def test_series_left_out_of_updates_catches_up_without_rebuild(store) -> None:
    rng = random.Random(5)
    jobs: dict[str, dict] = {}
    now = T0 + timedelta(minutes=SPAN_MIN)
    rollups = Rollups(store, startup_tail_rows=0)

    def add(n: int) -> None:
        batch = [random_job(rng) for _ in range(n)]
        store.upsert_jobs(batch)
        jobs.update({j["id"]: j for j in batch})

    add(100)
    rollups.update(SLOS, now)
    with store.engine.connect() as conn:
        built = dict(conn.execute(select(SERIES_T.c.sli_key, SERIES_T.c.built_at)).all())
    for step in range(3):  # only the first SLO is evaluated for a while
        add(40)
        rollups.update(SLOS[:1], now + timedelta(minutes=step + 1))
    add(40)
    rollups.update(SLOS, now + timedelta(minutes=5))
    assert_matches(rollups, jobs)
    with store.engine.connect() as conn:
        assert dict(conn.execute(select(SERIES_T.c.sli_key, SERIES_T.c.built_at)).all()) == built


def test_hours_written_by_another_process_are_read_not_remembered(store) -> None:
    """Two replicas keep one store's rollups: what one writes, the other reads at
    once, although it keeps the hour rows it read before (PostgreSQL, by xmin)."""
    rng = random.Random(23)
    jobs: dict[str, dict] = {}
    first = [random_job(rng) for _ in range(300)]
    store.upsert_jobs(first)
    jobs.update({j["id"]: j for j in first})
    now = T0 + timedelta(minutes=SPAN_MIN)
    reader, writer = Rollups(store, gap_grace_s=0), Rollups(store, gap_grace_s=0)
    reader.update(SLOS, now)
    assert_matches(reader, jobs)  # the reader now holds every hour row

    # The other replica records late jobs all over the span and brings the rollups
    # up to date; the reader does not update before it reads.
    late = [random_job(rng) for _ in range(200)]
    store.upsert_jobs(late)
    jobs.update({j["id"]: j for j in late})
    writer.update(SLOS, now + timedelta(minutes=1))
    assert_matches(reader, jobs)

    # The other replica rebuilds every series (a restart without rollup state).
    with store.engine.begin() as conn:
        conn.execute(SERIES_T.delete())
    Rollups(store, gap_grace_s=0).update(SLOS, now + timedelta(minutes=2))
    assert_matches(reader, jobs)


def test_a_snapshot_reader_reads_each_minute_once_and_answers_alike(store) -> None:
    rng = random.Random(11)
    jobs = {j["id"]: j for j in (random_job(rng) for _ in range(400))}
    store.upsert_jobs(list(jobs.values()))
    plain = Rollups(store, read_only=True)
    snap = Rollups(store, read_only=True, snapshot=True)
    read: list[int] = []
    compute = snap._compute

    def counting(conn, source, queries, lo, hi):
        read.append(hi - lo)
        return compute(conn, source, queries, lo, hi)

    snap._compute = counting  # type: ignore[method-assign]
    # Overlapping (a report's day boundaries), nested, disjoint before and after.
    spans_min = [(60, 240), (120, 300), (150, 200), (0, 30), (330, 420), (100, 110)]
    for slo in SLOS:
        read.clear()
        for a, b in spans_min:
            start, end = T0 + timedelta(minutes=a), T0 + timedelta(minutes=b)
            got_good, got_total, _ = snap.buckets(slo, start, end)
            want_good, want_total, _ = plain.buckets(slo, start, end)
            # PostgreSQL may sum a minute's costs in another order: 1e-16 apart.
            np.testing.assert_allclose(got_total, want_total, atol=1e-9, err_msg=f"{a}-{b}")
            np.testing.assert_allclose(got_good, want_good, atol=1e-9, err_msg=f"{a}-{b}")
        # Each minute of the union 0..420 was read once, however often it was asked.
        assert sum(read) == 420, (slo.name, read)
    np.testing.assert_allclose(
        snap.buckets(SLOS[0], T0, T0 + timedelta(minutes=SPAN_MIN))[1],
        oracle(SLOS[0], jobs)[1][:SPAN_MIN],
    )


def test_snapshot_is_for_read_only_readers(store) -> None:
    import pytest

    with pytest.raises(ValueError, match="read-only"):
        Rollups(store, snapshot=True)
