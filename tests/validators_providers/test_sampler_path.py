"""Validation on primitive-only hardware: ``validation.via`` auto|backend|sampler.

A real ``IBMBackend`` (offline, see ``ibm_offline``) refuses ``run()``; ``via: auto``
asks the provider adapter, which says so, and the suite runs through the adapter's
``SamplerV2(mode=backend)`` recorded by ``instrument_sampler``.
"""

from __future__ import annotations

import warnings

import pytest
from qiskit_ibm_runtime.exceptions import IBMBackendError
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from validators.runner import ValidationRunner, run_validation

from .ibm_offline import offline_ibm_backend

SUITE = {"circuits": ["bell", "ghz", "readout_0", "readout_1", "idle"], "shots": 2000}
NAMES = SUITE["circuits"]


@pytest.fixture(autouse=True)
def _quiet_runtime():
    # qiskit-ibm-runtime 0.50 deprecated SamplerV2 (its successor runs client-side);
    # it is what IBM hardware takes today.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="qiskit_ibm_runtime")
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*SamplerV2.*")
        yield


def test_ibm_backend_validated_through_its_sampler(store, recorder):
    backend, service, _ = offline_ibm_backend(FakeManilaV2())
    with pytest.raises(IBMBackendError, match="backend.run\\(\\) has been removed"):
        backend.run([])

    runner = ValidationRunner(store, SUITE, recorder=recorder)
    assert runner.via_for(backend) == "sampler"
    report = runner.run(backend)

    assert report.backend == backend.name
    assert [row.circuit for row in report.rows] == NAMES
    assert all(row.verdict != "error" for row in report.rows), report.to_dict()
    assert report.diverged is False  # its own calibration, so never DIVERGED
    assert all(row.fidelity > 0.5 for row in report.rows)
    # One sampler job with every circuit as a pub, submitted for the IBMBackend.
    assert service.submitted == [("sampler", len(NAMES))]
    assert len({row.job_id for row in report.rows}) == 1
    assert recorder.flush(30)
    (job,) = store.jobs(purpose="validation")
    assert job.id == report.rows[0].job_id
    assert job.backend == backend.name
    assert job.status == "done"
    assert job.num_circuits == len(NAMES)
    assert job.tags == {"purpose": "validation", "circuits": ",".join(NAMES)}


def test_via_backend_on_ibm_hardware_is_an_error_row_per_circuit(store, recorder):
    backend, service, _ = offline_ibm_backend(FakeManilaV2())
    report = run_validation(backend, store=store, suite=SUITE, recorder=recorder, via="backend")
    assert report.verdict == "error"
    assert service.submitted == []
    for row in report.rows:
        assert row.verdict == "error"
        assert "backend.run() has been removed" in row.evidence["error"]
        assert row.evidence["via"] == "backend"


def test_via_sampler_on_a_fake_backend_runs_in_local_mode(store, recorder):
    """The adapter's sampler for a fake backend is qiskit-ibm-runtime's SamplerV2 in
    local testing mode: the counts still come from the fake backend's own run()."""
    backend = FakeManilaV2()
    runner = ValidationRunner(store, SUITE, recorder=recorder, via="sampler")
    assert ValidationRunner(store, SUITE, recorder=recorder).via_for(backend) == "backend"
    report = runner.run(backend)
    assert all(row.verdict != "error" for row in report.rows), report.to_dict()
    assert report.diverged is False
    assert recorder.flush(30)
    (job,) = store.jobs(purpose="validation")
    assert job.backend == backend.name and job.num_circuits == len(NAMES)


def test_per_circuit_jobs_through_the_sampler(store, recorder):
    backend, service, _ = offline_ibm_backend(FakeManilaV2())
    report = run_validation(
        backend, store=store, suite=SUITE, recorder=recorder, jobs="per_circuit"
    )
    assert all(row.verdict != "error" for row in report.rows)
    assert service.submitted == [("sampler", 1)] * len(NAMES)
    assert recorder.flush(30)
    jobs = store.jobs(purpose="validation")
    assert sorted(j.tags["circuit"] for j in jobs) == sorted(NAMES)
    assert {row.job_id for row in report.rows} == {j.id for j in jobs}


def test_via_per_backend_and_bad_values(store):
    backend, _, _ = offline_ibm_backend(FakeManilaV2())
    assert ValidationRunner(store, SUITE, via={backend.name: "backend"}).via_for(backend) == (
        "backend"
    )
    # A name the mapping lacks is auto: the adapter says IBM hardware needs the sampler.
    assert ValidationRunner(store, SUITE, via={"ibm_other": "backend"}).via_for(backend) == (
        "sampler"
    )
    with pytest.raises(ValueError, match="via='primitive'"):
        ValidationRunner(store, SUITE, via="primitive")
    with pytest.raises(ValueError, match="jobs='batched'"):
        ValidationRunner(store, SUITE, jobs="batched")


def test_per_suite_jobs_respect_max_circuits(store, recorder):
    from qiskit.providers.fake_provider import GenericBackendV2
    from qiskit_aer import AerSimulator

    class ThreePerJob(AerSimulator):
        @property
        def max_circuits(self) -> int:
            return 3

    backend = ThreePerJob.from_backend(GenericBackendV2(num_qubits=5, seed=1))
    suite = {"circuits": ["bell", "ghz", "mirror", "readout_0", "readout_1", "bv", "idle"]}
    report = run_validation(backend, store=store, suite=suite, recorder=recorder)
    assert all(row.verdict != "error" for row in report.rows)
    assert recorder.flush(30)
    jobs = store.jobs(purpose="validation")
    assert sorted(j.num_circuits for j in jobs) == [1, 3, 3]
    assert {row.job_id for row in report.rows} == {j.id for j in jobs}
