"""qiskit-ionq (extra ``ionq``): IonQ's cloud API (v0.4) through ``IonQProvider``.

- Counts: for the QPU and the noisy simulators qiskit-ionq builds counts as
  ``round(p * shots)`` from the returned probabilities (``ionq_job._build_counts``),
  so they need not sum to the shots; only the ideal simulator samples exactly
  ``shots`` outcomes.
- Submission: ``IonQClient.submit_job`` is decorated ``@retry(IonQRetriableError,
  tries=5)`` (``qiskit_ionq/helpers.py``: delay 0, backoff 1): a 429/502/503/504/52x
  or a connection error is POSTed five times inside one ``run()`` before it
  reaches the caller. Polling (``retrieve_job``, ``get_results``) retries forever
  with back-off up to 60 s.
- Timing: a job without ``execution_duration_ms`` gets ``time_taken = inf`` from
  the client; here it is None.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from collector.providers import register
from collector.providers.base import (
    ProviderAdapter,
    ProviderTimes,
    epoch_s,
    exception_chain,
    finite_s,
    http_status_class,
    module_of,
    to_utc,
)

#: qiskit-ionq 1.1's ``IonQClient.submit_job``: ``@retry(exceptions=IonQRetriableError,
#: tries=5)``. Checked against the library by tests/providers/test_ionq.py.
SUBMIT_TRIES = 5

_QUOTA_RE = re.compile(r"quota|usage limit|credit|budget|spend limit|limit exceeded", re.I)
_BY_NAME: dict[str, str] = {
    "IonQCredentialsError": "auth",
    # Only raised for 429/502/503/504/52x, GET 409 and connection failures, after
    # the client's own tries.
    "IonQRetriableError": "transient",
    "IonQJobTimeoutError": "timeout",
    "IonQJobFailureError": "backend",
    "IonQJobStateError": "backend",
    "IonQGateError": "invalid_input",
    "IonQMidCircuitMeasurementError": "invalid_input",
    "IonQPauliExponentialError": "invalid_input",
    # get_memory() on a job run without memory=True: the caller's call.
    "IonQBackendError": "invalid_input",
    "IonQJobError": "backend",
    "IonQClientError": "backend",
}


def api_error_class(status: Any, text: str) -> str | None:
    """``IonQAPIError`` (a non-retriable HTTP error) by status; a spending or usage
    cap is a quota whatever the status."""
    if _QUOTA_RE.search(text):
        return "quota"
    return http_status_class(status)


class IonQAdapter(ProviderAdapter):
    name: ClassVar[str] = "ionq"
    modules: ClassVar[tuple[str, ...]] = ("qiskit_ionq",)
    client_submit_attempts: ClassVar[int] = SUBMIT_TRIES
    fallback_error_class: ClassVar[str | None] = "backend"

    def calibration_at(self, backend: Any) -> datetime | None:
        calibration = getattr(backend, "calibration", None)
        if not callable(calibration):
            return None
        try:
            characterization = calibration()  # None for the simulators (no request)
            return to_utc(getattr(characterization, "date", None))
        except Exception:  # noqa: BLE001 - a provider call: unknown, not an error
            return None

    def classify(self, exc: BaseException) -> str | None:
        for klass in type(exc).__mro__:
            if klass.__name__ == "IonQAPIError":
                text = f"{getattr(exc, 'message', '')} {getattr(exc, 'error_type', '')}"
                return api_error_class(getattr(exc, "status_code", None), text)
            error_class = _BY_NAME.get(klass.__name__)
            if error_class is not None:
                return error_class
        return None

    def is_cancelled(self, exc: BaseException) -> bool:
        return any(
            module_of(link) == "qiskit_ionq"
            and type(link).__name__ == "IonQJobStateError"
            and "cancel" in str(link).lower()
            for link in exception_chain(exc)
        )

    def counts_may_round(self, backend: Any) -> bool:
        # The one case qiskit-ionq samples (IonQJob._format_result: is_ideal_sim).
        options = getattr(backend, "options", None)
        ideal_simulator = (
            getattr(backend, "name", None) == "ionq_simulator"
            and getattr(options, "noise_model", None) == "ideal"
        )
        return not ideal_simulator

    def provider_times(self, job: Any, result: Any) -> ProviderTimes | None:
        # The job's last GET /jobs/{id} answer, kept by the client (IonQJob._metadata).
        response = getattr(job, "_metadata", None)
        if not isinstance(response, dict):
            return None
        duration_ms = finite_s(
            response.get("execution_duration_ms", response.get("execution_time"))
        )
        return ProviderTimes(
            created_s=_stamp(response, "submitted_at", "request"),
            running_s=_stamp(response, "started_at", "start"),
            finished_s=_stamp(response, "completed_at", "response"),
            run_seconds=duration_ms / 1000 if duration_ms is not None else None,
        )


def _stamp(response: dict[str, Any], iso_key: str, epoch_key: str) -> float | None:
    """v0.4 sends ISO 8601 strings; v0.3 sent epoch seconds under shorter keys."""
    value = response.get(iso_key)
    if value is not None:
        return epoch_s(value)
    return finite_s(response.get(epoch_key))


ADAPTER = register(IonQAdapter())
