"""`qsre store copy`: a store filled by the real components moves from SQLite to
PostgreSQL and back without losing or changing a row, and keeps working there."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator
from sqlalchemy import text
from typer.testing import CliRunner

from collector import ExecutionProxy
from collector.clock import VirtualClock
from collector.recorder import SpoolRecorder
from collector.store import Store
from qsre.cli import app as qsre_app
from qsre.cli_store_copy import store_copy
from qsre.config import EMBEDDED_DEFAULT
from qsre.sim.config import build_sim_backend
from qsre.store_copy import StoreCopyError, copy_store, table_checksums
from slo.alert_state import AlertStateStore
from slo.alerts import make_alert
from slo.engine import SLOEngine
from slo.notify.console import ConsoleNotifier
from slo.route_config import RoutingConfig
from slo.routing import Router
from slo.spec import parse_slos
from validators.runner import run_validation

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
AT = "2026-11-16T09:40:00+00:00"
CFG = str(EMBEDDED_DEFAULT)
runner = CliRunner()


def _bell() -> QuantumCircuit:
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    return qc


def fill(url: str, spool: Path) -> None:
    """What a day of a small installation leaves in a store: workload jobs with counts
    (one failing), a validation run with detector state and calibration snapshots,
    SLO rollups, an alert routed to a receiver (state, notification log, delivery
    ledger) and a silence."""
    clock = VirtualClock(T0)
    store = Store(url)
    rec = SpoolRecorder(store, spool)
    proxy = ExecutionProxy(
        AerSimulator(), store=store, recorder=rec, project="chem", tags={"team": "q"}, clock=clock
    )
    for shots in (100, 200, 300, 400):
        proxy.run(_bell(), shots=shots).result()
        clock.advance(90)
    with pytest.raises(Exception):  # noqa: B017 - any rejection; the job is recorded
        proxy.run(_bell(), shots=0).result()
    sim = build_sim_backend({"name": "sim-stable", "seed": 11}, clock, T0)
    run_validation(
        sim,
        store=store,
        suite={"circuits": ["bell", "ghz"], "shots": 500},
        clock=clock,
        recorder=rec,
    )
    assert rec.flush(30)
    rec.close()
    clock.advance(600)
    slos = parse_slos(
        [
            {"name": "jobs", "objective": 0.99, "sli": {"kind": "job_success"}, "window": "30d"},
            {"name": "fidelity", "objective": 0.9, "sli": {"kind": "fidelity"}, "window": "30d"},
        ],
        "test",
    )
    SLOEngine(store, slos, clock=clock).evaluate(clock.now())
    router = Router(
        RoutingConfig(group_wait_s=0),
        [ConsoleNotifier("console", stream=io.StringIO())],
        state=AlertStateStore(store),
        clock=clock,
    )
    alert = make_alert(
        "slo_burn_page", labels={"slo": "jobs"}, summary="jobs burning", runbook_url="x"
    )
    router.process([alert], source="slo")
    router.flush()
    router.add_silence(
        {"backend": "sim-stable"},
        ends_at=clock.now() + timedelta(hours=2),
        created_by="oncall",
        comment="recalibration",
    )
    store.close()


def cli(*args: str) -> str:
    result = runner.invoke(qsre_app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def answers(url: str) -> tuple[object, object, object]:
    """What users read from a store: SLO status, the job list, one job's counts."""
    slo = json.loads(cli("slo", "status", "-c", CFG, "--db", url, "--at", AT, "--json"))
    jobs = json.loads(cli("jobs", "-c", CFG, "--db", url, "--json", "--limit", "100"))
    store = Store(url, migrate_on_open=False)
    try:
        counts = {j.id: store.counts(j.id) for j in store.jobs()}
    finally:
        store.close()
    return slo, jobs, counts


@pytest.fixture
def filled(sqlite_url, tmp_path) -> str:
    fill(sqlite_url, tmp_path / "spool")
    return sqlite_url


def test_sqlite_to_postgresql_and_back_keeps_every_row(filled, pg_url, tmp_path) -> None:
    before = table_checksums(filled)
    # Every kind of state a store holds is there to be copied.
    for table in (
        "jobs",
        "job_results",
        "backends",
        "calibration_snapshots",
        "validation_runs",
        "validation_state",
        "slo_rollup_sources",
        "slo_rollup_series",
        "slo_rollup_hours",
        "slo_alerts",
        "slo_alert_groups",
        "slo_alert_receivers",
        "slo_silences",
        "slo_notification_log",
        "slo_delivery_attempts",
    ):
        assert before[table][0] > 0, f"the fill left {table} empty"

    report = copy_store(filled, pg_url)
    assert report.verified
    assert {t.name: (t.rows, t.source_sha256) for t in report.tables} == before
    assert table_checksums(pg_url) == before

    back = f"sqlite:///{tmp_path / 'back.db'}"
    assert copy_store(pg_url, back).verified
    assert table_checksums(back) == before

    reference = answers(filled)
    assert answers(pg_url) == reference
    assert answers(back) == reference
    slo = reference[0]
    assert slo["job-success"]["total"] >= 4, slo  # the answer compared counts the jobs
    assert slo["fidelity"]["total"] > 0, slo  # and the validation runs


def test_a_job_recorded_on_the_target_gets_a_fresh_seq(filled, pg_url, tmp_path) -> None:
    copy_store(filled, pg_url)
    store = Store(pg_url)
    top = max(j.seq for j in store.jobs())
    rec = SpoolRecorder(store, tmp_path / "spool-target")
    proxy = ExecutionProxy(AerSimulator(), store=store, recorder=rec, project="after")
    proxy.run(_bell(), shots=10).result()
    assert rec.flush(30)
    rec.close()
    newest = store.jobs(project="after")
    assert len(newest) == 1 and newest[0].seq == top + 1
    # The ledger and the notification log go on from their copied ids too.
    with store.engine.begin() as conn:
        for table in ("slo_notification_log", "slo_delivery_attempts", "validation_runs"):
            nxt = conn.execute(
                text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")
            ).scalar_one()
            top_id = conn.execute(text(f"SELECT max(id) FROM {table}")).scalar_one()
            assert nxt == top_id + 1, table
    store.close()


def test_a_target_holding_rows_is_refused_and_left_alone(filled, tmp_path) -> None:
    target = f"sqlite:///{tmp_path / 'busy.db'}"
    fill(target, tmp_path / "spool-busy")
    before = table_checksums(target)
    with pytest.raises(StoreCopyError, match=r"no qsre rows yet.*not empty: .*jobs \(5 rows\)"):
        copy_store(filled, target)
    assert table_checksums(target) == before


def test_sql_null_and_json_null_stay_distinct(sqlite_url, pg_url) -> None:
    store = Store(sqlite_url)
    store.upsert_jobs(
        [
            {"id": "a", "backend": "b", "submitted_at": T0, "status": "done", "details": None},
            {"id": "b", "backend": "b", "submitted_at": T0, "status": "done", "details": {}},
        ]
    )
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE jobs SET details = NULL WHERE id = 'a'")
        conn.exec_driver_sql("UPDATE jobs SET details = 'null' WHERE id = 'b'")
    store.close()
    copy_store(sqlite_url, pg_url)
    target = Store(pg_url, migrate_on_open=False)
    with target.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, details::text FROM jobs")).all())
    target.close()
    assert rows == {"a": None, "b": "null"}


def test_missing_source_and_same_store_are_errors(sqlite_url, tmp_path) -> None:
    with pytest.raises(StoreCopyError, match="does not exist"):
        copy_store(f"sqlite:///{tmp_path / 'nope.db'}", sqlite_url)
    Store(sqlite_url).close()
    with pytest.raises(StoreCopyError, match="same store"):
        copy_store(sqlite_url, sqlite_url)


def test_command_prints_a_json_summary(filled, tmp_path) -> None:
    app = typer.Typer()
    app.command()(store_copy)
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    result = runner.invoke(app, ["--from", filled, "--to", target, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["verified"] is True
    assert summary["tables"]["jobs"]["rows"] == 5
    assert summary["tables"]["jobs"]["sha256"] == summary["tables"]["jobs"]["target_sha256"]
    again = runner.invoke(app, ["--db", filled, "--to", target])
    assert again.exit_code != 0
    assert "not empty" in str(again.exception)


def test_the_source_is_read_in_one_snapshot(filled, tmp_path) -> None:
    """A job recorded on the source while the copy runs is in neither the copy nor
    its checksums: every table is read as of the copy's start."""
    writer = Store(filled, migrate_on_open=False)
    late = {"id": "late", "backend": "b", "submitted_at": T0, "status": "done"}
    calls: list[str] = []

    def record_once(table: str, done: int, total: int) -> None:
        if not calls:
            writer.upsert_jobs([late])
        calls.append(table)

    target = f"sqlite:///{tmp_path / 'snap.db'}"
    report = copy_store(filled, target, progress=record_once)
    writer.close()
    assert calls[0] != "jobs"  # the job was written before the jobs table was read
    assert report.verified
    assert {t.name: t.rows for t in report.tables}["jobs"] == 5
    copied = Store(target, migrate_on_open=False)
    assert copied.job("late") is None and copied.count_jobs() == 5
    copied.close()
