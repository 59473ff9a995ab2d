"""qsre_validation_fidelity_mitigated: the last mitigated fidelity per backend and
circuit, read from validation_runs by the validators' exporter source; absent where the
backend reports no readout calibration; promtool-clean."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.clock import VirtualClock
from validators.metrics import VALIDATION_FIDELITY_MITIGATED, ValidationMetrics
from validators.store import ValidationRunRecord, ValidationStore

NAME = VALIDATION_FIDELITY_MITIGATED.name


def _row(run_id, backend, circuit, ran_at, fidelity, mitigated):
    return ValidationRunRecord(
        run_id=run_id,
        backend=backend,
        circuit=circuit,
        family=circuit,
        ran_at=ran_at,
        shots=2000,
        verdict="ok",
        fidelity=fidelity,
        fidelity_mitigated=mitigated,
    )


def _gauge(registry, name):
    text = generate_latest(registry).decode()
    values = {
        (s.labels["backend"], s.labels["circuit"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }
    return text, values


def test_last_mitigated_fidelity_per_backend_and_circuit(store, t0):
    vstore = ValidationStore(store)
    registry = CollectorRegistry()
    registry.register(ValidationMetrics(vstore, clock=VirtualClock(t0)))
    vstore.insert_runs(
        [
            _row("r1", "dev", "ghz", t0, 0.80, 0.95),
            _row("r1", "dev", "bell", t0, 0.90, 0.97),
            _row("r1", "blind", "ghz", t0, 0.85, None),
        ]
    )
    _, mitigated = _gauge(registry, NAME)
    assert mitigated == {("dev", "ghz"): 0.95, ("dev", "bell"): 0.97}
    # A later run replaces the value; an older one arriving late does not.
    vstore.insert_runs([_row("r2", "dev", "ghz", t0 + timedelta(hours=1), 0.70, 0.91)])
    vstore.insert_runs([_row("r0", "dev", "ghz", t0 - timedelta(hours=1), 0.70, 0.50)])
    text, mitigated = _gauge(registry, NAME)
    _, raw = _gauge(registry, "qsre_validation_fidelity")
    assert mitigated[("dev", "ghz")] == 0.91 and raw[("dev", "ghz")] == 0.70
    assert ("blind", "ghz") in raw and ("blind", "ghz") not in mitigated
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("SKIPPED LOUDLY: promtool not installed (apt-get install prometheus)")
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
