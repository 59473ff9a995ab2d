"""Readout mitigation (validators.mitigation) on real Aer simulations of devices whose
readout error the test sets, over seeded runs."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile

from validators.circuits import SuiteConfig, build_suite
from validators.errors import InvalidConfig
from validators.mitigation import (
    measured_qubits,
    mitigate,
    mitigated_probabilities,
    readout_calibration,
)
from validators.reference import transpile_reference

from .kit import ReadoutDevice

# The device: P(1|0) = 3 %, P(0|1) = 12 % on every qubit (a prepared 1 relaxing
# during a slow readout), i.e. strongly asymmetric; its Target reports the mean, 7.5 %.
P10, P01 = 0.03, 0.12
RUNS = 20
WIDTH = 5  # readout_0 / readout_1 measure the whole default layout


@pytest.fixture(scope="module")
def suite():
    return {ref.name: ref for ref in build_suite(SuiteConfig(), WIDTH)}


def _seeded_results(device, refs, calibration, runs=RUNS, seed0=1000):
    """{circuit: [MitigationResult per seeded run]} for ``device`` mitigated with ``calibration``."""
    out: dict[str, list] = {ref.name: [] for ref in refs}
    for i in range(runs):
        for ref in refs:
            compiled = transpile_reference(ref, device)
            counts = (
                device.run(compiled, shots=ref.shots, seed_simulator=seed0 + i)
                .result()
                .get_counts()
            )
            out[ref.name].append(
                mitigate(counts, measured_qubits(compiled), calibration, ref.ideal_probabilities)
            )
    return out


def test_calibration_is_read_asymmetric_from_properties_else_symmetric_from_target():
    ibm_style = readout_calibration(ReadoutDevice(P10, P01, report="properties"))
    target_only = readout_calibration(ReadoutDevice(P10, P01, report="target"))
    assert ibm_style is not None and target_only is not None
    q = ibm_style.qubits[3]
    assert (q.p1_given_0, q.p0_given_1, q.source) == (P10, P01, "properties")
    # mthree's matrix: column = prepared, row = measured.
    assert np.allclose(q.matrix(), [[1 - P10, P01], [P10, 1 - P01]])
    t = target_only.qubits[3]
    assert (t.p1_given_0, t.p0_given_1, t.source) == ((P10 + P01) / 2, (P10 + P01) / 2, "target")
    assert readout_calibration(ReadoutDevice(P10, P01, report="none")) is None


def test_fake_ibm_backend_calibration_comes_from_its_properties():
    fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    backend = fake_provider.FakeManilaV2()
    calibration = readout_calibration(backend)
    assert calibration is not None and len(calibration.qubits) == backend.num_qubits
    props = backend.properties()
    for q in range(backend.num_qubits):
        r = calibration.qubits[q]
        assert r.source == "properties"
        assert r.p1_given_0 == props.qubit_property(q, "prob_meas1_prep0")[0]
        assert r.p0_given_1 == props.qubit_property(q, "prob_meas0_prep1")[0]
    # The reason to prefer properties(): the Target's measure error is symmetric.
    assert any(r.p1_given_0 != r.p0_given_1 for r in calibration.qubits)


def test_only_the_qubits_asked_for_are_read():
    fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    backend = fake_provider.FakeManilaV2()
    full = readout_calibration(backend)
    part = readout_calibration(backend, [1, 3])
    assert part is not None and len(part.qubits) == backend.num_qubits
    assert [q for q, r in enumerate(part.qubits) if r is not None] == [1, 3]
    assert part.qubits[3] == full.qubits[3]
    assert part.covers([3, 1]) and not part.covers([0, 1])


def test_measured_qubits_are_the_physical_qubits_of_the_compiled_circuit():
    device = ReadoutDevice(P10, P01)
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [1, 0])  # crossed on purpose: clbit 0 holds qubit 1
    compiled = transpile(qc, device, initial_layout=[3, 1], seed_transpiler=0)
    assert measured_qubits(compiled) == (1, 3)


def test_mitigation_recovers_fidelity_under_strong_asymmetric_readout(suite):
    device = ReadoutDevice(P10, P01)
    refs = [suite["readout_1"], suite["readout_0"], suite["ghz"], suite["bell"]]
    results = _seeded_results(device, refs, readout_calibration(device))

    raw1 = np.array([r.fidelity_raw for r in results["readout_1"]])
    mit1 = np.array([r.fidelity_mitigated for r in results["readout_1"]])
    # Known effect size: the ideal answer 11111 is read correctly with probability
    # (1 - P01)^5 = 0.528 (gate errors of five X gates take ~0.1 % more), so that is
    # the raw Hellinger fidelity; 2000 shots x 20 runs put its mean within ~0.003.
    assert raw1.mean() == pytest.approx((1 - P01) ** WIDTH, abs=0.01)
    assert mit1.mean() > 0.98
    assert np.all(mit1 - raw1 > 0.35)

    raw0 = np.array([r.fidelity_raw for r in results["readout_0"]])
    mit0 = np.array([r.fidelity_mitigated for r in results["readout_0"]])
    assert raw0.mean() == pytest.approx((1 - P10) ** WIDTH, abs=0.01)
    assert np.all(mit0 - raw0 > 0.1)

    for name in ("ghz", "bell"):
        gain = np.array([r.gain for r in results[name]])
        assert np.all(gain > 0.05), (name, gain)
        assert all(r.sources == ("properties",) for r in results[name])


def test_asymmetric_calibration_beats_the_targets_symmetric_error(suite):
    device = ReadoutDevice(P10, P01)
    symmetric = readout_calibration(ReadoutDevice(P10, P01, report="target", name="sym"))
    refs = [suite["readout_1"]]
    asym = _seeded_results(device, refs, readout_calibration(device), runs=10)
    sym = _seeded_results(device, refs, symmetric, runs=10)
    a = np.array([r.fidelity_mitigated for r in asym["readout_1"]])
    s = np.array([r.fidelity_mitigated for r in sym["readout_1"]])
    # Same counts (same seeds): a symmetric 7.5 % under-corrects the 12 % loss of 1s.
    assert np.array_equal(
        [r.fidelity_raw for r in asym["readout_1"]], [r.fidelity_raw for r in sym["readout_1"]]
    )
    assert np.all(a - s > 0.15)


def test_perfect_readout_is_not_improved(suite):
    device = ReadoutDevice(0.0, 0.0, name="perfect-readout")
    calibration = readout_calibration(device)
    assert calibration is not None  # it reports its readout: zero error
    results = _seeded_results(device, list(suite.values()), calibration, runs=5)
    gains = np.array([r.gain for rs in results.values() for r in rs])
    raws = np.array([r.fidelity_raw for rs in results.values() for r in rs])
    # Gate errors alone leave fidelity below 1 (so there is something a wrong
    # correction could "improve"), and an identity correction changes nothing.
    assert raws.min() < 0.95
    assert np.abs(gains).max() < 1e-6
    assert int(np.sum(gains >= 0.01)) == 0


def test_mitigated_distribution_is_a_probability_distribution(suite):
    device = ReadoutDevice(P10, P01)
    ref = suite["ghz"]
    compiled = transpile_reference(ref, device)
    counts = device.run(compiled, shots=ref.shots, seed_simulator=5).result().get_counts()
    probs = mitigated_probabilities(counts, measured_qubits(compiled), readout_calibration(device))
    values = np.array(list(probs.values()))
    assert np.all(values > 0) and values.sum() == pytest.approx(1.0, abs=1e-6)
    assert all(len(k) == ref.num_clbits for k in probs)
    # Mass moves back onto the two GHZ outcomes.
    raw_mass = (counts.get("000", 0) + counts.get("111", 0)) / ref.shots
    assert probs.get("000", 0) + probs.get("111", 0) > raw_mass + 0.1


def test_a_qubit_without_reported_calibration_is_refused_not_calibrated_by_jobs():
    device = ReadoutDevice(P10, P01)
    calibration = readout_calibration(device)
    with pytest.raises(InvalidConfig, match="reported readout calibration"):
        mitigated_probabilities({"01": 10, "10": 10}, [0, 7], calibration)
    with pytest.raises(InvalidConfig, match="at least one outcome"):
        mitigated_probabilities({}, [0, 1], calibration)
