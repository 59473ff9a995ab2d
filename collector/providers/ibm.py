"""qiskit-ibm-runtime (extra ``ibm``): IBM Quantum hardware, its fake backends and
local testing mode.

- Calibration: ``backend.properties().last_update_date`` carries the device's
  local offset (``-05:00`` on FakeBrisbane): converted to UTC here.
- Errors: ``IBMNotAuthorizedError`` is raised only for 401; ``RequestsApiError``
  carries ``status_code``; ``run()`` re-wraps it (``raise IBMRuntimeError(...) from
  None`` keeps it in ``__context__``), so the wrappers defer to what they wrap.
- A cancelled job raises ``RuntimeInvalidStateError`` ("... Job was cancelled.").
- Hardware is primitive-only: ``IBMBackend.run()`` raises "Support for
  backend.run() has been removed"; the fake backends still run locally (Aer).
- The REST client retries 5xx answers itself, POSTs included (6 requests).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from collector.cost import Pricing
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
from collector.providers.pricing import list_price

# A usage or cost cap reached is a quota, whatever the status code says: IBM answers
# 403 for it, which on its own means "not allowed" (auth).
_QUOTA_RE = re.compile(
    r"usage limit|quota|instance limit|cost limit|insufficient credit|limit reached", re.I
)
_RUN_REMOVED_RE = re.compile(r"backend\.run\(\) has been removed", re.I)
_CANCELLED_RE = re.compile(r"\bwas cancell?ed\b", re.I)

# Classes by name along the exception's MRO (names, so that nothing is imported):
# the most specific name found decides. _DEFER: a generic wrapper, which says
# nothing itself; the error it wraps (or the fallback) decides.
_DEFER = ""
_BY_NAME: dict[str, str] = {
    "IBMNotAuthorizedError": "auth",
    "AuthenticationLicenseError": "auth",
    # Missing or malformed account configuration (token, instance, channel).
    "IBMAccountError": "auth",
    # The job the caller holds no longer exists at IBM: polling again cannot help.
    "RuntimeJobNotFound": "backend",
    "RuntimeProgramNotFound": "invalid_input",
    # Cancelled jobs are recognised by is_cancelled(); other invalid states (a
    # cancel() refused, ...) are the job's, not the caller's.
    "RuntimeInvalidStateError": "backend",
    "RuntimeJobFailureError": "backend",
    # The job hit its maximum execution time and was stopped by IBM.
    "RuntimeJobMaxTimeoutError": "timeout",
    # The client stopped waiting; the job goes on (never a reason to resubmit).
    "RuntimeJobTimeoutError": "timeout",
    "UserTimeoutExceededError": "timeout",
    # The server answered with something the client cannot read: IBM's side.
    "IBMBackendApiProtocolError": "backend",
    "ApiIBMProtocolError": "backend",
    "IBMBackendValueError": "invalid_input",
    "IBMInputValueError": "invalid_input",
    "IBMBackendApiError": _DEFER,
    "IBMBackendError": "backend",
    "IBMApiError": _DEFER,
    "IBMRuntimeError": _DEFER,
    "ApiError": _DEFER,
    "IBMError": _DEFER,
}


def requests_api_error_class(status: Any, message: str) -> str | None:
    """``RequestsApiError``: by phrase for caps reached, then by HTTP status
    (-1: no response at all, i.e. the connection failed)."""
    if _QUOTA_RE.search(message):
        return "quota"
    if status == -1:  # no response at all: the connection failed
        return "transient"
    return http_status_class(status)


class IBMRuntimeAdapter(ProviderAdapter):
    name: ClassVar[str] = "ibm"
    modules: ClassVar[tuple[str, ...]] = ("qiskit_ibm_runtime",)
    # The runtime's REST session (qiskit_ibm_runtime/api/session.py, RetrySession:
    # urllib3 Retry(total=5) on 500/502/503/504/520/521/522/524, POST included) sends
    # a failing submission 6 times before the error reaches qsre.
    client_submit_attempts: ClassVar[int] = 6
    fallback_error_class: ClassVar[str | None] = "backend"

    def calibration_at(self, backend: Any) -> datetime | None:
        properties = getattr(backend, "properties", None)
        if not callable(properties):
            return None
        try:
            return to_utc(getattr(properties(), "last_update_date", None))
        except Exception:  # noqa: BLE001 - a provider call: unknown, not an error
            return None

    def classify(self, exc: BaseException) -> str | None:
        for klass in type(exc).__mro__:
            error_class = _BY_NAME.get(klass.__name__)
            if error_class is None:
                if klass.__name__ == "RequestsApiError":
                    return requests_api_error_class(getattr(exc, "status_code", None), str(exc))
                continue
            if klass.__name__ == "IBMBackendError" and _RUN_REMOVED_RE.search(str(exc)):
                # A caller error: IBM hardware takes primitives (sampler_for) only.
                return "invalid_input"
            return error_class or None
        return None

    def is_cancelled(self, exc: BaseException) -> bool:
        return any(
            module_of(link) == "qiskit_ibm_runtime"
            and type(link).__name__ == "RuntimeInvalidStateError"
            and _CANCELLED_RE.search(str(link)) is not None
            for link in exception_chain(exc)
        )

    def provider_times(self, job: Any, result: Any) -> ProviderTimes | None:
        metrics_fn = getattr(job, "metrics", None)
        if not callable(metrics_fn):
            return None
        try:
            metrics = metrics_fn() or {}
        except Exception:  # noqa: BLE001 - a provider call: unknown, not an error
            return None
        stamps = metrics.get("timestamps") or {}
        usage = metrics.get("usage") or {}
        run_seconds = None
        # Usage still "pending" is partial; older API versions call it quantum_seconds.
        if usage.get("status", "complete") != "pending":
            for key in ("quantum_seconds", "qpu_charge_time_seconds", "seconds"):
                run_seconds = finite_s(usage.get(key))
                if run_seconds is not None:
                    break
        return ProviderTimes(
            created_s=epoch_s(stamps.get("created")),
            running_s=epoch_s(stamps.get("running")),
            finished_s=epoch_s(stamps.get("finished")),
            run_seconds=run_seconds,
        )

    def supports_backend_run(self, backend: Any) -> bool:
        return not _is_hardware(backend)

    def sampler_for(self, backend: Any) -> Any:
        from qiskit_ibm_runtime import SamplerV2

        return SamplerV2(mode=backend)

    def default_pricing(self, backend: Any) -> Pricing | None:
        # Fake backends and local testing mode run on this machine: free.
        if not _is_hardware(backend):
            return None
        rule = list_price(self.name, self.backend_name(backend))
        return rule.pricing if rule is not None else None


def _is_hardware(backend: Any) -> bool:
    if module_of(backend) != "qiskit_ibm_runtime":
        return False
    from qiskit_ibm_runtime.ibm_backend import IBMBackend

    return isinstance(backend, IBMBackend)


ADAPTER = register(IBMRuntimeAdapter())
