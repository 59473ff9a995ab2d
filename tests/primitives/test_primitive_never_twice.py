"""A primitive job is never submitted again: errors while waiting for its result
re-poll the same job or reach the caller uncached, and the result comes back
once it is available. Submission failures are retried (one record)."""

from __future__ import annotations

import pytest
from circuit_fixtures import bell
from qiskit.primitives import BackendSamplerV2
from qiskit.providers import JobStatus
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.api.exceptions import RequestsApiError
from qiskit_ibm_runtime.exceptions import RuntimeJobTimeoutError

from collector import VirtualClock, instrument_sampler


class FlakyJob:
    """A primitive job whose ``result()`` raises the scripted errors first."""

    def __init__(self, inner, errors):
        self._inner = inner
        self.errors = list(errors)

    def result(self, timeout=None):
        if self.errors:
            raise self.errors.pop(0)
        return self._inner.result()

    def status(self):
        return JobStatus.RUNNING if self.errors else JobStatus.DONE

    def job_id(self):
        return self._inner.job_id()


class CountingSampler:
    """A SamplerV2 on Aer that counts its executions; submissions fail with
    ``submit_errors`` first, results with ``poll_errors``."""

    def __init__(self, submit_errors=(), poll_errors=()):
        self._sampler = BackendSamplerV2(backend=AerSimulator())
        self.submit_errors = list(submit_errors)
        self.poll_errors = list(poll_errors)
        self.executions = 0

    @property
    def backend(self):
        return self._sampler.backend

    def run(self, pubs, *, shots=None):
        if self.submit_errors:
            raise self.submit_errors.pop(0)
        self.executions += 1
        return FlakyJob(self._sampler.run(pubs, shots=shots), self.poll_errors)


@pytest.mark.parametrize(
    "error",
    [
        TimeoutError("ran out"),
        RuntimeJobTimeoutError("Timed out waiting for job to complete"),
        RequestsApiError("Service Unavailable", status_code=503),
        RequestsApiError("Too Many Requests", status_code=429),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
    ids=lambda e: type(e).__name__ + str(getattr(e, "status_code", "")),
)
def test_waiting_errors_never_resubmit(store, recorder, error):
    double = CountingSampler(poll_errors=[error] * 2)
    sampler = instrument_sampler(double, store=store, recorder=recorder, clock=VirtualClock())
    job = sampler.run([bell()], shots=64)
    for _ in range(3):
        try:
            result = job.result()
            break
        except type(error) as exc:
            assert exc is error
    else:
        pytest.fail("result() never returned")
    assert sum(result[0].data.meas.get_counts().values()) == 64
    assert double.executions == 1 and job.result() is result
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.attempts, rec.backend) == ("done", 1, "aer_simulator")


def test_a_failed_submission_is_retried_into_one_record(store, recorder):
    double = CountingSampler(submit_errors=[RequestsApiError("Service Unavailable", 503)])
    sampler = instrument_sampler(double, store=store, recorder=recorder, clock=VirtualClock())
    sampler.run([bell()], shots=10).result()
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.attempts, double.executions) == ("done", 2, 1)
