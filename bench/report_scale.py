"""Benchmark: the weekly report over a store of many jobs — seconds and peak memory.

Fills a fresh store with ``--jobs`` jobs (default 1,000,000; ``--ten-million`` for
10 M) spread over the report week and the four weeks before it (the span the report
reads: the week, the previous week, the 4-week billing baseline): PostgreSQL with
``COPY`` (a new database on the server of ``--postgres``), SQLite with
``executemany`` (``--sqlite``), as bench/slo_eval.py fills. Then builds the report
in a child process, so that its peak resident memory (``ru_maxrss``) is the report's
alone, and times it. ``--slos`` SLOs (job_success) go through the real SLO engine;
``--slos 0`` times the report without the engine, whose cost is its own.

Prints ONE JSON object. Run:
``.venv/bin/python bench/report_scale.py`` (1 M jobs on the local PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fill import copy_rows, pg_dsn, timestamps  # noqa: E402

WEEK = "2026-W47"
WEEK_END = datetime(2026, 11, 23, tzinfo=UTC)
SPAN_S = 5 * 7 * 86400  # the week and the 4 weeks before it
BATCH = 200_000
TARGET_SECONDS = 10.0
TARGET_MB = 500.0
PG_ADMIN_URL = os.environ.get(
    "QSRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = np.array(["ibm_brisbane", "ibm_kyiv", "aer", "ionq_aria", "sim_firmware"])
PROJECTS = np.array(["chem", "finance", "ops", "qsre-validation"])
ERROR_CLASSES = np.array(["transient", "backend", "timeout", "auth", "quota", "result_corrupt"])
COLUMNS = (
    "id, backend, project, tags, purpose, num_circuits, shots, submitted_at, started_at,"
    " finished_at, queue_seconds, run_seconds, e2e_seconds, status, error_class, attempts,"
    " cost_usd"
)


def _batches(jobs: int, seed: int):
    """Column batches of jobs, in submission order like a live store."""
    rng = np.random.default_rng(seed)
    start_us = int((WEEK_END.timestamp() - SPAN_S) * 1e6)
    submitted_all = np.sort(rng.integers(0, SPAN_S * 1_000_000, size=jobs)) + start_us
    done = 0
    while done < jobs:
        n = min(BATCH, jobs - done)
        submitted = submitted_all[done : done + n]
        queue_s = np.round(rng.lognormal(2.5, 1.5, n), 3)
        run_s = np.round(rng.lognormal(1.0, 1.0, n), 3)
        e2e_s = np.round(queue_s + run_s, 3)
        started = submitted + (queue_s * 1e6).astype(np.int64)
        finished = submitted + (e2e_s * 1e6).astype(np.int64)
        u = rng.random(n)
        status = np.where(u < 0.985, "done", np.where(u < 0.995, "error", "cancelled"))
        error_class = ERROR_CLASSES[rng.integers(0, len(ERROR_CLASSES), n)].astype(object)
        error_class[status != "error"] = None
        yield {
            "id": [f"bench-{i:030d}" for i in range(done, done + n)],
            "backend": BACKENDS[rng.integers(0, len(BACKENDS), n)].tolist(),
            "project": PROJECTS[rng.integers(0, len(PROJECTS), n)].tolist(),
            "tags": np.where(rng.random(n) < 0.3, '{"team": "q"}', '{"team": "r"}').tolist(),
            "submitted": timestamps(submitted),
            "started": timestamps(started),
            "finished": timestamps(finished),
            "queue_s": queue_s.tolist(),
            "run_s": run_s.tolist(),
            "e2e_s": e2e_s.tolist(),
            "status": status.tolist(),
            "error_class": error_class.tolist(),
            "cost": np.round(rng.exponential(0.05, n), 4).tolist(),
        }
        done += n


def _rows(b: dict[str, list[Any]]):
    return zip(
        b["id"],
        b["backend"],
        b["project"],
        b["tags"],
        b["submitted"],
        b["started"],
        b["finished"],
        b["queue_s"],
        b["run_s"],
        b["e2e_s"],
        b["status"],
        b["error_class"],
        b["cost"],
        strict=True,
    )


def fill_sqlite(path: Path, jobs: int, seed: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    sql = (
        f"INSERT INTO jobs ({COLUMNS}) VALUES"
        " (?, ?, ?, ?, 'workload', 1, 1000, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)"
    )
    for b in _batches(jobs, seed):
        with conn:
            conn.executemany(sql, _rows(b))
    conn.execute("ANALYZE")
    conn.close()


def fill_postgres(url: str, jobs: int, seed: int) -> None:
    import psycopg

    columns = [c.strip() for c in COLUMNS.split(",")]
    with psycopg.connect(pg_dsn(url)) as conn:
        for b in _batches(jobs, seed):
            rows = (
                (i, be, pr, tg, "workload", 1, 1000, sub, sta, fin, q, ru, e2e, st, ec, 1, cost)
                for i, be, pr, tg, sub, sta, fin, q, ru, e2e, st, ec, cost in _rows(b)
            )
            copy_rows(conn, "jobs", columns, rows, utc_columns=(7, 8, 9))
            conn.commit()
        conn.execute("ANALYZE jobs")
        conn.commit()


def _peak_rss_kb() -> int:
    """This process's peak resident set (VmHWM): unlike ru_maxrss, which Linux keeps
    across execve, it does not include the filling parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _slo_defs(slos: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"success-{i}",
            "objective": 0.99,
            "sli": {"kind": "job_success", "backend": str(BACKENDS[i % len(BACKENDS)])},
            "window": "7d",
        }
        for i in range(slos)
    ]


def _build_rollups(url: str, slos: int) -> float:
    """What a running daemon has: the SLO rollups up to date (seconds taken, untimed
    in report_s)."""
    from collector.clock import VirtualClock
    from collector.store import Store
    from slo.engine import SLOEngine
    from slo.spec import parse_slos

    store = Store(url)
    parsed = parse_slos(_slo_defs(slos), "bench")
    clock = VirtualClock(WEEK_END + timedelta(hours=3))
    t0 = time.perf_counter()
    SLOEngine(store, parsed, clock=clock).rollups.update(parsed, clock.now())
    store.close()
    return time.perf_counter() - t0


def _time_sections() -> dict[str, float]:
    """Wrap the report's section readers to time each (seconds, summed over calls)."""
    import slo.report_data as rd

    spent: dict[str, float] = {}
    names = (
        "read_jobs",
        "slo_entries",
        "fidelity_section",
        "calibration_ages",
        "alert_section",
        "cost_section",
    )
    for name in names:
        fn = getattr(rd, name, None)
        if fn is None:  # another version of the report (e.g. timing an older commit)
            continue

        def timed(*a: Any, _fn: Any = fn, _name: str = name, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                spent[_name] = spent.get(_name, 0.0) + time.perf_counter() - t0

        setattr(rd, name, timed)
    return spent


def child(url: str, slos: int, out_dir: str) -> None:
    """Build the report (in a process of its own) and print seconds and peak RSS."""
    from collector.clock import VirtualClock
    from collector.store import Store
    from slo.report import build_weekly_report
    from slo.spec import parse_slos

    rss_before_kb = _peak_rss_kb()
    defs = _slo_defs(slos)
    store = Store(url)
    clock = VirtualClock(WEEK_END + timedelta(hours=3))
    sections = _time_sections()
    t0 = time.perf_counter()
    paths = build_weekly_report(
        store, parse_slos(defs, "bench"), week=WEEK, clock=clock, out_dir=out_dir
    )
    seconds = time.perf_counter() - t0
    data = json.loads(paths.data_json.read_text())
    print(
        json.dumps(
            {
                "report_s": seconds,
                "rss_before_kb": rss_before_kb,
                "rss_peak_kb": _peak_rss_kb(),
                "jobs_in_week": data["totals"]["jobs"],
                "html_bytes": paths.html.stat().st_size,
                "sections_s": {k: round(v, 2) for k, v in sections.items()},
            }
        )
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--ten-million", action="store_true", help="10,000,000 jobs")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--postgres", default=PG_ADMIN_URL, help="server URL (admin database)")
    where.add_argument("--sqlite", action="store_true", help="a SQLite file instead")
    parser.add_argument("--slos", type=int, default=2, help="job_success SLOs (0: none)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--keep", action="store_true", help="keep the filled store")
    parser.add_argument(
        "--no-rollups",
        action="store_true",
        help="do not build the SLO rollups first (a daemon keeps them current; without "
        "them the read-only engine computes from the jobs)",
    )
    parser.add_argument("--reuse", help="a store URL kept by --keep: time the report only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        with tempfile.TemporaryDirectory() as out:
            child(args.child, args.slos, out)
        return {}
    jobs = 10_000_000 if args.ten_million else args.jobs

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from collector.store import Store

    tmp = tempfile.TemporaryDirectory()
    admin = None
    db_name = None
    if args.reuse:
        url = args.reuse
    elif args.sqlite:
        url = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    else:
        db_name = f"qsre_bench_report_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db_name}"'))
        url = make_url(args.postgres).set(database=db_name).render_as_string(hide_password=False)
    try:
        Store(url).close()  # schema
        t0 = time.perf_counter()
        if args.reuse:
            pass
        elif args.sqlite:
            fill_sqlite(Path(tmp.name) / "bench.db", jobs, args.seed)
        else:
            fill_postgres(url, jobs, args.seed)
        fill_s = time.perf_counter() - t0
        rollup_s = None
        if args.slos and not args.no_rollups:
            rollup_s = _build_rollups(url, args.slos)
        proc = subprocess.run(
            [sys.executable, __file__, "--child", url, "--slos", str(args.slos)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"report child failed:\n{proc.stderr[-4000:]}")
        got = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if admin is not None and not args.keep and not args.reuse:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            admin.dispose()
        if not args.keep:
            tmp.cleanup()
    peak_mb = got["rss_peak_kb"] / 1024
    return {
        "benchmark": "report_scale",
        "dialect": "sqlite" if args.sqlite else "postgresql",
        "jobs": jobs,
        "jobs_in_week": got["jobs_in_week"],
        "slos": args.slos,
        "fill_s": round(fill_s, 1),
        "rollups_built_first_s": None if rollup_s is None else round(rollup_s, 1),
        "report_s": round(got["report_s"], 2),
        "peak_rss_mb": round(peak_mb, 1),
        "rss_after_imports_mb": round(got["rss_before_kb"] / 1024, 1),
        "html_bytes": got["html_bytes"],
        "sections_s": got["sections_s"],
        "target_s": TARGET_SECONDS,
        "target_mb": TARGET_MB,
        "meets_targets": got["report_s"] <= TARGET_SECONDS and peak_mb <= TARGET_MB,
        "kept_store": url if args.keep else None,
    }


if __name__ == "__main__":
    result = main(sys.argv[1:])
    if result:
        print(json.dumps(result))
