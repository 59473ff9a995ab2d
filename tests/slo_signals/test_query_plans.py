"""Speed without wall-clock asserts: every statement evaluate_signals runs on SQLite
is an index search over a short range, never a scan of jobs or validation_runs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from collector.store import Store
from slo.signal_config import SignalConfig

from .conftest import evaluate, healthy_stream, job, suite_run, validation_table, write_runs


def test_every_statement_searches_an_index(sqlite_url, t0) -> None:
    store = Store(sqlite_url)
    jobs = healthy_stream(t0 - timedelta(days=8), t0, seed=2, projects=("chem", "fin"))
    jobs += [job("sim-a", t0 - timedelta(minutes=1), status="error", error_class="auth")]
    store.upsert_jobs(jobs)
    validation_table(store)
    rows = []
    for k in range(48):
        for backend in ("sim-a", "sim-b"):
            rows += suite_run(backend, t0 - timedelta(days=2) + k * timedelta(hours=1))
    write_runs(store, rows)

    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    # Big spenders everywhere so the billing baseline is read as well.
    config = SignalConfig.from_mapping({"billing_spike": {"min_usd": 0}})
    alerts = evaluate(store, t0, config)
    event.remove(store.engine, "before_cursor_execute", capture)
    assert [a.labels["kind"] for a in alerts] == ["auth_failure"]

    tables_read = set()
    raw = store.engine.raw_connection()
    try:
        # The check can fail: an unindexed filter is reported as a SCAN.
        (*_, unindexed), *_ = raw.cursor().execute(
            "EXPLAIN QUERY PLAN SELECT sum(cost_usd) FROM jobs WHERE shots > 10"
        )
        assert unindexed.startswith("SCAN jobs")
        for statement, parameters in statements:
            plan = raw.cursor().execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            for *_, detail in plan:
                for name in ("jobs", "validation_runs"):
                    if f" {name} " in f" {detail} " or detail.endswith(f" {name}"):
                        tables_read.add(name)
                        assert detail.startswith("SEARCH"), (detail, statement)
    finally:
        raw.close()
    assert tables_read == {"jobs", "validation_runs"}
    store.close()
