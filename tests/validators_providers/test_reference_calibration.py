"""Predictions from the full reported calibration, on the qubits each circuit uses.

The fake backends of qiskit-ibm-runtime simulate their own ``run()`` from
``properties()``: asymmetric readout, T1/T2, gate errors and lengths. A prediction
built from the Target alone (symmetric ``measure`` error) put FakeManilaV2 at TVD
0.05-0.06 from its own runs. These tests pin the prediction to the backend's own
noise model exactly, and the qubit restriction to the whole-device model exactly.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_ibm_runtime.fake_provider import FakeManilaV2, FakeTorontoV2

from collector.calibration import calibration_timestamp
from validators import reference
from validators.circuits import build_suite
from validators.reference import (
    calibration_fingerprint,
    predicted_distribution,
    transpile_reference,
    used_qubits,
)

from .ibm_offline import offline_ibm_backend

SUITE = ["bell", "ghz", "mirror", "readout_0", "readout_1", "bv", "idle", "qv"]


def _exact(ref, backend, model: NoiseModel) -> dict[str, float]:
    """The exact distribution of the compiled circuit on the whole device under
    ``model``: density matrix before the final measurements (Aer drops idle qubits),
    then the model's readout channels."""
    compiled = transpile_reference(ref, backend)
    body, measured = reference._split_final_measurements(compiled)
    body.save_probabilities(measured)
    sim = AerSimulator(method="density_matrix", noise_model=model, max_parallel_threads=1)
    probs = np.asarray(sim.run(body, shots=1).result().data(0)["probabilities"])
    width = len(measured)
    tensor = probs.reshape([2] * width)
    for clbit, qubit in enumerate(measured):
        axis = width - 1 - clbit
        channel = reference._readout_matrix(model, qubit)
        tensor = np.moveaxis(np.tensordot(tensor, channel, axes=([axis], [0])), -1, axis)
    flat = tensor.reshape(-1) / tensor.sum()
    return {format(i, f"0{width}b"): float(p) for i, p in enumerate(flat) if p > 1e-15}


def _max_diff(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


@pytest.mark.parametrize("fake_cls", [FakeManilaV2, FakeTorontoV2])
def test_prediction_is_the_fake_backends_own_noise_model(fake_cls):
    backend = fake_cls()
    # What the fake backend's run() simulates with (built on its first run()).
    own_model = backend._get_noise_model_from_backend_v2()
    layout = [1, 3, 2, 4, 0] if backend.num_qubits == 5 else [12, 13, 14, 16, 19]
    suite = build_suite({"circuits": SUITE, "layout": layout}, backend.num_qubits)
    for ref in suite:
        predicted = predicted_distribution(ref, backend, None)
        assert predicted is not None
        assert _max_diff(predicted, _exact(ref, backend, own_model)) < 1e-9, ref.name


def test_readout_is_the_asymmetric_one_of_properties():
    backend = FakeManilaV2()
    props = backend.properties()
    (ref,) = build_suite({"circuits": ["readout_0"], "layout": [0]}, backend.num_qubits)
    predicted = predicted_distribution(ref, backend, None)
    p_read_1 = sum(p for bits, p in predicted.items() if bits[-1] == "1")
    assert p_read_1 == pytest.approx(props.qubit_property(0)["prob_meas1_prep0"][0], abs=1e-12)
    # The Target's symmetric measure error, which the prediction used to be built from.
    assert abs(p_read_1 - backend.target["measure"][(0,)].error) > 0.01


def test_restriction_to_used_qubits_matches_the_whole_device_model():
    """Backends without properties() (Aer, qsre's simulators) are predicted from
    their Target: restricted to the used qubits, the result is the whole model's."""
    backend = AerSimulator.from_backend(GenericBackendV2(num_qubits=7, seed=3))
    full = NoiseModel.from_backend(backend)
    suite = build_suite({"circuits": SUITE, "layout": [1, 3, 2, 4, 0]}, backend.num_qubits)
    for ref in suite:
        qubits = used_qubits(transpile_reference(ref, backend))
        assert len(qubits) < backend.num_qubits
        predicted = predicted_distribution(ref, backend, None)
        assert _max_diff(predicted, _exact(ref, backend, full)) < 1e-9, ref.name


def test_calibration_that_differs_only_in_properties_is_not_served_from_cache():
    """Same device name, same calibration time, same Target: only prob_meas1_prep0
    differs. The fingerprint (part of every cache key) must tell them apart."""
    fake = FakeManilaV2()
    raw = fake._load_json(fake.props_filename)
    changed = copy.deepcopy(raw)
    for item in changed["qubits"][0]:
        if item["name"] == "prob_meas1_prep0":
            item["value"] = 0.2
    first, _, _ = offline_ibm_backend(fake, raw)
    second, _, _ = offline_ibm_backend(FakeManilaV2(), changed)
    assert first.name == second.name
    assert calibration_timestamp(first) == calibration_timestamp(second)
    assert calibration_fingerprint(first) != calibration_fingerprint(second)
    (ref,) = build_suite({"circuits": ["readout_0"], "layout": [0]}, fake.num_qubits)
    at = calibration_timestamp(first)
    p_first = predicted_distribution(ref, first, at)
    p_second = predicted_distribution(ref, second, at)
    assert sum(p for b, p in p_second.items() if b[-1] == "1") == pytest.approx(0.2, abs=1e-12)
    assert _max_diff(p_first, p_second) > 0.1
