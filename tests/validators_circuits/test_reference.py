from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel

from collector.calibration import calibration_timestamp
from collector.clock import VirtualClock
from qsre.sim.backend import SimBackend
from qsre.sim.config import FirmwareBugFault, StepDrift
from qsre.sim.noise_params import NoiseParams
from validators.circuits import build_suite
from validators.reference import (
    has_calibration,
    predicted_distribution,
    transpile_reference,
)

from .conftest import g_test_pvalue, tvd

START = datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def suite():
    return {r.name: r for r in build_suite({"shots": 4000}, 5)}


def _counts(backend, ref, shots=4000, seed=3):
    return (
        backend.run(transpile_reference(ref, backend), shots=shots, seed_simulator=seed)
        .result()
        .get_counts()
    )


def test_prediction_matches_stable_backend_within_shot_noise(suite) -> None:
    clock = VirtualClock(START)
    backend = SimBackend("stable", 5, clock=clock, seed=1)
    assert has_calibration(backend)
    NoiseModel.from_backend(backend)  # must not raise
    for ref in suite.values():
        predicted = predicted_distribution(ref, backend, calibration_timestamp(backend))
        assert predicted is not None
        assert sum(predicted.values()) == pytest.approx(1.0, abs=1e-9)
        assert g_test_pvalue(_counts(backend, ref), predicted) > 1e-3, ref.name


def test_prediction_is_exact_not_sampled(suite) -> None:
    backend = SimBackend(
        "exact", 5, clock=VirtualClock(START), noise=NoiseParams(readout_error=0.02, sq_error=0.0)
    )
    ref = suite["readout_0"]
    predicted = predicted_distribution(ref, backend, None)  # no timestamp: computed afresh
    assert predicted["00000"] == pytest.approx(0.98**5, rel=1e-9)
    assert predicted["00001"] == pytest.approx(0.98**4 * 0.02, rel=1e-9)
    again = predicted_distribution(ref, backend, None)
    assert again == predicted
    idle = predicted_distribution(suite["idle"], backend, None)
    # P(1) after X, 40 us at T1 = 120 us, then 2 % readout flips.
    import math

    p1 = math.exp(-40 / 120)
    assert idle["1"] == pytest.approx(p1 * 0.98 + (1 - p1) * 0.02, rel=1e-6)


def test_backends_without_calibration_are_not_evaluated(suite) -> None:
    plain = AerSimulator()
    assert not has_calibration(plain)
    assert calibration_timestamp(plain) is None
    assert predicted_distribution(suite["bell"], plain, None) is None


def test_generic_noisy_backend_without_timestamp_is_still_predicted(suite) -> None:
    noisy = AerSimulator.from_backend(GenericBackendV2(num_qubits=5, seed=42))
    assert has_calibration(noisy)
    predicted = predicted_distribution(suite["bell"], noisy, calibration_timestamp(noisy))
    assert predicted is not None and 0.8 < predicted["00"] + predicted["11"] < 1.0


def test_calibration_timestamp_conventions() -> None:
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    assert calibration_timestamp(SimpleNamespace(last_calibrated_at=stamp)) == stamp
    ibm_like = SimpleNamespace(properties=lambda: SimpleNamespace(last_update_date=stamp))
    assert calibration_timestamp(ibm_like) == stamp

    def broken():
        raise RuntimeError("no properties")

    assert calibration_timestamp(SimpleNamespace(properties=broken)) is None


def test_firmware_bug_diverges_only_on_affected_family(suite) -> None:
    clock = VirtualClock(START)
    bug = FirmwareBugFault(start=START, gate="cx", min_gate_count=4, rotation_rad=0.3)
    backend = SimBackend("firmware", 5, clock=clock, seed=2, faults=[bug])
    stamp = calibration_timestamp(backend)
    affected, unaffected = [], []
    for ref in suite.values():
        predicted = predicted_distribution(ref, backend, stamp)
        counts = _counts(backend, ref)
        hit = transpile_reference(ref, backend).count_ops().get("cx", 0) >= 4
        (affected if hit else unaffected).append(ref.name)
        if hit:
            assert g_test_pvalue(counts, predicted) < 1e-6, ref.name
            assert tvd(counts, predicted) > 0.05, ref.name
        else:
            assert g_test_pvalue(counts, predicted) > 1e-3, ref.name
    assert {"mirror", "qv"} <= set(affected)
    assert {"bell", "readout_0", "readout_1", "idle", "bv"} <= set(unaffected)


def test_reported_drift_moves_the_prediction(suite) -> None:
    clock = VirtualClock(START)
    step_at = START + timedelta(hours=5)
    backend = SimBackend(
        "drifting",
        5,
        clock=clock,
        seed=4,
        drift=[StepDrift(param="readout_error", at=step_at, to=0.08, reported=True)],
    )
    ref = suite["readout_1"]
    before_stamp = calibration_timestamp(backend)
    before = predicted_distribution(ref, backend, before_stamp)
    clock.set(step_at + timedelta(minutes=1))
    after_stamp = calibration_timestamp(backend)
    assert after_stamp == step_at != before_stamp
    after = predicted_distribution(ref, backend, after_stamp)
    # 8 % readout flips on each of 5 bits, plus a little X-gate error.
    assert after["11111"] == pytest.approx(0.92**5, rel=5e-3)
    assert before["11111"] > after["11111"] + 0.2
    counts = _counts(backend, ref)
    assert g_test_pvalue(counts, after) > 1e-3
    assert g_test_pvalue(counts, before) < 1e-6


def test_prediction_cache_tells_same_named_backends_apart():
    """Two backends with one name and one calibration time but different reported
    noise (a test double, a replayed snapshot) must not share predictions."""
    from datetime import UTC, datetime

    from collector.clock import VirtualClock
    from qsre.sim.config import SimBackendConfig, build_sim_backend
    from validators.circuits import build_suite
    from validators.reference import predicted_distribution

    clock = VirtualClock(datetime(2026, 11, 16, tzinfo=UTC))
    quiet = build_sim_backend(
        SimBackendConfig.model_validate({"name": "twin", "noise": {"readout_error": 0.01}}), clock
    )
    noisy = build_sim_backend(
        SimBackendConfig.model_validate({"name": "twin", "noise": {"readout_error": 0.08}}), clock
    )
    assert calibration_timestamp(quiet) == calibration_timestamp(noisy)
    [ref] = build_suite({"circuits": ["readout_1"]}, 5)
    p_quiet = predicted_distribution(ref, quiet, calibration_timestamp(quiet))
    p_noisy = predicted_distribution(ref, noisy, calibration_timestamp(noisy))
    ones = "1" * len(next(iter(p_quiet)))
    assert p_quiet[ones] > p_noisy[ones] + 0.05
