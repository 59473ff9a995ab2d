"""Amazon Braket: native LocalSimulator tasks recorded by instrument_braket, Qiskit
circuits through qiskit-braket-provider's BraketLocalBackend and ExecutionProxy,
and botocore's real exception classes classified."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

braket_devices = pytest.importorskip(
    "braket.devices",
    reason="SKIPPED LOUDLY: amazon-braket-sdk is not importable (extra 'braket' not installed)",
)
botocore_exceptions = pytest.importorskip(
    "botocore.exceptions", reason="SKIPPED LOUDLY: botocore is not importable"
)

from botocore.exceptions import (  # noqa: E402
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from braket.circuits import Circuit  # noqa: E402
from braket.devices import LocalSimulator  # noqa: E402
from circuit_fixtures import bell  # noqa: E402
from qiskit import transpile  # noqa: E402

from collector import ExecutionProxy, RetryPolicy, instrument_braket  # noqa: E402
from collector.classify import classify_exception  # noqa: E402
from collector.providers import adapter_for  # noqa: E402
from collector.providers.braket import BraketAdapter  # noqa: E402

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.001, max_delay_s=0.002)


def client_error(code: str, status: int, operation: str = "CreateQuantumTask") -> ClientError:
    """A ClientError as botocore builds it from an AWS error response."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} from the service"},
            "ResponseMetadata": {
                "RequestId": "3b3c1a4e-0000-4000-8000-000000000000",
                "HTTPStatusCode": status,
                "HTTPHeaders": {"x-amzn-errortype": code},
                "RetryAttempts": 4,
            },
        },
        operation,
    )


# ------------------------------------------------------------ classification
def _error_id(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code or type(exc).__name__


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (client_error("ThrottlingException", 429), "transient"),
        (client_error("InternalServiceException", 500), "transient"),
        (client_error("AccessDeniedException", 403), "auth"),
        (client_error("ExpiredTokenException", 400), "auth"),
        (client_error("ValidationException", 400), "invalid_input"),
        (client_error("ServiceQuotaExceededException", 402), "quota"),
        (client_error("DeviceOfflineException", 424), "backend"),
        (client_error("ResourceNotFoundException", 404, "GetQuantumTask"), "backend"),
        # codes qsre does not know: the HTTP status decides
        (client_error("SomethingNewException", 503), "transient"),
        (client_error("SomethingNewException", 403), "auth"),
        (NoCredentialsError(), "auth"),
        (
            EndpointConnectionError(endpoint_url="https://braket.us-east-1.amazonaws.com"),
            "transient",
        ),
        (ReadTimeoutError(endpoint_url="https://braket.us-east-1.amazonaws.com"), "transient"),
        (ParamValidationError(report="Invalid type for parameter shots"), "invalid_input"),
    ],
    ids=lambda v: _error_id(v) if isinstance(v, BaseException) else v,
)
def test_botocore_exceptions(exc, expected):
    assert classify_exception(exc) == expected


def test_client_error_reached_through_a_wrapper():
    try:
        try:
            raise client_error("ThrottlingException", 400)
        except ClientError as err:
            raise RuntimeError("could not create the task") from err
    except RuntimeError as wrapped:
        assert classify_exception(wrapped) == "transient"


def test_no_credentials_has_neither_code_nor_status():
    exc = NoCredentialsError()
    assert not hasattr(exc, "response")
    assert isinstance(adapter_for(exc), BraketAdapter)


# ------------------------------------------------------------ native recording
def jobs_of(store, recorder) -> list[Any]:
    recorder.flush()
    return store.jobs()


def test_local_simulator_task_recorded(store, recorder):
    device = instrument_braket(
        LocalSimulator(), store=store, recorder=recorder, project="chem", tags={"team": "q"}
    )
    circuit = Circuit().x(0).i(1)  # qubit 0 set: Braket's key "10"
    task = device.run(circuit, shots=100)
    result = task.result()
    assert result.measurement_counts == {"10": 100}  # the provider's result, as is
    assert task.result() is result
    [row] = jobs_of(store, recorder)
    assert (row.backend, row.status, row.shots, row.project, row.attempts) == (
        "braket_sv",
        "done",
        100,
        "chem",
        1,
    )
    assert row.provider_job_id == task.id == result.task_metadata.id
    assert store.counts(row.id) == [{"01": 100}]  # Qiskit's order: bit 0 rightmost
    assert row.error_class is None and row.max_qubits == 2 and row.circuit_hash
    assert row.run_seconds is not None and 0 <= row.run_seconds <= row.e2e_seconds
    assert row.queue_seconds is not None and row.queue_seconds >= 0


def test_local_batch_each_task_recorded(store, recorder):
    device = instrument_braket(LocalSimulator(), store=store, recorder=recorder)
    batch = device.run_batch([Circuit().x(0), Circuit().i(0).x(1)], shots=50)
    results = batch.results()
    assert [r.measurement_counts for r in results] == [{"1": 50}, {"01": 50}]
    rows = {row.provider_job_id: row for row in jobs_of(store, recorder)}
    assert len(rows) == 2
    for result, expected in zip(results, [{"1": 50}, {"10": 50}], strict=True):
        row = rows[result.task_metadata.id]
        assert (row.status, row.shots, row.backend) == ("done", 50, "braket_sv")
        assert store.counts(row.id) == [expected]
    batch.results()  # asked again: nothing recorded twice
    assert len(jobs_of(store, recorder)) == 2


def counting(device: LocalSimulator, monkeypatch, wrap=None) -> list[int]:
    """Count the device's run() calls; ``wrap`` may replace the task it returns."""
    calls = [0]
    real_run = device.run

    def run(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        task = real_run(*args, **kwargs)
        return wrap(task) if wrap is not None else task

    monkeypatch.setattr(device, "run", run)
    return calls


class FlakyResult:
    """A task whose first result() calls fail with ``errors`` (one each), then
    answer as the task does."""

    def __init__(self, task: Any, errors: list[Exception]) -> None:
        self._task = task
        self._errors = list(errors)
        self.result_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)

    def result(self) -> Any:
        self.result_calls += 1
        if self._errors:
            raise self._errors.pop(0)
        return self._task.result()


def test_transient_poll_error_repolls_the_same_task(store, recorder, monkeypatch):
    simulator = LocalSimulator()
    tasks: list[FlakyResult] = []

    def wrap(task: Any) -> FlakyResult:
        tasks.append(
            FlakyResult(task, [client_error("ThrottlingException", 400, "GetQuantumTask")])
        )
        return tasks[-1]

    runs = counting(simulator, monkeypatch, wrap)
    device = instrument_braket(simulator, store=store, recorder=recorder, retry=FAST_RETRY)
    result = device.run(Circuit().x(0), shots=20).result()
    assert result.measurement_counts == {"1": 20}
    assert runs[0] == 1 and tasks[0].result_calls == 2  # polled again, never re-created
    [row] = jobs_of(store, recorder)
    assert (row.status, row.attempts) == ("done", 1)


def test_poll_error_reaches_the_caller_uncached(store, recorder, monkeypatch):
    simulator = LocalSimulator()
    denied = client_error("AccessDeniedException", 403, "GetQuantumTask")
    runs = counting(simulator, monkeypatch, lambda task: FlakyResult(task, [denied]))
    device = instrument_braket(simulator, store=store, recorder=recorder, retry=FAST_RETRY)
    task = device.run(Circuit().x(0), shots=20)
    with pytest.raises(ClientError):
        task.result()
    [row] = jobs_of(store, recorder)
    assert row.status == "queued"  # the task exists; its outcome is not known yet
    assert task.result().measurement_counts == {"1": 20}  # later: the result
    [row] = jobs_of(store, recorder)
    assert (row.status, row.error_class) == ("done", None)
    assert runs[0] == 1


def test_failed_creation_recorded_and_raised(store, recorder, monkeypatch):
    simulator = LocalSimulator()
    runs = counting(simulator, monkeypatch)
    device = instrument_braket(simulator, store=store, recorder=recorder, retry=FAST_RETRY)
    with pytest.raises(Exception) as err:
        device.run(Circuit().h(0), shots=-1)  # Braket validates shots >= 0
    assert runs[0] == 1
    [row] = jobs_of(store, recorder)
    assert (row.status, row.error_class, row.attempts) == ("error", "invalid_input", 1)
    assert type(err.value).__name__ in row.error_message


def test_throttled_creation_not_retried_on_top_of_botocore(store, recorder, monkeypatch):
    """botocore already made its attempts (same idempotency token); a run() of
    qsre's would be a new task."""
    simulator = LocalSimulator()
    calls = [0]

    def throttled(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        raise client_error("ThrottlingException", 400)

    monkeypatch.setattr(simulator, "run", throttled)
    device = instrument_braket(simulator, store=store, recorder=recorder, retry=FAST_RETRY)
    with pytest.raises(ClientError):
        device.run(Circuit().h(0), shots=10)
    assert calls[0] == 1
    [row] = jobs_of(store, recorder)
    assert (row.status, row.error_class) == ("error", "transient")
    assert row.attempts == 4 + 1  # as botocore's error says: RetryAttempts 4


class EndedWithoutResult:
    """An AWS task as the SDK presents one that ended FAILED or CANCELLED:
    ``result()`` returns None (AwsQuantumTask.NO_RESULT_TERMINAL_STATES)."""

    def __init__(self, state: str) -> None:
        self.id = "arn:aws:braket:us-east-1:123456789012:quantum-task/5b1e6a56"
        self._state = state

    def result(self) -> None:
        return None

    def state(self, use_cached_value: bool = False) -> str:
        return self._state

    def metadata(self, use_cached_value: bool = False) -> dict[str, Any]:
        return {"failureReason": "Device calibration in progress"}


@pytest.mark.parametrize(("state", "status"), [("FAILED", "error"), ("CANCELLED", "cancelled")])
def test_task_ended_without_result(store, recorder, monkeypatch, state, status):
    simulator = LocalSimulator()
    monkeypatch.setattr(simulator, "run", lambda *a, **k: EndedWithoutResult(state))
    device = instrument_braket(simulator, store=store, recorder=recorder)
    assert device.run(Circuit().h(0), shots=10).result() is None  # as Braket returns it
    [row] = jobs_of(store, recorder)
    assert row.status == status
    assert row.provider_job_id.endswith("quantum-task/5b1e6a56")
    if status == "error":
        assert row.error_class == "backend" and "calibration in progress" in row.error_message


class Cancellable(EndedWithoutResult):
    """An AWS task that goes QUEUED -> CANCELLING on cancel(), then CANCELLED."""

    def __init__(self) -> None:
        super().__init__("QUEUED")

    def cancel(self) -> None:
        if self._state == "QUEUED":
            self._state = "CANCELLING"


def test_cancel_recorded_once_braket_says_cancelled(store, recorder, monkeypatch):
    simulator = LocalSimulator()
    inner = Cancellable()
    monkeypatch.setattr(simulator, "run", lambda *a, **k: inner)
    device = instrument_braket(simulator, store=store, recorder=recorder)
    task = device.run(Circuit().h(0), shots=10)
    task.cancel()
    [row] = jobs_of(store, recorder)
    assert row.status == "queued"  # CANCELLING: it may still complete
    inner._state = "CANCELLED"
    task.cancel()
    assert task.result() is None
    [row] = jobs_of(store, recorder)
    assert row.status == "cancelled" and row.provider_job_id == inner.id


def test_wait_that_ran_out_is_not_an_outcome(store, recorder, monkeypatch):
    """AwsQuantumTask.result() returns None when its poll timeout passes with the
    task still queued: nothing ended, nothing recorded, ask again later."""
    simulator = LocalSimulator()
    inner = EndedWithoutResult("QUEUED")
    monkeypatch.setattr(simulator, "run", lambda *a, **k: inner)
    device = instrument_braket(simulator, store=store, recorder=recorder)
    task = device.run(Circuit().h(0), shots=10)
    assert task.result() is None
    [row] = jobs_of(store, recorder)
    assert row.status == "queued"
    inner._state = "FAILED"
    assert task.result() is None
    [row] = jobs_of(store, recorder)
    assert (row.status, row.error_class) == ("error", "backend")


# ------------------------------------------------------------ qiskit-braket-provider
def test_braket_local_backend_through_the_proxy(store, recorder):
    qiskit_braket_provider = pytest.importorskip(
        "qiskit_braket_provider",
        reason="SKIPPED LOUDLY: qiskit-braket-provider is not importable (extra 'braket')",
    )
    backend = qiskit_braket_provider.BraketLocalBackend()
    assert backend.name == "default"  # what the provider calls it
    proxy = ExecutionProxy(backend, store=store, recorder=recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        circuit = transpile(bell(), backend, seed_transpiler=3)
        result = proxy.run(circuit, shots=300).result()
    assert sum(result.get_counts().values()) == 300
    [row] = jobs_of(store, recorder)
    assert row.backend == "braket_sv"  # the device, not the client's alias
    assert (row.status, row.shots) == ("done", 300)
    assert sum(store.counts(row.id)[0].values()) == 300
    assert row.run_seconds is not None and row.queue_seconds is not None
    assert 0 <= row.run_seconds <= row.e2e_seconds


def test_named_local_backends_keep_their_name():
    qiskit_braket_provider = pytest.importorskip(
        "qiskit_braket_provider",
        reason="SKIPPED LOUDLY: qiskit-braket-provider is not importable (extra 'braket')",
    )
    adapter = BraketAdapter()
    assert (
        adapter.backend_name(qiskit_braket_provider.BraketLocalBackend("braket_dm")) == "braket_dm"
    )
    assert adapter.backend_name(qiskit_braket_provider.BraketLocalBackend()) == "braket_sv"
    assert adapter.backend_name(LocalSimulator("braket_dm")) == "braket_dm"
    assert adapter.calibration_at(LocalSimulator()) is None
    assert adapter.default_pricing(LocalSimulator()) is None
