"""qiskit-ionq's real client against a local fake of IonQ's v0.4 API (ionq_fake.py):
rounded QPU counts, a missing execution duration, calibration time, a 503 on
submit (how many POSTs), and IonQ's exception classes."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

qiskit_ionq = pytest.importorskip(
    "qiskit_ionq",
    reason="SKIPPED LOUDLY: qiskit-ionq is not importable (extra 'ionq' not installed)",
)

from circuit_fixtures import bell  # noqa: E402
from qiskit_ionq import IonQProvider  # noqa: E402
from qiskit_ionq.exceptions import (  # noqa: E402
    IonQAPIError,
    IonQCredentialsError,
    IonQGateError,
    IonQJobFailureError,
    IonQJobStateError,
    IonQJobTimeoutError,
    IonQRetriableError,
)

from collector import ExecutionProxy  # noqa: E402
from collector.calibration import calibration_timestamp  # noqa: E402
from collector.classify import classify_exception  # noqa: E402
from collector.providers import adapter_for  # noqa: E402
from collector.providers.ionq import IonQAdapter  # noqa: E402
from tests.providers.ionq_fake import FakeIonQ  # noqa: E402

# Three outcomes a third each: round(p * 100) = 33 three times, 99 counts for 100 shots.
THIRDS = {"0": 0.333, "1": 0.333, "3": 0.334}


@pytest.fixture
def fake() -> Iterator[FakeIonQ]:
    server = FakeIonQ().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    # qiskit-ionq warns on each of its own retries and about transpile levels.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def qpu(fake: FakeIonQ):
    return IonQProvider("test-token", url=fake.url).get_backend("qpu.aria-1")


def test_rounded_qpu_counts_are_returned_and_recorded(fake, store, recorder):
    fake.probabilities = THIRDS
    proxy = ExecutionProxy(qpu(fake), store=store, recorder=recorder)
    result = proxy.run(bell(), shots=100).result()
    counts = result.get_counts()
    assert sum(counts.values()) == 99  # the provider's counts, as it gave them
    recorder.flush()
    [row] = store.jobs()
    assert (row.backend, row.status, row.error_class, row.shots) == (
        "ionq_qpu.aria-1",
        "done",
        None,
        100,
    )
    assert store.counts(row.id) == [counts]
    assert row.run_seconds == pytest.approx(fake.execution_duration_ms / 1000)


@pytest.mark.parametrize("send_started_at", [False, True], ids=["no_start", "start"])
def test_missing_execution_duration_stores_no_infinite_run_time(
    fake, store, recorder, send_started_at
):
    fake.execution_duration_ms = None
    fake.send_started_at = send_started_at
    proxy = ExecutionProxy(qpu(fake), store=store, recorder=recorder)
    result = proxy.run(bell(), shots=100).result()
    assert result.time_taken == float("inf")  # what qiskit-ionq makes of it
    recorder.flush()
    [row] = store.jobs()
    assert row.status == "done"
    assert row.e2e_seconds is not None and row.e2e_seconds >= 0
    if send_started_at:
        # The provider's start and end stamps still bound a run time: finite.
        assert row.run_seconds is None or 0 <= row.run_seconds <= row.e2e_seconds
    else:
        assert row.run_seconds is None  # nothing says how long it ran


def test_calibration_time_from_characterizations(fake, store, recorder):
    fake.calibration_date = "2026-11-30T08:15:00Z"
    backend = qpu(fake)
    expected = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    got = calibration_timestamp(backend)
    assert got == expected and got.tzinfo is UTC
    assert fake.requests[("GET", "/v0.4/backends/qpu.aria-1/characterizations")] >= 1
    proxy = ExecutionProxy(backend, store=store, recorder=recorder)
    proxy.run(bell(), shots=100).result()
    recorder.flush()
    [row] = store.jobs()
    assert row.calibration_at.replace(tzinfo=UTC) == expected


def test_client_retries_a_503_on_submit_five_times(fake):
    """The number the adapter declares is what qiskit-ionq does."""
    fake.submit_status = 503
    with pytest.raises(IonQRetriableError):
        qpu(fake).run(bell(), shots=100)
    assert fake.posts() == IonQAdapter.client_submit_attempts == 5


def test_503_on_submit_is_not_multiplied_by_qsre(fake, store, recorder):
    fake.submit_status = 503
    proxy = ExecutionProxy(qpu(fake), store=store, recorder=recorder)
    with pytest.raises(IonQRetriableError):
        proxy.run(bell(), shots=100)
    assert fake.posts() == IonQAdapter.client_submit_attempts  # the client's own tries only
    recorder.flush()
    [row] = store.jobs()
    assert (row.status, row.error_class) == ("error", "transient")
    assert row.attempts == IonQAdapter.client_submit_attempts


def test_counts_may_round_except_on_the_ideal_simulator(fake):
    provider = IonQProvider("test-token", url=fake.url)
    adapter = IonQAdapter()
    assert adapter.counts_may_round(provider.get_backend("qpu.aria-1"))
    ideal = provider.get_backend("simulator")
    assert not adapter.counts_may_round(ideal)  # it samples exactly `shots` outcomes
    noisy = provider.get_backend("simulator")
    noisy.set_options(noise_model="aria-1")
    assert adapter.counts_may_round(noisy)


def test_provider_times_of_a_job_without_duration(fake):
    fake.execution_duration_ms = None
    job = qpu(fake).run(bell(), shots=100)
    job.result()
    times = adapter_for(job).provider_times(job, None)
    assert times.run_seconds is None  # never inf
    assert times.created_s is not None and times.created_s <= times.finished_s


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (IonQCredentialsError("Credentials `token` not present in provider."), "auth"),
        (IonQAPIError("Invalid API key", 401, {}, "", "unauthorized_error"), "auth"),
        (IonQAPIError("Forbidden", 403, {}, "", "forbidden"), "auth"),
        (IonQAPIError("Monthly spend limit exceeded", 403, {}, "", "forbidden"), "quota"),
        (IonQAPIError("Invalid circuit", 400, {}, "", "invalid_request_error"), "invalid_input"),
        (IonQAPIError("Job not found", 404, {}, "", "not_found"), "backend"),
        (
            IonQRetriableError(IonQAPIError("Service Unavailable", 503, {}, "", "unavailable")),
            "transient",
        ),
        (IonQJobFailureError('Failure from IonQ API "QuantumComputerError: ..."'), "backend"),
        (IonQJobTimeoutError("Timed out waiting for job to complete."), "timeout"),
        (IonQGateError("foo", "qis"), "invalid_input"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v,
)
def test_ionq_exception_classes(exc, expected):
    assert classify_exception(exc) == expected


def test_cancelled_job_error_is_a_cancellation():
    exc = IonQJobStateError("Cannot retrieve result for canceled job 0123")
    adapter = adapter_for(exc)
    assert isinstance(adapter, IonQAdapter) and adapter.is_cancelled(exc)
    assert not adapter.is_cancelled(IonQJobFailureError("Unable to retrieve result for job"))
