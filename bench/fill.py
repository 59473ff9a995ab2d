"""Fill a store with synthetic history the way a busy installation fills it.

Jobs arrive in submission order (as a live store grows) over ``span_s`` seconds
ending at ``end``; every job carries what the proxy records (an idempotency key
equal to its id, a circuit hash, the recorder, timings, cost) and finished jobs
their counts (one circuit, a few outcomes) in ``job_results``. PostgreSQL is
filled with ``COPY`` (``copy_rows``), SQLite with ``executemany`` in large
transactions. The schema must exist (open a ``collector.store.Store`` first).

Shared by the benches (bench/scale.py; bench/report_scale.py's COPY writer).
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

BATCH = 200_000
ERROR_CLASSES = np.array(["transient", "backend", "timeout", "auth", "quota", "result_corrupt"])

JOB_COLUMNS = (
    "id",
    "backend",
    "project",
    "tags",
    "purpose",
    "idempotency_key",
    "num_circuits",
    "circuit_hash",
    "max_qubits",
    "max_depth",
    "shots",
    "submitted_at",
    "started_at",
    "finished_at",
    "queue_seconds",
    "run_seconds",
    "e2e_seconds",
    "status",
    "error_class",
    "attempts",
    "cost_usd",
    "recorder",
)
RESULT_COLUMNS = ("job_id", "circuit_index", "num_clbits", "counts")


@dataclass(frozen=True)
class Workload:
    """What the synthetic installation runs: ``backends`` get equal shares of jobs."""

    end: datetime
    span_s: int
    backends: Sequence[str]
    projects: Sequence[str] = ("chem", "finance", "ops")
    seed: int = 15
    counts: bool = True  # finished jobs get a job_results row
    circuit_hashes: int = 2_000  # distinct user circuits


def timestamps(epoch_us: np.ndarray) -> list[str]:
    """UTC text in the naive form SQLAlchemy stores in SQLite ('YYYY-MM-DD
    HH:MM:SS.ffffff'); PostgreSQL's COPY reads the same with '+00' appended."""
    text = np.datetime_as_string(epoch_us.astype("datetime64[us]"), unit="us")
    return np.char.replace(text, "T", " ").tolist()


def batches(jobs: int, w: Workload) -> Iterator[tuple[list[tuple], list[tuple]]]:
    """(job rows, result rows) in batches of ``BATCH`` jobs; columns as JOB_COLUMNS
    and RESULT_COLUMNS, timestamps as naive UTC text, JSON as text."""
    rng = np.random.default_rng(w.seed)
    end_us = int(w.end.timestamp() * 1e6)
    submitted_all = np.sort(rng.integers(0, w.span_s * 1_000_000, size=jobs)) + (
        end_us - w.span_s * 1_000_000
    )
    backends = np.array(list(w.backends))
    projects = np.array(list(w.projects))
    hashes = np.array([f"{i:064x}" for i in rng.integers(0, 2**62, w.circuit_hashes)])
    done = 0
    while done < jobs:
        n = min(BATCH, jobs - done)
        submitted = submitted_all[done : done + n]
        queue_s = np.round(rng.lognormal(2.5, 1.5, n), 3)
        run_s = np.round(rng.lognormal(1.0, 1.0, n), 3)
        e2e_s = np.round(queue_s + run_s, 3)
        started = submitted + (queue_s * 1e6).astype(np.int64)
        finished = submitted + (e2e_s * 1e6).astype(np.int64)
        # Jobs still running at the end of the history stay open, like in a live store.
        open_ = finished >= end_us
        u = rng.random(n)
        status = np.where(u < 0.985, "done", np.where(u < 0.995, "error", "cancelled"))
        status = np.where(open_, "running", status).astype(object)
        error_class = ERROR_CLASSES[rng.integers(0, len(ERROR_CLASSES), n)].astype(object)
        error_class[status != "error"] = None
        backend = backends[rng.integers(0, len(backends), n)].tolist()
        project = projects[rng.integers(0, len(projects), n)].tolist()
        tags = np.where(rng.random(n) < 0.3, '{"team": "q"}', '{"team": "r"}').tolist()
        circuit = hashes[rng.integers(0, len(hashes), n)].tolist()
        qubits = rng.integers(2, 28, n).tolist()
        depth = rng.integers(5, 400, n).tolist()
        cost = np.round(rng.exponential(0.05, n), 4).tolist()
        ones = rng.binomial(1000, 0.5, n)
        sub_t, sta_t, fin_t = timestamps(submitted), timestamps(started), timestamps(finished)
        ids = [f"bench-{i:030d}" for i in range(done, done + n)]
        jrows: list[tuple] = []
        rrows: list[tuple] = []
        for k in range(n):
            st = status[k]
            running = st == "running"
            jrows.append(
                (ids[k], backend[k], project[k], tags[k], "workload", ids[k], 1, circuit[k],
                 qubits[k], depth[k], 1000, sub_t[k], sta_t[k], None if running else fin_t[k],
                 queue_s[k], None if running else run_s[k], None if running else e2e_s[k],
                 st, error_class[k], 1, cost[k], "bench-recorder")
            )  # fmt: skip
            if w.counts and st == "done":
                a = int(ones[k])
                counts = {"00": 1000 - a - 20, "01": 9, "10": 11, "11": a}
                rrows.append((ids[k], 0, 2, json.dumps(counts)))
        yield jrows, rrows
        done += n


def fill_sqlite(path: Path, jobs: int, w: Workload) -> None:
    """executemany in transactions of BATCH jobs, then ANALYZE (as the daemon would)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    job_sql = (
        f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) VALUES ({', '.join('?' * len(JOB_COLUMNS))})"
    )
    result_sql = f"INSERT INTO job_results ({', '.join(RESULT_COLUMNS)}) VALUES (?, ?, ?, ?)"
    for jrows, rrows in batches(jobs, w):
        with conn:
            conn.executemany(job_sql, jrows)
            conn.executemany(result_sql, rrows)
    conn.execute("ANALYZE")
    conn.close()


def pg_dsn(url: str) -> str:
    """A libpq DSN for a SQLAlchemy postgresql+psycopg URL."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    dsn = f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"
    if u.password:
        dsn += f" password={u.password}"
    return dsn


def _copy_field(value: Any) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return text


def copy_rows(
    conn: Any,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    utc_columns: Sequence[int] = (),
) -> None:
    """COPY ``rows`` into ``table`` on a psycopg connection (text format). Fields at
    ``utc_columns`` are naive UTC timestamp text and get '+00' appended."""
    utc = set(utc_columns)
    buf = io.StringIO()
    for row in rows:
        fields = [
            "\\N" if v is None else (f"{v}+00" if i in utc else _copy_field(v))
            for i, v in enumerate(row)
        ]
        buf.write("\t".join(fields) + "\n")
    buf.seek(0)
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        while chunk := buf.read(1 << 20):
            cp.write(chunk)


def fill_postgres(url: str, jobs: int, w: Workload) -> None:
    """COPY in batches of BATCH jobs (one commit each), then ANALYZE."""
    import psycopg

    ts = [JOB_COLUMNS.index(c) for c in ("submitted_at", "started_at", "finished_at")]
    with psycopg.connect(pg_dsn(url)) as conn:
        for jrows, rrows in batches(jobs, w):
            copy_rows(conn, "jobs", JOB_COLUMNS, jrows, utc_columns=ts)
            copy_rows(conn, "job_results", RESULT_COLUMNS, rrows)
            conn.commit()
        conn.execute("ANALYZE jobs")
        conn.execute("ANALYZE job_results")
        conn.commit()


@contextlib.contextmanager
def new_database(admin_url: str, prefix: str = "qsre_bench") -> Iterator[str]:
    """The URL of a brand-new PostgreSQL database on ``admin_url``'s server, dropped
    (even with open connections) when the block ends."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
