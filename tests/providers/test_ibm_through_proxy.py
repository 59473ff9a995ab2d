"""qiskit-ibm-runtime backends through ExecutionProxy: a fake backend records
its own calibration; the runtime's own exception classes raised at submit are
retried (transient) or not (auth, removed backend.run), one record each."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest

pytest.importorskip("qiskit_ibm_runtime", reason="the `ibm` extra is not installed")

from circuit_fixtures import bell  # noqa: E402
from qiskit import transpile  # noqa: E402
from qiskit_ibm_runtime.api.exceptions import RequestsApiError  # noqa: E402
from qiskit_ibm_runtime.exceptions import IBMBackendError, IBMNotAuthorizedError  # noqa: E402
from qiskit_ibm_runtime.fake_provider import FakeManilaV2  # noqa: E402

from collector import ExecutionProxy, VirtualClock  # noqa: E402
from collector.retry import RetryPolicy  # noqa: E402

from .test_ibm import ibm_backend  # noqa: E402


class FlakyManila(FakeManilaV2):
    """FakeManilaV2 whose first ``run`` calls raise the runtime's own errors. (Its
    class lives here, so it gets the generic adapter: qsre retries it itself, as
    for any backend whose client does not retry on its own.)"""

    def __init__(self, failures: list[BaseException]) -> None:
        super().__init__()
        self.failures = list(failures)
        self.executions = 0

    def run(self, run_input: Any, **options: Any) -> Any:
        if self.failures:
            raise self.failures.pop(0)
        self.executions += 1
        return super().run(run_input, **options)


def test_a_503_at_submit_is_retried_into_one_record(store, recorder):
    backend = FlakyManila([RequestsApiError("Service Unavailable", status_code=503)])
    proxy = ExecutionProxy(
        backend, store=store, recorder=recorder, clock=VirtualClock(), retry=RetryPolicy()
    )
    job = proxy.run(transpile(bell(), backend, seed_transpiler=1), shots=200)
    assert sum(job.result().get_counts().values()) == 200
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.attempts, backend.executions) == ("done", 2, 1)
    assert rec.backend == "fake_manila"
    assert rec.calibration_at == backend.properties().last_update_date.astimezone(UTC)


@pytest.mark.parametrize(
    ("error", "error_class"),
    [
        (IBMNotAuthorizedError("401 Client Error: Unauthorized"), "auth"),
        (RequestsApiError("Forbidden: usage limit reached", status_code=403), "quota"),
    ],
)
def test_errors_at_submit_that_a_retry_cannot_fix_are_raised_once(
    store, recorder, error, error_class
):
    backend = FlakyManila([error] * 3)
    proxy = ExecutionProxy(backend, store=store, recorder=recorder, clock=VirtualClock())
    with pytest.raises(type(error)):
        proxy.run(transpile(bell(), backend, seed_transpiler=1), shots=10)
    assert len(backend.failures) == 2  # one attempt
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.error_class, rec.attempts) == ("error", error_class, 1)


def test_a_real_ibm_backend_run_is_removed_recorded_once(store, recorder):
    backend = ibm_backend(FakeManilaV2())
    proxy = ExecutionProxy(backend, store=store, recorder=recorder, clock=VirtualClock())
    with pytest.raises(IBMBackendError, match="removed"):
        proxy.run(transpile(bell(), FakeManilaV2(), seed_transpiler=1), shots=10)
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.error_class, rec.attempts) == ("error", "invalid_input", 1)
