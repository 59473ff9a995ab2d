"""Benchmark: one SLO evaluation cycle from rollups vs a naive SQL scan of the events.

Generates ``--events`` terminal jobs (default 10 million; ``--quick``: 1 million)
spread over 30 days + 1 hour in a fresh SQLite store, builds the minute rollups
once (timed), then times evaluation cycles of 10 SLOs × every window of the
sre-workbook policy (5m, 30m, 1h, 2h, 6h, 1d, 3d, 30d) — median of ``--cycles``.
Each cycle includes the incremental rollup update (nothing new to read, as in a
steady daemon minute). The naive baseline runs, per SLO, one SQL query over the
raw jobs that sums good/total for all windows with conditional aggregation; the
answers of both are asserted equal before anything is printed.

Prints ONE JSON object. Run: ``.venv/bin/python bench/slo_eval.py --quick``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import and_, case, func, select

from collector.clock import VirtualClock
from collector.schema import TERMINAL_STATUSES, JobRow
from collector.store import Store
from slo.engine import SLOEngine
from slo.policy import get_policy
from slo.sli import sli_query
from slo.spec import SLO, parse_slos
from slo.windows import factor_period_s, prom_duration

END = datetime(2026, 11, 30, tzinfo=UTC)
SPAN_S = 30 * 86400 + 3600
BATCH = 200_000
TARGET_CYCLE_MS = 200.0
TARGET_SPEEDUP = 50.0
BACKENDS = np.array(["ibm_brisbane", "ibm_kyiv", "aer", "ionq_aria"])
PROJECTS = np.array(["chem", "finance", "ops"])
ERROR_CLASSES = np.array(["transient", "backend", "timeout", "auth", "quota", "result_corrupt"])

SLO_DEFS: list[dict[str, Any]] = [
    {"name": "all-jobs", "objective": 0.99, "sli": {"kind": "job_success"}},
    {
        "name": "brisbane",
        "objective": 0.99,
        "sli": {"kind": "job_success", "backend": "ibm_brisbane"},
    },
    {"name": "kyiv", "objective": 0.995, "sli": {"kind": "job_success", "backend": "ibm_kyiv"}},
    {"name": "ionq", "objective": 0.98, "sli": {"kind": "job_success", "backend": "ionq_aria"}},
    {"name": "chem", "objective": 0.99, "sli": {"kind": "job_success", "project": "chem"}},
    {"name": "team-q", "objective": 0.99, "sli": {"kind": "job_success", "tags": {"team": "q"}}},
    {"name": "auth", "objective": 0.999, "sli": {"kind": "auth_errors"}},
    {"name": "queue", "objective": 0.9, "sli": {"kind": "queue_latency", "threshold_seconds": 60}},
    {"name": "e2e", "objective": 0.95, "sli": {"kind": "e2e_latency", "threshold_seconds": 300}},
    {"name": "spend", "objective": 0.9, "sli": {"kind": "cost_budget", "budget_usd": 250000}},
]


def make_slos() -> tuple[SLO, ...]:
    return parse_slos([{**d, "window": "30d"} for d in SLO_DEFS], "bench/slo_eval.py")


def _timestamps(epoch_us: np.ndarray) -> list[str]:
    # SQLAlchemy stores DateTime in SQLite as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC here).
    text = np.datetime_as_string(epoch_us.astype("datetime64[us]"), unit="us")
    return np.char.replace(text, "T", " ").tolist()


def generate(db_path: Path, events: int, seed: int) -> float:
    """Insert ``events`` terminal jobs with executemany in large batches; seconds taken."""
    rng = np.random.default_rng(seed)
    start_us = int((END.timestamp() - SPAN_S) * 1e6)
    t0 = time.perf_counter()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")
    sql = (
        "INSERT INTO jobs (id, backend, project, tags, purpose, num_circuits, shots,"
        " submitted_at, started_at, finished_at, queue_seconds, run_seconds, e2e_seconds,"
        " status, error_class, attempts, cost_usd) VALUES"
        " (?, ?, ?, ?, 'workload', 1, 1000, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)"
    )
    # Finish times sorted, so rows arrive in time order like a live store (and the
    # (x, finished_at) indexes grow at their ends).
    finished_all = np.sort(rng.integers(0, SPAN_S * 1_000_000, size=events)) + start_us
    done = 0
    while done < events:
        n = min(BATCH, events - done)
        finished = finished_all[done : done + n]
        queue_s = np.round(rng.lognormal(2.5, 1.5, n), 3)
        run_s = np.round(rng.lognormal(1.0, 1.0, n), 3)
        e2e_s = np.round(queue_s + run_s + 0.05, 3)
        submitted = finished - (e2e_s * 1e6).astype(np.int64)
        started = submitted + (queue_s * 1e6).astype(np.int64)
        backend = BACKENDS[rng.integers(0, len(BACKENDS), n)]
        project = PROJECTS[rng.integers(0, len(PROJECTS), n)]
        tags = np.where(rng.random(n) < 0.3, '{"team": "q"}', "{}")
        u = rng.random(n)
        status = np.where(u < 0.985, "done", np.where(u < 0.995, "error", "cancelled"))
        error_class = ERROR_CLASSES[rng.integers(0, len(ERROR_CLASSES), n)].astype(object)
        error_class[status != "error"] = None
        cost = np.round(rng.exponential(0.05, n), 4)
        ids = [f"bench-{i:030d}" for i in range(done, done + n)]
        rows = zip(
            ids,
            backend.tolist(),
            project.tolist(),
            tags.tolist(),
            _timestamps(submitted),
            _timestamps(started),
            _timestamps(finished),
            queue_s.tolist(),
            run_s.tolist(),
            e2e_s.tolist(),
            status.tolist(),
            error_class.tolist(),
            cost.tolist(),
            strict=True,
        )
        with conn:
            conn.executemany(sql, rows)
        done += n
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - t0


def naive_cycle(store: Store, slos: tuple[SLO, ...], now: datetime) -> dict[str, dict[str, float]]:
    """Burn rates per SLO and window straight from the jobs table (one scan per SLO)."""
    out: dict[str, dict[str, float]] = {}
    t = JobRow.__table__
    with store.engine.connect() as conn:
        for slo in slos:
            q = sli_query(slo.sli)
            period = factor_period_s(slo.window)
            windows = sorted({*get_policy(slo.policy).windows_s(), period, 3600})
            cols = []
            for w in windows:
                inside = t.c.finished_at >= now - timedelta(seconds=w)
                if q.value is None:
                    cols.append(func.sum(case((and_(inside, q.good), 1), else_=0)))
                    cols.append(func.sum(case((and_(inside, q.total), 1), else_=0)))
                else:
                    cols.append(func.sum(case((and_(inside, q.total), q.value), else_=0.0)))
            stmt = select(*cols).where(
                t.c.status.in_(TERMINAL_STATUSES),
                t.c.finished_at >= now - timedelta(seconds=max(windows)),
                t.c.finished_at < now,
            )
            row = conn.execute(stmt).one()
            rates: dict[str, float] = {}
            for i, w in enumerate(windows):
                if q.value is None:
                    good, total = float(row[2 * i] or 0), float(row[2 * i + 1] or 0)
                    rates[prom_duration(w)] = (total - good) / total / slo.error_budget
                else:
                    spend = float(row[i] or 0)
                    assert slo.sli.budget_usd is not None
                    rates[prom_duration(w)] = spend / (slo.sli.budget_usd * w / period)
            out[slo.name] = rates
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="1,000,000 events")
    parser.add_argument("--cycles", type=int, default=7, help="timed evaluation cycles")
    parser.add_argument("--naive-cycles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the SQLite file")
    args = parser.parse_args(argv)
    events = 1_000_000 if args.quick else args.events

    tmp = tempfile.TemporaryDirectory(dir=args.dir)
    db_path = Path(tmp.name) / "bench.db"
    store = Store(f"sqlite:///{db_path}")
    generate_s = generate(db_path, events, args.seed)

    slos = make_slos()
    clock = VirtualClock(END)
    engine = SLOEngine(store, slos, clock=clock)
    t0 = time.perf_counter()
    engine.rollups.update(slos, clock.now())
    build_s = time.perf_counter() - t0

    cycle_ms: list[float] = []
    statuses = []
    for _ in range(args.cycles):
        clock.advance(20)  # the rescan margin ages like in a running daemon
        t0 = time.perf_counter()
        statuses = engine.evaluate(at=END)
        cycle_ms.append((time.perf_counter() - t0) * 1000)
    no_update_ms: list[float] = []
    for _ in range(args.cycles):
        t0 = time.perf_counter()
        engine.evaluate(at=END, update=False)
        no_update_ms.append((time.perf_counter() - t0) * 1000)

    naive_s: list[float] = []
    naive: dict[str, dict[str, float]] = {}
    for _ in range(max(1, args.naive_cycles)):
        t0 = time.perf_counter()
        naive = naive_cycle(store, slos, END)
        naive_s.append(time.perf_counter() - t0)

    # Same answers: every SLO, every window.
    compared = 0
    for status in statuses:
        for window, expected in naive[status.name].items():
            got = status.burn_rates[window]
            assert got is not None, (status.name, window)
            assert abs(got - expected) <= 1e-9 * max(1.0, abs(expected)), (
                status.name,
                window,
                got,
                expected,
            )
            compared += 1

    cycle_median = statistics.median(cycle_ms)
    naive_median_ms = statistics.median(naive_s) * 1000
    result = {
        "benchmark": "slo_eval",
        "dialect": store.dialect,
        "events": events,
        "slos": len(slos),
        "windows_per_slo": len(next(iter(naive.values()))),
        "window_answers_compared": compared,
        "answers_equal": True,
        "generate_s": round(generate_s, 2),
        "rollup_build_s": round(build_s, 2),
        "cycle_ms_median": round(cycle_median, 2),
        "cycle_ms_all": [round(c, 2) for c in cycle_ms],
        "cycle_without_update_ms_median": round(statistics.median(no_update_ms), 2),
        "naive_cycle_ms_median": round(naive_median_ms, 1),
        "speedup": round(naive_median_ms / cycle_median, 1),
        "target_cycle_ms": TARGET_CYCLE_MS,
        "target_speedup": TARGET_SPEEDUP,
        "meets_targets": cycle_median <= TARGET_CYCLE_MS
        and naive_median_ms / cycle_median >= TARGET_SPEEDUP,
        "firing": {s.name: list(s.firing) for s in statuses if s.firing},
        "db_bytes": db_path.stat().st_size,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    store.close()
    tmp.cleanup()
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
