"""qiskit-ibm-runtime through its adapter: its own exception classes, raised by its
own code where that can run offline, classified as a retry decision needs them;
calibration times in UTC; primitive-only hardware."""

from __future__ import annotations

import copy
import warnings
from datetime import UTC, datetime
from typing import Any

import pytest

runtime = pytest.importorskip(
    "qiskit_ibm_runtime",
    reason="SKIPPED LOUDLY: qiskit-ibm-runtime is not importable (extra 'ibm' not installed)",
)

from qiskit import QuantumCircuit, transpile  # noqa: E402
from qiskit_ibm_runtime.api.exceptions import RequestsApiError  # noqa: E402
from qiskit_ibm_runtime.exceptions import (  # noqa: E402
    IBMBackendApiProtocolError,
    IBMBackendError,
    IBMNotAuthorizedError,
    IBMRuntimeError,
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobNotFound,
    RuntimeJobTimeoutError,
)
from qiskit_ibm_runtime.fake_provider import FakeBrisbane, FakeManilaV2  # noqa: E402
from qiskit_ibm_runtime.ibm_backend import IBMBackend  # noqa: E402
from qiskit_ibm_runtime.runtime_job_v2 import RuntimeJobV2  # noqa: E402

from collector.calibration import calibration_timestamp  # noqa: E402
from collector.classify import classify_exception  # noqa: E402
from collector.providers import adapter_for  # noqa: E402
from collector.providers.ibm import IBMRuntimeAdapter  # noqa: E402


class StubRuntimeClient:
    """The runtime's REST client as RuntimeJobV2 uses it: a job's state, and its
    metadata (or the error its request raised)."""

    def __init__(self, status: str, metadata_error: Exception | None = None) -> None:
        self.status = status
        self.metadata_error = metadata_error

    def job_get(self, job_id: str, exclude_params: bool | None = None) -> dict[str, Any]:
        return {"state": {"status": self.status}}

    def job_metadata(self, job_id: str) -> dict[str, Any]:
        assert self.metadata_error is not None
        raise self.metadata_error


def runtime_job(status: str, metadata_error: Exception | None = None) -> RuntimeJobV2:
    return RuntimeJobV2(
        backend=None,
        api_client=StubRuntimeClient(status, metadata_error),
        job_id="job-1",
        program_id="sampler",
        service=None,
    )


def raised_by(fn: Any) -> BaseException:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - the exception is the point
            return exc
    raise AssertionError(f"{fn} raised nothing")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (IBMNotAuthorizedError("401 Client Error: Unauthorized"), "auth"),
        (RequestsApiError("'401 Client Error: Unauthorized for url'", 401), "auth"),
        (RequestsApiError("'403 Client Error: Forbidden for url'", 403), "auth"),
        # A cap reached is a quota though IBM answers 403 for it (phrase before status).
        (
            RequestsApiError(
                "'403 Client Error: Forbidden. This instance has reached its usage limit.'", 403
            ),
            "quota",
        ),
        (RequestsApiError("'429 Client Error: Too Many Requests'", 429), "transient"),
        (RequestsApiError("'503 Server Error: Service Unavailable'", 503), "transient"),
        (RequestsApiError("'400 Client Error: Bad Request'", 400), "invalid_input"),
        # -1: no response at all (the connection failed)
        (RequestsApiError("Connection aborted.", -1), "transient"),
        (IBMBackendError("The backend is in maintenance"), "backend"),
        (IBMBackendApiProtocolError("Unexpected return value received from the server"), "backend"),
        (RuntimeJobNotFound("Job not found: job-1"), "backend"),
        (RuntimeJobFailureError("Unable to retrieve job result. Error code 1517"), "backend"),
        (RuntimeJobTimeoutError("Timed out waiting for job to complete after 60 secs."), "timeout"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v,
)
def test_runtime_exception_classes(exc, expected):
    assert classify_exception(exc) == expected


def test_status_codes_of_request_errors():
    """The status code decides, not a message that happens to say nothing."""
    for status, expected in [
        (401, "auth"),
        (429, "transient"),
        (502, "transient"),
        (404, "backend"),
    ]:
        assert classify_exception(RequestsApiError("request failed", status)) == expected


def test_rewrapped_request_error_is_classified_by_what_it_wraps():
    # RuntimeJobV2.metrics() re-raises as IBMRuntimeError(...) from None: the 429
    # lives on in __context__ only, and the outer message carries no status.
    error = raised_by(runtime_job("Completed", RequestsApiError("Client Error", 429)).metrics)
    assert type(error) is IBMRuntimeError and error.__suppress_context__
    assert isinstance(error.__context__, RequestsApiError)
    assert classify_exception(error) == "transient"
    quota = raised_by(
        runtime_job("Completed", RequestsApiError("instance usage limit reached", 403)).metrics
    )
    assert classify_exception(quota) == "quota"


def test_wrapper_with_nothing_specific_inside_is_backend():
    assert classify_exception(IBMRuntimeError("Failed to get job backend")) == "backend"


def test_cancelled_job_is_recognised_as_cancelled():
    error = raised_by(runtime_job("Cancelled").result)
    assert isinstance(error, RuntimeInvalidStateError) and "Job was cancelled" in str(error)
    adapter = adapter_for(error)
    assert isinstance(adapter, IBMRuntimeAdapter)
    assert adapter.is_cancelled(error)
    assert not adapter.is_cancelled(RuntimeInvalidStateError("Job cannot be cancelled: done"))
    assert not adapter.is_cancelled(RuntimeJobFailureError("Job failed"))


def test_client_timeout_raised_by_the_runtime_is_timeout():
    error = raised_by(lambda: runtime_job("Running").result(timeout=0.1))
    assert isinstance(error, RuntimeJobTimeoutError)
    assert classify_exception(error) == "timeout"


def ibm_backend(fake: Any) -> IBMBackend:
    """A real IBMBackend built offline: its configuration and calibration from a
    fake backend's snapshot, served by a stub of the runtime's REST client."""
    if fake._props_dict is None:
        fake._set_props_dict_from_json()  # the raw snapshot, offset and all
    props = copy.deepcopy(fake._props_dict)

    class StubBackendClient:
        def backend_properties(self, name: str, **_: Any) -> dict[str, Any]:
            return copy.deepcopy(props)

    return IBMBackend(
        configuration=fake.configuration(), service=None, api_client=StubBackendClient()
    )


def test_real_backend_run_is_removed_and_classified_as_caller_error():
    backend = ibm_backend(FakeManilaV2())
    error = raised_by(lambda: backend.run(QuantumCircuit(1)))
    assert isinstance(error, IBMBackendError) and "backend.run() has been removed" in str(error)
    assert classify_exception(error) == "invalid_input"
    adapter = adapter_for(backend)
    assert not adapter.supports_backend_run(backend)
    assert adapter.supports_backend_run(FakeManilaV2())


@pytest.mark.parametrize("fake_class", [FakeManilaV2, FakeBrisbane])
def test_calibration_time_is_last_update_date_in_utc(fake_class):
    fake = fake_class()
    reported = fake.properties().last_update_date
    assert reported.utcoffset().total_seconds() != 0  # the snapshot's local offset
    got = calibration_timestamp(fake)
    assert got == reported  # the same instant ...
    assert got.tzinfo is UTC  # ... written in UTC
    assert got.replace(tzinfo=None) == reported.astimezone(UTC).replace(tzinfo=None)


def test_calibration_time_of_a_real_backend_in_utc():
    backend = ibm_backend(FakeManilaV2())
    reported = backend.properties().last_update_date
    got = calibration_timestamp(backend)
    assert got == reported and got.tzinfo is UTC


def test_local_runtime_job_times_are_what_the_runtime_reports():
    backend = FakeManilaV2()
    adapter = adapter_for(backend)
    sampler = adapter.sampler_for(backend)
    assert type(sampler).__module__.startswith("qiskit_ibm_runtime")
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    job = sampler.run([transpile(bell, backend, seed_transpiler=1)], shots=200)
    result = job.result()
    assert sum(result[0].data.meas.get_counts().values()) == 200
    metrics = job.metrics()
    times = adapter_for(job).provider_times(job, result)
    stamps = metrics["timestamps"]
    for field, key in [
        ("created_s", "created"),
        ("running_s", "running"),
        ("finished_s", "finished"),
    ]:
        expected = datetime.fromisoformat(stamps[key].replace("Z", "+00:00")).timestamp()
        assert getattr(times, field) == pytest.approx(expected)
    assert times.run_seconds == metrics["usage"]["qpu_charge_time_seconds"]


def test_pending_usage_is_not_a_run_time():
    class Job:
        def metrics(self) -> dict[str, Any]:
            return {
                "timestamps": {"created": "2026-12-01T10:00:00-05:00"},
                "usage": {"quantum_seconds": 3, "status": "pending"},
            }

    times = IBMRuntimeAdapter().provider_times(Job(), None)
    assert times.run_seconds is None
    assert times.created_s == datetime(2026, 12, 1, 15, tzinfo=UTC).timestamp()


def test_hardware_has_list_price_fake_backends_are_free():
    adapter = IBMRuntimeAdapter()
    pricing = adapter.default_pricing(ibm_backend(FakeManilaV2()))
    assert pricing is not None and pricing.per_second_usd > 0
    assert adapter.default_pricing(FakeManilaV2()) is None


def test_runtime_client_sends_a_failing_post_as_often_as_declared():
    """The REST session qiskit-ibm-runtime submits jobs through retries a 503 itself;
    the adapter declares how often, so qsre adds no retries on top."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from qiskit_ibm_runtime.api.session import RetrySession

    posts = [0]

    class Unavailable(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            posts[0] += 1
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        session = RetrySession(f"http://127.0.0.1:{server.server_address[1]}", backoff_factor=0.001)
        error = raised_by(lambda: session.post("/v1/jobs", json={"program_id": "sampler"}))
    finally:
        server.shutdown()
        server.server_close()
    assert isinstance(error, RequestsApiError)
    assert posts[0] == IBMRuntimeAdapter.client_submit_attempts == 6
    assert classify_exception(error) == "transient"
