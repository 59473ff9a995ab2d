"""calibration_drift / simulator_divergence from validation_runs (read by table name)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from slo.signal_config import SignalConfig

from .conftest import RUNBOOKS, evaluate, kinds, suite_run, validation_table, write_runs

HOUR = timedelta(hours=1)


def write(store, table, rows) -> None:
    write_runs(store, rows)


def test_no_validation_table_means_no_validation_alerts(store, t0) -> None:
    assert evaluate(store, t0) == []
    # validators may create the table later: it is picked up within a minute.
    table = validation_table(store)
    write(store, table, suite_run("sim-d", t0, drift=["ghz5"]))
    assert kinds(evaluate(store, t0 + timedelta(minutes=2))) == [("calibration_drift", "sim-d")]


def test_drift_fires_while_latest_evaluated_run_drifts(store, t0, vtable) -> None:
    rows = []
    rows += suite_run("sim-d", t0)
    rows += suite_run("sim-d", t0 + HOUR, drift=["ghz5", "qft3"])
    rows += suite_run("sim-d", t0 + 2 * HOUR, failed=True)  # outage: every job failed
    rows += suite_run("sim-d", t0 + 3 * HOUR, drift=["ghz5"])
    rows += suite_run("sim-d", t0 + 4 * HOUR)  # recalibrated: clean again
    rows += suite_run("sim-s", t0 + HOUR)  # a stable backend next to it
    write(store, vtable, rows)

    assert evaluate(store, t0 + 30 * timedelta(minutes=1)) == []
    alerts = evaluate(store, t0 + HOUR)
    assert kinds(alerts) == [("calibration_drift", "sim-d")]
    (alert,) = alerts
    assert dict(alert.labels) == {
        "alertname": "QsreCalibrationDrift",
        "kind": "calibration_drift",
        "severity": "ticket",
        "backend": "sim-d",
    }
    assert alert.annotations["circuits"] == "ghz5, qft3"
    assert "ghz5: CUSUM 9.500 > 6.000, fidelity 0.900" in alert.annotations["description"]
    assert alert.annotations["runbook_url"] == f"{RUNBOOKS}calibration_drift.md"
    # A run of failed jobs says nothing: the finding stays (no resolve + re-page).
    assert kinds(evaluate(store, t0 + 2 * HOUR + timedelta(minutes=5))) == [
        ("calibration_drift", "sim-d")
    ]
    still = evaluate(store, t0 + 3 * HOUR)
    assert still[0].annotations["circuits"] == "ghz5"
    assert evaluate(store, t0 + 4 * HOUR) == []


def test_divergence_fires_with_evidence_and_severity_override(store, t0, vtable) -> None:
    write(store, vtable, suite_run("sim-f", t0, diverged=["mirror4"], drift=["bell"]))
    alerts = evaluate(store, t0 + timedelta(minutes=1))
    assert kinds(alerts) == [("calibration_drift", "sim-f"), ("simulator_divergence", "sim-f")]
    div = next(a for a in alerts if a.labels["kind"] == "simulator_divergence")
    assert div.labels["alertname"] == "QsreSimulatorDivergence"
    assert set(div.labels) == {"alertname", "kind", "severity", "backend"}
    assert "mirror4: TVD vs noisy prediction 0.120, p=1e-09" in div.annotations["description"]
    assert div.annotations["summary"].endswith("1 circuit(s) (mirror4)")

    page = SignalConfig.from_mapping(
        {"simulator_divergence": {"severity": "page"}, "calibration_drift": {"enabled": False}}
    )
    (paged,) = evaluate(store, t0 + timedelta(minutes=1), page)
    assert paged.labels["severity"] == "page"


def test_stale_and_future_runs_are_ignored(store, t0, vtable) -> None:
    write(store, vtable, suite_run("sim-d", t0, drift=["bell"]))
    write(store, vtable, suite_run("sim-x", t0 + 2 * HOUR, diverged=["bell"]))
    # sim-x's run has not happened yet at t0 + 1 h.
    assert kinds(evaluate(store, t0 + HOUR)) == [("calibration_drift", "sim-d")]
    # Three days without a new run: validation stopped, the old finding no longer fires.
    assert kinds(evaluate(store, t0 + timedelta(days=3, hours=2, seconds=1))) == []
    longer = SignalConfig.from_mapping(
        {"calibration_drift": {"max_age_s": "7d"}, "simulator_divergence": {"enabled": False}}
    )
    assert kinds(evaluate(store, t0 + timedelta(days=3, hours=2, seconds=1), longer)) == [
        ("calibration_drift", "sim-d")
    ]


@pytest.mark.parametrize("backends", [1, 20])
def test_latest_run_per_backend_among_many(store, t0, vtable, backends) -> None:
    names = [f"qpu-{i:02d}" for i in range(backends)]
    rows = []
    for hour in range(24):
        for i, name in enumerate(names):
            flagged = ["ghz3"] if (i % 3 == 0 and hour == 23) else []
            rows += suite_run(name, t0 + hour * HOUR, diverged=flagged)
    write(store, vtable, rows)
    fired = kinds(evaluate(store, t0 + 23 * HOUR + timedelta(minutes=1)))
    assert fired == [("simulator_divergence", n) for n in names[::3]]


def test_finding_survives_a_long_run_of_failed_validations(store, t0, vtable) -> None:
    rows = suite_run("sim-d", t0, drift=["qft3"])
    for k in range(1, 13):  # 12 failed runs, 60 rows, newer than the finding
        rows += suite_run("sim-d", t0 + k * 10 * timedelta(minutes=1), failed=True)
    write(store, vtable, rows)
    now = t0 + 2 * HOUR + timedelta(minutes=1)
    assert kinds(evaluate(store, now)) == [("calibration_drift", "sim-d")]
    # The search is bounded: with only 40 rows searched, no evaluated run is found.
    short = SignalConfig.from_mapping(
        {"calibration_drift": {"scan_rows": 40}, "simulator_divergence": {"scan_rows": 40}}
    )
    assert kinds(evaluate(store, now, short)) == []
