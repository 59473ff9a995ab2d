"""qiskit-ibm-runtime's SamplerV2 and EstimatorV2 in local testing mode (its fake
backends), recorded through the instruments: the job row carries the backend's
calibration (in UTC), a backends row is written, the times are the ones that
were observed (not the local mode's stamps), and estimator jobs carry their
pubs, expectation values and resilience options."""

from __future__ import annotations

import time
import warnings
from datetime import UTC

import pytest

pytest.importorskip("qiskit_ibm_runtime", reason="the `ibm` extra is not installed")

from qiskit import QuantumCircuit, transpile  # noqa: E402
from qiskit.quantum_info import SparsePauliOp  # noqa: E402
from qiskit_ibm_runtime import EstimatorV2, SamplerV2  # noqa: E402
from qiskit_ibm_runtime.fake_provider import FakeManilaV2  # noqa: E402

from collector import instrument_estimator, instrument_sampler  # noqa: E402
from collector.cost import Pricing  # noqa: E402
from collector.providers.base import epoch_s  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*no effect in local testing mode:UserWarning"),
]


@pytest.fixture(scope="module")
def manila() -> FakeManilaV2:
    return FakeManilaV2()


def deep_circuit(backend) -> QuantumCircuit:
    """Long enough to simulate (~0.4 s at 20000 shots) that the local mode's
    stamps, all taken when the job object is built, are visibly wrong."""
    qc = QuantumCircuit(5)
    for _ in range(20):
        for q in range(4):
            qc.cx(q, q + 1)
        qc.h(range(5))
    qc.measure_all()
    return transpile(qc, backend, optimization_level=0)


def test_sampler_records_calibration_backend_and_observed_times(store, recorder, manila):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler = instrument_sampler(SamplerV2(mode=manila), store=store, recorder=recorder)
    circuit = deep_circuit(manila)
    started = time.time()
    job = sampler.run([circuit], shots=20000)
    result = job.result()
    waited_s = time.time() - started
    assert sum(result[0].data.meas.get_counts().values()) == 20000
    recorder.flush()
    [rec] = store.jobs()
    calibrated = manila.properties().last_update_date.astimezone(UTC)
    assert rec.backend == "fake_manila" and rec.status == "done"
    assert rec.calibration_at == calibrated
    [row] = store.backends()
    assert (row["name"], row["last_calibration_at"]) == ("fake_manila", calibrated)
    assert row["provider"] == "ibm"
    # Local mode stamps created = running = finished when the job object is built
    # (a few ms after submission); the recorded times are the observed ones.
    stamps = job.metrics()["timestamps"]
    stamped_s = epoch_s(stamps["finished"]) - epoch_s(stamps["created"])
    assert stamped_s < 0.1 * waited_s  # the premise: the stamps say "no time at all"
    assert rec.e2e_seconds >= 0.8 * waited_s
    assert rec.provider_job_id == job.job_id()
    assert rec.details == {"primitive": "sampler", "pubs": 1}


def test_estimator_records_pubs_values_and_resilience(store, recorder, manila):
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    compiled = transpile(circuit, manila, seed_transpiler=1)
    observables = [
        SparsePauliOp(label).apply_layout(compiled.layout) for label in ("ZZ", "XX", "YY")
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = EstimatorV2(mode=manila)
        estimator.options.resilience_level = 1
        estimator.options.resilience.measure_mitigation = True
    wrapped = instrument_estimator(
        estimator,
        store=store,
        recorder=recorder,
        project="chem",
        pricing=Pricing(per_shot_usd=0.001),
    )
    job = wrapped.run([(compiled, observables)], precision=0.05)
    result = job.result()
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.backend, rec.status, rec.project, rec.num_circuits) == (
        "fake_manila",
        "done",
        "chem",
        1,
    )
    [pub] = rec.details["pubs"]
    assert (pub["observables"], pub["parameter_sets"], pub["precision"]) == (3, 1, 0.05)
    assert pub["evs"] == pytest.approx(list(result[0].data.evs))
    assert pub["stds"] == pytest.approx(list(result[0].data.stds))
    assert rec.details["resilience"] == {
        "resilience_level": 1,
        "resilience": {"measure_mitigation": True},
    }
    # Billed for the shots the results say were used (400 at precision 0.05).
    used = result[0].metadata["shots"]
    assert rec.shots == 400 and rec.cost_usd == pytest.approx(0.001 * used)
    assert rec.calibration_at == manila.properties().last_update_date.astimezone(UTC)


def test_estimator_rejects_bad_input_before_submission(store, recorder, manila):
    from collector import InvalidInput

    wrapped = instrument_estimator(
        _CountingEstimator(), store=store, recorder=recorder, backend_name="x"
    )
    with pytest.raises(InvalidInput, match="precision"):
        wrapped.run([(QuantumCircuit(1), SparsePauliOp("Z"))], precision=0)
    with pytest.raises(InvalidInput, match="pubs"):
        wrapped.run("not pubs")
    assert wrapped._primitive.runs == 0
    recorder.flush()
    assert store.jobs() == []


class _CountingEstimator:
    def __init__(self) -> None:
        self.runs = 0

    def run(self, pubs, *, precision=None):  # pragma: no cover - must not be reached
        self.runs += 1
        raise AssertionError("submitted")
