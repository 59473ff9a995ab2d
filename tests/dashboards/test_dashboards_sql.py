"""Every SQL panel and annotation runs against a real PostgreSQL store holding the demo
world's jobs and validation runs, with Grafana's macros expanded as Grafana does
(dashboards.sql_macros), and returns rows.

The demo (qsre.demo.DemoRun) records into SQLite only, so its rows are copied table by
table into a fresh PostgreSQL database (the store's own migrations create the tables).
The demo runs until day 2, 10:00: past the network blips on sim-firmware (day 2, from
09:00), so there are failed jobs.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from collector.schema import JobResultRow, JobRow
from collector.store import Store
from dashboards import build_dashboards, expand_macros, sql_queries
from qsre.demo import DEMO_START, DemoRun
from validators.store import ValidationStore, validation_runs

pytestmark = pytest.mark.postgres

PG_ADMIN_URL = os.environ.get(
    "QSRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DEMO_DAYS = 1 + 10 / 24
ALL = {"backend": ".*"}
drop_role: list[str] = []
DOC = Path(__file__).resolve().parents[2] / "docs" / "grafana-postgres.md"


@dataclass(frozen=True)
class DemoStore:
    url: str
    database: str
    time_from: datetime
    time_to: datetime
    copied: dict[str, int]


def _copy(source: Any, target: Any, table: Any) -> int:
    # Serial keys (jobs.seq, validation_runs.id) are left to PostgreSQL's sequences.
    columns = [c for c in table.columns if c.autoincrement is not True]
    with source.connect() as src:
        rows = [dict(r) for r in src.execute(select(*columns)).mappings()]
    if rows:
        with target.begin() as dst:
            dst.execute(table.insert(), rows)
    return len(rows)


@pytest.fixture(scope="module")
def demo_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStore]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"SKIPPED LOUDLY: PostgreSQL at {PG_ADMIN_URL} did not answer: {exc}")
    demo = DemoRun(Path(tmp_path_factory.mktemp("demo")) / "out", days=DEMO_DAYS)
    demo.run()
    demo.finish()
    name = f"qsre_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    pg = Store(url)
    try:
        vstore = ValidationStore(pg)
        copied = {
            t.name: _copy(demo.store.engine, pg.engine, t)
            for t in (JobRow.__table__, JobResultRow.__table__, validation_runs)
        }
        # The demo world never changes software versions (one process, one qiskit).
        # Record what a firmware update looks like: the last suite run of sim-firmware
        # again an hour later, with the provider's backend_version moved on.
        last = ValidationStore(demo.store).latest_run("sim-firmware")
        assert last, "the demo recorded no validation run on sim-firmware"
        bumped_at = max(r.ran_at for r in last) + timedelta(hours=1)
        run_id = str(uuid.uuid4())
        vstore.insert_runs(
            [
                replace(
                    r,
                    id=None,
                    run_id=run_id,
                    ran_at=bumped_at,
                    versions={
                        **r.versions,
                        "provider": {**r.versions["provider"], "backend_version": "1.1"},
                    },
                )
                for r in last
            ]
        )
        yield DemoStore(url, name, DEMO_START, bumped_at + timedelta(minutes=5), copied)
    finally:
        pg.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def pg_dashboards() -> dict[str, dict[str, Any]]:
    return build_dashboards(
        [],
        postgres_datasource_uid="qsre-store",
        trace_url_template="https://jaeger.example/trace/{trace_id}",
    )


def _run(
    demo_pg: DemoStore, sql: str, variables: dict[str, str] = ALL, *, url: str | None = None
) -> list[dict]:
    expanded = expand_macros(
        sql, time_from=demo_pg.time_from, time_to=demo_pg.time_to, variables=variables
    )
    engine = create_engine(url or demo_pg.url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(expanded)).mappings()]
    finally:
        engine.dispose()


def test_every_sql_panel_returns_rows(demo_pg, pg_dashboards):
    assert demo_pg.copied["jobs"] > 500 and demo_pg.copied["validation_runs"] > 100
    found = {
        (name, title): sql
        for name, dash in pg_dashboards.items()
        for title, sql in sql_queries(dash)
    }
    assert set(found) == {
        ("oncall.json", "Failing jobs"),
        ("oncall.json", "Top failing circuits (jobs)"),
        ("debug.json", "Problem jobs (failed, retried, slower than p95)"),
        ("debug.json", "Network and client overhead per backend (p95 of e2e - queue - run)"),
        ("debug.json", "Version changes"),
    }
    counts = {key: len(_run(demo_pg, sql)) for key, sql in found.items()}
    assert all(counts.values()), counts


def test_failing_jobs_are_the_stores_failed_jobs(demo_pg, pg_dashboards):
    (sql,) = [s for t, s in sql_queries(pg_dashboards["oncall.json"]) if t == "Failing jobs"]
    rows = _run(demo_pg, sql)
    expected = _run(
        demo_pg,
        "SELECT id FROM jobs WHERE status IN ('error', 'unknown') "
        "AND finished_at BETWEEN $__timeFrom() AND $__timeTo() ORDER BY finished_at DESC",
    )
    assert [r["job_id"] for r in rows] == [r["id"] for r in expected][:200]
    assert {"time", "job_id", "backend", "error_class", "trace_id"} <= set(rows[0])
    # One backend picked in Grafana: ${backend:regex} is the escaped name.
    firmware = _run(demo_pg, sql, {"backend": r"sim\-firmware"})
    assert firmware and {r["backend"] for r in firmware} == {"sim-firmware"}
    assert _run(demo_pg, sql, {"backend": r"sim\-stable"}) == [
        r for r in rows if r["backend"] == "sim-stable"
    ]


def test_client_overhead_is_e2e_minus_queue_and_run(demo_pg, pg_dashboards):
    (sql,) = [s for t, s in sql_queries(pg_dashboards["debug.json"]) if t.startswith("Network")]
    rows = _run(demo_pg, sql)
    assert rows and set(rows[0]) == {"time", "metric", "value"}
    assert {r["metric"] for r in rows} >= {"sim-stable", "sim-firmware"}
    assert all(r["value"] >= 0 for r in rows)
    # Against a direct query: the largest overhead of any job bounds every p95.
    (top,) = _run(
        demo_pg,
        "SELECT max(e2e_seconds - coalesce(queue_seconds, 0) - coalesce(run_seconds, 0)) "
        "AS m FROM jobs WHERE $__timeFilter(finished_at)",
    )
    assert max(r["value"] for r in rows) <= top["m"] + 1e-9


def test_top_failing_circuits_count_failed_jobs_per_circuit(demo_pg, pg_dashboards):
    (sql,) = [
        s for t, s in sql_queries(pg_dashboards["oncall.json"]) if t.startswith("Top failing")
    ]
    rows = _run(demo_pg, sql)
    assert 0 < len(rows) <= 10
    top = rows[0]
    direct = _run(
        demo_pg,
        "SELECT count(*) AS n FROM jobs WHERE status IN ('error', 'unknown') "
        f"AND backend = '{top['backend']}' AND circuit_hash = '{top['circuit_hash']}' "
        "AND $__timeFilter(submitted_at)",
    )
    assert top["failed_jobs"] == direct[0]["n"]
    assert [r["failed_jobs"] for r in rows] == sorted(
        (r["failed_jobs"] for r in rows), reverse=True
    )


def test_version_change_annotation_names_the_change(demo_pg, pg_dashboards):
    annotation = next(
        a
        for a in pg_dashboards["debug.json"]["annotations"]["list"]
        if a["name"] == "Version changes"
    )
    rows = _run(demo_pg, annotation["target"]["rawSql"])
    assert [(r["tags"], r["text"]) for r in rows] == [
        ("sim-firmware", "sim-firmware: backend_version None → 1.1")
    ]


@pytest.fixture(scope="module")
def grafana_role(demo_pg: DemoStore) -> Iterator[str]:
    """The read-only role of docs/grafana-postgres.md, created by running its SQL block
    as written (role and database renamed for this test); yields its store URL."""
    (block,) = re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S)
    role = f"qsre_grafana_{uuid.uuid4().hex[:8]}"
    sql = block.replace("qsre_grafana", role).replace(
        "DATABASE qsre ", f'DATABASE "{demo_pg.database}" '
    )
    admin = create_engine(demo_pg.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in filter(str.strip, sql.split(";")):
            conn.execute(text(statement))
    admin.dispose()
    url = make_url(demo_pg.url).set(username=role, password="change-me")
    # Dropped by _drop_roles once demo_pg has dropped the database holding its grants.
    drop_role.append(role)
    yield url.render_as_string(hide_password=False)


@pytest.fixture(scope="module", autouse=True)
def _drop_roles() -> Iterator[None]:
    yield
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for role in drop_role:
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


def test_the_documented_read_only_role_runs_every_panel_and_writes_nothing(
    demo_pg, pg_dashboards, grafana_role
):
    for dash in pg_dashboards.values():
        for title, sql in sql_queries(dash):
            assert _run(demo_pg, sql, url=grafana_role), title
    engine = create_engine(grafana_role)
    try:
        with engine.connect() as conn:
            with pytest.raises(DBAPIError, match="read-only transaction"):
                conn.execute(text("UPDATE jobs SET status = 'done'"))
            conn.rollback()
            with pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text("SELECT * FROM qsre_leases"))
    finally:
        engine.dispose()
