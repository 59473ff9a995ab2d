"""SQLite with and without planner statistics, side by side on one store.

Fills a SQLite store with terminal jobs (bench/slo_eval.py's generator: executemany,
time-ordered, several backends), removes the statistics, and times the queries the
issue names, before and after ``Store.refresh_statistics()`` (a sampled ANALYZE):

- ``jobs --backend``: newest 50 jobs of one backend (``Store.jobs``);
- the rollups' pending recheck: terminal jobs among a set of seqs.

Prints one JSON object: medians of 5 per query and state, the ratio, and how long
the refresh took. ``--jobs N`` sets the size (default 1,000,000).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.slo_eval import BACKENDS, generate  # noqa: E402
from collector.schema import TERMINAL_STATUSES, JobRow  # noqa: E402
from collector.store import Store  # noqa: E402


def _median_ms(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 3)


def _queries(store: Store) -> dict[str, Any]:
    backend = str(BACKENDS[0])
    with store.engine.connect() as conn:
        top = conn.exec_driver_sql("SELECT max(seq) FROM jobs").scalar_one()
    pending = list(range(top - 400, top))  # the newest rows, as the recheck sees them

    def pending_recheck() -> None:
        with store.engine.connect() as conn:
            conn.execute(
                select(JobRow.seq, JobRow.finished_at).where(
                    JobRow.seq.in_(pending), JobRow.status.in_(TERMINAL_STATUSES)
                )
            ).all()

    return {
        "jobs_backend_ms": _median_ms(lambda: store.jobs(backend=backend, limit=50)),
        "pending_recheck_ms": _median_ms(pending_recheck),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "q.db"
        Store(f"sqlite:///{path}").close()  # schema only
        fill_s = generate(path, args.jobs, seed=15)
        store = Store(f"sqlite:///{path}", migrate_on_open=False)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
        store.close()
        store = Store(f"sqlite:///{path}", migrate_on_open=False)  # fresh plans
        without = _queries(store)
        t0 = time.perf_counter()
        store.refresh_statistics()
        refresh_ms = round((time.perf_counter() - t0) * 1000, 1)
        store.close()
        store = Store(f"sqlite:///{path}", migrate_on_open=False)
        with_stats = _queries(store)
        store.close()
    out = {
        "jobs": args.jobs,
        "fill_s": round(fill_s, 1),
        "refresh_statistics_ms": refresh_ms,
        "without_statistics": without,
        "with_statistics": with_stats,
        "speedup": {
            k: round(without[k] / with_stats[k], 1) if with_stats[k] else None for k in without
        },
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
