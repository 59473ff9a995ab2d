"""Shared fixtures. Storage tests run against a real SQLite file and the local
PostgreSQL server; each PostgreSQL test gets its own fresh database, so tests (and
parallel sessions) never see each other's rows."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

# The repository root first on sys.path, whether pytest runs as `python -m pytest`
# (which adds the working directory) or as `.venv/bin/pytest` (which adds test
# folders first): tests/runbooks and tests/dashboards hold no __init__.py and must
# never shadow the real packages, and `tests.*` helpers must import either way.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT in sys.path:
    sys.path.remove(_ROOT)
sys.path.insert(0, _ROOT)

PG_ADMIN_URL = os.environ.get(
    "QSRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_pg_state: dict[str, str | None] = {}


def _postgres_unavailable() -> str | None:
    """None if the server answers, else why not (cached for the session)."""
    if "reason" not in _pg_state:
        try:
            engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            _pg_state["reason"] = None
        except Exception as exc:  # noqa: BLE001
            _pg_state["reason"] = f"PostgreSQL at {PG_ADMIN_URL} did not answer: {exc}"
    return _pg_state["reason"]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a brand-new PostgreSQL database, dropped after the test."""
    reason = _postgres_unavailable()
    if reason:
        pytest.skip(f"SKIPPED LOUDLY: {reason}")
    from bench.fill import new_database  # the benches' fresh database, the same way

    with new_database(PG_ADMIN_URL, prefix="qsre_t") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'qsre.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request) -> str:
    """Parametrised: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url):
    from collector.store import Store

    s = Store(store_url)
    yield s
    s.close()


@pytest.fixture
def recorder(store, tmp_path):
    """A spool recorder of this test's own (flushing it never touches other tests' stores)."""
    from collector.recorder import SpoolRecorder

    rec = SpoolRecorder(store, tmp_path / "spool")
    yield rec
    rec.close()


@pytest.fixture
def t0() -> datetime:
    return datetime(2026, 11, 16, tzinfo=UTC)


# ------------------------------------------------------------------ the demo week
DEMO_WEEK_DAYS = 7


@dataclass(frozen=True)
class DemoWeek:
    demo: Any
    out: Path
    paths: dict[str, str]
    run_seconds: float


@pytest.fixture(scope="session")
def demo_week(tmp_path_factory: pytest.TempPathFactory) -> DemoWeek:
    """The simulated demo week, run once per test session (about 90 s) and shared by
    every test that reads it: tests/e2e, and the report's browser tests. Defined here
    so that one session running both simulates it once."""
    from qsre.demo import DemoRun

    out = tmp_path_factory.mktemp("demo-week")
    started = time.monotonic()
    demo = DemoRun(out, days=DEMO_WEEK_DAYS)
    demo.run()
    demo.finish()
    paths = demo.write_outputs()
    return DemoWeek(demo, out, paths, time.monotonic() - started)
