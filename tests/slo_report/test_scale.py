"""A week of ~50k jobs: the report is built and its totals still equal SQL. The time is
printed (run with -s), never asserted."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from collector.schema import JobRow
from slo.report import build_weekly_report

from .conftest import WEEK, WEEK_END, WEEK_START, insert_jobs, make_jobs
from .test_report import SLOS


@pytest.mark.slow
def test_fifty_thousand_jobs(store, tmp_path):
    from collector.clock import VirtualClock

    rng = np.random.default_rng(50_000)
    insert_jobs(store, make_jobs(rng, WEEK_START, 50_000))
    insert_jobs(store, make_jobs(rng, WEEK_START - timedelta(weeks=1), 5_000))
    clock = VirtualClock(WEEK_END + timedelta(hours=1))
    started = time.perf_counter()
    paths = build_weekly_report(store, SLOS, week=WEEK, clock=clock, out_dir=tmp_path)
    elapsed_s = time.perf_counter() - started
    print(f"\n[{store.dialect}] weekly report, 50k jobs + 1 SLO (real engine): {elapsed_s:.2f} s")
    data = json.loads(paths.data_json.read_text())
    t = JobRow.__table__
    with store.engine.connect() as conn:
        jobs, spend = conn.execute(
            select(func.count(), func.sum(t.c.cost_usd)).where(
                t.c.submitted_at >= WEEK_START, t.c.submitted_at < WEEK_END
            )
        ).one()
    assert data["totals"]["jobs"] == jobs == 50_000
    assert data["totals"]["spend_usd"] == pytest.approx(spend, rel=1e-9)
    assert data["slos"][0]["total"] > 40_000
    assert paths.html.stat().st_size < 2_000_000


@pytest.mark.slow
def test_memory_grows_with_groups_not_jobs(store):
    """The report's numbers are read as SQL groups: Python allocations while collecting
    them stay flat from 10k to 100k jobs (loading rows cost ~1 KB per job)."""
    import tracemalloc

    from collector.clock import VirtualClock
    from slo.report_data import collect_report_data, parse_week

    rng = np.random.default_rng(100_000)
    week = parse_week(WEEK)
    clock = VirtualClock(WEEK_END + timedelta(hours=1))
    peaks = []
    for n in (10_000, 90_000):
        insert_jobs(store, make_jobs(rng, WEEK_START, n))
        tracemalloc.start()
        data = collect_report_data(store, [], week, clock=clock)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert data.totals.jobs == 100_000
    print(
        f"\n[{store.dialect}] collect peak: {peaks[0] / 1e6:.1f} MB at 10k jobs, "
        f"{peaks[1] / 1e6:.1f} MB at 100k"
    )
    assert peaks[1] < 1.5 * peaks[0] + 1_000_000
    assert peaks[1] < 10_000_000
