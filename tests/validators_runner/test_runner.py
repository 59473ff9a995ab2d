"""End to end: reference suite through the proxy on simulated backends, into the store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from qiskit_aer import AerSimulator
from sqlalchemy import func, select

from collector.store import Store
from validators import runner as runner_mod
from validators.runner import ValidationRunner, run_validation
from validators.store import ValidationStore, validation_runs

SMALL_SUITE = {"circuits": ["bell", "ghz", "readout_1"], "shots": 1000}


def _hourly(runner, backends, clock, hours):
    reports = {b.name: [] for b in backends}
    for _ in range(hours):
        for b in backends:
            reports[b.name].append(runner.run(b))
        clock.advance(3600)
    return reports


@pytest.mark.slow
def test_stable_ok_firmware_diverged_drift_detected(
    store, recorder, world, clock, drift_config, fault_at_h
):
    vstore = ValidationStore(store)
    runner = ValidationRunner(vstore, clock=clock, drift_config=drift_config, recorder=recorder)
    hours = 20
    reports = _hourly(runner, list(world.values()), clock, hours)

    stable = reports["sim-stable"]
    assert all(r.verdict not in ("drift", "diverged", "error") for r in stable)
    assert sum(r.verdict == "ok" for r in stable) >= hours - 2
    assert all(row.fidelity is not None and row.fidelity > 0.5 for r in stable for row in r.rows)
    assert all(r.row("bell").fidelity > 0.9 for r in stable)

    # The fault starts at fault_at_h:30, so run index fault_at_h + 1 is the first after it.
    first_after = fault_at_h + 1
    firmware = reports["sim-firmware"]
    assert all(r.verdict != "diverged" for r in firmware[:first_after])
    assert "diverged" in {r.verdict for r in firmware[first_after : first_after + 2]}
    late = firmware[-1]
    diverged_rows = [row for row in late.rows if row.diverged]
    assert diverged_rows and all(row.divergence_tvd > 0.03 for row in diverged_rows)
    assert {row.circuit for row in diverged_rows} <= {"mirror", "qv"}  # >= 4 CX circuits
    assert "simulator divergence" in late.likely_cause

    drifting = reports["sim-drifting"]
    assert all(r.verdict in ("ok", "warn", "not_evaluated") for r in drifting[:first_after])
    onset = next(i for i, r in enumerate(drifting) if r.verdict == "drift")
    assert first_after <= onset <= first_after + 3
    assert all(r.diverged is not True for r in drifting)
    drift_row = next(row for row in drifting[onset].rows if row.drift)
    assert (
        drift_row.drift_statistic > drift_row.drift_threshold
        or drift_row.evidence["drift_backend"]["cusum"]
        > drift_row.evidence["drift_backend"]["threshold"]
    )
    assert drifting[onset].likely_cause == "calibration drift"
    # The reported recalibration moved the predictions; the evidence says by how much.
    assert any(row.evidence.get("reported_change_tvd", 0) > 0.01 for row in drifting[onset].rows)

    # Persisted: one row per circuit per run, one validation job per suite run (the
    # default jobs="per_suite"), which every row of that run names.
    n_rows = sum(len(r.rows) for rs in reports.values() for r in rs)
    with vstore.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(validation_runs)).scalar() == n_rows
    assert recorder.flush(30)
    assert store.count_jobs(purpose="validation") == sum(len(rs) for rs in reports.values())
    assert len({row.job_id for row in stable[0].rows}) == 1
    job = store.job(stable[0].rows[0].job_id)
    assert job.project == "qsre-validation"
    assert job.tags == {
        "purpose": "validation",
        "circuits": ",".join(row.circuit for row in stable[0].rows),
    }
    latest = {(r.backend, r.circuit): r.verdict for r in vstore.latest()}
    assert latest[("sim-firmware", "mirror")] == "diverged"


def test_no_calibration_divergence_not_evaluated_drift_works(store, recorder, clock, drift_config):
    backend = AerSimulator(seed_simulator=5)
    vstore = ValidationStore(store)
    runner = ValidationRunner(
        vstore, SMALL_SUITE, clock=clock, drift_config=drift_config, recorder=recorder
    )
    reports = [runner.run(backend) for _ in range(drift_config.baseline_runs + 3)]
    for r in reports:
        assert r.diverged is None
        for row in r.rows:
            assert row.diverged is None and row.divergence_tvd is None
            assert row.evidence["divergence"]["verdict"] == "not_evaluated"
    learning = reports[: drift_config.baseline_runs]
    assert all(r.verdict == "not_evaluated" for r in learning)  # nothing evaluable yet
    monitoring = reports[drift_config.baseline_runs :]
    assert all(r.verdict == "ok" for r in monitoring)
    assert all(row.drift_statistic is not None for r in monitoring for row in r.rows)
    assert all(row.fidelity > 0.999 for r in reports for row in r.rows)  # ideal simulator


def test_restart_keeps_detector_state(store, recorder, clock, drift_config):
    backend = AerSimulator(seed_simulator=7)
    first = ValidationRunner(
        store, SMALL_SUITE, clock=clock, drift_config=drift_config, recorder=recorder
    )
    for _ in range(drift_config.baseline_runs - 1):
        assert first.run(backend).verdict == "not_evaluated"
        clock.advance(3600)
    # A new process: new store handle, new runner; the baseline is not relearned.
    second = ValidationRunner(
        ValidationStore(Store(store.url)),
        SMALL_SUITE,
        clock=clock,
        drift_config=drift_config,
        recorder=recorder,
    )
    assert second.run(backend).verdict == "not_evaluated"  # the last learning run
    clock.advance(3600)
    report = second.run(backend)
    assert report.verdict == "ok"
    assert all(row.drift_statistic is not None for row in report.rows)
    state = second.vstore.load_state(backend.name)
    assert state.detector_state["run_index"] == drift_config.baseline_runs + 1
    assert state.detector_state["drift"]["run_index"] == drift_config.baseline_runs + 1


def test_job_failures_become_error_rows(store, recorder, clock, t0):
    from qsre.sim.config import build_sim_backend

    backend = build_sim_backend(
        {"name": "sim-auth", "faults": [{"kind": "auth", "start": t0}]}, clock, t0
    )
    report = run_validation(backend, store=store, suite=SMALL_SUITE, clock=clock, recorder=recorder)
    assert report.verdict == "error"
    assert {row.verdict for row in report.rows} == {"error"}
    assert all(row.evidence["error_class"] == "auth" for row in report.rows)
    assert "401" in report.rows[0].evidence["error"]
    assert report.to_dict()["circuits"][0]["verdict"] == "error"
    assert recorder.flush(30)
    failed = store.jobs(purpose="validation")
    assert len(failed) == 1 and failed[0].error_class == "auth"  # one job per suite run
    # Nothing was fed to the detector.
    state = ValidationStore(store).load_state("sim-auth")
    assert state.detector_state["drift"]["run_index"] == 0


def test_divergence_with_version_change_says_regression(
    store, recorder, world, clock, drift_config, monkeypatch, fault_at_h
):
    backend = world["sim-firmware"]
    runner = ValidationRunner(
        ValidationStore(store),
        {"circuits": ["bell", "mirror"], "shots": 2000},
        clock=clock,
        drift_config=drift_config,
        recorder=recorder,
    )
    real = runner_mod.version_context
    for hour in range(fault_at_h + 3):
        if hour == fault_at_h + 1:  # the SDK upgrade lands with the (firmware) change
            monkeypatch.setattr(
                runner_mod, "version_context", lambda b: {**real(b), "qiskit": "9.9.9"}
            )
        report = runner.run(backend)
        clock.advance(3600)
    assert report.verdict == "diverged"
    assert report.likely_cause.startswith("firmware/compiler regression")
    assert "qiskit" in report.likely_cause and "9.9.9" in report.likely_cause
    mirror = report.row("mirror")
    assert mirror.evidence["likely_cause"] == report.likely_cause
    assert mirror.versions["qiskit"] == "9.9.9"


def test_report_to_dict_is_json_safe(store, recorder, clock):
    import json

    report = run_validation(
        AerSimulator(), store=store, suite=SMALL_SUITE, clock=clock, recorder=recorder
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data["backend"] == "aer_simulator"
    assert [c["circuit"] for c in data["circuits"]] == ["bell", "ghz", "readout_1"]
    assert data["versions"]["transpiler"]["optimization_level"] == 1
    assert data["ran_at"] == clock.now().isoformat()
    assert clock.now() - timedelta(seconds=1) <= report.ran_at <= clock.now()
