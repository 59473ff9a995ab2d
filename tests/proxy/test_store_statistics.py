"""SQLite's planner statistics follow the store: taken when a writer opens a store
that has jobs but none, retaken once the jobs table has doubled (or halved), and
left alone otherwise; a read-only open never takes them (it would be a write)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.store import Store


def jobs(n: int, backend: str = "aer") -> list[dict]:
    t0 = datetime(2026, 11, 16, tzinfo=UTC)
    return [
        {
            "id": str(uuid.uuid4()),
            "backend": backend,
            "project": "p",
            "status": "done",
            "submitted_at": t0 + timedelta(seconds=i),
            "finished_at": t0 + timedelta(seconds=i + 1),
        }
        for i in range(n)
    ]


def analysed_rows(store: Store) -> int | None:
    with store.engine.connect() as conn:
        return Store._analysed_rows(conn)


def test_statistics_are_taken_and_retaken_as_the_store_grows(sqlite_url) -> None:
    store = Store(sqlite_url)
    assert analysed_rows(store) is None  # nothing to analyse in an empty store
    store.upsert_jobs(jobs(100))
    store.close()
    store = Store(sqlite_url)  # a writer opening a store without statistics
    assert analysed_rows(store) == 100
    store.upsert_jobs(jobs(50))
    assert store.refresh_statistics() is False  # 150 rows: within 2x of 100
    assert analysed_rows(store) == 100
    store.upsert_jobs(jobs(60))
    assert store.refresh_statistics() is True  # 210 rows: more than doubled
    assert analysed_rows(store) == 210
    assert store.refresh_statistics(force=True) is True


def test_a_read_only_open_takes_none(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    writer = Store(url)
    writer.upsert_jobs(jobs(10))
    with writer.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
    writer.close()
    before = hashlib.sha256((tmp_path / "q.db").read_bytes()).hexdigest()
    reader = Store(url, migrate_on_open=False)
    assert analysed_rows(reader) is None
    reader.close()
    assert hashlib.sha256((tmp_path / "q.db").read_bytes()).hexdigest() == before


def test_postgresql_keeps_its_own(pg_url) -> None:
    store = Store(pg_url)
    store.upsert_jobs(jobs(10))
    assert store.refresh_statistics(force=True) is False
