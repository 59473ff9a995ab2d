"""With retention, a store stops growing after the horizon: a simulated 60-day run
(a day of jobs, then the daemon's prune, every day) at reduced volume."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from collector.store import Store
from qsre.retention import RetentionPolicy, prune_store

from .kit import JOBS, RESULTS, T0, count, day_of_jobs

DAYS = 60
PER_DAY = 300
POLICY = RetentionPolicy(
    jobs_s=20 * 86400,
    job_results_s=10 * 86400,
    validation_runs_s=20 * 86400,
    notification_log_s=20 * 86400,
)


def _bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def test_store_levels_off_after_the_retention_horizon(sqlite_url, tmp_path) -> None:
    store = Store(sqlite_url)
    path = tmp_path / "qsre.db"
    jobs, results, sizes = [], [], []
    for day in range(DAYS):
        store.upsert_jobs(day_of_jobs(day, PER_DAY, circuits=3))
        # The daemon's duty, as it would have run over the day: bounded runs until
        # the walks are up to date.
        now = T0 + timedelta(days=day + 1)
        while not all(r.done for r in prune_store(store.engine, POLICY, now, max_seconds=2)):
            pass
        jobs.append(count(store, JOBS))
        results.append(count(store, RESULTS))
        sizes.append(_bytes(path))
    # Rows: exactly the horizon's worth once it has passed.
    assert jobs[:20] == [PER_DAY * (d + 1) for d in range(20)]
    assert set(jobs[20:]) == {20 * PER_DAY}
    assert set(results[10:]) == {10 * PER_DAY * 3}
    # Bytes: SQLite reuses the freed pages; past the horizon (and a few days of
    # page churn) the file does not grow any more.
    settled = max(sizes[25:30])
    assert max(sizes[30:]) <= settled * 1.02, [s // 1024 for s in sizes]
    assert sizes[-1] < 0.5 * sizes[20] * DAYS / 20  # far below keeping everything
    store.close()
