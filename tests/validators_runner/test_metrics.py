"""Validation metrics source: values from the table, incremental, promtool-clean."""

from __future__ import annotations

import subprocess
from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from qiskit_aer import AerSimulator

from collector.exporter import StoreExporter
from validators.metrics import ValidationMetrics
from validators.runner import ValidationRunner
from validators.store import ValidationRunRecord, ValidationStore

SUITE = {"circuits": ["bell", "readout_1"], "shots": 500}


def _samples(registry):
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return text, out


def _row(run_id, backend, circuit, verdict, ran_at, **kw):
    return ValidationRunRecord(
        run_id=run_id,
        backend=backend,
        circuit=circuit,
        family=circuit,
        ran_at=ran_at,
        shots=100,
        verdict=verdict,
        **kw,
    )


def test_values_incremental_and_promtool(store, recorder, t0, clock):
    vstore = ValidationStore(store)
    source = ValidationMetrics(vstore, clock=clock)
    registry = CollectorRegistry()
    registry.register(source)
    vstore.insert_runs(
        [
            _row("r1", "b1", "bell", "ok", t0, fidelity=0.97, divergence_tvd=0.02),
            _row("r1", "b1", "ghz", "warn", t0, fidelity=0.9, drift_statistic=1.5),
            _row("r2", "b2", "bell", "error", t0),
        ]
    )
    _, values = _samples(registry)
    assert (
        values[
            (
                "qsre_validation_runs_total",
                (("backend", "b1"), ("circuit", "bell"), ("verdict", "ok")),
            )
        ]
        == 1
    )
    assert values[("qsre_validation_fidelity", (("backend", "b1"), ("circuit", "ghz")))] == 0.9
    assert values[("qsre_drift_statistic", (("backend", "b1"), ("circuit", "ghz")))] == 1.5
    assert values[("qsre_backend_verdict", (("backend", "b1"), ("verdict", "warn")))] == 1
    assert values[("qsre_backend_verdict", (("backend", "b1"), ("verdict", "ok")))] == 0
    # Error rows are job failures (qsre_jobs_total), not validation outcomes.
    assert not any(labels and dict(labels).get("backend") == "b2" for _, labels in values)

    later = t0 + timedelta(hours=1)
    vstore.insert_runs(
        [
            _row("r3", "b1", "bell", "diverged", later, fidelity=0.7, divergence_tvd=0.2),
            _row("r3", "b1", "ghz", "ok", later, fidelity=0.91, drift_statistic=0.2),
        ]
    )
    text, values = _samples(registry)
    bell_ok = (("backend", "b1"), ("circuit", "bell"), ("verdict", "ok"))
    bell_div = (("backend", "b1"), ("circuit", "bell"), ("verdict", "diverged"))
    assert values[("qsre_validation_runs_total", bell_ok)] == 1
    assert values[("qsre_validation_runs_total", bell_div)] == 1
    assert (
        values[("qsre_validation_divergence_tvd", (("backend", "b1"), ("circuit", "bell")))] == 0.2
    )
    assert values[("qsre_backend_verdict", (("backend", "b1"), ("verdict", "diverged")))] == 1
    assert values[("qsre_backend_verdict", (("backend", "b1"), ("verdict", "warn")))] == 0
    assert "_created" not in text

    # A restarted source (new process) rebuilds the same values from the table.
    fresh = CollectorRegistry()
    fresh.register(ValidationMetrics(ValidationStore(store), clock=clock))
    assert _samples(fresh)[1] == values

    check = subprocess.run(
        ["/usr/bin/promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_source_in_store_exporter_with_real_runs(store, recorder, clock):
    vstore = ValidationStore(store)
    runner = ValidationRunner(vstore, SUITE, clock=clock, recorder=recorder)
    for _ in range(3):
        runner.run(AerSimulator(seed_simulator=3))
        clock.advance(600)
    exporter = StoreExporter(store, clock)
    exporter.add_source(ValidationMetrics(vstore, clock=clock))
    text, values = _samples(exporter.registry)
    total = sum(v for (name, _), v in values.items() if name == "qsre_validation_runs_total")
    assert total == 6  # 3 runs x 2 circuits, all learning -> not_evaluated
    key = (("backend", "aer_simulator"), ("verdict", "not_evaluated"))
    assert values[("qsre_backend_verdict", key)] == 1
    assert (
        values[
            ("qsre_validation_fidelity", (("backend", "aer_simulator"), ("circuit", "readout_1")))
        ]
        == 1.0
    )
    check = subprocess.run(
        ["/usr/bin/promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
