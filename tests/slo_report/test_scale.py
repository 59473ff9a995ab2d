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
