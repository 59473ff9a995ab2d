"""The qsre CLI on a real store: listing commands, --json, silences, init, doctor."""

from __future__ import annotations

import json

import pytest
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator
from typer.testing import CliRunner

from collector import ExecutionProxy
from collector.recorder import SpoolRecorder
from qsre.cli import app
from qsre.config import EMBEDDED_DEFAULT

runner = CliRunner()
CFG = str(EMBEDDED_DEFAULT)


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    return result


@pytest.fixture
def recorded_store(store, tmp_path):
    rec = SpoolRecorder(store, tmp_path / "spool")
    proxy = ExecutionProxy(AerSimulator(), store=store, recorder=rec, project="chem")
    qc = QuantumCircuit(1, 1)
    qc.x(0)
    qc.measure(0, 0)
    for shots in (10, 20, 30):
        proxy.run(qc, shots=shots).result()
    rec.close()
    return store


def test_jobs_json_lists_recorded_fields(recorded_store):
    result = invoke("jobs", "--db", recorded_store.url, "--json", "--limit", "2")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 2
    keys = {
        "id",
        "provider_job_id",
        "backend",
        "project",
        "status",
        "error_class",
        "shots",
        "submitted_at",
        "finished_at",
        "queue_seconds",
        "run_seconds",
        "e2e_seconds",
        "cost_usd",
        "attempts",
    }
    assert keys <= set(rows[0])
    assert [r["shots"] for r in rows] == [30, 20]
    assert all(r["status"] == "done" and r["project"] == "chem" for r in rows)


def test_jobs_table_and_filters(recorded_store):
    result = invoke("jobs", "--db", recorded_store.url, "--status", "error")
    assert result.exit_code == 0 and "no jobs match these filters" in result.output
    bad = invoke("jobs", "--db", recorded_store.url, "--status", "exploded")
    assert (
        bad.exit_code != 0
        and "queued|running|done" in bad.output.replace(", ", "|").replace("\n", "")
        or "expected one of" in bad.output
    )


def test_silence_add_list_expire(store):
    added = invoke(
        "silence",
        "add",
        "--db",
        store.url,
        "--match",
        "kind=auth_failure",
        "--match",
        "backend=~sim-.*",
        "--duration",
        "1h",
        "--comment",
        "token rotation",
        "--json",
    )
    assert added.exit_code == 0, added.output
    sid = json.loads(added.output)["id"]
    listed = json.loads(invoke("silence", "list", "--db", store.url, "--json").output)
    assert [s["id"] for s in listed] == [sid]
    assert listed[0]["comment"] == "token rotation"
    assert invoke("silence", "expire", sid, "--db", store.url).exit_code == 0
    assert json.loads(invoke("silence", "list", "--db", store.url, "--json").output) == []
    bad = invoke("silence", "add", "--db", store.url, "--match", "no-operator")
    assert bad.exit_code != 0


def test_slo_status_and_alerts_json(recorded_store):
    result = invoke("slo", "status", "-c", CFG, "--db", recorded_store.url, "--json")
    assert result.exit_code == 0, result.output
    statuses = json.loads(result.output)  # keyed by SLO name (issue 13)
    assert set(statuses) >= {"job-success", "queue-latency"}
    assert all(s["name"] == name for name, s in statuses.items())
    alerts = json.loads(invoke("alerts", "--db", recorded_store.url, "--json").output)
    assert alerts == {"active": [], "recent_notifications": []}


def test_init_writes_example_and_refuses_overwrite(tmp_path):
    target = tmp_path / "qsre.yaml"
    assert invoke("init", str(target)).exit_code == 0
    assert "backends:" in target.read_text() and "slos:" in target.read_text()
    again = invoke("init", str(target))
    assert again.exit_code != 0 and "--force" in again.output


def test_rules_and_dashboards_build(tmp_path):
    assert invoke("rules", "build", "-c", CFG, "--out", str(tmp_path / "rules")).exit_code == 0
    assert (tmp_path / "rules" / "qsre-slo-rules.yaml").exists()
    out = invoke("dashboards", "build", "-c", CFG, "--out", str(tmp_path / "dash"))
    assert out.exit_code == 0, out.output
    names = {p.name for p in (tmp_path / "dash").iterdir()}
    assert {"executive.json", "oncall.json", "debug.json"} <= names


def test_runbook_show_and_list():
    shown = invoke("runbook", "show", "auth_failure")
    assert shown.exit_code == 0 and "Symptoms" in shown.output
    kinds = {r["kind"] for r in json.loads(invoke("runbook", "list", "--json").output)}
    assert {"auth_failure", "calibration_drift", "slo_burn_page"} <= kinds


def test_doctor_checks_env_vars_without_printing_them(tmp_path, monkeypatch):
    cfg = tmp_path / "qsre.yaml"
    text = EMBEDDED_DEFAULT.read_text().replace(
        "  receivers:\n    - name: console\n      type: console\n",
        "  receivers:\n    - name: console\n      type: console\n    - name: pd\n      type: pagerduty\n      routing_key_env: QSRE_TEST_PD_KEY\n",
    )
    cfg.write_text(text)
    db = f"sqlite:///{tmp_path / 'd.db'}"
    monkeypatch.delenv("QSRE_TEST_PD_KEY", raising=False)
    missing = invoke("doctor", "-c", str(cfg), "--db", db, "--json")
    assert missing.exit_code == 1
    checks = {c["name"]: c for c in json.loads(missing.stdout)}
    assert "1 failing: receiver pd" in missing.stderr
    assert checks["receiver pd"]["ok"] is False and checks["store"]["ok"] is True
    monkeypatch.setenv("QSRE_TEST_PD_KEY", "s3cr3t-routing-key")
    ok = invoke("doctor", "-c", str(cfg), "--db", db, "--json")
    assert ok.exit_code == 0, ok.output
    assert "s3cr3t-routing-key" not in ok.output


def test_jobs_json_is_valid_json_even_with_a_stored_infinity(store):
    # A row written before durations were checked (or by another writer) with
    # run_seconds = inf: the output stays JSON (null), never a bare Infinity.
    store.upsert_jobs(
        [
            {
                "id": "inf-row",
                "backend": "ionq_qpu",
                "status": "done",
                "submitted_at": "2026-12-06T10:00:00+00:00",
                "finished_at": "2026-12-06T10:00:05+00:00",
                "run_seconds": float("inf"),
                "queue_seconds": float("nan"),
            }
        ]
    )
    result = invoke("jobs", "--db", store.url, "--json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert row["run_seconds"] is None and row["queue_seconds"] is None


def test_jobs_show_prints_the_trace_and_its_link(sqlite_url, tmp_path):
    """A job recorded with spans has a trace id; with links.trace_url_template set,
    `jobs show` prints the URL of that trace."""
    from datetime import UTC, datetime

    import yaml

    from collector.store import Store

    store = Store(sqlite_url)
    at = datetime(2026, 11, 16, tzinfo=UTC)
    store.upsert_jobs(
        [
            {
                "id": "5f0e8a2c-1b2d-4c3e-9f00-000000000007",
                "backend": "aer",
                "project": "p",
                "status": "done",
                "submitted_at": at,
                "finished_at": at,
                "trace_id": "5f0e8a2c1b2d4c3e9f00000000000007",
            }
        ]
    )
    data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    data["links"]["trace_url_template"] = "http://127.0.0.1:16686/trace/{trace_id}"
    cfg = tmp_path / "qsre.yaml"
    cfg.write_text(yaml.safe_dump(data))
    shown = invoke("jobs", "show", "5f0e8a2c.7", "-c", str(cfg), "--db", sqlite_url)
    assert shown.exit_code == 0, shown.output
    assert "5f0e8a2c1b2d4c3e9f00000000000007" in shown.output
    assert "http://127.0.0.1:16686/trace/5f0e8a2c1b2d4c3e9f00000000000007" in shown.output


@pytest.mark.parametrize(
    ("url", "sql_panels"),
    [("postgresql+psycopg://u@127.0.0.1/db", True), ("sqlite:///q.db", False)],
)
def test_dashboard_options_add_store_tables_only_on_postgresql(url, sql_panels):
    from qsre.config import load_config
    from qsre.wiring import dashboard_options

    options = dashboard_options(load_config(EMBEDDED_DEFAULT), url)
    assert (options["postgres_datasource_uid"] is not None) == sql_panels
    assert options["datasource_uid"] == "prometheus"
