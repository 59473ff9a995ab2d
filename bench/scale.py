"""Benchmark: qsre on a store holding a busy installation's history (issue 15).

Fills PostgreSQL (``COPY``, a new database on the server of ``--postgres``) and
SQLite (``executemany``) with 30 days of jobs ending now (bench/fill.py: counts
for finished jobs, five backends with 20 % of jobs each, the embedded config's
SLOs), then measures, per store:

- bytes per job: ``jobs`` + ``job_results`` with their indexes
  (``pg_total_relation_size``; SQLite's ``dbstat``);
- ``qsre jobs --backend X`` and ``qsre slo status --json`` wall time (CLI
  subprocesses, medians of ``--repeats``), the latter before any daemon ran (rollups
  not built) and after (built); the CLI's own start (``--help``) for reference;
- ``qsre run --no-schedules`` start → first /metrics answer, for the first start
  (no rollups yet) and a restart (rollups built), plus start → first evaluation
  finished, start → every SLO's rollups built (the first start only: the daemon
  builds them over several cycles) and the /metrics scrape time;
- the evaluation cycle after the first (``qsre.cycle.EvaluationCycle.tick``
  in-process on the same config, median of ``--cycles``).

Prints ONE JSON object. Default (~5 minutes on 2 cores): PostgreSQL 1 M and
SQLite 1 M jobs. ``--sqlite-jobs 1000000,3000000`` measures several sizes;
``--ten-million`` sets PostgreSQL to 10 M; ``--copy`` also times `qsre store copy`
of each SQLite store to PostgreSQL. Run: ``.venv/bin/python bench/scale.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fill import Workload, fill_postgres, fill_sqlite, new_database  # noqa: E402
from qsre.store_copy import migrate_target  # noqa: E402  (every package's tables)

PG_ADMIN_URL = os.environ.get(
    "QSRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
QSRE = str(Path(sys.executable).with_name("qsre"))
SPAN_S = 30 * 86400
# The embedded config's backends, plus two of the kind a platform team adds.
BACKENDS = ("sim-stable", "sim-drifting", "local-aer", "ibm_brisbane", "ibm_kyiv")
TARGET_START_S = 3.0
TARGET_CYCLE_S = 0.1
# The CLI and the daemon run the code this bench imports (not whatever an editable
# install points at): a schema of another checkout would not be this one's.
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(workdir: Path, url: str) -> Path:
    """The embedded example config on ``url``, its spool and outputs in ``workdir``."""
    from qsre.config import EMBEDDED_DEFAULT

    data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    data["store"] = {"url": url, "spool_dir": str(workdir / "spool")}
    data["reports"]["weekly"]["enabled"] = False
    path = workdir / "qsre.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cli_seconds(args: list[str], repeats: int, cwd: Path) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run([QSRE, *args], cwd=cwd, env=ENV, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"qsre {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return _median(times)


def _get(url: str, timeout: float = 5.0) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read().decode()
    except OSError:
        return None


def _rollups_building(url: str) -> int:
    """How many SLI series the daemon is still building (read-only, nothing written)."""
    from collector.store import Store
    from slo.rollup import Rollups

    store = Store(url, migrate_on_open=False)
    try:
        return len(Rollups(store, read_only=True).building())
    finally:
        store.close()


def daemon_run(
    config: Path, url: str, workdir: Path, *, scrapes: int = 5, until_built: bool = False
) -> dict[str, Any]:
    """Start `qsre run`, time start → /metrics and → first evaluation, scrape, stop.

    ``until_built``: before stopping, also wait until the daemon has built every
    SLO's rollups (it builds a new series newest day first, at most a sixth of the
    evaluation interval per cycle), timed as ``start_to_rollups_built_s``."""
    port = _free_port()
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    log = (workdir / f"daemon-{port}.log").open("w")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [QSRE, "run", "-c", str(config), "--db", url, "--port", str(port), "--no-schedules"],
        cwd=workdir,
        env=ENV,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    out: dict[str, Any] = {}
    try:
        while (body := _get(metrics_url, timeout=1.0)) is None:
            if proc.poll() is not None:
                raise SystemExit(f"qsre run exited {proc.returncode}: see {log.name}")
            time.sleep(0.02)
        out["start_to_metrics_s"] = round(time.perf_counter() - t0, 3)
        while "\nqsre_last_evaluation_timestamp_seconds" not in (body or ""):
            if proc.poll() is not None:
                raise SystemExit(f"qsre run exited {proc.returncode}: see {log.name}")
            if time.perf_counter() - t0 > 900:
                raise SystemExit("no evaluation finished within 15 minutes")
            time.sleep(0.1)
            body = _get(metrics_url)
        out["start_to_first_evaluation_s"] = round(time.perf_counter() - t0, 3)
        times = []
        for _ in range(scrapes):
            s0 = time.perf_counter()
            assert _get(metrics_url) is not None
            times.append((time.perf_counter() - s0) * 1000)
        out["scrape_ms"] = _median(times)
        out["scrape_ms_all"] = [round(x, 1) for x in times]
        while until_built and _rollups_building(url):
            if proc.poll() is not None:
                raise SystemExit(f"qsre run exited {proc.returncode}: see {log.name}")
            if time.perf_counter() - t0 > 1800:
                raise SystemExit("rollups not built within 30 minutes")
            time.sleep(1.0)
        if until_built:
            out["start_to_rollups_built_s"] = round(time.perf_counter() - t0, 3)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    return out


def cycle_seconds(config: Path, url: str, cycles: int) -> dict[str, Any]:
    """EvaluationCycle.tick in this process: the first, then the median of ``cycles``."""
    from collector.clock import SystemClock
    from collector.store import Store
    from qsre.config import load_config
    from qsre.cycle import EvaluationCycle
    from qsre.wiring import build_router

    cfg = load_config(config)
    clock = SystemClock()
    store = Store(url)
    sink = io.StringIO()
    try:
        router = build_router(cfg, store, clock, console_stream=sink)
        cycle = EvaluationCycle(cfg, store, router, clock)
        with contextlib.redirect_stdout(sink):
            t0 = time.perf_counter()
            first = cycle.tick()
            first_s = time.perf_counter() - t0
            times = []
            for _ in range(cycles):
                t0 = time.perf_counter()
                result = cycle.tick()
                times.append(time.perf_counter() - t0)
        errors = [*first.errors, *result.errors]
    finally:
        store.close()
    return {
        "first_cycle_s": round(first_s, 3),
        "cycle_s": _median(times),
        "cycle_s_all": [round(x, 3) for x in times],
        "cycle_errors": errors,
    }


def bytes_per_job(url: str, jobs: int) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path)
        rows = conn.execute(
            "SELECT m.tbl_name, sum(d.pgsize) FROM dbstat d JOIN sqlite_master m"
            " ON m.name = d.name GROUP BY m.tbl_name"
        ).fetchall()
        conn.close()
        sizes = dict(rows)
        file_bytes = Path(path).stat().st_size
    else:
        engine = create_engine(url)
        with engine.connect() as conn:
            sizes = {
                t: conn.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one()
                for t in ("jobs", "job_results")
            }
            file_bytes = conn.execute(
                text("SELECT pg_database_size(current_database())")
            ).scalar_one()
        engine.dispose()
    both = int(sizes.get("jobs", 0)) + int(sizes.get("job_results", 0))
    return {
        "bytes_per_job": round(both / jobs),
        "jobs_bytes_per_job": round(int(sizes.get("jobs", 0)) / jobs),
        "job_results_bytes_per_job": round(int(sizes.get("job_results", 0)) / jobs),
        "database_bytes": int(file_bytes),
    }


def measure(url: str, dialect: str, jobs: int, args: argparse.Namespace, workdir: Path) -> dict:
    from collector.store import Store

    out: dict[str, Any] = {"dialect": dialect, "jobs": jobs}
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    workload = Workload(end=end, span_s=SPAN_S, backends=BACKENDS, seed=args.seed)
    Store(url).close()  # the collector's schema
    t0 = time.perf_counter()
    if dialect == "sqlite":
        fill_sqlite(Path(url.removeprefix("sqlite:///")), jobs, workload)
    else:
        fill_postgres(url, jobs, workload)
    out["fill_s"] = round(time.perf_counter() - t0, 1)
    out.update(bytes_per_job(url, jobs))
    config = write_config(workdir, url)
    c = ["-c", str(config), "--db", url]
    out["jobs_backend_s"] = cli_seconds(
        ["jobs", *c, "--backend", BACKENDS[3], "--json"], args.repeats, workdir
    )
    # The read-only CLI needs the slo tables; the daemon creates them: before it has
    # run, open the stores that own them the way it would, without building rollups.
    migrate_target(url)
    out["slo_status_rollups_not_built_s"] = cli_seconds(
        ["slo", "status", *c, "--json"], args.repeats, workdir
    )
    first = daemon_run(config, url, workdir, until_built=True)
    out["first_start"] = first
    out["slo_status_rollups_built_s"] = cli_seconds(
        ["slo", "status", *c, "--json"], args.repeats, workdir
    )
    out.update(cycle_seconds(config, url, args.cycles))
    restart = daemon_run(config, url, workdir)
    out["restart"] = restart
    out["start_to_metrics_s"] = restart["start_to_metrics_s"]
    out["scrape_ms"] = restart["scrape_ms"]
    out["meets_sqlite_targets"] = (
        restart["start_to_metrics_s"] <= TARGET_START_S and out["cycle_s"] <= TARGET_CYCLE_S
    )
    if dialect == "sqlite" and args.copy:
        out["copy_to_postgresql"] = copy_seconds(url, args.postgres)
    return out


def copy_seconds(url: str, admin_url: str) -> dict[str, Any]:
    """`qsre store copy` of this store into a new PostgreSQL database (in-process)."""

    from qsre.store_copy import copy_store

    with new_database(admin_url, "qsre_bench_copy") as target:
        t0 = time.perf_counter()
        report = copy_store(url, target)
        seconds = time.perf_counter() - t0
    return {
        "seconds": round(seconds, 1),
        "rows": report.rows,
        "rows_per_s": round(report.rows / seconds),
        "verified": report.verified,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-jobs", default="1000000", help="comma list; 0: skip")
    parser.add_argument("--sqlite-jobs", default="1000000", help="comma list; 0: skip")
    parser.add_argument("--ten-million", action="store_true", help="PostgreSQL 10,000,000")
    parser.add_argument("--postgres", default=PG_ADMIN_URL, help="server URL (admin database)")
    parser.add_argument("--repeats", type=int, default=3, help="CLI runs per figure")
    parser.add_argument("--cycles", type=int, default=5, help="timed cycles after the first")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--copy", action="store_true", help="also time `qsre store copy` of each SQLite store"
    )
    parser.add_argument("--dir", type=Path, default=None, help="where SQLite files go")
    args = parser.parse_args(argv)
    pg_sizes = [10_000_000] if args.ten_million else _sizes(args.postgres_jobs)
    sqlite_sizes = _sizes(args.sqlite_jobs)

    cli_start = None
    stores = []
    for dialect, sizes in (("postgresql", pg_sizes), ("sqlite", sqlite_sizes)):
        for jobs in sizes:
            with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
                workdir = Path(tmp)
                if cli_start is None:
                    cli_start = cli_seconds(["slo", "status", "--help"], args.repeats, workdir)
                if dialect == "sqlite":
                    stores.append(
                        measure(f"sqlite:///{workdir / 'qsre.db'}", dialect, jobs, args, workdir)
                    )
                    continue
                with new_database(args.postgres, "qsre_bench_scale") as url:
                    stores.append(measure(url, dialect, jobs, args, workdir))
    return {
        "benchmark": "scale",
        "cli_start_s": cli_start,
        "target_start_s": TARGET_START_S,
        "target_cycle_s": TARGET_CYCLE_S,
        "stores": stores,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip() and int(x) > 0]


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
