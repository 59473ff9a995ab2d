"""The validation runner records raw and readout-mitigated fidelity per circuit row, on
SQLite and PostgreSQL; the mitigation_gain SLO counts exactly those rows."""

from __future__ import annotations

import pytest

from collector.clock import VirtualClock
from slo.engine import SLOEngine
from slo.spec import parse_slos
from validators.runner import ValidationRunner
from validators.store import ValidationStore

from .kit import ReadoutDevice

P10, P01 = 0.03, 0.12
MARGIN = 0.01


@pytest.fixture
def clock(t0):
    return VirtualClock(t0)


def _slo(backend: str | None = None):
    sli = {"kind": "mitigation_gain", "margin": MARGIN}
    if backend:
        sli["backend"] = backend
    item = {"name": "readout-mitigation", "objective": 0.9, "sli": sli, "window": "7d"}
    return parse_slos([item], "test.yaml")[0]


def test_runner_records_raw_and_mitigated_fidelity_and_the_slo_counts_them(store, recorder, clock):
    asym = ReadoutDevice(P10, P01, name="asym-device")
    perfect = ReadoutDevice(0.0, 0.0, name="perfect-readout")
    blind = ReadoutDevice(P10, P01, report="none", name="no-readout-cal")
    vstore = ValidationStore(store)
    runner = ValidationRunner(vstore, clock=clock, recorder=recorder)
    for i in range(2):
        for device in (asym, perfect, blind):
            device.set_options(seed_simulator=100 + i)
            runner.run(device)
        clock.advance(3600)

    rows = vstore.runs_since()
    by_backend = {
        b: [r for r in rows if r.backend == b] for b in (asym.name, perfect.name, blind.name)
    }
    assert all(len(v) == 16 for v in by_backend.values())  # 8 circuits x 2 runs

    for row in by_backend[asym.name]:
        assert row.fidelity is not None and row.fidelity_mitigated is not None
        assert row.evidence["readout_mitigation"]["calibration"] == ["properties"]
    readout_1 = [r for r in by_backend[asym.name] if r.circuit == "readout_1"]
    for row in readout_1:
        # One 2000-shot run: raw (1 - P01)^5 = 0.528 +- 0.011 (1 sd); mitigated near 1 (its spread is wider: the correction amplifies shot noise).
        assert row.fidelity == pytest.approx((1 - P01) ** 5, abs=0.045)
        assert row.fidelity_mitigated > 0.93
    for row in by_backend[perfect.name]:
        assert row.fidelity_mitigated == pytest.approx(row.fidelity, abs=1e-6)
    for row in by_backend[blind.name]:
        # No readout calibration reported: nothing to mitigate with, the column is null.
        assert row.fidelity is not None and row.fidelity_mitigated is None
        assert "readout_mitigation" not in row.evidence

    # The SLO: good/total computed by hand from the stored rows.
    both = [r for r in rows if r.fidelity is not None and r.fidelity_mitigated is not None]
    good = sum(1 for r in both if r.fidelity_mitigated - r.fidelity >= MARGIN)
    assert len(both) == 32 and 0 < good < 32  # the perfect-readout rows never gain
    status = SLOEngine(store, [_slo()], clock=clock).evaluate(clock.now())[0]
    assert (status.good, status.total) == (good, len(both))
    only_asym = SLOEngine(store, [_slo(asym.name)], clock=clock).evaluate(clock.now())[0]
    asym_good = sum(1 for r in by_backend[asym.name] if r.fidelity_mitigated - r.fidelity >= MARGIN)
    assert (only_asym.good, only_asym.total) == (asym_good, 16)


def test_fake_ibm_backend_through_the_runner_at_the_effect_size_its_snapshot_predicts(
    sqlite_url, clock
):
    fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    backend = fake_provider.FakeManilaV2()
    props = backend.properties()
    runner = ValidationRunner(ValidationStore(sqlite_url), clock=clock)
    rows = []
    for i in range(4):
        backend.set_options(seed_simulator=500 + i)
        rows += runner.run(backend).rows
        clock.advance(3600)

    def mean(circuit, column):
        return sum(getattr(r, column) for r in rows if r.circuit == circuit) / 4

    # Its readout_1 answer survives readout with probability prod(1 - P(0|1)) over the
    # five qubits of its reported snapshot (0.764), readout_0 with prod(1 - P(1|0)).
    for circuit, name in (("readout_1", "prob_meas0_prep1"), ("readout_0", "prob_meas1_prep0")):
        survive = 1.0
        for q in range(5):
            survive *= 1 - props.qubit_property(q, name)[0]
        assert mean(circuit, "fidelity") == pytest.approx(survive, abs=0.015)
        assert mean(circuit, "fidelity_mitigated") > 0.98
    for circuit in {r.circuit for r in rows}:
        assert mean(circuit, "fidelity_mitigated") > mean(circuit, "fidelity"), circuit
