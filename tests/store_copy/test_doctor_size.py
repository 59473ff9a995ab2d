"""`qsre doctor` says when a SQLite store nears its honest limit, and how to move it."""

from __future__ import annotations

from datetime import UTC, datetime

from collector.store import Store
from qsre.config import EMBEDDED_DEFAULT
from qsre.doctor import WARN_FRACTION, run_checks, sqlite_jobs_limit

T0 = datetime(2026, 11, 16, tzinfo=UTC)


def _store_spanning(url: str, last_seq: int) -> None:
    """Jobs whose seqs span 1..last_seq (as a store that has recorded that many)."""
    store = Store(url)
    store.upsert_jobs(
        [{"id": i, "backend": "b", "submitted_at": T0, "status": "done"} for i in ("a", "b")]
    )
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE jobs SET seq = {last_seq} WHERE id = 'b'")
    store.close()


def _size_check(url: str):
    checks = {c.name: c for c in run_checks(EMBEDDED_DEFAULT, url)}
    return checks.get("store size")


def test_a_large_sqlite_store_is_advised_to_move(sqlite_url, tmp_path) -> None:
    jobs = int(sqlite_jobs_limit() * (WARN_FRACTION + 0.05))
    _store_spanning(sqlite_url, jobs)
    db = tmp_path / "qsre.db"
    before = db.stat().st_mtime_ns, db.stat().st_size
    check = _size_check(sqlite_url)
    assert check is not None and check.ok
    assert check.detail.startswith(f"SQLite store with {jobs / 1e6:.1f} M jobs: evaluation ~")
    assert "qsre store copy --to postgresql+psycopg://" in check.detail
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before  # doctor only looks


def test_a_small_sqlite_store_gets_the_figures_only(sqlite_url) -> None:
    _store_spanning(sqlite_url, 5_000)
    check = _size_check(sqlite_url)
    assert check is not None and check.ok
    assert check.detail.startswith("SQLite store with 5,000 jobs")
    assert "consider PostgreSQL" not in check.detail


def test_postgresql_and_missing_stores_have_no_size_check(pg_url, tmp_path) -> None:
    Store(pg_url).close()
    assert _size_check(pg_url) is None
    assert _size_check(f"sqlite:///{tmp_path / 'none.db'}") is None
