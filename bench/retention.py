"""Benchmark: retention on PostgreSQL (issue 15 item 1).

Three measurements, one JSON object:

1. ``prune``: a new database filled (``COPY``, bench/fill.py) with ``--jobs`` jobs
   and their counts over 60 days ending now (``prune_sqlite``: the same on a SQLite
   file, executemany, with ``--sqlite-jobs``); the daemon's evaluation cycle
   (``qsre.cycle.EvaluationCycle.tick``, the embedded config's SLOs) runs in a
   thread, as in ``qsre run``, first alone (baseline), then while the retention
   duty's runs (``qsre.retention.prune_store``, ``max_run_s`` each, back to back:
   a catch-up) delete the older month of jobs and counts. Reports rows/s deleted and
   the cycle times alone and during pruning, against the evaluation interval.
2. ``partition``: the same month as a monthly partition of a range-partitioned copy
   of ``jobs``: ``DROP TABLE`` of the partition versus batched deletes of the same
   rows (``--partition-jobs`` rows).
3. ``level_off``: ``--days`` simulated days of ``--jobs-per-day`` jobs (COPY), the
   retention duty after each day (jobs 20 d, counts 10 d) and a plain ``VACUUM``
   standing in for the autovacuum a real day would see; bytes of jobs + job_results
   (``pg_total_relation_size``) per day.

Run: ``.venv/bin/python bench/retention.py`` (about 5-10 minutes on 2 cores at the
default 3 M jobs).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fill import (  # noqa: E402
    JOB_COLUMNS,
    RESULT_COLUMNS,
    Workload,
    batches,
    copy_rows,
    fill_postgres,
    fill_sqlite,
    new_database,
    pg_dsn,
)
from qsre.store_copy import migrate_target  # noqa: E402  (every package's tables)

PG_ADMIN_URL = os.environ.get(
    "QSRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sim-stable", "sim-drifting", "local-aer", "ibm_brisbane", "ibm_kyiv")
DAY_S = 86400


def _round(x: float, n: int = 4) -> float:
    return round(x, n)


def _sizes(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            # The whole file (SQLite keeps freed pages for reuse).
            path = Path(url.removeprefix("sqlite:///"))
            out = {"file": path.stat().st_size}
        else:
            out = {
                t: int(conn.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one())
                for t in ("jobs", "job_results")
            }
        out["rows_jobs"] = int(conn.execute(text("SELECT count(*) FROM jobs")).scalar_one())
    engine.dispose()
    return out


class CycleLoop:
    """The daemon's evaluation cycle in its own thread, timing every tick."""

    def __init__(self, url: str, workdir: Path) -> None:
        from collector.clock import SystemClock
        from collector.store import Store
        from qsre.config import EMBEDDED_DEFAULT, load_config
        from qsre.cycle import EvaluationCycle
        from qsre.wiring import build_router

        data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
        data["store"] = {"url": url, "spool_dir": str(workdir / "spool")}
        data["reports"]["weekly"]["enabled"] = False
        path = workdir / "qsre.yaml"
        path.write_text(yaml.safe_dump(data))
        self.config = load_config(path)
        self.store = Store(url)
        clock = SystemClock()
        self._sink = io.StringIO()
        router = build_router(self.config, self.store, clock, console_stream=self._sink)
        self.cycle = EvaluationCycle(self.config, self.store, router, clock)
        self.times: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> float:
        with contextlib.redirect_stdout(self._sink):
            t0 = time.perf_counter()
            result = self.cycle.tick()
            elapsed = time.perf_counter() - t0
        self.errors.extend(str(e) for e in result.errors)
        return elapsed

    def start(self, pause_s: float) -> None:
        self.times = []
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                self.times.append(self.tick())
                self._stop.wait(pause_s)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> list[float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.times

    def close(self) -> None:
        self.store.close()


def _stats(times: list[float]) -> dict[str, Any]:
    if not times:
        return {"n": 0}
    return {
        "n": len(times),
        "median_s": _round(statistics.median(times)),
        "max_s": _round(max(times)),
    }


def measure_prune(url: str, jobs: int, args: argparse.Namespace, workdir: Path) -> dict:
    from collector.store import Store
    from qsre.retention import RetentionPolicy, prune_store

    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    migrate_target(url)
    t0 = time.perf_counter()
    workload = Workload(end=now, span_s=60 * DAY_S, backends=BACKENDS)
    if url.startswith("sqlite"):
        fill_sqlite(Path(url.removeprefix("sqlite:///")), jobs, workload)
    else:
        fill_postgres(url, jobs, workload)
    out: dict[str, Any] = {
        "dialect": url.split(":")[0].split("+")[0],
        "jobs": jobs,
        "fill_s": _round(time.perf_counter() - t0, 1),
    }
    out["before"] = _sizes(url)

    loop = CycleLoop(url, workdir)
    out["first_cycle_s"] = _round(loop.tick(), 3)  # the cold rollup build
    loop.start(args.cycle_pause_s)
    time.sleep(args.baseline_s)
    out["cycle_alone"] = _stats(loop.stop())

    policy = RetentionPolicy(
        jobs_s=30 * DAY_S,
        job_results_s=30 * DAY_S,
        validation_runs_s=None,
        notification_log_s=None,
        max_run_s=args.max_run_s,
        batch_rows=args.batch_rows,
    )
    store = Store(url)
    loop.start(args.cycle_pause_s)
    runs: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    while True:
        r0 = time.perf_counter()
        results = prune_store(store.engine, policy, now, max_seconds=policy.max_run_s)
        runs.append(
            {
                "s": _round(time.perf_counter() - r0, 3),
                **{r.table: r.deleted for r in results},
                "batches": sum(r.batches for r in results),
            }
        )
        if all(r.done for r in results):
            break
    total_s = time.perf_counter() - t0
    out["cycle_while_pruning"] = _stats(loop.stop())
    out["cycle_errors"] = sorted(set(loop.errors))[:5]
    loop.close()
    store.close()
    deleted_jobs = sum(r.get("jobs", 0) for r in runs)
    deleted_results = sum(r.get("job_results", 0) for r in runs)
    out["prune"] = {
        "runs": len(runs),
        "max_run_s": args.max_run_s,
        "batch_rows": args.batch_rows,
        "seconds": _round(total_s, 2),
        "jobs_deleted": deleted_jobs,
        "job_results_deleted": deleted_results,
        "rows_per_s": round((deleted_jobs + deleted_results) / total_s),
        "jobs_per_s": round(deleted_jobs / total_s),
        "longest_run_s": max(r["s"] for r in runs),
    }
    out["evaluation_interval_s"] = loop.config.file.alerting.evaluation_interval_s
    out["every_cycle_under_interval"] = (
        out["cycle_while_pruning"].get("max_s", 0) < out["evaluation_interval_s"]
    )
    out["after"] = _sizes(url)
    return out


def measure_partition(url: str, rows: int, args: argparse.Namespace) -> dict:
    """DROP of a monthly partition vs batched deletes of the same rows."""
    import psycopg

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    month = now - timedelta(days=30)
    migrate_target(url)
    fill_postgres(url, rows, Workload(end=month, span_s=28 * DAY_S, backends=BACKENDS))
    out: dict[str, Any] = {"rows": rows}
    with psycopg.connect(pg_dsn(url), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE jobs_p (LIKE jobs INCLUDING DEFAULTS) PARTITION BY RANGE (submitted_at)"
        )
        lo, hi = month - timedelta(days=40), month + timedelta(days=1)
        conn.execute(
            f"CREATE TABLE jobs_p_old PARTITION OF jobs_p FOR VALUES FROM ('{lo.isoformat()}') "
            f"TO ('{hi.isoformat()}')"
        )
        conn.execute(
            f"CREATE TABLE jobs_p_new PARTITION OF jobs_p FOR VALUES FROM ('{hi.isoformat()}') "
            "TO (MAXVALUE)"
        )
        conn.execute("CREATE INDEX ON jobs_p (submitted_at)")
        conn.execute("CREATE INDEX ON jobs_p (backend, finished_at)")
        conn.execute("INSERT INTO jobs_p SELECT * FROM jobs")
        conn.execute("ANALYZE jobs_p")
        t0 = time.perf_counter()
        conn.execute("DROP TABLE jobs_p_old")
        out["drop_partition_s"] = _round(time.perf_counter() - t0)
    from collector.store import Store
    from qsre.retention import RetentionPolicy, prune_store

    store = Store(url)
    policy = RetentionPolicy(
        jobs_s=1, job_results_s=1, validation_runs_s=None, notification_log_s=None,
        batch_rows=args.batch_rows,
    )  # fmt: skip
    t0 = time.perf_counter()
    results = prune_store(store.engine, policy, now)
    elapsed = time.perf_counter() - t0
    store.close()
    deleted = {r.table: r.deleted for r in results}
    out["batched_delete_s"] = _round(elapsed, 2)
    out["batched_delete_rows"] = deleted
    out["batched_rows_per_s"] = round(sum(deleted.values()) / elapsed)
    return out


def _day_rows(day: int, jobs: int, end: datetime) -> Iterator[tuple[list[tuple], list[tuple]]]:
    # bench/fill.py numbers ids from 0 ("bench-" + 30 digits): one prefix per day.
    prefix = f"d{day:04d}"

    def day_id(job_id: str) -> str:
        return prefix + job_id.removeprefix("bench-")

    w = Workload(end=end, span_s=DAY_S, backends=BACKENDS, seed=day)
    for jrows, rrows in batches(jobs, w):
        jrows = [(day_id(r[0]), *r[1:5], day_id(r[5]), *r[6:]) for r in jrows]
        rrows = [(day_id(r[0]), *r[1:]) for r in rrows]
        yield jrows, rrows


def measure_level_off(url: str, args: argparse.Namespace) -> dict:
    import psycopg

    from collector.store import Store
    from qsre.retention import RetentionPolicy, prune_store

    migrate_target(url)
    store = Store(url)
    policy = RetentionPolicy(
        jobs_s=20 * DAY_S, job_results_s=10 * DAY_S, validation_runs_s=None,
        notification_log_s=None, batch_rows=args.batch_rows,
    )  # fmt: skip
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=args.days
    )
    ts = [JOB_COLUMNS.index(c) for c in ("submitted_at", "started_at", "finished_at")]
    per_day: list[dict[str, Any]] = []
    with psycopg.connect(pg_dsn(url)) as conn:
        for day in range(args.days):
            end = start + timedelta(days=day + 1)
            for jrows, rrows in _day_rows(day, args.jobs_per_day, end):
                copy_rows(conn, "jobs", JOB_COLUMNS, jrows, utc_columns=ts)
                copy_rows(conn, "job_results", RESULT_COLUMNS, rrows)
            conn.commit()
            t0 = time.perf_counter()
            deleted = 0
            while True:
                results = prune_store(store.engine, policy, end, max_seconds=10)
                deleted += sum(r.deleted for r in results)
                if all(r.done for r in results):
                    break
            prune_s = time.perf_counter() - t0
            conn.autocommit = True
            conn.execute("VACUUM jobs")
            conn.execute("VACUUM job_results")
            conn.autocommit = False
            sizes = _sizes(url)
            per_day.append(
                {
                    "day": day + 1,
                    "jobs": sizes["rows_jobs"],
                    "mb": _round((sizes["jobs"] + sizes["job_results"]) / 1e6, 2),
                    "deleted": deleted,
                    "prune_s": _round(prune_s, 2),
                }
            )
    store.close()
    mb = [d["mb"] for d in per_day]
    return {
        "days": args.days,
        "jobs_per_day": args.jobs_per_day,
        "retention": {"jobs_d": 20, "job_results_d": 10},
        "mb_day_20": mb[19] if len(mb) > 19 else None,
        "mb_day_30": mb[29] if len(mb) > 29 else None,
        "mb_last": mb[-1],
        "mb_max_after_day_25": max(mb[25:]) if len(mb) > 25 else None,
        "per_day": per_day[::5] + [per_day[-1]],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=PG_ADMIN_URL, help="server URL (admin database)")
    parser.add_argument("--jobs", type=int, default=3_000_000, help="jobs over 60 days; 0: skip")
    parser.add_argument("--sqlite-jobs", type=int, default=0, help="SQLite jobs over 60 days")
    parser.add_argument("--partition-jobs", type=int, default=1_000_000, help="0: skip")
    parser.add_argument("--days", type=int, default=60, help="level-off days; 0: skip")
    parser.add_argument("--jobs-per-day", type=int, default=10_000)
    parser.add_argument("--batch-rows", type=int, default=5000)
    parser.add_argument("--max-run-s", type=float, default=10.0)
    parser.add_argument("--baseline-s", type=float, default=20.0)
    parser.add_argument("--cycle-pause-s", type=float, default=1.0)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"bench": "retention", "cpus": os.cpu_count()}
    import tempfile

    if args.jobs:
        with (
            new_database(args.postgres, "qsre_bench_ret") as url,
            tempfile.TemporaryDirectory() as tmp,
        ):
            out["prune"] = measure_prune(url, args.jobs, args, Path(tmp))
    if args.sqlite_jobs:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/qsre.db"
            out["prune_sqlite"] = measure_prune(url, args.sqlite_jobs, args, Path(tmp))
    if args.partition_jobs:
        with new_database(args.postgres, "qsre_bench_ret") as url:
            out["partition"] = measure_partition(url, args.partition_jobs, args)
    if args.days:
        with new_database(args.postgres, "qsre_bench_ret") as url:
            out["level_off"] = measure_level_off(url, args)
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
