"""A submitted job is never submitted again: whatever waiting for its result
raises, the backend executes it once and the result is returned once available."""

from __future__ import annotations

import concurrent.futures

import pytest
from circuit_fixtures import bell
from qiskit.providers import JobStatus
from qiskit_ibm_runtime.api.exceptions import RequestsApiError
from qiskit_ibm_runtime.exceptions import (
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobTimeoutError,
)

from collector import VirtualClock
from collector.proxy import ExecutionProxy
from collector.retry import RetryPolicy

from .backends import CountingBackend, HeldBackend


def poll_errors() -> dict[str, BaseException]:
    return {
        "wait timeout": TimeoutError("result(timeout=5) ran out"),
        "429": RequestsApiError("Too Many Requests", status_code=429),
        "503": RequestsApiError("Service Unavailable", status_code=503),
        "connection reset": ConnectionResetError(104, "Connection reset by peer"),
        "runtime timeout": RuntimeJobTimeoutError("Timed out waiting for job to complete"),
        "401 while polling": RequestsApiError("Unauthorized", status_code=401),
    }


@pytest.mark.parametrize("name", list(poll_errors()))
@pytest.mark.parametrize("repeats", [1, 6])
def test_errors_while_waiting_never_resubmit(store, recorder, name, repeats):
    error = poll_errors()[name]
    backend = CountingBackend([error] * repeats)
    proxy = ExecutionProxy(
        backend, store=store, recorder=recorder, clock=VirtualClock(), retry=RetryPolicy()
    )
    job = proxy.run(bell(), shots=100)
    raised = 0
    for _ in range(repeats + 1):  # the caller asks again after each error it sees
        try:
            result = job.result(timeout=5)
            break
        except type(error) as exc:
            assert exc is error
            raised += 1
    else:
        pytest.fail("result() never returned the job's result")
    assert sum(result.get_counts().values()) == 100
    assert len(backend.executions) == 1
    assert job.result() is result  # cached once settled
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.attempts, rec.error_class) == ("done", 1, None)
    assert rec.provider_job_id == "prov-0"
    # Transient polling errors are re-polled inside one result() (within the retry
    # policy); a timeout or a 401 goes straight to the caller, uncached.
    if name in ("429", "503", "connection reset"):
        assert raised == (0 if repeats < RetryPolicy().max_attempts else 1)
    else:
        assert raised == repeats


def test_a_timed_out_wait_on_an_aer_job_returns_the_result_later(store, recorder):
    backend = HeldBackend()
    proxy = ExecutionProxy(backend, store=store, recorder=recorder, clock=VirtualClock())
    job = proxy.run(bell(), shots=64)
    for _ in range(3):
        with pytest.raises(TimeoutError):
            job.result(timeout=0.01)
    backend.jobs[0].release()
    assert sum(job.result().get_counts().values()) == 64
    assert backend.run_calls == 1
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.attempts) == ("done", 1)


def test_cancelled_job_is_recorded_cancelled(store, recorder):
    error = RuntimeInvalidStateError("Job was cancelled")
    backend = CountingBackend([error])
    proxy = ExecutionProxy(backend, store=store, recorder=recorder, clock=VirtualClock())
    job = proxy.run(bell(), shots=10)
    backend.jobs[0].final = JobStatus.CANCELLED
    with pytest.raises(RuntimeInvalidStateError):
        job.result()
    with pytest.raises(RuntimeInvalidStateError):  # a cancelled job stays cancelled
        job.result()
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, len(backend.executions)) == ("cancelled", 1)


def test_cancelled_future_is_recorded_cancelled(store, recorder):
    backend = HeldBackend()
    proxy = ExecutionProxy(backend, store=store, recorder=recorder, clock=VirtualClock())
    job = proxy.run(bell(), shots=10)
    assert backend.jobs[0].cancel()
    with pytest.raises(concurrent.futures.CancelledError):
        job.result()
    recorder.flush()
    [rec] = store.jobs()
    assert rec.status == "cancelled"


def test_a_job_the_provider_reports_failed_is_recorded_once(store, recorder):
    error = RuntimeJobFailureError("Unable to retrieve job result. Error code 1517")
    backend = CountingBackend([error] * 3)
    proxy = ExecutionProxy(backend, store=store, recorder=recorder, clock=VirtualClock())
    job = proxy.run(bell(), shots=10)
    job_double = backend.jobs[0]
    job_double.status = lambda: JobStatus.ERROR  # the provider says it is over
    for _ in range(2):
        with pytest.raises(RuntimeJobFailureError):
            job.result()
    assert job_double.polls == 1  # settled: the outcome is cached
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.error_class, len(backend.executions)) == ("error", "backend", 1)
