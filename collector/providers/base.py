"""What qsre needs to know about one provider's client library, behind one small
interface. The proxy, the primitive instruments and the error classifier ask the
adapter; they never test a provider's classes themselves.

Adapters recognise a backend, job or exception by the module of its type, so that
no provider SDK is imported unless the user already imported it (the extras
``ibm``, ``braket`` and ``ionq`` are optional).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from collector.cost import Pricing


@dataclass(frozen=True, slots=True)
class ProviderTimes:
    """Lifecycle times a provider reports for a job, in epoch seconds (None where it
    does not say). ``run_seconds`` is the billed execution ("quantum") time."""

    created_s: float | None = None
    running_s: float | None = None
    finished_s: float | None = None
    run_seconds: float | None = None


def module_of(obj: Any) -> str:
    """The top-level package of an object's type ("qiskit_ibm_runtime", ...)."""
    return type(obj).__module__.split(".", 1)[0]


def to_utc(value: Any) -> datetime | None:
    """A provider's timestamp (datetime or ISO 8601 string, ``Z`` or any offset) as
    an aware UTC datetime; naive means UTC (what the providers' APIs send). None
    for anything unreadable."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def epoch_s(value: Any) -> float | None:
    """A provider's timestamp in epoch seconds (see ``to_utc``), or None."""
    stamp = to_utc(value)
    return stamp.timestamp() if stamp is not None else None


def finite_s(value: Any) -> float | None:
    """A duration in seconds if it is a finite number >= 0, else None (a provider's
    "unknown" can arrive as inf, NaN or a negative number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def http_status_class(status: Any) -> str | None:
    """The error class an HTTP status means, the same for every provider's API:
    401/403 auth, 402 quota, 400/413/422 the caller's input, 404/409 the backend
    (no such job or device, a conflicting state), 408/429/5xx transient (worth
    another attempt). None for anything else (a success, -1, not a number)."""
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int):
        return None
    if status in (401, 403):
        return "auth"
    if status == 402:
        return "quota"
    if status in (400, 413, 422):
        return "invalid_input"
    if status in (404, 409):
        return "backend"
    if status in (408, 429) or 500 <= status <= 599:
        return "transient"
    return None


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what it was raised from or while handling (``__cause__``, else
    ``__context__``), outermost first. Client libraries re-wrap their HTTP errors
    (qiskit-ibm-runtime's ``raise IBMRuntimeError(...) from None`` keeps the
    original in ``__context__``), so the specific error is often a link down."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


class ProviderAdapter:
    """The generic behaviour (any BackendV2); providers override what differs.

    Every method is best effort and must not raise: a provider call that fails
    means "unknown" (None), never an error in the user's call.
    """

    #: Short provider name, stored as ``backends.provider``.
    name: ClassVar[str] = "generic"
    #: Top-level modules whose backends, jobs and exceptions this adapter handles.
    modules: ClassVar[tuple[str, ...]] = ()
    #: How many attempts the client library itself makes at one submission before a
    #: retryable error reaches qsre (qiskit-ionq retries a 503 five times inside
    #: one ``run()``). With more than 1, qsre adds no submit retries of its own on
    #: top and records the client's attempts.
    client_submit_attempts: ClassVar[int] = 1
    #: The error class of an exception of this provider's that no rule recognised
    #: (its generic wrappers, e.g. qiskit-ibm-runtime's ``IBMRuntimeError`` with
    #: nothing specific inside); None leaves it ``unknown``.
    fallback_error_class: ClassVar[str | None] = None

    def client_attempts(self, exc: BaseException) -> int | None:
        """How many attempts the client library made before raising ``exc``, where
        the error says so (botocore: ``ResponseMetadata.RetryAttempts`` + 1); None
        when it does not (then ``client_submit_attempts`` is the best guess)."""
        return None

    def matches(self, obj: Any) -> bool:
        """Whether a backend, job, primitive or exception belongs to this provider."""
        return module_of(obj) in self.modules

    def backend_name(self, backend: Any) -> str:
        """The backend's identity as recorded (the device, not the client's alias)."""
        name = getattr(backend, "name", None)
        if callable(name):
            name = name()
        return str(name) if name else type(backend).__name__

    def num_qubits(self, backend: Any) -> int | None:
        """How many qubits the backend has, if it says."""
        value = getattr(backend, "num_qubits", None)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def calibration_at(self, backend: Any) -> datetime | None:
        """When the backend's current calibration was taken, as an aware UTC
        datetime, or None when the provider does not say."""
        return None

    def classify(self, exc: BaseException) -> str | None:
        """The error class (``collector.schema.ERROR_CLASSES``) of an exception of
        this provider's, or None to fall through to the generic rules."""
        return None

    def failed_result_class(self, result: Any) -> str:
        """The error class of a job whose result came back unsuccessful
        (``result.success`` false): the backend's failure unless the provider's
        status says the caller's input cannot run (Aer: "Insufficient memory")."""
        return "backend"

    def is_cancelled(self, exc: BaseException) -> bool:
        """Whether an exception from ``result()`` means the job was cancelled."""
        return False

    def provider_times(self, job: Any, result: Any) -> ProviderTimes | None:
        """The job's lifecycle times as the provider reports them, or None. The
        caller checks them against what it observed before trusting them."""
        return None

    def counts_may_round(self, backend: Any) -> bool:
        """Whether the provider's counts legitimately need not sum to the shots
        (IonQ's QPU counts are ``round(p * shots)``)."""
        return False

    def default_pricing(self, backend: Any) -> Pricing | None:
        """List prices for the backend, as data (None: unknown, cost recorded 0)."""
        return None

    def supports_backend_run(self, backend: Any) -> bool:
        """False for primitive-only hardware (IBM devices: ``backend.run()`` was
        removed); validation then goes through a SamplerV2."""
        return True

    def sampler_for(self, backend: Any) -> Any:
        """A SamplerV2 that runs on ``backend`` (for validation via primitives)."""
        from qiskit.primitives import BackendSamplerV2

        return BackendSamplerV2(backend=backend)
